"""FinOps FOCUS 1.2 export: the usage as cost-and-usage rows any FinOps tool can load.

One row per local day and operation (``ChargeCategory`` ``Usage``), and, where a ledger frame is
given, one ``Purchase`` row per credit top-up. Credits travel in FOCUS's virtual-currency
columns (``PricingCurrency`` is :data:`CREDIT_CURRENCY`); money columns are in the price
table's currency and are an **estimate** from list prices (``x_CostIsEstimate``). The README
documents the mapping column by column.

Money comes from the price book (:class:`~generect_reports.money.PriceBook`): each month's line
per operation is priced and rounded once (the contracted cost is the report's cost line, the list
cost the same credits at list price), then split over the month's days in whole cents by largest
remainder (:func:`~generect_reports.money.split_cents`), so a month's daily rows add up to the
report's figure exactly.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from generect_reports.errors import InputError
from generect_reports.money import (
    PriceBook,
    as_price_book,
    cost_cents,
    split_cents,
    to_decimal,
    to_hundredths,
)

__all__ = [
    "FOCUS_VERSION",
    "FOCUS_COLUMNS",
    "CUSTOM_COLUMNS",
    "CREDIT_CURRENCY",
    "focus_frame",
    "render_focus_csv",
    "write_focus",
    "NOT_NULL_USAGE",
]

FOCUS_VERSION = "1.2"

#: PricingCurrency of the credits. FOCUS lets a virtual currency be named freely, but the
#: FinOps validator insists on three capital letters. ``QRC`` sits in the range ISO 3166 leaves
#: to private use (QM-QZ), so it can never be mistaken for a national currency code.
CREDIT_CURRENCY = "QRC"

#: The FOCUS 1.2 columns written, in this order (custom ``x_`` columns follow).
FOCUS_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountStatus",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
)
CUSTOM_COLUMNS: tuple[str, ...] = (
    "x_Operation",
    "x_UsageDate",
    "x_Unpriced",
    "x_CostIsEstimate",
    "x_PricingCurrencyName",
    "x_TransactionId",
)
#: Columns our own checks hold non-null on Usage rows (the validator's guards skip them).
NOT_NULL_USAGE: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
)

_PROVIDER = "Generect"
_SERVICE = "Generect API"
_CATEGORY = "Business Applications"
_SUBCATEGORY = "Other (Business Applications)"
_TOPUP_SKU = "credit_topup"
_UNIT = "Credit"


def _formatted(values: pd.Series, fmt: str) -> pd.Series:
    """``values.dt.strftime(fmt)``, formatting each distinct value once (a day repeats per
    operation, a month per day)."""
    codes, uniques = pd.factorize(values)
    text = np.asarray(pd.Series(uniques).dt.strftime(fmt), dtype=object)
    return pd.Series(text[codes], index=values.index)


def _utc_text(ts: pd.Series) -> pd.Series:
    """Instants as FOCUS writes them: UTC, ISO 8601, seconds, trailing ``Z``."""
    return _formatted(ts.dt.tz_convert("UTC"), "%Y-%m-%dT%H:%M:%SZ")


def _per_operation(ops: pd.Series, fn: Any) -> pd.Series:
    """``ops.map(fn)`` computed once per distinct operation."""
    return ops.map({op: fn(op) for op in ops.unique()})


def _midnights(days: pd.Series, timezone: str) -> pd.Series:
    """Local midnight of each naive date in ``timezone`` (DST-safe, as the usage frame does)."""
    naive = pd.DatetimeIndex(days)
    return pd.Series(
        naive.tz_localize(
            timezone, nonexistent="shift_forward", ambiguous=np.ones(len(naive), bool)
        ),
        index=days.index,
    )


def _daily_cents(daily: pd.DataFrame, book: PriceBook) -> tuple[np.ndarray, np.ndarray]:
    """List and contracted cost of every row in cents, split from the month's line.

    The month's credits of an operation are priced once by the book (the report's cost line),
    then split over its days in proportion to each day's unrounded cost.
    """
    list_cents = np.zeros(len(daily), dtype="int64")
    contracted_cents = np.zeros(len(daily), dtype="int64")
    credits = daily["credits"].to_numpy(dtype="float64")
    keys = daily["month"].astype(str) + "\x00" + daily["operation"].astype(str)
    groups = pd.Series(np.arange(len(daily))).groupby(keys.to_numpy(), sort=False)
    positions = [pos.to_numpy() for _, pos in groups]
    ops = np.asarray([daily["operation"].iat[idx[0]] for idx in positions], dtype=object)
    sums = np.asarray([credits[idx].sum() for idx in positions], dtype="float64")
    lines = {
        "list": book.costs_cents(ops, sums, list_price=True),
        "contracted": book.costs_cents(ops, sums),
    }
    for k, idx in enumerate(positions):  # one split per month and operation, not per row
        for out, which, unit in (
            (list_cents, "list", book.list_price(ops[k])),
            (contracted_cents, "contracted", book.unit_price(ops[k])),
        ):
            rate = float(unit) if unit is not None else 0.0
            out[idx] = split_cents(int(lines[which][k]), credits[idx] * rate * 100.0)
    return list_cents, contracted_cents


def _meter(op: str) -> str:
    return op.replace("_", " ").strip().title() or op


def _booked_cents(
    daily: pd.DataFrame, booked: Mapping[str, Mapping[str, int]], fallback: np.ndarray
) -> np.ndarray:
    """Each row's booked cost in cents: its month's booked cents of the operation split over the
    operation's days by credits (largest remainder); a month not booked keeps ``fallback``."""
    out = fallback.copy()
    credits = daily["credits"].to_numpy(dtype="float64")
    keys = daily["month"].astype(str) + "\x00" + daily["operation"].astype(str)
    for key, pos in pd.Series(np.arange(len(daily))).groupby(keys.to_numpy(), sort=False):
        month, op = str(key).split("\x00", 1)
        if month not in booked:
            continue
        idx = pos.to_numpy()
        out[idx] = split_cents(int(booked[month].get(op, 0)), credits[idx])
    return out


