"""The commands of one account rendered across many (:mod:`generect_reports.reports.accounts`):
every account's own output stacked with an ``account`` column, one summary row per account with
the total of those that answered, and the partial note wherever a total is shown.

- table: one row per account and the total (``Total (partial)`` when an account failed), the
  failed accounts with their error, then each account's own table;
- CSV: each account's own rows, ``account`` the first column;
- JSON: the envelope with every account's rows (``account`` first), the combined totals (sums
  in integer hundredths), ``accounts``, ``accounts_failed``, ``complete`` and ``by_account``
  (each account's own document, as the command writes it for that account alone);
- xlsx: a Summary sheet (the accounts, the total, the partial note and the failed accounts) and
  a sheet per account.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from generect_reports.money import to_hundredths

if TYPE_CHECKING:
    import xlsxwriter

    from generect_reports.reports.accounts import AcrossAccounts
    from generect_reports.reports.assemble import Chargeback, Reconciled, StatusReport

__all__ = [
    "stack_documents",
    "status_table",
    "status_json",
    "reconcile_table",
    "reconcile_csv",
    "reconcile_json",
    "reconcile_workbook",
    "chargeback_table",
    "chargeback_csv",
    "chargeback_json",
    "chargeback_workbook",
    "write_workbook",
]


def _hsum(values: Sequence[float]) -> float:
    """The exact sum of figures of two decimals (credits or money), via integer hundredths."""
    if not values:
        return 0.0
    return int(to_hundredths(np.asarray(values, dtype="float64")).sum()) / 100


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _combined_totals(
    docs: Mapping[str, dict[str, Any]], required: Sequence[str] = ()
) -> dict[str, Any]:
    """Every numeric total summed across the documents (None when any account has none);
    ``required`` totals are there even when no account answered (the sum of none: 0)."""
    keys: list[str] = list(required)
    for doc in docs.values():
        keys += [k for k in doc.get("totals", {}) if k not in keys]
    out: dict[str, Any] = {}
    for key in keys:
        values = [doc.get("totals", {}).get(key) for doc in docs.values()]
        if all(_number(v) for v in values):
            out[key] = _hsum([float(v) for v in values])
        elif all(v is None or _number(v) for v in values):
            out[key] = None
    out["by_account"] = {name: dict(doc.get("totals", {})) for name, doc in docs.items()}
    return out


def stack_documents(
    across: AcrossAccounts[Any],
    docs: Mapping[str, dict[str, Any]],
    *,
    period: str | None,
    start: Any = None,
    end: Any = None,
    generated_at: Any = None,
    totals: Sequence[str] = (),
) -> dict[str, Any]:
    """One JSON document of ``across.command`` from every account's own document; ``period``,
    ``start`` and ``end`` are the envelope's when no account answered, ``totals`` the totals
    the command always has."""
    from generect_reports.render.records.export import json_document

    first = next(iter(docs.values()), {})
    rows = [{"account": name, **row} for name, doc in docs.items() for row in doc["rows"]]
    complete = across.complete and all(bool(doc["complete"]) for doc in docs.values())
    return json_document(
        across.command,
        rows,
        source=str(first.get("source", "api")),
        timezone=str(first.get("timezone", "UTC")),
        period=first.get("period", period),
        start=first.get("start", start),
        end=first.get("end", end),
        complete=complete,
        generated_at=generated_at,
        totals=_combined_totals(docs, totals),
        fields={
            "accounts": list(across.accounts),
            "accounts_failed": [dict(f) for f in across.failed],
            "by_account": dict(docs),
        },
    )


def _dumps(doc: dict[str, Any]) -> str:
    from generect_reports.render.records.export import dumps_document

    return dumps_document(doc)


# --- plain text ---------------------------------------------------------------------------------


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _grid(heads: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return [line(heads), *(line(r) for r in rows)]


def _figure(value: Any, *, pct: bool = False, days: bool = False) -> str:
    if value is None:
        return "-"
    value = float(value)
    if np.isnan(value):
        return "-"
    if np.isinf(value):
        return "unlimited"
    if pct:
        return f"{value * 100:,.1f}%"
    if days:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def _failed_lines(across: AcrossAccounts[Any]) -> list[str]:
    if across.complete:
        return []
    lines = ["", str(across.note) + ":"]
    lines += [
        f"  {f['account']}: {_printable(str(f['error']))} (exit {f['exit_code']})"
        for f in across.failed
    ]
    return lines


def _total_label(across: AcrossAccounts[Any]) -> str:
    return "Total" if across.complete else "Total (partial)"


def _title(across: AcrossAccounts[Any], text: str) -> str:
    return text if across.complete else f"{text} ({across.note})"


def _each(
    across: AcrossAccounts[Any], render: Callable[[Any], str], *, heading: str = "=="
) -> list[str]:
    out: list[str] = []
    for name, result in across.results.items():
        label = across.label(name)
        named = name if label == name else f"{name} ({_printable(label)})"
        out += ["", f"{heading} {named} {heading}", render(result).rstrip("\n")]
    return out


# --- status -------------------------------------------------------------------------------------


def _status_level(status: StatusReport) -> str:
    levels = {c.level for c in status.checks}
    return "FAIL" if "fail" in levels else "warn" if "warn" in levels else "ok"


def _limit_share(status: StatusReport) -> float | None:
    frame = status.frame
    limits = frame[frame["kind"] == "limit"]
    if not len(limits):
        return None
    row = limits.iloc[0]
    share = row["projected_share"]
    if share is None or (isinstance(share, float) and np.isnan(share)):
        share = row["share_used"]
    return None if share is None else float(share)


def status_table(across: AcrossAccounts[StatusReport]) -> str:
    """One row per account (plan, balance, month to date, limit, projection, runway, checks),
    the total of the accounts that answered, the failed accounts and every crossing."""
    first = next(iter(across.results.values()), None)
    when = f", {across.month} ({first.timezone})" if first is not None else ""
    heads = [
        "account",
        "plan",
        "balance",
        "used",
        "limit",
        "projected",
        "limit use",
        "runway days",
        "status",
    ]
    rows: list[list[str]] = []
    sums: dict[str, list[float]] = {"balance": [], "used": [], "limit": [], "projected": []}
    for name, status in across.results.items():
        a = status.frame.attrs
        projected = a.get("projected_credits")
        rows.append(
            [
                name,
                _printable(status.account.plan),
                _figure(status.account.balance),
                _figure(a["used_credits"]),
                _figure(status.account.monthly_limit),
                _figure(projected),
                _figure(_limit_share(status), pct=True),
                _figure(a.get("runway_days"), days=True),
                _status_level(status),
            ]
        )
        sums["balance"].append(float(status.account.balance))
        sums["used"].append(float(a["used_credits"]))
        if status.account.monthly_limit is not None:
            sums["limit"].append(float(status.account.monthly_limit))
        if projected is not None and not np.isnan(float(projected)):
            sums["projected"].append(float(projected))
    crossed = across.crossings()
    rows.append(
        [
            _total_label(across),
            "",
            _figure(_hsum(sums["balance"])),
            _figure(_hsum(sums["used"])),
            _figure(_hsum(sums["limit"])) if sums["limit"] else "-",
            _figure(_hsum(sums["projected"])) if sums["projected"] else "-",
            "",
            "",
            f"{len(crossed)} FAIL" if crossed else "",
        ]
    )
    title = _title(across, f"Status across accounts{when}, month to date")
    lines = [title, "", *_grid(heads, rows, {2, 3, 4, 5, 6, 7})]
    lines += _failed_lines(across)
    checks = [
        f"  {name}: {c.level}: {_printable(c.text)}"
        for name, status in across.results.items()
        for c in status.checks
    ]
    if checks:
        lines += ["", "thresholds:", *checks]
    return "\n".join(lines) + "\n"


def status_json(across: AcrossAccounts[StatusReport], *, generated_at: Any = None) -> str:
    """The status document across accounts (:func:`stack_documents`)."""
    from generect_reports.render.budget import status_document

    docs = {
        name: status_document(status, generated_at=generated_at)
        for name, status in across.results.items()
    }
    return _month_document(across, docs, ("used_credits", "projected_credits"), generated_at)


def _month_document(
    across: AcrossAccounts[Any],
    docs: Mapping[str, dict[str, Any]],
    totals: tuple[str, ...],
    generated_at: Any,
    *,
    period: str = "month",
) -> str:
    """One month's documents of every account stacked into one JSON (:func:`stack_documents`)."""
    start, end = _month_span(across.month)
    return _dumps(
        stack_documents(
            across,
            docs,
            period=period,
            start=start,
            end=end,
            generated_at=generated_at,
            totals=totals,
        )
    )


