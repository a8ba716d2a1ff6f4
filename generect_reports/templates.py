"""The template folder: where a user's copy (``--template DIR``) or the bundled
``report_templates`` keep the look, the prices, the mappings and the email templates.

One TOML reader; a file missing from a user's folder falls back to the bundled one. The
mappings are read here, at the boundary, so the analysis that applies them stays pure.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._resources import read_toml, templates_dir
from .errors import TemplateError

__all__ = [
    "bundled_template_dir",
    "template_file",
    "read_toml",
    "load_ledger_mapping",
    "load_endpoint_mapping",
]


def bundled_template_dir() -> Path:
    """The bundled ``report_templates`` folder (source tree or installed package)."""
    return templates_dir()


def template_file(template: str | os.PathLike[str] | None, name: str) -> Path:
    """``name`` from the folder ``template``, or the bundled one when the folder lacks it."""
    folder = Path(template) if template is not None else bundled_template_dir()
    path = folder / name
    return path if path.is_file() else bundled_template_dir() / name


def load_ledger_mapping(
    template: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, str]]:
    """``{"types": {...}, "prefixes": {...}}`` from ``ledger_mapping.toml`` in the template
    folder, or the bundled one (as prices are loaded)."""
    path = template_file(template, "ledger_mapping.toml")
    raw = read_toml(path)
    out: dict[str, dict[str, str]] = {}
    for table in ("types", "prefixes"):
        values = raw.get(table, {})
        if not isinstance(values, dict) or not all(
            isinstance(v, str) and v for v in values.values()
        ):
            raise TemplateError(
                f"[{table}] in {path} must map transaction types to operation names"
            )
        out[table] = {str(k): str(v) for k, v in values.items()}
    return out


def load_endpoint_mapping(template: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``endpoint_mapping.toml`` from ``template`` (a folder) or the bundled templates.

    Returns ``{path pattern: operation}``; a segment in braces matches any one segment.
    """
    path = template_file(template, "endpoint_mapping.toml")
    table = read_toml(path).get("endpoints", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise TemplateError(f"[endpoints] in {path} must map paths to operation names")
    return {str(k): v.strip() for k, v in table.items() if v.strip()}
