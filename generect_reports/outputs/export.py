"""Text renderings of the tidy frame for ``usage``: table, CSV and JSON."""

from __future__ import annotations

import csv
import json

import pandas as pd

__all__ = ["render", "to_csv", "to_json", "csv_safe", "FORMULA_PREFIXES"]

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
    """Control characters (a terminal escape sequence in an operation name) shown escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


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
