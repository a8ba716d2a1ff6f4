"""fetch_usage over real HTTP: buckets, unattributed rows, timezone, parallelism, faults."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from fakeapi import TOKEN

from generect_reports import GenerectClient, fetch_usage, load_sample
from generect_reports import errors as E
from generect_reports.fetch.usage import UNATTRIBUTED, parse_usage_data


def fetch(client, *args, **kw):
    kw.setdefault("cache", False)
    return fetch_usage(*args, client=client, **kw)


def test_monthly_frame_shape_and_attrs(api, client):
    df = fetch(client, "2026-01-01", "2026-06-30", period="month", timezone="Europe/Kyiv")
    assert list(df.columns) == ["period_start", "period", "operation", "credits"]
    assert str(df["period_start"].dt.tz) == "Europe/Kyiv"
    assert df["credits"].dtype == np.float64
    assert list(df["period"].unique()) == [f"2026-0{m}" for m in range(1, 7)]
    assert (
        df.attrs["timezone"] == "Europe/Kyiv"
        and df.attrs["period"] == "month"
        and df.attrs["source"] == "api"
    )
    assert df.attrs["base_url"] == api.url and "fetched_at" in df.attrs
    # local midnight, in summer and winter time
    starts = df.drop_duplicates("period")["period_start"]
    assert [ts.isoformat() for ts in starts][2:4] == [
        "2026-03-01T00:00:00+02:00",
        "2026-04-01T00:00:00+03:00",
    ]
    feb = df[df["period"] == "2026-02"].set_index("operation")["credits"]
    assert feb.to_dict() == {"email_find": 28 * 2.5, "search_database": 280.0}
    assert {r.params["timezone"] for r in api.usage_requests()} == {"Europe/Kyiv"}
    assert len(api.usage_requests()) == 6


def test_one_request_per_clipped_bucket(api, client):
    fetch(client, "2026-03-25", "2026-04-02", period="week", timezone="UTC")
    got = sorted(
        (r.params["start_date"], r.params["end_date"], r.params["period"])
        for r in api.usage_requests()
    )
    assert got == [("2026-03-25", "2026-03-29", "week"), ("2026-03-30", "2026-04-02", "week")]


def test_unattributed_row_makes_bucket_add_up(api, client):
    api.daily[dt.date(2026, 5, 3)]["unattributed"] = 7.25
    df = fetch(client, "2026-05-01", "2026-05-31", period="month")
    assert df.set_index("operation").loc[UNATTRIBUTED, "credits"] == 7.25
    assert df["credits"].sum() == 31 * 12.5 + 7.25


def test_fractional_credits_have_no_float_noise_row(api, client):
    api.fail("fractional", times=-1)
    df = fetch(client, "2026-05-01", "2026-05-02", period="day")
    assert UNATTRIBUTED not in set(df["operation"])
    assert len(df) == 4


def test_rows_always_add_up_to_api_total(api, client):
    api.fail("extra_total", times=-1, arg=3.5)
    df = fetch(client, "2026-05-01", "2026-05-10", period="day")
    sums = df.groupby("period")["credits"].sum()
    assert (sums == 12.5 + 3.5).all()


def test_negative_credits_are_kept_and_flagged(api, client):
    api.fail("negative", times=1, arg=4)
    df = fetch(client, "2026-05-01", "2026-05-01")
    assert df.attrs["negative_credits"] is True
    assert df.set_index("operation").loc["refund_op", "credits"] == -4.0


@pytest.mark.parametrize(
    "kind,message",
    [
        ("no_data", "no 'data'"),
        ("breakdown_list", "breakdown"),
        ("non_numeric", "not a number"),
        ("total_missing", "total_credits"),
        ("duplicate_ops", "duplicate"),
        ("nan", "non-finite"),
        ("infinite", "non-finite"),
    ],
)
def test_malformed_responses_name_the_period(api, client, kind, message):
    api.fail(kind, times=-1, when=lambda p: p["start_date"] == "2026-05-02")
    with pytest.raises(E.MalformedResponseError) as info:
        fetch(client, "2026-05-01", "2026-05-03")
    assert "period 2026-05-02" in str(info.value) and message in str(info.value)
    assert info.value.exit_code == 4


def test_first_permanent_failure_stops_the_run(api):
    c = GenerectClient(TOKEN, api.url, sleep=lambda s: None, max_workers=2)
    api.fail("500", times=-1, when=lambda p: p["start_date"] == "2025-01-01")
    api.latency = 0.01
    with pytest.raises(E.ServerError, match="period 2025-01-01"):
        fetch(c, "2025-01-01", "2025-12-31", period="day")
    # 5 attempts for the failing day, and far fewer than 365 others
    assert len(api.usage_requests()) < 60


def test_parallel_requests_are_bounded(api):
    api.latency = 0.05
    c = GenerectClient(TOKEN, api.url, max_workers=6)
    fetch(c, "2024-11-01", "2026-10-31", period="month")
    assert len(api.usage_requests()) == 24
    assert 2 <= api.max_in_flight <= 6


def test_transient_faults_across_buckets_still_give_exact_figures(api, client):
    # One fault per bucket: on a loaded machine one bucket's quick retries could otherwise take
    # several faults in a row before its siblings are even sent.
    for month, kind in enumerate(
        ("429", "500", "html502", "drop", "truncate", "invalid_json", "503"), 1
    ):
        api.fail(kind, times=1, when=lambda q, m=month: q.get("start_date") == f"2025-{m:02d}-01")
    df = fetch(client, "2025-01-01", "2025-12-31", period="month")
    assert df["credits"].sum() == 365 * 12.5
    assert len(api.usage_requests()) == 12 + 7


def test_future_start_is_refused_and_future_end_clipped(api, client):
    with pytest.raises(E.InvalidDateRange, match="future"):
        fetch(client, "2099-01-01", "2099-01-02")
    today = dt.date.today()
    df = fetch(
        client,
        today - dt.timedelta(days=2),
        today + dt.timedelta(days=30),
        period="day",
        timezone="UTC",
    )
    assert df.attrs["end"] <= (today + dt.timedelta(days=1)).isoformat()


def test_parse_usage_data_contract():
    assert parse_usage_data({"total_credits": 3, "breakdown": {"a": 1}}) == (3.0, {"a": 1.0})
    assert parse_usage_data({"total_credits": 0, "breakdown": None}) == (0.0, {})
    with pytest.raises(E.MalformedResponseError):
        parse_usage_data({"total_credits": True, "breakdown": {}})
    with pytest.raises(E.MalformedResponseError):
        parse_usage_data({"total_credits": 1, "breakdown": {"unattributed": 1}})


# --- the bundled sample -------------------------------------------------------------------


def test_sample_covers_22_months_in_kyiv(sample):
    assert sample.attrs["source"] == "sample" and sample.attrs["timezone"] == "Europe/Kyiv"
    assert sample["period_start"].min() == pd.Timestamp("2025-01-01", tz="Europe/Kyiv")
    assert sample["period_start"].max() == pd.Timestamp("2026-10-31", tz="Europe/Kyiv")
    ops = set(sample["operation"])
    assert {"search_database", "phone_find", UNATTRIBUTED} <= ops
    phone = sample[sample["operation"] == "phone_find"]["period_start"].min()
    assert phone == pd.Timestamp("2025-09-01", tz="Europe/Kyiv")
    march = sample[(sample["period"].str.startswith("2026-03"))]
    assert "enrich_realtime" not in set(march["operation"])


def test_sample_aggregates_like_the_api(sample):
    monthly = load_sample(period="month")
    by_month = sample.assign(m=sample["period"].str[:7]).groupby("m")["credits"].sum()
    assert monthly.groupby("period")["credits"].sum().to_dict() == by_month.to_dict()
    weekly = load_sample("2026-03-01", "2026-03-31", period="week")
    assert weekly["period"].iloc[0] == "2026-W09" and weekly["credits"].sum() == by_month["2026-03"]


def test_sample_refuses_other_timezones():
    with pytest.raises(E.InputError, match="Europe/Kyiv"):
        load_sample(timezone="UTC")


def test_progress_bar_on_stderr_and_silenced(api, client, capsys):
    fetch(client, "2026-01-01", "2026-01-20", period="day", progress=True)
    assert "fetching usage" in capsys.readouterr().err
    fetch(client, "2026-01-01", "2026-01-20", period="day", progress=False)
    assert capsys.readouterr().err == ""
