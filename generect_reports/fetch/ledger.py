"""The ledger (``/accounts/transactions/``) as a tidy frame, and the balance anchor from ``/me/``.

The server pages with ``limit``/``offset``, newest first, while new charges keep arriving, and it
silently drops a filter value it cannot read. So the pager fixes the upper bound before the first
page, de-duplicates by ``id``, stops only on an empty page, and re-checks every filter on each
returned row (the ``created_at`` filters act on the row's ``timestamp``), failing loudly with
:class:`~generect_reports.errors.IgnoredFilterError` when the server ignored one.

Months are the fetch windows: they are paged in parallel through the planner, and a closed month
(ended, and no ``pending`` row left in it) is cached like a usage bucket. The derived closing
balance of each closed month is cached too, so a re-run reads nothing from the API for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .. import periods as P
from .._http import env_number
from ..errors import IgnoredFilterError, InputError, MalformedResponseError, PagingLimitError
from ..money import month_figures
from ..periods import month_window
from .cache import UsageCache

__all__ = [
    "iter_transactions",
    "fetch_transactions",
    "ledger_frame",
    "ledger_for_month",
    "LedgerInputs",
    "BalanceAnchor",
    "closing_balances",
    "month_window",
    "instant",
    "load_sample_ledger",
    "SampleLedgerSource",
    "LEDGER_COLUMNS",
    "STATUSES",
    "PAGE_SIZE",
    "RefreshCache",
    "month_figures",
    "figures_checksum",
    "restate_reported",
]

log = logging.getLogger(__name__)

LEDGER_COLUMNS = ["id", "created_at", "type", "credits", "status", "balance_type"]
STATUSES = ("success", "pending", "error")
#: The server's cap on ``limit`` (``max_limit`` in the legacy endpoint's answer).
PAGE_SIZE = 100
#: Caps on paging one window, each overridable by its environment variable: far above a real
#: month's ledger, low enough that a server answering new rows forever is stopped.
MAX_PAGES_ENV, DEFAULT_MAX_PAGES = "GENERECT_LEDGER_MAX_PAGES", 5000
MAX_SECONDS_ENV, DEFAULT_MAX_SECONDS = "GENERECT_LEDGER_MAX_SECONDS", 900.0
_CACHE_VERSION = "1"


class LedgerSource(Protocol):
    def transactions(
        self, *, limit: int = ..., offset: int = ..., **filters: str
    ) -> dict[str, Any]: ...


# --- instants --------------------------------------------------------------------------------


def instant(value: dt.datetime | pd.Timestamp) -> str:
    """An aware instant as ISO 8601 with its explicit offset (``+03:00``), never a bare date."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"instant {value!r} has no timezone: the API would read it as UTC")
    return value.isoformat()


def _aware(value: str | dt.datetime | pd.Timestamp, what: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"invalid {what} {value!r}: expected an ISO 8601 instant") from None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} {value.isoformat()} has no offset: give an explicit one")
    return value


# --- one row, and the filters re-checked on our side ----------------------------------------


def _parse_timestamp(text: Any) -> dt.datetime:
    if not isinstance(text, str):
        raise MalformedResponseError("malformed transaction: 'timestamp' is not a string")
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponseError(f"malformed transaction: timestamp {text[:40]!r}") from None
    # A naive time on this API is UTC (DESIGN 'Facts about the API').
    return ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)


def _parse_row(row: Any) -> tuple[str, dt.datetime, str, float, str, str]:
    if not isinstance(row, Mapping):
        raise MalformedResponseError("malformed transaction: not an object")
    tid = row.get("id")
    if not isinstance(tid, str) or not tid:
        raise MalformedResponseError("malformed transaction: missing 'id'")
    credits = row.get("credits")
    if (
        isinstance(credits, bool)
        or not isinstance(credits, (int, float))
        or not math.isfinite(credits)
    ):
        raise MalformedResponseError(
            f"malformed transaction {tid[:40]!r}: 'credits' is not a number"
        )
    kind = row.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise MalformedResponseError(f"malformed transaction {tid[:40]!r}: missing 'type'")
    details = row.get("details")
    if not isinstance(details, Mapping):
        raise MalformedResponseError(
            f"malformed transaction {tid[:40]!r}: 'details' is not an object"
        )
    status = details.get("status")
    if status not in STATUSES:
        raise MalformedResponseError(
            f"malformed transaction {tid[:40]!r}: unknown status {str(status)[:20]!r}"
        )
    balance_type = details.get("balance_type")
    balance_type = "" if balance_type is None else str(balance_type)
    return (
        tid,
        _parse_timestamp(row.get("timestamp")),
        kind,
        float(credits),
        str(status),
        balance_type,
    )


