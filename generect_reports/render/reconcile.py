"""The reconciliation as text, JSON, a workbook (Reconciliation and Ledger sheets), a PDF page
and the email's one line.

The sheet functions take an XlsxWriter workbook so the monthly report can add them to its own;
every formula is written with its computed value, so a reader that does not recalculate still
shows the figures.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from generect_reports.render.records.export import csv_safe, dumps_document, json_document

if TYPE_CHECKING:
    import xlsxwriter
    from matplotlib.figure import Figure

    from generect_reports.analysis.reconcile import Reconciliation
    from generect_reports.reports.formats import ReportFormats

__all__ = [
    "render_table",
    "render_csv",
    "render_json",
    "reconcile_document",
    "render_xlsx",
    "write_reconciliation_xlsx",
    "add_reconciliation_sheet",
    "add_ledger_sheet",
    "reconciliation_page",
    "reconciliation_summary",
    "balance_note",
    "restatement_lines",
    "money_document",
    "money_lines",
    "money_problems",
    "FORMATS",
]

FORMATS = ("table", "csv", "json", "xlsx")


def _num(value: float | None, numbers: ReportFormats | None = None, *, sign: bool = False) -> str:
    """Credits with cents; with ``numbers`` (a report's formats) as the report shows them: whole
    credits as whole as elsewhere in the report, the cents a ledger amount has."""
    if value is None:
        return "n/a"
    if numbers is None:
        return f"{value:+,.2f}" if sign else f"{value:,.2f}"
    return numbers.exact_change(value) if sign else numbers.exact_credits(value)


def _month_name(month: str) -> str:
    return pd.Timestamp(month + "-01").strftime("%B %Y")


def restatement_lines(restatements: list[dict[str, Any]]) -> list[str]:
    """One line per changed item of every restated month."""
    lines = []
    for item in restatements:
        for change in item["changes"]:
            lines.append(
                f"{item['month']} restated ({item['kind']}): {change['item']} "
                f"{change['before']:,.2f} -> {change['after']:,.2f} ({change['change']:+,.2f})"
            )
    return lines


def reconciliation_summary(
    result: Reconciliation, *, numbers: ReportFormats | None = None
) -> list[str]:
    """The email's sentence: "... ties to the ledger" or what does not tie (figures in
    ``numbers``, the report's formats, when given)."""
    name = _month_name(result.month)
    if result.ties:
        extra = []
        if result.pending:
            extra.append(f"{_num(result.pending, numbers)} pending")
        if result.reversed:
            extra.append(f"{_num(result.reversed, numbers)} reversed")
        tail = f" ({' and '.join(extra)} credits explain the difference)" if extra else ""
        return [
            f"{name} ties to the ledger: settled charges {_num(result.charges, numbers)} against "
            f"usage {_num(result.usage, numbers)} credits{tail}."
        ]
    parts = []
    for row in result.failures.itertuples(index=False):
        parts.append(f"{row.operation} {_num(row.credits, numbers, sign=True)} ({row.reason})")
    if not result.balance_ties:
        parts.append("the balance chain does not add up")
    parts += money_problems(result)
    return [f"{name} does not tie to the ledger: " + "; ".join(parts) + "."]


def money_problems(result: Reconciliation) -> list[str]:
    """What keeps the month's money from tying: top-ups without an invoice, invoices without a
    top-up, charges no purchase paid for."""
    m = result.money
    if m is None:
        return []
    out = [
        f"top-up {t.id} of {t.credits:,.2f} credits on {t.at:%Y-%m-%d} has no invoice"
        for t in m.unmatched_top_ups
    ]
    out += [
        f"invoice {p.invoice} of {p.credits:,.2f} credits on {p.date} matches no top-up"
        for p in m.unmatched_purchases
    ]
    if m.unvalued_hundredths:
        out.append(
            f"{m.unvalued_hundredths / 100:,.2f} credits consumed with no purchase to value them "
            "(set [money] opening)"
        )
    return out


def _money(cents: int) -> float:
    return int(cents) / 100


def money_document(result: Reconciliation) -> dict[str, Any] | None:
    """The month's dollar roll-forward for the JSON document (None without ``[money]``)."""
    m = result.money
    if m is None:
        return None
    return {
        "currency": result.currency,
        "opening_prepaid": _money(m.opening_cents),
        "purchases": _money(m.purchases_cents),
        "consumed": _money(m.consumed_cents),
        "pending_accrual": _money(m.pending_accrual_cents),
        "closing_prepaid": _money(m.closing_cents),
        "booked_cost": _money(m.booked_cents),
        "ties": bool(m.ties),
        "credits": {
            "opening_prepaid": m.opening_hundredths / 100,
            "purchased": m.purchased_hundredths / 100,
            "consumed": m.consumed_hundredths / 100,
            "closing_prepaid": m.closing_hundredths / 100,
            "pending": m.pending_hundredths / 100,
            "unvalued": m.unvalued_hundredths / 100,
        },
        "by_operation": [
            {"operation": op, "consumed": _money(c)} for op, c in sorted(m.by_operation.items())
        ],
        "top_ups": [
            {
                "id": t.id,
                "at": t.at.isoformat(),
                "credits": t.credits,
                "invoice": t.invoice,
                "invoice_date": None if t.invoice_date is None else t.invoice_date.isoformat(),
                "amount": None if t.amount_cents is None else _money(t.amount_cents),
            }
            for t in m.top_ups
        ],
        "unmatched_purchases": [
            {
                "invoice": p.invoice,
                "date": p.date.isoformat(),
                "credits": p.credits,
                "amount": _money(p.cents),
            }
            for p in m.unmatched_purchases
        ],
    }


def money_lines(result: Reconciliation) -> list[str]:
    """The dollar roll-forward beside the credit one, for a terminal ([] without ``[money]``)."""
    m = result.money
    if m is None:
        return []
    cur = result.currency
    figures = [
        ("opening prepaid", m.opening_cents),
        ("+ purchases", m.purchases_cents),
        ("- consumed", m.consumed_cents),
        ("= closing prepaid", m.closing_cents),
        ("pending accrual", m.pending_accrual_cents),
        ("booked cost (consumed + accrual)", m.booked_cents),
    ]
    width = max(len(k) for k, _ in figures)
    lines = ["", f"prepaid credits in {cur}:"]
    lines += [f"  {k:<{width}}  {c / 100:>14,.2f}" for k, c in figures]
    for t in m.top_ups:
        paid = "no invoice" if t.amount_cents is None else f"{t.amount_cents / 100:,.2f} {cur}"
        lines.append(
            f"  top-up {t.at:%Y-%m-%d} {t.credits:,.2f} credits: "
            + (f"invoice {t.invoice} ({paid})" if t.invoice else paid)
        )
    lines += [f"  does not tie: {p}" for p in money_problems(result)]
    return lines


def balance_note(result: Reconciliation, *, numbers: ReportFormats | None = None) -> str:
    """The balance line under the tie-out ("" without a balance).

    A closed month states only its own figures: balances are the ledger's at the month's end,
    and what was pending then. Only while the month runs is the live ``/me/`` balance stated,
    with its time, the credits pending so far and how the balance treats them. (How today's
    balance was read for a closed month is the ``reconcile`` command's business, not the
    month's.)
    """
    name = _month_name(result.month)
    if result.running and result.anchor_at is not None:
        text = (
            f"Account balance at {result.anchor_at:%Y-%m-%d %H:%M} {result.timezone}, "
            f"while {name} is still running"
        )
        if result.anchor_balance is not None:
            text += (
                f": {_num(result.anchor_balance, numbers)} credits, with "
                f"{_num(result.pending, numbers)} credits pending so far"
            )
        # The filed documents speak of the account balance, not of the endpoint it is read from.
        hypothesis = result.hypothesis.rstrip(".").replace("/me/'s balance", "the account balance")
        return text + "." + (f" {hypothesis[:1].upper()}{hypothesis[1:]}." if hypothesis else "")
    if result.closing is None:
        return ""
    from generect_reports.periods import month_window

    stop = month_window(result.month, result.timezone)[1]
    pending = (
        f"{_num(result.pending, numbers)} credits were pending at month end"
        if result.pending
        else "nothing was pending at month end"
    )
    return (
        f"Balances are the ledger's at the end of {name} (transactions before "
        f"{stop:%Y-%m-%d %H:%M} {result.timezone}); {pending}."
    )


# --- text ------------------------------------------------------------------------------------


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def render_table(result: Reconciliation) -> str:
    """The tie-out for a terminal: figures, operations, reason rows and the verdict."""
    lines = [f"Reconciliation {result.month} ({result.timezone}, {result.source})", ""]
    figures = [
        ("opening balance", result.opening),
        ("+ top-ups", result.top_ups),
        ("- settled charges", result.charges),
        ("= closing balance", result.closing),
        ("pending at month end", result.pending),
        ("reversed", result.reversed),
        ("usage", result.usage),
        ("difference (charges - usage)", result.difference),
    ]
    width = max(len(k) for k, _ in figures)
    lines += [f"  {k:<{width}}  {_num(v):>14}" for k, v in figures]
    lines += money_lines(result)
    if result.hypothesis:
        lines += ["", f"balance: {result.hypothesis}"]
    if result.anchor_at is not None and result.anchor_balance is not None:
        lines.append(
            f"anchor: /me/ balance {result.anchor_balance:,.2f} at {result.anchor_at.isoformat()}"
            + (
                f"; {result.in_flight:+,.2f} moved while paging (in flight)"
                if result.in_flight
                else ""
            )
        )
    ops = result.operations.copy()
    ops["operation"] = ops["operation"].astype(str).map(_printable)
    for col in ("usage", "settled", "pending", "reversed", "difference", "residual"):
        ops[col] = ops[col].map(lambda v: f"{v:,.2f}")
    lines += ["", ops.to_string(index=False)]
    if not result.reasons.empty:
        rs = result.reasons[["operation", "reason", "credits", "transactions"]].copy()
        rs["operation"] = rs["operation"].astype(str).map(_printable)
        rs["credits"] = rs["credits"].map(lambda v: f"{v:+,.2f}")
        lines += ["", "reasons:", rs.to_string(index=False)]
        lines += [
            f"  {_printable(r.operation)}: {_printable(r.detail)}"
            for r in result.failures.itertuples(index=False)
        ]
    lines += [f"note: {n}" for n in result.notes]
    lines += restatement_lines(result.restatements)
    lines += ["", reconciliation_summary(result)[0]]
    return "\n".join(lines) + "\n"


def render_csv(result: Reconciliation, *, account: str | None = None, header: bool = True) -> str:
    """The reason rows as CSV (text fields quoted and formula-safe); ``account`` adds it as the
    first column (the rows of one account among many), ``header`` False leaves the header out."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    first = [] if account is None else ["account"]
    if header:
        writer.writerow(
            [*first, "month", "operation", "reason", "credits", "transactions", "detail"]
        )
    lead = [] if account is None else [csv_safe(account)]
    for r in result.reasons.itertuples(index=False):
        writer.writerow(
            [
                *lead,
                result.month,
                csv_safe(str(r.operation)),
                r.reason,
                float(r.credits),
                int(r.transactions),
                csv_safe(str(r.detail)),
            ]
        )
    return out.getvalue()


def render_json(result: Reconciliation, *, generated_at: Any = None, complete: bool = True) -> str:
    """The versioned JSON document: reason rows in ``rows``, the tie-out in its own fields."""
    return dumps_document(reconcile_document(result, generated_at=generated_at, complete=complete))


def reconcile_document(
    result: Reconciliation, *, generated_at: Any = None, complete: bool = True
) -> dict[str, Any]:
    """The ``reconcile --format json`` document of one account (:func:`render_json`'s)."""
    from generect_reports.periods import month_window

    start, stop = month_window(result.month, result.timezone)
    rows = [
        {
            "operation": str(r.operation),
            "reason": r.reason,
            "credits": float(r.credits),
            "transactions": int(r.transactions),
            "detail": str(r.detail),
        }
        for r in result.reasons.itertuples(index=False)
    ]
    from generect_reports.analysis.reconcile import TYING_REASONS

    explained = float(
        result.reasons.loc[result.reasons["reason"].isin(TYING_REASONS), "credits"].sum()
    )
    operations = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in rec.items()}
        for rec in result.operations.to_dict("records")
    ]
    doc = json_document(
        "reconcile",
        rows,
        source=result.source,
        timezone=result.timezone,
        period=result.month,
        start=start.date().isoformat(),
        end=(stop.date() - pd.Timedelta(days=1)).isoformat(),
        complete=complete,
        generated_at=generated_at,
        totals={
            "difference": result.difference,
            "explained": round(explained, 2),
            "not_explained": round(result.difference - explained, 2),
        },
        fields={
            "reconciliation": result.figures(),
            "operations": operations,
            "notes": list(result.notes),
            "restatements": list(result.restatements),
            **({"money": money_document(result)} if result.money is not None else {}),
        },
    )
    return doc


