"""The JSON contract: the schema files in ``render/records/schemas/`` and a validator for them.

One file per command (``<command>.schema.json``) references the shared
``envelope.schema.json`` and carries a copy of it under ``$defs`` (JSON Schema 2020-12 bundling:
the copy keeps its ``$id``, so the ``$ref`` resolves inside the file), so every file validates a
document on its own, with a plain ``jsonschema.validate(doc, schema)``. Adding a command's
contract is adding its file. Validation needs the ``jsonschema`` package (in the ``test`` extra),
imported only when asked for.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = [
    "SCHEMA_SUFFIX",
    "ENVELOPE",
    "schema_names",
    "load_schema",
    "bundle",
    "validate_document",
]

SCHEMA_SUFFIX = ".schema.json"
#: The schema every command's schema references.
ENVELOPE = "envelope"


def _folder() -> Any:
    return files("generect_reports.render.records").joinpath("schemas")


def schema_names() -> list[str]:
    """Names of the shipped command schemas (``usage``, ...), without the envelope."""
    names = [
        p.name[: -len(SCHEMA_SUFFIX)] for p in _folder().iterdir() if p.name.endswith(SCHEMA_SUFFIX)
    ]
    return sorted(n for n in names if n != ENVELOPE)


def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (a command, or ``envelope``) as a dict."""
    path = _folder().joinpath(name + SCHEMA_SUFFIX)
    if not path.is_file():
        raise KeyError(f"no JSON schema for {name!r} (have: {', '.join(schema_names())})")
    return json.loads(path.read_text(encoding="utf-8"))


def bundle(schema: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``envelope`` embedded as its ``$defs`` resource ``envelope``.

    The embedded copy keeps its ``$id``, so the command schema's ``$ref`` to
    ``envelope.schema.json`` (relative to the command's own ``$id``) resolves inside the file.
    """
    return {**schema, "$defs": {**schema.get("$defs", {}), ENVELOPE: envelope}}


def validate_document(doc: dict[str, Any], command: str | None = None) -> None:
    """Validate ``doc`` against its command's schema; raise ``jsonschema.ValidationError``.

    Dates and date-times are checked as formats too (RFC 3339).
    """
    import jsonschema

    name = command or str(doc.get("command", ""))
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = list(validator.iter_errors(doc))
    # A failing "$ref" leaves its properties unevaluated: report the cause, not that echo.
    causes = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    error = jsonschema.exceptions.best_match(causes)
    if error is not None:
        raise error