def _usage_rows(
    usage: pd.DataFrame,
    book: PriceBook,
    *,
    prepaid: bool,
    booked: Mapping[str, Mapping[str, int]] | None = None,
) -> pd.DataFrame:
    tz = str(usage.attrs.get("timezone", "UTC"))
    local = usage["period_start"].dt.tz_localize(None).dt.normalize()
    daily = pd.DataFrame(
        {
            "day": local,
            "operation": usage["operation"].astype(str),
            "credits": usage["credits"].to_numpy(dtype="float64"),
        }
    )
    daily = daily[daily["credits"] != 0].sort_values(["day", "operation"], kind="stable")
    daily = daily.reset_index(drop=True)
    daily["month"] = daily["day"].dt.to_period("M")
    price = daily["operation"].map(book.prices)
    unpriced = price.isna().to_numpy()
    price = price.fillna(0.0).to_numpy(dtype="float64")
    unit_price = daily["operation"].map(book.unit_prices).fillna(0.0).to_numpy(dtype="float64")
    currency = book.currency
    list_cents, contracted_cents = _daily_cents(daily, book)
    start = _midnights(daily["day"], tz)
    end = _midnights(daily["day"] + pd.Timedelta(days=1), tz)
    month_start = _midnights(daily["month"].dt.start_time, tz)
    month_end = _midnights((daily["month"] + 1).dt.start_time, tz)
    ops = daily["operation"]
    list_cost = list_cents / 100.0
    contracted_cost = contracted_cents / 100.0
    effective_cost = contracted_cost
    if booked:
        effective_cost = _booked_cents(daily, booked, contracted_cents) / 100.0
    credits = daily["credits"].to_numpy()
    return pd.DataFrame(
        {
            "BilledCost": np.zeros(len(daily)) if prepaid else effective_cost,
            "BillingPeriodEnd": month_end,
            "BillingPeriodStart": month_start,
            "ChargeCategory": "Usage",
            "ChargeDescription": "Generect API credits used by " + ops,
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": end,
            "ChargePeriodStart": start,
            "ConsumedQuantity": credits,
            "ConsumedUnit": _UNIT,
            "ContractedCost": contracted_cost,
            "ContractedUnitPrice": unit_price,
            "EffectiveCost": effective_cost,
            "ListCost": list_cost,
            "ListUnitPrice": price,
            "PricingCurrency": CREDIT_CURRENCY,
            "PricingCurrencyContractedUnitPrice": 1.0,
            "PricingCurrencyEffectiveCost": credits,
            "PricingCurrencyListUnitPrice": 1.0,
            "PricingQuantity": credits,
            "PricingUnit": _UNIT,
            "SkuId": ops,
            "SkuMeter": _per_operation(ops, _meter),
            "SkuPriceDetails": _per_operation(
                ops, lambda o: json.dumps({"x_Operation": o}, ensure_ascii=False)
            ),
            "SkuPriceId": ops + "-list-" + currency.lower(),
            "x_Operation": ops,
            "x_UsageDate": _formatted(daily["day"], "%Y-%m-%d"),
            "x_Unpriced": unpriced,
            "x_TransactionId": None,
        }
    )


