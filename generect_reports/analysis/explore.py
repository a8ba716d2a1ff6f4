"""Comparison periods that cannot mislead: which period A a range is compared with, and whether
the data covers it.

Pure: local days in, local days and verdicts out (no frames, no I/O). The explorer asks
:func:`comparison_period` for period A and :func:`check_comparison` before it shows a change;
a period A that reaches outside the data is refused with a one-line reason stating its coverage,
never compared as if the missing days were zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "COMPARISON_MODES",
    "Coverage",
    "Verdict",
    "day",
    "is_whole_months",
    "previous_period",
    "year_before",
    "comparison_period",
    "coverage",
    "check_comparison",
]

#: Period A for a range B: the period of the same length just before it, the same days a year
#: before, or any range the user picks.
COMPARISON_MODES = ("previous", "yoy", "custom")

_FMT = "%d %b %Y"


def day(value: Any) -> pd.Timestamp:
    """A local day as a naive midnight (a tz-aware time keeps its local date)."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize()


def _months(first: pd.Timestamp, last: pd.Timestamp) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def is_whole_months(first: Any, last: Any) -> bool:
    """True when the range starts on a first and ends on a last day of a month."""
    a, b = day(first), day(last)
    return a.day == 1 and (b + pd.Timedelta(days=1)).day == 1


def previous_period(first: Any, last: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period of the same length that ends the day before ``first``: no overlap, no gap.

    A range of whole months gives the same number of whole months before it (October to
    December: July to September); any other range the same number of days.
    """
    a, b = day(first), day(last)
    if b < a:
        raise ValueError("the range ends before it starts")
    end = a - pd.Timedelta(days=1)
    if is_whole_months(a, b):
        start = a - pd.DateOffset(months=_months(a, b))
        return pd.Timestamp(start), end
    return end - (b - a), end


def year_before(first: Any, last: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The same days twelve months earlier; whole months stay whole (February's end moves)."""
    a, b = day(first), day(last)
    lo = a - pd.DateOffset(months=12)
    if is_whole_months(a, b):
        hi = b + pd.Timedelta(days=1) - pd.DateOffset(months=12) - pd.Timedelta(days=1)
    else:
        hi = b - pd.DateOffset(months=12)
    return pd.Timestamp(lo), pd.Timestamp(hi)


def comparison_period(mode: str, first: Any, last: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Period A for range B in ``mode`` ``previous`` or ``yoy`` (``custom`` has no rule)."""
    if mode == "previous":
        return previous_period(first, last)
    if mode == "yoy":
        return year_before(first, last)
    raise ValueError(f"no rule gives period A in mode {mode!r}")


@dataclass(frozen=True)
class Coverage:
    """How much of a period of local days the data covers."""

    first: pd.Timestamp
    last: pd.Timestamp
    days: int
    covered_days: int
    data_first: pd.Timestamp
    data_last: pd.Timestamp

    @property
    def complete(self) -> bool:
        return self.covered_days == self.days

    @property
    def label(self) -> str:
        return f"{self.first:{_FMT}} – {self.last:{_FMT}}"

    def shortfall(self) -> str:
        """Why the data falls short of the period, in a few words ("" when it does not)."""
        if self.complete:
            return ""
        if self.covered_days == 0:
            where = "precedes" if self.last < self.data_first else "follows"
            return f"{where} the data ({self.data_first:{_FMT}} – {self.data_last:{_FMT}})"
        sides = []
        if self.first < self.data_first:
            sides.append(f"starts before the data ({self.data_first:{_FMT}})")
        if self.last > self.data_last:
            sides.append(f"ends after the data ({self.data_last:{_FMT}})")
        return " and ".join(sides) + f": {self.covered_days:,} of {self.days:,} days have data"


def coverage(first: Any, last: Any, data_first: Any, data_last: Any) -> Coverage:
    """The days of ``first``–``last`` (inclusive) that fall within ``data_first``–``data_last``."""
    a, b = day(first), day(last)
    lo, hi = day(data_first), day(data_last)
    days = max((b - a).days + 1, 0)
    covered = max((min(b, hi) - max(a, lo)).days + 1, 0) if days else 0
    return Coverage(a, b, days, covered, lo, hi)


@dataclass(frozen=True)
class Verdict:
    """Whether period A may be compared with period B, and what to say about it."""

    ok: bool
    #: One line: the reason for a refusal, or a caveat ("" when there is none).
    message: str
    a: Coverage
    b: Coverage
    overlap_days: int


def check_comparison(a: Any, b: Any, data_first: Any, data_last: Any) -> Verdict:
    """Refuse a comparison the data cannot support, with a one-line reason.

    Either period reaching outside the data is refused (the missing days would count as zero
    and the change would be an artefact of the data's edges). Periods that overlap are
    compared, with the overlap stated: they share those days' usage. Periods of different
    lengths are stated too, unless both are the same number of whole months.
    """
    cov_a = coverage(a[0], a[1], data_first, data_last)
    cov_b = coverage(b[0], b[1], data_first, data_last)
    overlap = coverage(a[0], a[1], b[0], b[1]).covered_days
    for name, cov in (("A", cov_a), ("B", cov_b)):
        if cov.days == 0:
            return Verdict(False, f"Period {name} ends before it starts.", cov_a, cov_b, overlap)
        if not cov.complete:
            reason = f"Period {name} ({cov.label}) {cov.shortfall()}: no comparison."
            return Verdict(False, reason, cov_a, cov_b, overlap)
    note = (
        f"Periods A and B overlap by {overlap:,} day{'s' if overlap != 1 else ''}: "
        "those days count in both."
        if overlap
        else ""
    )
    same_months = (
        is_whole_months(cov_a.first, cov_a.last)
        and is_whole_months(cov_b.first, cov_b.last)
        and _months(cov_a.first, cov_a.last) == _months(cov_b.first, cov_b.last)
    )
    if not note and cov_a.days != cov_b.days and not same_months:
        note = f"Period A has {cov_a.days:,} days and period B {cov_b.days:,}."
    return Verdict(True, note, cov_a, cov_b, overlap)
