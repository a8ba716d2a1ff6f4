"""The adaptive request window: the limiter on its own, then the real client against a local
server that rate-limits."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time

import pytest
from fakeapi import TOKEN

from generect_reports import GenerectClient, fetch_usage
from generect_reports import errors as E
from generect_reports.fetch.throttle import (
    MIN_SAMPLES,
    PAUSE_CAP,
    RETRY_AFTER_CAP,
    AdaptiveLimiter,
    pause_delay,
)


class Clock:
    """Real monotonic time plus an offset the test moves forward (``clock.now += s``), so the
    limiter's short real waits still end."""

    def __init__(self) -> None:
        self.offset = 0.0

    @property
    def now(self) -> float:
        return time.monotonic() + self.offset

    @now.setter
    def now(self, value: float) -> None:
        self.offset += value - self.now

    def __call__(self) -> float:
        return self.now


def _take(limiter: AdaptiveLimiter, n: int, key: object | None = None) -> list:
    slots = [limiter.acquire(key if key is not None else object(), timeout=1.0) for _ in range(n)]
    assert all(s is not None for s in slots)
    return slots


# --- the limiter's rules ----------------------------------------------------------------------


def test_one_halving_per_congestion_event():
    limiter = AdaptiveLimiter(8, clock=Clock())
    slots = _take(limiter, 8)
    for slot in slots:  # eight requests rejected together: one event
        limiter.release(slot, throttled=True)
    assert limiter.limit == 4 and limiter.decreases == 1 and limiter.throttled == 8
    # A request sent after the halving and rejected is a new event.
    (slot,) = _take(limiter, 1)
    limiter.release(slot, throttled=True)
    assert limiter.limit == 2 and limiter.decreases == 2


def test_window_never_drops_below_one():
    limiter = AdaptiveLimiter(8, clock=Clock())
    key = object()  # one request's 429s: the window rule alone, without the shared pause
    for _ in range(10):
        (slot,) = _take(limiter, 1, key)
        limiter.release(slot, throttled=True)
    assert limiter.limit == 1 and limiter.window == 1.0 and limiter.decreases == 10
    assert limiter.acquire(object(), timeout=1.0) is not None  # one request may still go


def test_additive_growth_one_per_window_of_successes_up_to_max():
    limiter = AdaptiveLimiter(8, clock=Clock())
    (slot,) = _take(limiter, 1)
    limiter.release(slot, throttled=True)
    assert limiter.limit == 4
    sizes = []
    for _ in range(40):
        (slot,) = _take(limiter, 1)
        limiter.release(slot, ok=True)
        sizes.append(limiter.limit)
    # +1 after 4 successes, +1 after 5 more, +1 after 6 more; then capped at max_window.
    assert sizes.index(5) == 3 and sizes.index(6) == 8 and sizes.index(7) == 14
    assert max(sizes) == 8 and sizes[-1] == 8
    assert sizes == sorted(sizes)


def test_other_failures_neither_shrink_nor_grow_the_window():
    limiter = AdaptiveLimiter(4, clock=Clock())
    for slot in _take(limiter, 4):
        limiter.release(slot)  # a 5xx or a dropped connection
    assert limiter.limit == 4 and limiter.decreases == 0 and limiter.in_flight == 0


def test_one_requests_429s_are_not_a_shared_limit():
    clock = Clock()
    limiter = AdaptiveLimiter(8, clock=clock)
    key = object()
    for _ in range(3):
        (slot,) = _take(limiter, 1, key)
        verdict = limiter.release(slot, throttled=True)
        assert not verdict.shared
    assert not limiter.rate_limited and limiter.rate is None


