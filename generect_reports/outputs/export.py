"""Text renderings of the tidy frame for ``usage``: table, CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
from typing import Any

import pandas as pd

__all__ = ["render", "to_csv", "to_json", "csv_safe", "FORMULA_PREFIXES", "json_document",
           "dumps_document", "SCHEMA_VERSION"]

#: Cell text starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(text: str) -> str:
    """Prefix a text cell with ``'`` when a spreadsheet would read it as a formula (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _iso(frame: pd.DataFrame) -> pd.Series:
    # ISO 8601 with the local offset, e.g. 2026-05-01T00:00:00+03:00
    return frame["period_start"].map(lambda ts: ts.isoformat())


def to_csv(frame: pd.DataFrame) -> str:
    out = pd.DataFrame({
        "period_start": _iso(frame),
        "period": frame["period"].astype(str),
        "operation": frame["operation"].astype(str).map(csv_safe),
        "credits": frame["credits"],
    })
    # Quote every text field: a carriage return inside an operation name would otherwise end
    # the row early (the csv module only quotes fields holding the line terminator it writes).
    return out.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)


def to_json(frame: pd.DataFrame) -> str:
    records = [
        {"period_start": ts.isoformat(), "period": str(p), "operation": str(o), "credits": float(c)}
        for ts, p, o, c in zip(frame["period_start"], frame["period"], frame["operation"], frame["credits"])
    ]
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def _printable(text: str) -> str:
    """Controls, bidi and zero-width characters (a terminal escape sequence or a name that
    reorders the line) shown escaped; see :func:`generect_reports._text.display_text`."""
    from .._text import display_text

    return display_text(text)


def to_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no usage in this range)\n"
    shown = pd.DataFrame({
        "period": frame["period"].astype(str),
        "operation": frame["operation"].astype(str).map(_printable),
        "credits": frame["credits"].map(lambda v: f"{v:,.2f}"),
    })
    total = frame["credits"].sum()
    return shown.to_string(index=False) + f"\n\ntotal credits: {total:,.2f}\n"


def render(frame: pd.DataFrame, fmt: str) -> str:
    return {"csv": to_csv, "json": to_json, "table": to_table}[fmt](frame)


# --- the versioned JSON document every command prints with --format json ----------------------

#: Bump on any change of a field's name, type or meaning (tests hold the schemas to it).
SCHEMA_VERSION = "1.0"


def _jsonable(value: Any) -> Any:
    """Plain JSON values: timestamps as ISO 8601 with offset, NaN as null, numpy as Python."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_document(command: str, rows: list[dict[str, Any]], *, source: str, timezone: str,
                  period: str | None, start: Any, end: Any, complete: bool,
                  totals: dict[str, Any] | None = None, fields: dict[str, Any] | None = None,
                  generated_at: Any = None, unit: str = "credits") -> dict[str, Any]:
    """The one JSON envelope (DESIGN 'Contracts') for ``command``'s output.

    ``rows`` are the command's table rows; ``totals`` its sums; ``fields`` the command's own
    top-level fields (status, reconciliation, chargeback). ``generated_at`` defaults to now, in
    UTC; tests pass a fixed value so documents can be compared.
    """
    if generated_at is None:
        generated_at = pd.Timestamp.now(tz="UTC").floor("s")
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "generated_at": generated_at,
        "source": source,
        "unit": unit,
        "timezone": timezone,
        "period": period,
        "start": start,
        "end": end,
        "complete": bool(complete),
        "rows": rows,
        "totals": totals or {},
    }
    for key, value in (fields or {}).items():
        if key in doc:
            raise ValueError(f"field {key!r} would replace an envelope field")
        doc[key] = value
    return _jsonable(doc)


def dumps_document(doc: dict[str, Any]) -> str:
    """The document as indented UTF-8 JSON text (names kept verbatim, no NaN)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
