"""How the report's numbers are displayed: one decision, as Python text and as Excel formats.

The PDF and the email show text made by :class:`ReportFormats`; the workbook shows values with
the Excel number formats from the same object. Rounding is half away from zero on the decimal
a number prints as, which is what a spreadsheet program does, so a figure reads the same in
every artefact (Python's own ``format`` rounds half to even: 1,114.5 would read 1,114 in the
PDF and 1,115 in the workbook).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from generect_reports.errors import TemplateError

__all__ = [
    "ReportFormats",
    "round_half_up",
    "format_number",
    "credit_decimals_for",
    "formats_from_theme",
]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def round_half_up(value: float, decimals: int) -> Decimal:
    """``value`` rounded half away from zero at ``decimals``, read as the decimal it prints as."""
    exact = Decimal(repr(float(value)))
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def format_number(value: float, decimals: int, *, sign: bool = False, grouping: bool = True) -> str:
    """``1234.5`` → ``1,235`` (0 decimals), with ``+`` for positive values when ``sign``.

    The sign follows the value, not its rounded text, as Excel's ``+#,##0;-#,##0;0`` does.
    """
    rounded = round_half_up(value, decimals)
    body = f"{abs(rounded):,.{decimals}f}" if grouping else f"{abs(rounded):.{decimals}f}"
    if value < 0:
        return "-" + body
    if sign and value > 0:
        return "+" + body
    return body


#: The most credit decimals :meth:`ReportFormats.exact` shows.
_MAX_EXACT_DECIMALS = 6


def _zeros(decimals: int) -> str:
    return "." + "0" * decimals if decimals > 0 else ""


def credit_decimals_for(values: Any) -> int:
    """0 when every value is a whole number of credits, else 2."""
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return 0
    return 0 if bool(np.all(np.round(arr * 100).astype("int64") % 100 == 0)) else 2


@dataclass(frozen=True)
class ReportFormats:
    """Display precision of one report, as text (methods) and as Excel number formats.

    ``credit_decimals`` follows the data (0 for whole credits, 2 for fractional ones) unless the
    theme sets it; projections are whole credits unless the theme says otherwise; shares and
    percentages have one decimal; money two.
    """

    credit_decimals: int = 2
    projection_decimals: int = 0
    percent_decimals: int = 1
    currency: str = "USD"

    def exact(self, values: Any) -> ReportFormats:
        """These formats with the credit decimals ``values`` need to read exactly: the report's
        when they suffice, else hundredths (as fractional credits are shown), or more for a
        figure that has more (a median of hundredths), at most six.

        A figure derived from others and shown beside them (an excess over a median baseline, a
        ledger amount with cents) then adds up as displayed: ``1,212 − 97.50 = 1,114.50``, where
        each rounded on its own would read ``1,212 − 98 = 1,115``.
        """
        arr = np.asarray(values, dtype="float64").ravel()
        arr = arr[np.isfinite(arr)]

        def fits(decimals: int) -> bool:
            scaled = arr * 10.0**decimals
            # A float that prints as a decimal of this length is within rounding noise of it.
            noise = 1e-9 * np.maximum(1.0, np.abs(scaled))
            return bool(np.all(np.abs(scaled - np.round(scaled)) <= noise))

        if fits(self.credit_decimals):
            return self
        decimals = max(self.credit_decimals, 2)
        while decimals < _MAX_EXACT_DECIMALS and not fits(decimals):
            decimals += 1
        return replace(self, credit_decimals=decimals)

    # --- text ----------------------------------------------------------------------------
    @property
    def symbol(self) -> str:
        return "$" if self.currency == "USD" else self.currency + " "

    def credits(self, value: float | None) -> str:
        """``9,811`` (whole credits) or ``9,811.25``; ``-`` when missing."""
        return "-" if _missing(value) else format_number(float(value), self.credit_decimals)  # type: ignore[arg-type]

    def exact_credits(self, value: float | None) -> str:
        """Credits as the report shows them, with the cents a figure has (a ledger amount, an
        allocated share): ``33,441``, ``32,843.96``; ``-`` when missing."""
        return self.credits(value) if _missing(value) else self.exact([value]).credits(value)

    def exact_change(self, value: float | None) -> str:
        """A signed credit change with the cents it has: ``-17.65``, ``+550``, ``0``."""
        return self.change(value) if _missing(value) else self.exact([value]).change(value)

    def change(self, value: float | None) -> str:
        """A signed credit change: ``+3,567``, ``-20``, ``0``."""
        return (
            "-" if _missing(value) else format_number(float(value), self.credit_decimals, sign=True)  # type: ignore[arg-type]
        )

    def projection(self, value: float | None) -> str:
        """A month-end projection: whole credits by default (``35,167``)."""
        return "-" if _missing(value) else format_number(float(value), self.projection_decimals)  # type: ignore[arg-type]

    def money(self, value: float | None) -> str:
        """``$816.15``, ``-$3.20``."""
        if _missing(value):
            return "-"
        text = format_number(abs(float(value)), 2)  # type: ignore[arg-type]
        return f"-{self.symbol}{text}" if float(value) < 0 else f"{self.symbol}{text}"  # type: ignore[arg-type]

    def money_change(self, value: float | None) -> str:
        """A signed money change: ``+$80.12``, ``-$3.20``, ``$0.00``."""
        if _missing(value):
            return "-"
        v = float(value)  # type: ignore[arg-type]
        return ("+" if v > 0 else "") + self.money(v)

    def pct(self, fraction: float | None) -> str:
        """A fraction as ``11.9%``; ``-`` when missing."""
        if _missing(fraction):
            return "-"
        return format_number(float(fraction) * 100, self.percent_decimals, grouping=False) + "%"  # type: ignore[arg-type]

    def signed_pct(self, fraction: float | None) -> str:
        """A signed change as ``+11.9%``; ``n/a`` when there is nothing to compare with."""
        if _missing(fraction):
            return "n/a"
        return (
            format_number(float(fraction) * 100, self.percent_decimals, sign=True, grouping=False)  # type: ignore[arg-type]
            + "%"
        )

    def share(self, percent: float | None) -> str:
        """An agreed display share, given in percent (``29.3`` → ``29.3%``)."""
        if _missing(percent):
            return "-"
        return format_number(float(percent), self.percent_decimals, grouping=False) + "%"  # type: ignore[arg-type]

    # --- Excel ---------------------------------------------------------------------------
    @property
    def excel_credits(self) -> str:
        return "#,##0" + _zeros(self.credit_decimals)

    @property
    def excel_change(self) -> str:
        body = "#,##0" + _zeros(self.credit_decimals)
        return f"+{body};-{body};0{_zeros(self.credit_decimals)}"

    @property
    def excel_projection(self) -> str:
        return "#,##0" + _zeros(self.projection_decimals)

    @property
    def excel_money(self) -> str:
        sym = '"' + self.symbol + '"' if self.currency != "USD" else "$"
        return f"{sym}#,##0.00;-{sym}#,##0.00"

    @property
    def excel_money_change(self) -> str:
        sym = '"' + self.symbol + '"' if self.currency != "USD" else "$"
        return f"+{sym}#,##0.00;-{sym}#,##0.00;{sym}0.00"

    @property
    def excel_pct(self) -> str:
        return "0" + _zeros(self.percent_decimals) + "%"

    @property
    def excel_signed_pct(self) -> str:
        body = "0" + _zeros(self.percent_decimals) + "%"
        return f"+{body};-{body};{body}"


_DEFAULT_CREDITS = "#,##0.00"


def _decimals_of(excel_format: str) -> int:
    section = excel_format.split(";")[0]
    match = re.search(r"\.([0#]+)", section)
    return len(match.group(1)) if match else 0


def _as_decimals(value: Any, what: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise TemplateError(
            f'theme formats.{what} must be "auto" or a whole number 0-6, not {value!r}'
        )
    return int(value)


def formats_from_theme(
    formats: Mapping[str, Any], credits: Any, currency: str = "USD"
) -> ReportFormats:
    """The display decision for a report: the theme's ``[formats]`` over the data's precision.

    ``credit_decimals`` ("auto" or 0-6) and ``projection_decimals`` (0-6) in the theme win; a
    theme that only sets the old ``credits`` number format gets that format's decimals.
    """
    decimals = _as_decimals(formats.get("credit_decimals"), "credit_decimals")
    if decimals is None:
        legacy = formats.get("credits")
        if isinstance(legacy, str) and legacy != _DEFAULT_CREDITS:
            decimals = _decimals_of(legacy)
        else:
            decimals = credit_decimals_for(credits)
    projection = _as_decimals(formats.get("projection_decimals", 0), "projection_decimals")
    return ReportFormats(
        credit_decimals=decimals,
        projection_decimals=0 if projection is None else projection,
        currency=currency,
    )
