"""What each document says, put together once: a :class:`~generect_reports.fetch.source.Source`
and :class:`ReportSettings` in, the complete model out (sections included).

The CLI, the notebooks and the dashboard call these functions, so for the same data they produce
the same documents. Layer rule: ``reports`` reads ``analysis``, ``fetch`` and the base modules; it
never renders or sends (``render`` and ``deliver`` sit above it). Names are imported on first
use, so importing the package loads no pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "ReportSettings",
    "DEFAULT_HISTORY",
    "MAX_HISTORY",
    "monthly_report",
    "report_month",
    "report_usage",
    "quarter_report",
    "QuarterResult",
    "reconciliation",
    "Reconciled",
    "chargeback",
    "Chargeback",
    "account_status",
    "StatusReport",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(".assemble", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .assemble import (
        DEFAULT_HISTORY,
        MAX_HISTORY,
        Chargeback,
        QuarterResult,
        Reconciled,
        ReportSettings,
        StatusReport,
        account_status,
        chargeback,
        monthly_report,
        quarter_report,
        reconciliation,
        report_month,
        report_usage,
    )