# --- workbook --------------------------------------------------------------------------------


def _formats(workbook: xlsxwriter.Workbook, formats: dict[str, Any] | None) -> dict[str, Any]:
    f = dict(formats or {})
    f.setdefault("title", workbook.add_format({"bold": True, "font_size": 14}))
    f.setdefault("header", workbook.add_format({"bold": True, "bottom": 1}))
    f.setdefault("credits", workbook.add_format({"num_format": "#,##0.00"}))
    f.setdefault("bold_credits", workbook.add_format({"num_format": "#,##0.00", "bold": True}))
    f.setdefault("datetime", workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}))
    f.setdefault("check", workbook.add_format({"bold": True, "align": "center"}))
    f.setdefault("text", workbook.add_format({}))
    return f


def _number_formats(
    workbook: xlsxwriter.Workbook, f: dict[str, Any], numbers: ReportFormats | None
) -> Callable[..., Any]:
    """``num(value, kind="credits")``: a figure's cell format (``kind`` also ``bold_credits``),
    with ``numbers`` the report's Excel format with the cents the figure has."""
    cache: dict[tuple[str, bool], Any] = {}

    def num(value: float, kind: str = "credits") -> Any:
        if numbers is None:
            return f[kind]
        code, bold = numbers.exact([value]).excel_credits, kind == "bold_credits"
        if (code, bold) not in cache:
            cache[code, bold] = workbook.add_format({"num_format": code, "bold": bold})
        return cache[code, bold]

    return num


