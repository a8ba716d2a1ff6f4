"""The notebook explorer: pure filtering, and every control of the panel driven as a click would."""

import base64
import csv
import dataclasses
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

import generect_reports as g
from generect_reports.notebook.tables import show, styled, with_total_row
from generect_reports.notebook.widgets import (
    DAY_LINE_THRESHOLD,
    UsageExplorer,
    compare_periods,
    filter_usage,
    shift_range,
    view_rows,
)


def test_filter_usage_months_operations_units(sample):
    got = filter_usage(sample, months=("2026-09", "2026-10"), operations=["phone_find", "preview"])
    assert list(got.index) == ["2026-09", "2026-10"] and list(got.columns) == [
        "preview",
        "phone_find",
    ]
    mom = g.month_over_month(sample).set_index(["month", "operation"])["credits"]
    assert got.loc["2026-10", "phone_find"] == mom[("2026-10", "phone_find")]
    usd = filter_usage(sample, months=("2026-10", "2026-10"), operations=["phone_find"], unit="usd")
    assert usd.loc["2026-10", "phone_find"] == pytest.approx(mom[("2026-10", "phone_find")] * 0.40)


def test_filter_usage_week_and_day(sample):
    weeks = filter_usage(sample, months=("2026-03", "2026-03"), granularity="week")
    assert weeks.index[0] == "2026-W09" and weeks.to_numpy().sum() == pytest.approx(
        g.monthly_totals(sample).set_index("month").loc["2026-03", "credits"]
    )
    days = filter_usage(sample, months=("2026-02", "2026-02"), granularity="day")
    assert len(days) == 28 and days.attrs["partial"] == []


def test_filter_usage_equals_a_pivot_of_the_tidy_rows(sample):
    """The array path gives exactly what a pandas pivot of the rows gives."""
    rows = sample[
        (sample["period_start"].dt.strftime("%Y-%m-%d") >= "2025-11-05")
        & (sample["period_start"].dt.strftime("%Y-%m-%d") <= "2026-02-10")
    ]
    iso = rows["period_start"].dt.tz_localize(None).dt.isocalendar()
    label = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    want = rows.assign(week=label).pivot_table(
        index="week", columns="operation", values="credits", aggfunc="sum", fill_value=0.0
    )
    got = filter_usage(sample, dates=("2025-11-05", "2026-02-10"), granularity="week")
    pd.testing.assert_frame_equal(
        got.sort_index(axis=1), want.sort_index(axis=1), check_names=False
    )
    assert got.attrs["partial"] == ["2025-W45", "2026-W07"]


def test_partial_periods_at_the_edges(sample):
    october = filter_usage(sample, months=("2026-10", "2026-10"), granularity="week")
    # 1 October 2026 is a Thursday; the data ends on Saturday 31 October.
    assert october.attrs["partial"] == ["2026-W40", "2026-W44"]
    months = filter_usage(sample, dates=("2026-09-15", "2026-10-31"), granularity="month")
    assert months.attrs["partial"] == ["2026-09"]


def test_shift_range_keeps_whole_months():
    assert shift_range("2026-10-01", "2026-10-31", 1) == (
        pd.Timestamp("2026-09-01"),
        pd.Timestamp("2026-09-30"),
    )
    assert shift_range("2026-03-01", "2026-03-31", 1) == (
        pd.Timestamp("2026-02-01"),
        pd.Timestamp("2026-02-28"),
    )
    assert shift_range("2026-10-05", "2026-10-20", 12) == (
        pd.Timestamp("2025-10-05"),
        pd.Timestamp("2025-10-20"),
    )


def test_compare_periods_month_over_month(sample):
    got = compare_periods(
        sample, ("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31")
    ).set_index("operation")
    mom = g.month_over_month(sample)
    mom = mom[mom["month"] == "2026-10"].set_index("operation")
    mom = mom[(mom["credits"] != 0) | (mom["previous_credits"] != 0)]
    assert sorted(got.index) == sorted(mom.index)
    np.testing.assert_allclose(got.loc[mom.index, "b"], mom["credits"])
    np.testing.assert_allclose(got.loc[mom.index, "a"], mom["previous_credits"])
    np.testing.assert_allclose(
        got.loc[mom.index, "change_pct"].fillna(-9), mom["change_pct"].fillna(-9)
    )