def _month_span(month: str) -> tuple[str, str]:
    """The first and last day of ``month``; of this month (UTC) when it is unknown (no account
    answered a status)."""
    import pandas as pd

    from generect_reports.periods import Month

    chosen = Month.parse(month or pd.Timestamp.now(tz="UTC").strftime("%Y-%m"))
    return chosen.first_day.isoformat(), chosen.last_day.isoformat()


# --- reconcile ----------------------------------------------------------------------------------

_RECONCILE_FIGURES = (
    ("opening", "opening"),
    ("top-ups", "top_ups"),
    ("charges", "charges"),
    ("closing", "closing"),
    ("pending", "pending"),
    ("reversed", "reversed"),
    ("usage", "usage"),
    ("difference", "difference"),
)


def reconcile_table(across: AcrossAccounts[Reconciled]) -> str:
    """One row per account (the tie-out figures and whether the month ties), the total, the
    failed accounts, then each account's own reconciliation."""
    from generect_reports.render.reconcile import render_table

    month = across.month
    heads = ["account", *(h for h, _ in _RECONCILE_FIGURES), "ties"]
    rows: list[list[str]] = []
    for name, tied in across.results.items():
        r = tied.result
        rows.append(
            [name, *(_figure(getattr(r, key)) for _, key in _RECONCILE_FIGURES)]
            + ["OK" if r.ties else "FAIL"]
        )
    total = [_total_label(across)]
    for _, key in _RECONCILE_FIGURES:
        values = [getattr(t.result, key) for t in across.results.values()]
        total.append("-" if any(v is None for v in values) else _figure(_hsum(values)))
    untied = across.untied()
    rows.append([*total, f"{len(untied)} FAIL" if untied else "OK" if across.results else "-"])
    lines = [
        _title(across, f"Reconciliation across accounts, {month}"),
        "",
        *_grid(heads, rows, set(range(1, len(heads) - 1))),
    ]
    lines += _failed_lines(across)
    lines += _each(across, lambda t: render_table(t.result))
    return "\n".join(lines) + "\n"


