"""The finance calendar: fiscal labels, quarters that tile the year, YTD/QTD, like-for-like
comparisons, year over year, DST-exact bucket instants, and `usage --period quarter|year`."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from generect_reports import load_sample
from generect_reports.analysis import calendar as C
from generect_reports.analysis.pricing import to_hundredths
from generect_reports.cli import cli
from generect_reports.errors import InputError
from generect_reports.outputs.contract import validate_document

start_months = st.integers(1, 12)
namings = st.sampled_from(["end", "start"])
fiscal_years = st.integers(2001, 2200)


@pytest.mark.parametrize(
    "start, naming, month, label",
    [
        (4, "end", (2026, 4), "FY2027-Q1"),
        (4, "end", (2026, 3), "FY2026-Q4"),
        (4, "end", (2027, 3), "FY2027-Q4"),
        (4, "start", (2026, 4), "FY2026-Q1"),
        (7, "end", (2026, 7), "FY2027-Q1"),
        (10, "end", (2026, 9), "FY2026-Q4"),
        (1, "end", (2026, 8), "2026-Q3"),
        (1, "start", (2026, 8), "2026-Q3"),
    ],
)
def test_labels_as_finance_writes_them(start, naming, month, label):
    cal = C.FiscalCalendar.create(start, naming)
    assert cal.label(*month, "quarter") == label
    assert cal.label(*month, "year") == label.split("-Q")[0]


def test_parse_quarter():
    april = C.FiscalCalendar.create(4)
    assert april.parse_quarter("FY2027-Q1") == (2027, 1)
    assert april.quarter_bounds(2027, 1) == (dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    # a calendar quarter that lines up is the fiscal quarter of the same months
    assert april.parse_quarter("2026-Q3") == (2027, 2)
    assert C.FiscalCalendar().parse_quarter("2026-Q3") == (2026, 3)
    with pytest.raises(InputError, match="does not line up"):
        C.FiscalCalendar.create(2).parse_quarter("2026-Q3")
    for bad in ("2026-Q5", "FY26-Q1", "2026Q", "Q3-2026"):
        with pytest.raises(InputError, match="invalid quarter"):
            april.parse_quarter(bad)
    for month in (0, 13, "4", True):
        with pytest.raises(InputError, match="1-12"):
            C.FiscalCalendar.create(month)
    with pytest.raises(InputError, match="naming"):
        C.FiscalCalendar.create(4, "middle")


@settings(max_examples=300, deadline=None)
@given(start=start_months, naming=namings, fy=fiscal_years)
def test_quarters_tile_the_fiscal_year(start, naming, fy):
    cal = C.FiscalCalendar.create(start, naming)
    first, last = cal.year_bounds(fy)
    bounds = [cal.quarter_bounds(fy, q) for q in (1, 2, 3, 4)]
    assert (
        bounds[0][0] == first and bounds[-1][1] == last and first.day == 1 and first.month == start
    )
    for (_, b), (c, _) in zip(bounds, bounds[1:]):
        assert c == b + dt.timedelta(days=1)  # contiguous, no gap, no overlap
    assert sum((b - a).days + 1 for a, b in bounds) == (last - first).days + 1 in (365, 366)
    for q, (a, b) in enumerate(bounds, 1):
        # every day of a quarter maps back to it, and the label round-trips through the parser
        assert cal.quarter_of(a) == cal.quarter_of(b) == (fy, q)
        assert cal.parse_quarter(cal.quarter_label(fy, q)) == (fy, q) or cal.is_calendar
    assert cal.quarter_of(first - dt.timedelta(days=1)) == (fy - 1, 4)


@settings(max_examples=100, deadline=None)
@given(
    start=start_months,
    naming=namings,
    first=st.integers(2001 * 12, 2190 * 12),
    span=st.integers(1, 40),
)
def test_fiscal_buckets_tile_any_range(start, naming, first, span):
    cal = C.FiscalCalendar.create(start, naming)
    a = dt.date(first // 12, first % 12 + 1, 1)
    b = dt.date((first + span) // 12, (first + span) % 12 + 1, 1) - dt.timedelta(days=1)
    for period in ("quarter", "year"):
        got = C.fiscal_buckets(a, b, period, cal)
        assert got[0].start == a and got[-1].end == b
        assert all(y.start == x.end + dt.timedelta(days=1) for x, y in zip(got, got[1:]))
        assert len({g.label for g in got}) == len(got)


def _monthly_frame(values: list[int], first: int) -> pd.DataFrame:
    months = [(first + i) for i in range(len(values))]
    starts = pd.DatetimeIndex([pd.Timestamp(m // 12, m % 12 + 1, 1) for m in months]).tz_localize(
        "Europe/Kyiv"
    )
    frame = pd.DataFrame(
        {
            "period_start": starts,
            "period": [f"{m // 12}-{m % 12 + 1:02d}" for m in months],
            "operation": "search_database",
            "credits": np.asarray(values, dtype="float64") / 100,
        }
    )
    frame.attrs.update({"timezone": "Europe/Kyiv", "period": "month", "source": "api"})
    return frame


@settings(max_examples=150, deadline=None)
@given(
    start=start_months,
    naming=namings,
    first=st.integers(2020 * 12, 2030 * 12),
    values=st.lists(st.integers(0, 10**7), min_size=1, max_size=40),
)
def test_ytd_of_the_last_month_is_the_years_total(start, naming, first, values):
    cal = C.FiscalCalendar.create(start, naming)
    monthly = _monthly_frame(values, first)
    series = C.to_date_series(monthly, cal)
    years = C.to_fiscal_periods(monthly, "year", cal)
    quarters = C.to_fiscal_periods(monthly, "quarter", cal)
    last_of_year = series.groupby("fiscal_year", sort=False).tail(1).set_index("fiscal_year")
    year_total = years.set_index("period")["credits"]
    assert list(to_hundredths(last_of_year["ytd_credits"])) == list(
        to_hundredths(year_total.loc[last_of_year.index])
    )
    last_of_quarter = series.groupby("quarter", sort=False).tail(1).set_index("quarter")
    quarter_total = quarters.set_index("period")["credits"]
    assert list(to_hundredths(last_of_quarter["qtd_credits"])) == list(
        to_hundredths(quarter_total.loc[last_of_quarter.index])
    )
    assert to_hundredths([quarters["credits"].sum()])[0] == sum(values)


@settings(max_examples=60, deadline=None)
@given(
    start=start_months,
    year=st.integers(2001, 2100),
    zone=st.sampled_from(
        ["Europe/Kyiv", "America/New_York", "Australia/Sydney", "UTC", "America/Havana"]
    ),
)
def test_bucket_instants_respect_dst(start, year, zone):
    from zoneinfo import ZoneInfo

    cal = C.FiscalCalendar.create(start)
    buckets = C.fiscal_buckets(f"{year}-01-01", f"{year + 1}-12-31", "quarter", cal)
    inst = C.bucket_instants(buckets, zone)
    tz = ZoneInfo(zone)
    for b, row in zip(buckets, inst.itertuples()):
        # local midnight at both ends (Havana skips midnight: the first real instant instead)
        assert row.start.tz_convert(zone).hour in (0, 1) and row.end.tz_convert(zone).hour in (0, 1)
        assert row.start.tz_convert(zone).date() == b.start
        offset_change = (
            dt.datetime.combine(b.start, dt.time(12), tz).utcoffset()
            - dt.datetime.combine(b.end, dt.time(12), tz).utcoffset()
        ).total_seconds() / 3600
        naive_hours = b.days * 24
        assert (
            abs(row.hours - (naive_hours + offset_change)) <= 1
        )  # ±1 h only for skipped midnights
    assert all(a == b for a, b in zip(inst["end"], inst["start"].iloc[1:]))


def test_kyiv_quarters_lose_and_gain_an_hour():
    cal = C.FiscalCalendar.create(1)
    inst = C.bucket_instants(
        C.fiscal_buckets("2026-01-01", "2026-12-31", "quarter", cal), "Europe/Kyiv"
    )
    assert list(inst["hours"]) == [90 * 24 - 1, 91 * 24, 92 * 24, 92 * 24 + 1]


def test_sample_quarters_tie_out(sample):
    cal = C.FiscalCalendar.create(4)
    monthly = load_sample(period="month")
    quarters = C.to_fiscal_periods(monthly, "quarter", cal)
    from_days = C.to_fiscal_periods(sample, "quarter", cal)
    pd.testing.assert_frame_equal(quarters, from_days, check_like=False)
    assert (
        to_hundredths([quarters["credits"].sum()])[0] == to_hundredths([sample["credits"].sum()])[0]
    )
    assert list(quarters["period"].unique()) == [
        "FY2025-Q4",
        "FY2026-Q1",
        "FY2026-Q2",
        "FY2026-Q3",
        "FY2026-Q4",
        "FY2027-Q1",
        "FY2027-Q2",
        "FY2027-Q3",
    ]
    starts = quarters.groupby("period", sort=False)["period_start"].first()
    assert (starts.dt.hour == 0).all() and starts["FY2027-Q1"] == pd.Timestamp(
        "2026-04-01", tz="Europe/Kyiv"
    )
    assert quarters.attrs["fiscal_year_start"] == 4 and quarters.attrs["period"] == "quarter"
    with pytest.raises(InputError, match="week"):
        C.to_fiscal_periods(load_sample("2026-01-01", "2026-03-31", period="week"), "quarter", cal)


def test_period_to_date_is_like_for_like(sample):
    cal = C.FiscalCalendar.create(4)
    qtd = C.period_to_date(sample, "2026-08-15", "quarter", cal)
    assert qtd.attrs["label"] == "FY2027-Q2" and qtd.attrs["previous_label"] == "FY2027-Q1"
    assert qtd.attrs["days"] == 46 and qtd.attrs["previous_start"] == "2026-04-01"
    assert qtd.attrs["previous_end"] == "2026-05-16"

    def window(a, b):
        day = sample["period"]
        return sample.loc[(day >= a) & (day <= b), "credits"].sum()

    assert qtd.attrs["credits"] == window("2026-07-01", "2026-08-15")
    assert qtd.attrs["previous_credits"] == window("2026-04-01", "2026-05-16")
    row = qtd.set_index("operation").loc["search_database"]
    assert math.isclose(row["change_pct"], row["change"] / row["previous_credits"])
    ytd = C.period_to_date(sample, "2026-10-31", "year", cal)
    assert ytd.attrs["label"] == "FY2027" and ytd.attrs["days"] == 214
    assert ytd.attrs["previous_end"] == "2025-10-31"
    assert ytd.attrs["credits"] == window("2026-04-01", "2026-10-31")
    # a long quarter against a short one: capped at the short quarter's last day
    jan = C.FiscalCalendar.create(1)
    capped = C.period_to_date(sample, "2026-06-30", "quarter", jan)
    assert capped.attrs["days"] == 91 and capped.attrs["previous_end"] == "2026-03-31"
    # an operation only in the current period: change_pct NaN, never inf
    # no data a year before the sample starts: every change_pct NaN, never inf
    first_year = C.period_to_date(sample, "2025-10-31", "year", jan)
    assert (first_year["previous_credits"] == 0).all() and first_year["change_pct"].isna().all()
    assert first_year.attrs["previous_label"] == "2024"


def test_year_over_year_on_every_month(sample):
    yoy = C.year_over_year(sample)
    ops = sample["operation"].nunique()
    assert len(yoy) == 22 * ops
    first_year = yoy[yoy["month"] < "2026-01"]
    assert first_year["previous_year_credits"].isna().all()
    row = yoy[(yoy["month"] == "2026-03") & (yoy["operation"] == "search_database")].iloc[0]
    march = sample[sample["operation"] == "search_database"]
    assert row["credits"] == march.loc[march["period"].str.startswith("2026-03"), "credits"].sum()
    assert (
        row["previous_year_credits"]
        == march.loc[march["period"].str.startswith("2025-03"), "credits"].sum()
    )
    assert not np.isinf(yoy["change_pct"]).any()
    zero_base = yoy[(yoy["previous_year_credits"] == 0)]
    assert zero_base["change_pct"].isna().all()


def test_usage_period_quarter_cli():
    runner = CliRunner()
    args = [
        "usage",
        "--sample",
        "--start",
        "2025-04-01",
        "--end",
        "2026-09-30",
        "--period",
        "quarter",
        "--fiscal-year-start",
        "4",
        "--format",
        "json",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    validate_document(doc)
    assert (
        doc["period"] == "quarter"
        and doc["fiscal_year_start"] == 4
        and doc["fiscal_year_naming"] == "end"
    )
    assert sorted({r["period"] for r in doc["rows"]}) == [
        f"FY{y}-Q{q}" for y, q in [(2026, 1), (2026, 2), (2026, 3), (2026, 4), (2027, 1), (2027, 2)]
    ]
    daily = load_sample("2025-04-01", "2026-09-30")
    assert (
        to_hundredths([doc["totals"]["credits"]])[0] == to_hundredths([daily["credits"].sum()])[0]
    )
    year = runner.invoke(
        cli,
        [
            "usage",
            "--sample",
            "--start",
            "2026-01-01",
            "--end",
            "2026-06-30",
            "--period",
            "year",
            "--format",
            "csv",
        ],
    )
    assert year.exit_code == 0 and ',"2026",' in year.stdout


def test_calendar_from_the_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[calendar]\nfiscal_year_start = 7\nfiscal_year_naming = "start"\n')
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "usage",
            "--sample",
            "--config",
            str(config),
            "--start",
            "2026-01-01",
            "--end",
            "2026-09-30",
            "--period",
            "quarter",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "FY2025-Q3" in result.stdout and "FY2026-Q1" in result.stdout
    # the command line wins over the file
    result = runner.invoke(
        cli,
        [
            "usage",
            "--sample",
            "--config",
            str(config),
            "--fiscal-year-start",
            "1",
            "--start",
            "2026-01-01",
            "--end",
            "2026-03-31",
            "--period",
            "quarter",
        ],
    )
    assert "2026-Q1" in result.stdout and "FY" not in result.stdout
    config.write_text("[calendar]\nfiscal_year_start = 13\n")
    result = runner.invoke(
        cli,
        [
            "usage",
            "--sample",
            "--config",
            str(config),
            "--start",
            "2026-01-01",
            "--end",
            "2026-03-31",
            "--period",
            "quarter",
        ],
    )
    assert result.exit_code == 2 and "1-12" in result.output


def test_bad_fiscal_options_exit_2():
    from support import run_cli

    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        "--period",
        "quarter",
        "--fiscal-year-start",
        "13",
    )
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
