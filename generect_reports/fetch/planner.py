"""Run a list of independent API requests: cached answers first, the rest in a bounded pool.

One place for the parallel fetch that usage buckets and token-analytics windows share: closed
periods come from the cache, the others go through a bounded thread pool with a progress bar,
and the first failure (in request order) cancels the siblings and names its period.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import periods as P
from ..errors import APIError, InvalidDateRange

if TYPE_CHECKING:
    from .cache import UsageCache
    from .client import GenerectClient

__all__ = ["Job", "run_jobs", "local_range", "api_session"]

log = logging.getLogger(__name__)


def local_range(start: str | dt.date, end: str | dt.date, timezone: str) -> tuple[dt.date, dt.date]:
    """Inclusive local dates as asked of the API: a start in the future is an error, an end
    after today is clipped to today (in ``timezone``)."""
    first = P.parse_date(start, what="start date")
    last = P.parse_date(end, what="end date")
    today = P.local_today(P.get_timezone(timezone))
    if first > today:
        raise InvalidDateRange(
            f"start date {first} is in the future (today is {today} in {timezone})"
        )
    if last > today:
        log.info("end date %s is in the future; clipped to today, %s", last, today)
        last = today
    return first, last


@contextmanager
def api_session(
    client: GenerectClient | None, cache: bool | UsageCache
) -> Iterator[tuple[GenerectClient, UsageCache | None]]:
    """The client (built from the environment when None) and the cache (True: the default
    folder, False: none); whatever is made here is closed on the way out."""
    from .cache import UsageCache
    from .client import GenerectClient

    own_client = client is None
    session = client or GenerectClient()
    store = cache if isinstance(cache, UsageCache) else (UsageCache() if cache else None)
    try:
        yield session, store
    finally:
        if own_client:
            session.close()
        if store is not None and not isinstance(cache, UsageCache):
            store.close()


@dataclass(frozen=True)
class Job:
    """One request: its period label (for errors), its query (the cache key) and whether the
    period is closed (only closed periods are cached)."""

    label: str
    query: dict[str, str]
    closed: bool


def run_jobs(
    jobs: Sequence[Job],
    fetch: Callable[[dict[str, str]], dict[str, Any]],
    *,
    cache: UsageCache | None,
    account_key: str | None,
    max_workers: int,
    progress: bool | None,
    desc: str = "fetching",
    unit: str = "request",
    source: Any = None,
) -> list[dict[str, Any]]:
    """Answer every job, in order: from ``cache`` when closed and cached, else by ``fetch(query)``.

    ``fetch`` must validate what it returns (it is cached as returned). ``source`` may offer
    ``cancel()``/``reset_cancel()`` (as :class:`GenerectClient` does) so that sibling requests
    stop retrying once one has failed for good, and ``abort()`` to stop every request at once
    when the run is interrupted (KeyboardInterrupt): then the pool is not waited for.
    """
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    pending: list[int] = []
    for i, job in enumerate(jobs):
        hit = (
            cache.get(account_key, job.query)
            if (cache is not None and job.closed and account_key)
            else None
        )
        if hit is not None:
            results[i] = hit
        else:
            pending.append(i)
    if cache is not None and jobs:
        log.info(
            "%d of %d %ss from cache, %d to fetch",
            len(jobs) - len(pending),
            len(jobs),
            unit,
            len(pending),
        )
    if pending:
        _run_pending(
            jobs,
            fetch,
            pending,
            results,
            cache,
            account_key,
            max_workers,
            progress,
            desc,
            unit,
            source,
        )
    return results  # type: ignore[return-value]


def _run_pending(
    jobs: Sequence[Job],
    fetch: Callable[[dict[str, str]], dict[str, Any]],
    pending: list[int],
    results: list[Any],
    cache: UsageCache | None,
    account_key: str | None,
    max_workers: int,
    progress: bool | None,
    desc: str,
    unit: str,
    source: Any,
) -> None:
    from tqdm import tqdm

    bar = tqdm(
        total=len(pending),
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=(not progress) if progress is not None else (not sys.stderr.isatty()),
        leave=False,
    )
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(pending))), thread_name_prefix="generect-fetch"
    )
    futures: dict[Future[dict[str, Any]], int] = {
        pool.submit(fetch, jobs[i].query): i for i in pending
    }
    failure: tuple[int, BaseException] | None = None
    interrupted = False
    try:
        not_done = set(futures)
        while not_done and failure is None:
            done, not_done = wait(not_done, return_when=FIRST_EXCEPTION)
            # Handle completions in request order so the first failing period is the one named.
            for future in sorted(done, key=futures.__getitem__):
                i = futures[future]
                exc = future.exception()
                if exc is not None:
                    if failure is None or i < failure[0]:
                        failure = (i, exc)
                    continue
                results[i] = future.result()
                bar.update(1)
                if cache is not None and jobs[i].closed and account_key:
                    cache.put(account_key, jobs[i].query, results[i])
        if failure is not None:
            cancel = getattr(source, "cancel", None)
            if cancel:
                cancel()
    except BaseException:
        # Ctrl-C, SIGTERM (raised as an exception by the CLI) or any other escape: stop every
        # worker now (no retry starts, bodies in flight are cut off) and do not wait for them.
        interrupted = True
        stop = getattr(source, "abort", None) or getattr(source, "cancel", None)
        if stop:
            stop()
        raise
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
        reset = getattr(source, "reset_cancel", None)
        if reset:
            reset()
        bar.close()
    if failure is not None:
        i, exc = failure
        if isinstance(exc, APIError):
            raise exc.for_period(jobs[i].label) from exc
        raise exc