def reconcile_csv(across: AcrossAccounts[Reconciled]) -> str:
    """Every account's reason rows, ``account`` first (the header alone when none answered)."""
    from generect_reports.render.reconcile import render_csv

    parts = [
        render_csv(t.result, account=name, header=k == 0)
        for k, (name, t) in enumerate(across.results.items())
    ]
    return "".join(parts) or _header(
        ["account", "month", "operation", "reason", "credits", "transactions", "detail"]
    )


def _header(names: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC).writerow(names)
    return out.getvalue()


def reconcile_json(across: AcrossAccounts[Reconciled], *, generated_at: Any = None) -> str:
    """The reconcile document across accounts."""
    from generect_reports.render.reconcile import reconcile_document

    docs = {
        name: reconcile_document(t.result, generated_at=generated_at, complete=not t.result.pending)
        for name, t in across.results.items()
    }
    return _month_document(
        across,
        docs,
        ("difference", "explained", "not_explained"),
        generated_at,
        period=across.month,
    )


# --- chargeback ---------------------------------------------------------------------------------


def _money_columns(across: AcrossAccounts[Chargeback]) -> tuple[str | None, str | None]:
    """The money columns of the customers across accounts, headed as one account's table heads
    them: ``booked CUR`` when an account has ``[money]``, ``est. cost CUR`` when an account has
    not (both when the accounts differ; a column's currency is None when they mix)."""
    booked = {s.booked_currency for s in across.results.values() if s.booked is not None}
    listed = {s.allocation.currency for s in across.results.values() if s.booked is None}
    return (
        (booked.pop() if len(booked) == 1 else "mixed") if booked else None,
        (listed.pop() if len(listed) == 1 else "mixed") if listed else None,
    )


