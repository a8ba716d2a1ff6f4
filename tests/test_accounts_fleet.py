"""Many accounts at once: one cap on the connections in flight shared by every account's client
(each keeping its own limiter), the accounts counted by the progress bar, and roll-ups that read
closed months from the history store and ask the API only for the rest."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from fakeapi import TOKEN, FakeGenerect, SharedLoad, simple_daily
from support import run_cli

from generect_reports.accounts import AccountSpec
from generect_reports.errors import InputError
from generect_reports.fetch.multi import account_window, account_workers, open_accounts
from generect_reports.fetch.throttle import DEFAULT_MAX_CONNECTIONS, ConnectionCap


def _crowd(cap: ConnectionCap, n: int) -> tuple[int, list[int]]:
    """``n`` threads through ``cap``, started in order: the most inside at once, and the order
    they got in."""
    inside, most, order = 0, 0, []
    lock = threading.Lock()

    def work(k: int) -> None:
        nonlocal inside, most
        assert cap.acquire()
        with lock:
            inside += 1
            most = max(most, inside)
            order.append(k)
        time.sleep(0.02)
        with lock:
            inside -= 1
        cap.release()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
        time.sleep(0.002)  # they queue in this order
    for t in threads:
        t.join()
    return most, order


def test_the_cap_never_lets_more_in_and_serves_waiters_in_order():
    cap = ConnectionCap(3)
    most, _ = _crowd(cap, 12)
    assert most == 3 == cap.peak and cap.in_flight == 0
    one = ConnectionCap(1)
    most, order = _crowd(one, 8)
    assert most == 1 and order == list(range(8))  # a slot given back goes to the longest waiter


def test_a_cancelled_waiter_leaves_the_queue_and_holds_nothing():
    cap = ConnectionCap(1)
    assert cap.acquire()
    cancelled = threading.Event()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(cap.acquire(cancelled)))
    waiter.start()
    time.sleep(0.05)
    cancelled.set()
    waiter.join(2)
    assert got == [False]
    cap.release()
    assert cap.in_flight == 0 and cap.acquire()  # the slot was not lost to the leaver


def test_accounts_asked_at_once_spread_the_cap_over_many_tokens():
    assert account_workers(200, 64) == 64 and account_window(200, 64) == 3
    assert account_workers(10, 64) == 10 and account_window(10, 64) == 7
    assert account_workers(1, 64) == 1 and account_window(1, 64) == 8
    assert account_workers(200, 2) == 4  # never fewer than the old four


@pytest.fixture
def fleet():
    """Eight accounts, each on its own local server with its own token, 50 ms of latency; one
    load counter across all of them."""
    load = SharedLoad()
    servers = {}
    for k in range(8):
        servers[f"acct{k}"] = FakeGenerect(
            token=f"{TOKEN}-{k}",
            daily=simple_daily(dt.date(2025, 1, 1), dt.date(2026, 12, 31), {"preview": 1.0 + k}),
            latency=0.05,
            shared=load,
        ).start()
    yield servers, load
    for fake in servers.values():
        fake.stop()


def _specs(servers):
    specs = [
        AccountSpec(name=name, token_env=f"T_{name}", api_url=fake.url)
        for name, fake in servers.items()
    ]
    environ = {f"T_{name}": fake.token for name, fake in servers.items()}
    return specs, environ


def test_many_accounts_never_have_more_requests_in_flight_than_the_cap(fleet):
    servers, load = fleet
    specs, environ = _specs(servers)
    with open_accounts(
        specs, timezone="UTC", no_cache=True, environ=environ, max_connections=5
    ) as multi:
        assert multi.workers == 5  # eight accounts, five at once, five connections among them
        frame = multi.usage("2026-03-01", "2026-03-20")
    assert frame.attrs["complete"] is True
    sums = frame.groupby("account")["credits"].sum()
    assert {name: sums[name] for name in servers} == {f"acct{k}": 20 * (1.0 + k) for k in range(8)}
    assert sum(len(f.usage_requests()) for f in servers.values()) == 8 * 20
    assert load.peak == 5  # measured by the servers: the cap was used, and never exceeded
    assert multi.connections is not None and multi.connections.peak == 5
    # Each account's client keeps its own limiter: rate limits are per token.
    limiters = {id(s.client.limiter) for s in multi.sources.values()}
    assert len(limiters) == 8


def test_the_cap_comes_from_the_environment_and_is_checked(fleet, monkeypatch):
    servers, _ = fleet
    specs, environ = _specs(servers)
    monkeypatch.setenv("GENERECT_MAX_CONNECTIONS", "3")
    with open_accounts(specs, timezone="UTC", no_cache=True, environ=environ) as multi:
        assert multi.connections is not None and multi.connections.limit == 3
    monkeypatch.delenv("GENERECT_MAX_CONNECTIONS")
    with open_accounts(specs, timezone="UTC", no_cache=True, environ=environ) as multi:
        assert multi.connections is not None
        assert multi.connections.limit == DEFAULT_MAX_CONNECTIONS
    for bad in ("0", "2.5", "many"):
        monkeypatch.setenv("GENERECT_MAX_CONNECTIONS", bad)
        with pytest.raises(InputError, match="GENERECT_MAX_CONNECTIONS"):
            open_accounts(specs, timezone="UTC", no_cache=True, environ=environ)
    assert not any(f.requests for f in servers.values())


def test_the_progress_bar_counts_accounts(fleet, capsys):
    servers, _ = fleet
    specs, environ = _specs(servers)
    with open_accounts(
        specs, timezone="UTC", no_cache=True, environ=environ, progress=True
    ) as multi:
        multi.usage("2026-03-01", "2026-03-02")
    err = capsys.readouterr().err
    assert "accounts:" in err and "/8 [" in err and "account" in err
    assert "bucket" not in err  # no bar per account


def test_an_account_that_answered_holds_no_idle_connection_and_can_be_asked_again(fleet):
    servers, _ = fleet
    specs, environ = _specs(servers)
    with open_accounts(specs, timezone="UTC", no_cache=True, environ=environ) as multi:
        first = multi.usage("2026-03-01", "2026-03-03")
        pools = [
            s.client._session_obj.adapters["http://"].poolmanager.pools
            for s in multi.sources.values()
        ]
        assert all(len(p) == 0 for p in pools)  # released once each account answered
        again = multi.usage("2026-03-01", "2026-03-03")
    assert first.equals(again) and again.attrs["complete"] is True
    assert sum(len(f.usage_requests()) for f in servers.values()) == 2 * 8 * 3


# --- roll-ups from the history store ----------------------------------------------------------


@pytest.fixture
def trio(tmp_path):
    servers = {}
    for k, name in enumerate(["north", "south", "west"]):
        servers[name] = FakeGenerect(
            token=f"{TOKEN}-{name}",
            daily=simple_daily(
                dt.date(2025, 1, 1),
                dt.date(2026, 12, 31),
                {"search_database": 10.0 + k, "email_find": 2.25 * (k + 1)},
            ),
        ).start()
    yield servers
    for fake in servers.values():
        fake.stop()


def _rollup(servers, *, history=None, sync=None):
    from generect_reports.deliver.history import sync_history
    from generect_reports.reports.assemble import ReportSettings
    from generect_reports.reports.rollup import rollup_report

    specs, environ = _specs(servers)
    if sync is not None:
        accounts, months = sync
        with open_accounts(specs, timezone="UTC", no_cache=True, environ=environ) as multi:
            sync_history(
                {n: multi.sources[n] for n in accounts}, history, months, datasets=["usage"]
            )
        for fake in servers.values():
            fake.requests.clear()
    with open_accounts(
        specs, timezone="UTC", no_cache=True, environ=environ, history=history
    ) as multi:
        return rollup_report(multi, "2026-10", lambda _: ReportSettings(history=12))


def test_a_rollup_reads_closed_months_from_the_store_and_asks_only_for_the_rest(trio, tmp_path):
    store = tmp_path / "store"
    plain = _rollup(trio)
    asked = {name: len(fake.usage_requests()) for name, fake in trio.items()}
    for fake in trio.values():
        fake.requests.clear()
    synced = [f"{y}-{m:02d}" for y, m in [(2025, 10), (2025, 11), (2025, 12)]]
    synced += [f"2026-{m:02d}" for m in range(1, 10)]  # October 2025 to September 2026
    stored = _rollup(trio, history=store, sync=(["north", "south"], synced))
    # The same figures, to the hundredth of a credit and the cent.
    for column in ("account", "credits", "previous_credits", "change", "yoy_credits", "cost"):
        assert stored.accounts[column].tolist() == plain.accounts[column].tolist(), column
    assert stored.trend.equals(plain.trend) and stored.operations.equals(plain.operations)
    assert stored.total == plain.total and stored.complete
    # North and south asked only for October 2026 (31 days and its monthly figure); west,
    # never synced, asked for everything as before.
    after = {name: len(fake.usage_requests()) for name, fake in trio.items()}
    assert after == {"north": 32, "south": 32, "west": asked["west"]}
    assert asked["west"] == 72
    for name in ("north", "south"):
        months = {r.params["start_date"][:7] for r in trio[name].usage_requests()}
        assert months == {"2026-10"}


def test_a_partition_that_changed_since_its_sync_is_asked_of_the_api(trio, tmp_path):
    from generect_reports.deliver.history import partition_path

    store = tmp_path / "store"
    _rollup(trio, history=store, sync=(["north"], ["2026-09"]))
    part = store / partition_path("usage", "north", "2026-09")
    part.write_bytes(part.read_bytes() + b"\0")  # no longer the manifest's bytes
    for fake in trio.values():
        fake.requests.clear()
    _rollup(trio, history=store)
    months = [r.params["start_date"][:7] for r in trio["north"].usage_requests()]
    assert "2026-09" in months and len(months) == 72


def test_report_all_accounts_reads_the_store_of_the_config(trio, tmp_path):
    store = tmp_path / "store"
    lines = [f'[history]\npath = "{store}"\n']
    env = {"GENERECT_API_TIMEOUT": "2", "GENERECT_API_DEADLINE": "5"}
    for name, fake in trio.items():
        env[f"T_{name}"] = fake.token
        lines.append(f'[accounts.{name}]\ntoken_env = "T_{name}"\napi_url = "{fake.url}"\n')
    config = tmp_path / "fleet.toml"
    config.write_text("\n".join(lines))
    common = ["--config", str(config), "--all-accounts", "--timezone", "UTC", "--quiet"]
    out = run_cli(
        "sync", "--since", "2025-10", "--until", "2026-09", "--dataset", "usage", *common, env=env
    )
    assert out.returncode == 0, out.stderr
    for fake in trio.values():
        fake.requests.clear()
    out = run_cli(
        "report",
        "--month",
        "2026-10",
        "--history",
        "12",
        "--xlsx",
        str(tmp_path / "roll.xlsx"),
        "--pdf",
        str(tmp_path / "roll.pdf"),
        "--no-cache",
        *common,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert {name: len(fake.usage_requests()) for name, fake in trio.items()} == {
        "north": 32,
        "south": 32,
        "west": 32,
    }
