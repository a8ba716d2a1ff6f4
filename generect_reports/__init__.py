"""Generect API credit usage as pandas frames, Excel workbooks, PDF reports, email and notebooks.

Public names are imported lazily (PEP 562) so that ``generect-reports --help`` does not pay for
pandas, matplotlib and openpyxl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # fetching
    "GenerectClient": "client",
    "fetch_usage": "usage",
    "load_sample": "usage",
    "UsageCache": "cache",
    # analysis
    "month_over_month": "analysis",
    "operation_shares": "analysis",
    "display_percentages": "analysis",
    "monthly_totals": "analysis",
    "variance_by_operation": "analysis",
    "partial_month_comparison": "analysis",
    "run_rate_projection": "analysis",
    "detect_anomalies": "analysis",
    "to_monthly": "analysis",
    "estimate_cost": "pricing",
    "load_prices": "pricing",
    # artefacts
    "build_report": "report",
    "MonthlyReport": "report",
    "write_excel_report": "excel",
    "write_usage_xlsx": "excel",
    "write_pdf_report": "pdf",
    "build_message": "mail",
    "send_message": "mail",
    "load_theme": "theme",
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
    from .analysis import (detect_anomalies, display_percentages, month_over_month,
                           monthly_totals, operation_shares, partial_month_comparison,
                           run_rate_projection, to_monthly, variance_by_operation)
    from .cache import UsageCache
    from .client import GenerectClient
    from .errors import *  # noqa: F403
    from .excel import write_excel_report, write_usage_xlsx
    from .mail import build_message, send_message
    from .pdf import write_pdf_report
    from .pricing import estimate_cost, load_prices
    from .report import MonthlyReport, build_report
    from .theme import load_theme
    from .usage import fetch_usage, load_sample
