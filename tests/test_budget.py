"""Plan limit and budgets on hand-built frames with known answers, and the report sections
(workbook recalculated by LibreOffice, PDF page read back with pdftotext)."""

import math
import shutil
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pytest
from helpers import frame
from hypothesis import given, settings
from hypothesis import strategies as st
from support import soffice_recalculate

from generect_reports.analysis.budget import (
    Budgets,
    budget_status,
    burn_up,
    check_thresholds,
    limit_for_month,
    parse_budget_table,
)
from generect_reports.analysis.usage import run_rate_projection
from generect_reports.errors import ConfigError, InputError
from generect_reports.render.budget import (
    add_budget_sheet,
    budget_page,
    budget_subject_flag,
    budget_summary,
)

PRICES = {"a": 0.01, "b": 0.1}


def _days(first: str, last: str, ops: dict[str, float]) -> list[tuple[str, str, float]]:
    return [
        (d.date().isoformat(), op, v) for d in pd.date_range(first, last) for op, v in ops.items()
    ]


@pytest.fixture
def march():
    """a = 10, b = 5 every day from February to 14 March 2026 (Kyiv; DST starts 29 March)."""
    return frame(_days("2026-02-01", "2026-03-14", {"a": 10.0, "b": 5.0}))


def test_running_month_known_answer(march):
    got = budget_status(
        march,
        "2026-03",
        limit=400,
        balance=100,
        as_of="2026-03-15T00:00",
        budgets={"monthly_credits": 500, "operations": {"b": 100, "zzz": 7}, "monthly_money": 10},
        prices=PRICES,
    )
    assert list(got["line"]) == [
        "plan limit",
        "total budget",
        "budget: b",
        "budget: zzz",
        "money budget",
    ]
    assert list(got["used"]) == [210.0, 210.0, 70.0, 0.0, 8.4]
    # 31 days in March whatever DST does: 15 × 31, 5 × 31, 0.6 × 31
    assert list(got["projected"]) == [465.0, 465.0, 155.0, 0.0, 18.6]
    assert got["share_used"].tolist() == pytest.approx([210 / 400, 210 / 500, 0.7, 0.0, 0.84])
    assert got["projected_share"].tolist() == pytest.approx([465 / 400, 465 / 500, 1.55, 0.0, 1.86])
    # cumulative 15/day reaches 400 on day 27 and 465 > 500 never; b 5/day reaches 100 on day 20;
    # money 0.60/day reaches 10.00 on day 17 (10.20)
    days = [None if pd.isna(d) else d.date().isoformat() for d in got["crossing_day"]]
    assert days == ["2026-03-27", None, "2026-03-20", None, "2026-03-17"]
    assert got["crossed"].tolist() == [False, False, False, False, False]
    assert got["projected_over"].tolist() == [True, False, True, False, True]
    # runway: 100 credits at 15 a day = 6.67 days, the balance lasts through 21 March
    assert got["runway_days"].tolist() == pytest.approx([100 / 15] * 5)
    assert got.attrs["run_out_date"] == pd.Timestamp("2026-03-21")
    assert got.attrs["elapsed_days"] == 14 and got.attrs["days_in_month"] == 31
    assert not got.attrs["complete"]
    rr = run_rate_projection(march, "2026-03", as_of="2026-03-15T00:00")
    assert got.loc[0, "projected"] == pytest.approx(rr["projected_weekday"].sum())


def test_weekday_pattern_moves_the_crossing_day():
    # weekdays 100, weekends 0: a linear rate would cross earlier than the weekday-aware path
    rows = [
        (d.date().isoformat(), "a", 0.0 if d.day_of_week >= 5 else 100.0)
        for d in pd.date_range("2026-05-01", "2026-06-09")
    ]
    usage = frame(rows, tz="America/New_York")
    got = budget_status(usage, "2026-06", limit=1500, as_of="2026-06-10T00:00")
    rr = run_rate_projection(usage, "2026-06", as_of="2026-06-10T00:00")
    assert got.loc[0, "projected"] == pytest.approx(rr["projected_weekday"].sum()) == 2200.0
    # 700 by 9 June; then 100 on each weekday: 10,11,12 → 1000; 15..19 → 1500 on Friday 19 June
    assert got.loc[0, "crossing_day"] == pd.Timestamp("2026-06-19")
    path = burn_up(usage, "2026-06", as_of="2026-06-10T00:00")
    assert path["cumulative"].iloc[8] == 700 and math.isnan(path["cumulative"].iloc[9])
    assert path["projected"].iloc[8] == 700 and path["projected"].iloc[-1] == 2200


