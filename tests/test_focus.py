"""FOCUS 1.2 export: the checks the FinOps validator cannot make (its "not a Correction" guards
look at no rows when ChargeClass is null), done here: not-null columns, price × quantity = cost,
cent tie-outs to the report's monthly cost lines, DST-exact charge periods, purchases."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from support import run_cli

from generect_reports import load_sample
from generect_reports.analysis.pricing import estimate_cost, load_prices, money_cents, to_hundredths
from generect_reports.analysis.usage import to_monthly
from generect_reports.errors import InputError
from generect_reports.render.records import focus as F

#: The FOCUS 1.2 cost-and-usage columns marked Mandatory in the specification.
MANDATORY = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
]
#: Conditional columns whose condition Generect meets (usage measured, unit prices, a public
#: price list, a virtual currency), plus the recommended ones we fill.
CONDITIONAL = [
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "InvoiceId",
    "CommitmentDiscountStatus",
]
MONEY = [("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost")]


def ledger() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["tx-1", "tx-2", "tx-3", "tx-4", "tx-5"],
            "created_at": pd.to_datetime(
                [
                    "2025-01-01T08:00:00Z",
                    "2025-05-31T21:30:00Z",
                    "2025-09-01T10:00:00Z",
                    "2026-02-01T10:00:00Z",
                    "2026-03-01T10:00:00Z",
                ]
            ),
            "type": ["top_up", "top_up", "top_up", "charge", "top_up"],
            "credits": [200000.0, 150000.0, 99999.0, -5.0, 120000.0],
            "status": ["success", "success", "pending", "success", "success"],
            "balance_type": ["credits"] * 5,
        }
    )


@pytest.fixture(scope="module")
def rows():
    return F.focus_frame(load_sample())


@pytest.fixture(scope="module")
def prepaid():
    return F.focus_frame(load_sample(), ledger=ledger(), topup_price=0.01)


def test_every_mandatory_column_then_custom_columns(rows):
    assert set(MANDATORY + CONDITIONAL) <= set(F.FOCUS_COLUMNS)
    assert list(rows.columns) == list(F.FOCUS_COLUMNS) + list(F.CUSTOM_COLUMNS)
    assert all(c.startswith("x_") for c in F.CUSTOM_COLUMNS)
    assert rows.attrs["cost_is_estimate"] is True and rows["x_CostIsEstimate"].all()


def test_one_row_per_day_and_operation(rows, sample):
    nonzero = sample[sample["credits"] != 0]
    assert len(rows) == len(nonzero) == 5082
    assert not rows.duplicated(["x_UsageDate", "x_Operation"]).any()
    assert (rows["ChargeCategory"] == "Usage").all() and (
        rows["ChargeFrequency"] == "Usage-Based"
    ).all()
    assert (rows["SkuId"] == rows["x_Operation"]).all() and (
        rows["ServiceName"] == "Generect API"
    ).all()
    # exactly one SkuId per SkuPriceId
    assert rows.groupby("SkuPriceId")["SkuId"].nunique().eq(1).all()
    assert (
        rows["SkuPriceDetails"].map(lambda t: json.loads(t)["x_Operation"]).eq(rows["SkuId"]).all()
    )


@pytest.mark.parametrize("which", ["rows", "prepaid"])
def test_not_null_columns(which, request):
    frame = request.getfixturevalue(which)
    usage = frame[frame["ChargeCategory"] == "Usage"]
    nulls = {c: int(usage[c].isna().sum()) for c in F.NOT_NULL_USAGE if usage[c].isna().any()}
    assert nulls == {}
    for column in MANDATORY:
        if column != "ChargeClass":
            assert frame[column].notna().all(), column
    assert frame["ChargeClass"].isna().all() and frame["InvoiceId"].isna().all()
    purchases = frame[frame["ChargeCategory"] == "Purchase"]
    # a purchase consumes nothing
    assert purchases["ConsumedQuantity"].isna().all() and purchases["ConsumedUnit"].isna().all()


def test_price_times_quantity_is_cost(prepaid):
    """Each day's cost is its share of the month's rounded cost line, so it is within the
    cent rounding of price × quantity; the credit columns are exact."""
    for price, cost in MONEY:
        product = prepaid[price] * prepaid["PricingQuantity"]
        assert (product - prepaid[cost]).abs().max() < 0.015, cost
        cents = prepaid[cost] * 100
        assert np.allclose(cents, np.round(cents), atol=1e-6), "costs are whole cents"
    usage = prepaid[prepaid["ChargeCategory"] == "Usage"]
    assert (
        usage["PricingCurrencyListUnitPrice"] * usage["PricingQuantity"]
        == usage["PricingCurrencyEffectiveCost"]
    ).all()
    assert (
        usage["PricingCurrencyContractedUnitPrice"] * usage["PricingQuantity"]
        == usage["PricingCurrencyEffectiveCost"]
    ).all()
    purchases = prepaid[prepaid["ChargeCategory"] == "Purchase"]
    assert (purchases["ListCost"] == (purchases["PricingQuantity"] * 0.01).round(2)).all()


def test_days_add_up_to_the_report_cost_lines(rows, sample):
    """Per month and operation, the daily costs sum exactly (in cents) to the report's line:
    estimate_cost on the monthly table, rounded once."""
    monthly = estimate_cost(to_monthly(sample), load_prices())
    line = {
        (m, o): money_cents(c)
        for m, o, c in zip(monthly["month"], monthly["operation"], monthly["estimated_cost"])
    }
    cents = to_hundredths(rows["EffectiveCost"])
    got = pd.Series(cents).groupby([rows["x_UsageDate"].str[:7], rows["x_Operation"]]).sum()
    assert {k: int(v) for k, v in got.items()} == {
        k: v for k, v in line.items() if (k[0], k[1]) in got.index
    }
    assert int(to_hundredths(rows["PricingCurrencyEffectiveCost"]).sum()) == int(
        to_hundredths(sample["credits"]).sum()
    )
    # pay in arrears without a ledger: billed = effective = list (multiplier 1)
    assert (rows["BilledCost"] == rows["EffectiveCost"]).all() and (
        rows["ListCost"] == rows["EffectiveCost"]
    ).all()


def test_unpriced_operation_is_flagged(rows):
    unpriced = rows[rows["x_Unpriced"]]
    assert set(unpriced["x_Operation"]) == {"unattributed"}
    assert (unpriced["ListUnitPrice"] == 0).all() and (unpriced["ListCost"] == 0).all()


def test_charge_periods_are_utc_local_days_dst_exact(rows):
    hours = (rows["ChargePeriodEnd"] - rows["ChargePeriodStart"]).dt.total_seconds() / 3600
    by_day = hours.groupby(rows["x_UsageDate"]).first()
    assert by_day["2025-03-30"] == 23 and by_day["2025-10-26"] == 25 and by_day["2026-03-29"] == 23
    assert set(by_day.drop(["2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25"])) == {24}
    assert str(rows["ChargePeriodStart"].dt.tz) == "UTC"
    first = rows.iloc[0]
    assert first["ChargePeriodStart"] == pd.Timestamp("2024-12-31T22:00:00Z")
    assert first["BillingPeriodStart"] == pd.Timestamp("2024-12-31T22:00:00Z")
    assert first["BillingPeriodEnd"] == pd.Timestamp("2025-01-31T22:00:00Z")
    inside = (rows["BillingPeriodStart"] <= rows["ChargePeriodStart"]) & (
        rows["ChargePeriodEnd"] <= rows["BillingPeriodEnd"]
    )
    assert inside.all()


def test_purchases_from_the_ledger(prepaid, rows):
    purchases = prepaid[prepaid["ChargeCategory"] == "Purchase"]
    # the pending top-up and the charge are not purchases
    assert list(purchases["x_TransactionId"]) == ["tx-1", "tx-2", "tx-5"]
    assert list(purchases["x_UsageDate"]) == [
        "2025-01-01",
        "2025-06-01",
        "2026-03-01",
    ]  # Kyiv dates
    assert (purchases["ChargeFrequency"] == "One-Time").all() and (
        purchases["EffectiveCost"] == 0
    ).all()
    assert (purchases["PricingCurrencyEffectiveCost"] == 0).all() and (
        purchases["PricingCurrency"] == "USD"
    ).all()
    assert not purchases["x_CostIsEstimate"].any()
    usage = prepaid[prepaid["ChargeCategory"] == "Usage"]
    # prepaid: the top-ups are billed, usage is drawn from the balance (billed 0, cost amortised)
    assert (usage["BilledCost"] == 0).all()
    assert round(prepaid["BilledCost"].sum(), 2) == 2000.0 + 1500.0 + 1200.0
    assert (usage["EffectiveCost"].to_numpy() == rows["EffectiveCost"].to_numpy()).all()


def test_ledger_topups_need_a_price():
    with pytest.raises(InputError, match="topup_price"):
        F.focus_frame(load_sample("2025-01-01", "2025-01-31"), ledger=ledger())
    with pytest.raises(InputError, match="lacks column"):
        F.focus_frame(
            load_sample("2025-01-01", "2025-01-31"), ledger=ledger().drop(columns="status")
        )


def test_daily_buckets_only():
    with pytest.raises(InputError, match="day"):
        F.focus_frame(load_sample("2025-01-01", "2025-03-31", period="month"))
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        "--period",
        "month",
        "--format",
        "focus",
    )
    assert out.returncode == 2 and "--period day" in out.stderr


def test_refund_days_split_exactly():
    from helpers import frame

    usage = frame(
        [
            ("2026-03-01", "search_database", 101.0),
            ("2026-03-02", "search_database", -33.0),
            ("2026-03-03", "search_database", 7.0),
        ],
        fetched_at="2026-03-10",
    )
    out = F.focus_frame(usage)
    assert int(to_hundredths(out["ListCost"]).sum()) == money_cents(75 * 0.02)
    assert (out["ListCost"] - out["ListUnitPrice"] * out["PricingQuantity"]).abs().max() < 0.015


def test_csv_text(tmp_path):
    from helpers import frame

    usage = frame(
        [("2026-03-01", "=1+1", 197.0), ("2026-03-01", "line\nbreak", 2.5)], fetched_at="2026-03-10"
    )
    text = F.render_focus_csv(F.focus_frame(usage))
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["x_Operation"] for r in records] == ["=1+1", "line\nbreak"]  # names verbatim
    assert records[0]["PricingQuantity"] == "197.0"  # decimals keep their point
    assert records[0]["ChargePeriodStart"] == "2026-02-28T22:00:00Z"
    assert records[0]["ChargeClass"] == "" and records[0]["InvoiceId"] == ""
    target = tmp_path / "f.csv"
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-31",
        "--format",
        "focus",
        "--output",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    back = pd.read_csv(target)
    assert len(back) == len(load_sample("2026-03-01", "2026-03-31").query("credits != 0"))


def test_parquet_keeps_types(tmp_path):
    target = tmp_path / "f.parquet"
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-31",
        "--format",
        "focus",
        "--output",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    back = pd.read_parquet(target)
    # The CLI values the sample's credits from its invoices: EffectiveCost is the booked cost.
    import datetime as dt

    from generect_reports.analysis.valuation import MoneySettings
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.reports.valuation import booked_months

    booked = booked_months(
        SampleSource(), MoneySettings(), dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    )
    expected = F.focus_frame(load_sample("2026-03-01", "2026-03-31"), booked=booked)
    assert list(back.columns) == list(expected.columns)
    assert (
        str(back["ChargePeriodStart"].dt.tz) == "UTC" and back["PricingQuantity"].dtype == "float64"
    )
    assert (back["ChargePeriodStart"] == expected["ChargePeriodStart"]).all()
    assert (back["EffectiveCost"] == expected["EffectiveCost"]).all()


def test_golden_focus_csv(update_golden):
    """A DST week of the sample as FOCUS CSV, compared with the reviewed golden file."""
    from pathlib import Path

    path = Path(__file__).parent / "golden" / "focus.csv"
    text = F.render_focus_csv(F.focus_frame(load_sample("2026-03-28", "2026-03-31")))
    if update_golden:
        path.write_bytes(text.encode("utf-8"))
    assert text == path.read_bytes().decode("utf-8")


def test_contracted_cost_is_the_report_line_at_a_multiplier():
    """3,292 credits of email_validation at $0.005 × 0.75 = $12.345: the report's line is
    $12.35 (half up, in decimal); FOCUS priced the float product (12.344999…) to $12.34."""
    from helpers import frame

    from generect_reports.money import PriceBook

    usage = frame(
        [("2026-07-01", "email_validation", 1646.0), ("2026-07-02", "email_validation", 1646.0)],
        fetched_at="2026-08-01",
    )
    out = F.focus_frame(usage, prices={"email_validation": 0.005}, multiplier=0.75)
    assert int(to_hundredths(out["ContractedCost"]).sum()) == 1235
    assert int(to_hundredths(out["ListCost"]).sum()) == 1646
    assert out["ContractedUnitPrice"].tolist() == [0.00375, 0.00375]
    assert out["ListUnitPrice"].tolist() == [0.005, 0.005]
    book = PriceBook.from_prices({"email_validation": 0.005}, multiplier=0.75)
    same = F.focus_frame(usage, prices=book)
    pd.testing.assert_frame_equal(out, same)
