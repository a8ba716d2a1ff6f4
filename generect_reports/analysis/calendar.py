"""The finance calendar: fiscal years and quarters, quarter/year-to-date, year over year.

Finance closes fiscal quarters and years. A :class:`FiscalCalendar` says which month a fiscal
year starts in and how the year is named:

* ``naming="end"`` (the default, the common US/UK convention): a fiscal year is named by the
  calendar year it **ends** in. With ``start_month=4``, April 2026 to March 2027 is ``FY2027``
  and April to June 2026 is ``FY2027-Q1``.
* ``naming="start"``: named by the calendar year it starts in (April 2026 to March 2027 is
  ``FY2026``).

With ``start_month=1`` the fiscal year is the calendar year and labels are written the
calendar way, ``2026-Q3`` and ``2026``; :meth:`FiscalCalendar.parse_quarter` accepts both forms.

Quarters and years are aggregated from calendar-month buckets (the API knows only day, week and
month). Every function returns a tidy frame, as :mod:`generect_reports.analysis.usage` does.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import periods as P
from ..errors import InputError

__all__ = [
    "FiscalCalendar",
    "FISCAL_PERIODS",
    "to_fiscal_periods",
    "fiscal_buckets",
    "bucket_instants",
    "year_over_year",
    "period_to_date",
    "to_date_series",
]

#: The bucket sizes the calendar adds to the API's day, week and month.
FISCAL_PERIODS = ("quarter", "year")

_QUARTER = re.compile(r"^(FY)?(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(FY)?(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True)
class FiscalCalendar:
    """A fiscal year starting on the 1st of ``start_month``, named by the year it ends or
    starts in."""

    start_month: int = 1
    naming: str = "end"

    @classmethod
    def create(cls, start_month: Any = 1, naming: Any = "end") -> FiscalCalendar:
        """Validated constructor: one-line :class:`InputError` (exit 2) for a bad setting."""
        if (
            isinstance(start_month, bool)
            or not isinstance(start_month, (int, np.integer))
            or not 1 <= int(start_month) <= 12
        ):
            raise InputError(f"fiscal year start must be a month number 1-12, not {start_month!r}")
        if naming not in ("end", "start"):
            raise InputError(f"fiscal year naming must be 'end' or 'start', not {naming!r}")
        return cls(int(start_month), str(naming))

    @property
    def is_calendar(self) -> bool:
        return self.start_month == 1

    # -- month → fiscal year and quarter (scalar and vectorised share one formula) ---------------

    def _fy(self, year: Any, month: Any) -> Any:
        """Fiscal year name of calendar ``(year, month)``; works on ints and numpy arrays."""
        started = np.asarray(month) >= self.start_month
        # The year the fiscal year starts in, then the naming convention's offset.
        first = np.asarray(year) - np.where(started, 0, 1)
        return first + (1 if self.naming == "end" and not self.is_calendar else 0)

    def _q(self, month: Any) -> Any:
        return (np.asarray(month) - self.start_month) % 12 // 3 + 1

    def fiscal_year(self, year: int, month: int) -> int:
        return int(self._fy(year, month))

    def quarter(self, year: int, month: int) -> tuple[int, int]:
        """``(fiscal_year, quarter)`` of a calendar month."""
        return int(self._fy(year, month)), int(self._q(month))

    def year_label(self, fy: int) -> str:
        return str(fy) if self.is_calendar else f"FY{fy}"

    def quarter_label(self, fy: int, q: int) -> str:
        return f"{self.year_label(fy)}-Q{q}"

    def label(self, year: int, month: int, period: str) -> str:
        """The finance label of the quarter or year holding calendar ``(year, month)``."""
        fy, q = self.quarter(year, month)
        return self.quarter_label(fy, q) if period == "quarter" else self.year_label(fy)

    # -- fiscal periods → calendar dates ---------------------------------------------------------

    def year_start(self, fy: int) -> tuple[int, int]:
        """Calendar ``(year, month)`` of the first month of fiscal year ``fy``."""
        first = fy - (1 if self.naming == "end" and not self.is_calendar else 0)
        return first, self.start_month

    def quarter_bounds(self, fy: int, q: int) -> tuple[dt.date, dt.date]:
        """First and last day of fiscal quarter ``q`` of ``fy``."""
        if not 1 <= q <= 4:
            raise InputError(f"quarter must be 1-4, not {q}")
        y, m = P.shift_month(*self.year_start(fy), 3 * (q - 1))
        last_y, last_m = P.shift_month(y, m, 2)
        return P.month_bounds(y, m)[0], P.month_bounds(last_y, last_m)[1]

    def year_bounds(self, fy: int) -> tuple[dt.date, dt.date]:
        y, m = self.year_start(fy)
        last_y, last_m = P.shift_month(y, m, 11)
        return P.month_bounds(y, m)[0], P.month_bounds(last_y, last_m)[1]

    def quarter_of(self, day: dt.date) -> tuple[int, int]:
        return self.quarter(day.year, day.month)

    def parse_quarter(self, text: str) -> tuple[int, int]:
        """``FY2027-Q1`` (fiscal, named by this calendar) or ``2026-Q3`` (calendar quarter).

        A calendar quarter must line up with this calendar's quarters (start month 1, 4, 7 or
        10); it is returned as the fiscal ``(fy, q)`` that covers the same months.
        """
        match = _QUARTER.match(str(text).strip())
        if not match:
            raise InputError(
                f"invalid quarter {text!r}: expected YYYY-QN or FYYYYY-QN, e.g. 2026-Q3"
            )
        fiscal, year, q = bool(match.group(1)), int(match.group(2)), int(match.group(3))
        if not 2000 <= year <= 9998:
            raise InputError(f"invalid quarter {text!r}: year out of range")
        if fiscal or self.is_calendar:
            return year, q
        if (self.start_month - 1) % 3:
            raise InputError(
                f"calendar quarter {text} does not line up with fiscal quarters "
                f"starting in month {self.start_month}: use FY{year}-Q1 style"
            )
        return self.quarter(year, 3 * (q - 1) + 1)


def fiscal_buckets(
    start: str | dt.date, end: str | dt.date, period: str, calendar: FiscalCalendar
) -> list[P.Bucket]:
    """Split an inclusive local date range into fiscal quarters or years, clipped to the range."""
    if period not in FISCAL_PERIODS:
        raise InputError(f"unknown fiscal period {period!r}: use quarter or year")
    out: list[P.Bucket] = []
    for month in P.buckets(start, end, "month"):
        label = calendar.label(month.start.year, month.start.month, period)
        if out and out[-1].label == label:
            out[-1] = P.Bucket(out[-1].start, month.end, label)
        else:
            out.append(P.Bucket(month.start, month.end, label))
    return out


def bucket_instants(buckets: list[P.Bucket], timezone: str) -> pd.DataFrame:
    """Each bucket's start and exclusive end as tz-aware local midnights, and its length in hours.

    A quarter holding a DST change is an hour shorter or longer than its days × 24.
    """
    tz = P.get_timezone(timezone)
    starts = [dt.datetime.combine(b.start, dt.time(), tzinfo=tz) for b in buckets]
    ends = [
        dt.datetime.combine(b.end + dt.timedelta(days=1), dt.time(), tzinfo=tz) for b in buckets
    ]
    frame = pd.DataFrame(
        {
            "period": [b.label for b in buckets],
            "start": pd.DatetimeIndex([pd.Timestamp(s) for s in starts]).tz_convert(timezone)
            if buckets
            else pd.DatetimeIndex([], tz=timezone),
            "end": pd.DatetimeIndex([pd.Timestamp(e) for e in ends]).tz_convert(timezone)
            if buckets
            else pd.DatetimeIndex([], tz=timezone),
        }
    )
    frame["hours"] = (frame["end"] - frame["start"]).dt.total_seconds() / 3600.0
    return frame


def _local_parts(usage: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    ts = usage["period_start"]
    return ts.dt.year.to_numpy(), ts.dt.month.to_numpy()


def to_fiscal_periods(usage: pd.DataFrame, period: str, calendar: FiscalCalendar) -> pd.DataFrame:
    """Re-aggregate a tidy frame of day or month buckets to fiscal quarters or years.

    Returns the tidy frame (``period_start``, ``period``, ``operation``, ``credits``): one row per
    fiscal bucket and operation, ``period_start`` the first local midnight of the bucket inside the
    data's range (a range that starts mid-quarter gives a clipped first bucket, as ``month`` does).
    ``attrs`` keep the source's and add ``fiscal_year_start`` and ``fiscal_year_naming``.
    """
    if period not in FISCAL_PERIODS:
        raise InputError(f"unknown fiscal period {period!r}: use quarter or year")
    if usage.attrs.get("period") == "week":
        raise InputError("weekly buckets straddle months: aggregate day or month buckets instead")
    years, months = _local_parts(usage)
    fy = calendar._fy(years, months)
    q = calendar._q(months)
    if calendar.is_calendar:
        labels = (
            [f"{a}-Q{b}" for a, b in zip(fy, q)] if period == "quarter" else [str(a) for a in fy]
        )
    else:
        labels = (
            [f"FY{a}-Q{b}" for a, b in zip(fy, q)]
            if period == "quarter"
            else [f"FY{a}" for a in fy]
        )
    keyed = pd.DataFrame(
        {
            "period_start": usage["period_start"],
            "period": pd.Series(labels, dtype=str, index=usage.index),
            "operation": usage["operation"].astype(str),
            "credits": usage["credits"].to_numpy(dtype="float64"),
        }
    )
    # A fiscal bucket starts at its first bucket inside the range (clipped like any bucket).
    keyed["period_start"] = keyed.groupby("period", sort=False)["period_start"].transform("min")
    out = keyed.groupby(["period_start", "period", "operation"], sort=True, as_index=False)[
        "credits"
    ].sum()
    out["period"] = out["period"].astype(str)
    out.attrs = {
        **usage.attrs,
        "period": period,
        "fiscal_year_start": calendar.start_month,
        "fiscal_year_naming": calendar.naming,
    }
    return out.reset_index(drop=True)


def _monthly(usage: pd.DataFrame) -> pd.DataFrame:
    """Months × operations of credits, every month of the range present (0 where absent)."""
    years, months = _local_parts(usage)
    index = years * 12 + (months - 1)
    keyed = pd.DataFrame(
        {
            "m": index,
            "operation": usage["operation"].astype(str).to_numpy(),
            "credits": usage["credits"].to_numpy(dtype="float64"),
        }
    )
    matrix = keyed.pivot_table(
        index="m", columns="operation", values="credits", aggfunc="sum", fill_value=0.0
    )
    if len(matrix):
        matrix = matrix.reindex(
            np.arange(matrix.index.min(), matrix.index.max() + 1), fill_value=0.0
        )
    return matrix


def year_over_year(usage: pd.DataFrame) -> pd.DataFrame:
    """Every monthly figure against the same month a year earlier.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``operation``, ``credits``, ``previous_year_credits``, ``change``,
        ``change_pct`` for each month and operation of the data (operations absent in a month
        count 0). ``previous_year_credits`` is NaN when the data does not reach back 12 months;
        ``change_pct`` is a fraction, NaN (never inf) when last year's figure is 0.
    """
    matrix = _monthly(usage)
    cols = ["month", "operation", "credits", "previous_year_credits", "change", "change_pct"]
    if matrix.empty:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="float64" if c not in ("month", "operation") else str)
                for c in cols
            }
        )
    prior = matrix.shift(12)
    tidy = pd.DataFrame(
        {
            "m": np.repeat(matrix.index.to_numpy(), matrix.shape[1]),
            "operation": np.tile(matrix.columns.astype(str).to_numpy(), matrix.shape[0]),
            "credits": matrix.to_numpy().ravel(),
            "previous_year_credits": prior.to_numpy().ravel(),
        }
    )
    tidy["change"] = tidy["credits"] - tidy["previous_year_credits"]
    base = tidy["previous_year_credits"].where(tidy["previous_year_credits"] != 0)
    tidy["change_pct"] = tidy["change"] / base
    m = tidy.pop("m").to_numpy()
    tidy.insert(0, "month", pd.Series([f"{i // 12}-{i % 12 + 1:02d}" for i in m], dtype=str))
    return tidy[cols].sort_values(["month", "operation"], kind="stable").reset_index(drop=True)


def to_date_series(usage: pd.DataFrame, calendar: FiscalCalendar) -> pd.DataFrame:
    """Each month's total with its fiscal quarter-to-date and year-to-date running totals.

    Returns
    -------
    pandas.DataFrame
        ``month``, ``fiscal_year`` (label), ``quarter`` (label), ``credits``, ``qtd_credits``,
        ``ytd_credits``. The YTD of a fiscal year's last month equals that year's total.
    """
    matrix = _monthly(usage)
    totals = matrix.sum(axis=1) if not matrix.empty else pd.Series(dtype="float64")
    idx = totals.index.to_numpy(dtype="int64")
    years, months = idx // 12, idx % 12 + 1
    fy = calendar._fy(years, months)
    q = calendar._q(months)
    out = pd.DataFrame(
        {
            "month": pd.Series([f"{y}-{m:02d}" for y, m in zip(years, months)], dtype=str),
            "fiscal_year": pd.Series([calendar.year_label(int(a)) for a in fy], dtype=str),
            "quarter": pd.Series(
                [calendar.quarter_label(int(a), int(b)) for a, b in zip(fy, q)], dtype=str
            ),
            "credits": totals.to_numpy(dtype="float64"),
        }
    )
    out["qtd_credits"] = out.groupby("quarter", sort=False)["credits"].cumsum()
    out["ytd_credits"] = out.groupby("fiscal_year", sort=False)["credits"].cumsum()
    return out


def period_to_date(
    usage: pd.DataFrame, as_of: str | dt.date, period: str, calendar: FiscalCalendar
) -> pd.DataFrame:
    """Quarter- or year-to-date credits by operation, like for like with the previous period.

    The current period runs from its first day to ``as_of`` (inclusive): ``n`` elapsed days. The
    comparison takes the first ``n`` days of the previous quarter (``period="quarter"``) or of the
    previous fiscal year (``period="year"``), capped at that period's length, so a 92-day quarter
    is compared with at most the 90 days of a short previous quarter.

    Parameters
    ----------
    usage
        Tidy frame of **day** buckets covering both periods.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``credits``, ``previous_credits``, ``change``, ``change_pct`` (a fraction,
        NaN when the previous figure is 0); ``attrs``: ``period``, ``label``, ``previous_label``,
        ``start``, ``as_of``, ``days``, ``previous_start``, ``previous_end``, ``credits`` and
        ``previous_credits`` (the totals).
    """
    if period not in FISCAL_PERIODS:
        raise InputError(f"unknown fiscal period {period!r}: use quarter or year")
    if usage.attrs.get("period", "day") != "day":
        raise InputError("quarter- and year-to-date need day buckets (period='day')")
    day = P.parse_date(as_of, what="as-of date")
    fy, q = calendar.quarter_of(day)
    if period == "quarter":
        first, _ = calendar.quarter_bounds(fy, q)
        pfy, pq = (fy, q - 1) if q > 1 else (fy - 1, 4)
        prev_first, prev_last = calendar.quarter_bounds(pfy, pq)
        label, prev_label = calendar.quarter_label(fy, q), calendar.quarter_label(pfy, pq)
    else:
        first, _ = calendar.year_bounds(fy)
        prev_first, prev_last = calendar.year_bounds(fy - 1)
        label, prev_label = calendar.year_label(fy), calendar.year_label(fy - 1)
    days = (day - first).days + 1
    prev_end = min(prev_first + dt.timedelta(days=days - 1), prev_last)
    local = usage["period_start"].dt.tz_localize(None).dt.normalize()

    def window(a: dt.date, b: dt.date) -> pd.Series:
        mask = (local >= pd.Timestamp(a)) & (local <= pd.Timestamp(b))
        return usage.loc[mask].groupby(usage.loc[mask, "operation"].astype(str))["credits"].sum()

    cur, prev = window(first, day), window(prev_first, prev_end)
    ops = sorted(set(cur.index) | set(prev.index))
    out = pd.DataFrame(
        {
            "operation": pd.Series(ops, dtype=str),
            "credits": cur.reindex(ops, fill_value=0.0).to_numpy(dtype="float64"),
            "previous_credits": prev.reindex(ops, fill_value=0.0).to_numpy(dtype="float64"),
        }
    )
    out["change"] = out["credits"] - out["previous_credits"]
    out["change_pct"] = out["change"] / out["previous_credits"].where(out["previous_credits"] != 0)
    out.attrs = {
        "period": period,
        "label": label,
        "previous_label": prev_label,
        "start": first.isoformat(),
        "as_of": day.isoformat(),
        "days": days,
        "previous_start": prev_first.isoformat(),
        "previous_end": prev_end.isoformat(),
        "credits": float(out["credits"].sum()),
        "previous_credits": float(out["previous_credits"].sum()),
    }
    return out
