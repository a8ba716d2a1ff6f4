"""The JSON contract: the schema files in ``render/records/schemas/`` and a validator for them.

One file per command (``<command>.schema.json``) references the shared
``envelope.schema.json``; adding a command's contract is adding its file. Validation needs the
``jsonschema`` package (in the ``test`` extra), imported only when asked for.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_SUFFIX", "ENVELOPE", "schema_names", "load_schema", "validate_document"]

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


def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for name in [ENVELOPE, *schema_names()]:
        schema = load_schema(name)
        resource = Resource.from_contents(schema)
        # Reachable both by its $id and by the bare file name a sibling's "$ref" uses.
        resources += [(schema["$id"], resource), (name + SCHEMA_SUFFIX, resource)]
    return Registry().with_resources(resources)


def validate_document(doc: dict[str, Any], command: str | None = None) -> None:
    """Validate ``doc`` against its command's schema; raise ``jsonschema.ValidationError``.

    Dates and date-times are checked as formats too (RFC 3339).
    """
    import jsonschema

    name = command or str(doc.get("command", ""))
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)
    errors = list(validator.iter_errors(doc))
    # A failing "$ref" leaves its properties unevaluated: report the cause, not that echo.
    causes = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    error = jsonschema.exceptions.best_match(causes)
    if error is not None:
        raise error
