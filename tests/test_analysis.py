"""Analysis functions on tiny frames with known answers, and properties that must always hold."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from helpers import frame
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

import generect_reports as g
from generect_reports.errors import InputError

NAN = np.nan


def test_month_over_month_known_answer():
    usage = frame(
        [
            ("2026-01-05", "a", 10),
            ("2026-01-20", "a", 5),
            ("2026-01-07", "b", 4),
            ("2026-02-03", "a", 30),  # b absent in February
            ("2026-04-01", "b", 8),  # March has no usage at all
        ]
    )
    got = g.month_over_month(usage)
    want = pd.DataFrame(
        {
            "month": [
                "2026-01",
                "2026-01",
                "2026-02",
                "2026-02",
                "2026-03",
                "2026-03",
                "2026-04",
                "2026-04",
            ],
            "operation": ["a", "b"] * 4,
            "credits": [15, 4, 30, 0, 0, 0, 0, 8],
            "previous_credits": [NAN, NAN, 15, 4, 30, 0, 0, 0],
            "change": [NAN, NAN, 15, -4, -30, 0, 0, 8],
            "change_pct": [NAN, NAN, 1.0, -1.0, -1.0, NAN, NAN, NAN],
        }
    ).astype(
        {
            "month": str,
            "operation": str,
            "credits": float,
            "previous_credits": float,
            "change": float,
        }
    )
    assert_frame_equal(got, want)


def test_month_is_local_calendar_month_across_dst():
    # 2026-03-31 23:30 Kyiv is still March; 2026-10-25 is the DST end day
    usage = frame(
        [
            ("2026-03-31", "a", 1),
            ("2026-04-01", "a", 2),
            ("2026-10-25", "a", 4),
            ("2026-10-31", "a", 8),
        ]
    )
    got = g.monthly_totals(usage)
    assert got.set_index("month")["credits"].to_dict() == {
        "2026-03": 1.0,
        "2026-04": 2.0,
        "2026-05": 0.0,
        "2026-06": 0.0,
        "2026-07": 0.0,
        "2026-08": 0.0,
        "2026-09": 0.0,
        "2026-10": 12.0,
    }


def test_weekly_input_is_rejected_for_monthly_figures():
    usage = frame([("2026-03-30", "a", 1)], period="day")
    usage.attrs["period"] = "week"
    with pytest.raises(InputError, match="weekly"):
        g.month_over_month(usage)


def test_empty_frame():
    empty = frame([])
    assert g.month_over_month(empty).empty
    assert list(g.month_over_month(empty).columns) == [
        "month",
        "operation",
        "credits",
        "previous_credits",
        "change",
        "change_pct",
    ]
    assert g.operation_shares(empty).empty
    assert g.monthly_totals(empty).empty
    assert g.detect_anomalies(empty).empty


def test_operation_shares_sorted_and_summing_to_one():
    usage = frame(
        [
            ("2026-05-01", "a", 1),
            ("2026-05-02", "b", 3),
            ("2026-05-03", "c", 1),
            ("2026-06-01", "a", 100),
        ]
    )
    got = g.operation_shares(usage, "2026-05")
    want = pd.DataFrame(
        {"operation": ["b", "a", "c"], "credits": [3.0, 1.0, 1.0], "share": [0.6, 0.2, 0.2]}
    ).astype({"operation": str})
    assert_frame_equal(got, want)


def test_all_zero_shares_are_nan():
    got = g.operation_shares(frame([("2026-05-01", "a", 0), ("2026-05-01", "b", 0)]))
    assert got["share"].isna().all()


@pytest.mark.parametrize(
    "shares,want",
    [
        ([1 / 3, 1 / 3, 1 / 3], [33.4, 33.3, 33.3]),
        ([0.6667, 0.3333], [66.7, 33.3]),
        ([0.12345, 0.87655], [12.3, 87.7]),
        ([1.0], [100.0]),
    ],
)
def test_display_percentages_add_to_100(shares, want):
    got = g.display_percentages(shares)
    assert got.tolist() == want and round(got.sum(), 6) == 100.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30).filter(
        lambda v: sum(v) > 0
    )
)
def test_display_percentages_property(values):
    shares = np.asarray(values) / sum(values)
    got = g.display_percentages(shares)
    assert round(got.sum(), 6) == 100.0
    assert (np.abs(got - shares * 100) < 0.1 + 1e-9).all()


def test_variance_explains_the_change():
    usage = frame(
        [
            ("2026-01-01", "a", 100),
            ("2026-01-01", "b", 50),
            ("2026-02-01", "a", 80),
            ("2026-02-01", "b", 90),
            ("2026-02-01", "c", 5),
        ]
    )
    got = g.variance_by_operation(usage, "2026-02")
    assert got["operation"].tolist() == ["b", "a", "c"]
    assert got["change"].tolist() == [40.0, -20.0, 5.0]
    assert got["contribution"].sum() == pytest.approx(25 / 150)
    assert got["share_of_change"].sum() == pytest.approx(1.0)


def test_partial_month_like_for_like_and_projection():
    rows = [(f"2026-04-{d:02d}", "a", 10) for d in range(1, 31)] + [
        (f"2026-05-{d:02d}", "a", 12) for d in range(1, 11)
    ]
    usage = frame(rows, fetched_at="2026-05-11 09:30")
    cmp = g.partial_month_comparison(usage)
    assert (
        cmp.attrs["month"] == "2026-05"
        and cmp.attrs["elapsed_days"] == 10
        and not cmp.attrs["complete"]
    )
    assert cmp[["credits", "previous_credits", "change"]].iloc[0].tolist() == [120.0, 100.0, 20.0]
    assert cmp["change_pct"].iloc[0] == pytest.approx(0.2)
    proj = g.run_rate_projection(usage)
    assert proj.attrs["is_projection"] is True
    assert proj["projected_credits"].iloc[0] == pytest.approx(120 / 10 * 31)
    # weekday-aware: the trailing 28 days' mean by weekday for the 21 remaining days
    assert proj["projected_weekday"].iloc[0] == pytest.approx(
        120 + 21 * (18 * 10 + 10 * 12) / 28, rel=0.05
    )


def test_partial_month_caps_base_at_previous_month_length():
    rows = [(f"2026-02-{d:02d}", "a", 1) for d in range(1, 29)] + [
        (f"2026-03-{d:02d}", "a", 1) for d in range(1, 31)
    ]
    cmp = g.partial_month_comparison(frame(rows), "2026-03", as_of="2026-03-31 12:00")
    assert cmp.attrs["elapsed_days"] == 30 and cmp.attrs["previous_days"] == 28
    assert cmp["previous_credits"].iloc[0] == 28.0


def test_complete_month_comparison_equals_month_over_month(sample):
    cmp = g.partial_month_comparison(sample, "2026-09")
    mom = g.month_over_month(sample)
    mom = mom[mom["month"] == "2026-09"].set_index("operation")
    assert cmp.attrs["complete"]
    mom = mom[(mom["credits"] != 0) | (mom["previous_credits"] != 0)]
    assert (
        cmp.set_index("operation")["previous_credits"].to_dict()
        == mom["previous_credits"].to_dict()
    )
    assert cmp.set_index("operation")["credits"].to_dict() == mom["credits"].to_dict()


def test_anomalies_find_the_spike_only():
    rows = []
    for d in range(60):
        day = (dt.date(2026, 1, 1) + dt.timedelta(days=d)).isoformat()
        rows.append((day, "a", 100 + (d % 7)))
    rows[45] = (rows[45][0], "a", 900)
    got = g.detect_anomalies(frame(rows))
    assert got["day"].tolist() == [dt.date(2026, 2, 15)]
    assert got["baseline"].iloc[0] == pytest.approx(103)
    assert list(got.columns) == ["day", "operation", "credits", "baseline", "mad", "score"]
    assert g.detect_anomalies(frame(rows), min_credits=1000).empty


def test_sample_anomaly_is_the_october_spike(sample):
    got = g.detect_anomalies(sample)
    assert got[["day", "operation"]].values.tolist() == [[dt.date(2026, 10, 14), "search_realtime"]]


def test_estimate_cost_lists_unpriced():
    table = pd.DataFrame(
        {"operation": ["search_realtime", "phone_find", "mystery"], "credits": [100.0, 2.0, 5.0]}
    )
    got = g.estimate_cost(table)
    assert got["estimated_cost"].tolist() == pytest.approx([4.0, 0.8, 0.0])
    assert got.attrs["unpriced_operations"] == ["mystery"] and got.attrs["estimate"] is True
    assert g.estimate_cost(table, multiplier=0.5)["estimated_cost"].tolist() == pytest.approx(
        [2.0, 0.4, 0.0]
    )
    assert g.load_prices()["email_validation"] == 0.005


def test_row_order_does_not_matter(sample):
    shuffled = sample.sample(frac=1.0, random_state=7)
    shuffled.attrs = dict(sample.attrs)
    assert_frame_equal(g.month_over_month(shuffled), g.month_over_month(sample))
    assert_frame_equal(
        g.operation_shares(shuffled, "2026-10"), g.operation_shares(sample, "2026-10")
    )


ops = st.sampled_from(["a", "b", "c", "=cmd", "d"])
day_rows = st.lists(
    st.tuples(st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 31)), ops, st.integers(0, 10_000)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(day_rows)
def test_properties_of_monthly_figures(rows):
    usage = frame([(d.isoformat(), o, float(c)) for d, o, c in rows])
    mom = g.month_over_month(usage)
    assert mom["credits"].sum() == pytest.approx(usage["credits"].sum())
    later = mom[mom["previous_credits"].notna()]
    assert_series_equal(
        later["change"], later["credits"] - later["previous_credits"], check_names=False
    )
    assert not np.isinf(mom["change_pct"]).any()
    first = mom["month"].min()
    assert mom.loc[mom["month"] != first, "previous_credits"].notna().all()
    shares = g.operation_shares(usage)
    if shares["credits"].sum() > 0:
        assert shares["share"].sum() == pytest.approx(1.0)
    totals = g.monthly_totals(usage)
    assert totals["credits"].sum() == pytest.approx(usage["credits"].sum())
