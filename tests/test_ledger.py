"""The ledger against the local API server: paging that slips, filters the server ignores, the
month boundary in a non-UTC zone, the cache of closed months, the balance anchor and its pending
hypothesis, restatements, and the faults usage already survives."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fakeapi import TOKEN, make_ledger
from support import run_cli

from generect_reports.errors import (
    IgnoredFilterError,
    InputError,
    MalformedResponseError,
    PagingLimitError,
    RateLimitError,
)
from generect_reports.fetch import ledger as L

KYIV = ZoneInfo("Europe/Kyiv")
OPS = {"search_database": 10.0, "email_find": 2.5}


def _cents(frame: pd.DataFrame) -> int:
    return int((frame["credits"] * 100).round().sum())


@pytest.fixture
def ledger_api(api):
    """The fixture server with a ledger matching its usage (Kyiv days, 2025-01..2026-12) and
    monthly top-ups; /me/ derives the balance from it."""
    api.add_transactions(
        make_ledger(
            dt.date(2025, 1, 1), dt.date(2026, 10, 31), OPS, timezone="Europe/Kyiv", top_up=500.0
        )
    )
    return api


def _window(month: str) -> tuple[dt.datetime, dt.datetime]:
    lower, stop = L.month_window(month, "Europe/Kyiv")
    return lower, stop - dt.timedelta(microseconds=1)


def test_pages_with_explicit_offsets_and_a_server_capped_limit(ledger_api, client):
    lower, upper = _window("2026-05")
    stats: dict[str, int] = {}
    rows = list(L.iter_transactions(client, lower, upper, page_size=500, stats=stats))
    # 31 days x 2 operations x 2 charges + 1 top-up, paged 100 at a time (the server's cap):
    # four pages, then the empty page that ends the walk.
    assert len(rows) == 31 * 4 + 1
    assert stats == {"pages": 3, "rows": 125, "duplicates": 0}
    sent = ledger_api.transaction_requests()
    assert [r.params["offset"] for r in sent] == ["0", "100", "125"]
    assert all(r.params["limit"] == "500" for r in sent)
    # Every date is an instant with its offset: May in Kyiv is +03:00, never a bare date.
    assert sent[0].params["created_at__gte"] == "2026-05-01T00:00:00+03:00"
    assert sent[0].params["created_at__lte"] == "2026-05-31T23:59:59.999999+03:00"
    assert sum(r[3] for r in rows) == pytest.approx(500 - 31 * 12.5)


def test_stops_only_on_an_empty_page_when_pages_come_back_short(ledger_api, client):
    ledger_api.max_limit = 7  # a server that answers far fewer rows than asked
    lower, upper = _window("2026-02")
    rows = list(L.iter_transactions(client, lower, upper, page_size=100))
    assert len(rows) == 28 * 4 + 1
    assert len(ledger_api.transaction_requests()) == -(-len(rows) // 7) + 1


def test_new_charges_arriving_while_paging_change_nothing(ledger_api, client):
    """Charges land at the top of the list between pages; the fixed upper bound keeps the offsets
    steady, and the total is exact to the hundredth."""
    ledger_api.arrivals = [
        {"id": f"new{i}", "type": "search_database", "credits": -3.33, "status": "success"}
        for i in range(5)
    ]
    lower, upper = _window("2026-03")
    before = _cents(
        L.ledger_frame(
            [
                [r[0], r[1].isoformat(), r[2], r[3], r[4], r[5]]
                for r in L.iter_transactions(client, lower, upper)
            ],
            timezone="Europe/Kyiv",
            source="api",
            fetched_at=pd.Timestamp.now(),
        )
    )
    assert len(ledger_api.arrivals) < 5  # they really arrived during the walk
    assert before == 50000 - 31 * 1250


def test_a_dropped_upper_bound_with_arrivals_fails_loudly(ledger_api, client):
    ledger_api.drop_filters = {"created_at__lte"}
    ledger_api.arrivals = [
        {"id": f"new{i}", "type": "search_database", "credits": -1.0, "status": "success"}
        for i in range(3)
    ]
    lower, upper = _window("2026-03")
    with pytest.raises(IgnoredFilterError, match="created_at__lte"):
        list(L.iter_transactions(client, lower, upper))


@pytest.mark.parametrize("dropped", ["created_at__gte", "status"])
def test_an_ignored_filter_is_named(ledger_api, client, dropped):
    ledger_api.add_transactions(
        [
            {
                "id": "p1",
                "ts": dt.datetime(2026, 3, 10, 12, tzinfo=KYIV),
                "type": "email_find",
                "credits": -1.0,
                "status": "pending",
            }
        ]
    )
    ledger_api.drop_filters = {dropped}
    lower, upper = _window("2026-03")
    with pytest.raises(IgnoredFilterError, match=dropped) as info:
        list(L.iter_transactions(client, lower, upper, status="success"))
    assert info.value.exit_code == 4


def test_the_server_drops_an_unreadable_value_so_we_never_send_one(ledger_api, client):
    # The trap itself: a misspelled status is answered 200 with the filter gone.
    data = client.transactions(limit=100, offset=0, status="settled")
    assert {t["details"]["status"] for t in data["transactions"]} == {"success"}
    assert len(data["transactions"]) == 100
    lower, upper = _window("2026-03")
    before = len(ledger_api.requests)
    with pytest.raises(InputError, match="status"):
        list(L.iter_transactions(client, lower, upper, status="settled"))
    with pytest.raises(InputError, match="amount__lte"):
        list(L.iter_transactions(client, lower, upper, amount__lte="-5x"))
    with pytest.raises(InputError, match="no offset"):
        list(L.iter_transactions(client, "2026-03-01T00:00:00", upper))
    assert len(ledger_api.requests) == before


def test_a_server_that_ignores_offset_cannot_loop_forever(ledger_api, client, monkeypatch):
    real = client.transactions
    monkeypatch.setattr(client, "transactions", lambda **kw: real(**{**kw, "offset": 0}))
    lower, upper = _window("2026-03")
    with pytest.raises(IgnoredFilterError, match="offset"):
        list(L.iter_transactions(client, lower, upper))


def test_month_boundary_in_kyiv(api, client):
    """23:30 on 31 March in Kyiv is March; 00:30 on 1 April in Kyiv is still 31 March in UTC."""
    api.add_transactions(
        [
            {
                "id": "late-march",
                "ts": dt.datetime(2026, 3, 31, 23, 30, tzinfo=KYIV),
                "type": "email_find",
                "credits": -1.25,
                "status": "success",
            },
            {
                "id": "early-april",
                "ts": dt.datetime(2026, 4, 1, 0, 30, tzinfo=KYIV),
                "type": "email_find",
                "credits": -2.5,
                "status": "success",
            },
            {
                "id": "first-march",
                "ts": dt.datetime(2026, 3, 1, 0, 0, tzinfo=KYIV),
                "type": "email_find",
                "credits": -0.75,
                "status": "success",
            },
            {
                "id": "last-feb",
                "ts": dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=KYIV),
                "type": "email_find",
                "credits": -5.0,
                "status": "success",
            },
        ]
    )
    kyiv = L.fetch_transactions(
        "2026-03-01", "2026-03-31", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert list(kyiv["id"]) == ["first-march", "late-march"]
    assert str(kyiv["created_at"].dt.tz) == "Europe/Kyiv"
    assert kyiv["created_at"].iloc[-1] == pd.Timestamp("2026-03-31 23:30", tz="Europe/Kyiv")
    utc = L.fetch_transactions(
        "2026-03-01", "2026-03-31", timezone="UTC", client=client, cache=False
    )
    # Midnight of 1 March in Kyiv is still February in UTC.
    assert list(utc["id"]) == ["late-march", "early-april"]
    # The DST change (29 March) is inside the month: the window opens at +02:00 and closes at
    # +03:00.
    first = [
        r for r in api.transaction_requests() if r.params["created_at__gte"].startswith("2026-03")
    ][0]
    assert first.params["created_at__gte"] == "2026-03-01T00:00:00+02:00"
    assert first.params["created_at__lte"] == "2026-03-31T23:59:59.999999+03:00"


def test_frame_contract(ledger_api, client):
    frame = L.fetch_transactions(
        "2026-01-01", "2026-02-28", timezone="Europe/Kyiv", client=client, cache=False
    )
    assert list(frame.columns) == L.LEDGER_COLUMNS
    assert str(frame["created_at"].dt.tz) == "Europe/Kyiv"
    assert frame["credits"].dtype == "float64"
    assert set(frame["status"]) <= set(L.STATUSES)
    assert frame["created_at"].is_monotonic_increasing
    assert frame.attrs["source"] == "api" and frame.attrs["timezone"] == "Europe/Kyiv"
    assert {"fetched_at", "period", "start", "end", "base_url", "upper_bound"} <= set(frame.attrs)
    assert frame["id"].is_unique


def test_closed_months_are_cached_and_a_pending_month_is_not(ledger_api, client):
    ledger_api.add_transactions(
        [
            {
                "id": "still-pending",
                "ts": dt.datetime(2026, 2, 3, 10, tzinfo=KYIV),
                "type": "email_find",
                "credits": -4.0,
                "status": "pending",
            }
        ]
    )
    first = L.fetch_transactions("2026-01-01", "2026-03-31", timezone="Europe/Kyiv", client=client)
    n = len(ledger_api.transaction_requests())
    second = L.fetch_transactions("2026-01-01", "2026-03-31", timezone="Europe/Kyiv", client=client)
    again = ledger_api.transaction_requests()[n:]
    # January and March came from the cache; February held a pending charge, so it is asked again.
    assert again and {r.params["created_at__gte"][:7] for r in again} == {"2026-02"}
    pd.testing.assert_frame_equal(first, second)


def test_rerun_of_a_closed_month_sends_no_request(ledger_api, client):
    first = L.ledger_for_month("2026-04", timezone="Europe/Kyiv", client=client)
    assert first.anchor is not None and not first.from_cache and first.requests > 2
    count = len(ledger_api.requests)
    second = L.ledger_for_month("2026-04", timezone="Europe/Kyiv", client=client)
    assert len(ledger_api.requests) == count  # not even /me/
    assert second.from_cache and second.closing_balance == first.closing_balance
    pd.testing.assert_frame_equal(
        first.ledger.reset_index(drop=True), second.ledger, check_like=True, check_dtype=False
    )


@pytest.mark.parametrize("net", [True, False])
def test_pending_hypothesis_is_tested_against_the_ledger(ledger_api, client, net):
    ledger_api.pending_in_balance = net
    ledger_api.add_transactions(
        [
            {
                "id": "reserved",
                "ts": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
                "type": "search_database",
                "credits": -40.0,
                "status": "pending",
            }
        ]
    )
    inputs = L.ledger_for_month("2026-04", timezone="Europe/Kyiv", client=client, cache=False)
    assert inputs.anchor is not None
    assert inputs.anchor.pending_in_balance is net
    assert ("already subtracts" in inputs.hypothesis) is net
    # Whichever the server does, the closing balance is the same settled figure.
    settled_after_april = 500 * 6 - 12.5 * (31 + 30 + 31 + 31 + 30 + 31)  # May..October
    settled_total = 500 * 22 - 12.5 * 669
    assert inputs.closing_balance == pytest.approx(settled_total - settled_after_april)


def test_balance_movement_during_paging_is_in_flight(ledger_api, client):
    ledger_api.arrivals = [
        {"id": f"live{i}", "type": "email_find", "credits": -1.5, "status": "success"}
        for i in range(2)
    ]
    inputs = L.ledger_for_month("2026-09", timezone="Europe/Kyiv", client=client, cache=False)
    assert inputs.anchor is not None and inputs.anchor.in_flight == -3.0
    # The arrivals are after the upper bound: the closing balance ignores them.
    assert inputs.closing_balance == pytest.approx(500 * 22 - 12.5 * 669 - (500 - 31 * 12.5))


@pytest.mark.parametrize("fault", ["429", "500", "drop", "truncate", "html502"])
def test_survives_the_faults_usage_survives(ledger_api, client, fault):
    ledger_api.fail(fault, when=lambda p: p.get("offset") == "100")
    lower, upper = _window("2026-05")
    rows = list(L.iter_transactions(client, lower, upper))
    assert len(rows) == 125 and len({r[0] for r in rows}) == 125


def test_persistent_rate_limit_names_the_month(ledger_api, client):
    ledger_api.fail(
        "429", times=-1, when=lambda p: p.get("created_at__gte", "").startswith("2026-02")
    )
    with pytest.raises(RateLimitError, match="period 2026-02"):
        L.fetch_transactions(
            "2026-01-01", "2026-03-31", timezone="Europe/Kyiv", client=client, cache=False
        )


@pytest.mark.parametrize("fault", ["tx_bad_status", "tx_not_list", "tx_naive_text"])
def test_malformed_pages_are_exit_4(ledger_api, client, fault):
    ledger_api.fail(fault, times=-1)
    lower, upper = _window("2026-05")
    with pytest.raises(MalformedResponseError) as info:
        list(L.iter_transactions(client, lower, upper))
    assert info.value.exit_code == 4


def test_a_server_that_answers_new_rows_forever_is_stopped_by_the_page_cap(ledger_api, client):
    """It ignores the offset but makes up new ids on every page, so no page repeats one."""
    ledger_api.fail("tx_endless", times=-1)
    lower, upper = _window("2026-05")
    with pytest.raises(PagingLimitError) as info:
        list(L.iter_transactions(client, lower, upper, max_pages=25))
    assert info.value.exit_code == 4
    assert "stopped after 25 pages" in str(info.value) and "2026-05-01T00:00:00" in str(info.value)
    assert len(ledger_api.transaction_requests()) == 25


def test_the_time_cap_holds_whatever_the_page_count(ledger_api, client):
    ledger_api.fail("tx_endless", times=-1)
    lower, upper = _window("2026-05")
    ticks = iter(range(0, 10_000, 7))  # seven seconds a page
    with pytest.raises(PagingLimitError, match="caps: 5000 pages, 60 s"):
        list(L.iter_transactions(client, lower, upper, max_seconds=60, clock=lambda: next(ticks)))
    # Paging starts at 0 s; pages go out at 7, 14, ..., 56 s, and at 63 s the cap is past.
    assert len(ledger_api.transaction_requests()) == 8


def test_cli_reconcile_against_an_endless_ledger_is_exit_4_naming_the_window(ledger_api):
    ledger_api.fail("tx_endless", times=-1)
    out = run_cli(
        "reconcile",
        "--month",
        "2026-05",
        env={**_env(ledger_api), "GENERECT_LEDGER_MAX_PAGES": "30"},
    )
    # The months from May to today are paged in parallel: whichever window hits the cap first
    # is the one named, so the test names none in particular.
    assert out.returncode == 4
    assert re.search(r"ledger paging of 2026-\d\d-\d\dT", out.stderr), out.stderr
    assert "stopped after 30 pages" in out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("value", ["0", "-3", "many", "nan"])
def test_a_bad_page_cap_is_exit_2_before_any_request(ledger_api, value):
    out = run_cli(
        "reconcile",
        "--month",
        "2026-05",
        env={**_env(ledger_api), "GENERECT_LEDGER_MAX_PAGES": value},
    )
    assert out.returncode == 2 and "GENERECT_LEDGER_MAX_PAGES" in out.stderr
    assert ledger_api.transaction_requests() == []


def _env(api) -> dict[str, str]:
    return {"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url}


def test_cli_reconcile_against_the_api_ties_through_slipping_pages(ledger_api, tmp_path):
    ledger_api.arrivals = [
        {"id": f"new{i}", "type": "search_database", "credits": -7.77, "status": "success"}
        for i in range(4)
    ]
    ledger_api.fail("429", when=lambda p: p.get("offset") == "100")
    ledger_api.add_transactions(
        [
            {
                "id": "rev",
                "ts": dt.datetime(2026, 6, 2, 11, tzinfo=KYIV),
                "type": "search_database",
                "credits": -10.0,
                "status": "error",
            }
        ]
    )
    ledger_api.daily[dt.date(2026, 6, 2)]["search_database"] += 10.0  # usage counted it when made
    out = run_cli(
        "reconcile",
        "--month",
        "2026-06",
        "--timezone",
        "Europe/Kyiv",
        "--format",
        "json",
        env={**_env(ledger_api), "GENERECT_REPORTS_CACHE_DIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    rec = doc["reconciliation"]
    assert rec["ties"] is True
    assert rec["settled_charges"] == 30 * 12.5 and rec["usage"] == 30 * 12.5 + 10
    assert rec["reversed"] == 10.0 and rec["difference"] == -10.0
    assert doc["rows"] == [
        {
            "operation": "search_database",
            "reason": "reversed",
            "credits": -10.0,
            "transactions": 1,
            "detail": "charged, then reversed",
        }
    ]
    assert rec["opening_balance"] + rec["top_ups"] - rec["settled_charges"] == pytest.approx(
        rec["closing_balance"]
    )
    # All four charges arrived while paging: after the upper bound, so only in flight.
    assert rec["in_flight"] == -31.08
    assert TOKEN not in out.stdout + out.stderr
    # /me/'s personal data never reaches the output either.
    assert "finance@example.com" not in out.stdout + out.stderr and "Example Ltd" not in out.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()


def test_cli_refresh_reports_a_late_reversal(ledger_api, tmp_path):
    env = {**_env(ledger_api), "GENERECT_REPORTS_CACHE_DIR": str(tmp_path)}
    first = run_cli("reconcile", "--month", "2026-03", "--timezone", "Europe/Kyiv", env=env)
    assert first.returncode == 0, first.stderr
    # A charge of March is reversed after the month was cached and reported...
    row = next(
        r
        for r in ledger_api.ledger
        if r["ts"].astimezone(KYIV).date() == dt.date(2026, 3, 5) and r["type"] == "search_database"
    )
    row["status"] = "error"
    ledger_api.add_transactions([])
    ledger_api.daily[dt.date(2026, 3, 5)]["email_find"] = 0.0  # ... and usage was restated too
    cached = run_cli("reconcile", "--month", "2026-03", "--timezone", "Europe/Kyiv", env=env)
    assert cached.returncode == 0 and "restated" not in cached.stderr  # served from the cache
    refreshed = run_cli(
        "reconcile", "--month", "2026-03", "--timezone", "Europe/Kyiv", "--refresh", env=env
    )
    assert (
        "2026-03 restated (ledger): search_database/error 0.00 -> -5.00 (-5.00)" in refreshed.stderr
    )
    assert (
        "2026-03 restated (ledger): search_database/success -310.00 -> -305.00 (+5.00)"
        in refreshed.stderr
    )
    assert "2026-03 restated (usage): email_find 77.50 -> 75.00 (-2.50)" in refreshed.stderr
    # The reversal is explained; the usage restatement is not, so the month no longer ties.
    assert refreshed.returncode == 5 and "email_find +2.50 (unexplained)" in refreshed.stderr
    assert TOKEN not in refreshed.stdout + refreshed.stderr


def test_refresh_needs_the_api_and_the_cache():
    out = run_cli("reconcile", "--month", "2026-03", "--sample", "--refresh")
    assert out.returncode == 2 and "--refresh" in out.stderr


def test_sample_ledger_is_consistent_with_sample_usage(sample):
    table = L.SampleLedgerSource.table()
    assert table["id"].is_unique
    charges = table[table["credits"] < 0]
    by_day = (
        charges.assign(day=charges["ts"].dt.tz_convert("Europe/Kyiv").dt.date.astype(str))
        .groupby("day")["credits"]
        .sum()
        .mul(-100)
        .round()
        .astype(int)
    )
    usage = (
        sample.assign(day=sample["period"])
        .groupby("day")["credits"]
        .sum()
        .mul(100)
        .round()
        .astype(int)
    )
    pd.testing.assert_series_equal(by_day, usage, check_names=False)
    assert set(table["status"]) == set(L.STATUSES)
    assert (table.loc[table["type"] == "top_up", "credits"] > 0).all()
