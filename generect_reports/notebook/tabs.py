"""The dashboard's Customers and Reconciliation tabs: the month's report sections as a table on
screen and as CSV/xlsx rows, built once from the same :class:`~generect_reports.reports.monthly.
MonthlyReport` the report's "By customer" and reconciliation pages read.

Credits are carried as integer hundredths and money as integer cents until they are written,
so the file's figures are the screen's to the cent; every row carries ``partial_period`` (the
month is still running).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._atomic import write_bytes_atomic
from .._text import xlsxwriter_text
from ..money import to_hundredths
from ..render.records.export import csv_safe

__all__ = [
    "TAB_KINDS",
    "SectionTab",
    "customers_tab",
    "reconciliation_tab",
    "tab_csv",
    "write_tab_xlsx",
]

#: The report-section tabs, by their ``tab`` value in the URL.
TAB_KINDS = ("customers", "reconciliation")

#: Column kinds: text, credits (hundredths), money (cents), percent (one decimal), flag.
TEXT, CREDITS, MONEY, PERCENT, FLAG = "text", "credits", "money", "percent", "flag"


@dataclass(frozen=True)
class SectionTab:
    """One tab: what the page shows and what its files hold.

    ``missing`` is the one line shown instead when the report has no such section. ``shown``
    is the table on screen (caption, header, rows of text; the last row the total when
    ``total``); ``lines`` the sentences around it. ``columns``/``kinds``/``rows`` are the
    export's, in integer hundredths and cents."""

    kind: str
    title: str
    month: str
    partial: bool
    missing: str = ""
    caption: str = ""
    header: tuple[str, ...] = ()
    shown: tuple[tuple[str, ...], ...] = ()
    total: bool = False
    lines: tuple[str, ...] = ()
    extra_caption: str = ""
    extra_header: tuple[str, ...] = ()
    extra: tuple[tuple[str, ...], ...] = ()
    columns: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()

    def file_stem(self) -> str:
        return f"generect-{self.kind}-{self.month}"


def _h(value: float) -> int:
    """Credits as integer hundredths (the one rounding rule)."""
    return int(to_hundredths([float(value)])[0])


def customers_tab(rep: Any, booked: Mapping[str, int] | None, booked_currency: str) -> SectionTab:
    """The month's per-customer chargeback from the report's allocation: customer, credits,
    shown share (adding up to 100.0%), the booked cost when ``booked`` (cents by customer, as
    :func:`~generect_reports.reports.assemble.chargeback` splits it) else the list-price
    estimate, labelled as the ``chargeback`` command labels it."""
    from ..render.chargeback import booked_cents, money_basis, money_heading

    partial = not bool(rep.complete)
    a = rep.sections.allocation
    title = f"Customers, {rep.month_name}"
    if a is None:
        return SectionTab(
            "customers",
            title,
            rep.month,
            partial,
            missing="This report has no split by customer: the account's token analytics are "
            "not part of it.",
        )
    f = rep.formats
    c = a.customers
    is_booked = booked is not None
    currency = booked_currency if is_booked else a.currency
    heading = money_heading(currency, booked=is_booked)
    if booked is not None:
        cents = booked_cents(a, booked)
    else:
        cents = [int(v) for v in c["cost_cents"]]
    hundredths = [int(v) for v in c["credits_hundredths"]]
    shares = [float(v) for v in c["share_display"]]
    shown: list[tuple[str, ...]] = []
    rows: list[tuple[Any, ...]] = []
    for name, kind, h, share, money in zip(c["customer"], c["kind"], hundredths, shares, cents):
        share_text = "" if share != share else f.share(share)
        shown.append((str(name), f.exact_credits(h / 100), share_text, f"{money / 100:,.2f}"))
        rows.append(
            (rep.month, str(name), str(kind), h, None if share != share else share, money, partial)
        )
    total_h = _h(a.total_credits)
    total_cents = sum(cents)
    shown.append(("Total", f.exact_credits(total_h / 100), "100.0%", f"{total_cents / 100:,.2f}"))
    rows.append((rep.month, "Total", "total", total_h, 100.0, total_cents, partial))
    money_column = heading.replace(".", "").replace(" ", "_").lower()
    lines = [
        "Credits split across customer tokens by estimated successful requests (estimates); "
        + money_basis(booked=is_booked)
        + ".",
    ]
    if partial:
        lines.append(f"{rep.month_name} is still running: the figures are the month so far.")
    return SectionTab(
        "customers",
        title,
        rep.month,
        partial,
        caption=f"Credits by customer, {rep.month_name}",
        header=("Customer", "Credits", "Share", heading),
        shown=tuple(shown),
        total=True,
        lines=tuple(lines),
        columns=(
            "month",
            "customer",
            "kind",
            "credits",
            "share_percent",
            money_column,
            "partial_period",
        ),
        kinds=(TEXT, TEXT, TEXT, CREDITS, PERCENT, MONEY, FLAG),
        rows=tuple(rows),
    )


