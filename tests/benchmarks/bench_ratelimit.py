"""A cold fetch of 120 daily buckets against a server that rate-limits at N requests per second:
the adaptive request window against the fixed pool of 8 (``adaptive=False``), side by side.

Recorded per case: elapsed seconds, the ideal (requests / N), their ratio, the 429s the server
sent, the requests it received, and whether the run failed (the fixed pool can give up: each of
its requests retries on its own, and five 429s in a row end the run).
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily

from generect_reports import GenerectClient, fetch_usage
from generect_reports.errors import GenerectError

BUCKETS = 120
FIRST = dt.date(2025, 1, 1)


def _run(rate: float, adaptive: bool) -> dict[str, object]:
    # A fresh server each round: the one-second window of the last run must not carry over.
    api = FakeGenerect(
        daily=simple_daily(FIRST, FIRST + dt.timedelta(days=BUCKETS - 1), {"a": 1.0, "b": 2.0}),
        rate_limit=rate,
    ).start()
    try:
        client = GenerectClient(TOKEN, api.url, adaptive=adaptive)
        started = time.perf_counter()
        failed: str | None = None
        try:
            df = fetch_usage(
                FIRST,
                FIRST + dt.timedelta(days=BUCKETS - 1),
                period="day",
                timezone="UTC",
                client=client,
                cache=False,
                progress=False,
            )
            assert df.groupby("period")["credits"].sum().eq(3.0).all() and len(df) == 2 * BUCKETS
        except GenerectError as exc:
            failed = type(exc).__name__
        elapsed = time.perf_counter() - started
        client.close()
        ideal = BUCKETS / rate
        return {
            "elapsed_s": round(elapsed, 2),
            "ideal_s": round(ideal, 2),
            "ratio": round(elapsed / ideal, 2),
            "http_429": api.rate_limited,
            "requests": len(api.usage_requests()),
            "failed": failed,
        }
    finally:
        api.stop()


@pytest.mark.parametrize("rate", [20, 50])
@pytest.mark.parametrize("mode", ["adaptive", "fixed"])
def test_ratelimited_cold_fetch(benchmark, results, rate, mode):
    figures: dict[str, object] = {}

    def once() -> None:
        figures.update(_run(float(rate), mode == "adaptive"))

    benchmark.pedantic(once, rounds=1, iterations=1)
    results[f"ratelimit_{mode}_{rate}rps"] = figures
    if mode == "adaptive":
        assert figures["failed"] is None  # a rate-limited run completes, every bucket exact
        assert figures["http_429"] <= 40
