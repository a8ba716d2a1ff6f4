"""The explorer's view as CSV: what is on screen, header in the first row."""

from __future__ import annotations

import csv

import pandas as pd

from .export import csv_safe

__all__ = ["view_csv", "VIEW_COLUMNS"]

#: Columns of an exported view, in order (``estimated_usd`` only when dollars are on screen).
VIEW_COLUMNS = ("period_start", "period", "partial", "operation", "credits", "estimated_usd")


def view_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`~generect_reports.notebook.widgets.view_rows` as written: the local
    start as ISO 8601 with its offset, and ``partial`` per row (the range covers the period only
    in part)."""
    partial = set(rows.attrs.get("partial") or ())
    out = pd.DataFrame(
        {
            "period_start": rows["period_start"].map(lambda ts: ts.isoformat()),
            "period": rows["period"].astype(str),
            "partial": rows["period"].astype(str).isin(partial),
            "operation": rows["operation"].astype(str),
            "credits": rows["credits"].astype("float64"),
        }
    )
    if "estimated_usd" in rows:
        out["estimated_usd"] = rows["estimated_usd"].astype("float64").round(2)
    return out


def view_csv(rows: pd.DataFrame) -> str:
    """CSV text of the view, the header in row 1; names a spreadsheet would run are quoted."""
    out = view_frame(rows)
    out["operation"] = out["operation"].map(csv_safe)
    return out.to_csv(index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
