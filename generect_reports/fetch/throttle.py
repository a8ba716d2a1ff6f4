"""Adaptive concurrency for the requests of one client: AIMD, as TCP runs its congestion window.

The API answers 429 when an account sends too much and promises no rate-limit headers, so the
client learns the pace from the 429s themselves. One :class:`AdaptiveLimiter` per client gates
every attempt (first tries and retries alike):

- a *window* of requests in flight, halved (not below 1) on a 429 and grown by one per window's
  worth of successes, up to the client's ``max_workers``. Only one halving per congestion event:
  a 429 on a request sent before the last halving belongs to the event already answered (TCP
  NewReno's "recover" point), so eight requests rejected together halve the window once;
- once several requests have been rejected (the account's shared limit, not one request's
  trouble), a *pace* between request starts: a fraction of the successes of the last second,
  lowered again on each congestion event and raised additively while the 429s stay away, and a
  shared *pause* after each event (``Retry-After`` when the server sends one, else an
  exponential backoff that restarts after a success) so that the run settles near the server's
  rate instead of each request burning its own retries.

The limiter only decides when an attempt may start; what a request's retry budget is stays with
:class:`~generect_reports.fetch.client.GenerectClient`.
"""

from __future__ import annotations

import collections
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "AdaptiveLimiter",
    "ConnectionCap",
    "Slot",
    "Verdict",
    "pause_delay",
    "DEFAULT_MAX_CONNECTIONS",
    "max_connections_from_env",
]

log = logging.getLogger(__name__)

#: The pace after a congestion event, as a fraction of the successes of the last second.
RATE_BACKOFF = 0.8
#: While paced, the pace grows by this fraction of the rate measured at the last event, per second.
RATE_GAIN = 0.1
#: The pace never drops below this (requests per second), so a run always moves on.
MIN_RATE = 0.2
#: A pace above this is no pace at all: pacing is switched off again.
MAX_RATE = 1000.0
#: Successes needed in the last second before a pace is derived from them (fewer say nothing).
MIN_SAMPLES = 5
#: 429s on two different requests within this many seconds mean a shared rate limit.
SHARED_MEMORY = 60.0
#: The shared pause after a congestion event: from PAUSE_BASE, doubling, at most PAUSE_CAP.
PAUSE_BASE = 0.1
PAUSE_CAP = 2.0
#: A Retry-After longer than this is taken as this (as retry_delay caps it).
RETRY_AFTER_CAP = 32.0
_SPAN = 1.0  # seconds of successes behind the measured rate
_POLL = 0.05  # waiters look at their cancel event at least this often