def test_no_usage_and_zero_burn():
    empty = frame([], tz="Europe/Kyiv")
    got = budget_status(empty, "2026-03", limit=1000, balance=50, as_of="2026-03-10T12:00")
    assert (
        got.loc[0, "used"] == 0 and got.loc[0, "projected"] == 0 and got.loc[0, "share_used"] == 0
    )
    assert pd.isna(got.loc[0, "crossing_day"]) and not got.loc[0, "crossed"]
    assert math.isinf(got.attrs["runway_days"]) and pd.isna(got.attrs["run_out_date"])
    # usage long ago, none in the 28 days before as_of: zero burn, nothing projected
    old = frame(_days("2026-01-01", "2026-01-10", {"a": 3.0}))
    got = budget_status(old, "2026-03", limit=10, balance=5, as_of="2026-03-10T00:00")
    assert got.loc[0, "projected"] == 0 and math.isinf(got.loc[0, "runway_days"])
    # no limit and no budgets: no lines, but the runway is still computed
    got = budget_status(old, "2026-01", limit=None, balance=6, as_of="2026-01-05T00:00")
    assert got.empty and got.attrs["runway_days"] == pytest.approx(2.0)
    assert got.attrs["run_out_date"] == pd.Timestamp("2026-01-06")


def test_limit_already_exceeded_and_negative_balance(march):
    got = budget_status(march, "2026-03", limit=150, balance=-20, as_of="2026-03-15T00:00")
    row = got.iloc[0]
    assert row["crossed"] and row["projected_over"]
    assert row["crossing_day"] == pd.Timestamp("2026-03-10")  # 15 × 10 = 150 reached on the 10th
    assert row["runway_days"] == 0 and got.attrs["run_out_date"] == pd.Timestamp("2026-03-15")
    assert budget_subject_flag(got) == "[over limit]"


def test_past_month_across_dst_end_has_no_projection():
    # October 2026 in Kyiv has a 25-hour day (25 Oct); the month is complete
    usage = frame(_days("2026-10-01", "2026-10-31", {"a": 10.0}), fetched_at="2026-11-01T00:00")
    got = budget_status(usage, "2026-10", limit=300, budgets={"monthly_credits": 400})
    assert got.attrs["complete"] and got.attrs["days_in_month"] == 31
    assert got["used"].tolist() == [310.0, 310.0]
    assert got["projected"].isna().all() and got["projected_share"].isna().all()
    assert got.loc[0, "crossing_day"] == pd.Timestamp("2026-10-30") and got.loc[0, "crossed"]
    assert pd.isna(got.loc[1, "crossing_day"]) and not got.loc[1, "projected_over"]
    assert burn_up(usage, "2026-10")["projected"].isna().all()
    assert budget_subject_flag(got) == "[over limit]"
    text = " ".join(budget_summary(got))
    assert "October 2026 usage was 310 credits, 103.3% of the plan limit of 300 credits" in text
    assert "reached on 2026-10-30" in text and "at month end" not in text


def test_flags_and_summary_for_a_running_month(march):
    got = budget_status(march, "2026-03", limit=450, as_of="2026-03-15T00:00")
    assert budget_subject_flag(got) == "[projected over limit]"
    got = budget_status(
        march, "2026-03", limit=1000, budgets={"operations": {"b": 60}}, as_of="2026-03-15T00:00"
    )
    assert budget_subject_flag(got) == "[over budget]"
    assert (
        budget_subject_flag(budget_status(march, "2026-03", limit=1000, as_of="2026-03-15")) is None
    )
    text = budget_summary(got)[0]
    assert text.startswith("March 2026 usage so far is 210 credits, 21.0% of the plan limit")
    assert "projected 46.5% at month end (an estimate)" in text


def test_limit_history_for_past_months():
    history = {"2025-01": 25000, "2026-01": 30000}
    assert limit_for_month("2025-06", 40000, history, current_month="2026-11") == (
        25000,
        "plan limit from 2025-01 ([budget] limit_from)",
    )
    assert limit_for_month("2026-10", 40000, history, current_month="2026-11")[0] == 30000
    assert limit_for_month("2026-11", 40000, history, current_month="2026-11") == (
        40000,
        "current plan limit",
    )
    assert limit_for_month("2024-12", 40000, history, current_month="2026-11")[0] == 40000
    assert limit_for_month("2026-03", 0, {"2026-01": 0})[0] is None