def _customer_rows(across: AcrossAccounts[Chargeback]) -> list[dict[str, Any]]:
    """Every account's customers (then 'unallocated, under review' and 'unallocated'), in
    integer hundredths and cents: the rows of the stacked table and sheet."""
    from generect_reports.render.chargeback import booked_cents

    out: list[dict[str, Any]] = []
    for name, split in across.results.items():
        a = split.allocation
        c = a.customers
        booked = None if split.booked is None else booked_cents(a, split.booked)
        for i, r in enumerate(c.to_dict("records")):
            out.append(
                {
                    "account": name,
                    "customer": str(r["customer"]),
                    "token_hints": str(r["token_hints"]),
                    "requests": int(r["requests"]),
                    "failed_share": None
                    if r["failed_share"] is None or np.isnan(float(r["failed_share"]))
                    else float(r["failed_share"]),
                    "credits": int(r["credits_hundredths"]),
                    "share": None
                    if r["share_display"] is None or np.isnan(float(r["share_display"]))
                    else float(r["share_display"]),
                    "cost": None if booked is not None else int(r["cost_cents"]),
                    "booked": None if booked is None else booked[i],
                    "flagged": bool(r["flagged"]),
                    "kind": str(r["kind"]),
                }
            )
    return out


def _partial_total(across: AcrossAccounts[Any]) -> str:
    """The total row's label: ``Total``, or ``Total (partial: N of M accounts failed (...))``."""
    return "Total" if across.complete else f"Total ({across.note})"


def _cents(value: int | None) -> str:
    return "-" if value is None else f"{value / 100:,.2f}"


def _account_figures(split: Chargeback) -> dict[str, int | None]:
    """One account's line of the chargeback across accounts, in hundredths and cents."""
    a = split.allocation
    return {
        "credits": int(a.operations["credits_hundredths"].sum()),
        "unallocated": int(round(a.unallocated_credits * 100)),
        "under_review": int(round(a.under_review_credits * 100)),
        "cost": int(a.operations["cost_cents"].sum()),
        "booked": None if split.booked is None else int(sum(split.booked.values())),
    }


def chargeback_table(across: AcrossAccounts[Chargeback]) -> str:
    """Every account's customers with one account's columns (and the account first), the
    total (``Total (partial: ...)`` when an account failed); then one row per account (credits,
    unallocated, under review, estimated and booked cost, customers, flagged), the failed
    accounts, then each account's own split."""
    from generect_reports.render.chargeback import money_basis, money_heading, render_chargeback

    month = across.month
    booked_cur, listed_cur = _money_columns(across)
    heads = ["account", "customer", "token", "requests", "failed", "credits", "share"]
    if booked_cur is not None:
        heads.append(money_heading(booked_cur, booked=True))
    if listed_cur is not None:
        heads.append(money_heading(listed_cur, booked=False))
    heads.append("health")
    rows: list[list[str]] = []
    customers = _customer_rows(across)
    for r in customers:
        cells = [
            r["account"],
            _printable(r["customer"]),
            r["token_hints"],
            f"{r['requests']:,}",
            "" if r["failed_share"] is None else f"{r['failed_share']:.1%}",
            _cents(r["credits"]),
            "" if r["share"] is None else f"{r['share']:.1f}%",
        ]
        if booked_cur is not None:
            cells.append(_cents(r["booked"]))
        if listed_cur is not None:
            cells.append(_cents(r["cost"]))
        rows.append([*cells, "FLAG" if r["flagged"] else ""])

    def total(key: str) -> str:
        values = [r[key] for r in customers if r[key] is not None]
        return _cents(sum(values)) if values else "-"

    last = [_partial_total(across), "", "", f"{sum(r['requests'] for r in customers):,}", ""]
    last += [total("credits"), ""]
    if booked_cur is not None:
        last.append(total("booked"))
    if listed_cur is not None:
        last.append(total("cost"))
    rows.append([*last, ""])
    basis = []
    if booked_cur is not None:
        basis.append(money_basis(booked=True))
    if listed_cur is not None:
        basis.append(money_basis(booked=False))
    lines = [
        _title(across, f"Chargeback across accounts, {month} (estimates)"),
        *basis,
        "",
        *_grid(heads, rows, set(range(3, len(heads) - 1))),
    ]
    # One row per account: what each split holds back and what it costs.
    heads2 = [
        "account",
        "credits",
        "unallocated",
        "under review",
        "est. cost",
        "booked",
        "customers",
        "flagged",
    ]
    rows2: list[list[str]] = []
    sums: dict[str, list[int | None]] = {}
    for name, split in across.results.items():
        a = split.allocation
        figures = _account_figures(split)
        for key, value in figures.items():
            sums.setdefault(key, []).append(value)
        real = a.customers[a.customers["kind"] == "customer"]
        rows2.append(
            [
                name,
                _cents(figures["credits"]),
                _cents(figures["unallocated"]),
                _cents(figures["under_review"]),
                f"{_cents(figures['cost'])} {a.currency}",
                "-"
                if figures["booked"] is None
                else f"{_cents(figures['booked'])} {split.booked_currency}",
                str(len(real)),
                str(len(a.flagged)),
            ]
        )

    def summed(key: str) -> str:
        values = sums.get(key, [])
        if not values or any(v is None for v in values):
            return "-"
        return _cents(sum(int(v) for v in values if v is not None))

    splits = list(across.results.values())
    rows2.append(
        [
            _total_label(across),
            summed("credits"),
            summed("unallocated"),
            summed("under_review"),
            summed("cost") if len({s.allocation.currency for s in splits}) == 1 else "-",
            summed("booked") if booked_cur not in (None, "mixed") else "-",
            "",
            "",
        ]
    )
    lines += ["", "by account:", *_grid(heads2, rows2, set(range(1, len(heads2))))]
    lines += _failed_lines(across)
    lines += _each(
        across,
        lambda s: render_chargeback(
            s.allocation,
            "table",
            complete=s.complete,
            booked=s.booked,
            booked_currency=s.booked_currency,
        ),
    )
    return "\n".join(lines) + "\n"


