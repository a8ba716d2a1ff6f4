"""A busy account's month: 100,000 transactions paged 100 at a time (the server's cap) from the
local server, then reconciled; against a bare HTTP loop over the same pages as the baseline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests
from fakeapi import TOKEN, FakeGenerect

from generect_reports import GenerectClient
from generect_reports.analysis.reconcile import reconcile
from generect_reports.fetch import ledger as L
from generect_reports.fetch.usage import fetch_usage

N = 100_000
MONTH = "2026-09"
OPS = ("search_database", "enrich_database", "email_find", "email_validation")


@pytest.fixture(scope="module")
def busy_api():
    tz = ZoneInfo("Europe/Kyiv")
    start = dt.datetime(2026, 9, 1, tzinfo=tz)
    step = dt.timedelta(days=30) / N
    rows = []
    daily: dict[dt.date, dict[str, float]] = {}
    for i in range(N):
        when = start + step * i
        op = OPS[i % len(OPS)]
        credits = -((i % 97) + 1) / 100
        status = "error" if i % 1000 == 7 else "success"
        rows.append(
            {
                "id": f"txn-{i:07d}",
                "ts": when,
                "type": f"{op}_bulk",
                "credits": credits,
                "status": status,
                "balance_type": "credits",
            }
        )
        day = daily.setdefault(when.date(), {})
        day[op] = round(day.get(op, 0.0) - credits, 2)
    rows.append(
        {"id": "topup", "ts": start, "type": "top_up", "credits": 100000.0, "status": "success"}
    )
    fake = FakeGenerect(daily=daily)
    fake.add_transactions(rows)
    fake.start()
    yield fake
    fake.stop()


def _bare_loop(api: FakeGenerect) -> int:
    """The baseline: the same pages over one HTTP session, no parsing, checks or frame."""
    lower, stop = L.month_window(MONTH, "Europe/Kyiv")
    params = {
        "created_at__gte": lower.isoformat(),
        "created_at__lte": (stop - dt.timedelta(microseconds=1)).isoformat(),
        "limit": "100",
    }
    n = offset = 0
    with requests.Session() as s:
        while True:
            page = s.get(
                f"{api.url}/api/v1/accounts/transactions/",
                params={**params, "offset": str(offset)},
                headers={"Authorization": f"Token {TOKEN}"},
            ).json()["data"]["transactions"]
            if not page:
                return n
            n += len(page)
            offset += len(page)


def _ours(api: FakeGenerect):
    client = GenerectClient(TOKEN, api.url)
    inputs = L.ledger_for_month(
        MONTH, timezone="Europe/Kyiv", client=client, cache=False, progress=False
    )
    usage = fetch_usage(
        "2026-09-01",
        "2026-09-30",
        period="month",
        timezone="Europe/Kyiv",
        client=client,
        cache=False,
        progress=False,
    )
    return reconcile(
        usage, inputs.ledger, month=MONTH, closing_balance=inputs.closing_balance
    ), inputs


def test_bare_http_loop_baseline(benchmark, busy_api, results):
    n = benchmark.pedantic(_bare_loop, args=(busy_api,), rounds=2, iterations=1)
    assert n == N + 1
    results["ledger_100k_bare_loop_s"] = round(benchmark.stats.stats.mean, 3)


def test_fetch_page_and_reconcile_100k(benchmark, busy_api, results):
    result, inputs = benchmark.pedantic(_ours, args=(busy_api,), rounds=2, iterations=1)
    assert len(inputs.ledger) == N + 1
    assert result.ties and result.reversed > 0
    results["ledger_100k_fetch_reconcile_s"] = round(benchmark.stats.stats.mean, 3)
    if "ledger_100k_bare_loop_s" in results:
        results["ledger_100k_ratio_vs_bare_loop"] = round(
            results["ledger_100k_fetch_reconcile_s"] / results["ledger_100k_bare_loop_s"], 3
        )