_TIME_OPS = {"gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__"}


def _checks(filters: Mapping[str, str]) -> list[tuple[str, str, Any]]:
    """``(filter name, attribute, predicate argument)`` for every filter we can re-check."""
    out: list[tuple[str, str, Any]] = []
    for name, value in filters.items():
        base, _, op = name.partition("__")
        if base == "created_at" and op in _TIME_OPS:
            out.append((name, "timestamp", (_TIME_OPS[op], _aware(value, name))))
        elif base in ("amount", "credits") and op in _TIME_OPS:
            try:
                number = float(value)
            except ValueError:
                # The server would silently drop it: refuse to send it instead.
                raise InputError(f"invalid {name} {value!r}: expected a number") from None
            out.append((name, "credits", (_TIME_OPS[op], number)))
        elif name == "status":
            if value not in STATUSES:
                raise InputError(f"unknown status {value!r}: use success, pending or error")
            out.append((name, "status", ("__eq__", value)))
        elif base == "after_balance":
            continue  # the row does not carry after_balance; see _probe for how it is used
        else:
            raise InputError(f"unknown transaction filter {name!r}")
    return out


def _violation(
    parsed: tuple[str, dt.datetime, str, float, str, str], checks: list[tuple[str, str, Any]]
) -> str | None:
    values = {"timestamp": parsed[1], "credits": parsed[3], "status": parsed[4]}
    for name, attr, (op, arg) in checks:
        if not getattr(values[attr], op)(arg):
            return name
    return None


# --- the pager -------------------------------------------------------------------------------


def iter_transactions(
    client: LedgerSource,
    start: str | dt.datetime | pd.Timestamp,
    end: str | dt.datetime | pd.Timestamp,
    *,
    page_size: int = PAGE_SIZE,
    progress: bool | None = None,
    stats: dict[str, int] | None = None,
    max_pages: int | None = None,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    **filters: str,
) -> Iterator[tuple[str, dt.datetime, str, float, str, str]]:
    """Every transaction with ``start <= timestamp <= end``, newest first, each id once.

    Parameters
    ----------
    client
        A :class:`GenerectClient` (or anything with its ``transactions`` method).
    start, end
        Aware instants; ``end`` is the fixed upper bound (``created_at__lte``), so charges that
        arrive while paging cannot shift the offsets of the rows we page through.
    page_size
        ``limit`` asked for; the server may answer fewer rows (it caps ``limit``), so paging
        advances by what came back and stops only on an empty page.
    stats
        If given, receives ``pages``, ``rows`` and ``duplicates`` counts.
    max_pages, max_seconds
        Caps on this window (default ``$GENERECT_LEDGER_MAX_PAGES`` or 5,000 pages, and
        ``$GENERECT_LEDGER_MAX_SECONDS`` or 900 s); past either, :class:`PagingLimitError`.
    filters
        More filters (``status``, ``amount__lte``, ...), sent and re-checked on every row.

    Yields
    ------
    tuple
        ``(id, timestamp in UTC, type, credits, status, balance_type)``.

    Raises
    ------
    IgnoredFilterError
        A returned row breaks a filter we sent: the server dropped it (exit 4, named).
    PagingLimitError
        The window needed more pages or time than its caps allow (exit 4, naming the window).
    """
    from tqdm import tqdm

    lower = _aware(start, "start")
    upper = _aware(end, "end")
    if lower > upper:
        raise InputError(f"start {lower.isoformat()} is after end {upper.isoformat()}")
    sent = {"created_at__gte": instant(lower), "created_at__lte": instant(upper), **filters}
    checks = _checks(sent)
    page_cap = int(max_pages or env_number(MAX_PAGES_ENV, DEFAULT_MAX_PAGES, 1, 10**7))
    time_cap = max_seconds or env_number(MAX_SECONDS_ENV, DEFAULT_MAX_SECONDS, 0.001, 86400)
    began = clock()
    seen: set[str] = set()
    offset = pages = duplicates = 0
    bar = tqdm(
        desc="paging ledger",
        unit="page",
        file=sys.stderr,
        leave=False,
        disable=(not progress) if progress is not None else (not sys.stderr.isatty()),
    )
    try:
        while True:
            elapsed = clock() - began
            if pages >= page_cap or elapsed > time_cap:
                raise PagingLimitError(
                    f"ledger paging of {sent['created_at__gte']} to {sent['created_at__lte']} "
                    f"stopped after {pages} pages and {elapsed:.0f} s, {len(seen)} transactions "
                    f"(caps: {page_cap} pages, {time_cap:g} s; {MAX_PAGES_ENV} and "
                    f"{MAX_SECONDS_ENV} raise them)"
                )
            data = client.transactions(limit=page_size, offset=offset, **sent)
            rows = data.get("transactions")
            if not isinstance(rows, list):
                raise MalformedResponseError("malformed response: 'transactions' is not a list")
            pages += 1
            bar.update(1)
            if not rows:
                break
            fresh = 0
            for raw in rows:
                parsed = _parse_row(raw)
                broken = _violation(parsed, checks)
                if broken is not None:
                    raise IgnoredFilterError(
                        f"the server ignored the filter {broken}={sent[broken]}: transaction "
                        f"{parsed[0][:40]!r} ({parsed[1].isoformat()}, {parsed[4]}, {parsed[3]:g}) "
                        "is outside it"
                    )
                if parsed[0] in seen:
                    duplicates += 1
                    continue
                seen.add(parsed[0])
                fresh += 1
                yield parsed
            if fresh == 0:
                # With the upper bound fixed, a whole page of rows already seen means the
                # server ignored the offset: paging on would loop forever.
                raise IgnoredFilterError(
                    f"the server ignored offset={offset}: a page of "
                    f"{len(rows)} transactions repeated earlier ones"
                )
            offset += len(rows)
    finally:
        bar.close()
        if stats is not None:
            stats.update(pages=pages, rows=len(seen), duplicates=duplicates)