def test_view_rows_is_the_filtered_view_in_tidy_form(sample):
    rows = view_rows(sample, months=("2026-07", "2026-10"), operations=["phone_find", "email_find"])
    wide = rows.pivot_table(index="period", columns="operation", values="credits", aggfunc="sum")
    want = filter_usage(
        sample, months=("2026-07", "2026-10"), operations=["phone_find", "email_find"]
    )
    pd.testing.assert_frame_equal(wide[want.columns], want, check_names=False)
    assert (
        str(rows["period_start"].dt.tz) == "Europe/Kyiv" and rows.attrs["timezone"] == "Europe/Kyiv"
    )


def test_explorer_reacts_to_every_control(sample):
    ex = UsageExplorer(sample)
    assert ex.draw_count == 1 and ex.filtered.index[0] == "2025-01"
    ex.months.value = ("2026-01", "2026-03")
    assert list(ex.filtered.index) == ["2026-01", "2026-02", "2026-03"] and ex.draw_count == 2
    assert (ex.start.value.isoformat(), ex.end.value.isoformat()) == ("2026-01-01", "2026-03-31")
    ex.operations.value = ("search_database",)
    assert list(ex.filtered.columns) == ["search_database"] and ex.draw_count == 3
    ex.granularity.value = "week"
    assert ex.filtered.index[0] == "2026-W01" and ex.draw_count == 4
    ex.unit.value = "usd"
    assert ex.filtered.to_numpy().sum() == pytest.approx(
        filter_usage(sample, months=("2026-01", "2026-03"), operations=["search_database"])
        .to_numpy()
        .sum()
        * 0.02
    )
    assert ex.draw_count == 5
    partial = ex.filtered.attrs["partial"]
    assert partial == ["2026-W01", "2026-W14"]
    # One set of bars per operation, a bar per week, and one hatched band per partial week.
    ax = ex.figure.axes[0]
    assert [len(c.get_paths()) for c in ax.collections] == [len(ex.filtered)] * len(
        ex.filtered.columns
    )
    assert len(ax.patches) == len(partial)
    assert ex.chart_png.startswith(b"\x89PNG")
    assert "search_database" in ex.table_view.value and "$" in ex.table_view.value
    assert "Partial periods" in ex.table_view.value


def test_chart_is_drawn_at_twice_its_box(sample):
    ex = UsageExplorer(sample, chart_size=(900, 380))
    png = ex.chart_png
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1800, 760)
    assert 'width="900" height="380"' in ex.chart.value and "max-width:100%" in ex.chart.value
    assert base64.b64encode(png).decode() in ex.chart.value


def test_charts_state_their_figures_in_their_alt_text(sample):
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-09", "2026-10")
    total = ex.filtered.to_numpy().sum()
    top = ex.filtered.sum().sort_values(ascending=False)
    assert ex.chart_alt == (
        f"Chart: Credits by month, 01 Sep 2026 – 31 Oct 2026. Total {total:,.0f} credits over "
        f"2 months. Largest: {top.index[0]} {top.iloc[0]:,.0f} credits, {top.index[1]} "
        f"{top.iloc[1]:,.0f} credits, {top.index[2]} {top.iloc[2]:,.0f} credits and "
        f"{len(top) - 3} more. Highest month: 2026-10 with "
        f"{ex.filtered.loc['2026-10'].sum():,.0f} credits."
    )
    assert f'alt="{ex.chart_alt}"' in ex.chart.value
    ex.unit.value = "usd"
    assert "Total $" in ex.chart_alt
    ex.tabs.selected_index = 2
    assert ex.drill_alt.startswith(f"Chart: {ex.drill.value}, credits per day")
    assert 'class="generect-drill-chart" alt="Chart: ' in ex.drill_chart.value


def test_legend_follows_the_stack(sample):
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-09", "2026-10")
    labels = [t.get_text() for t in ex.figure.axes[0].get_legend().get_texts()]
    # Largest operation at the bottom of the stack, so last in the legend.
    assert labels == list(ex.filtered.columns)[::-1]


