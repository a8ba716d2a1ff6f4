"""The roll-up workbook: Accounts (ranked, with live totals), Operations across accounts, the
monthly Trend of each account, and the accounts that failed. Every formula is stored with its
value, so previews and ``pandas.read_excel`` see the figures; a partial roll-up says so in the
title of every sheet."""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Any

from generect_reports.reports.rollup import RollupReport
from generect_reports.theme import Theme, load_theme

__all__ = ["render_rollup_workbook", "write_rollup_workbook"]


def _cell(row: int, col: int) -> str:
    from xlsxwriter.utility import xl_rowcol_to_cell

    return str(xl_rowcol_to_cell(row, col))


def _safe(text: Any) -> str:
    from generect_reports.render.records.export import csv_safe

    return csv_safe(str(text))


def _page(ws: Any, theme: Theme, *, title: str, head: int) -> None:
    ws.set_landscape()
    ws.set_paper(9 if theme.paper == "a4" else 1)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(head)
    ws.set_header(f"&L&8{title.replace('&', '&&')}")
    ws.set_footer("&L&8generect-reports&R&8Page &P of &N")


def render_rollup_workbook(
    rep: RollupReport, path: str | os.PathLike[str], *, theme: Theme | None = None
) -> None:
    """Write the roll-up workbook to ``path`` (not atomic: see :func:`write_rollup_workbook`)."""
    import xlsxwriter

    theme = theme or load_theme()
    primary = "#" + str(theme.colors.get("primary", "1F3A5F"))
    wb = xlsxwriter.Workbook(
        str(path), {"nan_inf_to_errors": False, "default_date_format": "yyyy-mm-dd"}
    )
    wb.set_properties({"title": rep.title, "created": dt.datetime(2000, 1, 1)})
    title = wb.add_format({"bold": True, "font_size": 14, "font_color": primary})
    note = wb.add_format({"italic": True, "font_color": "#" + str(theme.colors.get("muted"))})
    warn = wb.add_format({"bold": True, "font_color": "#" + str(theme.colors.get("increase"))})
    header = wb.add_format(
        {
            "bold": True,
            "bg_color": "#" + str(theme.colors.get("header_fill", "1F3A5F")),
            "font_color": "#" + str(theme.colors.get("header_font", "FFFFFF")),
            "text_wrap": True,
            "valign": "top",
        }
    )
    credits = wb.add_format({"num_format": _credit_format(rep)})
    credits_bold = wb.add_format({"num_format": _credit_format(rep), "bold": True, "top": 1})
    pct = wb.add_format({"num_format": theme.formats.get("percent", "0.0%")})
    pct_bold = wb.add_format(
        {"num_format": theme.formats.get("percent", "0.0%"), "bold": True, "top": 1}
    )
    money = wb.add_format({"num_format": theme.formats.get("currency", "$#,##0.00")})
    money_bold = wb.add_format(
        {"num_format": theme.formats.get("currency", "$#,##0.00"), "bold": True, "top": 1}
    )
    bold_top = wb.add_format({"bold": True, "top": 1})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})

    def number(ws: Any, row: int, col: int, value: float, fmt: Any) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    # --- Accounts --------------------------------------------------------------------------
    ws = wb.add_worksheet("Accounts")
    ws.write(0, 0, rep.title, title)
    basis = "like for like, the same days" if not rep.month_complete else "the previous month"
    ws.write(1, 0, f"Change against {basis}; cost as each account's own report shows it.", note)
    if not rep.complete:
        ws.write(2, 0, "PARTIAL: the totals leave out the accounts listed under Failed.", warn)
    head = 4
    columns = [
        ("Account", 16),
        ("Label", 22),
        ("Credits", 12),
        ("Previous", 12),
        ("Change", 12),
        ("Change %", 10),
        ("Year ago", 12),
        ("Year over year", 12),
        (f"Cost ({rep.currency})", 12),
        ("Plan limit", 12),
        ("Limit used", 10),
        ("Status", 14),
        ("Exceptions", 60),
    ]
    for col, (name, width) in enumerate(columns):
        ws.write(head, col, name, header)
        ws.set_column(col, col, width)
    first = head + 1
    for k, row in enumerate(rep.accounts.itertuples()):
        r = first + k
        ws.write_string(r, 0, _safe(row.account))
        ws.write_string(r, 1, _safe(row.label))
        number(ws, r, 2, row.credits, credits)
        number(ws, r, 3, row.previous_credits, credits)
        if rep.month_complete:
            ws.write_formula(r, 4, f"={_cell(r, 2)}-{_cell(r, 3)}", credits, float(row.change))
        else:  # like for like: the same days of both months, not the whole previous month
            number(ws, r, 4, row.change, credits)
        if row.previous_credits:
            ws.write_formula(r, 5, f"={_cell(r, 4)}/{_cell(r, 3)}", pct, float(row.change_pct))
        else:
            ws.write_blank(r, 5, None, pct)
        number(ws, r, 6, row.yoy_credits, credits)
        number(ws, r, 7, row.yoy_change_pct, pct)
        number(ws, r, 8, row.cost, money)
        number(ws, r, 9, row.limit, credits)
        number(ws, r, 10, row.limit_use, pct)
        ws.write_string(r, 11, row.status)
        ws.write_string(r, 12, _safe(row.exceptions), wrap)
    last = first + len(rep.accounts) - 1
    total_row = last + 1
    label = "Total" if rep.complete else "Total (partial)"
    ws.write_string(total_row, 0, label, bold_top)
    ws.write_blank(total_row, 1, None, bold_top)
    for col, value in ((2, rep.total), (3, rep.previous_total)):
        ws.write_formula(
            total_row,
            col,
            f"=SUM({_cell(first, col)}:{_cell(last, col)})" if len(rep.accounts) else "=0",
            credits_bold,
            float(value),
        )
    ws.write_formula(
        total_row,
        4,
        f"=SUM({_cell(first, 4)}:{_cell(last, 4)})" if len(rep.accounts) else "=0",
        credits_bold,
        float(rep.change),
    )
    if rep.previous_total:
        ws.write_formula(
            total_row,
            5,
            f"={_cell(total_row, 4)}/{_cell(total_row, 3)}",
            pct_bold,
            float(rep.change_pct),
        )
    else:
        ws.write_blank(total_row, 5, None, pct_bold)
    ws.write_formula(
        total_row,
        8,
        f"=SUM({_cell(first, 8)}:{_cell(last, 8)})" if len(rep.accounts) else "=0",
        money_bold,
        float(rep.cost),
    )
    ws.freeze_panes(head + 1, 1)
    _page(ws, theme, title=rep.title, head=head)

    # --- Operations across accounts ---------------------------------------------------------
    ws = wb.add_worksheet("Operations")
    ws.write(0, 0, f"Operations across accounts, {rep.month_name}", title)
    if not rep.complete:
        ws.write(1, 0, "PARTIAL: the accounts under Failed are not included.", warn)
    head = 3
    for col, (name, width) in enumerate(
        [("Operation", 24), ("Credits", 12), ("Share", 10), (f"Cost ({rep.currency})", 12)]
    ):
        ws.write(head, col, name, header)
        ws.set_column(col, col, width)
    first = head + 1
    for k, row in enumerate(rep.operations.itertuples()):
        r = first + k
        ws.write_string(r, 0, _safe(row.operation))
        number(ws, r, 1, row.credits, credits)
        # The agreed one-decimal share, stored as shown, so the column adds up to 100.0%.
        number(ws, r, 2, row.share_display / 100, pct)
        number(ws, r, 3, row.cost, money)
    last = first + len(rep.operations) - 1
    total_row = last + 1
    ws.write_string(total_row, 0, "Total" if rep.complete else "Total (partial)", bold_top)
    if len(rep.operations):
        ws.write_formula(
            total_row, 1, f"=SUM({_cell(first, 1)}:{_cell(last, 1)})", credits_bold, rep.total
        )
        shares = float(rep.operations["share_display"].sum()) / 100
        ws.write_formula(
            total_row, 2, f"=SUM({_cell(first, 2)}:{_cell(last, 2)})", pct_bold, shares
        )
        ops_cost = int(round(float(rep.operations["cost"].sum()) * 100)) / 100
        ws.write_formula(
            total_row, 3, f"=SUM({_cell(first, 3)}:{_cell(last, 3)})", money_bold, ops_cost
        )
    _page(ws, theme, title=rep.title, head=head)

    # --- Trend: each account by month ---------------------------------------------------------
    ws = wb.add_worksheet("Trend")
    ws.write(0, 0, "Credits by account and month", title)
    pivot = (
        rep.trend.pivot_table(index="account", columns="month", values="credits", aggfunc="sum")
        .reindex([a for a in rep.reports])
        .fillna(0.0)
        if len(rep.trend)
        else None
    )
    head = 2
    ws.write(head, 0, "Account", header)
    ws.set_column(0, 0, 16)
    if pivot is not None:
        for col, month in enumerate(pivot.columns, start=1):
            ws.write_string(head, col, str(month), header)
            ws.set_column(col, col, 10)
        for k, (name, values) in enumerate(pivot.iterrows(), start=head + 1):
            ws.write_string(k, 0, _safe(name))
            for col, value in enumerate(values, start=1):
                number(ws, k, col, float(value), credits)
    ws.freeze_panes(head + 1, 1)
    _page(ws, theme, title=rep.title, head=head)

    # --- Failed accounts ----------------------------------------------------------------------
    ws = wb.add_worksheet("Failed")
    ws.write(0, 0, "Accounts that could not be read", title)
    head = 2
    for col, (name, width) in enumerate([("Account", 16), ("Exit code", 10), ("Error", 90)]):
        ws.write(head, col, name, header)
        ws.set_column(col, col, width)
    if not rep.failed:
        ws.write(head + 1, 0, "None: every account answered.", note)
    for k, failure in enumerate(rep.failed, start=head + 1):
        ws.write_string(k, 0, _safe(failure["account"]))
        ws.write_number(k, 1, int(failure["exit_code"]))
        ws.write_string(k, 2, _safe(failure["error"]), wrap)
    _page(ws, theme, title=rep.title, head=head)
    wb.close()


def _credit_format(rep: RollupReport) -> str:
    return rep.formats.excel_credits


def write_rollup_workbook(
    rep: RollupReport, path: str | os.PathLike[str], *, theme: Theme | None = None
) -> None:
    """Write the roll-up workbook to ``path`` atomically."""
    from generect_reports._atomic import atomic_path

    with atomic_path(path) as tmp:
        render_rollup_workbook(rep, tmp, theme=theme)
