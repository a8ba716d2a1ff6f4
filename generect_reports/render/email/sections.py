"""The email's sentences of the report's sections (plan limit and budgets, the ledger, the
customers) and its subject flag, in the report's number formats."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generect_reports.reports.monthly import MonthlyReport

__all__ = ["section_lines", "subject_flag", "email_section_lines"]


def section_lines(rep: MonthlyReport) -> list[str]:
    """Sentences of the optional sections: plan limit and budgets, the ledger, customers, in the
    report's number formats."""
    sec = rep.sections
    numbers = rep.formats
    lines: list[str] = []
    if sec.budget is not None:
        from generect_reports.render.budget import budget_summary

        lines += budget_summary(sec.budget, numbers=numbers)
    if sec.reconciliation is not None:
        from generect_reports.render.reconcile import reconciliation_summary

        lines += reconciliation_summary(sec.reconciliation, numbers=numbers)
    if sec.allocation is not None:
        from generect_reports.render.chargeback import customers_summary

        lines += customers_summary(sec.allocation, numbers=numbers)
    return lines


def subject_flag(rep: MonthlyReport) -> str | None:
    """``[over limit]``, ``[projected over limit]`` or ``[over budget]`` when one applies."""
    if rep.sections.budget is None:
        return None
    from generect_reports.render.budget import budget_subject_flag

    return budget_subject_flag(rep.sections.budget)


#: The customer estimate's method, said in full in the PDF's notes; the email points there.
_METHOD_PREFIX = "Customer figures are estimates."


def email_section_lines(rep: MonthlyReport) -> list[str]:
    """:func:`section_lines` for the email: the customer estimate's method is one short pointer
    to the PDF, where it is explained."""
    return [
        _METHOD_PREFIX + " How they are made is explained in the PDF."
        if line.startswith(_METHOD_PREFIX)
        else line
        for line in section_lines(rep)
    ]