def test_day_view_over_the_whole_sample_draws_lines(sample):
    ex = UsageExplorer(sample)
    ex.granularity.value = "day"
    assert len(ex.filtered) > DAY_LINE_THRESHOLD
    ax = ex.figure.axes[0]
    assert len(ax.lines) == len(ex.filtered.columns) and len(ax.collections) == 0
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == list(ex.filtered.columns)  # lines are not stacked: largest first
    ex.months.value = ("2026-10", "2026-10")
    ax = ex.figure.axes[0]
    assert len(ax.lines) == 0 and [len(c.get_paths()) for c in ax.collections] == [31] * len(
        ex.filtered.columns
    )


def test_explorer_with_empty_selection(sample):
    ex = UsageExplorer(sample)
    ex.select_none.click()
    assert ex.operations.value == () and ex.filtered.empty and "No usage" in ex.table_view.value
    texts = [t.get_text() for t in ex.figure.axes[0].texts]
    assert texts == ["No usage in this selection"]
    ex.select_all.click()
    assert set(ex.filtered.columns) == set(sample["operation"])


def test_totals_table_whole_credits_total_row_and_shares(sample):
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-10", "2026-10")
    table = pd.read_html(io.StringIO(ex.table_view.value))[0]
    assert table["operation"].iloc[-1] == "Total"
    total = filter_usage(sample, months=("2026-10", "2026-10")).to_numpy().sum()
    assert table["credits"].iloc[-1] == total and "<td" in ex.table_view.value
    assert f">{total:,.0f}<" in ex.table_view.value and ".00" not in ex.table_view.value
    assert table["share"].iloc[-1] == "100.0%"


def test_date_pickers_select_days(sample):
    ex = UsageExplorer(sample)
    ex.granularity.value = "day"
    before = ex.draw_count
    ex.start.value = pd.Timestamp("2026-10-10").date()
    ex.end.value = pd.Timestamp("2026-10-20").date()
    assert list(ex.filtered.index) == [f"2026-10-{d}" for d in range(10, 21)]
    assert ex.draw_count == before + 2
    ex.end.value = pd.Timestamp("2026-10-01").date()
    assert "start date" in ex.status.value and ex.draw_count == before + 2


def test_compare_tab(sample):
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-10", "2026-10")
    assert ex.compared.empty  # computed when its tab opens, not on every change
    ex.tabs.selected_index = 1
    assert (ex.a_start.value.isoformat(), ex.a_end.value.isoformat()) == (
        "2026-09-01",
        "2026-09-30",
    )
    want = compare_periods(sample, ("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31"))
    pd.testing.assert_frame_equal(ex.compared, want)
    assert "change %" in ex.compare_view.value
    ex.compare_mode.value = "yoy"
    assert ex.a_start.value.isoformat() == "2025-10-01"
    assert ex.compare_verdict.ok and "change %" in ex.compare_view.value
    ex.compare_mode.value = "custom"
    ex.a_start.value = pd.Timestamp("2026-01-01").date()
    ex.a_end.value = pd.Timestamp("2026-01-31").date()
    want = compare_periods(sample, ("2026-01-01", "2026-01-31"), ("2026-10-01", "2026-10-31"))
    pd.testing.assert_frame_equal(ex.compared, want)


