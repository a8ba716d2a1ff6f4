"""Chargeback artefacts: the table/CSV/JSON of ``chargeback``, the statement workbook, and the
"By customer" section of the monthly report (sheet, PDF page, email sentences).

Every rendering states that the figures are estimates and why (``Allocation.assumptions``).
Customer names come from the API: they are written as text only (never as formulas), escaped
for terminals and guarded against CSV injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from generect_reports._text import visible_char, xlsxwriter_text
from generect_reports.analysis.chargeback import UNALLOCATED, UNDER_REVIEW, Allocation, health_rule
from generect_reports.periods import Month
from generect_reports.render.records.export import csv_safe, dumps_document, json_document

if TYPE_CHECKING:
    import xlsxwriter
    from matplotlib.figure import Figure

    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.statements import Statement, Statements

__all__ = [
    "CHARGEBACK_FORMATS",
    "booked_cents",
    "chargeback_csv_fields",
    "money_basis",
    "money_heading",
    "add_customers_sheet",
    "customers_page",
    "customers_summary",
    "chargeback_document",
    "render_chargeback",
    "render_allocation_workbook",
    "render_chargeback_workbook",
    "write_allocation_workbook",
    "safe_sheet_names",
    "write_chargeback_workbook",
]

CHARGEBACK_FORMATS = ("table", "csv", "json", "xlsx")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_RESERVED_SHEETS = {"history"}


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _month_name(month: str) -> str:
    return dt.date(int(month[:4]), int(month[5:7]), 1).strftime("%B %Y")


def _shown(percent: float) -> str:
    """A customer's shown share (``share_display``, in percent): the shares add up to 100.0 and
    a line that is an operation too (``unallocated``) shows the operations' figure."""
    return "" if pd.isna(percent) else f"{percent:.1f}%"


def _estimate_note(alloc: Allocation) -> str:
    return "Estimate. " + " ".join(alloc.assumptions)


# --- text outputs ----------------------------------------------------------------------------


def money_heading(currency: str, *, booked: bool) -> str:
    """The heading of a chargeback's money column: the booked amount when ``[money]`` values
    the credits (the rate the statements use), else the list-price estimate, labelled so."""
    return f"booked {currency}" if booked else f"est. cost {currency}"


def money_basis(*, booked: bool) -> str:
    """What the money column holds, in words (under the table's title)."""
    if booked:
        return (
            "money: the booked cost ([money], valued from the purchases), the rate the "
            "statements use; it adds up to the month's booked cost"
        )
    return "money: an estimate at list prices (no [money] in the config)"


def booked_cents(alloc: Allocation, booked: Mapping[str, int]) -> list[int]:
    """Each row of ``alloc.customers``' booked cents (0 for a customer with none)."""
    return [int(booked.get(str(k), 0)) for k in alloc.customers["customer"]]


def _table(
    alloc: Allocation, booked: Mapping[str, int] | None = None, booked_currency: str = "USD"
) -> str:
    c = alloc.customers
    if booked is not None:
        heading = money_heading(booked_currency, booked=True)
        money = [f"{v / 100:,.2f}" for v in booked_cents(alloc, booked)]
    else:
        heading = money_heading(alloc.currency, booked=False)
        money = [f"{v:,.2f}" for v in c["estimated_cost"]]
    shown = pd.DataFrame(
        {
            "customer": c["customer"].astype(str).map(_printable),
            "token": c["token_hints"].astype(str),
            "requests": c["requests"].map(lambda v: f"{v:,}"),
            "failed": c["failed_share"].map(lambda v: "" if pd.isna(v) else f"{v:.1%}"),
            "credits": c["credits"].map(lambda v: f"{v:,.2f}"),
            "share": c["share_display"].map(_shown),
            heading: pd.Series(money, index=c.index, dtype=object),
            "health": c["flagged"].map(lambda f: "FLAG" if f else ""),
        }
    )
    lines = [f"Chargeback {alloc.month} ({alloc.timezone}): credits per customer, estimated"]
    lines += [money_basis(booked=booked is not None), ""]
    lines.append(shown.to_string(index=False) if len(shown) else "(no customers)")
    scope = "account total (all customers)" if alloc.narrowed_to else "total"
    ties = "equal" if alloc.tied else "DO NOT equal"
    if booked is not None and not alloc.narrowed_to:
        money_total = (
            f"booked {sum(booked.values()) / 100:,.2f} {booked_currency} (at list prices an "
            f"estimated {alloc.total_cost:,.2f} {alloc.currency})"
        )
    else:
        money_total = f"estimated {alloc.total_cost:,.2f} {alloc.currency} at list prices"
    lines += [
        "",
        (
            f"{scope}: {alloc.total_credits:,.2f} credits, {money_total}; customers plus "
            f"unallocated {ties} the account's usage per operation"
        ),
    ]
    for _, row in alloc.flagged.iterrows():
        lines.append(f"integration health: {_printable(str(row['customer']))}: {row['flags']}")
    for note in alloc.notes:
        lines.append("note: " + _printable(note))
    lines.append("")
    lines += textwrap.wrap(_estimate_note(alloc), 100)
    return "\n".join(lines) + "\n"