def _purchase_rows(
    ledger: pd.DataFrame, timezone: str, topup_price: float | None, currency: str
) -> pd.DataFrame:
    """Successful credit top-ups (positive credits) of the ledger as Purchase rows."""
    required = {"id", "created_at", "type", "credits", "status", "balance_type"}
    missing = required - set(ledger.columns)
    if missing:
        raise InputError(f"the ledger frame lacks column(s) {', '.join(sorted(missing))}")
    top = ledger[(ledger["credits"] > 0) & (ledger["status"].astype(str) == "success")]
    if top.empty:
        return pd.DataFrame()
    if topup_price is None or not np.isfinite(topup_price) or topup_price < 0:
        raise InputError(
            "the ledger holds credit top-ups: give topup_price, the price of one "
            "purchased credit in the billing currency"
        )
    created = pd.to_datetime(top["created_at"])
    if created.dt.tz is None:
        raise InputError("the ledger's created_at must be tz-aware")
    local = created.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    top = top.assign(day=local.to_numpy()).sort_values(["day", "id"], kind="stable")
    day = pd.Series(top["day"].to_numpy())
    month = day.dt.to_period("M")
    qty = top["credits"].to_numpy(dtype="float64")
    unit = to_decimal(topup_price)
    cost = np.array([cost_cents(h, unit) for h in to_hundredths(qty)], dtype="int64") / 100.0
    n = len(top)
    return pd.DataFrame(
        {
            "BilledCost": cost,
            "BillingPeriodEnd": _midnights((month + 1).dt.start_time, timezone),
            "BillingPeriodStart": _midnights(month.dt.start_time, timezone),
            "ChargeCategory": "Purchase",
            "ChargeDescription": "Generect credit top-up",
            "ChargeFrequency": "One-Time",
            "ChargePeriodEnd": _midnights(day + pd.Timedelta(days=1), timezone),
            "ChargePeriodStart": _midnights(day, timezone),
            "ConsumedQuantity": np.full(n, np.nan),
            "ConsumedUnit": None,
            "ContractedCost": cost,
            "ContractedUnitPrice": topup_price,
            # The purchase is paid now but used later: its cost is recognised on the usage rows.
            "EffectiveCost": 0.0,
            "ListCost": cost,
            "ListUnitPrice": topup_price,
            "PricingCurrency": currency,
            "PricingCurrencyContractedUnitPrice": topup_price,
            "PricingCurrencyEffectiveCost": 0.0,
            "PricingCurrencyListUnitPrice": topup_price,
            "PricingQuantity": qty,
            "PricingUnit": _UNIT,
            "SkuId": _TOPUP_SKU,
            "SkuMeter": "Credit Top-up",
            "SkuPriceDetails": None,
            "SkuPriceId": f"{_TOPUP_SKU}-{currency.lower()}",
            "x_Operation": None,
            "x_UsageDate": day.dt.strftime("%Y-%m-%d").to_numpy(),
            "x_Unpriced": False,
            "x_TransactionId": top["id"].astype(str).to_numpy(),
        }
    )


