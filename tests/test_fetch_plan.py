"""The report's fetch plan: monthly buckets for the history, days only where days are needed,
nothing asked twice, and monthly figures tied to the days wherever both exist."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from fakeapi import TOKEN, FakeGenerect
from helpers import frame

import generect_reports as g
from generect_reports import GenerectClient, fetch_usage
from generect_reports.analysis.usage import ANOMALY_WINDOW
from generect_reports.fetch import plan as FP
from generect_reports.outputs.report import YOY_MONTHS, build_report


def client_for(api: FakeGenerect) -> GenerectClient:
    return GenerectClient(TOKEN, api.url, sleep=lambda s: None)


def periods_asked(api: FakeGenerect) -> list[tuple[str, str, str]]:
    return [
        (r.params["period"], r.params["start_date"], r.params["end_date"])
        for r in api.usage_requests()
    ]


# --- the plan itself ------------------------------------------------------------------------


def test_plan_constants_follow_the_analysis():
    assert FP.LOOKBACK_DAYS == ANOMALY_WINDOW and FP.YOY_MONTHS == YOY_MONTHS


@pytest.mark.parametrize("history, months", [(3, 13), (12, 13), (13, 13), (24, 24), (36, 36)])
def test_closed_month_plan_is_the_floor(history, months):
    plan = FP.report_plan("2026-10", history, today=dt.date(2026, 11, 20))
    assert len(plan.days) == 31 + ANOMALY_WINDOW  # the month and its baseline
    assert plan.days[0].start == dt.date(2026, 9, 3) and plan.days[-1].end == dt.date(2026, 10, 31)
    # 2025-10 (year ago) .. 2026-09, whole months, and October itself to tie its days
    assert len(plan.months) == months and plan.months[-2:][0].label == "2026-09"
    assert plan.months[-1].label == "2026-10" and all(b.start.day == 1 for b in plan.months)
    assert len(plan.requests) == len(plan.days) + len(plan.months) <= 75 + max(0, history - 13)


def test_a_month_the_baseline_covers_is_not_asked_as_a_month():
    # 28 days before 1 March 2026 is 1 February: February comes whole from its days.
    plan = FP.report_plan("2026-03", 12, today=dt.date(2026, 4, 10))
    assert plan.day_start == dt.date(2026, 2, 1)
    assert "2026-02" not in [b.label for b in plan.months] and len(plan.months) == 12


def test_running_month_plan_has_the_like_for_like_days():
    plan = FP.report_plan("2026-11", 12, today=dt.date(2026, 11, 10))
    labels = [b.label for b in plan.days]
    # last year's first 9 complete days, then all of October (the previous month) to today
    assert labels[:9] == [f"2025-11-0{d}" for d in range(1, 10)]
    assert labels[9] == "2026-10-01" and labels[-1] == "2026-11-10"
    months = [b.label for b in plan.months]
    # no monthly bucket of October (its days are here) nor of the running month
    assert months[0] == "2025-11" and months[-1] == "2026-09" and len(months) == 11


def test_month_without_a_complete_day_is_refused():
    with pytest.raises(g.InputError, match="no complete day"):
        FP.report_plan("2026-11", 12, today=dt.date(2026, 11, 1))


# --- against the local API ------------------------------------------------------------------


def test_cold_report_sends_the_floor_and_the_next_month_only_its_days(api):
    cold = FP.fetch_report_usage("2026-05", 12, timezone="UTC", client=client_for(api))
    asked = periods_asked(api)
    assert len(asked) == cold.daily.attrs["requests"] == 72 <= 75
    assert sum(p == "month" for p, _, _ in asked) == 13
    assert sum(p == "day" for p, _, _ in asked) == 59
    api.requests.clear()
    nxt = FP.fetch_report_usage("2026-06", 12, timezone="UTC", client=client_for(api))
    # June's 30 days and June's own figure; May and the rest of the history are cached
    assert len(api.usage_requests()) == 31 <= 35
    assert all(s.startswith("2026-06") for _, s, _ in periods_asked(api))
    may = nxt.monthly[nxt.monthly["period"] == "2026-05"].set_index("operation")["credits"]
    assert may.to_dict() == {"email_find": 2.5 * 31, "search_database": 10.0 * 31}


def test_two_years_of_history_cost_eleven_more_monthly_requests(api):
    FP.fetch_report_usage("2026-05", 24, timezone="UTC", client=client_for(api))
    assert len(api.usage_requests()) == 72 + 11


def test_report_from_the_plan_equals_the_report_from_every_day(api):
    """The same figures as the old all-days fetch, from 72 requests instead of 424."""
    c = client_for(api)
    planned = FP.fetch_report_usage("2026-05", 12, timezone="UTC", client=c)
    every_day = fetch_usage("2025-04-03", "2026-05-31", timezone="UTC", client=c, cache=False)
    as_of = planned.daily.attrs["fetched_at"]
    a = build_report(planned.daily, "2026-05", monthly=planned.monthly, history=12, as_of=as_of)
    b = build_report(every_day, "2026-05", history=12, as_of=as_of)
    cols = ["operation", "credits", "previous_credits", "change", "yoy_credits", "estimated_cost"]
    pd.testing.assert_frame_equal(a.operations[cols], b.operations[cols])
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    assert (a.total, a.previous_total, a.yoy_total) == (b.total, b.previous_total, b.yoy_total)
    assert a.narrative == b.narrative and a.warnings == b.warnings


def test_a_closed_month_whose_days_are_cached_is_never_asked(api):
    c = client_for(api)
    fetch_usage("2025-03-01", "2025-03-31", period="day", timezone="UTC", client=c)
    api.requests.clear()
    month = fetch_usage("2025-03-01", "2025-04-30", period="month", timezone="UTC", client=c)
    assert periods_asked(api) == [("month", "2025-04-01", "2025-04-30")]
    assert month.groupby("period")["credits"].sum().to_dict() == {
        "2025-03": 387.5,
        "2025-04": 375.0,
    }


def cache_restated_march(api: FakeGenerect) -> GenerectClient:
    """Cache March 2025 as a month whose API figure is 20 credits above its days (a
    restatement, say), and its days; return the client."""
    c = client_for(api)
    api.fail(
        "names",
        times=1,
        when=lambda p: p.get("period") == "month",
        arg={"search_database": 330.0, "email_find": 77.5},
    )
    fetch_usage("2025-03-01", "2025-03-31", period="month", timezone="UTC", client=c)
    fetch_usage("2025-03-01", "2025-03-31", period="day", timezone="UTC", client=c)
    api.requests.clear()
    return c


def test_monthly_figure_that_disagrees_with_its_days_is_reported_and_used(api):
    c = cache_restated_march(api)
    month = fetch_usage("2025-03-01", "2025-03-31", period="month", timezone="UTC", client=c)
    assert api.usage_requests() == []
    (tie,) = month.attrs["tie_outs"]
    assert (tie.label, tie.bucket_total, tie.days_total, tie.difference) == (
        "2025-03",
        407.5,
        387.5,
        20.0,
    )
    assert tie.operations == {"search_database": 20.0}
    assert month["credits"].sum() == 407.5  # the API's monthly figure


def test_report_says_so_when_the_months_and_days_disagree():
    days = frame(
        [(f"2026-{m:02d}-{d:02d}", "search", 10.0) for m in (3, 4) for d in range(1, 31)]
        + [("2026-03-31", "search", 10.0)],
        fetched_at="2026-05-01",
    )
    months = frame(
        [("2026-02-01", "search", 280.0), ("2026-03-01", "search", 315.0)], period="month"
    )
    rep = build_report(days, "2026-04", monthly=months, history=3)
    (warning,) = [w for w in rep.warnings if "monthly figure" in w]
    assert "March 2026 is 315.00 credits but its days add up to 310.00" in warning
    assert "uses the monthly figure" in warning
    assert rep.previous_total == 315.0  # the API's monthly figure
    assert list(rep.monthly.loc["search"]) == [280.0, 315.0, 300.0]


def test_sample_report_from_the_plan_equals_the_report_from_every_day(sample):
    for month in ("2026-10", "2026-03", "2025-12"):
        planned = FP.load_sample_report_usage(month, 24)
        a = build_report(planned.daily, month, monthly=planned.monthly)
        b = build_report(sample, month)
        pd.testing.assert_frame_equal(a.operations, b.operations)
        pd.testing.assert_frame_equal(a.monthly, b.monthly)
        pd.testing.assert_frame_equal(a.anomalies, b.anomalies)
        assert a.narrative == b.narrative and a.notes == b.notes and a.warnings == b.warnings
        assert np.array_equal(a.daily_matrix.to_numpy(), b.daily_matrix.to_numpy())


def test_report_command_sends_at_most_75_requests(token_env, tmp_path):
    from click.testing import CliRunner

    from generect_reports.cli import cli

    out = CliRunner().invoke(
        cli,
        [
            "report",
            "--month",
            "2026-05",
            "--history",
            "12",
            "--timezone",
            "UTC",
            "--xlsx",
            str(tmp_path / "r.xlsx"),
            "--quiet",
        ],
    )
    assert out.exit_code == 0, out.output
    assert len(token_env.usage_requests()) == 72


def test_reported_month_is_tied_to_the_apis_monthly_figure(api):
    # The API's May figure is 5 credits above May's days.
    api.fail(
        "names",
        times=1,
        when=lambda p: p.get("period") == "month" and p["start_date"] == "2026-05-01",
        arg={"search_database": 315.0, "email_find": 77.5},
    )
    usage = FP.fetch_report_usage("2026-05", 12, timezone="UTC", client=client_for(api))
    rep = build_report(usage.daily, "2026-05", monthly=usage.monthly, history=12)
    (warning,) = [w for w in rep.warnings if "monthly figure" in w]
    assert warning.startswith(
        "The API's monthly figure for May 2026 is 392.50 credits but its days add "
        "up to 387.50 (a difference of +5.00)"
    )
    assert rep.total == 387.5  # the days, which the workbook's Daily sheet ties


def test_the_checksum_covers_both_frames_in_any_row_order():
    days = frame([("2026-04-01", "a", 1.0), ("2026-04-02", "b", 2.0)], fetched_at="2026-05-01")
    months = frame([("2026-03-01", "a", 5.0)], period="month")
    one = build_report(days, "2026-04", monthly=months, history=2).checksum
    shuffled = days.iloc[::-1]
    shuffled.attrs.update(days.attrs)
    assert build_report(shuffled, "2026-04", monthly=months, history=2).checksum == one
    other = months.assign(credits=5.000001)
    other.attrs.update(months.attrs)
    assert build_report(days, "2026-04", monthly=other, history=2).checksum != one
    assert build_report(days, "2026-04", history=2).checksum != one


# --- the quarter report -----------------------------------------------------------------------


def test_windows_plan_takes_whole_months_and_days_only_where_a_window_cuts_a_month():
    from generect_reports.analysis.calendar import FiscalCalendar
    from generect_reports.outputs.quarter import quarter_windows

    cal = FiscalCalendar()
    done = FP.windows_plan(
        quarter_windows("2026-Q1", cal, today=dt.date(2026, 6, 1)), today=dt.date(2026, 6, 1)
    )
    assert done.days == () and [b.label for b in done.months] == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    # 2026-Q2 on 10 May: days 1-40 of each quarter; April whole, then May 1-10, Feb 1-9,
    # May 1-10 2025
    running = FP.windows_plan(
        quarter_windows("2026-Q2", cal, today=dt.date(2026, 5, 10)), today=dt.date(2026, 5, 10)
    )
    assert [b.label for b in running.months] == ["2025-04", "2026-01", "2026-04"]
    labels = [b.label for b in running.days]
    assert len(labels) == 10 + 9 + 10 and labels[0] == "2025-05-01" and "2026-02-09" in labels
    assert "2026-02-10" not in labels


@pytest.mark.parametrize("today_quarter", [False, True], ids=["closed", "running"])
def test_quarter_report_from_the_plan_equals_the_report_from_every_day(
    api, token_env, tmp_path, today_quarter
):
    from generect_reports.analysis.calendar import FiscalCalendar
    from generect_reports.outputs.quarter import (
        build_quarter_report,
        quarter_window,
        quarter_windows,
    )
    from generect_reports.periods import get_timezone, local_today

    today = local_today(get_timezone("UTC"))
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}" if today_quarter else "2026-Q1"
    cal = FiscalCalendar()
    c = client_for(api)
    usage = FP.fetch_plan_usage(
        FP.windows_plan(quarter_windows(quarter, cal, today=today), today=today),
        timezone="UTC",
        client=c,
    )
    if not today_quarter:
        assert len(api.usage_requests()) == 9  # nine months, against 455 days
    first, last = quarter_window(quarter, cal)
    every_day = fetch_usage(first, last, timezone="UTC", client=c, cache=False)
    a = build_quarter_report(usage.daily, quarter, monthly=usage.monthly, calendar=cal)
    b = build_quarter_report(every_day, quarter, calendar=cal)
    pd.testing.assert_frame_equal(a.comparison, b.comparison)
    pd.testing.assert_frame_equal(a.by_month, b.by_month)
    assert (a.total, a.complete, a.elapsed_days, a.notes) == (
        b.total,
        b.complete,
        b.elapsed_days,
        b.notes,
    )


def test_quarter_command_asks_nine_monthly_buckets(token_env, tmp_path):
    from click.testing import CliRunner

    from generect_reports.cli import cli

    out = CliRunner().invoke(
        cli,
        [
            "report",
            "--quarter",
            "2026-Q1",
            "--timezone",
            "UTC",
            "--xlsx",
            str(tmp_path / "q.xlsx"),
            "--quiet",
        ],
    )
    assert out.exit_code == 0, out.output
    assert {r.params["period"] for r in token_env.usage_requests()} == {"month"}
    assert len(token_env.usage_requests()) == 9


def test_cold_report_against_a_rate_limited_server_is_exact():
    """72 requests against a server allowing 40 a second: no failed period, the same figures."""
    from fakeapi import simple_daily

    fake = FakeGenerect(
        daily=simple_daily(
            dt.date(2025, 1, 1), dt.date(2026, 6, 30), {"search_database": 10.0, "email_find": 2.5}
        ),
        rate_limit=40,
    ).start()
    try:
        # real waits: the limiter paces the run
        usage = FP.fetch_report_usage(
            "2026-05", 12, timezone="UTC", client=GenerectClient(TOKEN, fake.url), cache=False
        )
    finally:
        fake.stop()
    assert fake.rate_limited >= 1  # the limit was hit, and absorbed
    rep = build_report(usage.daily, "2026-05", monthly=usage.monthly, history=12)
    assert rep.total == 12.5 * 31 and rep.previous_total == 12.5 * 30 and rep.yoy_total == 12.5 * 31
    assert (
        list(rep.monthly.sum())
        == [12.5 * n for n in (31, 30, 31, 31, 30, 31, 30, 31, 31, 28, 31, 30, 31)][1:]
    )


def test_usage_command_says_when_a_month_and_its_days_disagree(token_env):
    import os
    import subprocess
    import sys

    cache_restated_march(token_env)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "generect_reports",
            "usage",
            "--start",
            "2025-03-01",
            "--end",
            "2025-03-31",
            "--period",
            "month",
            "--timezone",
            "UTC",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    assert token_env.usage_requests() == []
    assert (
        "2025-03 (407.50 credits) differs from the sum of its days (387.50, a difference of +20.00)"
        in out.stderr
    )
    assert out.stderr.count("differs from the sum of its days") == 1
    assert "330.0" in out.stdout


def test_running_month_report_from_the_plan_equals_the_report_from_every_day(api):
    """A month that is not over: like-for-like days of the previous month and of last year come
    from the plan's extra days, and every figure matches the all-days report."""
    c = client_for(api)
    plan = FP.report_plan("2026-05", 12, today=dt.date(2026, 5, 11))
    usage = FP.fetch_plan_usage(plan, timezone="UTC", client=c)
    assert not any(b.label == "2026-05" for b in plan.months)
    every_day = fetch_usage("2025-04-03", "2026-05-11", timezone="UTC", client=c, cache=False)
    as_of = pd.Timestamp("2026-05-11 09:30", tz="UTC")
    a = build_report(usage.daily, "2026-05", monthly=usage.monthly, history=12, as_of=as_of)
    b = build_report(every_day, "2026-05", history=12, as_of=as_of)
    assert not a.complete and a.elapsed_days == 10
    pd.testing.assert_frame_equal(a.operations, b.operations)
    pd.testing.assert_frame_equal(a.monthly, b.monthly)
    assert (a.previous_total, a.yoy_total, a.projection, a.projection_weekday) == (
        b.previous_total,
        b.yoy_total,
        b.projection,
        b.projection_weekday,
    )
    assert a.previous_total == 12.5 * 10 and a.yoy_total == 12.5 * 10
    assert a.narrative == b.narrative and a.warnings == b.warnings
