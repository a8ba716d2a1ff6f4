import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generect_reports import periods as P
from generect_reports.errors import InputError, InvalidDateRange, InvalidTimezone


def labels(start, end, period):
    return [
        (b.start.isoformat(), b.end.isoformat(), b.label) for b in P.buckets(start, end, period)
    ]


def test_months_are_clipped_to_the_range():
    assert labels("2026-01-15", "2026-03-10", "month") == [
        ("2026-01-15", "2026-01-31", "2026-01"),
        ("2026-02-01", "2026-02-28", "2026-02"),
        ("2026-03-01", "2026-03-10", "2026-03"),
    ]


def test_leap_day_month_and_day():
    assert labels("2028-02-01", "2028-02-29", "month") == [("2028-02-01", "2028-02-29", "2028-02")]
    assert labels("2028-02-28", "2028-03-01", "day")[1] == (
        "2028-02-29",
        "2028-02-29",
        "2028-02-29",
    )
    with pytest.raises(InvalidDateRange):
        P.buckets("2026-02-29", "2026-03-01", "day")


def test_iso_week_53_and_year_boundary():
    # 2026-12-28 (Mon) .. 2027-01-03 (Sun) is ISO week 2026-W53
    assert labels("2026-12-27", "2027-01-05", "week") == [
        ("2026-12-27", "2026-12-27", "2026-W52"),
        ("2026-12-28", "2027-01-03", "2026-W53"),
        ("2027-01-04", "2027-01-05", "2027-W01"),
    ]


def test_kyiv_dst_week_is_seven_local_days():
    # DST starts in Kyiv on 2026-03-29 (a Sunday): the week is still Mon..Sun in local dates.
    (bucket,) = P.buckets("2026-03-23", "2026-03-29", "week")
    assert (bucket.start, bucket.end, bucket.days, bucket.label) == (
        dt.date(2026, 3, 23),
        dt.date(2026, 3, 29),
        7,
        "2026-W13",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "2026-13-01",
        "2026-02-30",
        "26-01-01",
        "yesterday",
        "",
        "2026-1-1",
        # one form only, in ASCII digits: the other ISO forms, spaces, other scripts' digits
        "2026-W01-1",
        "20260101",
        " 2026-01-01",
        "2026-01-01 ",
        "२०२६-०१-०१",
        "２０２６-01-01",
        "2026-01-0\u0661",
    ],
)
def test_impossible_dates_are_refused(bad):
    with pytest.raises(InvalidDateRange, match="YYYY-MM-DD"):
        P.parse_date(bad)


def test_start_after_end_and_unknown_period():
    with pytest.raises(InvalidDateRange, match="after"):
        P.buckets("2026-05-02", "2026-05-01")
    with pytest.raises(InputError, match="unknown period"):
        P.buckets("2026-05-01", "2026-05-02", "quarter")


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/"])
def test_unknown_timezone(name):
    with pytest.raises(InvalidTimezone):
        P.get_timezone(name)


@pytest.mark.parametrize("text", ["2026-5", "2026-13", "May 2026", "2026/05", "0000-01"])
def test_malformed_month(text):
    with pytest.raises(InputError, match="YYYY-MM"):
        P.parse_month(text)


def test_closed_means_ended_two_days_ago_in_the_timezone():
    tz = ZoneInfo("Europe/Kyiv")
    bucket = P.buckets("2026-05-01", "2026-05-31", "month")[0]
    # Ends at 2026-06-01 00:00 Kyiv (= 2026-05-31 21:00 UTC); closed from 2026-06-03 00:00 Kyiv.
    assert not P.is_closed(bucket, tz, dt.datetime(2026, 6, 2, 20, 59, tzinfo=dt.UTC))
    assert P.is_closed(bucket, tz, dt.datetime(2026, 6, 2, 21, 0, tzinfo=dt.UTC))


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(0, 800), st.sampled_from(["day", "week", "month"]))
def test_buckets_tile_the_range_exactly(start, length, period):
    end = start + dt.timedelta(days=length)
    got = P.buckets(start, end, period)
    assert got[0].start == start and got[-1].end == end
    assert sum(b.days for b in got) == length + 1
    for a, b in zip(got, got[1:]):
        assert b.start == a.end + dt.timedelta(days=1)
    for b in got:
        if period == "week":
            assert b.start.isocalendar()[:2] == b.end.isocalendar()[:2]
            assert b.label == "{:d}-W{:02d}".format(*b.start.isocalendar()[:2])
        elif period == "month":
            assert (b.start.year, b.start.month) == (b.end.year, b.end.month)
        else:
            assert b.start == b.end


@settings(max_examples=200, deadline=None)
@given(
    dates,
    st.sampled_from(
        ["Europe/Kyiv", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "UTC"]
    ),
)
def test_closed_is_monotonic_in_time(day, zone):
    tz = ZoneInfo(zone)
    bucket = P.Bucket(day, day, day.isoformat())
    end_local = dt.datetime.combine(day + dt.timedelta(days=3), dt.time(), tzinfo=tz)
    assert P.is_closed(bucket, tz, end_local + dt.timedelta(hours=1))
    assert not P.is_closed(bucket, tz, end_local - dt.timedelta(days=2))


# --- Month: the value a month becomes where it enters ------------------------------------------


def test_month_value():
    month = P.Month.parse("2026-10")
    assert (month.year, month.month, str(month)) == (2026, 10, "2026-10")
    assert (month.first_day, month.last_day) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert str(month.shift(-10)) == "2025-12" and str(month.shift(3)) == "2027-01"
    assert month.shift(1) > month and P.Month.parse(month) is month
    assert P.Month.of(dt.date(2028, 2, 29)).last_day == dt.date(2028, 2, 29)
    assert P.parse_month(month) == (2026, 10)


@pytest.mark.parametrize(
    "text", [" 2026-10", "2026-10 ", "２０２６-10", "2026-１0", "2026-13", "1999-12", "2026_10"]
)
def test_month_is_ascii_yyyy_mm_and_nothing_else(text):
    with pytest.raises(InputError, match="YYYY-MM"):
        P.Month.parse(text)
    with pytest.raises(InputError, match="YYYY-MM"):
        P.parse_month(text)
