"""Issue target: a cold report in a fraction of the requests. Requests and time of a cold report
(fetch and figures, in process, through the real client) against history length, by the fetch
plan and by the previous all-days fetch, side by side at 250 ms of server latency; and the next
month's report from the cache the first one left."""

import datetime as dt
import time

import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily

LATENCY = 0.25
MONTH, NEXT = "2026-05", "2026-06"


@pytest.fixture(scope="module")
def slow_api():
    api = FakeGenerect(
        daily=simple_daily(
            dt.date(2022, 1, 1),
            dt.date(2026, 7, 31),
            {"search_database": 10.0, "email_find": 2.5, "preview": 1.0},
        ),
        latency=LATENCY,
    ).start()
    yield api
    api.stop()


def _cold(api, tmp_path, fn):
    from generect_reports import GenerectClient, UsageCache

    api.requests.clear()
    cache = UsageCache(tmp_path / f"cache-{time.monotonic_ns()}")
    client = GenerectClient(TOKEN, api.url)
    t = time.perf_counter()
    rep = fn(client, cache)
    elapsed = time.perf_counter() - t
    n = len(api.usage_requests())
    return rep, elapsed, n, client, cache


@pytest.mark.parametrize("history", [3, 12, 24, 36])
def test_cold_report_requests_and_time(slow_api, history, results, tmp_path):
    from generect_reports import build_report, fetch_usage
    from generect_reports.fetch.plan import fetch_report_usage
    from generect_reports.reports.monthly import report_window

    def planned(client, cache):
        usage = fetch_report_usage(
            MONTH, history, timezone="UTC", client=client, cache=cache, progress=False
        )
        return build_report(usage.daily, MONTH, monthly=usage.monthly, history=history)

    def every_day(client, cache):
        first, last = report_window(MONTH, history)
        usage = fetch_usage(first, last, timezone="UTC", client=client, cache=cache, progress=False)
        return build_report(usage, MONTH, history=history)

    ours, t_ours, n_ours, client, cache = _cold(slow_api, tmp_path, planned)
    base, t_base, n_base, _, _ = _cold(slow_api, tmp_path, every_day)
    assert ours.total == base.total and ours.yoy_total == base.yoy_total
    assert ours.monthly.equals(base.monthly)
    if history <= 12:
        assert n_ours <= 75
    key = f"cold_report_{history}m"
    results[key + "_requests"] = n_ours
    results[key + "_requests_every_day"] = n_base
    results[key + "_s"] = round(t_ours, 2)
    results[key + "_every_day_s"] = round(t_base, 2)
    results[key + "_time_ratio"] = round(t_ours / t_base, 3)
    results[key + "_request_ratio"] = round(n_ours / n_base, 3)
    if history == 12:
        # The next month's report, from the cache the first one left.
        slow_api.requests.clear()
        t = time.perf_counter()
        usage = fetch_report_usage(
            NEXT, history, timezone="UTC", client=client, cache=cache, progress=False
        )
        build_report(usage.daily, NEXT, monthly=usage.monthly, history=history)
        results["next_month_report_requests"] = len(slow_api.usage_requests())
        results["next_month_report_s"] = round(time.perf_counter() - t, 2)
        assert len(slow_api.usage_requests()) <= 35


def test_cold_report_command(slow_api, results, tmp_path):
    """The whole `report` command (fetch, figures, workbook and PDF) from a cold cache at 250 ms
    of latency, with the default 24 months of history; and the same process once more, warm."""
    import sys

    from benchutil import run_process

    env = {
        "GENERECT_API_TOKEN": TOKEN,
        "GENERECT_API_URL": slow_api.url,
        "GENERECT_REPORTS_CACHE_DIR": str(tmp_path / "cache"),
    }
    cmd = [
        sys.executable,
        "-m",
        "generect_reports",
        "report",
        "--month",
        MONTH,
        "--timezone",
        "UTC",
        "--xlsx",
        str(tmp_path / "r.xlsx"),
        "--pdf",
        str(tmp_path / "r.pdf"),
        "--quiet",
    ]
    slow_api.requests.clear()
    cold, _ = run_process(cmd, env)
    results["cold_report_command_24m_requests"] = len(slow_api.usage_requests())
    results["cold_report_command_24m_s"] = round(cold, 2)
    slow_api.requests.clear()
    warm, _ = run_process(cmd, env)
    results["warm_report_command_24m_requests"] = len(slow_api.usage_requests())
    results["warm_report_command_24m_s"] = round(warm, 2)
    assert results["warm_report_command_24m_requests"] == 0
