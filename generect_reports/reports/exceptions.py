"""The "Exceptions and actions" block: what a reader must act on this month, built once from the
report's own figures and shown first by the PDF (page 1), the workbook (Summary) and the email.

It covers the plan limit and budgets (over, or projected over), customers whose integration is
failing, new charge types and fees, reversed credits, ledger types the mapping does not know,
restated months and a month that does not tie to the ledger. With nothing to say it says so in
one line. Every figure is formatted by the report's :class:`~.formats.ReportFormats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generect_reports.reports.monthly import MonthlyReport

__all__ = ["Exception_", "report_exceptions", "exception_lines", "NOTHING_TO_REPORT", "TITLE"]

TITLE = "Exceptions and actions"

#: The block's one line when nothing needs attention.
NOTHING_TO_REPORT = "No exceptions: nothing in this month's figures needs action."


@dataclass(frozen=True)
class Exception_:
    """One line of the block: ``kind`` names what it is about (``limit``, ``budget``,
    ``customer``, ``new_charge``, ``reversed``, ``unmapped``, ``restated``, ``untied``); an
    ``alert`` needs action, a ``notice`` is to be read."""

    kind: str
    level: str
    text: str

    @property
    def alert(self) -> bool:
        return self.level == "alert"


def _date(value: Any) -> str:
    import pandas as pd

    day = pd.Timestamp(value)
    return f"{day.day} {day:%b %Y}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _limits(rep: MonthlyReport) -> list[Exception_]:
    import pandas as pd

    status = rep.sections.budget
    if status is None or not len(status):
        return []
    f = rep.formats
    out = []
    for rec in status.to_dict("records"):
        line = str(rec["line"])
        kind = "limit" if rec.get("kind") == "limit" else "budget"

        def amount(value: Any, projection: bool = False, unit: str = str(rec["unit"])) -> str:
            if unit != "credits":
                return f.money(value)
            return (f.projection(value) if projection else f.credits(value)) + " credits"

        if bool(rec["crossed"]):
            reached = rec.get("crossing_day")
            when = f", reached on {_date(reached)}" if pd.notna(reached) else ""
            out.append(
                Exception_(
                    kind,
                    "alert",
                    f"Over the {line}: {amount(rec['used'])} used against "
                    f"{amount(rec['threshold'])} ({f.pct(rec['share_used'])}){when}.",
                )
            )
        elif bool(rec["projected_over"]):
            reach = rec.get("crossing_day")
            when = f", reaching it on {_date(reach)}" if pd.notna(reach) else ""
            low, high = rec.get("interval_80_low"), rec.get("interval_80_high")
            band = (
                f"; 80% interval {amount(low, True).removesuffix(' credits')} to "
                f"{amount(high, True)}"
                if low is not None and pd.notna(low) and high is not None and pd.notna(high)
                else ""
            )
            accuracy = ""
            if rep.forecast is not None and rec.get("kind") == "limit":
                from generect_reports.analysis.forecast import accuracy_brief

                accuracy = f"; {accuracy_brief(rep.forecast)}"
            out.append(
                Exception_(
                    kind,
                    "alert",
                    f"Projected over the {line}: {amount(rec['projected'], True)} at month end "
                    f"against {amount(rec['threshold'])} "
                    f"({f.pct(rec['projected_share'])}, an estimate{band}{accuracy}){when}.",
                )
            )
    return out


def _customers(rep: MonthlyReport) -> list[Exception_]:
    alloc = rep.sections.allocation
    if alloc is None:
        return []
    return [
        Exception_(
            "customer",
            "alert",
            f"Failing customer integration, {row['customer']}: {row['flags']}; "
            f"{rep.formats.exact_credits(row['credits'])} credits are allocated to it.",
        )
        for _, row in alloc.flagged.iterrows()
    ]


def _new_charges(rep: MonthlyReport) -> list[Exception_]:
    if not rep.previous_available:
        return []
    f = rep.formats
    out = []
    for row in rep.operations.itertuples(index=False):
        previous = row.previous_credits
        if row.credits > 0 and (_missing(previous) or previous == 0):
            what = (
                "platform fees not caused by any operation (unattributed)"
                if row.operation == "unattributed"
                else f"charge type {row.operation}"
            )
            out.append(
                Exception_(
                    "new_charge",
                    "notice",
                    f"New this month: {what}, {f.credits(row.credits)} credits; "
                    f"none in {rep.previous_month_name}.",
                )
            )
    return out


def _ledger(rep: MonthlyReport) -> list[Exception_]:
    result = rep.sections.reconciliation
    if result is None:
        return []
    f = rep.formats
    out = []
    if not result.ties:
        out.append(
            Exception_(
                "untied",
                "alert",
                f"{rep.month_name} does not tie to the ledger: settled charges "
                f"{f.exact_credits(result.charges)} against usage {f.exact_credits(result.usage)} "
                "credits leave a difference no reason explains.",
            )
        )
    if result.unmapped_types:
        out.append(
            Exception_(
                "unmapped",
                "alert",
                "Ledger types the mapping does not know: "
                + ", ".join(sorted(map(str, result.unmapped_types)))
                + ".",
            )
        )
    if result.reversed:
        out.append(
            Exception_(
                "reversed",
                "notice",
                f"{f.exact_credits(result.reversed)} credits reversed (ledger status error): "
                "charged, then refunded; they cost nothing.",
            )
        )
    for item in result.restatements:
        out.append(
            Exception_(
                "restated",
                "alert",
                f"{item['month']} was restated ({item['kind']}): "
                f"{len(item['changes'])} figure(s) changed since it was last reported.",
            )
        )
    return out


def report_exceptions(rep: MonthlyReport) -> list[Exception_]:
    """The block's lines, alerts first, in a fixed order."""
    found = [*_limits(rep), *_customers(rep), *_ledger(rep), *_new_charges(rep)]
    return [e for e in found if e.alert] + [e for e in found if not e.alert]


def exception_lines(rep: MonthlyReport) -> list[str]:
    """The block as lines of text, or the one line saying there is nothing to report."""
    found = report_exceptions(rep)
    return [e.text for e in found] if found else [NOTHING_TO_REPORT]