def _ok(flag: bool) -> str:
    return "OK" if flag else "FAIL"


def add_reconciliation_sheet(
    workbook: xlsxwriter.Workbook,
    result: Reconciliation,
    *,
    formats: dict[str, Any] | None = None,
    name: str = "Reconciliation",
    numbers: ReportFormats | None = None,
) -> None:
    """The tie-out with live formulas (opening + top-ups − charges = closing; charges − usage =
    difference; OK/FAIL checks), each written with its computed value; figures in ``numbers``
    (the report's formats) when given."""
    from xlsxwriter.utility import xl_rowcol_to_cell as cell

    f = _formats(workbook, formats)
    num = _number_formats(workbook, f, numbers)
    ws = workbook.add_worksheet(name)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 7, 15)
    ws.set_column(8, 8, 60)
    ws.write_string(0, 0, f"Reconciliation {result.month} ({result.timezone})", f["title"])
    ws.write_string(1, 0, balance_note(result, numbers=numbers), f["text"])

    def value(row: int, label: str, v: float | None, fmt: str = "credits") -> None:
        ws.write_string(row, 0, label)
        if v is None:
            ws.write_string(row, 1, "n/a")
        else:
            ws.write_number(row, 1, float(v), num(v, fmt))

    value(3, "Opening balance", result.opening)
    value(4, "Top-ups", result.top_ups)
    value(5, "Settled charges", result.charges)
    value(6, "Closing balance (from the account balance)", result.closing)
    ws.write_string(7, 0, "Opening + top-ups − charges")
    ws.write_string(8, 0, "Balance check")
    if result.opening is not None and result.closing is not None:
        computed = round(result.opening + result.top_ups - result.charges, 2)
        ws.write_formula(7, 1, "=B4+B5-B6", num(computed, "bold_credits"), computed)
        ws.write_formula(
            8, 1, '=IF(ROUND(B8-B7,2)=0,"OK","FAIL")', f["check"], _ok(result.balance_ties)
        )
    else:
        ws.write_string(7, 1, "n/a")
        ws.write_string(8, 1, "n/a", f["check"])
    value(10, "Usage", result.usage)
    ws.write_string(11, 0, "Difference (charges − usage)")
    ws.write_formula(11, 1, "=B6-B11", num(result.difference, "bold_credits"), result.difference)
    value(12, "Pending at month end", result.pending)
    value(13, "Reversed", result.reversed)

    # Per operation, then the reason rows; the checks below refer to both.
    top = 19
    ws.write_string(top - 1, 0, "By operation", f["header"])
    heads = [
        "Operation",
        "Usage",
        "Settled",
        "Pending",
        "Reversed",
        "Difference",
        "Residual",
        "Check",
    ]
    for c, h in enumerate(heads):
        ws.write_string(top, c, h, f["header"])
    ops = result.operations
    # The reason rows' ranges (they sit below this table), for the residual formulas.
    rtop = top + len(ops) + 3
    r_first, r_last = rtop + 1, rtop + max(len(result.reasons), 1)
    r_ops = f"$A${r_first + 1}:$A${r_last + 1}"
    r_kinds = f"$B${r_first + 1}:$B${r_last + 1}"
    r_credits = f"$C${r_first + 1}:$C${r_last + 1}"
    for i, r in enumerate(ops.itertuples(index=False)):
        row = top + 1 + i
        ws.write_string(row, 0, str(r.operation))
        for c, v in enumerate((r.usage, r.settled, r.pending, r.reversed), start=1):
            ws.write_number(row, c, float(v), num(v))
        ws.write_formula(
            row, 5, f"={cell(row, 2)}-{cell(row, 1)}", num(r.difference), float(r.difference)
        )
        # What pending and reversed charges (or, for an unmapped type, the type itself) leave
        # of the difference: a formula over the reason rows, so an edit there shows here.
        op, sumifs = cell(row, 0), f"SUMIFS({r_credits},{r_ops},{cell(row, 0)},{r_kinds},"
        ws.write_formula(
            row,
            6,
            f'=ROUND({cell(row, 5)}-{sumifs}"pending at month end")-{sumifs}"reversed")'
            f'-IF(LEFT({op},9)="unmapped:",{sumifs}"unmapped type"),0),2)',
            num(r.residual),
            float(r.residual),
        )
        failing = str(r.operation).startswith("unmapped:") or bool(
            (result.failures["operation"] == r.operation).any()
        )
        ws.write_formula(
            row,
            7,
            f'=IF(AND(ROUND({cell(row, 6)},2)=0,LEFT({cell(row, 0)},9)<>"unmapped:"),"OK","FAIL")',
            f["check"],
            _ok(not failing and round(float(r.residual), 2) == 0),
        )
    ws.write_string(rtop - 1, 0, "Reasons", f["header"])
    for c, h in enumerate(
        ["Operation", "Reason", "Credits", "Transactions", "", "", "", "", "Detail"]
    ):
        if h:
            ws.write_string(rtop, c, h, f["header"])
    reasons = result.reasons
    for i, r in enumerate(reasons.itertuples(index=False)):
        row = rtop + 1 + i
        ws.write_string(row, 0, str(r.operation))
        ws.write_string(row, 1, str(r.reason))
        ws.write_number(row, 2, float(r.credits), num(r.credits))
        ws.write_number(row, 3, int(r.transactions))
        ws.write_string(row, 8, str(r.detail))
    first, last = rtop + 1, rtop + max(len(reasons), 1)
    reason_rng = f"{cell(first, 1)}:{cell(last, 1)}"
    credit_rng = f"{cell(first, 2)}:{cell(last, 2)}"
    explained = float(
        reasons.loc[reasons["reason"].isin(("pending at month end", "reversed")), "credits"].sum()
    )
    ws.write_string(14, 0, "Explained by pending and reversed")
    ws.write_formula(
        14,
        1,
        f'=SUMIF({reason_rng},"pending at month end",{credit_rng})'
        f'+SUMIF({reason_rng},"reversed",{credit_rng})',
        num(round(explained, 2)),
        round(explained, 2),
    )
    ws.write_string(15, 0, "Reason rows add up to the difference")
    ws.write_formula(
        15,
        1,
        f'=IF(ROUND(B12-SUM({credit_rng}),2)=0,"OK","FAIL")',
        f["check"],
        _ok(round(float(reasons["credits"].sum()) - result.difference, 2) == 0),
    )
    ws.write_string(16, 0, "Month ties to the ledger")
    n_failing = len(result.failures)
    ops_rng = f"{cell(top + 1, 7)}:{cell(top + max(len(ops), 1), 7)}"
    ws.write_formula(
        16,
        1,
        f'=IF(AND(B16="OK",COUNTIF({ops_rng},"FAIL")=0,'
        f'COUNTA({reason_rng})-COUNTIF({reason_rng},"pending at month end")'
        f'-COUNTIF({reason_rng},"reversed")=0,'
        f'OR(B9="OK",B9="n/a")),"OK","FAIL")',
        f["check"],
        _ok(result.ties and n_failing == 0),
    )