@pytest.mark.parametrize(
    "table, fragment",
    [
        ({"monthly_credit": 5}, "unknown setting 'monthly_credit'"),
        ({"monthly_credits": -5}, "more than zero"),
        ({"monthly_credits": "5000"}, "must be a number"),
        ({"monthly_money": True}, "must be a number"),
        ({"operations": [1, 2]}, "operations must be a table"),
        ({"operations": {"a": 0}}, "more than zero"),
        ({"limit_from": {"2026-13": 5}}, "not a month"),
        ({"limit_from": 30000}, "limit_from must be a table"),
    ],
)
def test_bad_budget_tables(table, fragment):
    with pytest.raises(ConfigError) as info:
        parse_budget_table(table)
    assert fragment in str(info.value)


def test_budget_table_parses():
    got = parse_budget_table(
        {
            "monthly_credits": 30000,
            "operations": {"b": 10, "a": 5.5},
            "monthly_money": 150,
            "limit_from": {"2026-01": 30000},
        }
    )
    assert got == Budgets(30000.0, {"a": 5.5, "b": 10.0}, 150.0, {"2026-01": 30000.0})


def test_thresholds_are_exact_at_the_line(march):
    # projected exactly 465.00: --fail-at 100 fails at a 465 limit, not at 465.01
    at = budget_status(march, "2026-03", limit=465, balance=100, as_of="2026-03-15T00:00")
    above = budget_status(march, "2026-03", limit=465.01, balance=100, as_of="2026-03-15T00:00")
    assert [c.level for c in check_thresholds(at, fail_at=100)] == ["fail"]
    assert [c.level for c in check_thresholds(above, fail_at=100)] == ["warn"]
    assert check_thresholds(above, warn_at=None, fail_at=100) == []
    runway = check_thresholds(at, warn_at=None, min_runway_days=7)
    assert [(c.level, c.line) for c in runway] == [("fail", "balance runway")]
    assert "runs out 2026-03-21" in runway[0].text
    assert check_thresholds(at, warn_at=None, min_runway_days=6) == []
    with pytest.raises(InputError):
        check_thresholds(at, fail_at=-1)


# --- report sections ----------------------------------------------------------------------------


def _sheet(tmp_path, status, burnup):
    import xlsxwriter

    path = tmp_path / "budget.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    add_budget_sheet(wb, status, burnup)
    wb.close()
    return path


@pytest.mark.libreoffice
def test_budget_sheet_is_live_over_its_inputs(tmp_path, march):
    status = budget_status(
        march, "2026-03", limit=400, budgets={"operations": {"b": 100}}, as_of="2026-03-15T00:00"
    )
    path = _sheet(tmp_path, status, burn_up(march, "2026-03", as_of="2026-03-15T00:00"))
    stored = openpyxl.load_workbook(path, data_only=True)["Budget"]
    assert stored["F7"].value == pytest.approx(210 / 400)  # values stored with the formulas
    # change the limit input, let LibreOffice recalculate: every figure follows the input
    wb = openpyxl.load_workbook(path)
    ws = wb["Budget"]
    assert ws["F7"].value == '=IF(C7>0,D7/C7,"")' and ws["C7"].value == 400
    ws["C7"] = 200
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    recalculated = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)[
        "Budget"
    ]
    assert recalculated["F7"].value == pytest.approx(210 / 200)
    assert recalculated["G7"].value == pytest.approx(465 / 200)
    assert recalculated["H7"].value == pytest.approx(-10)
    assert recalculated["I7"].value == "over"
    assert recalculated["I8"].value == "projected over"
    assert recalculated["B4"].value == pytest.approx(210 / 200)  # the KPI
    assert recalculated["F4"].value == pytest.approx(465 / 200)
    # burn-up table: cumulative by formula, the limit column from the input
    rows = {
        recalculated.cell(r, 1).value: r for r in range(11, 45) if recalculated.cell(r, 1).value
    }
    first = min(r for r in rows.values() if isinstance(recalculated.cell(r, 2).value, (int, float)))
    assert recalculated.cell(first + 13, 3).value == pytest.approx(210)
    assert recalculated.cell(first, 5).value == pytest.approx(200)