def _rows(
    alloc: Allocation, booked_lines: Mapping[tuple[str, str], int] | None = None
) -> list[dict[str, Any]]:
    """One row per customer and operation; with ``booked_lines`` (cents per customer and
    operation, the statements' amounts) each row's ``booked_cost`` too."""
    ident = alloc.customers.set_index("customer")
    out = []
    for r in alloc.lines.itertuples(index=False):
        who = ident.loc[r.customer] if r.customer in ident.index else None
        booked = (
            {}
            if booked_lines is None
            else {
                "booked_cost": int(booked_lines.get((str(r.customer), str(r.operation)), 0)) / 100
            }
        )
        out.append(
            {
                "month": alloc.month,
                "customer": r.customer,
                "client_id": None if who is None or pd.isna(who["client_id"]) else who["client_id"],
                "token_hints": "" if who is None else who["token_hints"],
                "operation": r.operation,
                "requests": int(r.requests),
                "estimated_successful": round(float(r.estimated_successful), 4),
                "credits": float(r.credits),
                "share": float(r.share),
                "estimated_cost": float(r.estimated_cost),
                "currency": alloc.currency,
                **booked,
            }
        )
    return out


def chargeback_csv_fields(*, account: bool = False, booked: bool = False) -> list[str]:
    """The columns of the chargeback CSV: ``account`` first across accounts, ``booked_cost``
    and ``booked_currency`` last when ``[money]`` values the credits."""
    return [
        *(["account"] if account else []),
        "month",
        "customer",
        "client_id",
        "token_hints",
        "operation",
        "requests",
        "estimated_successful",
        "credits",
        "share",
        "estimated_cost",
        "currency",
        *(["booked_cost", "booked_currency"] if booked else []),
    ]


