"""The notebook filter panel: setting widget values changes the filtered frame and redraws."""

import pytest

import generect_reports as g
from generect_reports.notebook.widgets import UsageExplorer, filter_usage


def test_filter_usage_months_operations_units(sample):
    got = filter_usage(sample, months=("2026-09", "2026-10"), operations=["phone_find", "preview"])
    assert list(got.index) == ["2026-09", "2026-10"] and list(got.columns) == ["preview", "phone_find"]
    mom = g.month_over_month(sample).set_index(["month", "operation"])["credits"]
    assert got.loc["2026-10", "phone_find"] == mom[("2026-10", "phone_find")]
    usd = filter_usage(sample, months=("2026-10", "2026-10"), operations=["phone_find"], unit="usd")
    assert usd.loc["2026-10", "phone_find"] == pytest.approx(mom[("2026-10", "phone_find")] * 0.40)


def test_filter_usage_week_and_day(sample):
    weeks = filter_usage(sample, months=("2026-03", "2026-03"), granularity="week")
    assert weeks.index[0] == "2026-W09" and weeks.to_numpy().sum() == pytest.approx(
        g.monthly_totals(sample).set_index("month").loc["2026-03", "credits"])
    days = filter_usage(sample, months=("2026-02", "2026-02"), granularity="day")
    assert len(days) == 28


def test_explorer_reacts_to_every_control(sample):
    ex = UsageExplorer(sample)
    assert ex.draw_count == 1 and ex.filtered.index[0] == "2025-01"
    ex.months.value = ("2026-01", "2026-03")
    assert list(ex.filtered.index) == ["2026-01", "2026-02", "2026-03"] and ex.draw_count == 2
    ex.operations.value = ("search_database",)
    assert list(ex.filtered.columns) == ["search_database"] and ex.draw_count == 3
    ex.granularity.value = "week"
    assert ex.filtered.index[0] == "2026-W01" and ex.draw_count == 4
    ex.unit.value = "usd"
    assert ex.filtered.to_numpy().sum() == pytest.approx(
        filter_usage(sample, months=("2026-01", "2026-03"), operations=["search_database"]).to_numpy().sum() * 0.02)
    assert ex.draw_count == 5
    assert len(ex.figure.axes[0].patches) == len(ex.filtered)
    assert bytes(ex.chart.value).startswith(b"\x89PNG")
    assert "search_database" in ex.table_view.value and "$" in ex.table_view.value


def test_explorer_with_empty_selection(sample):
    ex = UsageExplorer(sample)
    ex.operations.value = ()
    assert ex.filtered.empty and "No usage" in ex.table_view.value