def reconciliation_tab(rep: Any) -> SectionTab:
    """The month's tie to the ledger from the report's reconciliation: the tie-out (opening,
    top-ups, settled charges, closing, usage, difference, pending, reversed), the booked money
    of the balances when ``[money]`` values them, and every reason for a difference."""
    from ..render.pdf.sections import REASON_LABELS
    from ..render.reconcile import _num, balance_note, reconciliation_summary

    partial = not bool(rep.complete)
    r = rep.sections.reconciliation
    title = f"Reconciliation, {rep.month_name}"
    if r is None:
        return SectionTab(
            "reconciliation",
            title,
            rep.month,
            partial,
            missing="This report has no reconciliation: the account's ledger is not part of it.",
        )
    f = rep.formats
    money = getattr(r, "money", None)
    m: dict[str, int | None] = {
        "opening": getattr(money, "opening_cents", None),
        "top_ups": getattr(money, "purchases_cents", None),
        "charges": getattr(money, "consumed_cents", None),
        "closing": getattr(money, "closing_cents", None),
    }
    # (as the PDF page labels the line, as the file names it, figure, signed)
    tie = (
        ("Opening balance", "opening", "opening balance", r.opening, False),
        ("+ Top-ups", "top_ups", "top-ups", r.top_ups, False),
        ("− Settled charges", "charges", "settled charges", r.charges, False),
        ("= Closing balance", "closing", "closing balance", r.closing, False),
        ("Usage", "usage", "usage", r.usage, False),
        ("Difference (settled charges − usage)", "difference", "difference", r.difference, True),
        ("Pending at month end (ledger status pending)", "pending", "pending", r.pending, False),
        ("Reversed (ledger status error)", "reversed", "reversed", r.reversed, False),
    )
    currency = str(getattr(r, "currency", "USD") or "USD")
    money_column = f"booked_{currency.lower()}"
    shown = []
    rows: list[tuple[Any, ...]] = []
    for label, key, plain, value, sign in tie:
        cents = m.get(key)
        shown.append(
            (label, _num(value, f, sign=sign), "" if cents is None else f"{cents / 100:,.2f}")
        )
        rows.append((rep.month, "tie-out", plain, "", _h(value), cents, "", partial))
    reasons = []
    for x in r.reasons.itertuples(index=False):
        reason = REASON_LABELS.get(str(x.reason), str(x.reason))
        reasons.append((str(x.operation), reason, _num(x.credits, f, sign=True), str(x.detail)))
        rows.append(
            (
                rep.month,
                "difference",
                reason,
                str(x.operation),
                _h(x.credits),
                None,
                str(x.detail),
                partial,
            )
        )
    lines = [reconciliation_summary(r, numbers=f)[0]]
    note = balance_note(r, numbers=f)
    if note:
        lines.append(note)
    if not reasons:
        lines.append("No differences: settled charges equal usage for every operation.")
    if partial:
        lines.append(f"{rep.month_name} is still running: the figures are the month so far.")
    return SectionTab(
        "reconciliation",
        title,
        rep.month,
        partial,
        caption=f"Tie-out, {rep.month_name}",
        header=("", "Credits", f"Booked {currency}"),
        shown=tuple(shown),
        lines=tuple(lines),
        extra_caption="Why the figures differ",
        extra_header=("Operation", "Reason", "Credits", "Detail"),
        extra=tuple(reasons),
        columns=(
            "month",
            "section",
            "line",
            "operation",
            "credits",
            money_column,
            "detail",
            "partial_period",
        ),
        kinds=(TEXT, TEXT, TEXT, TEXT, CREDITS, MONEY, TEXT, FLAG),
        rows=tuple(rows),
    )


def _csv_value(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == CREDITS or kind == MONEY:
        v = int(value)
        return ("-" if v < 0 else "") + f"{abs(v) // 100}.{abs(v) % 100:02d}"
    if kind == PERCENT:
        return f"{float(value):.1f}"
    if kind == FLAG:
        return "true" if value else "false"
    return csv_safe(str(value))


def tab_csv(tab: SectionTab) -> str:
    """The tab's rows as CSV text, the header in the first row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(tab.columns)
    for row in tab.rows:
        writer.writerow([_csv_value(k, v) for k, v in zip(tab.kinds, row)])
    return out.getvalue()


def write_tab_xlsx(tab: SectionTab, path: str | os.PathLike[str]) -> None:
    """The tab's rows as a one-sheet workbook (XlsxWriter), the header in row 1, written
    atomically to ``path``."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"title": tab.title})
    head = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F3A5F"})
    formats = {
        CREDITS: wb.add_format({"num_format": "#,##0.00"}),
        MONEY: wb.add_format({"num_format": "#,##0.00"}),
        PERCENT: wb.add_format({"num_format": "0.0"}),
    }
    ws = wb.add_worksheet(tab.kind.capitalize())
    for j, name in enumerate(tab.columns):
        ws.write_string(0, j, name, head)
    for i, row in enumerate(tab.rows, start=1):
        for j, (kind, value) in enumerate(zip(tab.kinds, row)):
            if value is None:
                continue
            if kind in (CREDITS, MONEY):
                ws.write_number(i, j, int(value) / 100, formats[kind])
            elif kind == PERCENT:
                ws.write_number(i, j, float(value), formats[kind])
            elif kind == FLAG:
                ws.write_boolean(i, j, bool(value))
            else:
                ws.write_string(i, j, xlsxwriter_text(str(value)))
    ws.freeze_panes(1, 0)
    ws.set_column(0, len(tab.columns) - 1, 16)
    wb.close()
    write_bytes_atomic(path, buf.getvalue())
