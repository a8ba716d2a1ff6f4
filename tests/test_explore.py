"""Comparison periods (analysis.explore): hand-built ranges with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from generect_reports.analysis.explore import (
    check_comparison,
    comparison_period,
    coverage,
    previous_period,
    year_before,
)


def T(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.mark.parametrize(
    "first,last,want",
    [
        # one whole month: the month before, whole
        ("2026-10-01", "2026-10-31", ("2026-09-01", "2026-09-30")),
        ("2026-03-01", "2026-03-31", ("2026-02-01", "2026-02-28")),
        # ten whole months: the ten before them, not a one-month shift that overlaps by nine
        ("2026-01-01", "2026-10-31", ("2025-03-01", "2025-12-31")),
        # days: the same number of days, ending the day before
        ("2026-10-05", "2026-10-20", ("2026-09-19", "2026-10-04")),
        ("2026-10-05", "2026-10-05", ("2026-10-04", "2026-10-04")),
        # a leap year's February, whole
        ("2024-03-01", "2024-03-31", ("2024-02-01", "2024-02-29")),
    ],
)
def test_previous_period_is_as_long_and_just_before(first, last, want):
    a = previous_period(first, last)
    assert a == (T(want[0]), T(want[1]))
    assert a[1] + pd.Timedelta(days=1) == T(first)  # no gap, no overlap
    if (T(last) + pd.Timedelta(days=1)).day != 1:
        assert (a[1] - a[0]) == (T(last) - T(first))  # as many days


def test_previous_period_of_tz_aware_days_uses_their_local_dates():
    first = pd.Timestamp("2026-10-01 00:00", tz="Europe/Kyiv")
    last = pd.Timestamp("2026-10-31 00:00", tz="Europe/Kyiv")
    assert previous_period(first, last) == (T("2026-09-01"), T("2026-09-30"))


def test_previous_period_refuses_a_backwards_range():
    with pytest.raises(ValueError, match="ends before it starts"):
        previous_period("2026-10-05", "2026-10-01")


def test_year_before_keeps_whole_months_whole():
    assert year_before("2025-02-01", "2025-02-28") == (T("2024-02-01"), T("2024-02-29"))
    assert year_before("2026-10-05", "2026-10-20") == (T("2025-10-05"), T("2025-10-20"))
    assert comparison_period("yoy", "2026-10-01", "2026-10-31") == (
        T("2025-10-01"),
        T("2025-10-31"),
    )
    with pytest.raises(ValueError):
        comparison_period("custom", "2026-10-01", "2026-10-31")


def test_coverage_counts_the_days_with_data():
    cov = coverage("2024-12-01", "2025-01-10", "2025-01-01", "2026-10-31")
    assert (cov.days, cov.covered_days, cov.complete) == (41, 10, False)
    assert "starts before the data (01 Jan 2025): 10 of 41 days have data" == cov.shortfall()
    assert coverage("2025-02-01", "2025-02-28", "2025-01-01", "2026-10-31").complete
    outside = coverage("2023-01-01", "2023-12-31", "2025-01-01", "2026-10-31")
    assert outside.covered_days == 0 and outside.shortfall().startswith("precedes the data")


def test_a_year_before_the_whole_data_is_refused_with_its_coverage():
    # 22 months of data, compared with the same 22 months a year before: 12 precede the data.
    data = ("2025-01-01", "2026-10-31")
    b = ("2025-01-01", "2026-10-31")
    a = year_before(*b)
    verdict = check_comparison(a, b, *data)
    assert not verdict.ok
    assert verdict.message == (
        "Period A (01 Jan 2024 – 31 Oct 2025) starts before the data (01 Jan 2025): "
        "304 of 670 days have data: no comparison."
    )
    assert len(verdict.message.splitlines()) == 1


def test_a_period_after_the_data_is_refused():
    verdict = check_comparison(
        ("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-11-30"), "2025-01-01", "2026-10-31"
    )
    assert not verdict.ok and verdict.message.startswith("Period B (01 Oct 2026 – 30 Nov 2026)")
    assert "ends after the data (31 Oct 2026): 31 of 61 days have data" in verdict.message


def test_covered_periods_compare_and_overlaps_are_stated():
    data = ("2025-01-01", "2026-10-31")
    clean = check_comparison(
        previous_period("2026-10-01", "2026-10-31"), ("2026-10-01", "2026-10-31"), *data
    )
    assert clean.ok and clean.message == "" and clean.overlap_days == 0
    overlapping = check_comparison(
        ("2026-09-15", "2026-10-15"), ("2026-10-01", "2026-10-31"), *data
    )
    assert overlapping.ok and overlapping.overlap_days == 15
    assert overlapping.message == "Periods A and B overlap by 15 days: those days count in both."
    months = check_comparison(("2026-02-01", "2026-02-28"), ("2026-10-01", "2026-10-31"), *data)
    assert months.ok and months.message == ""  # a month against a month: said by their names
    uneven = check_comparison(("2026-09-01", "2026-09-10"), ("2026-10-01", "2026-10-31"), *data)
    assert uneven.ok and uneven.message == "Period A has 10 days and period B 31."
