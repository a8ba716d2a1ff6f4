"""Quarter and year projections replayed over hand-built histories with known answers."""

import datetime as dt

import pandas as pd
import pytest
from helpers import frame

from generect_reports.analysis.calendar import FiscalCalendar
from generect_reports.analysis.forecast import (
    MIN_HISTORY_MONTHS,
    SHORT_SPREAD,
    period_accuracy_text,
    period_forecast,
    period_forecasts,
)


def _history(first: str, last: str, credits) -> pd.DataFrame:
    days = pd.date_range(first, last)
    return frame([(d.date().isoformat(), "a", float(credits(d))) for d in days])


def _weekly(day: pd.Timestamp) -> float:
    return 5.0 if day.day_of_week >= 5 else 20.0


def _sum(first: str, last: str, credits) -> float:
    return float(sum(credits(d) for d in pd.date_range(first, last)))


def test_a_regular_history_gives_a_quarter_with_zero_error_and_a_collapsed_interval():
    usage = _history("2023-12-01", "2026-05-09", _weekly)
    got = period_forecast(usage, "quarter", as_of="2026-05-10T00:00")
    assert (got.label, got.start, got.end) == ("2026-Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    assert (got.elapsed_days, got.days_in_period) == (39, 91)
    assert got.used == _sum("2026-04-01", "2026-05-09", _weekly)
    assert got.projected == pytest.approx(_sum("2026-04-01", "2026-06-30", _weekly))
    assert got.interval_80 == pytest.approx((got.projected, got.projected))
    assert got.interval_95 == pytest.approx((got.projected, got.projected))
    # 2024-Q1 to 2026-Q1: nine past quarters, each with a full 28-day window before it.
    assert got.history_periods == 9 and not got.short_history
    acc = got.accuracy
    assert acc.periods == 9 and acc.measured[0] == "2024-Q1" and acc.measured[-1] == "2026-Q1"
    assert [m for _, m in acc.mape] == [0.0, 0.0, 0.0]
    assert acc.coverage_80 == 1.0
    assert got.replay["ape"].abs().max() == pytest.approx(0.0)
    assert period_accuracy_text(got) == (
        "median error 0.0% a quarter in, 0.0% halfway in, 0.0% three quarters in over 9 past "
        "quarter(s); the 80% interval held the actual 100% of the time"
    )


def test_a_fiscal_year_with_too_little_history_is_wide_and_says_so():
    usage = _history("2023-12-01", "2026-05-09", _weekly)
    calendar = FiscalCalendar.create(4)
    got = period_forecast(usage, "fiscal_year", calendar=calendar, as_of="2026-05-10T00:00")
    assert (got.label, got.start, got.end) == ("FY2027", dt.date(2026, 4, 1), dt.date(2027, 3, 31))
    # The fiscal year to date, and the rest of the year at the same weekday means.
    assert got.used == _sum("2026-04-01", "2026-05-09", _weekly)
    assert got.projected == pytest.approx(_sum("2026-04-01", "2027-03-31", _weekly))
    # FY2025 (April 2024 on) and FY2026: two past years, fewer than the six an interval needs.
    assert got.history_periods == 2 < MIN_HISTORY_MONTHS and got.short_history
    assert [m for _, m in got.accuracy.mape] == [0.0, 0.0, 0.0]
    assert got.accuracy.coverage_80 is None
    left = (got.days_in_period - got.elapsed_days) / got.days_in_period
    for level, bounds in ((0.80, got.interval_80), (0.95, got.interval_95)):
        spread = SHORT_SPREAD[level] * left
        assert bounds == pytest.approx((got.projected * (1 - spread), got.projected * (1 + spread)))
    assert period_accuracy_text(got).endswith(
        "over 2 past fiscal year(s); only 2 past fiscal year(s), so the interval is wide"
    )


def test_a_step_change_widens_the_quarter_interval_by_the_error_it_made():
    step = pd.Timestamp("2026-01-01")
    usage = _history("2023-12-01", "2026-04-04", lambda d: 10.0 if d < step else 20.0)
    got = period_forecast(usage, "quarter", as_of="2026-04-05T00:00")
    # Today's window is all 20s: the quarter ends at 91 × 20.
    assert (got.used, got.projected) == (80.0, 1820.0)
    replay = got.replay.set_index(["period", "elapsed_days"])
    # 1 January: the window is all 10s, the quarter ends at 90 × 20.
    assert replay.loc[("2026-Q1", 0), ["projected", "actual", "ratio"]].tolist() == [
        900.0,
        1800.0,
        2.0,
    ]
    # Day 4 of 91 is day 4 of 90 in the first quarter: the only past quarter that erred.
    ratio = replay.loc[("2026-Q1", 4), "ratio"]
    assert ratio > 1.0
    assert (replay.drop(index="2026-Q1", level="period")["ratio"] == 1.0).all()
    # Nine ratios: the 80% bounds are the smallest (1.0) and the largest.
    assert got.interval_80 == pytest.approx((1820.0, 1820.0 * ratio))
    assert got.interval_95[1] > got.interval_80[1]
    acc = got.accuracy
    # The step's quarter missed its interval (built from eight exact quarters) a quarter in.
    assert acc.coverage_80 is not None and acc.coverage_80 < 1.0
    regular = period_forecast(
        _history("2023-12-01", "2026-04-04", lambda d: 10.0), "quarter", as_of="2026-04-05T00:00"
    )
    assert regular.interval_80 == pytest.approx((regular.projected, regular.projected))
    assert regular.accuracy.coverage_80 == 1.0


def test_the_periods_follow_the_fiscal_calendar():
    usage = _history("2024-01-01", "2026-11-14", lambda d: 10.0)
    calendar_year = period_forecasts(usage, as_of="2026-11-15T00:00")
    assert [(f.period, f.label) for f in calendar_year] == [
        ("quarter", "2026-Q4"),
        ("fiscal_year", "2026"),
    ]
    fiscal = period_forecasts(usage, calendar=FiscalCalendar.create(7), as_of="2026-11-15T00:00")
    assert [(f.period, f.label, f.start, f.end) for f in fiscal] == [
        ("quarter", "FY2027-Q2", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
        ("fiscal_year", "FY2027", dt.date(2026, 7, 1), dt.date(2027, 6, 30)),
        ("year", "2026", dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    ]
    # 10 a day: every projection is exact, the year end 365 × 10.
    assert [f.projected for f in fiscal] == [920.0, 3650.0, 3650.0]
    assert fiscal[1].used == 10.0 * (pd.Timestamp("2026-11-15") - pd.Timestamp("2026-07-01")).days
    doc = fiscal[1].to_dict()
    assert doc["interval_80"][0] <= doc["projected"] <= doc["interval_80"][1]
    assert [a["share_elapsed"] for a in doc["accuracy"]["mape_at"]] == [0.25, 0.5, 0.75]


def test_a_period_that_began_before_the_data_is_projected_from_what_there_is():
    usage = _history("2026-10-01", "2026-11-14", lambda d: 10.0)
    got = period_forecast(usage, "fiscal_year", as_of="2026-11-15T00:00")
    # 45 days of data in the year so far, 47 days to come at 10 a day.
    assert got.used == 450.0 and got.projected == 450.0 + 47 * 10.0
    assert got.history_periods == 0 and got.short_history and got.accuracy.periods == 0
    assert period_accuracy_text(got) == (
        "accuracy not measured yet: no complete fiscal year of history to replay"
    )


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="unknown period"):
        period_forecast(_history("2026-01-01", "2026-01-10", lambda d: 1.0), "week")
