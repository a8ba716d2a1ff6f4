"""Target 1: 24 monthly buckets at 250 ms latency, cold cache, against serial; warm re-run."""

import datetime as dt

import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily

from generect_reports import GenerectClient, UsageCache, fetch_usage


@pytest.fixture
def slow_api():
    fake = FakeGenerect(
        daily=simple_daily(dt.date(2024, 11, 1), dt.date(2026, 10, 31), {"a": 1.0, "b": 2.0}),
        latency=0.25,
    )
    fake.start()
    yield fake
    fake.stop()


def _fetch(api, workers, cache):
    client = GenerectClient(TOKEN, api.url, max_workers=workers)
    return fetch_usage(
        "2024-11-01", "2026-10-31", period="month", timezone="UTC", client=client, cache=cache
    )


def test_fetch_serial_baseline(benchmark, slow_api, results):
    df = benchmark.pedantic(_fetch, args=(slow_api, 1, False), rounds=2, iterations=1)
    assert len(df) == 48
    results["fetch_serial_s"] = round(benchmark.stats.stats.mean, 3)


def test_fetch_parallel_cold(benchmark, slow_api, results):
    df = benchmark.pedantic(_fetch, args=(slow_api, 8, False), rounds=5, iterations=1)
    assert len(df) == 48 and slow_api.max_in_flight <= 16
    results["fetch_parallel_s"] = round(benchmark.stats.stats.mean, 3)
    results["fetch_max_in_flight"] = slow_api.max_in_flight
    if "fetch_serial_s" in results:
        results["fetch_ratio_parallel_vs_serial"] = round(
            results["fetch_parallel_s"] / results["fetch_serial_s"], 3
        )


def test_fetch_warm_cache_sends_nothing(benchmark, slow_api, results, tmp_path):
    cache = UsageCache(tmp_path)
    _fetch(slow_api, 8, cache)
    before = len(slow_api.usage_requests())
    df = benchmark.pedantic(_fetch, args=(slow_api, 8, cache), rounds=5, iterations=1)
    assert len(df) == 48
    results["fetch_warm_requests"] = len(slow_api.usage_requests()) - before
    results["fetch_warm_s"] = round(benchmark.stats.stats.mean, 4)
    assert results["fetch_warm_requests"] == 0