def pause_delay(
    streak: int,
    retry_after: float | None = None,
    *,
    base: float = PAUSE_BASE,
    cap: float = PAUSE_CAP,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds every request waits after the ``streak``-th congestion event in a row.

    Parameters
    ----------
    streak
        Congestion events since the last success (1 for the first).
    retry_after
        The server's ``Retry-After`` in seconds, which wins when present.
    base, cap
        The first pause and the largest one.
    rng
        Returns a float in [0, 1); replaced by tests.

    Returns
    -------
    float
        Equal jitter (half fixed, half random) so the pause is never zero and parallel clients
        don't probe in lockstep.
    """
    if retry_after is not None:
        return max(0.0, min(retry_after, RETRY_AFTER_CAP))
    full = min(cap, base * 2 ** max(0, streak - 1))
    return full / 2 + rng() * full / 2


@dataclass(frozen=True)
class Slot:
    """One attempt's place in the window: its send order and the request it belongs to."""

    seq: int
    key: object


@dataclass(frozen=True)
class Verdict:
    """What the limiter made of a 429.

    ``shared``: the account's shared rate limit (several requests rejected), absorbed by the
    limiter rather than charged to the request's retries. ``pause``: seconds the request should
    wait before its next attempt (0 when the limiter has nothing to add).
    """

    shared: bool
    pause: float


class AdaptiveLimiter:
    """A thread-safe window of requests in flight, with a pace and a pause learnt from 429s.

    Parameters
    ----------
    max_window
        The largest window (the client's ``max_workers``); the window starts there, so a run
        that is never rate limited goes as fast as the fixed pool did.
    clock
        Monotonic seconds; replaced by unit tests.
    rng
        Jitter source for the pause; replaced by unit tests.
    """

    def __init__(
        self,
        max_window: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.max_window = max(1, int(max_window))
        self.window = float(self.max_window)
        #: requests per second between starts; None = not paced
        self.rate: float | None = None
        self.in_flight = 0
        #: congestion events answered (window halvings) and 429s seen, for logs and benchmarks
        self.decreases = 0
        self.throttled = 0
        self._clock = clock
        self._rng = rng
        self._cond = threading.Condition()
        self._queue: collections.deque[object] = collections.deque()
        self._seq = 0
        self._recover = 0  # slots numbered below this were sent before the last halving
        self._next_start = -math.inf  # the pace: no start before this
        self._resume_at = -math.inf  # the shared pause: no start before this
        self._streak = 0  # congestion events since the last success
        self._acked = 0  # successes since the window last grew
        self._gain = 1.0  # pace growth, requests per second per second
        self._successes: collections.deque[float] = collections.deque()
        self._rejected: dict[object, float] = {}  # request -> time of its last 429
        self._shared_until = -math.inf
        self._event_shared = False  # the current congestion event already set pace and pause

    def __repr__(self) -> str:
        rate = "none" if self.rate is None else f"{self.rate:.1f}/s"
        return (
            f"AdaptiveLimiter(window={self.limit}/{self.max_window}, "
            f"in_flight={self.in_flight}, rate={rate})"
        )

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, int(self.window))

    @property
    def rate_limited(self) -> bool:
        """Whether 429s are currently read as the account's shared rate limit."""
        with self._cond:
            return self._clock() < self._shared_until

    def wake(self) -> None:
        """Let waiters look at their cancel event now (called by the client's ``cancel``)."""
        with self._cond:
            self._cond.notify_all()

    # -- taking and giving back slots ---------------------------------------------------------

    def acquire(
        self,
        key: object,
        *,
        retry: bool = False,
        served_until: float | None = None,
        cancelled: threading.Event | None = None,
        timeout: float | None = None,
    ) -> Slot | None:
        """Wait for a slot: room in the window, the pace and the shared pause allowing.

        Parameters
        ----------
        key
            Identifies the request (the same object for all its attempts).
        retry
            A retry goes ahead of first attempts, so a request that was rejected is not starved
            by its siblings.
        served_until
            The clock time up to which this request already waited out a pause it was given;
            such a pause does not hold it again (an injected sleep in tests waits no real time).
        cancelled
            Gives up (returns None) once set.
        timeout
            Gives up (returns None) after this many seconds.

        Returns
        -------
        Slot or None
            The slot to hand back to :meth:`release`, or None when cancelled or timed out.
        """
        me = object()
        with self._cond:
            give_up_at = None if timeout is None else self._clock() + max(0.0, timeout)
            if retry:
                self._queue.appendleft(me)
            else:
                self._queue.append(me)
            try:
                while True:
                    if cancelled is not None and cancelled.is_set():
                        return None
                    now = self._clock()
                    if give_up_at is not None and now >= give_up_at:
                        return None
                    wait: float | None = None
                    if self._queue[0] is me and self.in_flight < self.limit:
                        resume = self._resume_at
                        if served_until is not None and served_until >= resume:
                            resume = -math.inf
                        start_at = max(self._next_start, resume)
                        if now >= start_at:
                            self._queue.popleft()
                            self.in_flight += 1
                            slot = Slot(self._seq, key)
                            self._seq += 1
                            if self.rate is not None:
                                self._next_start = max(now, self._next_start) + 1.0 / self.rate
                            return slot
                        wait = start_at - now
                    if give_up_at is not None:
                        wait = give_up_at - now if wait is None else min(wait, give_up_at - now)
                    self._cond.wait(_POLL if wait is None else min(wait, _POLL))
            finally:
                if me in self._queue:
                    self._queue.remove(me)  # cancelled or timed out while queued
                # The next in the queue may go now (or may go as well, when there is room).
                self._cond.notify_all()

    def release(
        self,
        slot: Slot,
        *,
        ok: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> Verdict:
        """Give a slot back with the attempt's outcome.

        Parameters
        ----------
        slot
            From :meth:`acquire`.
        ok
            The attempt was answered (a success: the window and the pace may grow).
        throttled
            The attempt was answered 429.
        retry_after
            The 429's ``Retry-After`` in seconds, if it had one.

        Returns
        -------
        Verdict
            For a 429, whether it is the shared limit and how long the request should pause;
            otherwise ``Verdict(False, 0.0)``.
        """
        with self._cond:
            self.in_flight -= 1
            now = self._clock()
            verdict = Verdict(False, 0.0)
            if ok:
                self._on_success(now)
            elif throttled:
                verdict = self._on_throttled(slot, now, retry_after)
            self._cond.notify_all()
            return verdict

    # -- the rules (called with the lock held) --------------------------------------------------

    def _on_success(self, now: float) -> None:
        self._streak = 0
        self._successes.append(now)
        while self._successes and self._successes[0] <= now - _SPAN:
            self._successes.popleft()
        if self.window < self.max_window:
            # Additive increase: +1 per window's worth of successes.
            self._acked += 1
            if self._acked >= self.limit:
                before, self._acked = self.limit, 0
                self.window = float(min(self.max_window, before + 1))
                log.debug("request window %d -> %d", before, self.limit)
        if self.rate is not None:
            # +gain requests/second for every second of successes at the current pace.
            self.rate += self._gain / self.rate
            if self.rate > MAX_RATE:
                self.rate = None
                self._next_start = -math.inf
                log.debug("request pace lifted")

    def _on_throttled(self, slot: Slot, now: float, retry_after: float | None) -> Verdict:
        self.throttled += 1
        self._rejected[slot.key] = now
        for key, when in list(self._rejected.items()):
            if when < now - SHARED_MEMORY:
                del self._rejected[key]
        if len(self._rejected) >= 2:
            self._shared_until = now + SHARED_MEMORY
        shared = now < self._shared_until
        new_event = slot.seq >= self._recover  # sent after the last halving
        before, old_rate = self.limit, self.rate
        if new_event:
            self._recover = self._seq
            self.decreases += 1
            self._streak += 1
            self.window = max(1.0, self.window / 2)
            self._acked = 0
            self._event_shared = False
        if shared and not self._event_shared:
            # Pace and pause once per event, and also when a sibling's 429 reveals, within the
            # event, that the limit is shared.
            self._event_shared = True
            while self._successes and self._successes[0] <= now - _SPAN:
                self._successes.popleft()
            measured = len(self._successes) / _SPAN
            if measured >= MIN_SAMPLES:
                target = RATE_BACKOFF * measured
                self.rate = target if self.rate is None else min(self.rate, target)
                self._gain = max(0.5, RATE_GAIN * measured)
            elif self.rate is not None:
                self.rate = max(MIN_RATE, self.rate * RATE_BACKOFF)
            pause = pause_delay(max(1, self._streak), retry_after, rng=self._rng)
            self._resume_at = max(self._resume_at, now + pause)
        elif retry_after is not None:
            self._resume_at = max(self._resume_at, now + pause_delay(1, retry_after))
        if new_event or self.rate != old_rate:
            rate = "none" if self.rate is None else f"{self.rate:.1f}/s"
            log.info(
                "rate limited (HTTP 429): request window %d -> %d, pace %s",
                before,
                self.limit,
                rate,
            )
        return Verdict(shared, max(0.0, self._resume_at - now))


#: Requests in flight across every account of a run, unless told otherwise.
DEFAULT_MAX_CONNECTIONS = 64
#: The environment variable that sets it.
MAX_CONNECTIONS_ENV = "GENERECT_MAX_CONNECTIONS"


def max_connections_from_env() -> int:
    """The cap from ``GENERECT_MAX_CONNECTIONS`` (1 to 1024), else :data:`DEFAULT_MAX_CONNECTIONS`;
    a value out of range is bad input (exit 2)."""
    from .._http import env_number

    value = env_number(MAX_CONNECTIONS_ENV, DEFAULT_MAX_CONNECTIONS, 1, 1024)
    if value != int(value):
        from ..errors import InputError

        raise InputError(f"{MAX_CONNECTIONS_ENV} must be a whole number")
    return int(value)


class ConnectionCap:
    """At most ``limit`` requests in flight across every client that shares it.

    Each account keeps its own :class:`AdaptiveLimiter` (rate limits are per token); the cap is
    the one bound over all of them, so a run of many accounts never holds more than ``limit``
    connections busy at once. Waiters are served first come, first served: a slot given back
    goes straight to the longest waiter, so no account's requests overtake another's.

    ``peak`` is the most requests ever in flight together, for logs and benchmarks.
    """

    def __init__(self, limit: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._waiters: collections.deque[threading.Event] = collections.deque()

    def __repr__(self) -> str:
        return f"ConnectionCap(in_flight={self.in_flight}/{self.limit}, peak={self.peak})"

    def acquire(self, cancelled: threading.Event | None = None) -> bool:
        """Wait for a connection; False when ``cancelled`` is set first (nothing is held then)."""
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                return True
            me = threading.Event()
            self._waiters.append(me)
        while True:
            if me.wait(None if cancelled is None else _CAP_POLL):
                return True  # handed over by release(): in_flight already counts it
            if cancelled is not None and cancelled.is_set():
                with self._lock:
                    if not me.is_set():
                        self._waiters.remove(me)
                        return False
                # Handed over just now: give it on to the next waiter.
                self.release()
                return False

    def release(self) -> None:
        """Give a connection back: to the longest waiter if any."""
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self.in_flight -= 1


_CAP_POLL = 0.1  # a waiter for the cap looks at its cancel event this often
