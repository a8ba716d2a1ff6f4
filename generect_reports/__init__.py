"""Generect API credit usage as pandas frames, Excel workbooks, PDF reports, email and notebooks.

Public names are imported lazily (PEP 562) so that ``generect-reports --help`` does not pay for
pandas, matplotlib and openpyxl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS: dict[str, str] = {
    # fetching
    "GenerectClient": "fetch.client",
    "fetch_usage": "fetch.usage",
    "load_sample": "fetch.usage",
    "fetch_report_usage": "fetch.plan",
    "load_sample_report_usage": "fetch.plan",
    "report_plan": "fetch.plan",
    "UsageCache": "fetch.cache",
    "fetch_transactions": "fetch.ledger",
    "iter_transactions": "fetch.ledger",
    "load_sample_ledger": "fetch.ledger",
    "AccountStatus": "fetch.account",
    "fetch_account": "fetch.account",
    "load_sample_account": "fetch.account",
    "sample_balance_history": "fetch.account",
    "fetch_token_usage": "fetch.tokens",
    "load_sample_tokens": "fetch.tokens",
    "Source": "fetch.source",
    "open_source": "fetch.source",
    "open_sources": "fetch.source",
    "MultiSource": "fetch.multi",
    "AccountFailure": "fetch.multi",
    "AccountSpec": "accounts",
    "open_history": "fetch.history",
    "sync_history": "deliver.history",
    "parse_accounts": "accounts",
    "Month": "periods",
    # documents put together from a source
    "ReportSettings": "reports.assemble",
    "monthly_report": "reports.assemble",
    "quarter_report": "reports.assemble",
    # analysis
    "month_over_month": "analysis.usage",
    "operation_shares": "analysis.usage",
    "display_percentages": "analysis.usage",
    "monthly_totals": "analysis.usage",
    "variance_by_operation": "analysis.usage",
    "partial_month_comparison": "analysis.usage",
    "run_rate_projection": "analysis.usage",
    "detect_anomalies": "analysis.usage",
    "to_monthly": "analysis.usage",
    "validate_usage_frame": "analysis.usage",
    "estimate_cost": "analysis.pricing",
    "load_prices": "analysis.pricing",
    # money
    "PriceBook": "money",
    "load_price_book": "money",
    "display_shares": "money",
    "reconcile": "analysis.reconcile",
    "Reconciliation": "analysis.reconcile",
    "load_ledger_mapping": "analysis.reconcile",
    "budget_status": "analysis.budget",
    "burn_up": "analysis.budget",
    "check_thresholds": "analysis.budget",
    "Budgets": "analysis.budget",
    "month_forecast": "analysis.forecast",
    "Forecast": "analysis.forecast",
    "period_forecast": "analysis.forecast",
    "PeriodForecast": "analysis.forecast",
    "allocate_credits": "analysis.chargeback",
    "Allocation": "analysis.chargeback",
    "integration_health": "analysis.chargeback",
    "load_endpoint_mapping": "analysis.chargeback",
    "FiscalCalendar": "analysis.calendar",
    "to_fiscal_periods": "analysis.calendar",
    "year_over_year": "analysis.calendar",
    "period_to_date": "analysis.calendar",
    "to_date_series": "analysis.calendar",
    # artefacts
    "build_report": "reports.monthly",
    "MonthlyReport": "reports.monthly",
    "ReportFormats": "reports.formats",
    "bridge_table": "reports.narrative",
    "report_narrative": "reports.narrative",
    "write_excel_report": "render.xlsx.workbook",
    "write_usage_xlsx": "render.xlsx.workbook",
    "write_pdf_report": "render.pdf.document",
    "build_message": "render.email.message",
    "send_message": "deliver.smtp",
    "write_chargeback_workbook": "render.chargeback",
    "build_statements": "reports.statements",
    "Statement": "reports.statements",
    "write_statement_pdfs": "render.pdf.statement",
    "load_theme": "theme",
    "notify": "deliver.webhook",
    "add_budget_sheet": "render.budget",
    "budget_page": "render.budget",
    "budget_summary": "render.budget",
    "budget_subject_flag": "render.budget",
    "usage_document": "render.records.export",
    "write_usage_parquet": "render.records.export",
    "build_quarter_report": "reports.quarterly",
    "QuarterReport": "reports.quarterly",
    "write_quarter_workbook": "render.xlsx.quarter",
    "focus_frame": "render.records.focus",
    "write_focus": "render.records.focus",
    "validate_document": "render.records.contract",
    # notebooks
    "UsageExplorer": "notebook.widgets",
    "filter_usage": "notebook.widgets",
    "compare_periods": "notebook.widgets",
    "Dashboard": "notebook.dashboard",
    # errors
    "GenerectError": "errors",
    "GenerectWarning": "errors",
    "InputError": "errors",
    "InvalidDateRange": "errors",
    "InvalidTimezone": "errors",
    "MissingTokenError": "errors",
    "InsecureTransportError": "errors",
    "TemplateError": "errors",
    "OutputError": "errors",
    "ConfigError": "errors",
    "CheckFailed": "errors",
    "APIError": "errors",
    "AuthenticationError": "errors",
    "PermissionDeniedError": "errors",
    "InsufficientFundsError": "errors",
    "NotFoundError": "errors",
    "ValidationError": "errors",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "MalformedResponseError": "errors",
    "APIConnectionError": "errors",
    "IgnoredFilterError": "errors",
    "PagingLimitError": "errors",
    "DeliveryError": "errors",
    "WriteFailed": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'generect_reports' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from generect_reports.deliver.smtp import send_message
    from generect_reports.deliver.webhook import notify
    from generect_reports.periods import Month
    from generect_reports.render.budget import (
        add_budget_sheet,
        budget_page,
        budget_subject_flag,
        budget_summary,
    )
    from generect_reports.render.chargeback import write_chargeback_workbook
    from generect_reports.render.email.message import build_message
    from generect_reports.render.pdf.document import write_pdf_report
    from generect_reports.render.pdf.statement import write_statement_pdfs
    from generect_reports.render.records.contract import validate_document
    from generect_reports.render.records.export import usage_document, write_usage_parquet
    from generect_reports.render.records.focus import focus_frame, write_focus
    from generect_reports.render.xlsx.quarter import write_quarter_workbook
    from generect_reports.render.xlsx.workbook import write_excel_report, write_usage_xlsx
    from generect_reports.reports.assemble import ReportSettings, monthly_report, quarter_report
    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.monthly import MonthlyReport, build_report
    from generect_reports.reports.narrative import bridge_table, report_narrative
    from generect_reports.reports.quarterly import QuarterReport, build_quarter_report
    from generect_reports.reports.statements import Statement, build_statements

    from .accounts import AccountSpec, parse_accounts
    from .analysis.budget import Budgets, budget_status, burn_up, check_thresholds
    from .analysis.calendar import (
        FiscalCalendar,
        period_to_date,
        to_date_series,
        to_fiscal_periods,
        year_over_year,
    )
    from .analysis.chargeback import (
        Allocation,
        allocate_credits,
        integration_health,
        load_endpoint_mapping,
    )
    from .analysis.forecast import Forecast, PeriodForecast, month_forecast, period_forecast
    from .analysis.pricing import estimate_cost, load_prices
    from .analysis.reconcile import Reconciliation, load_ledger_mapping, reconcile
    from .analysis.usage import (
        detect_anomalies,
        display_percentages,
        month_over_month,
        monthly_totals,
        operation_shares,
        partial_month_comparison,
        run_rate_projection,
        to_monthly,
        validate_usage_frame,
        variance_by_operation,
    )
    from .deliver.history import sync_history
    from .errors import *  # noqa: F403
    from .fetch.account import (
        AccountStatus,
        fetch_account,
        load_sample_account,
        sample_balance_history,
    )
    from .fetch.cache import UsageCache
    from .fetch.client import GenerectClient
    from .fetch.history import open_history
    from .fetch.ledger import fetch_transactions, iter_transactions, load_sample_ledger
    from .fetch.multi import AccountFailure, MultiSource
    from .fetch.plan import fetch_report_usage, load_sample_report_usage, report_plan
    from .fetch.source import Source, open_source, open_sources
    from .fetch.tokens import fetch_token_usage, load_sample_tokens
    from .fetch.usage import fetch_usage, load_sample
    from .money import PriceBook, display_shares, load_price_book
    from .notebook.dashboard import Dashboard
    from .notebook.widgets import UsageExplorer, compare_periods, filter_usage
    from .theme import load_theme
