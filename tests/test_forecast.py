"""Projections replayed over hand-built histories with known answers: intervals, the published
accuracy, anomalies shown with and without, recurring top-ups and the runway."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import frame

from generect_reports import load_sample
from generect_reports.analysis.budget import budget_status
from generect_reports.analysis.forecast import (
    MIN_HISTORY_MONTHS,
    SHORT_SPREAD,
    TopUps,
    detect_topups,
    month_forecast,
    parse_topups,
    replay_projections,
    runway_with_topups,
)
from generect_reports.errors import ConfigError


def _history(first: str, last: str, credits) -> pd.DataFrame:
    """One operation, ``credits(day)`` every day from ``first`` to ``last``."""
    days = pd.date_range(first, last)
    return frame([(d.date().isoformat(), "a", float(credits(d))) for d in days])


def _weekly(day: pd.Timestamp) -> float:
    return 5.0 if day.day_of_week >= 5 else 20.0  # quiet weekends


def test_a_perfectly_regular_history_has_zero_error_and_a_collapsed_interval():
    usage = _history("2025-01-01", "2026-05-09", _weekly)
    got = month_forecast(usage, as_of="2026-05-10T00:00")
    may = pd.date_range("2026-05-01", "2026-05-31")
    assert got.projected == pytest.approx(sum(map(_weekly, may)))
    assert got.used == sum(_weekly(d) for d in may[:9])
    assert got.interval_80 == pytest.approx((got.projected, got.projected))
    assert got.interval_95 == pytest.approx((got.projected, got.projected))
    assert got.history_months == 12 and not got.short_history
    acc = got.accuracy
    assert (acc.months, acc.mape_day7, acc.mape_day14, acc.mape_day21) == (12, 0.0, 0.0, 0.0)
    assert acc.coverage_80 == 1.0
    assert acc.measured[0] == "2025-05" and acc.measured[-1] == "2026-04"
    assert got.accuracy_without_anomalies is None and got.anomaly_months == ()
    replay = got.replay
    assert replay["ape"].abs().max() == pytest.approx(0.0)
    # Every day of every month with a full lookback before it (February 2025 on), to April 2026.
    assert replay["month"].iloc[0] == "2025-02" and replay["month"].iloc[-1] == "2026-04"
    assert len(replay) == (pd.Timestamp("2026-04-30") - pd.Timestamp("2025-02-01")).days + 1


def test_the_projection_is_the_status_projection_on_the_sample():
    usage = load_sample("2025-01-01", "2026-10-31")
    for as_of in ("2026-10-01T00:00", "2026-10-15T09:00", "2026-10-31T00:00"):
        got = month_forecast(usage, as_of=as_of)
        status = budget_status(usage, None, limit=30000, as_of=as_of)
        assert got.projected == pytest.approx(status.attrs["projected_credits"], abs=1e-6)
        assert got.used == pytest.approx(status.attrs["used_credits"], abs=1e-6)
        low, high = got.interval_80
        assert got.interval_95[0] <= low <= high <= got.interval_95[1]


def test_a_step_change_is_measured_where_it_happens():
    usage = _history(
        "2025-01-01", "2026-06-30", lambda d: 10.0 if d < pd.Timestamp("2026-04-01") else 20.0
    )
    replay = replay_projections(usage, as_of="2026-07-01T00:00").set_index(
        ["month", "elapsed_days"]
    )
    # 1 April: the window is all 10s, the month ends at 30 × 20.
    assert replay.loc[("2026-04", 0), "projected"] == 300.0
    assert replay.loc[("2026-04", 0), ["actual", "ratio", "ape"]].tolist() == [600.0, 2.0, 0.5]
    # After 7 days: 140 used; every weekday's mean is (3 × 10 + 20) / 4 = 12.5 for 23 days.
    assert replay.loc[("2026-04", 7), "projected"] == 140 + 23 * 12.5
    assert replay.loc[("2026-04", 7), "ape"] == pytest.approx(172.5 / 600)
    # A month later the window has caught up: no error again.
    assert replay.loc[("2026-05", 0), "ape"] == 0.0 and replay.loc[("2026-03", 0), "ape"] == 0.0
    got = month_forecast(usage, as_of="2026-07-08T00:00")
    assert got.accuracy.mape_day7 == 0.0  # the median month is still exact
    # The one month that under-projected by half widens the interval above the projection.
    low, high = got.interval_95
    assert low == pytest.approx(got.projected) and high > got.projected
    assert got.accuracy.coverage_80 < 1.0  # April fell outside the interval the months before gave


def test_short_history_is_wide_and_says_so():
    usage = _history("2026-01-01", "2026-05-09", lambda d: 10.0)
    got = month_forecast(usage, as_of="2026-05-10T00:00")
    assert got.short_history and got.history_months == 3 < MIN_HISTORY_MONTHS
    assert got.projected == 310.0
    spread = SHORT_SPREAD[0.80] * 22 / 31  # 22 of 31 days still to come
    assert got.interval_80 == pytest.approx((310 * (1 - spread), 310 * (1 + spread)))
    assert got.interval_95[1] - got.interval_95[0] > got.interval_80[1] - got.interval_80[0]
    # Never below what is already used.
    early = month_forecast(_history("2026-05-01", "2026-05-20", lambda d: 10.0), as_of="2026-05-21")
    assert early.history_months == 0 and early.interval_95[0] >= early.used == 200.0


def test_an_anomaly_month_is_shown_with_and_without_it():
    def spiky(day: pd.Timestamp) -> float:
        return 600.0 if day == pd.Timestamp("2026-03-18") else 10.0

    usage = _history("2025-01-01", "2026-05-09", spiky)
    got = month_forecast(usage, as_of="2026-05-10T00:00")
    assert got.anomaly_months == ("2026-03",)
    with_it, without = got.accuracy, got.accuracy_without_anomalies
    # March projected after 7 and 14 days missed the spike: 590 of 900 credits.
    march = got.replay.set_index(["month", "elapsed_days"]).loc["2026-03"]
    assert march.loc[7, "ape"] == pytest.approx(590 / 900)
    assert march.loc[21, "ape"] > 0  # the spike sits in April's lookback window too
    assert without is not None and without.mape_day7 == 0.0 and without.coverage_80 == 1.0
    assert with_it.coverage_80 < 1.0


def test_accuracy_on_the_sample_is_published_and_the_80_interval_holds_about_80_percent():
    usage = load_sample("2025-01-01", "2026-10-31")
    got = month_forecast(usage, as_of="2026-11-01T00:00")
    acc = got.accuracy
    assert acc.months == 12 and acc.measured == tuple(
        str(p) for p in pd.period_range("2025-11", "2026-10", freq="M")
    )
    assert 0 < acc.mape_day21 < acc.mape_day14 < acc.mape_day7 < 0.05
    assert 0.7 <= acc.coverage_80 <= 0.95
    assert got.interval_80[0] < got.projected < got.interval_80[1]
    assert acc.to_dict() == {
        "months": 12,
        "mape_day7": round(acc.mape_day7, 4),
        "mape_day14": round(acc.mape_day14, 4),
        "mape_day21": round(acc.mape_day21, 4),
        "coverage_80": round(acc.coverage_80, 4),
    }


def test_remaining_factors_reproduce_the_interval():
    usage = load_sample("2025-01-01", "2026-10-31")
    got = month_forecast(usage, as_of="2026-10-12T00:00")
    f_lo, f_hi = got.remaining_factors(0.80)
    ahead = got.projected - got.used
    assert got.used + f_lo * ahead == pytest.approx(got.interval_80[0])
    assert got.used + f_hi * ahead == pytest.approx(got.interval_80[1])


def test_sample_top_ups_are_detected_from_the_ledger():
    from generect_reports.fetch.ledger import load_sample_ledger

    ledgers = [load_sample_ledger(m).ledger for m in ("2026-08", "2026-09", "2026-10")]
    ledger = pd.concat(ledgers, ignore_index=True)
    got = detect_topups(ledger, as_of=pd.Timestamp("2026-11-01T00:00", tz="Europe/Kyiv"))
    assert got == TopUps("month", 34000.0, 1, source="ledger")
    # Two months of top-ups are not a pattern yet.
    assert detect_topups(ledger, as_of=pd.Timestamp("2026-10-15", tz="Europe/Kyiv")) is None


@pytest.mark.parametrize(
    "value, fragment",
    [
        ({"every": "year", "credits": 1}, 'every must be "month" or "week"'),
        ({"every": "month", "credits": 0}, "credits must be a number more than zero"),
        ({"every": "month", "credits": 5, "day": 31}, "day must be a whole number from 1 to 28"),
        ({"credits": 5, "when": 1}, "unknown setting 'when'"),
        ("sometimes", "must be a table"),
    ],
)
def test_bad_topups_are_config_errors(value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_topups(value)


def test_runway_with_and_without_topups():
    today = pd.Timestamp("2026-01-25")
    plain = runway_with_topups(100.0, 10.0, today, None)
    assert (plain.days, plain.run_out_date) == (10.0, pd.Timestamp("2026-02-03"))
    # 70 burnt to 31 January (30 left), +50 on 1 February: 80 more credits, 8 more days.
    monthly = TopUps("month", 50.0)
    got = runway_with_topups(100.0, 10.0, today, monthly)
    assert (got.days, got.run_out_date) == (15.0, pd.Timestamp("2026-02-08"))
    # Top-ups larger than a month's burn: the balance never runs out.
    never = runway_with_topups(100.0, 10.0, today, TopUps("month", 400.0))
    assert math.isinf(never.days) and never.run_out_date is None
    assert never.to_dict() == {"days": None, "unlimited": True, "run_out_date": None}
    weekly = runway_with_topups(100.0, 10.0, today, TopUps("week", 35.0, day=0))
    # 90 left on 25 January; +35 on Mondays (26 Jan, 2 and 9 Feb): 115, 55, 80, 20, 45 on the
    # Monday evening, 5 left on 13 February, half of 14 February's burn.
    assert weekly.run_out_date == pd.Timestamp("2026-02-14") and weekly.days == 20.5


def test_replay_is_vectorised_and_matches_the_projection_day_by_day():
    """The replayed projection of a few days equals run_rate_projection made on that day."""
    from generect_reports.analysis.usage import run_rate_projection

    usage = load_sample("2025-06-01", "2026-10-31")
    replay = replay_projections(usage, as_of="2026-11-01T00:00").set_index(
        ["month", "elapsed_days"]
    )
    for month, elapsed in (("2026-03", 1), ("2026-06", 12), ("2026-10", 30)):
        day = pd.Timestamp(f"{month}-01") + pd.Timedelta(days=elapsed)
        proj = run_rate_projection(usage, month, as_of=day.tz_localize("Europe/Kyiv"))
        assert replay.loc[(month, elapsed), "projected"] == pytest.approx(
            proj["projected_weekday"].sum()
        )
    assert np.isfinite(replay["ratio"]).all()


def test_a_running_months_report_notes_state_the_measured_accuracy():
    from generect_reports import ReportSettings, monthly_report
    from generect_reports.fetch.sample import SampleSource

    running = monthly_report(
        SampleSource(), "2026-10", ReportSettings(as_of="2026-10-15T08:00", history=3)
    )
    assert running.notes[-1] == (
        "Month-end projection 33,697 credits, 80% interval 32,902 to 34,698 (from the account's "
        "own history); median error 1.8% at day 7, 0.9% at day 14, 0.3% at day 21 over the last "
        "12 month(s); the 80% interval held the actual 86% of the time."
    )
    assert round(running.projection_weekday) == 33697
    closed = monthly_report(SampleSource(), "2026-09", ReportSettings(history=3))
    assert not any("80% interval" in n for n in closed.notes)


def test_the_burn_up_band_in_the_pdf_page_and_the_budget_sheet(tmp_path):
    import openpyxl
    import xlsxwriter

    from generect_reports import ReportSettings, monthly_report
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.render.budget import add_budget_sheet, budget_page

    rep = monthly_report(
        SampleSource(), "2026-10", ReportSettings(as_of="2026-10-15T08:00", history=3)
    )
    burnup, status = rep.sections.burnup, rep.sections.budget
    # The band ends on the month-end interval and starts at the last actual day.
    assert (round(burnup["low"].iloc[-1]), round(burnup["high"].iloc[-1])) == (32902, 34698)
    start = burnup["projected"].first_valid_index()
    assert burnup.loc[start, "low"] == burnup.loc[start, "high"] == burnup.loc[start, "cumulative"]
    assert burnup["low"].iloc[:start].isna().all()
    assert status.loc[0, "interval_80_low"] == pytest.approx(burnup["low"].iloc[-1])

    fig = budget_page(status, burnup)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "80% interval (from past months)" in legend

    path = tmp_path / "budget.xlsx"
    with xlsxwriter.Workbook(path) as wb:
        add_budget_sheet(wb, status, burnup)
    ws = openpyxl.load_workbook(path)["Budget"]
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Day")
    assert header[:7] == (
        "Day",
        "Credits",
        "Cumulative",
        "Projected",
        "Limit / budget",
        "80% interval low",
        "80% interval high",
    )
    last = [r for r in ws.iter_rows(values_only=True) if r[0] is not None][-1]
    assert (round(last[5]), round(last[6])) == (32902, 34698)
    # A complete month has no projection, hence no band.
    closed = monthly_report(SampleSource(), "2026-09", ReportSettings(history=3)).sections
    assert closed.burnup["low"].isna().all()


def test_the_email_sentence_states_the_interval():
    from generect_reports import ReportSettings, monthly_report
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.render.budget import budget_summary

    rep = monthly_report(
        SampleSource(), "2026-10", ReportSettings(as_of="2026-10-15T08:00", history=3)
    )
    (sentence,) = budget_summary(rep.sections.budget)
    assert sentence.endswith(
        "; projected 112.3% at month end (an estimate, 80% interval 32,902 to 34,698), "
        "reaching it on 2026-10-28."
    )


def test_a_running_month_shows_one_projection_with_its_interval_everywhere():
    """The sentence, the key figure, the exceptions block, the dashboard tile and the plan
    limit line all show the weekday-aware projection, each with the same 80% interval."""
    from generect_reports import ReportSettings, monthly_report
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.notebook.dashboard import month_kpis
    from generect_reports.reports.exceptions import report_exceptions
    from generect_reports.reports.presentation import kpis

    rep = monthly_report(
        SampleSource(), "2026-10", ReportSettings(as_of="2026-10-11T09:30", history=3)
    )
    f = rep.formats
    limit = rep.sections.budget.iloc[0]
    # The one projection: the plan limit's, the replayed forecast's and the model's figure.
    assert rep.projection == rep.forecast.projected == pytest.approx(limit["projected"])
    usage = load_sample("2024-09-01", "2026-10-10")
    status = budget_status(usage, "2026-10", limit=30000, as_of="2026-10-11T09:30")
    assert rep.projection == pytest.approx(status.attrs["projected_credits"])
    shown = f.projection(rep.projection)
    low, high = (f.projection(v) for v in rep.forecast.interval_80)
    assert (limit["interval_80_low"], limit["interval_80_high"]) == pytest.approx(
        rep.forecast.interval_80
    )
    assert (
        f"end near {shown} credits (an estimate: 80% interval {low} to {high}; median error"
        in (rep.narrative[0])
    )
    (tile,) = [k for k in kpis(rep) if k.label == "Projected month end"]
    assert tile.value == shown and tile.detail.startswith(f"{low}–{high} at 80%; median error ")
    (over,) = [e.text for e in report_exceptions(rep) if "Projected over" in e.text]
    assert f"{shown} credits at month end" in over and f"80% interval {low} to {high}" in over
    (dash,) = [t for t in month_kpis(rep) if t[0] == "Month-end projection"]
    assert dash[1] == shown and f"80% interval {low}–{high}" in dash[2]
    # The linear run rate is shown nowhere.
    linear = f.projection(rep.total / rep.elapsed_days * rep.days_in_month)
    assert linear != shown
    texts = [*rep.narrative, tile.detail, over, dash[2], *rep.notes]
    assert not any(linear in t for t in texts)