# --- rows <-> frame --------------------------------------------------------------------------


def _rows_payload(rows: Sequence[tuple[str, dt.datetime, str, float, str, str]]) -> dict[str, Any]:
    """A month's rows as a JSON-able payload (what the cache stores)."""
    return {
        "v": _CACHE_VERSION,
        "rows": [[r[0], r[1].isoformat(), r[2], r[3], r[4], r[5]] for r in rows],
        "pending": sum(1 for r in rows if r[4] == "pending"),
    }


def ledger_frame(
    rows: Sequence[Sequence[Any]],
    *,
    timezone: str,
    source: str,
    fetched_at: pd.Timestamp,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """The tidy ledger frame (DESIGN 'Contracts') from ``[id, timestamp, type, credits, status,
    balance_type]`` rows; oldest first, ties by id."""
    cols: list[Sequence[Any]] = list(zip(*rows)) if len(rows) else [[] for _ in range(6)]
    stamps = pd.to_datetime(pd.Series(cols[1], dtype=object), utc=True, format="ISO8601")
    frame = pd.DataFrame(
        {
            "id": pd.Series(cols[0], dtype=str),
            "created_at": stamps.dt.tz_convert(timezone)
            if len(stamps)
            else pd.Series(pd.DatetimeIndex([], tz=timezone)),
            "type": pd.Series(cols[2], dtype=str),
            "credits": np.asarray(cols[3], dtype="float64"),
            "status": pd.Series(cols[4], dtype=str),
            "balance_type": pd.Series(cols[5], dtype=str),
        }
    )
    frame = frame.sort_values(["created_at", "id"], kind="mergesort").reset_index(drop=True)
    frame.attrs.update(
        {
            "timezone": timezone,
            "period": "month",
            "source": source,
            "fetched_at": fetched_at,
            "start": start,
            "end": end,
        }
    )
    return frame


# --- the cache -------------------------------------------------------------------------------


def _window_query(
    label: str, lower: dt.datetime, upper: dt.datetime, timezone: str
) -> dict[str, str]:
    return {
        "endpoint": "transactions",
        "v": _CACHE_VERSION,
        "month": label,
        "timezone": timezone,
        "created_at__gte": instant(lower),
        "created_at__lte": instant(upper),
    }


def _closing_query(label: str, timezone: str) -> dict[str, str]:
    return {
        "endpoint": "transactions-closing",
        "v": _CACHE_VERSION,
        "month": label,
        "timezone": timezone,
    }


def _figures_query(label: str, timezone: str) -> dict[str, str]:
    return {"endpoint": "reported-month", "v": _CACHE_VERSION, "month": label, "timezone": timezone}


def _store(cache: bool | UsageCache, refresh: bool) -> UsageCache | None:
    if isinstance(cache, UsageCache):
        return RefreshCache(cache.directory) if refresh else cache
    if not cache:
        return None
    return RefreshCache() if refresh else UsageCache()


class RefreshCache(UsageCache):
    """A cache that never answers but still stores: ``--refresh`` re-fetches closed periods and
    writes the new answers over the old. ``previous`` keeps what it would have answered."""

    def __init__(self, directory: Any = None) -> None:
        super().__init__(directory)
        self.previous: dict[str, dict[str, Any] | None] = {}

    def get(self, account_key: str, query: dict[str, str]) -> dict[str, Any] | None:
        self.previous[json.dumps(query, sort_keys=True)] = super().get(account_key, query)
        return None

    def stored(self, account_key: str, query: dict[str, str]) -> dict[str, Any] | None:
        return super().get(account_key, query)


# --- the balance anchor ----------------------------------------------------------------------


@dataclass
class BalanceAnchor:
    """``/me/``'s balance read just before paging (``at`` is the ledger's upper bound) and again
    after it; ``in_flight`` is the movement between the two reads."""

    balance: float
    at: pd.Timestamp
    balance_after: float
    pending_in_balance: bool | None = None
    hypothesis: str = ""

    @property
    def in_flight(self) -> float:
        return round(self.balance_after - self.balance, 2)


def _balance(data: Mapping[str, Any]) -> float:
    credits = data.get("credits")
    value = credits.get("balance") if isinstance(credits, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MalformedResponseError("malformed response: /me/ has no numeric credits.balance")
    return float(value)


def _probe(client: Any, upper: dt.datetime, balance: float, newest_settled: str | None) -> bool:
    """Does the ledger say the settled balance after ``newest_settled`` is ``balance``?

    The rows carry no ``after_balance``, but the server filters on it: ask for the newest settled
    transaction whose after-balance is ``balance`` (to the hundredth) and see whether it is the one
    we paged. An ignored filter answers the same row for every value, hence two probes below.
    """
    if newest_settled is None:
        return False
    lo, hi = balance - 0.005, balance + 0.005
    data = client.transactions(
        limit=1,
        offset=0,
        status="success",
        created_at__lte=instant(upper),
        after_balance__gte=f"{lo:.3f}",
        after_balance__lte=f"{hi:.3f}",
    )
    rows = data.get("transactions")
    if not isinstance(rows, list):
        raise MalformedResponseError("malformed response: 'transactions' is not a list")
    return bool(rows) and _parse_row(rows[0])[0] == newest_settled


def _hypothesis(
    client: Any, upper: dt.datetime, balance: float, pending: float, newest_settled: str | None
) -> tuple[bool | None, str]:
    """Which reading of ``/me/``'s balance fits the ledger: already net of pending, or not.

    The sentence names no figure: the reports state the balance and the pending credits in
    their own formats, and only where they are figures of the month shown.
    """
    if not pending:
        return None, "no pending charges at the anchor, so /me/'s balance is the settled balance"
    settled_only = _probe(client, upper, balance, newest_settled)
    net = _probe(client, upper, balance - pending, newest_settled)
    if net and not settled_only:
        return True, (
            "/me/'s balance already subtracts pending charges: it fits the ledger, "
            "the other reading does not"
        )
    if settled_only and not net:
        return False, (
            "/me/'s balance does not subtract pending charges: it fits the ledger, "
            "the other reading does not"
        )
    return None, (
        "neither reading of /me/'s balance could be confirmed against the ledger; "
        "assumed it does not subtract pending charges"
    )


def closing_balances(
    ledger: pd.DataFrame, settled_now: float, labels: Sequence[str], timezone: str
) -> dict[str, float]:
    """Each month's closing balance: the settled balance now minus settled rows after its end.

    ``ledger`` must hold every transaction from the first month's end up to the anchor.
    """
    settled = ledger[ledger["status"] == "success"]
    stamps = settled["created_at"]
    cents = (settled["credits"].to_numpy(dtype="float64") * 100).round().astype("int64")
    now_cents = int(round(settled_now * 100))
    out: dict[str, float] = {}
    for label in labels:
        _, stop = month_window(label, timezone)
        after = (stamps >= pd.Timestamp(stop)).to_numpy()
        out[label] = (now_cents - int(cents[after].sum())) / 100
    return out


# --- fetching months -------------------------------------------------------------------------


def _months_between(first: str, last: str) -> list[str]:
    y, m = P.parse_month(first)
    ly, lm = P.parse_month(last)
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = P.shift_month(y, m, 1)
    return out


def _fetch_months(
    client: Any,
    labels: Sequence[str],
    *,
    timezone: str,
    upper: dt.datetime,
    store: UsageCache | None,
    account_key: str | None,
    max_workers: int,
    progress: bool | None,
    page_size: int,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """One payload per month: closed and cached ones from the cache, the rest paged in the pool.
    A month is closed when it ended (see :func:`periods.is_closed`) before ``upper`` and held no
    pending row when fetched; only those are stored."""
    from .planner import Job, run_jobs

    tz = P.get_timezone(timezone)
    jobs: list[Job] = []
    for label in labels:
        lower, stop = month_window(label, timezone)
        top = min(upper, stop - dt.timedelta(microseconds=1))
        y, m = P.parse_month(label)
        bucket = P.Bucket(*P.month_bounds(y, m), label)
        closed = P.is_closed(bucket, tz, now) and stop <= upper
        jobs.append(Job(label, _window_query(label, lower, top, timezone), closed))
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    todo: list[int] = []
    for i, job in enumerate(jobs):
        hit = (
            store.get(account_key, job.query)
            if (store is not None and job.closed and account_key)
            else None
        )
        if hit is not None and hit.get("v") == _CACHE_VERSION and isinstance(hit.get("rows"), list):
            results[i] = hit
        else:
            todo.append(i)

    def one(q: dict[str, str]) -> dict[str, Any]:
        rows = list(
            iter_transactions(
                client,
                q["created_at__gte"],
                q["created_at__lte"],
                page_size=page_size,
                progress=False,
            )
        )
        return _rows_payload(rows)

    if todo:
        fetched = run_jobs(
            [jobs[i] for i in todo],
            one,
            cache=None,
            account_key=None,
            max_workers=max_workers,
            progress=progress,
            desc="fetching ledger",
            unit="month",
            source=client,
        )
        for i, payload in zip(todo, fetched):
            results[i] = payload
            # A month that still held pending rows is not closed: they settle or reverse later.
            if store is not None and account_key and jobs[i].closed and not payload["pending"]:
                store.put(account_key, jobs[i].query, payload)
    return results  # type: ignore[return-value]


def fetch_transactions(
    start: str | dt.date,
    end: str | dt.date,
    *,
    timezone: str,
    client: Any = None,
    cache: bool | UsageCache = True,
    upper: dt.datetime | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
    page_size: int = PAGE_SIZE,
) -> pd.DataFrame:
    """The ledger of the months from ``start`` to ``end`` (inclusive local dates) as a tidy frame.

    Parameters
    ----------
    start, end
        Inclusive local dates in ``timezone``; rows are kept inside them, fetched by month.
    timezone
        IANA name: month windows are its local midnights, sent with their offset.
    client
        A :class:`GenerectClient`; by default one is built from the environment.
    cache
        True for the on-disk cache of closed months, False to bypass it, or a ``UsageCache``.
    upper
        The fixed upper bound (default: now); rows after it are not asked for.

    Returns
    -------
    pandas.DataFrame
        ``id, created_at (tz-aware, in timezone), type, credits (negative = charge), status,
        balance_type``, oldest first. ``attrs``: ``timezone``, ``period``, ``source="api"``,
        ``fetched_at``, ``start``, ``end``, ``base_url``, ``upper_bound``.
    """
    from .client import GenerectClient

    tz = P.get_timezone(timezone)
    first = P.parse_date(start, what="start date")
    last = P.parse_date(end, what="end date")
    if first > last:
        raise InputError(f"start date {first} is after end date {last}")
    now = dt.datetime.now(dt.UTC)
    upper = _aware(upper, "upper bound") if upper is not None else now.replace(microsecond=0)
    labels = _months_between(f"{first:%Y-%m}", f"{last:%Y-%m}")
    own = client is None
    client = client or GenerectClient()
    store = _store(cache, False)
    try:
        payloads = _fetch_months(
            client,
            labels,
            timezone=timezone,
            upper=upper,
            store=store,
            account_key=client.account_key if store is not None else None,
            max_workers=max_workers or client.max_workers,
            progress=progress,
            page_size=page_size,
            now=now,
        )
    finally:
        if own:
            client.close()
        if store is not None and store is not cache:
            store.close()
    rows = [r for p in payloads for r in p["rows"]]
    frame = ledger_frame(
        rows,
        timezone=timezone,
        source="api",
        fetched_at=pd.Timestamp(upper).tz_convert(timezone),
        start=first.isoformat(),
        end=last.isoformat(),
    )
    lo = pd.Timestamp(dt.datetime.combine(first, dt.time(), tzinfo=tz))
    hi = pd.Timestamp(dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz))
    keep = ((frame["created_at"] >= lo) & (frame["created_at"] < hi)).to_numpy()
    attrs = dict(frame.attrs)
    frame = frame[keep].reset_index(drop=True)
    frame.attrs.update(attrs, base_url=client.base_url, upper_bound=pd.Timestamp(upper))
    return frame


# --- what reconcile needs for one month -----------------------------------------------------


@dataclass
class LedgerInputs:
    """The ledger of ``month`` and its balances, as :func:`ledger_for_month` found them.

    ``ledger`` holds the month's transactions; ``closing_balance`` is derived from the anchor (or
    cached from an earlier run, then ``anchor`` is None and no request was sent);
    ``restatements`` lists closed months whose cached ledger changed (``--refresh``).
    """

    month: str
    timezone: str
    ledger: pd.DataFrame
    closing_balance: float | None
    anchor: BalanceAnchor | None
    hypothesis: str
    from_cache: bool
    restatements: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0


def figures_checksum(figures: Mapping[str, Mapping[str, int]]) -> str:
    """SHA-256 of a month's figures in a canonical order (as the report's checksum of its rows)."""
    return hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()


def _diff(old: Mapping[str, int], new: Mapping[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "item": k,
            "before": old.get(k, 0) / 100,
            "after": new.get(k, 0) / 100,
            "change": (new.get(k, 0) - old.get(k, 0)) / 100,
        }
        for k in sorted(set(old) | set(new))
        if old.get(k, 0) != new.get(k, 0)
    ]


def ledger_for_month(
    month: str,
    *,
    timezone: str,
    client: Any,
    cache: bool | UsageCache = True,
    refresh: bool = False,
    progress: bool | None = None,
    now: dt.datetime | None = None,
    page_size: int = PAGE_SIZE,
    max_workers: int | None = None,
) -> LedgerInputs:
    """The month's ledger and closing balance, anchored on ``/me/``.

    A closed month whose rows and derived closing balance are cached is answered from the cache
    alone (no request). Otherwise ``/me/`` is read (its moment is the fixed upper bound), every
    month from ``month`` to the anchor's is paged in parallel, ``/me/`` is read again (any
    movement is in flight), the pending hypothesis is tested, and each closed month's closing
    balance is cached. With ``refresh`` cached months are fetched again and compared.
    """
    P.parse_month(month)
    tz = P.get_timezone(timezone)
    now = now or dt.datetime.now(dt.UTC)
    store = _store(cache, refresh)
    account = getattr(client, "account_key", None) if store is not None else None
    before = getattr(client, "request_count", 0)
    try:
        if store is not None and account and not refresh:
            hit = _cached_month(store, account, month, timezone, now)
            if hit is not None:
                return hit
        data = client.me()
        balance = _balance(data)
        upper = now.replace(microsecond=0)
        anchor_month = f"{upper.astimezone(tz):%Y-%m}"
        if month > anchor_month:
            raise InputError(f"month {month} has not started yet in {timezone}")
        labels = _months_between(month, anchor_month)
        payloads = _fetch_months(
            client,
            labels,
            timezone=timezone,
            upper=upper,
            store=store,
            account_key=account,
            progress=progress,
            page_size=page_size,
            max_workers=max_workers or int(getattr(client, "max_workers", 8)),
            now=now,
        )
        balance_after = _balance(client.me())
        rows = [r for p in payloads for r in p["rows"]]
        frame = ledger_frame(
            rows,
            timezone=timezone,
            source=getattr(client, "source", "api"),
            fetched_at=pd.Timestamp(upper).tz_convert(timezone),
        )
        pending = float((frame.loc[frame["status"] == "pending", "credits"]).sum())
        settled = frame[frame["status"] == "success"]
        newest = str(settled["id"].iloc[-1]) if len(settled) else None
        net, text = _hypothesis(client, upper, balance, round(pending, 2), newest)
        settled_now = balance - pending if net else balance
        closings = closing_balances(frame, settled_now, labels, timezone)
        restated = (
            _restatements(store, account, labels, payloads, timezone, upper, now) if refresh else []
        )
        if store is not None and account and (net is not None or not pending):
            for label, payload in zip(labels, payloads):
                _, stop = month_window(label, timezone)
                y, m = P.parse_month(label)
                if (
                    P.is_closed(P.Bucket(*P.month_bounds(y, m), label), tz, now)
                    and not payload["pending"]
                ):
                    store.put(
                        account,
                        _closing_query(label, timezone),
                        {"closing": closings[label], "hypothesis": text},
                    )
        start, stop = month_window(month, timezone)
        inside = (
            (frame["created_at"] >= pd.Timestamp(start))
            & (frame["created_at"] < pd.Timestamp(stop))
        ).to_numpy()
        attrs = dict(frame.attrs)
        month_rows = frame[inside].reset_index(drop=True)
        month_rows.attrs.update(
            attrs,
            start=start.date().isoformat(),
            end=(stop.date() - dt.timedelta(days=1)).isoformat(),
            upper_bound=pd.Timestamp(upper),
        )
        anchor = BalanceAnchor(
            balance, pd.Timestamp(upper).tz_convert(timezone), balance_after, net, text
        )
        return LedgerInputs(
            month,
            timezone,
            month_rows,
            closings[month],
            anchor,
            text,
            False,
            restated,
            getattr(client, "request_count", 0) - before,
        )
    finally:
        if store is not None and store is not cache:
            store.close()


def _cached_month(
    store: UsageCache, account: str, month: str, timezone: str, now: dt.datetime
) -> LedgerInputs | None:
    lower, stop = month_window(month, timezone)
    tz = P.get_timezone(timezone)
    y, m = P.parse_month(month)
    if not P.is_closed(P.Bucket(*P.month_bounds(y, m), month), tz, now):
        return None
    closing = store.get(account, _closing_query(month, timezone))
    rows = store.get(
        account, _window_query(month, lower, stop - dt.timedelta(microseconds=1), timezone)
    )
    if not closing or not rows or rows.get("v") != _CACHE_VERSION:
        return None
    frame = ledger_frame(
        rows["rows"],
        timezone=timezone,
        source="api",
        fetched_at=pd.Timestamp(now).tz_convert(timezone).floor("s"),
        start=lower.date().isoformat(),
        end=(stop.date() - dt.timedelta(days=1)).isoformat(),
    )
    return LedgerInputs(
        month,
        timezone,
        frame,
        float(closing["closing"]),
        None,
        str(closing.get("hypothesis", "")),
        True,
    )


def _restatements(
    store: Any,
    account: str | None,
    labels: Sequence[str],
    payloads: Sequence[dict[str, Any]],
    timezone: str,
    upper: dt.datetime,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Closed months whose cached ledger differs from what was just fetched."""
    if store is None or not account:
        return []
    out = []
    previous = getattr(store, "previous", {})
    for label, payload in zip(labels, payloads):
        lower, stop = month_window(label, timezone)
        query = _window_query(
            label, lower, min(upper, stop - dt.timedelta(microseconds=1)), timezone
        )
        old = previous.get(json.dumps(query, sort_keys=True))
        if not old or old.get("v") != _CACHE_VERSION:
            continue
        before = month_figures(
            ledger_frame(old["rows"], timezone=timezone, source="api", fetched_at=pd.Timestamp(now))
        )
        after = month_figures(
            ledger_frame(
                payload["rows"], timezone=timezone, source="api", fetched_at=pd.Timestamp(now)
            )
        )
        changes = _diff(before, after)
        if changes:
            out.append({"month": label, "kind": "ledger", "changes": changes})
    return out


def restate_reported(
    store_or_cache: bool | UsageCache,
    account: str | None,
    month: str,
    timezone: str,
    figures: Mapping[str, Mapping[str, int]],
    *,
    refresh: bool,
    closed: bool,
) -> list[dict[str, Any]]:
    """Compare a closed month's reported figures with the ones stored when it was last reported,
    then store the new ones and their checksum. Returns what changed (``--refresh`` reports it)."""
    if not account or store_or_cache is False or not closed:
        return []
    store = store_or_cache if isinstance(store_or_cache, UsageCache) else UsageCache()
    try:
        query = _figures_query(month, timezone)
        old = store.get(account, query)
        checksum = figures_checksum(figures)
        out: list[dict[str, Any]] = []
        if refresh and old and old.get("checksum") != checksum:
            for kind in sorted(set(old.get("figures", {})) | set(figures)):
                changes = _diff(old.get("figures", {}).get(kind, {}), figures.get(kind, {}))
                if changes:
                    out.append({"month": month, "kind": kind, "changes": changes})
        store.put(
            account,
            query,
            {"checksum": checksum, "figures": {k: dict(v) for k, v in figures.items()}},
        )
        return out
    finally:
        if store is not store_or_cache:
            store.close()


# --- the bundled sample ----------------------------------------------------------------------


def _sample_files() -> tuple[Any, Any]:
    from .._resources import data_file

    return data_file("sample_ledger.csv.gz"), data_file("sample_ledger_anchor.json")


class SampleLedgerSource:
    """Answers ``transactions`` and ``me`` from the bundled sample ledger, the API's way
    (newest first, limit capped, ``after_balance`` filters), so the sample goes through the same
    pager and hypothesis test as the API."""

    source = "sample"
    max_workers = 1
    account_key = None
    max_limit = 1000
    _table: pd.DataFrame | None = None
    _anchor: dict[str, Any] | None = None

    @classmethod
    def table(cls) -> pd.DataFrame:
        if cls._table is None:
            ledger, _ = _sample_files()
            with ledger.open("rb") as fh:
                raw = pd.read_csv(
                    fh,
                    compression="gzip",
                    dtype={
                        "id": str,
                        "timestamp": str,
                        "type": str,
                        "credits": "float64",
                        "status": str,
                        "balance_type": str,
                        "after_balance": "float64",
                    },
                    keep_default_na=False,
                )
            raw["ts"] = pd.to_datetime(raw["timestamp"], utc=True, format="ISO8601")
            cls._table = raw.sort_values(
                ["ts", "id"], ascending=False, kind="mergesort"
            ).reset_index(drop=True)
        return cls._table

    @classmethod
    def anchor(cls) -> dict[str, Any]:
        if cls._anchor is None:
            _, path = _sample_files()
            cls._anchor = json.loads(path.read_text(encoding="utf-8"))
        return cls._anchor

    def me(self) -> dict[str, Any]:
        return {"credits": {"balance": self.anchor()["balance"]}}

    def transactions(
        self, *, limit: int = PAGE_SIZE, offset: int = 0, **filters: str
    ) -> dict[str, Any]:
        t = self.table()
        keep = np.ones(len(t), dtype=bool)
        cols = {
            "created_at": t["ts"],
            "amount": t["credits"],
            "credits": t["credits"],
            "after_balance": t["after_balance"],
        }
        for name, value in filters.items():
            base, _, op = name.partition("__")
            if name == "status":
                keep &= (t["status"] == value).to_numpy()
                continue
            arg: Any = pd.Timestamp(value) if base == "created_at" else float(value)
            keep &= getattr(cols[base], _TIME_OPS[op])(arg).to_numpy()
        page = t[keep].iloc[offset : offset + min(int(limit), self.max_limit)]
        return {
            "transactions": [
                {
                    "id": i,
                    "timestamp": ts,
                    "type": ty,
                    "credits": c,
                    "details": {"status": s, "balance_type": b},
                }
                for i, ts, ty, c, s, b in zip(
                    page["id"],
                    page["timestamp"],
                    page["type"],
                    page["credits"],
                    page["status"],
                    page["balance_type"],
                )
            ]
        }


def load_sample_ledger(month: str, *, timezone: str = P.SAMPLE_TIMEZONE) -> LedgerInputs:
    """The sample account's ledger for ``month`` with its balances, anchored on the sample's
    ``/me/`` balance at the sample's as-of time, through the same code as the API."""
    if timezone != P.SAMPLE_TIMEZONE:
        raise InputError(
            f"the sample data is recorded in {P.SAMPLE_TIMEZONE}; "
            f"timezone {timezone!r} cannot be applied to it"
        )
    source = SampleLedgerSource()
    as_of = dt.datetime.fromisoformat(source.anchor()["as_of"])
    first = f"{source.table()['ts'].min().tz_convert(timezone):%Y-%m}"
    if (
        not first
        <= month
        <= f"{as_of.astimezone(P.get_timezone(timezone)) - dt.timedelta(seconds=1):%Y-%m}"
    ):
        raise InputError(
            f"the sample ledger covers {first} to "
            f"{as_of.astimezone(P.get_timezone(timezone)) - dt.timedelta(seconds=1):%Y-%m}; "
            f"nothing in {month}"
        )
    return ledger_for_month(
        month,
        timezone=timezone,
        client=source,
        cache=False,
        now=as_of,
        page_size=source.max_limit,
        progress=False,
    )