def test_drill_down_series_anomalies_and_share(sample):
    ex = UsageExplorer(sample)
    anomaly = g.detect_anomalies(sample).iloc[0]
    ex.drill.value = anomaly["operation"]
    ex.tabs.selected_index = 2
    axes = ex.drill_figure.axes
    assert len(axes) == 2 and len(axes[0].lines[0].get_xdata()) == len(ex.grid.days)
    assert len(axes[0].collections) == 1  # the anomaly markers
    assert str(anomaly["day"]) in ex.drill_view.value
    # Formatted as the report shows it: whole credits, the score to one decimal.
    text = ex.drill_view.value
    assert f">{anomaly['credits']:,.0f}<" in text and f">{anomaly['score']:,.1f}<" in text
    assert "000000<" not in text and "Score (× MAD)" in text
    assert len(axes[1].patches) == len(ex.grid.months())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_writes_the_filtered_view(sample, tmp_path, fmt):
    ex = UsageExplorer(sample, export_dir=tmp_path)
    ex.months.value = ("2026-08", "2026-10")
    ex.operations.value = ("search_database", "phone_find")
    ex.granularity.value = "week"
    ex.export_format.value = fmt
    ex.export_button.click()
    path = ex.last_export
    assert path is not None and path.parent == tmp_path and path.suffix == "." + fmt
    frame = _read_export(path)
    assert list(frame.columns) == ["period_start", "period", "partial", "operation", "credits"]
    got = frame.pivot_table(index="period", columns="operation", values="credits", aggfunc="sum")
    pd.testing.assert_frame_equal(got[ex.filtered.columns], ex.filtered, check_names=False)
    # August starts the range on its first day, October is the data's last month: the weeks cut
    # by the range's ends are flagged, the others not.
    flagged = set(frame.loc[frame["partial"].astype(str).isin(["True", "1"]), "period"])
    assert flagged == set(ex.filtered.attrs["partial"]) and flagged
    link = ex.export_view.value
    assert f'download="{path.name}"' in link
    encoded = link.split("base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == path.read_bytes()


def _read_export(path):
    """An exported view: the header must be the first row, in CSV and in the workbook."""
    if path.suffix == ".csv":
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
        frame = pd.DataFrame(rows)
    else:
        sheet = openpyxl.load_workbook(path)["View"]
        values = list(sheet.iter_rows(values_only=True))
        frame = pd.DataFrame(values[1:], columns=values[0])
    money = [c for c in ("credits", "estimated_usd") if c in frame]
    return frame.astype(dict.fromkeys(money, float))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_follows_the_unit_on_screen(sample, tmp_path, fmt):
    ex = UsageExplorer(sample, export_dir=tmp_path)
    ex.months.value = ("2026-09", "2026-10")
    ex.unit.value = "usd"
    ex.export_format.value = fmt
    frame = _read_export(ex.export())
    assert list(frame.columns)[-2:] == ["credits", "estimated_usd"]
    got = frame.pivot_table(
        index="period", columns="operation", values="estimated_usd", aggfunc="sum"
    )
    # The dollars on screen, to the cent.
    pd.testing.assert_frame_equal(
        got[ex.filtered.columns].round(2), ex.filtered.round(2), check_names=False
    )
    assert "usd" in ex.last_export.name and "estimated USD" in ex.export_view.value


def test_timezone_choice_reloads_live_data(sample):
    calls = []

    def loader(tz):
        calls.append(tz)
        frame = sample.copy()
        frame["period_start"] = frame["period_start"].dt.tz_localize(None).dt.tz_localize(tz)
        frame.attrs.update(sample.attrs, timezone=tz)
        return frame

    ex = UsageExplorer(sample, loader=loader)
    assert not ex.timezone.disabled
    ex.timezone.value = "UTC"
    assert calls == ["UTC"] and ex.grid.timezone == "UTC"
    assert UsageExplorer(sample).timezone.disabled


def test_untrusted_view_falls_back_to_a_picture(sample):
    ex = UsageExplorer(sample)
    bundle, meta = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert "VBox" not in bundle["text/plain"] and meta["image/png"]["width"] == 900


def test_styled_tables_are_deterministic():
    frame = with_total_row(
        pd.DataFrame(
            {
                "operation": ["a", "b"],
                "credits": [1200.0, 3.0],
                "change": [5.0, -2.0],
                "change_pct": [0.025980, -0.5],
            }
        ),
        label_column="operation",
        sum_columns=["credits", "change"],
    )
    first = show(
        frame, credits=["credits"], signed=["change"], signed_percent=["change_pct"], total=True
    ).data
    again = show(
        frame, credits=["credits"], signed=["change"], signed_percent=["change_pct"], total=True
    ).data
    assert first == again and "T_fixed" not in first
    other = show(frame.head(2), credits=["credits"]).data
    ids = {text.split('"')[0] for text in (first.split('id="T_')[1], other.split('id="T_')[1])}
    assert len(ids) == 2  # two tables on one page never share cell ids
    for text in ("1,200", "+5", "-2", "+2.6%", "Total", "1,203"):
        assert text in first
    assert "1,200.00" not in first
    assert "font-weight: bold" in styled(frame, total=True).to_html()


def test_dollar_view_is_the_report_cost_line_split_over_days(sample):
    """The explorer's dollars are the price book's: a month is the report's cost line to the
    cent (October's email_validation, 3,387 × $0.005 = $16.935, is $16.94, not 16.935), its
    days and weeks add up to it exactly, and a tier multiplier applies (0.75: July's $12.345 is
    $12.35). It used to multiply by list prices, without the multiplier, and never rounded."""
    from generect_reports.money import load_price_book, to_hundredths

    october = filter_usage(sample, months=("2026-10", "2026-10"), unit="usd")
    assert october.loc["2026-10", "email_validation"] == 16.94
    book = load_price_book().with_multiplier("0.75")
    theme = dataclasses.replace(g.load_theme(), price_book=book)
    rep = g.build_report(sample, "2026-07", theme=theme)
    month = filter_usage(sample, months=("2026-07", "2026-07"), unit="usd", prices=book)
    line = rep.operations.set_index("operation")["estimated_cost"]
    assert month.loc["2026-07", "email_validation"] == 12.35 == line["email_validation"]
    for op, cost in month.loc["2026-07"].items():
        assert to_hundredths([cost])[0] == to_hundredths([line[op]])[0], op
    for granularity in ("day", "week"):
        parts = filter_usage(
            sample, months=("2026-07", "2026-07"), granularity=granularity, unit="usd", prices=book
        )
        assert (to_hundredths(parts).sum(axis=0) == to_hundredths(month).sum(axis=0)).all()
    ex = UsageExplorer(sample, prices=book)
    ex.unit.value = "usd"
    ex.months.value = ("2026-07", "2026-07")
    assert ex.filtered.loc["2026-07", "email_validation"] == 12.35


def test_totals_table_shares_add_up_as_shown(sample):
    """The shown shares add up to the total row's 100.0% and are the report's (unattributed's
    550 of 33,441 credits in October 2026 is 1.7%, as in the report's operations table)."""
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-10", "2026-10")
    table = pd.read_html(io.StringIO(ex.table_view.value))[0].set_index("operation")
    shares = table["share"].drop("Total").str.rstrip("%").astype(float)
    assert round(shares.sum() * 10) == 1000 and table.at["Total", "share"] == "100.0%"
    report = g.build_report(sample, "2026-10").operations.set_index("operation")
    assert shares.to_dict() == report.loc[shares.index, "share_display"].to_dict()
    assert shares["unattributed"] == 1.7
    ex.unit.value = "usd"  # cost shares: of the priced cost, as the report's Cost sheet
    table = pd.read_html(io.StringIO(ex.table_view.value))[0].set_index("operation")
    shares = table["share"].drop("Total").str.rstrip("%").astype(float)
    assert round(shares.sum() * 10) == 1000
    costs = g.build_report(sample, "2026-10").cost_by_operation.set_index("operation")
    priced = costs["cost_share_display"].dropna()
    assert shares[priced.index].to_dict() == priced.to_dict()


def test_compare_refuses_a_period_before_the_data(sample):
    """The whole range against a year before: 12 of period A's 22 months precede the data, so
    there is no change to show, only the reason, in one line."""
    ex = UsageExplorer(sample)
    ex.tabs.selected_index = 1
    ex.compare_mode.value = "yoy"
    assert not ex.compare_verdict.ok and ex.compared.empty
    text = ex.compare_view.value
    assert "starts before the data (01 Jan 2025)" in text and "no comparison" in text
    assert "%" not in text and "<table" not in text


def test_previous_period_of_a_long_range_does_not_overlap(sample):
    ex = UsageExplorer(sample)
    ex.tabs.selected_index = 1
    ex.months.value = ("2026-01", "2026-10")
    assert (ex.a_start.value.isoformat(), ex.a_end.value.isoformat()) == (
        "2025-03-01",
        "2025-12-31",
    )
    assert ex.compare_verdict.ok and ex.compare_verdict.overlap_days == 0
    want = compare_periods(sample, ("2025-03-01", "2025-12-31"), ("2026-01-01", "2026-10-31"))
    pd.testing.assert_frame_equal(ex.compared, want)


def test_a_custom_period_overlapping_b_is_stated(sample):
    ex = UsageExplorer(sample)
    ex.tabs.selected_index = 1
    ex.months.value = ("2026-10", "2026-10")
    ex.compare_mode.value = "custom"
    ex.a_start.value = pd.Timestamp("2026-09-15").date()
    ex.a_end.value = pd.Timestamp("2026-10-15").date()
    assert ex.compare_verdict.ok and "overlap by 15 days" in ex.compare_view.value


def test_the_month_slider_follows_typed_dates(sample):
    ex = UsageExplorer(sample)
    before = ex.draw_count
    ex.start.value = pd.Timestamp("2026-03-10").date()
    ex.end.value = pd.Timestamp("2026-05-20").date()
    assert ex.months.value == ("2026-03", "2026-05")
    assert ex.range == (pd.Timestamp("2026-03-10"), pd.Timestamp("2026-05-20"))  # kept as typed
    assert ex.draw_count == before + 2  # one draw per typed date, none for the slider's move


def test_an_invalid_range_clears_the_chart_and_says_why(sample):
    ex = UsageExplorer(sample)
    ex.tabs.selected_index = 1
    assert ex.chart_png and "<table" in ex.table_view.value
    ex.end.value = pd.Timestamp("2025-01-01").date()
    ex.start.value = pd.Timestamp("2026-01-01").date()
    assert "on or before the end date" in ex.status.value and "role='alert'" in ex.status.value
    assert ex.chart.value == "" and ex.chart.layout.display == "none"
    assert ex.table_view.value == "" and ex.compare_view.value == "" and ex.filtered.empty
    ex.end.value = pd.Timestamp("2026-02-28").date()
    assert ex.status.value == "" and "<img" in ex.chart.value and ex.chart.layout.display is None
    assert "<table" in ex.table_view.value


def test_the_timezone_control_says_why_it_is_disabled(sample):
    ex = UsageExplorer(sample)
    assert ex.timezone.disabled
    assert "recorded in that timezone only" in ex.timezone_note.value
    live = UsageExplorer(sample, loader=lambda tz: sample)
    assert not live.timezone.disabled and live.timezone_note.value == ""


def test_a_shared_view_reopens_the_same_view(sample):
    ex = UsageExplorer(sample)
    ex.months.value = ("2026-03", "2026-06")
    ex.granularity.value = "week"
    ex.unit.value = "usd"
    ex.operations.value = ("search_database", "email_find")
    ex.compare_mode.value = "yoy"
    ex.drill.value = "email_find"
    ex.tabs.selected_index = 1
    query = ex.view_query()
    assert "token" not in query and f"href='?{query}'" in ex.share_link.value.replace("&amp;", "&")
    again = UsageExplorer(sample)
    assert again.apply_view("token=secret&" + query) == []
    for name in ("start", "end", "granularity", "unit", "operations", "compare_mode", "drill"):
        assert getattr(again, name).value == getattr(ex, name).value, name
    assert again.months.value == ("2026-03", "2026-06") and again.tabs.selected_index == 1
    pd.testing.assert_frame_equal(again.filtered, ex.filtered)
    pd.testing.assert_frame_equal(again.compared, ex.compared)
    assert again.view_query() == query


def test_a_shared_view_ignores_what_does_not_fit(sample):
    ex = UsageExplorer(sample)
    before = ex.filtered.copy()
    ignored = ex.apply_view(
        "from=2019-01-01&to=2026-02-30&period=hour&unit=eur&ops=nope&tab=x&op=%3Cscript%3E"
        "&compare=custom&a_from=२०२६-01-01&a_to=2026-01-31"
    )
    assert sorted(ignored) == sorted(
        ["from", "to", "period", "unit", "ops", "tab", "op", "a_from", "a_to"]
    )
    pd.testing.assert_frame_equal(ex.filtered, before)
    assert "<script>" not in ex.share_link.value


def test_the_comparison_has_a_chart_beside_its_table(sample):
    ex = UsageExplorer(sample)
    ex.tabs.selected_index = 1
    ex.months.value = ("2026-10", "2026-10")
    a, b = ex.compared["a"].sum(), ex.compared["b"].sum()
    assert ex.compare_png.startswith(b"\x89PNG")
    assert ex.compare_alt == (
        "Chart: period A (01 Sep 2026 – 30 Sep 2026) against period B (01 Oct 2026 – "
        f"31 Oct 2026) for the {min(10, len(ex.compared))} largest operations in B. "
        f"A {a:,.0f} credits, B {b:,.0f} credits ({(b - a) / a:+.1%})."
    )
    assert 'class="generect-compare-chart"' in ex.compare_chart.value
    ex.compare_mode.value = "yoy"
    ex.months.value = ("2025-01", "2025-03")  # a year before precedes the data: no chart
    assert not ex.compare_verdict.ok and ex.compare_chart.value == "" and ex.compare_png == b""