def chargeback_csv(across: AcrossAccounts[Chargeback]) -> str:
    """Every account's customer and operation rows, ``account`` first, with one account's
    columns (``booked_cost`` and ``booked_currency`` when an account has ``[money]``, empty for
    one that has not)."""
    from generect_reports.render.chargeback import chargeback_csv_fields, render_chargeback

    booked = any(s.booked_lines is not None for s in across.results.values())
    parts = [
        render_chargeback(
            s.allocation,
            "csv",
            account=name,
            header=k == 0,
            booked_lines=s.booked_lines,
            booked_currency=s.booked_currency,
            booked_column=booked,
        )
        for k, (name, s) in enumerate(across.results.items())
    ]
    return "".join(parts) or _header(chargeback_csv_fields(account=True))


def chargeback_json(across: AcrossAccounts[Chargeback], *, generated_at: Any = None) -> str:
    """The chargeback document across accounts."""
    from generect_reports.render.chargeback import chargeback_document

    docs = {
        name: chargeback_document(
            s.allocation,
            complete=s.complete,
            generated_at=generated_at,
            booked=s.booked,
            booked_currency=s.booked_currency,
            booked_lines=s.booked_lines,
        )
        for name, s in across.results.items()
    }
    return _month_document(
        across,
        docs,
        ("credits", "estimated_cost", "unallocated_credits", "under_review_credits"),
        generated_at,
    )


# --- workbooks ----------------------------------------------------------------------------------


