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
    start, end = _month_span(across.month)
    return _dumps(
        stack_documents(
            across,
            docs,
            period="month",
            start=start,
            end=end,
            generated_at=generated_at,
            totals=("used_credits", "projected_credits"),
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
    start, end = _month_span(across.month)
    return _dumps(
        stack_documents(
            across,
            docs,
            period=across.month,
            start=start,
            end=end,
            generated_at=generated_at,
            totals=("difference", "explained", "not_explained"),
        )
    )


# --- chargeback ---------------------------------------------------------------------------------


def chargeback_table(across: AcrossAccounts[Chargeback]) -> str:
    """One row per account (credits, estimated cost, unallocated, customers, flagged), the
    total, the failed accounts, then each account's own split."""
    from generect_reports.render.chargeback import render_chargeback

    month = across.month
    heads = ["account", "credits", "estimated cost", "unallocated", "customers", "flagged"]
    rows: list[list[str]] = []
    sums: dict[str, list[float]] = {"credits": [], "cost": [], "unallocated": []}
    for name, split in across.results.items():
        a = split.allocation
        real = a.customers[a.customers["kind"] == "customer"]
        rows.append(
            [
                name,
                _figure(a.total_credits),
                f"{_figure(a.total_cost)} {a.currency}",
                _figure(a.unallocated_credits),
                str(len(real)),
                str(len(a.flagged)),
            ]
        )
        sums["credits"].append(a.total_credits)
        sums["cost"].append(a.total_cost)
        sums["unallocated"].append(a.unallocated_credits)
    currencies = {s.allocation.currency for s in across.results.values()}
    rows.append(
        [
            _total_label(across),
            _figure(_hsum(sums["credits"])),
            f"{_figure(_hsum(sums['cost']))} {currencies.pop()}" if len(currencies) == 1 else "-",
            _figure(_hsum(sums["unallocated"])),
            "",
            "",
        ]
    )
    lines = [
        _title(across, f"Chargeback across accounts, {month} (estimates)"),
        "",
        *_grid(heads, rows, {1, 2, 3, 4, 5}),
    ]
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
    """Every account's customer and operation rows, ``account`` first."""
    from generect_reports.render.chargeback import render_chargeback

    parts = [
        render_chargeback(s.allocation, "csv", account=name, header=k == 0)
        for k, (name, s) in enumerate(across.results.items())
    ]
    return "".join(parts) or _header(
        [
            "account",
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
        ]
    )


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
        )
        for name, s in across.results.items()
    }
    start, end = _month_span(across.month)
    return _dumps(
        stack_documents(
            across,
            docs,
            period="month",
            start=start,
            end=end,
            generated_at=generated_at,
            totals=("credits", "estimated_cost", "unallocated_credits", "under_review_credits"),
        )
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


def chargeback_workbook(across: AcrossAccounts[Chargeback]) -> bytes:
    """Summary (one row per account) and each account's customers sheet."""
    from generect_reports.render.chargeback import add_customers_sheet

    month = across.month
    heads = ["account", "credits", "estimated cost", "unallocated credits", "flagged"]
    rows: list[tuple[str, list[float | None], str]] = [
        (
            name,
            [
                s.allocation.total_credits,
                s.allocation.total_cost,
                s.allocation.unallocated_credits,
            ],
            f"{len(s.allocation.flagged)} flagged",
        )
        for name, s in across.results.items()
    ]

    def build(wb: xlsxwriter.Workbook) -> None:
        _summary_sheet(wb, across, f"Chargeback across accounts, {month} (estimates)", heads, rows)
        for sheet, s in zip(_sheet_names(across), across.results.values()):
            add_customers_sheet(wb, s.allocation, name=sheet)

    return _book(build)


def write_workbook(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write a workbook's bytes atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, data)
