"""The prepaid sub-ledger: lots, FIFO and moving average, accrual, roll-forward, matching."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generect_reports.analysis.valuation import (
    match_top_ups,
    parse_journal_table,
    parse_money_table,
    parse_purchases,
    value_ledger,
)
from generect_reports.errors import ConfigError


def _ledger(rows: list[tuple[str, str, str, float, str]], tz: str = "UTC") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["id", "created_at", "type", "credits", "status"])
    frame["created_at"] = pd.to_datetime(frame["created_at"]).dt.tz_localize(tz)
    frame["balance_type"] = "credits"
    return frame


LEDGER = _ledger(
    [
        ("t1", "2026-01-01 09:00", "top_up", 1000.0, "success"),
        ("c1", "2026-01-05 10:00", "search_database_leads", -300.0, "success"),
        ("c2", "2026-01-10 10:00", "email_find", -200.0, "success"),
        ("c3", "2026-01-20 10:00", "email_find", -50.0, "error"),
        ("c4", "2026-01-31 10:00", "search_database_leads", -100.0, "pending"),
        ("t2", "2026-02-01 09:00", "top_up", 1000.0, "success"),
        ("c5", "2026-02-03 10:00", "search_database_leads", -700.0, "success"),
    ]
)
PURCHASES = [
    {
        "date": "2026-01-01",
        "invoice": "INV-1",
        "credits": "1000",
        "amount": "30.00",
        "currency": "usd",
    },
    {
        "date": "2026-01-30",
        "invoice": "INV-2",
        "credits": "1000",
        "amount": "20.00",
        "currency": "USD",
    },
]


def _money(**extra: object) -> object:
    table = {"purchases": "purchases.csv", **extra}
    return parse_money_table(table, purchases=PURCHASES, purchases_source="purchases.csv")


def _rollforward_closes(valuation: object) -> None:
    months = valuation.months  # type: ignore[attr-defined]
    for prev, cur in zip(months, months[1:]):
        assert cur.opening_cents == prev.closing_cents
        assert cur.opening_hundredths == prev.closing_hundredths
    for m in months:
        assert m.opening_cents + m.purchases_cents - m.consumed_cents == m.closing_cents
        assert (
            m.opening_hundredths + m.purchased_hundredths - m.consumed_hundredths
            == m.closing_hundredths
        )
        assert sum(m.by_operation.values()) == m.consumed_cents


def test_fifo_by_hand() -> None:
    v = value_ledger(LEDGER, _money(), through="2026-02")
    jan, feb = v.months
    # January: 500 credits of the $0.03 lot; 100 pending accrued from that lot's rest.
    assert (jan.opening_cents, jan.purchases_cents, jan.consumed_cents, jan.closing_cents) == (
        0,
        3000,
        1500,
        1500,
    )
    assert jan.pending_accrual_cents == 300
    assert jan.booked_cents == 1800
    assert jan.reversed_hundredths == 5000
    assert dict(jan.by_operation) == {"email_find": 600, "search_database_leads": 900}
    # February: the last 500 of lot 1 ($15.00), then 200 of lot 2 at $0.02 ($4.00).
    assert (feb.opening_cents, feb.purchases_cents, feb.consumed_cents, feb.closing_cents) == (
        1500,
        2000,
        1900,
        1600,
    )
    assert feb.pending_accrual_cents == 0
    assert [t.invoice for t in jan.top_ups + feb.top_ups] == ["INV-1", "INV-2"]
    assert jan.ties and feb.ties
    _rollforward_closes(v)


def test_moving_average_by_hand() -> None:
    v = value_ledger(LEDGER, _money(policy="average"), through="2026-02")
    jan, feb = v.months
    assert jan.consumed_cents == 1500 and jan.closing_cents == 1500
    # 500 credits for $15 and 1000 for $20: 700 credits at $35/1500 = $16.333… → $16.33.
    assert feb.consumed_cents == 1633
    assert feb.closing_cents == 1867
    _rollforward_closes(v)


def test_accrual_uses_the_lots_the_pending_will_consume() -> None:
    ledger = _ledger(
        [
            ("t1", "2026-03-01 00:00", "top_up", 100.0, "success"),
            ("t2", "2026-03-02 00:00", "top_up", 100.0, "success"),
            ("c1", "2026-03-03 00:00", "email_find", -80.0, "success"),
            ("c2", "2026-03-31 00:00", "email_find", -50.0, "pending"),
        ]
    )
    money = parse_money_table(
        {"purchases": "p.csv"},
        purchases=[
            {"date": "2026-03-01", "invoice": "A", "credits": 100, "amount": 10, "currency": "USD"},
            {"date": "2026-03-02", "invoice": "B", "credits": 100, "amount": 5, "currency": "USD"},
        ],
    )
    (mar,) = value_ledger(ledger, money, through="2026-03").months
    assert mar.consumed_cents == 800
    # 20 credits left of lot A ($0.10) and 30 of lot B ($0.05): $2.00 + $1.50.
    assert mar.pending_accrual_cents == 350
    assert mar.closing_cents == 700  # the accrual does not consume the lots


def test_unmatched_top_up_and_purchase_are_named() -> None:
    v = value_ledger(LEDGER, _money(match_days=1), through="2026-02")
    jan, feb = v.months
    assert [p.invoice for p in jan.unmatched_purchases] == ["INV-2"]
    assert [t.id for t in feb.unmatched_top_ups] == ["t2"]
    assert not jan.ties and not feb.ties
    # The top-up without an invoice is estimated at the previous lot's rate ($0.03).
    assert feb.purchases_cents == 3000
    _rollforward_closes(v)


def test_match_takes_the_nearest_invoice_of_the_same_credits() -> None:
    top_ups = _ledger([("t", "2026-05-10 12:00", "top_up", 500.0, "success")])
    bought = parse_purchases(
        [
            {
                "date": "2026-05-08",
                "invoice": "far",
                "credits": 500,
                "amount": 1,
                "currency": "EUR",
            },
            {
                "date": "2026-05-11",
                "invoice": "near",
                "credits": 500,
                "amount": 1,
                "currency": "EUR",
            },
            {
                "date": "2026-05-10",
                "invoice": "other",
                "credits": 501,
                "amount": 1,
                "currency": "EUR",
            },
        ]
    )
    matches, left = match_top_ups(top_ups, bought)
    assert matches[0].invoice == "near"
    assert sorted(p.invoice for p in left) == ["far", "other"]


def test_rate_and_rate_from() -> None:
    money = parse_money_table({"rate": 0.03, "rate_from": {"2026-02": 0.02}})
    v = value_ledger(LEDGER, money, through="2026-02")
    assert [m.consumed_cents for m in v.months] == [1500, 1900]
    assert all(m.ties for m in v.months)
    assert money.rate_for("2025-12") == Decimal("0.03")


def test_opening_position_and_unvalued_charges() -> None:
    ledger = _ledger(
        [
            ("old", "2025-12-30 00:00", "email_find", -999.0, "success"),
            ("c1", "2026-01-02 00:00", "email_find", -400.0, "success"),
            ("c2", "2026-01-03 00:00", "email_find", -200.0, "success"),
        ]
    )
    money = parse_money_table(
        {"rate": 0.05, "opening": {"date": "2026-01-01", "credits": 500, "amount": 12.5}}
    )
    (jan,) = value_ledger(ledger, money, through="2026-01").months
    assert jan.opening_cents == 1250 and jan.opening_hundredths == 50000
    assert jan.consumed_cents == 1250 and jan.consumed_hundredths == 50000
    assert jan.unvalued_hundredths == 10000 and not jan.ties
    assert jan.closing_cents == 0


def test_empty_months_carry_the_position() -> None:
    v = value_ledger(LEDGER, _money(), through="2026-04")
    assert [m.month for m in v.months] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert v.months[-1].opening_cents == v.months[-1].closing_cents == 1600
    _rollforward_closes(v)


def test_month_timezone_moves_a_charge() -> None:
    # 2026-01-31 23:30 UTC is already February in Kyiv (UTC+2).
    ledger = _ledger(
        [
            ("t1", "2026-01-01 09:00", "top_up", 1000.0, "success"),
            ("c1", "2026-01-31 23:30", "email_find", -100.0, "success"),
        ]
    )
    money = parse_money_table({"rate": 0.01})
    utc = value_ledger(ledger, money, through="2026-02")
    kyiv = value_ledger(ledger, money, through="2026-02", timezone="Europe/Kyiv")
    assert [m.consumed_cents for m in utc.months] == [100, 0]
    assert [m.consumed_cents for m in kyiv.months] == [0, 100]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"invoice": "X", "credits": "1", "amount": "1", "currency": "USD"},
            "row 2: date is empty",
        ),
        (
            {
                "date": "2026-13-01",
                "invoice": "X",
                "credits": "1",
                "amount": "1",
                "currency": "USD",
            },
            "row 2: date",
        ),
        (
            {
                "date": "2026-01-01",
                "invoice": "X",
                "credits": "1.001",
                "amount": "1",
                "currency": "USD",
            },
            "two decimals",
        ),
        (
            {
                "date": "2026-01-01",
                "invoice": "X",
                "credits": "0",
                "amount": "1",
                "currency": "USD",
            },
            "credits must be more",
        ),
        (
            {
                "date": "2026-01-01",
                "invoice": "X",
                "credits": "1",
                "amount": "-1",
                "currency": "USD",
            },
            "amount must not",
        ),
        (
            {
                "date": "2026-01-01",
                "invoice": "X",
                "credits": "1",
                "amount": "x",
                "currency": "USD",
            },
            "amount must be a number",
        ),
        (
            {
                "date": "2026-01-01",
                "invoice": "X",
                "credits": "1",
                "amount": "1",
                "currency": "dollars",
            },
            "currency",
        ),
    ],
)
def test_bad_purchase_rows(row: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_purchases([row], where="p.csv")


def test_purchases_one_currency_and_unique_invoices() -> None:
    row = {"date": "2026-01-01", "invoice": "X", "credits": "1", "amount": "1", "currency": "USD"}
    with pytest.raises(ConfigError, match="appears twice"):
        parse_purchases([row, row])
    with pytest.raises(ConfigError, match="one currency only, not EUR, USD"):
        parse_purchases([row, {**row, "invoice": "Y", "currency": "EUR"}])
    (p,) = parse_purchases([{**row, "amount": "2.675", "tax": "0.5"}])
    assert p.cents == 268  # the one half-up rule; tax is not cost
    assert p.date == dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"prices": "x"}, "unknown setting 'prices' in \\[money\\]"),
        ({"rate": 0.1, "policy": "lifo"}, "policy must be fifo or average"),
        ({"rate": 0}, "rate must be more than zero"),
        ({"rate": 0.1, "match_days": -1}, "match_days"),
        ({"rate": 0.1, "rate_from": {"2026-1": 0.1}}, "rate_from: '2026-1' is not a month"),
        ({"rate_from": {"2026-01": 0.1}}, "rate_from needs rate"),
        ({"purchases": "p.csv", "rate": 0.1}, "purchases or rate, not both"),
        ({"rate": 0.1, "opening": {"date": "2026-01-01"}}, "opening must be"),
        ({"rate": 0.1, "overage_rate": "x"}, "overage_rate must be a number"),
    ],
)
def test_money_table_errors_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_money_table(table)


def test_journal_table() -> None:
    accounts = parse_journal_table({"expense": 6120, "prepaid": "1410", "register": "close.json"})
    assert (accounts.expense, accounts.prepaid, accounts.accrued) == ("6120", "1410", "2100")
    with pytest.raises(ConfigError, match="unknown setting 'cash' in \\[journal\\]"):
        parse_journal_table({"cash": "1000"})
    with pytest.raises(ConfigError, match="must be different"):
        parse_journal_table({"expense": "1", "prepaid": "1"})
    with pytest.raises(ConfigError, match="\\[journal\\] payable must be an account code"):
        parse_journal_table({"payable": ""})


_EVENT = st.tuples(
    st.sampled_from(["top_up", "email_find", "search_database_leads", "platform"]),
    st.integers(min_value=1, max_value=500_000),
    st.sampled_from(["success", "success", "success", "pending", "error"]),
    st.integers(min_value=0, max_value=59 * 24 * 60),
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(_EVENT, min_size=1, max_size=40),
    policy=st.sampled_from(["fifo", "average"]),
    price=st.integers(min_value=1, max_value=999),
)
def test_rollforward_closes_and_splits_add_up(
    events: list[tuple[str, int, str, int]], policy: str, price: int
) -> None:
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows = [
        (
            f"r{i}",
            start + pd.Timedelta(minutes=minute),
            kind,
            (h if kind == "top_up" else -h) / 100,
            status,
        )
        for i, (kind, h, status, minute) in enumerate(events)
    ]
    ledger = pd.DataFrame(rows, columns=["id", "created_at", "type", "credits", "status"])
    money = parse_money_table({"rate": Decimal(price) / 1000, "policy": policy})
    v = value_ledger(ledger, money, through="2026-03")
    _rollforward_closes(v)
    for m in v.months:
        assert m.closing_cents >= 0 and m.closing_hundredths >= 0
        assert m.pending_accrual_cents >= 0


def test_an_invoice_at_month_end_waits_for_the_next_months_top_up() -> None:
    ledger = _ledger(
        [
            ("t1", "2026-01-01 09:00", "top_up", 1000.0, "success"),
            ("c1", "2026-01-05 10:00", "email_find", -100.0, "success"),
            ("t2", "2026-02-01 09:00", "top_up", 1000.0, "success"),
        ]
    )
    (jan,) = value_ledger(ledger, _money(), through="2026-01").months
    assert jan.ties and not jan.unmatched_purchases  # INV-2 (30 January) pays for t2


def test_cost_of_more_credits_and_as_of() -> None:
    v = value_ledger(LEDGER, _money(), through="2026-02")
    # After February: 300 credits of lot 2 left ($6.00); 100 more cost $2.00, 400 more cost
    # $6.00 + 100 at the newest lot's $0.02.
    assert v.cost_of(10000) == 200 and v.cost_of(40000) == 800
    early = value_ledger(
        LEDGER, _money(), through="2026-01", until=pd.Timestamp("2026-01-07", tz="UTC")
    )
    (jan,) = early.months
    assert jan.consumed_hundredths == 30000 and jan.pending_hundredths == 0
