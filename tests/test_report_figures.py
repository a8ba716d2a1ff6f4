"""The report's figures: one rounding rule, precision from the data, year over year, cost first,
the bridge and quantified anomalies (all computed once in ``build_report``)."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import frame

import generect_reports as g
from generect_reports.analysis.pricing import money_cents
from generect_reports.reports.formats import ReportFormats, format_number, formats_from_theme
from generect_reports.reports.monthly import fmt_credits, fmt_money, report_window
from generect_reports.reports.narrative import bridge_table, fraction_words


@pytest.fixture(scope="module")
def october(sample):
    return g.build_report(sample, "2026-10")


@pytest.fixture(scope="module")
def march(sample):
    return g.build_report(sample, "2026-03")


def test_cost_lines_rounded_once_and_total_is_their_sum(october):
    ops = october.operations
    line = ops.set_index("operation")
    # 3,387 × 0.005 = 16.935: half up, once, as the workbook's ROUND(...,2) does
    assert line.loc["email_validation", "estimated_cost"] == 16.94
    assert line.loc["preview", "estimated_cost"] == 10.79  # 5,393 × 0.002 = 10.786
    cents = ops["estimated_cost"].map(money_cents).sum()
    assert money_cents(october.estimated_cost) == cents == 81615
    assert fmt_money(october.estimated_cost) == "$816.15"
    assert october.previous_cost == pytest.approx(ops["previous_cost"].sum())
    assert money_cents(october.cost_change) == money_cents(october.compared_cost) - money_cents(
        october.previous_cost
    )


def test_unpriced_operations_are_named_not_zero(october):
    row = october.operations.set_index("operation").loc["unattributed"]
    assert not row["priced"] and math.isnan(row["list_price"])
    assert october.unpriced == ["unattributed"]
    assert october.cost_by_operation["operation"].iloc[-1] == "unattributed"
    assert math.isnan(october.cost_by_operation["cost_share_display"].iloc[-1])
    assert any("unpriced" in n for n in october.notes)
    assert "unattributed is unpriced" in october.narrative[-1]


def test_cost_ranked_and_largest_line(october):
    costs = october.cost_by_operation
    priced = costs[costs["priced"]]
    assert list(priced["estimated_cost"]) == sorted(priced["estimated_cost"], reverse=True)
    assert october.largest_cost_operation == "phone_find" and october.largest_cost == 203.60
    assert priced["cost_share_display"].sum() == pytest.approx(100.0)
    top = costs.iloc[0]
    assert (top["share_display"], top["cost_share_display"]) == (1.5, 24.9)


def test_shares_add_to_100_with_one_decimal(october, march):
    for rep in (october, march):
        shares = rep.operations["share_display"]
        assert shares.sum() == pytest.approx(100.0)
        assert all(round(s, 1) == s for s in shares)
    assert october.operations.set_index("operation").loc["unattributed", "share_display"] == 1.7
    assert march.operations.set_index("operation").loc["email_find", "share_display"] == 8.8


def test_precision_follows_the_data(october):
    f = october.formats
    assert f.credit_decimals == 0 and f.projection_decimals == 0
    assert (
        f.credits(9811.0) == "9,811" and f.change(3567.0) == "+3,567" and f.change(-20.0) == "-20"
    )
    assert f.excel_credits == "#,##0" and f.excel_change == "+#,##0;-#,##0;0"
    rows = [("2026-04-01", "a", 10.25), ("2026-05-01", "a", 77.5)]
    rep = g.build_report(frame(rows, fetched_at="2026-06-01 00:00"), "2026-05")
    assert rep.formats.credit_decimals == 2 and rep.formats.credits(77.5) == "77.50"
    assert rep.formats.excel_credits == "#,##0.00"


def test_theme_overrides_precision(tmp_path, sample):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "theme.toml").write_text("[formats]\ncredit_decimals = 2\nprojection_decimals = 1\n")
    rep = g.build_report(sample, "2026-10", template=folder)
    assert (
        rep.formats.credits(9811) == "9,811.00" and rep.formats.projection(35167.29) == "35,167.3"
    )
    assert formats_from_theme({"credits": "#,##0.0"}, [1.0]).credit_decimals == 1
    (folder / "theme.toml").write_text('[formats]\ncredit_decimals = "many"\n')
    with pytest.raises(g.TemplateError, match="credit_decimals"):
        g.build_report(sample, "2026-10", template=folder)


def test_rounding_is_half_up_as_a_spreadsheet_shows_it():
    assert format_number(1114.5, 0) == "1,115"  # Python's format would say 1,114
    assert format_number(2.5, 0) == "3" and format_number(-2.5, 0) == "-3"
    assert fmt_credits(0.125) == "0.13"
    f = ReportFormats()
    assert f.signed_pct(0.11940148) == "+11.9%" and f.signed_pct(float("nan")) == "n/a"
    assert f.signed_pct(-0.0004) == "-0.0%" and f.signed_pct(0.0) == "0.0%"
    assert f.money(-3.2) == "-$3.20" and f.money_change(80.125) == "+$80.13"
    assert ReportFormats(currency="EUR").money(5) == "EUR 5.00"


def test_exact_formats_show_the_decimals_a_figure_has():
    f = ReportFormats(credit_decimals=0)
    assert f.exact([1212.0, 33441.0]) is f  # the report's precision when it suffices
    assert f.exact([97.5, 1114.5]).credit_decimals == 2  # else hundredths, as credits are shown
    assert f.exact([10.375]).credits(10.375) == "10.375"  # or what a median of hundredths has
    assert f.exact([0.1 + 0.2]).credits(0.1 + 0.2) == "0.30"  # float noise is not a decimal
    assert f.exact([1_000_000.37]).credit_decimals == 2
    assert f.exact([float("nan")]) is f and f.exact([]) is f
    assert ReportFormats(credit_decimals=2).exact([1.5]).credit_decimals == 2


def test_year_over_year(october, sample):
    assert october.yoy_available and october.yoy_month == "2025-10"
    ops = october.operations
    assert october.yoy_total == ops["yoy_credits"].sum() == 22878.0
    assert october.yoy_change == october.total - 22878.0
    assert october.yoy_change_pct == pytest.approx(october.yoy_change / 22878.0)
    months = g.monthly_totals(sample).set_index("month")
    assert months.loc["2025-10", "credits"] == october.yoy_total
    # the data starts in 2025-01: no year-over-year for 2025-12
    early = g.build_report(sample, "2025-12")
    assert not early.yoy_available and early.yoy_total is None and ops["yoy_credits"].notna().all()
    assert early.operations["yoy_credits"].isna().all()


def test_year_over_year_like_for_like_in_a_running_month(sample):
    rep = g.build_report(sample, "2026-10", as_of="2026-10-11 09:30")
    assert not rep.complete and rep.elapsed_days == 10
    days = sample[
        (sample["period_start"] >= pd.Timestamp("2025-10-01", tz="Europe/Kyiv"))
        & (sample["period_start"] < pd.Timestamp("2025-10-11", tz="Europe/Kyiv"))
    ]
    assert rep.yoy_total == days["credits"].sum()
    assert rep.yoy_change == rep.compared_total - rep.yoy_total


def test_year_over_year_counts_operations_only_the_year_ago_month_had(march, sample):
    """March 2025 had 250 credits of unattributed, which neither February nor March 2026 had:
    the year-ago total is the whole month (18,039, as the Monthly sheet and the history chart
    show it), and that operation gets a row (0 this month, 0 last month) so every column of
    the per-operation table still adds up to its total."""
    months = g.monthly_totals(sample).set_index("month")
    assert march.yoy_total == months.loc["2025-03", "credits"] == 18039.0
    assert march.monthly["2025-03"].sum() == march.yoy_total
    assert march.yoy_change == march.total - 18039.0 == 6097.0
    assert march.formats.signed_pct(march.yoy_change_pct) == "+33.8%"
    ops = march.operations
    for column, total in (
        ("credits", march.total),
        ("previous_credits", march.previous_total),
        ("compared_credits", march.compared_total),
        ("yoy_credits", march.yoy_total),
        ("change", march.change),
        ("yoy_change", march.yoy_change),
    ):
        assert ops[column].sum() == total, column
    row = ops.set_index("operation").loc["unattributed"]
    assert (row["credits"], row["previous_credits"], row["yoy_credits"]) == (0.0, 0.0, 250.0)
    assert row["yoy_change_pct"] == -1.0 and row["share_display"] == 0.0
    # a row kept for the year-ago column alone has nothing to price this month
    assert march.unpriced == [] and "unpriced" not in march.narrative[-1]


def test_year_over_year_reads_the_same_in_every_artefact(march, tmp_path):
    """The PDF (page 1 and the page 2 table), the workbook's Summary and By operation sheets
    and the email all say +33.8% on 18,039, the year-ago month the history shows."""
    import io
    import re

    import openpyxl
    from pdfcheck import pdftotext

    from generect_reports.render.email.message import build_message
    from generect_reports.render.pdf.document import render_pdf
    from generect_reports.render.xlsx.workbook import render_workbook

    path = tmp_path / "march.pdf"
    path.write_bytes(render_pdf(march))
    pages = pdftotext(path).split("\f")
    flat = [" ".join(page.split()) for page in pages]
    assert "33.8% more than March 2025 (18,039 credits)" in flat[0]
    # the KPI tile (its detail wraps beside the other tiles)
    assert "+33.8% " in flat[0] and "+6,097 credits on 18,039 in Mar" in flat[0]
    total = re.search(r"Total 24,136 100.0% 22,580 \+1,556 \+6.9% (\S+) (\S+)", flat[1])
    assert total is not None and total.groups() == ("18,039", "+33.8%")
    assert "unattributed 0 0.0% 0 0 n/a 250 -100.0%" in flat[1]
    for text in flat:
        assert "17,789" not in text and "35.7%" not in text
    book = openpyxl.load_workbook(io.BytesIO(render_workbook(march)), data_only=True)
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Same month last year (March 2025)"] == 18039
    assert summary["Change vs same month last year %"] == pytest.approx(6097 / 18039)
    assert summary["Check: the sheets agree"] == "OK"
    msg = build_message(march, to=["a@example.com"], sender="r@example.com")
    text = msg.get_body(("plain",)).get_content()
    assert "+33.8%  (+6,097 credits on 18,039 in Mar 2025)" in text
    assert "17,789" not in text and "35.7%" not in text


def test_year_over_year_of_a_running_month_counts_operations_only_a_year_ago():
    rows = [(f"2025-05-{d:02d}", "a", 10.0) for d in range(1, 32)]
    rows += [(f"2025-05-{d:02d}", "gone", 2.0) for d in range(1, 6)]
    rows += [(f"2026-04-{d:02d}", "a", 11.0) for d in range(1, 31)]
    rows += [(f"2026-05-{d:02d}", "a", 12.0) for d in range(1, 11)]
    rep = g.build_report(frame(rows, fetched_at="2026-05-11 09:30"), "2026-05")
    assert not rep.complete and rep.yoy_available
    assert rep.yoy_total == 10 * 10.0 + 5 * 2.0
    assert rep.operations["yoy_credits"].sum() == rep.yoy_total
    assert rep.yoy_change == rep.compared_total - rep.yoy_total == 120.0 - 110.0


def test_report_window_reaches_back_a_year():
    import datetime as dt

    first, last = report_window("2026-10", 3)
    assert first == dt.date(2025, 10, 1) - dt.timedelta(days=28) and last == dt.date(2026, 10, 31)
    assert report_window("2026-10", 24)[0] == dt.date(2024, 11, 1) - dt.timedelta(days=28)


def test_history_defaults_to_24_months(october):
    assert october.history == 24
    assert list(october.monthly.columns)[0] == "2025-01" and len(october.monthly.columns) == 22


def test_bridge_walks_from_last_month_to_this_month(october):
    b = october.bridge
    assert list(b["kind"]) == ["start"] + ["operation"] * 6 + ["other", "end"]
    assert b["label"].iloc[0] == "September 2026" and b["label"].iloc[-1] == "October 2026"
    assert b["value"].iloc[0] == october.previous_total and b["value"].iloc[-1] == october.total
    steps = b[b["kind"].isin(["operation", "other"])]
    assert steps["value"].sum() == october.change
    assert b["label"].iloc[1] == "search_realtime" == october.biggest_driver
    ops = steps[steps["kind"] == "operation"]["value"].abs()
    assert list(ops) == sorted(ops, reverse=True)
    other = b[b["kind"] == "other"].iloc[0]
    assert other["label"] == "other (3 operations)" and other["value"] == 135 + 33 + 20
    assert other["operations"] == "email_find, enrich_realtime, phone_find"
    # each bar starts where the previous one ended
    assert np.allclose(b["bottom"].iloc[1:-1].to_numpy(), b["top"].iloc[:-2].to_numpy())
    assert b["top"].iloc[-2] == october.total


def test_bridge_with_a_fall_and_a_single_small_operation():
    ops = pd.DataFrame(
        {
            "operation": ["a", "b", "c", "d"],
            "previous_credits": [100.0, 50.0, 10.0, 5.0],
            "compared_credits": [40.0, 60.0, 10.0, 6.0],
        }
    )
    ops["change"] = ops["compared_credits"] - ops["previous_credits"]
    b = bridge_table(ops, start_label="Apr", end_label="May")
    # c did not change (left out); d alone is too small to group, so it keeps its name
    assert list(b["label"]) == ["Apr", "a", "b", "d", "May"]
    assert list(b["top"]) == [165.0, 105.0, 115.0, 116.0, 116.0]


def test_anomaly_quantified_against_the_change(october):
    a = october.anomalies.iloc[0]
    assert str(a["day"]) == "2026-10-14" and a["operation"] == "search_realtime"
    assert a["excess"] == 1212.0 - 97.5
    assert a["share_of_change"] == pytest.approx(1114.5 / 3567)
    assert fraction_words(a["share_of_change"]) == "about a third"


def test_fraction_words():
    assert fraction_words(0.5) == "about half" and fraction_words(0.03) == "a small part"
    assert fraction_words(0.26) == "about a quarter" and fraction_words(1.4) == "more than all"


def test_old_fields_still_there(october):
    """The PDF and email read these; new figures are added beside them."""
    for name in (
        "total",
        "previous_total",
        "change",
        "change_pct",
        "estimated_cost",
        "top_operation",
        "operations",
        "monthly",
        "daily",
        "daily_matrix",
        "anomalies",
        "notes",
        "warnings",
    ):
        assert hasattr(october, name)
    assert {
        "operation",
        "credits",
        "share",
        "share_display",
        "previous_credits",
        "change",
        "change_pct",
        "price",
        "estimated_cost",
    } <= set(october.operations.columns)
