"""The explorer's view as a small workbook: the header in row 1, the view's figures in the unit
on screen (credits, and dollars when they are shown), and an "About" sheet saying what it is."""

from __future__ import annotations

import io
import os

import pandas as pd

from ..._atomic import write_bytes_atomic
from ..records.view import view_frame
from .workbook import safe_text

__all__ = ["write_view_xlsx"]


def write_view_xlsx(rows: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the rows of :func:`~generect_reports.notebook.widgets.view_rows` to ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    frame = view_frame(rows)
    wb = Workbook()
    ws = wb.active
    ws.title = "View"
    heads = list(frame.columns)
    ws.append(heads)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F3A5F")
    formats = {"credits": "#,##0.00", "estimated_usd": '"$"#,##0.00'}
    for values in frame.itertuples(index=False):
        ws.append([None if isinstance(v, str) else v for v in values])
        row = ws.max_row
        for j, (name, value) in enumerate(zip(heads, values), start=1):
            cell = ws.cell(row=row, column=j)
            if isinstance(value, str):
                safe_text(cell, value)
            elif name in formats:
                cell.number_format = formats[name]
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEF", (26, 12, 9, 26, 14, 14)):
        ws.column_dimensions[col].width = width
    about = wb.create_sheet("About")
    partial = rows.attrs.get("partial") or []
    lines = [
        ("Range", f"{rows.attrs.get('start')} to {rows.attrs.get('end')}"),
        ("Periods", str(rows.attrs.get("period", ""))),
        ("Timezone", str(rows.attrs.get("timezone", ""))),
        (
            "Unit",
            "credits and estimated USD (list prices)" if "estimated_usd" in frame else "credits",
        ),
        ("Partial periods", ", ".join(partial) if partial else "none"),
    ]
    for key, value in lines:
        about.append([key, None])
        safe_text(about.cell(row=about.max_row, column=2), value)
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 60
    buffer = io.BytesIO()
    wb.save(buffer)
    write_bytes_atomic(path, buffer.getvalue())