@pytest.mark.libreoffice
def test_budget_sheet_past_month(tmp_path):
    usage = frame(_days("2026-10-01", "2026-10-31", {"a": 10.0}), fetched_at="2026-11-01T00:00")
    status = budget_status(usage, "2026-10", limit=300)
    path = _sheet(tmp_path, status, burn_up(usage, "2026-10"))
    got = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)["Budget"]
    assert got["F7"].value == pytest.approx(310 / 300) and got["G7"].value in ("", None)
    assert got["I7"].value == "over" and "complete month" in got["A1"].value


def _pdf_text(fig, tmp_path):
    path = tmp_path / "page.pdf"
    fig.savefig(path, format="pdf")
    out = subprocess.run(
        [shutil.which("pdftotext") or "pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_budget_page_running_and_past(tmp_path, march):
    status = budget_status(
        march,
        "2026-03",
        limit=400,
        budgets={"monthly_money": 10},
        as_of="2026-03-15T00:00",
        prices=PRICES,
    )
    text = _pdf_text(
        budget_page(status, burn_up(march, "2026-03", as_of="2026-03-15T00:00")), tmp_path
    )
    assert "Plan limit and budgets · 2026-03" in text
    assert "52.5%" in text and "projected 116.3% at month end" in text
    assert "reaching it on 2026-03-27" in text
    assert "Burn-up" in text and "projection (estimate)" in text and "money budget" in text
    usage = frame(_days("2026-10-01", "2026-10-31", {"a": 10.0}), fetched_at="2026-11-01T00:00")
    past = budget_status(usage, "2026-10", limit=300)
    text = _pdf_text(budget_page(past, burn_up(usage, "2026-10")), tmp_path)
    assert "103.3%" in text and "reached on 2026-10-30" in text and "at month end" not in text


def test_sample_month_over_its_limit():
    from generect_reports.fetch.account import (
        load_sample_account,
        sample_balance_history,
        sample_limit_history,
    )
    from generect_reports.fetch.usage import load_sample

    usage = load_sample("2025-01-01", "2026-10-31")
    monthly = usage.groupby(usage["period_start"].dt.strftime("%Y-%m"))["credits"].sum()
    history = sample_limit_history()
    limits = pd.Series(
        [limit_for_month(m, 30000, history, current_month="2026-10")[0] for m in monthly.index],
        index=monthly.index,
    )
    assert list(monthly.index[monthly >= limits]) == ["2026-10"]
    # the balance history adds up: opening + top-ups − usage = the snapshot's balance
    balance = sample_balance_history()
    account = load_sample_account(as_of="2026-10-22T00:00+03:00")
    assert balance["credits"].sum() == balance["balance"].iloc[-1] == account.balance
    # ... and it is the sample ledger's story: its top-ups and its settled charges
    from generect_reports._resources import data_file

    with data_file("sample_ledger.csv.gz").open("rb") as fh:
        ledger = pd.read_csv(fh, compression="gzip")
    before = ledger[
        (pd.to_datetime(ledger["timestamp"]) < pd.Timestamp("2026-10-22T00:00+03:00"))
        & (ledger["status"] == "success")
    ]
    charged = -balance.loc[balance["type"].str.startswith("usage"), "credits"].sum()
    assert round(charged, 2) == round(-before.loc[before["credits"] < 0, "credits"].sum(), 2)
    assert round(account.balance, 2) == round(before["credits"].sum(), 2)
    assert (
        account.used_this_month
        == monthly["2026-10"]
        - usage.loc[usage["period_start"] >= "2026-10-22T00:00+03:00", "credits"].sum()
    )
    assert (balance["type"] == "top_up").sum() == 22 and (
        balance["type"] == "opening_balance"
    ).sum() == 1
    assert np.all(balance["balance"] > 0)


def test_first_day_of_the_month_is_projected_from_the_lookback(march):
    got = budget_status(march, "2026-03", limit=400, as_of="2026-03-01T08:00")
    assert got.attrs["elapsed_days"] == 0 and got.loc[0, "used"] == 0
    assert got.loc[0, "projected"] == 465.0 and got.loc[0, "crossing_day"] == pd.Timestamp(
        "2026-03-27"
    )


def test_sample_report_month_uses_the_limit_history():
    from generect_reports.analysis.budget import report_budget
    from generect_reports.fetch.account import load_sample_account, sample_limit_history
    from generect_reports.fetch.usage import load_sample

    account = load_sample_account()
    usage = load_sample("2026-08-01", "2026-10-31")
    status, path = report_budget(
        usage,
        "2026-10",
        current_limit=account.monthly_limit,
        current_month="2026-11",
        limit_from=sample_limit_history(),
    )
    row = status.iloc[0]
    assert (row["threshold"], row["used"], row["threshold_note"]) == (
        30000.0,
        33441.0,
        "plan limit from 2026-01 ([budget] limit_from)",
    )
    assert row["crossed"] and budget_subject_flag(status) == "[over limit]"
    assert path["cumulative"].iloc[-1] == 33441.0
    status, _ = report_budget(
        load_sample("2025-10-01", "2025-12-31"),
        "2025-12",
        current_limit=30000,
        current_month="2026-11",
        limit_from=sample_limit_history(),
        budgets={"limit_from": {"2025-12": 20000}},
    )
    assert status.loc[0, "threshold"] == 20000 and budget_subject_flag(status) == "[over limit]"


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=500), min_size=61, max_size=61),
    elapsed=st.integers(min_value=0, max_value=29),
    limit=st.integers(min_value=1, max_value=20000),
)
def test_crossing_day_matches_a_day_by_day_walk(values, elapsed, limit):
    """The vectorised crossing day equals walking the days one by one: actual credits on the
    complete days, then each remaining day's weekday mean over the 28 days before today."""
    days = pd.date_range("2026-03-01", periods=61)  # March and April 2026 (Kyiv, DST in March)
    usage = frame([(d.date().isoformat(), "a", float(v)) for d, v in zip(days, values)])
    as_of = pd.Timestamp("2026-04-01") + pd.Timedelta(days=elapsed)
    got = budget_status(usage, "2026-04", limit=limit, as_of=as_of)
    daily = pd.Series(values, index=days, dtype="float64")
    window = daily[(daily.index < as_of) & (daily.index >= as_of - pd.Timedelta(days=28))]
    means = window.groupby(window.index.day_of_week).mean()
    total, crossing = 0.0, None
    for day in pd.date_range("2026-04-01", "2026-04-30"):
        total += daily[day] if day < as_of else means[day.day_of_week]
        if crossing is None and round(total * 100) >= limit * 100:
            crossing = day
    assert got.loc[0, "projected"] == pytest.approx(total)
    assert (pd.isna(got.loc[0, "crossing_day"]) and crossing is None) or got.loc[
        0, "crossing_day"
    ] == crossing


