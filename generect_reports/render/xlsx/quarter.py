"""The quarter report's workbook: Summary, Months side by side, Comparison and Drivers, written
with XlsxWriter; every formula is stored with its value."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np

from generect_reports.reports.quarterly import QuarterReport, quarter_headings

__all__ = ["render_quarter_workbook", "write_quarter_workbook"]


def _col(index: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(index)


def render_quarter_workbook(
    rep: QuarterReport, path: str | os.PathLike[str], *, paper: str = "a4"
) -> None:
    """Write the quarter workbook to ``path`` (not atomic: see :func:`write_quarter_workbook`).

    Sheets: Summary, Months (side by side), Comparison (previous quarter and a year earlier),
    Drivers. Totals and changes are live formulas stored with their values.
    """
    import xlsxwriter

    from generect_reports.analysis.forecast import period_accuracy_text
    from generect_reports.render.records.export import csv_safe

    wb = xlsxwriter.Workbook(
        str(path), {"nan_inf_to_errors": False, "default_date_format": "yyyy-mm-dd"}
    )
    # Fixed document properties so reruns are byte-identical.
    wb.set_properties({"title": f"Generect usage {rep.label}", "created": dt.datetime(2000, 1, 1)})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 16, "font_color": "#1F3A5F"})
    # Credits and changes as the quarter's PDF page and email show them: whole credits, and
    # changes with their sign (a percentage of no change reads 0.0%).
    num = wb.add_format({"num_format": "#,##0"})
    num_bold = wb.add_format({"num_format": "#,##0", "bold": True, "top": 1})
    change_fmt = wb.add_format({"num_format": "+#,##0;-#,##0;0"})
    pct = wb.add_format({"num_format": "0.0%"})
    projection = wb.add_format({"num_format": "#,##0", "italic": True})
    change_pct_fmt = wb.add_format({"num_format": "+0.0%;-0.0%;0.0%"})
    money = wb.add_format({"num_format": "$#,##0.00" if rep.currency == "USD" else "#,##0.00"})
    head = wb.add_format(
        {
            "bold": True,
            "font_color": "#FFFFFF",
            "bg_color": "#1F3A5F",
            "text_wrap": True,
            "valign": "vcenter",
            "border": 1,
            "border_color": "#D1D5DB",
        }
    )
    prev_head, last_head = quarter_headings(rep)
    price_fmt = wb.add_format({"num_format": "0.000"})

    def text(name: str) -> str:
        # Operation names come from the API: never let a spreadsheet read one as a formula.
        return csv_safe(str(name))

    def number(ws: Any, row: int, col: int, value: float, fmt: Any) -> None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    # Summary first in the tab order; filled last, once the other sheets' total rows are known.
    summary = wb.add_worksheet("Summary")
    # Months side by side
    months = wb.add_worksheet("Months")
    cols = ["operation", *rep.months, "total"]
    months.write_row(0, 0, ["Operation", *rep.months, f"{rep.label} total"], head)
    n = len(rep.by_month)
    for i, row in enumerate(rep.by_month.itertuples(index=False), start=1):
        months.write_string(i, 0, text(row[0]))
        for j in range(1, 4):
            number(months, i, j, row[j], num)
        months.write_formula(i, 4, f"=SUM(B{i + 1}:D{i + 1})", num, float(row[4]))
    months.write_string(n + 1, 0, "Total", bold)
    for j in range(1, 5):
        c = _col(j)
        months.write_formula(
            n + 1, j, f"=SUM({c}2:{c}{n + 1})", num_bold, float(rep.by_month[cols[j]].sum())
        )
    months.set_column(0, 0, 22)
    months.set_column(1, 4, 14)

    # Comparison
    cmp = wb.add_worksheet("Comparison")
    headers = [
        "Operation",
        rep.label if rep.complete else f"{rep.label} to date",
        prev_head,
        f"Change vs {rep.previous_label}",
        f"Change % vs {rep.previous_label}",
        last_head,
        f"Change vs {rep.last_year_label}",
        f"Change % vs {rep.last_year_label}",
        "List price per credit",
        "Estimated cost",
    ]
    cmp.write_row(0, 0, headers, head)
    t = rep.comparison
    for i, row in enumerate(t.itertuples(index=False), start=1):
        r = i + 1
        cmp.write_string(i, 0, text(row.operation))
        number(cmp, i, 1, row.credits, num)
        # Against the previous quarter (C, D, E), then the same quarter last year (F, G, H).
        for col, base, change, change_pct in (
            (2, row.previous_credits, row.change, row.change_pct),
            (5, row.last_year_credits, row.yoy_change, row.yoy_change_pct),
        ):
            number(cmp, i, col, base, num)
            if np.isnan(base):
                cmp.write_blank(i, col + 1, None, change_fmt)
                cmp.write_blank(i, col + 2, None, change_pct_fmt)
                continue
            b, d = _col(col), _col(col + 1)
            cmp.write_formula(i, col + 1, f"=B{r}-{b}{r}", change_fmt, float(change))
            cmp.write_formula(
                i,
                col + 2,
                f'=IF({b}{r}=0,"",{d}{r}/{b}{r})',
                change_pct_fmt,
                "" if np.isnan(change_pct) else float(change_pct),
            )
        cmp.write_number(i, 8, float(row.price), price_fmt)
        # Each month's cost is rounded once to the cent, as in the monthly reports; the
        # quarter's is their sum (the Months sheet lists the operations in the same rows).
        if row.operation in rep.unpriced:  # as the monthly report and the PDF say it
            cmp.write_string(i, 9, "unpriced")
            continue
        month_costs = "+".join(f"ROUND(Months!{_col(j)}{r}*I{r},2)" for j in range(1, 4))
        cmp.write_formula(i, 9, "=" + month_costs, money, float(row.estimated_cost))
    m = len(t) + 1
    cmp.write_string(m, 0, "Total", bold)
    for j, value in (
        (1, rep.total),
        (2, rep.previous_total),
        (5, rep.last_year_total),
        (9, rep.estimated_cost),
    ):
        c = _col(j)
        if isinstance(value, float) and np.isnan(value):
            cmp.write_blank(m, j, None, num_bold)
        else:
            cmp.write_formula(
                m, j, f"=SUM({c}2:{c}{m})", money if j == 9 else num_bold, float(value)
            )
    cmp.set_column(0, 0, 22)
    cmp.set_column(1, 9, 14)

    # Drivers
    drv = wb.add_worksheet("Drivers")
    drv.write_row(
        0,
        0,
        ["Operation", f"Change vs {rep.previous_label}", "Share of the change", "Direction"],
        head,
    )
    for i, row in enumerate(rep.drivers.itertuples(index=False), start=1):
        drv.write_string(i, 0, text(row.operation))
        drv.write_number(i, 1, float(row.change), change_fmt)
        number(drv, i, 2, row.share_of_change, pct)
        drv.write_string(i, 3, row.direction)
    drv.set_column(0, 3, 22)

    summary.activate()
    summary.write_string(0, 0, f"Generect credit usage — {rep.label}", title)
    summary.write_string(1, 0, f"{rep.start} to {rep.end} ({rep.timezone}); {rep.comparison_basis}")
    rows = [
        ("Credits" if rep.complete else "Credits to date", "Comparison!B", rep.total),
        (prev_head, "Comparison!C", rep.previous_total),
        (last_head, "Comparison!F", rep.last_year_total),
    ]
    for k, (name, ref, value) in enumerate(rows, start=3):
        summary.write_string(k, 0, name, bold)
        if isinstance(value, float) and np.isnan(value):
            summary.write_string(k, 1, "no data")
        else:
            summary.write_formula(k, 1, f"={ref}{m + 1}", num, float(value))
    summary.write_string(6, 0, f"Change vs {rep.previous_label}", bold)
    if not np.isnan(rep.previous_total):
        summary.write_formula(6, 1, "=B4-B5", change_fmt, rep.total - rep.previous_total)
        summary.write_formula(
            6,
            2,
            '=IF(B5=0,"",B7/B5)',
            change_pct_fmt,
            (rep.total - rep.previous_total) / rep.previous_total if rep.previous_total else "",
        )
    summary.write_string(7, 0, f"Change vs {rep.last_year_label}", bold)
    if not np.isnan(rep.last_year_total):
        summary.write_formula(7, 1, "=B4-B6", change_fmt, rep.total - rep.last_year_total)
        summary.write_formula(
            7,
            2,
            '=IF(B6=0,"",B8/B6)',
            change_pct_fmt,
            (rep.total - rep.last_year_total) / rep.last_year_total if rep.last_year_total else "",
        )
    summary.write_string(8, 0, "Estimated cost (list prices)", bold)
    summary.write_formula(8, 1, f"=Comparison!J{m + 1}", money, rep.estimated_cost)
    if rep.booked_cost is not None:
        summary.write_string(9, 0, "Booked cost (consumed + accrual)", bold)
        summary.write_number(9, 1, rep.booked_cost, money)
    first_note = 10
    if rep.forecast is not None:
        # The quarter-end projection, its 80 % interval as numbers and how it was measured.
        low, high = rep.forecast.interval_80
        for k, (name, value) in enumerate(
            (
                ("Quarter-end projection (estimate)", rep.forecast.projected),
                ("Quarter-end projection, 80% low", low),
                ("Quarter-end projection, 80% high", high),
            ),
            start=10,
        ):
            summary.write_string(k, 0, name, bold)
            summary.write_number(k, 1, float(value), projection)
        summary.write_string(10, 2, period_accuracy_text(rep.forecast))
        first_note = 13
    for k, note in enumerate(rep.notes, start=first_note):
        summary.write_string(k, 0, note)
    summary.set_column(0, 0, 34)
    summary.set_column(1, 2, 16)
    from generect_reports.render.xlsx.page import print_setup

    for ws, header_row in ((summary, None), (months, 0), (cmp, 0), (drv, 0)):
        print_setup(
            ws,
            title=f"Generect credit usage · {rep.label}",
            footer_left=f"{rep.account} · {rep.timezone}",
            paper=paper,
            header_row=header_row,
        )
    wb.close()


def write_quarter_workbook(
    rep: QuarterReport, path: str | os.PathLike[str], *, paper: str = "a4"
) -> None:
    """Write the quarter workbook to ``path`` atomically."""
    from generect_reports._atomic import atomic_path

    with atomic_path(path) as tmp:
        render_quarter_workbook(rep, tmp, paper=paper)
