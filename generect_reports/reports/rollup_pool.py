"""Many accounts' monthly reports built in worker processes.

A roll-up builds every account's full monthly report (anomalies, budget burn-up, projection):
about a tenth of a second of one core each, so hundreds of accounts in one interpreter are bound
by one core while the others idle, and a cold fetch waits for the CPU between its requests.
Here the fetch stays in this process (every account's own client, limiter and the one cap on
the connections), and as soon as an account's data has arrived its report is built in a worker
process from that data alone; the frozen report comes back (pickled, a few tens of kilobytes).

The workers are forked before the fetch starts any thread, and only when that is safe (Linux or
FreeBSD, no other thread running, :envvar:`GENERECT_REPORTS_NO_FORK` unset), when there is more
than one core to use and enough accounts to be worth it. Otherwise, and for an account whose
report asks the source more than its usage, plan limit and purchases (a ledger for the booked
cost, the tie-out or the customer split), the report is built in this process as before: the
figures are the same either way.

With a :class:`~generect_reports.reports.model_cache.ReportCache`, an account whose fetched
inputs are exactly those of a report kept from an earlier run has that report read back here,
and no worker builds it.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    import pandas as pd

    from generect_reports.fetch.account import AccountStatus
    from generect_reports.fetch.plan import ReportUsage
    from generect_reports.fetch.source import Source
    from generect_reports.periods import Month
    from generect_reports.reports.assemble import ReportSettings
    from generect_reports.reports.model_cache import ReportCache
    from generect_reports.reports.monthly import MonthlyReport

log = logging.getLogger("generect_reports")

__all__ = ["ReportPool", "report_workers", "PARALLEL_MIN_ACCOUNTS", "MAX_REPORT_WORKERS"]

#: The fewest accounts whose reports are built in worker processes (below, forking costs more
#: than it saves).
PARALLEL_MIN_ACCOUNTS = 8
#: The most worker processes, however many cores: each holds a copy of this process's pages it
#: writes to (about 100 MiB), so memory stays bounded.
MAX_REPORT_WORKERS = 8


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def report_workers(accounts: int, cores: int | None = None) -> int:
    """Worker processes for ``accounts`` accounts' reports on ``cores`` cores (default: the cores
    this process may run on): 0 (build them here) for fewer than :data:`PARALLEL_MIN_ACCOUNTS`
    accounts or one core, else one per core up to :data:`MAX_REPORT_WORKERS`."""
    cores = _cores() if cores is None else cores
    if accounts < PARALLEL_MIN_ACCOUNTS or cores < 2:
        return 0
    return min(cores, MAX_REPORT_WORKERS, accounts)


class _Answered:
    """One account's source as a worker sees it: what its report asks besides the usage,
    already asked in the parent (the account's position, its limit history, its purchases).
    Anything else is not here, and such a report is never sent to a worker."""

    kind = "api"
    any_timezone = False
    refreshable = False

    def __init__(
        self,
        *,
        timezone: str,
        offline: bool,
        now: pd.Timestamp,
        account: AccountStatus,
        limits: dict[str, float] | None,
        purchases: list[dict[str, str]] | None,
    ) -> None:
        self.timezone = timezone
        self.offline = offline
        self._now = now
        self._account = account
        self._limits = limits
        self._purchases = purchases

    def now(self) -> pd.Timestamp:
        return self._now

    def today(self) -> dt.date:
        return self._now.date()

    def account(self, *, label: bool = False) -> AccountStatus:
        return self._account

    def limit_history(self) -> dict[str, float] | None:
        return self._limits

    def purchases(self) -> list[dict[str, str]] | None:
        return self._purchases


def _needs_only_answers(source: Source, settings: ReportSettings) -> bool:
    """True when the report of ``source`` asks it nothing but its usage, account, limits and
    purchases: an API source (a local one also replays two years for the forecast) without a
    ledger to value, tie out or split."""
    from generect_reports.reports.assemble import _on
    from generect_reports.reports.valuation import money_for

    if source.offline:
        return False
    if _on(settings.reconcile, source, settings) or _on(settings.chargeback, source, settings):
        return False
    return not money_for(source, settings.money).configured


def _caches(source: Source) -> bool:
    """True when the source keeps what it reads (no ``--no-cache``): its reports may be kept."""
    return getattr(source, "no_cache", True) is False


def _worker_start() -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the pool), not a traceback from
    every worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _build(
    answered: _Answered, month: Month, settings: ReportSettings, usage: ReportUsage
) -> MonthlyReport:
    """In a worker: the report from the data the parent fetched."""
    from generect_reports.reports.assemble import monthly_report

    return monthly_report(answered, month, settings, usage=usage)  # type: ignore[arg-type]


class ReportPool:
    """Worker processes that build monthly reports from fetched data (see the module).

    ``ReportPool(workers)`` forks ``workers`` processes at once (none when forking is unsafe
    or ``workers`` is 0: then :meth:`report` builds in this process). Use it as a context
    manager, and open it before any thread starts. With ``cache``, a report whose inputs are
    those of a report kept there is read back instead of built (for a source whose own cache
    is on), and every report built that may be kept is kept
    (:mod:`~generect_reports.reports.model_cache`).
    """

    def __init__(self, workers: int, *, cache: ReportCache | None = None) -> None:
        from generect_reports._fork import can_fork

        self.cache = cache
        self.built = 0
        """The reports built by this pool (here or in a worker), not read back."""
        self._count = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.workers = 0
        """The worker processes running (0: every report is built in this process)."""
        if workers >= 1 and can_fork():
            pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_start,
            )
            # Fork the workers now, while this process has no other thread: the first task
            # starts them all.
            pool.submit(int).result()
            self._pool = pool
            self.workers = workers
            log.info("building the accounts' reports in %d worker processes", workers)

    def report(
        self, source: Source, month: Month | str | None, settings: ReportSettings
    ) -> MonthlyReport:
        """``monthly_report(source, month, settings)``: the fetch here, the figures in a worker
        when the report needs nothing else of the source."""
        from generect_reports.reports.assemble import monthly_report, report_month, report_usage
        from generect_reports.theme import load_theme

        cache = self.cache if self.cache is not None and _caches(source) else None
        if (self._pool is None and cache is None) or not _needs_only_answers(source, settings):
            self._built()
            return monthly_report(source, month, settings)
        load_theme(settings.template)  # a bad template is said before any request
        chosen = report_month(source, month, settings)
        usage = report_usage(source, chosen, settings)
        answered = _Answered(
            timezone=source.timezone,
            offline=source.offline,
            now=source.now(),
            account=source.account(),
            limits=source.limit_history(),
            purchases=source.purchases(),
        )
        key = None
        if cache is not None:
            from generect_reports.reports.model_cache import report_key

            key = report_key(
                month=chosen,
                settings=settings,
                timezone=source.timezone,
                kind=source.kind,
                account=answered.account(),
                limits=answered.limit_history(),
                purchases=answered.purchases(),
                usage=usage,
            )
            kept = None if key is None else cache.get(key, usage, settings)
            if kept is not None:
                return kept
        self._built()
        if self._pool is None:
            rep = _build(answered, chosen, settings, usage)
        else:
            try:
                rep = self._pool.submit(_build, answered, chosen, settings, usage).result()
            except BrokenProcessPool:
                # A worker was killed (the out-of-memory killer, say): this report is built here.
                rep = _build(answered, chosen, settings, usage)
        if cache is not None and key is not None and (rep.complete or settings.as_of is not None):
            cache.put(key, rep)
        return rep

    def _built(self) -> None:
        with self._count:  # called from the roll-up's fetching threads
            self.built += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self.workers = 0

    def __enter__(self) -> ReportPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
