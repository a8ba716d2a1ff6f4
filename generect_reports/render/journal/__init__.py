"""The journal as a terminal table, a generic CSV and JSON, an xlsx sheet, and the import
layouts of Xero manual journals and QuickBooks Online journal entries.

Layouts follow the vendors' import documentation:

* Xero manual journal import (help.xero.com "Enter multiple manual journals using an import
  template"): ``*Narration, *Date, Description, *AccountCode, *TaxRate, *Amount,
  TrackingName1, TrackingOption1``; one narration and date per journal, the amount positive for
  a debit and negative for a credit, dates ``dd/mm/yyyy``.
* QuickBooks Online journal entry import (Intuit "Import journal entries"): ``Journal No,
  Journal Date, Account Name, Debits, Credits, Description``, with ``Currency`` and ``Class``;
  rows sharing a journal number form one entry; dates ``MM/DD/YYYY``; accounts by name.
"""

from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING, Any

from generect_reports.render.records.export import csv_safe, dumps_document, json_document

if TYPE_CHECKING:
    from generect_reports.reports.journal import Journal

__all__ = [
    "FORMATS",
    "LAYOUTS",
    "XERO_COLUMNS",
    "QUICKBOOKS_COLUMNS",
    "render_table",
    "render_csv",
    "render_json",
    "write_xlsx",
]

FORMATS = ("table", "csv", "json", "xlsx")
LAYOUTS = ("generic", "xero", "quickbooks")
GENERIC_COLUMNS = ["date", "entry", "kind", "account", "debit", "credit", "memo", "operation"]
XERO_COLUMNS = [
    "*Narration",
    "*Date",
    "Description",
    "*AccountCode",
    "*TaxRate",
    "*Amount",
    "TrackingName1",
    "TrackingOption1",
]
#: Xero's tax rate for lines without tax (the name must exist in the organisation's tax rates).
XERO_TAX_RATE = "Tax Exempt"
QUICKBOOKS_COLUMNS = [
    "Journal No",
    "Journal Date",
    "Currency",
    "Account Name",
    "Debits",
    "Credits",
    "Description",
    "Class",
]


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _blank(cents: int) -> str:
    return "" if not cents else _amount(cents)