def add_ledger_sheet(
    workbook: xlsxwriter.Workbook,
    ledger: pd.DataFrame,
    *,
    formats: dict[str, Any] | None = None,
    name: str = "Ledger",
    numbers: ReportFormats | None = None,
) -> None:
    """The month's transactions as an Excel Table (local times, in the ledger's timezone);
    credits in ``numbers`` (the report's formats) when given."""
    f = _formats(workbook, formats)
    num = _number_formats(workbook, f, numbers)
    ws = workbook.add_worksheet(name)
    tz = ledger.attrs.get("timezone", "")
    heads = [
        "id",
        f"created_at ({tz})" if tz else "created_at",
        "type",
        "credits",
        "status",
        "balance_type",
    ]
    widths = [42, 20, 28, 12, 10, 14]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    local = ledger["created_at"].dt.tz_localize(None) if len(ledger) else ledger["created_at"]
    for i, (tid, when, kind, credits, status, btype) in enumerate(
        zip(
            ledger["id"],
            local,
            ledger["type"],
            ledger["credits"],
            ledger["status"],
            ledger["balance_type"],
        ),
        start=1,
    ):
        # Strings are written as strings: an id or type starting with "=" must stay text.
        ws.write_string(i, 0, str(tid))
        ws.write_datetime(i, 1, when.to_pydatetime(), f["datetime"])
        ws.write_string(i, 2, str(kind))
        ws.write_number(i, 3, float(credits), num(credits))
        ws.write_string(i, 4, str(status))
        ws.write_string(i, 5, str(btype))
    ws.add_table(
        0,
        0,
        max(len(ledger), 1),
        len(heads) - 1,
        {
            "name": name.replace(" ", "_"),
            "columns": [{"header": h} for h in heads],
            "style": "Table Style Light 9",
            "autofilter": True,
        },
    )
    ws.freeze_panes(1, 0)