def test_429s_on_several_requests_pace_from_the_last_seconds_successes():
    clock = Clock()
    limiter = AdaptiveLimiter(8, clock=clock, rng=lambda: 0.0)
    for _ in range(20):  # 20 successes within the last second
        (slot,) = _take(limiter, 1)
        clock.now += 0.01
        limiter.release(slot, ok=True)
    a, b = _take(limiter, 2)
    first = limiter.release(a, throttled=True)
    second = limiter.release(b, throttled=True)
    assert not first.shared and second.shared and limiter.rate_limited
    assert limiter.rate == pytest.approx(0.8 * 20)
    assert limiter.decreases == 1  # the same event: one halving, though the pace came later
    # The shared pause: everyone waits it out; the request it was given to has served it.
    assert second.pause == pytest.approx(0.05)
    # Once the window empties, the limit is read as shared for a while.
    clock.now += 30
    assert limiter.rate_limited
    clock.now += 31
    assert not limiter.rate_limited


def test_too_few_successes_give_no_pace():
    clock = Clock()
    limiter = AdaptiveLimiter(8, clock=clock)
    for _ in range(MIN_SAMPLES - 1):
        (slot,) = _take(limiter, 1)
        limiter.release(slot, ok=True)
    a, b = _take(limiter, 2)
    limiter.release(a, throttled=True)
    assert limiter.release(b, throttled=True).shared
    assert limiter.rate is None


def test_pause_delay():
    assert pause_delay(1, retry_after=2.5) == 2.5
    assert pause_delay(1, retry_after=10_000) == RETRY_AFTER_CAP
    assert pause_delay(1, rng=lambda: 0.0) == 0.05 and pause_delay(1, rng=lambda: 1.0) == 0.1
    assert pause_delay(3, rng=lambda: 1.0) == 0.4
    assert pause_delay(50, rng=lambda: 1.0) == PAUSE_CAP
    assert all(0.05 <= pause_delay(1) <= 0.1 for _ in range(100))


def test_pace_spaces_request_starts():
    limiter = AdaptiveLimiter(8)
    limiter.rate = 50.0
    started = time.monotonic()
    for _ in range(6):
        (slot,) = _take(limiter, 1)
        limiter.release(slot, ok=True)
    assert time.monotonic() - started >= 5 / 50 * 0.9


def test_retry_after_holds_everyone_but_the_request_that_waited_it_out():
    limiter = AdaptiveLimiter(8)
    key = object()
    (slot,) = _take(limiter, 1, key)
    verdict = limiter.release(slot, throttled=True, retry_after=5.0)
    assert verdict.pause == pytest.approx(5.0, abs=0.1)
    served = time.monotonic() + verdict.pause
    assert limiter.acquire(object(), timeout=0.1) is None  # a sibling waits
    assert limiter.acquire(key, retry=True, served_until=served, timeout=0.1) is not None


def test_retries_go_ahead_of_first_attempts():
    limiter = AdaptiveLimiter(1)
    (held,) = _take(limiter, 1)
    order: list[str] = []

    def wait_for_slot(name: str, retry: bool) -> None:
        slot = limiter.acquire(object(), retry=retry, timeout=5.0)
        order.append(name)
        limiter.release(slot, ok=True)

    first = threading.Thread(target=wait_for_slot, args=("first", False))
    first.start()
    time.sleep(0.1)
    retry = threading.Thread(target=wait_for_slot, args=("retry", True))
    retry.start()
    time.sleep(0.1)
    limiter.release(held, ok=True)
    for t in (first, retry):
        t.join(5)
        assert not t.is_alive()
    assert order == ["retry", "first"]


def test_a_cancelled_or_timed_out_waiter_gives_up_and_leaves_the_queue():
    limiter = AdaptiveLimiter(1)
    (held,) = _take(limiter, 1)
    assert limiter.acquire(object(), timeout=0.05) is None
    cancelled = threading.Event()
    got: list[object] = []
    waiter = threading.Thread(
        target=lambda: got.append(limiter.acquire(object(), cancelled=cancelled))
    )
    waiter.start()
    time.sleep(0.05)
    cancelled.set()
    limiter.wake()
    waiter.join(2)
    assert not waiter.is_alive() and got == [None]
    limiter.release(held, ok=True)
    assert limiter.acquire(object(), timeout=0.5) is not None  # nobody stale blocks the queue