def render_csv(journal: Journal, layout: str = "generic") -> str:
    """The lines as CSV in ``layout`` (generic, xero or quickbooks); text is formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if layout == "xero":
        writer.writerow(XERO_COLUMNS)
        for x in journal.lines:
            writer.writerow(
                [
                    csv_safe(f"{x.entry} {x.kind}"),
                    f"{x.date:%d/%m/%Y}",
                    csv_safe(x.memo),
                    csv_safe(x.account),
                    XERO_TAX_RATE,
                    _amount(x.debit - x.credit),
                    "Operation" if x.dimension else "",
                    csv_safe(x.dimension),
                ]
            )
    elif layout == "quickbooks":
        writer.writerow(QUICKBOOKS_COLUMNS)
        for x in journal.lines:
            writer.writerow(
                [
                    x.entry,
                    f"{x.date:%m/%d/%Y}",
                    journal.currency,
                    csv_safe(x.account),
                    _blank(x.debit),
                    _blank(x.credit),
                    csv_safe(x.memo),
                    csv_safe(x.dimension),
                ]
            )
    else:
        dimension = "customer" if journal.split == "customer" else "operation"
        writer.writerow([*GENERIC_COLUMNS[:-1], dimension])
        for x in journal.lines:
            writer.writerow(
                [
                    x.date.isoformat(),
                    x.entry,
                    x.kind,
                    csv_safe(x.account),
                    _amount(x.debit),
                    _amount(x.credit),
                    csv_safe(x.memo),
                    csv_safe(x.dimension),
                ]
            )
    return out.getvalue()


def _figures(journal: Journal) -> dict[str, Any]:
    c = 100
    return {
        "month": journal.month,
        "currency": journal.currency,
        "split": journal.split,
        "balanced": journal.balanced,
        "closed": journal.closed,
        "purchases_included": journal.purchases_included,
        "opening_prepaid": journal.opening_prepaid / c,
        "purchases": journal.purchases / c,
        "consumed": journal.consumed / c,
        "pending_accrual": journal.pending_accrual / c,
        "closing_prepaid": journal.closing_prepaid / c,
        "booked_cost": journal.booked_cost / c,
        "prepaid_movement": journal.prepaid_movement / c,
        "accounts": {
            "expense": journal.accounts.expense,
            "prepaid": journal.accounts.prepaid,
            "accrued": journal.accounts.accrued,
            "payable": journal.accounts.payable,
        },
    }


def render_json(journal: Journal, *, generated_at: Any = None) -> str:
    """The versioned JSON document: one row per journal line, amounts in currency units."""
    from generect_reports.periods import Month

    month = Month.parse(journal.month)
    rows = [
        {
            "date": x.date.isoformat(),
            "entry": x.entry,
            "kind": x.kind,
            "account": x.account,
            "debit": x.debit / 100,
            "credit": x.credit / 100,
            "memo": x.memo,
            "operation": x.dimension,
        }
        for x in journal.lines
    ]
    doc = json_document(
        "journal",
        rows,
        source=journal.source,
        timezone=journal.timezone,
        period=journal.month,
        start=month.first_day.isoformat(),
        end=month.last_day.isoformat(),
        complete=True,
        generated_at=generated_at,
        totals={
            "debit": sum(x.debit for x in journal.lines) / 100,
            "credit": sum(x.credit for x in journal.lines) / 100,
        },
        fields={
            "journal": _figures(journal),
            "adjustments": [
                {k: (v / 100 if k != "month" else v) for k, v in a.items()}
                for a in journal.adjustments
            ],
            "notes": list(journal.notes),
        },
    )
    return dumps_document(doc)


def render_table(journal: Journal) -> str:
    """The entries for a terminal, with the roll-forward they book."""
    cur = journal.currency
    lines = [f"Journal {journal.month} ({cur}, {journal.source})", ""]
    width = max([len(x.account) for x in journal.lines] + [7])
    for entry, rows in journal.entries.items():
        lines.append(f"{entry}  {rows[0].date}  {rows[0].memo}")
        for x in rows:
            dim = f"  [{x.dimension}]" if x.dimension else ""
            text = f"    {x.account:<{width}}  {_blank(x.debit):>12}  {_blank(x.credit):>12}"
            lines.append((text + dim).rstrip())
        lines.append("")
    figures = [
        ("opening prepaid", journal.opening_prepaid),
        ("+ purchases", journal.purchases),
        ("- consumed", journal.consumed),
        ("= closing prepaid", journal.closing_prepaid),
        ("pending accrual", journal.pending_accrual),
        ("booked cost", journal.booked_cost),
        ("prepaid account movement", journal.prepaid_movement),
    ]
    w = max(len(k) for k, _ in figures)
    lines += [f"  {k:<{w}}  {_amount(v):>14}" for k, v in figures]
    lines.append("")
    lines.append("every entry balances" if journal.balanced else "AN ENTRY DOES NOT BALANCE")
    lines += [f"note: {n}" for n in journal.notes]
    return "\n".join(lines) + "\n"


def write_xlsx(journal: Journal, path: str | os.PathLike[str]) -> None:
    """The generic layout as one sheet with SUM totals (values written with the formulas)."""
    import xlsxwriter

    from generect_reports._atomic import atomic_path

    with atomic_path(path) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"in_memory": True})
        sheet = book.add_worksheet("Journal")
        bold = book.add_format({"bold": True, "bottom": 1})
        money = book.add_format({"num_format": "#,##0.00"})
        date = book.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, GENERIC_COLUMNS, bold)
        for i, x in enumerate(journal.lines, start=1):
            sheet.write_datetime(i, 0, _dt(x.date), date)
            sheet.write_string(i, 1, x.entry)
            sheet.write_string(i, 2, x.kind)
            sheet.write_string(i, 3, x.account)
            sheet.write_number(i, 4, x.debit / 100, money)
            sheet.write_number(i, 5, x.credit / 100, money)
            sheet.write_string(i, 6, x.memo)
            sheet.write_string(i, 7, x.dimension)
        n = len(journal.lines)
        total = n + 1
        sheet.write_string(total, 3, f"Total ({journal.currency})", bold)
        for col, letter, value in (
            (4, "E", sum(x.debit for x in journal.lines)),
            (5, "F", sum(x.credit for x in journal.lines)),
        ):
            sheet.write_formula(total, col, f"=SUM({letter}2:{letter}{n + 1})", money, value / 100)
        sheet.set_column(0, 0, 11)
        sheet.set_column(1, 2, 16)
        sheet.set_column(6, 6, 60)
        book.close()


def _dt(day: Any) -> Any:
    import datetime as dt

    return dt.datetime.combine(day, dt.time())