def test_short_history_fills_missing_weekdays_like_run_rate_projection():
    # three days of history (Thu, Fri, Sat): the other weekdays take the mean of those three
    usage = frame(
        [
            ("2026-03-12", "a", 30.0),
            ("2026-03-13", "a", 60.0),
            ("2026-03-14", "a", 0.0),
            ("2026-03-13", "b", 9.0),
        ]
    )
    got = budget_status(usage, "2026-03", limit=10_000, as_of="2026-03-15T00:00")
    rr = run_rate_projection(usage, "2026-03", as_of="2026-03-15T00:00")
    assert got.loc[0, "projected"] == pytest.approx(rr["projected_weekday"].sum())
    path = burn_up(usage, "2026-03", as_of="2026-03-15T00:00")
    # Sunday 15 March: a = mean(30, 60, 0) = 30, b = mean(0, 9, 0) = 3
    assert path["projected"].iloc[14] - path["projected"].iloc[13] == pytest.approx(33.0)


def test_money_line_is_the_sum_of_the_priced_lines():
    """Each operation is priced and rounded once, then added, as the report's cost table does:
    two half cents make two cents, not one. A price book brings its tier multiplier."""
    from generect_reports.money import PriceBook

    usage = frame(
        _days("2026-10-01", "2026-10-31", {"a": 0.0, "b": 0.0})
        + [
            ("2026-10-05", "a", 1.0),
            ("2026-10-06", "b", 1.0),
        ],
        fetched_at="2026-11-01 00:00",
    )
    got = budget_status(
        usage, "2026-10", budgets={"monthly_money": 0.02}, prices={"a": 0.005, "b": 0.005}
    )
    money = got.set_index("line").loc["money budget"]
    assert money["used"] == 0.02 and money["crossed"]
    assert money["crossing_day"] == pd.Timestamp("2026-10-06")  # 1 + 1 cents on the 6th
    book = PriceBook.from_prices({"a": 0.01, "b": 0.01}, multiplier=0.75)
    got = budget_status(usage, "2026-10", budgets={"monthly_money": 1}, prices=book)
    assert got.set_index("line").at["money budget", "used"] == 0.02  # 0.0075 → 0.01, twice