def focus_frame(
    usage: pd.DataFrame,
    *,
    prices: PriceBook | Mapping[str, float] | None = None,
    currency: str | None = None,
    multiplier: float | None = None,
    ledger: pd.DataFrame | None = None,
    topup_price: float | None = None,
    account_id: str = "generect",
    account_name: str = "Generect account",
    booked: Mapping[str, Mapping[str, int]] | None = None,
) -> pd.DataFrame:
    """The usage (and the ledger's top-ups) as FOCUS 1.2 cost-and-usage rows.

    Parameters
    ----------
    usage
        Tidy frame of **day** buckets.
    prices
        The :class:`~generect_reports.money.PriceBook` (default the bundled one), or list
        prices per credit by operation (multiplier 1). An operation without a price is exported
        at 0 and flagged in ``x_Unpriced``.
    currency
        The billing currency (ISO 4217); default the book's.
    multiplier
        Tier multiplier (contracted prices are list prices × ``multiplier``); default the
        book's.
    ledger
        Optional ledger frame (``id``, ``created_at``, ``type``, ``credits``, ``status``,
        ``balance_type``). Its successful top-ups become ``Purchase`` rows and the credits are
        then prepaid: usage rows bill 0 and carry the amortised cost in ``EffectiveCost``.
        Without it, usage rows bill their cost (pay in arrears).
    topup_price
        Price of one purchased credit in ``currency``; needed when the ledger has top-ups.
    account_id, account_name
        ``BillingAccountId`` and ``BillingAccountName``.
    booked
        The booked cost in cents by month (``YYYY-MM``) and operation (the valuation of the
        prepaid lots, :func:`generect_reports.reports.valuation.booked_by_operation`): usage
        rows of those months then carry it in ``EffectiveCost`` (and ``BilledCost`` without a
        ledger), split over days by credits; ``ListCost`` stays at list prices.

    Returns
    -------
    pandas.DataFrame
        :data:`FOCUS_COLUMNS` then :data:`CUSTOM_COLUMNS`; instants tz-aware in UTC. ``attrs``
        add ``focus_version`` and ``cost_is_estimate``.
    """
    if usage.attrs.get("period", "day") != "day":
        raise InputError("FOCUS rows are daily: give usage with day buckets (period='day')")
    book = as_price_book(prices, multiplier=multiplier, currency=currency)
    currency = book.currency
    tz = str(usage.attrs.get("timezone", "UTC"))
    purchases = (
        _purchase_rows(ledger, tz, topup_price, currency) if ledger is not None else pd.DataFrame()
    )
    rows = _usage_rows(usage, book, prepaid=ledger is not None, booked=booked)
    frame = pd.concat([rows, purchases], ignore_index=True) if len(purchases) else rows
    frame = frame.sort_values(
        ["ChargePeriodStart", "ChargeCategory", "SkuId"], kind="stable", ignore_index=True
    )
    for name in ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"):
        frame[name] = pd.to_datetime(frame[name]).dt.tz_convert("UTC")
    frame["BillingAccountId"] = account_id
    frame["BillingAccountName"] = account_name
    frame["BillingCurrency"] = currency
    # The only allowed value is "Correction"; these rows are not corrections.
    frame["ChargeClass"] = None
    # No commitment discounts exist; the empty column keeps the validator's ConsumedQuantity
    # conditions (which name it) from failing for a missing column.
    frame["CommitmentDiscountStatus"] = None
    # Generect's invoice numbers are not in the API: leave them null rather than invent them.
    frame["InvoiceId"] = None
    frame["InvoiceIssuerName"] = _PROVIDER
    frame["PricingCategory"] = "Standard"
    frame["ProviderName"] = _PROVIDER
    frame["PublisherName"] = _PROVIDER
    frame["ServiceCategory"] = _CATEGORY
    frame["ServiceName"] = _SERVICE
    frame["ServiceSubcategory"] = _SUBCATEGORY
    # Usage costs come from list prices; a purchase's from the caller's top-up price.
    frame["x_CostIsEstimate"] = frame["ChargeCategory"] == "Usage"
    if booked:
        months = frame["x_UsageDate"].astype(str).str[:7]
        frame["x_CostIsEstimate"] &= ~months.isin(list(booked)).to_numpy()
    frame["x_PricingCurrencyName"] = np.where(
        frame["ChargeCategory"] == "Usage", "Generect credit", currency
    )
    for name in (
        "BilledCost",
        "ConsumedQuantity",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "ListCost",
        "ListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "PricingQuantity",
    ):
        frame[name] = frame[name].astype("float64")
    for name in ("x_Unpriced", "x_CostIsEstimate"):
        frame[name] = frame[name].astype(bool)
    out = frame[list(FOCUS_COLUMNS) + list(CUSTOM_COLUMNS)].copy()
    out.attrs = {
        **usage.attrs,
        "focus_version": FOCUS_VERSION,
        "cost_is_estimate": not booked,
        "billing_currency": currency,
    }
    return out


def _csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"):
        out[name] = _utc_text(out[name])
    for name in ("x_Unpriced", "x_CostIsEstimate"):
        out[name] = out[name].map({True: "true", False: "false"})
    return out


def render_focus_csv(frame: pd.DataFrame) -> str:
    """FOCUS rows as CSV text (RFC 4180 line ends; names verbatim, as a data format).

    Decimal columns are float64, so whole numbers are written with a point (``197.0``): readers
    that infer types would otherwise take them for integers, which FOCUS's Decimal rule rejects.
    """
    # "\r\n" makes the csv module quote any field holding a CR or LF, so a line break inside
    # an operation name cannot end a row early.
    return _csv_frame(frame).to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def write_focus(
    usage: pd.DataFrame, output: str | os.PathLike[str] | None = None, **options: Any
) -> str | None:
    """Write the FOCUS export: Parquet when ``output`` ends in ``.parquet``, else CSV.

    With no ``output`` the CSV text is returned (for stdout). ``options`` go to :func:`focus_frame`;
    the price book defaults to the one of ``template`` (a folder; default the bundled one).
    """
    template = options.pop("template", None)
    if "prices" not in options:
        from generect_reports.money import load_price_book

        options["prices"] = load_price_book(template)
    frame = focus_frame(usage, **options)
    if output is None:
        return render_focus_csv(frame)
    if str(output).lower().endswith(".parquet"):
        from generect_reports.render.records.export import parquet_table, write_parquet_table

        write_parquet_table(parquet_table(frame), output)
    else:
        from generect_reports._atomic import write_bytes_atomic

        write_bytes_atomic(output, render_focus_csv(frame).encode("utf-8"))
    return None