def _summary_sheet(
    wb: xlsxwriter.Workbook,
    across: AcrossAccounts[Any],
    title: str,
    heads: list[str],
    rows: list[tuple[str, list[float | None], str]],
) -> None:
    """The Summary sheet: the title (partial when an account failed), the partial note, one
    row per account (figures and a verdict), the total of those that answered (a SUM formula
    with its computed value) and the failed accounts."""
    bold = wb.add_format({"bold": True})
    big = wb.add_format({"bold": True, "font_size": 14})
    warn = wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
    num = wb.add_format({"num_format": "#,##0.00"})
    total_num = wb.add_format({"num_format": "#,##0.00", "bold": True, "top": 1})
    total_text = wb.add_format({"bold": True, "top": 1})
    ws = wb.add_worksheet("Summary")
    ws.set_column(0, 0, 24)
    ws.set_column(1, len(heads), 15)
    ws.write_string(0, 0, _title(across, title), big)
    if across.complete:
        ws.write_string(1, 0, f"Every account answered ({len(across.accounts)}).")
    else:
        ws.write_string(1, 0, f"PARTIAL: {across.note}. The totals leave them out.", warn)
    head_row = 3
    for c, head in enumerate(heads):
        ws.write_string(head_row, c, head, bold)
    r = head_row
    for r, (name, figures, verdict) in enumerate(rows, start=head_row + 1):
        ws.write_string(r, 0, name)
        for c, value in enumerate(figures, start=1):
            if value is None:
                ws.write_blank(r, c, None)
            else:
                ws.write_number(r, c, float(value), num)
        ws.write_string(r, len(heads) - 1, verdict)
    total_row = r + 1
    from xlsxwriter.utility import xl_rowcol_to_cell

    ws.write_string(total_row, 0, _total_label(across), total_text)
    for c in range(1, len(heads) - 1):
        values = [f[c - 1] for _, f, _ in rows]
        if rows and all(v is not None for v in values):
            top = xl_rowcol_to_cell(head_row + 1, c)
            bottom = xl_rowcol_to_cell(total_row - 1, c)
            ws.write_formula(
                total_row,
                c,
                f"=SUM({top}:{bottom})",
                total_num,
                _hsum([float(v) for v in values if v is not None]),
            )
        else:
            ws.write_blank(total_row, c, None, total_num)
    ws.write_blank(total_row, len(heads) - 1, None, total_text)
    if across.failed:
        at = total_row + 2
        ws.write_string(at, 0, "Failed accounts", bold)
        for c, head in enumerate(("account", "exit code", "error")):
            ws.write_string(at + 1, c, head, bold)
        for k, f in enumerate(across.failed, start=at + 2):
            ws.write_string(k, 0, str(f["account"]))
            ws.write_number(k, 1, int(f["exit_code"]))
            ws.write_string(k, 2, str(f["error"]))
    ws.freeze_panes(head_row + 1, 1)


def _sheet_names(across: AcrossAccounts[Any]) -> list[str]:
    from generect_reports.render.chargeback import safe_sheet_names

    return safe_sheet_names(list(across.results), taken=["Summary"])