def _csv(
    alloc: Allocation,
    *,
    account: str | None = None,
    header: bool = True,
    booked_lines: Mapping[tuple[str, str], int] | None = None,
    booked_currency: str = "USD",
    booked_column: bool = False,
) -> str:
    buf = io.StringIO()
    with_booked = booked_column or booked_lines is not None
    fields = chargeback_csv_fields(account=account is not None, booked=with_booked)
    writer = csv.DictWriter(
        buf, fieldnames=fields, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    if header:
        writer.writeheader()
    lead = {} if account is None else {"account": account}
    tail = {"booked_currency": booked_currency if booked_lines is not None else None}
    for row in _rows(alloc, booked_lines):
        if with_booked:
            row = {**row, "booked_cost": row.get("booked_cost"), **tail}
        writer.writerow(
            {
                k: (csv_safe(v) if isinstance(v, str) else ("" if v is None else v))
                for k, v in {**lead, **row}.items()
            }
        )
    return buf.getvalue()


def _json(
    alloc: Allocation,
    *,
    complete: bool,
    generated_at: Any,
    booked: Mapping[str, int] | None = None,
    booked_lines: Mapping[tuple[str, str], int] | None = None,
) -> dict[str, Any]:
    # Data, not display: the exact share goes out; the shown one is for the page.
    cust = alloc.customers.drop(
        columns=["credits_hundredths", "cost_cents", "share_display", "under_review_hundredths"]
    )
    cust = cust.assign(billing=cust["billing"].where(cust["kind"] == "customer", None))
    reviews = alloc.reviews.drop(columns=["credits_hundredths"]).assign(
        estimated_successful=alloc.reviews["estimated_successful"].round(4)
    )
    # The booked cost of the whole account, as the other totals (even with --customer): the
    # lines are the account's, the customers' booked costs only those shown.
    account_booked = (
        sum(booked_lines.values())
        if booked_lines is not None
        else sum(booked.values())
        if booked is not None and not alloc.narrowed_to
        else None
    )
    # The envelope's start and end are inclusive local dates; the window holds the local
    # instants the analytics were asked for, so their wall-clock dates are those days.
    first, last = (pd.Timestamp(w).date() for w in alloc.window) if alloc.window else (None, None)
    doc = json_document(
        "chargeback",
        _rows(alloc, booked_lines),
        source=alloc.source,
        timezone=alloc.timezone,
        period="month",
        start=first,
        end=last,
        complete=complete,
        generated_at=generated_at,
        totals={
            "credits": alloc.total_credits,
            "estimated_cost": alloc.total_cost,
            "unallocated_credits": alloc.unallocated_credits,
            "under_review_credits": alloc.under_review_credits,
            **({} if account_booked is None else {"booked_cost": account_booked / 100}),
        },
        fields={
            "month": alloc.month,
            "currency": alloc.currency,
            "estimate": True,
            "assumptions": list(alloc.assumptions),
            "allocation_rule": alloc.rule,
            "health_rule": health_rule(alloc.threshold),
            "bound_rule": alloc.bound_rule,
            "tolerance": alloc.tolerance,
            "under_review": reviews.to_dict("records"),
            "customers": cust.astype(object).where(cust.notna(), None).to_dict("records"),
            "operations": alloc.operations.drop(
                columns=[
                    "credits_hundredths",
                    "cost_cents",
                    "allocated_hundredths",
                    "unallocated_hundredths",
                    "review_hundredths",
                    "share_display",
                ]
            ).to_dict("records"),
            "unmapped_endpoints": alloc.unmapped.to_dict("records"),
            "notes": list(alloc.notes),
        },
    )
    return doc


def render_chargeback(
    alloc: Allocation,
    fmt: str,
    *,
    complete: bool = True,
    generated_at: Any = None,
    booked: Mapping[str, int] | None = None,
    booked_currency: str = "USD",
    booked_lines: Mapping[tuple[str, str], int] | None = None,
    account: str | None = None,
    header: bool = True,
    booked_column: bool = False,
) -> str:
    """``alloc`` as ``table``, ``csv`` (one row per customer and operation) or ``json`` (the
    versioned envelope, with customers, operations, assumptions and health in its fields).
    ``booked`` (cents by customer) makes the table's money column the booked cost (the rate
    the statements use; else it is the list-price estimate, labelled so) and adds it to the
    JSON; ``booked_lines`` (cents by customer and operation) adds each row's ``booked_cost``
    to the CSV and JSON. For the CSV, ``account`` adds it as the first column, ``header``
    False leaves the header out (the rows of one account among many) and ``booked_column``
    keeps the booked columns (empty) for an account without ``[money]``."""
    if fmt == "table":
        return _table(alloc, booked, booked_currency)
    if fmt == "csv":
        return _csv(
            alloc,
            account=account,
            header=header,
            booked_lines=booked_lines,
            booked_currency=booked_currency,
            booked_column=booked_column,
        )
    if fmt == "json":
        return dumps_document(
            chargeback_document(
                alloc,
                complete=complete,
                generated_at=generated_at,
                booked=booked,
                booked_currency=booked_currency,
                booked_lines=booked_lines,
            )
        )
    raise ValueError(f"unknown format {fmt!r}")


def chargeback_document(
    alloc: Allocation,
    *,
    complete: bool = True,
    generated_at: Any = None,
    booked: Mapping[str, int] | None = None,
    booked_currency: str = "USD",
    booked_lines: Mapping[tuple[str, str], int] | None = None,
) -> dict[str, Any]:
    """The ``chargeback --format json`` document of one account."""
    doc = _json(
        alloc,
        complete=complete,
        generated_at=generated_at,
        booked=booked,
        booked_lines=booked_lines,
    )
    if booked is not None:
        doc["booked_cost"] = {
            "currency": booked_currency,
            "total": sum(booked.values()) / 100,
            "customers": [{"customer": k, "booked_cost": v / 100} for k, v in booked.items()],
        }
    return doc


# --- workbook --------------------------------------------------------------------------------


def safe_sheet_names(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Sheet names Excel accepts: no ``[]:*?/\\``, at most 31 characters, not blank, not
    ``History``, unique ignoring case (also against ``taken``)."""
    used = {t.casefold() for t in taken}
    out: list[str] = []
    for raw in names:
        # Controls, noncharacters (U+FFFE: the workbook's XML could not hold them), bidi and
        # zero-width characters and the characters Excel forbids all become "_".
        text = "".join(c if visible_char(c) else "_" for c in str(raw))
        base = _fit_sheet_name(_SHEET_FORBIDDEN.sub("_", text))
        if base.casefold() in _RESERVED_SHEETS:
            base = _fit_sheet_name(base + " (customer)")
        name, n = base, 1
        while name.casefold() in used:  # also a duplicate made by the cut to 31 characters
            n += 1
            suffix = f" ({n})"
            name = _fit_sheet_name(base[: 31 - len(suffix)]).rstrip() + suffix
        used.add(name.casefold())
        out.append(name)
    return out


def _fit_sheet_name(text: str) -> str:
    """At most 31 characters, trimmed, never starting or ending with an apostrophe (Excel
    refuses both, at any length: a 31st character ``'`` once raised InvalidWorksheetName)."""
    cut = text.strip().strip("'").strip()[:31]
    return cut.rstrip().rstrip("'").rstrip() or "Customer"


def _col(n: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(n)


def _formats(workbook: xlsxwriter.Workbook, given: dict[str, Any] | None) -> dict[str, Any]:
    fmts = dict(given or {})
    defaults = {
        "title": {"bold": True, "font_size": 14},
        "header": {"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"},
        "bold": {"bold": True},
        "text": {},
        "wrap": {"text_wrap": True, "valign": "top"},
        "credits": {"num_format": "#,##0.00"},
        "count": {"num_format": "#,##0"},
        "percent": {"num_format": "0.0%"},
        "money": {"num_format": "#,##0.00"},
        "total_credits": {"num_format": "#,##0.00", "bold": True, "top": 1},
        "total_money": {"num_format": "#,##0.00", "bold": True, "top": 1},
        "total_label": {"bold": True, "top": 1},
        "total_count": {"num_format": "#,##0", "bold": True, "top": 1},
        "total_percent": {"num_format": "0.0%", "bold": True, "top": 1},
        "flag": {
            "font_color": "#9C0006",
            "bg_color": "#FFC7CE",
            "text_wrap": True,
            "valign": "top",
        },
        "muted": {"italic": True, "font_color": "#595959"},
    }
    for key, spec in defaults.items():
        if key not in fmts:
            fmts[key] = workbook.add_format(spec)
    return fmts


def _figure_formats(
    workbook: xlsxwriter.Workbook, fmts: dict[str, Any], numbers: ReportFormats | None
) -> Callable[[str, float], Any]:
    """``num(kind, value)``: the cell format of a ``credits``, ``money``, ``total_credits`` or
    ``total_money`` figure; with ``numbers``, the report's Excel format (the cents a figure has,
    the theme's currency)."""
    cache: dict[tuple[str, str], Any] = {}

    def num(kind: str, value: float) -> Any:
        if numbers is None:
            return fmts[kind]
        money = kind.endswith("money")
        code = numbers.excel_money if money else numbers.exact([value]).excel_credits
        if (kind, code) not in cache:
            total = {"bold": True, "top": 1} if kind.startswith("total_") else {}
            cache[kind, code] = workbook.add_format({"num_format": code, **total})
        return cache[kind, code]

    return num


def _credits(value: float, numbers: ReportFormats | None) -> str:
    """Allocated credits with cents, or as the report shows them (with the cents they have)."""
    return f"{value:,.2f}" if numbers is None else numbers.exact_credits(value)


def _money(value: float, currency: str, numbers: ReportFormats | None) -> str:
    """``816.15 USD``, or the report's money format (``$816.15``)."""
    return f"{value:,.2f} {currency}" if numbers is None else numbers.money(value)


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Text cells only through write_string: a name starting with '=' stays text."""
    ws.write_string(
        row,
        col,
        ""
        if value is None or (isinstance(value, float) and pd.isna(value))
        else xlsxwriter_text(str(value)),  # U+FFFE and U+FFFF would break the sheet's XML
        fmt,
    )


def _number_or_empty(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    """A number, or an empty text cell where there is none (a share of nothing)."""
    if pd.isna(value):
        _text(ws, row, col, "")
    else:
        ws.write_number(row, col, float(value), fmt)


def _notes(
    ws: Any,
    row: int,
    alloc: Allocation,
    fmts: dict[str, Any],
    width: int = 8,
    account_notes: bool = True,
) -> int:
    _text(ws, row, 0, "How these figures were made", fmts["bold"])
    row += 1
    # A statement goes to one customer: it carries the rule, not notes about the whole account.
    extra = alloc.notes if account_notes else []
    for para in (alloc.rule, *alloc.assumptions, health_rule(alloc.threshold), *extra):
        ws.merge_range(row, 0, row, width - 1, "", fmts["wrap"])
        _text(ws, row, 0, para, fmts["wrap"])
        ws.set_row(row, 15 * max(1, len(para) // 110 + 1))
        row += 1
    return row


def _summary_sheet(
    wb: xlsxwriter.Workbook, alloc: Allocation, name: str, fmts: dict[str, Any]
) -> None:
    ws = wb.add_worksheet(name)
    ops = list(alloc.operations["operation"])
    parties = list(alloc.customers["customer"])
    lines = alloc.lines.set_index(["customer", "operation"])
    cur = alloc.currency
    _text(
        ws,
        0,
        0,
        f"Chargeback {_month_name(alloc.month)}: credits and estimated cost per customer",
        fmts["title"],
    )
    meta = [
        ("Month", alloc.month),
        ("Timezone", alloc.timezone),
        ("Window", " to ".join(alloc.window) if alloc.window else ""),
        ("Source", alloc.source),
        ("Currency", cur),
        ("Figures", "Estimates (see the notes below); totals are live formulas."),
    ]
    for i, (k, v) in enumerate(meta):
        _text(ws, 1 + i, 0, k, fmts["bold"])
        _text(ws, 1 + i, 1, v)
    n = len(ops)

    def block(
        top: int, title: str, key: str, unit_fmt: str, account: list[int], total_fmt: str
    ) -> tuple[int, int]:
        _text(ws, top, 0, title, fmts["bold"])
        head = top + 1
        _text(ws, head, 0, "Customer", fmts["header"])
        for j, op in enumerate(ops):
            _text(ws, head, 1 + j, op, fmts["header"])
        _text(ws, head, 1 + n, "Total", fmts["header"])
        first = head + 1
        for i, party in enumerate(parties):
            r = first + i
            _text(ws, r, 0, party, fmts["muted"] if party in (UNALLOCATED, UNDER_REVIEW) else None)
            values = []
            for j, op in enumerate(ops):
                v = int(lines[key].get((party, op), 0)) / 100
                values.append(v)
                ws.write_number(r, 1 + j, v, fmts[unit_fmt])
            ws.write_formula(
                r, 1 + n, f"=SUM(B{r + 1}:{_col(n)}{r + 1})", fmts[unit_fmt], round(sum(values), 2)
            )
        last = first + len(parties) - 1
        tot = last + 1
        _text(ws, tot, 0, "Total", fmts["total_label"])
        shown = [sum(int(lines[key].get((p, op), 0)) for p in parties) for op in ops]
        for j in range(n + 1):
            c = _col(1 + j)
            value = (sum(shown) if j == n else shown[j]) / 100
            ws.write_formula(
                tot, 1 + j, f"=SUM({c}{first + 1}:{c}{last + 1})", fmts[total_fmt], value
            )
        acct = tot + 1
        label = "Account usage" if key == "credits_hundredths" else "Report cost lines"
        _text(ws, acct, 0, label + (" (all customers)" if alloc.narrowed_to else ""))
        for j in range(n + 1):
            value = (sum(account) if j == n else account[j]) / 100
            ws.write_number(acct, 1 + j, value, fmts[unit_fmt])
        if not alloc.narrowed_to:  # one customer's rows cannot add up to the account
            diff = acct + 1
            _text(ws, diff, 0, "Difference (must be 0)")
            for j in range(n + 1):
                c = _col(1 + j)
                ws.write_formula(
                    diff, 1 + j, f"=ROUND({c}{tot + 1}-{c}{acct + 1},2)", fmts[unit_fmt], 0
                )
        return first, tot

    top = len(meta) + 2
    acc_credits = [int(v) for v in alloc.operations["credits_hundredths"]]
    acc_cents = [int(v) for v in alloc.operations["cost_cents"]]
    first, tot = block(
        top, "Credits by operation", "credits_hundredths", "credits", acc_credits, "total_credits"
    )
    # Share and estimated cost beside the credits block.
    share_col, cost_col = n + 2, n + 3
    _text(ws, first - 1, share_col, "Share", fmts["header"])
    _text(ws, first - 1, cost_col, f"Estimated cost ({cur})", fmts["header"])
    cost_top = tot + 4
    cost_first = cost_top + 2
    for i, _party in enumerate(parties):
        r = first + i
        row = alloc.customers.iloc[i]
        # The shown shares (they add up to 100.0%), not a formula whose rounding would not.
        _number_or_empty(ws, r, share_col, row["share_display"] / 100, fmts["percent"])
        ws.write_formula(
            r,
            cost_col,
            f"={_col(n + 1)}{cost_first + i + 1}",
            fmts["money"],
            int(row["cost_cents"]) / 100,
        )
    ws.write_formula(
        tot,
        share_col,
        f"=SUM({_col(share_col)}{first + 1}:{_col(share_col)}{tot})",
        fmts["total_percent"],
        round(float(alloc.customers["share_display"].sum()), 1) / 100,
    )
    ws.write_formula(
        tot,
        cost_col,
        f"=SUM({_col(cost_col)}{first + 1}:{_col(cost_col)}{tot})",
        fmts["total_money"],
        int(alloc.customers["cost_cents"].sum()) / 100,
    )
    block(
        cost_top,
        f"Estimated cost by operation ({cur})",
        "cost_cents",
        "money",
        acc_cents,
        "total_money",
    )
    end = cost_first + len(parties) + 4
    _notes(ws, end, alloc, fmts, width=min(n + 4, 12))
    ws.set_column(0, 0, 26)
    ws.set_column(1, n + 3, 14)
    ws.freeze_panes(0, 1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def _statement_sheet(
    wb: xlsxwriter.Workbook, st: Statement, name: str, fmts: dict[str, Any]
) -> None:
    """One customer's statement (the same model as its PDF): who issues and who is billed, the
    number, date and period, a line per operation with credits, rate and amount, subtotal and
    total as live formulas, the month before and the change, what is under review, the notes."""
    ws = wb.add_worksheet(name)
    cur = st.currency
    _text(ws, 0, 0, f"Statement of API usage: {_month_name(st.month)}", fmts["title"])
    facts: list[tuple[str, Any]] = [
        ("Statement number", st.number),
        ("Date", st.date.isoformat()),
        ("Period", st.period),
        ("Timezone", st.timezone),
        ("Customer", st.customer),
        ("Token", st.token_hints),
        ("Bill to", "\n".join(st.bill_to.lines)),
    ]
    if st.issuer is not None:
        facts.insert(0, ("From", "\n".join(st.issuer.lines)))
    for i, (label, value) in enumerate(facts):
        _text(ws, 1 + i, 0, label, fmts["bold"])
        _text(ws, 1 + i, 1, value, fmts["wrap"])
        lines = str(value).count("\n") + 1
        if lines > 1:
            ws.set_row(1 + i, 15 * lines)
    head = len(facts) + 2
    basis = "booked" if st.rate_basis == "booked" else "list price"
    cols = ["Operation", "Credits", f"Rate per credit ({basis}, {cur})", f"Amount ({cur})"]
    for j, c in enumerate(cols):
        _text(ws, head, j, c, fmts["header"])
    first = head + 1
    rate_fmt = wb.add_format({"num_format": "#,##0.0000"})
    for i, line in enumerate(st.lines):
        x = first + i
        _text(ws, x, 0, line.operation)
        ws.write_number(x, 1, line.credits_hundredths / 100, fmts["credits"])
        ws.write_number(x, 2, float(line.rate), rate_fmt)
        ws.write_number(x, 3, line.amount_cents / 100, fmts["money"])
    sub = first + len(st.lines)
    _text(ws, sub, 0, "Subtotal", fmts["total_label"])
    for j, (fmt, value) in {
        1: ("total_credits", st.credits_hundredths / 100),
        3: ("total_money", st.subtotal_cents / 100),
    }.items():
        c = _col(j)
        formula = f"=SUM({c}{first + 1}:{c}{sub})" if st.lines else "=0"
        ws.write_formula(sub, j, formula, fmts[fmt], value)
    _text(ws, sub, 2, "", fmts["total_label"])
    _text(ws, sub + 1, 0, "Total", fmts["bold"])
    ws.write_formula(sub + 1, 3, f"=D{sub + 1}", fmts["total_money"], st.total_cents / 100)
    prev = sub + 3
    _text(ws, prev, 0, f"{_month_name(st.previous_month)}", fmts["bold"])
    ws.write_number(prev, 1, st.previous_hundredths / 100, fmts["credits"])
    ws.write_number(prev, 3, st.previous_cents / 100, fmts["money"])
    _text(ws, prev + 1, 0, "Change", fmts["bold"])
    ws.write_formula(
        prev + 1,
        1,
        f"=ROUND(B{sub + 1}-B{prev + 1},2)",
        fmts["credits"],
        (st.credits_hundredths - st.previous_hundredths) / 100,
    )
    ws.write_formula(
        prev + 1, 3, f"=ROUND(D{sub + 2}-D{prev + 1},2)", fmts["money"], st.change_cents / 100
    )
    row = prev + 3
    if st.review:
        _text(ws, row, 0, "Under review (not billed)", fmts["bold"])
        row += 1
        for j, c in enumerate(
            [
                "Operation",
                "Requests",
                "Successful requests proven",
                "Successful at most",
                "Credits not billed",
            ]
        ):
            _text(ws, row, j, c, fmts["header"])
        for r in st.review:
            row += 1
            _text(ws, row, 0, r.operation)
            ws.write_number(row, 1, r.requests, fmts["count"])
            ws.write_number(row, 2, r.lower, fmts["count"])
            ws.write_number(row, 3, r.upper, fmts["count"])
            ws.write_number(row, 4, r.credits_hundredths / 100, fmts["credits"])
        row += 2
    _text(ws, row, 0, "Notes", fmts["bold"])
    for note in (*st.notes, *([st.payment_terms] if st.payment_terms else [])):
        row += 1
        ws.merge_range(row, 0, row, 4, "", fmts["wrap"])
        _text(ws, row, 0, note, fmts["wrap"])
        ws.set_row(row, 15 * max(1, len(note) // 100 + 1))
    ws.set_column(0, 0, 28)
    ws.set_column(1, 4, 22)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def render_chargeback_workbook(
    alloc: Allocation,
    *,
    created: dt.datetime | None = None,
    include_empty: bool = False,
    statements: Statements | None = None,
) -> bytes:
    """The statement workbook, customer-facing: one statement sheet per customer with something
    to bill (every customer with ``include_empty``), from ``statements`` (default: built from
    ``alloc`` at list prices), and nothing internal (the customers × operations split is the
    allocation workbook's, :func:`render_allocation_workbook`). With no statement to make, one
    sheet says so. ``created`` fixes the document time (default: the start of the month
    after)."""
    import xlsxwriter

    from generect_reports.reports.statements import build_statements

    if statements is None:
        statements = build_statements(alloc, include_empty=include_empty)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties(
        {
            "title": f"Chargeback {alloc.month}",
            "subject": "Usage per customer",
            "created": _created(alloc.month, created),
        }
    )
    fmts = _formats(wb, None)
    names = safe_sheet_names([st.customer for st in statements.statements])
    for st, name in zip(statements.statements, names):
        _statement_sheet(wb, st, name, fmts)
    if not statements.statements:
        ws = wb.add_worksheet("Statements")
        _text(ws, 0, 0, f"Statements of API usage: {_month_name(alloc.month)}", fmts["title"])
        _text(ws, 1, 0, "No customer has anything to bill this month.")
        ws.set_column(0, 0, 60)
    _print_setup(wb, alloc)
    wb.close()
    return buf.getvalue()


def _created(month: str, created: dt.datetime | None) -> dt.datetime:
    """A workbook's document time: ``created``, or the start of the month after ``month`` (so
    the same month's workbook is the same bytes on every run)."""
    if created is not None:
        return created
    first = Month.parse(month).shift(1).first_day
    return dt.datetime(first.year, first.month, first.day)


def _print_setup(wb: xlsxwriter.Workbook, alloc: Allocation) -> None:
    from generect_reports.render.xlsx.page import print_setup

    for ws in wb.worksheets():
        print_setup(
            ws,
            title=f"Chargeback — {_month_name(alloc.month)}",
            footer_left=f"{alloc.timezone} · figures are estimates",
        )


def write_chargeback_workbook(
    alloc: Allocation,
    path: str | os.PathLike[str],
    *,
    created: dt.datetime | None = None,
    include_empty: bool = False,
    statements: Statements | None = None,
) -> None:
    """Write :func:`render_chargeback_workbook` to ``path`` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    data = render_chargeback_workbook(
        alloc, created=created, include_empty=include_empty, statements=statements
    )
    write_bytes_atomic(path, data)


def render_allocation_workbook(
    alloc: Allocation, statements: Statements, *, created: dt.datetime | None = None
) -> bytes:
    """The internal allocation summary: one row per customer (then the amounts under review and
    unallocated) with its cost centre, how it is billed, credits, amount and statement number,
    totals as live formulas tied to the account; then the customers × operations sheet."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties(
        {
            "title": f"Allocation {alloc.month}",
            "subject": "Internal allocation of the month's usage to cost centres",
            "created": _created(alloc.month, created),
        }
    )
    fmts = _formats(wb, None)
    ws = wb.add_worksheet("Allocation")
    cur = statements.currency
    basis = "booked cost" if statements.rate_basis == "booked" else "list prices"
    _text(ws, 0, 0, f"Allocation {_month_name(alloc.month)}: internal", fmts["title"])
    _text(ws, 1, 0, f"Amounts at {basis} ({cur}); {alloc.timezone}.", fmts["muted"])
    cols = [
        "Customer",
        "Cost centre",
        "Billing",
        "Credits",
        f"Amount ({cur})",
        "Credits under review",
        "Statement",
    ]
    head = 3
    for j, c in enumerate(cols):
        _text(ws, head, j, c, fmts["header"])
    first = head + 1
    for i, r in enumerate(statements.allocation):
        x = first + i
        remainder = r.kind != "customer"
        _text(ws, x, 0, r.customer, fmts["muted"] if remainder else None)
        _text(ws, x, 1, r.cost_centre or "")
        _text(ws, x, 2, r.billing)
        ws.write_number(x, 3, r.credits_hundredths / 100, fmts["credits"])
        ws.write_number(x, 4, r.amount_cents / 100, fmts["money"])
        ws.write_number(x, 5, r.under_review_hundredths / 100, fmts["credits"])
        _text(ws, x, 6, r.statement or "")
    tot = first + len(statements.allocation)
    _text(ws, tot, 0, "Total", fmts["total_label"])
    credits_total = sum(r.credits_hundredths for r in statements.allocation) / 100
    amount_total = sum(r.amount_cents for r in statements.allocation) / 100
    for j, fmt, value in ((3, "total_credits", credits_total), (4, "total_money", amount_total)):
        c = _col(j)
        ws.write_formula(tot, j, f"=SUM({c}{first + 1}:{c}{tot})", fmts[fmt], value)
    _text(ws, tot + 1, 0, "Account")
    ws.write_number(tot + 1, 3, statements.total_hundredths / 100, fmts["credits"])
    ws.write_number(tot + 1, 4, statements.total_cents / 100, fmts["money"])
    _text(ws, tot + 2, 0, "Difference (must be 0)")
    ws.write_formula(tot + 2, 3, f"=ROUND(D{tot + 1}-D{tot + 2},2)", fmts["credits"], 0)
    ws.write_formula(tot + 2, 4, f"=ROUND(E{tot + 1}-E{tot + 2},2)", fmts["money"], 0)
    row = tot + 4
    _text(ws, row, 0, "Notes", fmts["bold"])
    for note in (alloc.bound_rule, *alloc.notes):
        row += 1
        ws.merge_range(row, 0, row, 6, "", fmts["wrap"])
        _text(ws, row, 0, note, fmts["wrap"])
        ws.set_row(row, 15 * max(1, len(note) // 120 + 1))
    ws.set_column(0, 0, 26)
    ws.set_column(1, 2, 14)
    ws.set_column(3, 5, 16)
    ws.set_column(6, 6, 24)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    _summary_sheet(wb, alloc, "By operation", fmts)
    _print_setup(wb, alloc)
    wb.close()
    return buf.getvalue()


def write_allocation_workbook(
    alloc: Allocation,
    statements: Statements,
    path: str | os.PathLike[str],
    *,
    created: dt.datetime | None = None,
) -> None:
    """Write :func:`render_allocation_workbook` to ``path`` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, render_allocation_workbook(alloc, statements, created=created))


# --- the monthly report's "By customer" section ----------------------------------------------


def add_customers_sheet(
    workbook: xlsxwriter.Workbook,
    allocation: Allocation,
    *,
    formats: dict[str, Any] | None = None,
    name: str = "By customer",
    numbers: ReportFormats | None = None,
) -> None:
    """Add the "By customer" sheet: customers largest first, ``unallocated``, totals as live
    formulas with stored values, the tie to the account's usage, health flags and the notes;
    figures in ``numbers`` (the report's formats) when given."""
    fmts = _formats(workbook, formats)
    num = _figure_formats(workbook, fmts, numbers)
    ws = workbook.add_worksheet(name)
    a = allocation
    cur = a.currency
    _text(ws, 0, 0, f"By customer: {_month_name(a.month)} (estimate)", fmts["title"])
    _text(
        ws,
        1,
        0,
        "Credits split across customer tokens by estimated successful requests; "
        "see the notes below.",
        fmts["muted"],
    )
    cols = [
        "Customer",
        "Client ID",
        "Token",
        "Status",
        "Requests",
        "Failed share",
        "Credits",
        "Share",
        f"Estimated cost ({cur})",
        "Integration health",
    ]
    head = 3
    for j, c in enumerate(cols):
        _text(ws, head, j, c, fmts["header"])
    shown = a.customers[
        (a.customers["kind"] != "customer")
        | (a.customers["requests"] > 0)
        | (a.customers["credits_hundredths"] != 0)
    ].reset_index(drop=True)
    first = head + 1
    for i, r in shown.iterrows():
        x = first + int(i)
        un = r["kind"] != "customer"  # unallocated, or held under review
        _text(ws, x, 0, r["customer"], fmts["muted"] if un else None)
        _text(ws, x, 1, r["client_id"])
        _text(ws, x, 2, r["token_hints"])
        _text(ws, x, 3, "" if un else ("active" if r["active"] else "revoked"))
        ws.write_number(x, 4, int(r["requests"]), fmts["count"])
        _number_or_empty(ws, x, 5, r["failed_share"], fmts["percent"])
        ws.write_number(x, 6, float(r["credits"]), num("credits", r["credits"]))
        # The shown share, as the By operation sheet shows its shares: they add up to 100.0%.
        _number_or_empty(ws, x, 7, r["share_display"] / 100, fmts["percent"])
        ws.write_number(x, 8, float(r["estimated_cost"]), num("money", r["estimated_cost"]))
        _text(ws, x, 9, r["flags"], fmts["flag"] if r["flagged"] else None)
    tot = first + len(shown)
    last = tot - 1
    _text(ws, tot, 0, "Total", fmts["total_label"])
    shown_credits = int(shown["credits_hundredths"].sum()) / 100
    for j, fmt, value in (
        (4, "total_count", float(shown["requests"].sum())),
        (6, "total_credits", shown_credits),
        (7, "total_percent", round(float(shown["share_display"].sum()), 1) / 100),
        (8, "total_money", int(shown["cost_cents"].sum()) / 100),
    ):
        c = _col(j)
        cell = num(fmt, value) if fmt in ("total_credits", "total_money") else fmts[fmt]
        ws.write_formula(tot, j, f"=SUM({c}{first + 1}:{c}{last + 1})", cell, value)
    _text(ws, tot + 1, 0, "Account usage")
    ws.write_number(tot + 1, 6, a.total_credits, num("credits", a.total_credits))
    ws.write_number(tot + 1, 8, a.total_cost, num("money", a.total_cost))
    _text(ws, tot + 2, 0, "Difference (must be 0)")
    ws.write_formula(tot + 2, 6, f"=ROUND(G{tot + 1}-G{tot + 2},2)", num("credits", 0.0), 0)
    ws.write_formula(tot + 2, 8, f"=ROUND(I{tot + 1}-I{tot + 2},2)", num("money", 0.0), 0)
    _notes(ws, tot + 4, a, fmts, width=10)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 3, 13)
    ws.set_column(4, 8, 14)
    ws.set_column(9, 9, 60)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)


def customers_page(
    allocation: Allocation,
    *,
    figsize: tuple[float, float] = (11.69, 8.27),
    colors: dict[str, str] | None = None,
    top: int = 8,
    numbers: ReportFormats | None = None,
) -> Figure:
    """The PDF page: top customers' credits (and ``unallocated``) as bars, the integration-health
    flags, and the estimate's assumptions; figures in ``numbers`` (the report's formats) when
    given."""
    from matplotlib.figure import Figure

    a = allocation
    colors = colors or {}
    fig = Figure(figsize=figsize)
    fig.text(0.05, 0.94, f"By customer: {_month_name(a.month)}", fontsize=16, weight="bold")
    fig.text(
        0.05,
        0.905,
        f"Credits split across customer tokens by estimated successful requests "
        f"({a.timezone}). Figures are estimates.",
        fontsize=9,
        color="#444444",
    )
    real = a.customers[
        (a.customers["kind"] == "customer") & (a.customers["credits_hundredths"] != 0)
    ]
    shown = real.head(top)
    rest = real.iloc[top:]
    labels = [_printable(str(c)) for c in shown["customer"]]
    values = list(shown["credits"])
    shares = list(shown["share_display"])
    if len(rest):
        labels.append(f"{len(rest)} other customers")
        values.append(float(rest["credits"].sum()))
        shares.append(round(float(rest["share_display"].sum()), 1))  # adds up as shown
    held = a.customers[a.customers["kind"] == "under_review"]
    for _, row in held.iterrows():
        labels.append(UNDER_REVIEW)
        values.append(float(row["credits"]))
        shares.append(float(row["share_display"]))
    labels.append(UNALLOCATED)
    values.append(a.unallocated_credits)
    unallocated = a.customers[a.customers["kind"] == "unallocated"]["share_display"]
    shares.append(float(unallocated.iloc[0]) if len(unallocated) else float("nan"))
    ax = fig.add_axes((0.22, 0.42, 0.5, 0.44))
    y = list(range(len(labels)))[::-1]
    bar_colors = [colors.get("bar", "#2F5597")] * (len(labels) - 1 - len(held)) + [
        colors.get("muted", "#A6A6A6")
    ] * (1 + len(held))
    ax.barh(y, values, color=bar_colors)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("credits", fontsize=9)
    total = a.total_credits
    for yy, v, shown_share in zip(y, values, shares):
        label = f"{v:,.0f}" if numbers is None else numbers.exact_credits(v)
        ax.text(v, yy, f"  {label} ({_shown(shown_share)})", va="center", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.25)
    side = [
        f"Total: {_credits(total, numbers)} credits",
        f"Estimated cost: {_money(a.total_cost, a.currency, numbers)}",
        f"Unallocated: {_credits(a.unallocated_credits, numbers)} credits",
    ]
    for i, t in enumerate(side):
        fig.text(0.76, 0.84 - i * 0.04, t, fontsize=10)
    fig.text(0.05, 0.35, "Integration health", fontsize=11, weight="bold")
    flagged = a.flagged
    health = [f"{_printable(str(r['customer']))}: {r['flags']}" for _, r in flagged.iterrows()] or [
        f"No customer above {a.threshold:.0%} failed requests or with a sharp rise in failures."
    ]
    ytext = 0.32
    for line in health[:6]:
        for part in textwrap.wrap(line, 150):
            fig.text(0.05, ytext, part, fontsize=9, color="#9C0006" if len(flagged) else "#222222")
            ytext -= 0.025
    ytext -= 0.01
    for para in (*a.assumptions, *a.notes):
        for part in textwrap.wrap(para, 160):
            fig.text(0.05, ytext, part, fontsize=8, color="#444444")
            ytext -= 0.022
    return fig


def customers_summary(allocation: Allocation, *, numbers: ReportFormats | None = None) -> list[str]:
    """Plain sentences for the email: the top customers, ``unallocated``, health flags, and the
    estimate's assumptions; figures in ``numbers`` (the report's formats) when given."""
    a = allocation
    out: list[str] = []
    real = a.customers[
        (a.customers["kind"] == "customer") & (a.customers["credits_hundredths"] != 0)
    ]
    total = a.total_credits
    if len(real) and total:
        lead = real.iloc[0]
        out.append(
            f"By customer, {_printable(str(lead['customer']))} caused the most usage in "
            f"{_month_name(a.month)}: {_credits(lead['credits'], numbers)} credits "
            f"({_shown(lead['share_display'])}), "
            f"an estimated {_money(lead['estimated_cost'], a.currency, numbers)}."
        )
        tops = ", ".join(
            f"{_printable(str(r['customer']))} {_shown(r['share_display'])}"
            for _, r in real.head(3).iterrows()
        )
        out.append(f"Top customers by credits: {tops}.")
    else:
        out.append(
            f"No customer token's requests could be matched to usage in {_month_name(a.month)}."
        )
    if a.unallocated_credits:
        unallocated = a.customers.loc[a.customers["kind"] == "unallocated", "share_display"]
        out.append(
            f"{_credits(a.unallocated_credits, numbers)} credits "
            f"({_shown(unallocated.iloc[0])}) "
            "stay unallocated (platform charges, and operations no customer's requests map to)."
        )
    if a.under_review_credits:
        out.append(
            f"{_credits(a.under_review_credits, numbers)} credits are held as "
            f"'{UNDER_REVIEW}': estimated for customers beyond what their requests prove, and "
            "billed to no one until reviewed."
        )
    for _, r in a.flagged.iterrows():
        out.append(f"Integration health: {_printable(str(r['customer']))}: {r['flags']}.")
    out.append("Customer figures are estimates. " + " ".join(a.assumptions))
    return out
