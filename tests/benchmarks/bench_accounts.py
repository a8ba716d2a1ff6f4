"""Issue target: fast across many accounts, polite to each. A cold 12-month roll-up of 1, 10, 50
and 200 accounts against local servers (one per account, each with its own token) answering
after 250 ms and accepting 10 requests a second per token, then the same roll-up warm.

Recorded per case: elapsed seconds; the floor, the larger of (requests accepted x latency /
connections in flight) and (the busiest account's requests / its rate limit); their ratio;
usage requests per account; 429s per accepted request; the most requests the servers had in
flight at once; the process's peak RSS. Beside it, for up to 50 accounts, the fetch as it was
before the shared cap (four accounts at a time, each client up to eight requests in flight, no
cap across them), run in the same session.

The servers run in a process of their own (``fleetapi.py``), so serving them does not share the
benchmark's interpreter lock; the roll-up (every account's report and the figures across them)
runs in this process through the real client, its reports built in worker processes where it
forks them (``GENERECT_REPORTS_NO_FORK=1`` builds them all here, as before). CPU time counts
this process and its finished workers.

The warm roll-up is run twice: with the report cache (every account's report read back, as kept
by the cold run) and with the data cache only (every report built again from cached data).

``GENERECT_BENCH_NO_PREVIOUS=1`` skips the slow run of the fetch as it was.
"""

from __future__ import annotations

import os
import resource
import time

import pytest
from fleetapi import OPS, Fleet

from generect_reports.accounts import AccountSpec
from generect_reports.fetch.multi import ACCOUNT_WORKERS, open_accounts
from generect_reports.fetch.throttle import DEFAULT_MAX_CONNECTIONS
from generect_reports.reports.assemble import ReportSettings
from generect_reports.reports.model_cache import ReportCache
from generect_reports.reports.rollup import rollup_report

LATENCY = 0.25
RATE = 10.0
MONTH = "2026-10"  # closed: a warm run needs no usage request at all


def _specs(fleet: Fleet) -> tuple[list[AccountSpec], dict[str, str]]:
    specs, environ = [], {}
    for k, (url, token) in enumerate(fleet.accounts):
        specs.append(AccountSpec(name=f"acct{k:03d}", token_env=f"T_{k}", api_url=url))
        environ[f"T_{k}"] = token
    return specs, environ


def _expected(n: int) -> list[float]:
    """Each account's October credits: 31 days of its scaled operations."""
    return [round(31 * sum(OPS.values()) * (1 + k % 17), 2) for k in range(n)]


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the report workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime


def _run(
    fleet: Fleet, *, previous: bool = False, reports: bool = True
) -> dict[str, float | int | bool]:
    """One roll-up; ``reports`` False leaves the report cache out (only the data are cached)."""
    specs, environ = _specs(fleet)
    cache = ReportCache() if reports else None
    fleet.clear()
    multi = open_accounts(specs, timezone="UTC", environ=environ)
    cap = DEFAULT_MAX_CONNECTIONS
    if previous:
        # As before the shared cap: four accounts at a time, each client on its own.
        multi.workers = ACCOUNT_WORKERS
        for source in multi.sources.values():
            source.client.connections = None  # type: ignore[attr-defined]
        cap = ACCOUNT_WORKERS * 8
    started, cpu = time.perf_counter(), _cpu()
    try:
        rep = rollup_report(
            multi, MONTH, lambda _: ReportSettings(history=12), report_cache=cache or False
        )
    finally:
        elapsed = time.perf_counter() - started
        cpu = _cpu() - cpu
        multi.close()
    stats = fleet.stats()
    assert rep.complete, rep.failed
    by_name = dict(zip(rep.accounts["account"], rep.accounts["credits"]))
    assert [by_name[s.name] for s in specs] == _expected(len(specs))  # every account exact
    accepted = [r - t for r, t in zip(stats["requests"], stats["http_429"])]
    floor = max(sum(accepted) * LATENCY / cap, max(accepted) / RATE)
    return {
        "elapsed_s": round(elapsed, 2),
        "cpu_s": round(cpu, 2),
        "floor_s": round(floor, 2),
        "ratio": round(elapsed / floor, 3),
        "usage_requests_max": max(stats["usage"]),
        "usage_requests_per_account": round(sum(stats["usage"]) / len(specs), 1),
        "requests": sum(stats["requests"]),
        "http_429": sum(stats["http_429"]),
        "429_per_accepted": round(sum(stats["http_429"]) / max(1, sum(accepted)), 3),
        "peak_in_flight": stats["peak_in_flight"],
        "reports_read_back": 0 if cache is None else cache.hits,
        "reports_kept": 0 if cache is None else cache.stored,
        "cap": cap,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # The largest worker (or other finished child): each is a fork of this process.
        "peak_child_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


@pytest.mark.parametrize("accounts", [1, 10, 50, 200])
def test_rollup_across_accounts(benchmark, results, accounts, tmp_path, monkeypatch):
    monkeypatch.setenv("GENERECT_REPORTS_CACHE_DIR", str(tmp_path / "cache"))
    figures: dict[str, object] = {}
    with Fleet(accounts, latency=LATENCY, rate=RATE) as fleet:

        def once() -> None:
            figures["cold"] = _run(fleet)

        benchmark.pedantic(once, rounds=1, iterations=1)
        time.sleep(1.1)  # the servers' one-second windows empty
        figures["warm"] = _run(fleet)
        time.sleep(1.1)
        figures["warm_data_only"] = _run(fleet, reports=False)  # every report built again
        if accounts <= 50 and not os.environ.get("GENERECT_BENCH_NO_PREVIOUS"):
            monkeypatch.setenv("GENERECT_REPORTS_CACHE_DIR", str(tmp_path / "cache-previous"))
            time.sleep(1.1)
            figures["previous"] = _run(fleet, previous=True)
    results[f"accounts_{accounts}"] = figures
    cold, warm = figures["cold"], figures["warm"]
    assert cold["peak_in_flight"] <= DEFAULT_MAX_CONNECTIONS  # type: ignore[index,operator]
    assert warm["usage_requests_max"] == 0  # type: ignore[index]
    assert cold["reports_kept"] == warm["reports_read_back"] == accounts  # type: ignore[index]
    assert figures["warm_data_only"]["usage_requests_max"] == 0  # type: ignore[index]
    if accounts == 200:  # the targets, stated at 200 accounts
        assert cold["ratio"] <= 1.25  # type: ignore[index,operator]
        assert cold["usage_requests_max"] <= 80  # type: ignore[index,operator]
        assert cold["429_per_accepted"] <= 0.25  # type: ignore[index,operator]
        assert warm["elapsed_s"] < 10  # type: ignore[index,operator]
        assert cold["peak_rss_mib"] < 1024  # type: ignore[index,operator]