def render_xlsx(result: Reconciliation, ledger: pd.DataFrame) -> bytes:
    """A workbook with the Reconciliation and Ledger sheets."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    stamp = result.anchor_at if result.anchor_at is not None else ledger.attrs.get("fetched_at")
    if stamp is not None:
        workbook.set_properties(
            {"created": pd.Timestamp(stamp).tz_convert("UTC").tz_localize(None).to_pydatetime()}
        )
    add_reconciliation_sheet(workbook, result)
    add_ledger_sheet(workbook, ledger)
    from generect_reports.render.xlsx.page import print_setup

    for ws, header_row in zip(workbook.worksheets(), (None, 0)):
        print_setup(
            ws,
            title=f"Reconciliation — {_month_name(result.month)}",
            footer_left=f"{result.timezone} · source: {result.source}",
            header_row=header_row,
        )
    workbook.close()
    return buffer.getvalue()


def write_reconciliation_xlsx(
    result: Reconciliation, ledger: pd.DataFrame, path: str | os.PathLike[str]
) -> None:
    """Write :func:`render_xlsx` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, render_xlsx(result, ledger))


# --- PDF -------------------------------------------------------------------------------------


def reconciliation_page(
    result: Reconciliation,
    *,
    figsize: tuple[float, float] = (11.69, 8.27),
    colors: dict[str, str] | None = None,
    numbers: ReportFormats | None = None,
) -> Figure:
    """One landscape page: the tie-out, the per-operation differences and the reason rows,
    figures in ``numbers`` (the report's formats) when given."""
    from matplotlib.figure import Figure

    colors = {"ok": "#2e7d32", "fail": "#c62828", "text": "#222222", **(colors or {})}
    fig = Figure(figsize=figsize)
    verdict = reconciliation_summary(result, numbers=numbers)[0]
    fig.text(
        0.04,
        0.94,
        f"Reconciliation: {_month_name(result.month)}",
        fontsize=16,
        weight="bold",
        color=colors["text"],
    )
    import textwrap

    # Wrapped to the page width and hung from below the title, so a long verdict never
    # climbs into it.
    fig.text(
        0.04,
        0.925,
        textwrap.fill(verdict, int(figsize[0] * 11)),
        fontsize=10,
        va="top",
        color=colors["ok" if result.ties else "fail"],
    )
    rows = [
        ["Opening balance", _num(result.opening, numbers)],
        ["+ Top-ups", _num(result.top_ups, numbers)],
        ["− Settled charges", _num(result.charges, numbers)],
        ["= Closing balance", _num(result.closing, numbers)],
        ["Usage", _num(result.usage, numbers)],
        ["Difference (charges − usage)", _num(result.difference, numbers)],
        ["Pending at month end", _num(result.pending, numbers)],
        ["Reversed", _num(result.reversed, numbers)],
    ]
    ax = fig.add_axes((0.04, 0.50, 0.40, 0.36))
    ax.axis("off")
    table = ax.table(
        cellText=rows,
        colLabels=["Tie-out", "Credits"],
        loc="upper left",
        colLoc="left",
        cellLoc="left",
        colWidths=[0.68, 0.32],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.4)
    ops = result.operations
    ax2 = fig.add_axes((0.52, 0.50, 0.44, 0.36))
    ax2.axis("off")
    op_rows = [
        [
            str(r.operation)[:32],
            _num(r.usage, numbers),
            _num(r.settled, numbers),
            _num(r.difference, numbers, sign=True),
            _num(r.residual, numbers, sign=True),
        ]
        for r in ops.itertuples(index=False)
    ][:16]
    if op_rows:
        t2 = ax2.table(
            cellText=op_rows,
            colLabels=["Operation", "Usage", "Settled", "Difference", "Residual"],
            loc="upper left",
            cellLoc="left",
            colLoc="left",
            colWidths=[0.36, 0.16, 0.16, 0.16, 0.16],
        )
        t2.auto_set_font_size(False)
        t2.set_fontsize(8)
        t2.scale(1, 1.2)
    ax3 = fig.add_axes((0.04, 0.06, 0.92, 0.38))
    ax3.axis("off")
    reason_rows = [
        [str(r.operation)[:30], r.reason, _num(r.credits, numbers, sign=True), str(r.detail)[:95]]
        for r in result.reasons.itertuples(index=False)
    ][:14]
    if reason_rows:
        t3 = ax3.table(
            cellText=reason_rows,
            colLabels=["Operation", "Reason", "Credits", "Detail"],
            loc="upper left",
            cellLoc="left",
            colLoc="left",
            colWidths=[0.2, 0.17, 0.1, 0.53],
        )
        t3.auto_set_font_size(False)
        t3.set_fontsize(8)
        t3.scale(1, 1.2)
    else:
        ax3.text(
            0, 0.9, "No differences: settled charges equal usage for every operation.", fontsize=10
        )
    note = balance_note(result, numbers=numbers)
    if note:
        import textwrap

        # Above the page footer the report adds, wrapped to the page's width.
        fig.text(
            0.04,
            0.075,
            textwrap.fill(note, int(figsize[0] * 12.5)),
            fontsize=8,
            color=colors["text"],
            va="bottom",
        )
    return fig
