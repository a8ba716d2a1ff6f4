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
    "UsageCache": "fetch.cache",
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
    "estimate_cost": "analysis.pricing",
    "load_prices": "analysis.pricing",
    # artefacts
    "build_report": "outputs.report",
    "MonthlyReport": "outputs.report",
    "ReportFormats": "outputs.formats",
    "bridge_table": "outputs.drivers",
    "report_narrative": "outputs.drivers",
    "write_excel_report": "outputs.excel",
    "write_usage_xlsx": "outputs.excel",
    "write_pdf_report": "outputs.pdf",
    "build_message": "outputs.mail",
    "send_message": "outputs.mail",
    "load_theme": "theme",
    # notebooks
    "UsageExplorer": "notebook.widgets",
    "filter_usage": "notebook.widgets",
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
    "DeliveryError": "errors",
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
    from .analysis.usage import (detect_anomalies, display_percentages, month_over_month,
                           monthly_totals, operation_shares, partial_month_comparison,
                           run_rate_projection, to_monthly, variance_by_operation)
    from .fetch.cache import UsageCache
    from .fetch.client import GenerectClient
    from .errors import *  # noqa: F403
    from .outputs.excel import write_excel_report, write_usage_xlsx
    from .outputs.mail import build_message, send_message
    from .outputs.pdf import write_pdf_report
    from .analysis.pricing import estimate_cost, load_prices
    from .outputs.report import MonthlyReport, build_report
    from .outputs.formats import ReportFormats
    from .outputs.drivers import bridge_table, report_narrative
    from .notebook.widgets import UsageExplorer, filter_usage
    from .theme import load_theme
    from .fetch.usage import fetch_usage, load_sample