def test_thread_safety_with_real_threads():
    limiter = AdaptiveLimiter(6)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0, "over": 0}
    errors: list[BaseException] = []
    # One key: the window's rules under contention. (429s on many keys would also start the
    # shared pace, and random 429s unrelated to the rate rightly slow it down step by step;
    # the integration tests below run the shared pace with real threads.)
    key = object()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                slot = limiter.acquire(key, retry=rng.random() < 0.3, timeout=10.0)
                assert slot is not None
                with lock:
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                    # The window may shrink while requests are out, never the other way round.
                    if state["now"] > limiter.max_window:
                        state["over"] += 1
                time.sleep(rng.random() * 0.0005)
                with lock:
                    state["now"] -= 1
                roll = rng.random()
                limiter.release(slot, ok=roll < 0.8, throttled=roll > 0.95)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads) and not errors
    assert limiter.in_flight == 0 and state["over"] == 0 and 1 <= state["peak"] <= 6
    assert 1 <= limiter.limit <= 6 and limiter.throttled > 0
    assert limiter.decreases <= limiter.throttled


def test_the_window_holds_with_real_threads():
    limiter = AdaptiveLimiter(8)
    for _ in range(2):  # two events: a window of 2
        (slot,) = _take(limiter, 1)
        limiter.release(slot, throttled=True)
    assert limiter.limit == 2
    limiter.window = 2.0
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def worker() -> None:
        for _ in range(40):
            slot = limiter.acquire(object(), timeout=10.0)
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.0005)
            with lock:
                state["now"] -= 1
            limiter.release(slot)  # neither success nor 429: the window stays at 2

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert state["peak"] == 2 and limiter.in_flight == 0


# --- the real client against a rate-limited server ----------------------------------------------


def _days(n: int, first: dt.date = dt.date(2025, 3, 1)) -> tuple[dt.date, dt.date]:
    return first, first + dt.timedelta(days=n - 1)


def _assert_exact(df, n: int) -> None:
    per_day = df.groupby("period")["credits"].sum()
    assert len(per_day) == n and (per_day == 12.5).all()  # the server's figures, every bucket
    by_op = df.groupby("operation")["credits"].sum().to_dict()
    assert by_op == {"email_find": 2.5 * n, "search_database": 10.0 * n}


def test_a_rate_limited_run_completes_with_exact_figures(api):
    api.rate_limit = 30
    client = GenerectClient(TOKEN, api.url)
    start, end = _days(60)
    started = time.monotonic()
    df = fetch_usage(start, end, period="day", client=client, cache=False)
    elapsed = time.monotonic() - started
    _assert_exact(df, 60)
    # A handful of 429s while the limiter learns the pace, not one per request.
    assert 1 <= api.rate_limited <= 20
    assert len(api.usage_requests()) == 60 + api.rate_limited
    assert client.limiter is not None and client.limiter.rate_limited
    # The server admits 30 a second: 60 take at least a second; the pace keeps it near 2 s.
    assert (60 - 30) / 30 * 0.95 <= elapsed <= 60 / 30 * 2.5


def test_shared_429s_do_not_use_up_max_attempts(api):
    api.rate_limit = 40
    client = GenerectClient(TOKEN, api.url, max_attempts=2)  # a fixed pool fails with this
    start, end = _days(50)
    df = fetch_usage(start, end, period="day", client=client, cache=False)
    _assert_exact(df, 50)
    assert api.rate_limited >= 1


def test_retry_after_of_the_rate_limit_is_honoured(api, caplog):
    caplog.set_level(logging.INFO, logger="generect_reports")
    api.rate_limit = 30
    api.rate_limit_retry_after = 0.7
    client = GenerectClient(TOKEN, api.url)
    start, end = _days(45)
    df = fetch_usage(start, end, period="day", client=client, cache=False)
    _assert_exact(df, 45)
    assert "rate limited, retry" in caplog.text and "in 0.70s" in caplog.text
    assert api.rate_limited <= 20
    assert TOKEN not in caplog.text