def _book(build: Callable[[xlsxwriter.Workbook], None]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": False})
    build(wb)
    wb.close()
    return buffer.getvalue()


def reconcile_workbook(across: AcrossAccounts[Reconciled]) -> bytes:
    """Summary (one row per account) and each account's Reconciliation sheet."""
    from generect_reports.render.reconcile import add_reconciliation_sheet

    month = across.month
    heads = ["account", *(h for h, _ in _RECONCILE_FIGURES), "ties"]
    rows = [
        (
            name,
            [getattr(t.result, key) for _, key in _RECONCILE_FIGURES],
            "OK" if t.result.ties else "FAIL",
        )
        for name, t in across.results.items()
    ]

    def build(wb: xlsxwriter.Workbook) -> None:
        _summary_sheet(wb, across, f"Reconciliation across accounts, {month}", heads, rows)
        for sheet, t in zip(_sheet_names(across), across.results.values()):
            add_reconciliation_sheet(wb, t.result, name=sheet)

    return _book(build)


def _customers_sheet(wb: xlsxwriter.Workbook, across: AcrossAccounts[Chargeback]) -> None:
    """The Customers sheet: every account's customers with one account's columns (the account
    first), the money headed as the table heads it, and the total (a SUM formula with its
    computed value) labelled ``Total (partial: ...)`` when an account failed."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    from generect_reports._text import xlsxwriter_text

    bold = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"})
    big = wb.add_format({"bold": True, "font_size": 14})
    warn = wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
    muted = wb.add_format({"italic": True, "font_color": "#595959"})
    num = wb.add_format({"num_format": "#,##0.00"})
    count = wb.add_format({"num_format": "#,##0"})
    pct = wb.add_format({"num_format": "0.0%"})
    total_num = wb.add_format({"num_format": "#,##0.00", "bold": True, "top": 1})
    total_count = wb.add_format({"num_format": "#,##0", "bold": True, "top": 1})
    total_text = wb.add_format({"bold": True, "top": 1})
    booked_cur, listed_cur = _money_columns(across)
    heads = ["Account", "Customer", "Token", "Requests", "Failed share", "Credits", "Share"]
    money: list[tuple[str, str]] = []
    if booked_cur is not None:
        money.append(("booked", f"Booked cost ({booked_cur})"))
    if listed_cur is not None:
        money.append(("cost", f"Estimated cost ({listed_cur}, list prices)"))
    heads += [h for _, h in money] + ["Integration health"]
    ws = wb.add_worksheet("Customers")
    ws.write_string(0, 0, _title(across, f"Customers across accounts, {across.month}"), big)
    if not across.complete:
        ws.write_string(1, 0, f"PARTIAL: {across.note}. The totals leave them out.", warn)
    head = 3
    for c, h in enumerate(heads):
        ws.write_string(head, c, h, bold)
    rows = _customer_rows(across)
    first = head + 1
    for i, r in enumerate(rows):
        x = first + i
        plain = muted if r["kind"] != "customer" else None
        ws.write_string(x, 0, xlsxwriter_text(r["account"]))
        ws.write_string(x, 1, xlsxwriter_text(r["customer"]), plain)
        ws.write_string(x, 2, r["token_hints"])
        ws.write_number(x, 3, r["requests"], count)
        if r["failed_share"] is None:
            ws.write_blank(x, 4, None)
        else:
            ws.write_number(x, 4, r["failed_share"], pct)
        ws.write_number(x, 5, r["credits"] / 100, num)
        if r["share"] is None:
            ws.write_blank(x, 6, None)
        else:
            ws.write_number(x, 6, r["share"] / 100, pct)
        for j, (key, _) in enumerate(money, start=7):
            if r[key] is None:
                ws.write_blank(x, j, None)
            else:
                ws.write_number(x, j, r[key] / 100, num)
        ws.write_string(x, 7 + len(money), "FLAG" if r["flagged"] else "")
    tot = first + len(rows)
    ws.write_string(tot, 0, _partial_total(across), total_text)
    sums = [(3, "requests", 1, total_count), (5, "credits", 100, total_num)]
    sums += [(j, key, 100, total_num) for j, (key, _) in enumerate(money, start=7)]
    for j, key, unit, fmt in sums:
        value = sum(int(r[key]) for r in rows if r[key] is not None) / unit
        top = xl_rowcol_to_cell(first, j)
        bottom = xl_rowcol_to_cell(max(first, tot - 1), j)
        ws.write_formula(tot, j, f"=SUM({top}:{bottom})" if rows else "=0", fmt, value)
    ws.set_column(0, 1, 24)
    ws.set_column(2, 2, 12)
    ws.set_column(3, len(heads) - 2, 15)
    ws.set_column(len(heads) - 1, len(heads) - 1, 50)
    ws.freeze_panes(head + 1, 2)


def chargeback_workbook(across: AcrossAccounts[Chargeback]) -> bytes:
    """Summary (one row per account: credits, unallocated, under review, estimated and booked
    cost), Customers (every account's customers, one account's columns with the account first)
    and each account's customers sheet."""
    from generect_reports.render.chargeback import add_customers_sheet, safe_sheet_names

    month = across.month
    heads = [
        "account",
        "credits",
        "unallocated credits",
        "under review credits",
        "estimated cost",
        "booked cost",
        "flagged",
    ]
    rows: list[tuple[str, list[float | None], str]] = []
    for name, s in across.results.items():
        f = _account_figures(s)
        rows.append(
            (
                name,
                [
                    None if f[k] is None else int(f[k] or 0) / 100
                    for k in ("credits", "unallocated", "under_review", "cost", "booked")
                ],
                f"{len(s.allocation.flagged)} flagged",
            )
        )

    def build(wb: xlsxwriter.Workbook) -> None:
        _summary_sheet(wb, across, f"Chargeback across accounts, {month} (estimates)", heads, rows)
        _customers_sheet(wb, across)
        names = safe_sheet_names(list(across.results), taken=["Summary", "Customers"])
        for sheet, s in zip(names, across.results.values()):
            add_customers_sheet(wb, s.allocation, name=sheet)

    return _book(build)


def write_workbook(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write a workbook's bytes atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, data)
