"""The cache of closed buckets: hits by request count, open buckets, resilience, no secrets."""

import datetime as dt
import multiprocessing
import os
import sqlite3

import pytest
from fakeapi import TOKEN

from generect_reports import GenerectClient, GenerectWarning, UsageCache, fetch_usage


def run(
    api, cache, start="2025-01-01", end="2025-12-31", period="month", tz="Europe/Kyiv", token=TOKEN
):
    c = GenerectClient(token, api.url, sleep=lambda s: None)
    return fetch_usage(start, end, period=period, timezone=tz, client=c, cache=cache)


def test_closed_months_are_served_from_cache(api, isolated_env):
    first = run(api, True)
    assert len(api.usage_requests()) == 12
    second = run(api, True)
    assert len(api.usage_requests()) == 12  # no new request
    assert first.equals(second)


def test_open_buckets_are_always_fetched(api):
    today = dt.date.today()
    start = today - dt.timedelta(days=5)
    run(api, True, start, today, period="day", tz="UTC")
    n = len(api.usage_requests())
    run(api, True, start, today, period="day", tz="UTC")
    # days that ended more than two days ago are cached; the last ones are fetched again
    refetched = len(api.usage_requests()) - n
    assert 2 <= refetched <= 4


def test_no_cache_bypasses(api):
    run(api, True)
    run(api, False)
    assert len(api.usage_requests()) == 24


def test_cache_is_keyed_by_token_query_and_timezone(api):
    run(api, True)
    run(api, True, tz="UTC")
    assert len(api.usage_requests()) == 24
    api.token = "another-token"
    run(api, True, tz="UTC", token="another-token")
    assert len(api.usage_requests()) == 36


def test_cache_holds_no_token(api, isolated_env):
    run(api, True)
    blob = b"".join(p.read_bytes() for p in isolated_env.rglob("*") if p.is_file())
    assert blob and TOKEN.encode() not in blob


def test_corrupt_cache_is_rebuilt(api, isolated_env):
    run(api, True)
    for p in isolated_env.rglob("*.sqlite3*"):
        p.write_bytes(b"this is not a database" * 100)
    with pytest.warns(GenerectWarning, match="rebuilt"):
        df = run(api, True)
    assert df["credits"].sum() == 365 * 12.5
    run(api, True)
    assert len(api.usage_requests()) == 24  # rebuilt, then used


def test_read_only_cache_folder_still_gives_right_figures(api, read_only_folder):
    import warnings

    folder, make_read_only = read_only_folder
    cache = UsageCache(folder)
    run(api, cache)  # fill it while writable
    cache.close()
    make_read_only()
    with pytest.raises(OSError):
        (folder / "probe").write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = UsageCache(folder)
        df = run(api, cache, start="2025-01-01", end="2025-12-31")
        df2 = run(api, cache, start="2024-06-01", end="2024-07-31")
        cache.close()
    assert df["credits"].sum() == 365 * 12.5
    assert df2["credits"].sum() == 0
    # either served from the read-only cache, or skipped with a warning: never a failure
    fetched = len(api.usage_requests())
    assert fetched == 12 + 2 or any("not usable" in str(w.message) for w in caught)


def test_unusable_cache_location_is_skipped(api, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(GenerectWarning, match="not usable"):
        df = run(api, UsageCache(blocker / "sub"))
    assert df["credits"].sum() == 365 * 12.5


def _worker(url, folder, q):
    os.environ["GENERECT_REPORTS_CACHE_DIR"] = folder
    c = GenerectClient(TOKEN, url, sleep=lambda s: None)
    df = fetch_usage("2025-01-01", "2025-12-31", period="day", timezone="UTC", client=c)
    q.put(float(df["credits"].sum()))


def test_two_processes_fetching_at_once(api, isolated_env):
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(api.url, str(isolated_env), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [q.get(timeout=5) for _ in procs] == [365 * 12.5] * 2
    with sqlite3.connect(isolated_env / "usage-v1.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM buckets").fetchone()[0] == 365