def test_one_request_burst_of_429s_leaves_the_others_alone(api, client):
    api.fail("429", times=3, when=lambda p: p.get("start_date") == "2025-03-05")
    start, end = _days(20)
    df = fetch_usage(start, end, period="day", client=client, cache=False)
    _assert_exact(df, 20)
    counts: dict[str, int] = {}
    for r in api.usage_requests():
        counts[r.params["start_date"]] = counts.get(r.params["start_date"], 0) + 1
    assert counts.pop("2025-03-05") == 4
    assert set(counts.values()) == {1}  # nobody else retried
    assert len(client.waits) == 3  # the injected sleep, as before
    assert client.limiter is not None and not client.limiter.rate_limited
    assert client.limiter.rate is None  # one request's trouble sets no pace


def test_shared_429_budget_is_bounded(api):
    client = GenerectClient(TOKEN, api.url, sleep=lambda s: None, max_throttled_attempts=3)
    api.fail("429", times=1, when=lambda p: p["start_date"] == "2025-03-01")
    client.usage("2025-03-01", "2025-03-01")  # one request rejected once: its own retry
    api.fail("429", times=-1, when=lambda p: p["start_date"] == "2025-03-02")
    with pytest.raises(E.RateLimitError, match=r"gave up after 4 attempts, 4 of them rate limited"):
        client.usage("2025-03-02", "2025-03-02")  # a second request rejected: a shared limit
    assert len([r for r in api.usage_requests() if r.params["start_date"] == "2025-03-02"]) == 4


def test_shared_429_wait_is_bounded(api):
    client = GenerectClient(TOKEN, api.url, sleep=lambda s: None, max_throttle_time=1.0)
    api.fail("429", times=1, when=lambda p: p["start_date"] == "2025-03-01")
    client.usage("2025-03-01", "2025-03-01")
    api.fail("429", times=-1, when=lambda p: p["start_date"] == "2025-03-02", arg=0.4)
    with pytest.raises(E.RateLimitError, match="rate limited"):
        client.usage("2025-03-02", "2025-03-02")
    # Retry-After 0.4 s: two waits fit in the second of throttle budget, a third does not.
    assert len([r for r in api.usage_requests() if r.params["start_date"] == "2025-03-02"]) == 3


def test_time_queued_for_a_slot_does_not_count_against_the_retry_deadline(api):
    client = GenerectClient(
        TOKEN, api.url, sleep=lambda s: None, max_retry_time=0.6, attempt_timeout=2.0
    )
    assert client.limiter is not None
    held = [client.limiter.acquire(object()) for _ in range(client.limiter.limit)]
    api.fail("500", times=1)
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(client.usage("2025-03-01", "2025-03-01")))
    worker.start()
    time.sleep(0.9)  # longer than max_retry_time, all of it queued
    for slot in held:
        client.limiter.release(slot, ok=True)
    worker.join(5)
    assert out and out[0]["total_credits"] == 12.5
    assert len(api.usage_requests()) == 2


def test_cancel_wakes_requests_queued_for_a_slot(api):
    client = GenerectClient(TOKEN, api.url, sleep=lambda s: None)
    assert client.limiter is not None
    held = [client.limiter.acquire(object()) for _ in range(client.limiter.limit)]
    caught: list[BaseException] = []

    def run() -> None:
        try:
            client.usage("2025-03-01", "2025-03-01")
        except BaseException as exc:  # noqa: BLE001 - checked below
            caught.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.1)
    started = time.monotonic()
    client.cancel()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - started < 1.0
    assert isinstance(caught[0], E.APIConnectionError) and "cancelled" in str(caught[0])
    assert api.usage_requests() == []
    for slot in held:
        client.limiter.release(slot)
    client.reset_cancel()
    assert client.usage("2025-03-01", "2025-03-01")["total_credits"] == 12.5


def test_without_the_limiter_the_fixed_pool_behaves_as_before(api):
    waits: list[float] = []
    client = GenerectClient(TOKEN, api.url, sleep=waits.append, adaptive=False)
    assert client.limiter is None
    api.fail("429", times=2)
    assert client.usage("2025-03-01", "2025-03-02")["total_credits"] == 25.0
    assert len(api.requests) == 3 and len(waits) == 2
