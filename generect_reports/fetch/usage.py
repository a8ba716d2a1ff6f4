"""Usage as a tidy DataFrame: buckets → one request each → rows that add up to the API total.

``fetch_usage`` asks the API (through the cache); ``load_sample`` answers the same questions from
the bundled sample, through the same aggregation code.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .. import periods as P
from .._text import display_text, truncate_for_layout, unholdable_reason
from ..errors import InputError, InvalidDateRange, MalformedResponseError

if TYPE_CHECKING:
    from .cache import UsageCache
    from .client import GenerectClient

__all__ = [
    "fetch_usage",
    "load_sample",
    "usage_frame",
    "parse_usage_data",
    "operation_name",
    "tie_out",
    "TieOut",
    "UNATTRIBUTED",
    "COLUMNS",
    "SAMPLE_TIMEZONE",
]

log = logging.getLogger(__name__)

UNATTRIBUTED = "unattributed"
COLUMNS = ["period_start", "period", "operation", "credits"]
SAMPLE_TIMEZONE = P.SAMPLE_TIMEZONE
#: The sample's data is complete up to this local time; it is the sample's "fetched at".
SAMPLE_AS_OF = "2026-11-01T00:00:00"


class UsageSource(Protocol):
    def usage(
        self, start_date: str, end_date: str, *, timezone: str = ..., period: str = ...
    ) -> dict[str, Any]: ...


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedResponseError(
            f"malformed response: {what} is {type(value).__name__}, not a number"
        )
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise MalformedResponseError(f"malformed response: {what} is out of range") from None
    if not math.isfinite(number):
        raise MalformedResponseError(f"malformed response: {what} is not a finite number")
    return number


def operation_name(name: Any) -> str:
    """An operation name from the API, decided once here: kept verbatim, or refused.

    Every code point a writer can hold is kept as sent (controls, noncharacters, bidi and
    zero-width characters included; each writer encodes them visibly). Refused, as a malformed
    response: a name that is not a string, blank, ``unattributed`` (our own row), or one no
    writer can hold (see :func:`generect_reports._text.unholdable_reason`).
    """
    if not isinstance(name, str):
        raise MalformedResponseError(f"malformed response: operation name is {type(name).__name__}")
    if not name.strip() or name == UNATTRIBUTED:
        raise MalformedResponseError(
            f"malformed response: invalid operation name {display_text(name)!r}"
        )
    reason = unholdable_reason(name)
    if reason:
        raise MalformedResponseError(
            "malformed response: operation name "
            f"{truncate_for_layout(display_text(name), 80)!r} {reason}"
        )
    return name


def parse_usage_data(data: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """Validate one usage ``data`` object; return ``(total_credits, breakdown)``.

    Raises :class:`MalformedResponseError` for a missing total, a breakdown that is not an
    object, non-numeric or non-finite credits, or an operation named ``unattributed``.
    Negative credits (refunds) are kept.
    """
    if not isinstance(data, Mapping):
        raise MalformedResponseError("malformed response: 'data' is not an object")
    if "total_credits" not in data:
        raise MalformedResponseError("malformed response: 'total_credits' is missing")
    total = _number(data["total_credits"], "total_credits")
    raw = data.get("breakdown")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise MalformedResponseError(
            f"malformed response: 'breakdown' is {type(raw).__name__}, not an object"
        )
    breakdown: dict[str, float] = {}
    for name, value in raw.items():
        op = operation_name(name)
        breakdown[op] = _number(value, f"credits of {truncate_for_layout(display_text(op), 80)}")
    return total, breakdown


def _remainder(total: float, breakdown: Mapping[str, float]) -> float:
    """``total`` minus the breakdown, with float noise (1e-9) rounded away."""
    diff = total - math.fsum(breakdown.values())
    return 0.0 if abs(diff) < 1e-9 * max(1.0, abs(total)) else round(diff, 9)


def _local_midnights(days: list[dt.date], timezone: str) -> pd.DatetimeIndex:
    naive = pd.DatetimeIndex(pd.to_datetime([d.isoformat() for d in days]))
    # Some zones skip or repeat midnight on DST days: take the first real instant of the day.
    return naive.tz_localize(
        timezone, nonexistent="shift_forward", ambiguous=np.ones(len(naive), bool)
    )


def usage_frame(
    buckets: Sequence[P.Bucket],
    payloads: Sequence[Mapping[str, Any]],
    *,
    timezone: str,
    period: str,
    source: str,
    fetched_at: pd.Timestamp,
) -> pd.DataFrame:
    """Build the tidy frame (see DESIGN) from one API ``data`` object per bucket."""
    bucket_idx: list[int] = []
    ops: list[str] = []
    credits: list[float] = []
    negative = False
    for i, (bucket, data) in enumerate(zip(buckets, payloads)):
        try:
            total, breakdown = parse_usage_data(data)
        except MalformedResponseError as exc:
            raise exc.for_period(bucket.label) from None
        rest = _remainder(total, breakdown)
        items = sorted(breakdown.items())
        if rest:
            items.append((UNATTRIBUTED, rest))
        for op, value in items:
            bucket_idx.append(i)
            ops.append(op)
            credits.append(value)
            negative = negative or value < 0
    starts = (
        _local_midnights([b.start for b in buckets], timezone)
        if buckets
        else pd.DatetimeIndex([], tz=timezone)
    )
    idx = np.asarray(bucket_idx, dtype=np.intp)
    frame = pd.DataFrame(
        {
            "period_start": starts[idx] if len(idx) else pd.DatetimeIndex([], tz=timezone),
            "period": pd.Series([buckets[i].label for i in idx], dtype=str),
            "operation": pd.Series(ops, dtype=str),
            "credits": np.asarray(credits, dtype="float64"),
        }
    )
    frame.attrs.update(
        {
            "timezone": timezone,
            "period": period,
            "source": source,
            "fetched_at": fetched_at,
            "start": buckets[0].start.isoformat() if buckets else None,
            "end": buckets[-1].end.isoformat() if buckets else None,
            "negative_credits": negative,
        }
    )
    return frame


@dataclass(frozen=True)
class TieOut:
    """A closed bucket whose API figure and the sum of its days disagree (to the hundredth).

    ``operations`` maps each operation that differs to the bucket's figure minus its days'.
    The bucket's own figure (the API's monthly one) is the one used.
    """

    label: str
    bucket_total: float
    days_total: float
    operations: dict[str, float]

    @property
    def difference(self) -> float:
        return round(self.bucket_total - self.days_total, 9)


def _query(bucket: P.Bucket, period: str, timezone: str) -> dict[str, str]:
    """The request (and cache key) of one bucket."""
    return {
        "start_date": bucket.start.isoformat(),
        "end_date": bucket.end.isoformat(),
        "timezone": timezone,
        "period": period,
    }


def _sum_payloads(label: str, payloads: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One bucket's ``data`` summed exactly (fsum) from the ``data`` of its days."""
    totals: list[float] = []
    parts: dict[str, list[float]] = {}
    for data in payloads:
        total, breakdown = parse_usage_data(data)
        totals.append(total)
        for op, value in breakdown.items():
            parts.setdefault(op, []).append(value)
    return {
        "period": label,
        "total_credits": round(math.fsum(totals), 9),
        "breakdown": {op: round(math.fsum(v), 9) for op, v in sorted(parts.items())},
    }


def _hundredths(value: float) -> int:
    return int(round(value * 100))


def tie_out(label: str, bucket: Mapping[str, Any], days: Mapping[str, Any]) -> TieOut | None:
    """Compare a bucket's ``data`` with the ``data`` summed from its days; None when they agree
    to the hundredth of a credit, in total and for every operation."""
    total, breakdown = parse_usage_data(bucket)
    days_total, days_breakdown = parse_usage_data(days)
    diffs = {
        op: round(breakdown.get(op, 0.0) - days_breakdown.get(op, 0.0), 9)
        for op in sorted(set(breakdown) | set(days_breakdown))
        if _hundredths(breakdown.get(op, 0.0)) != _hundredths(days_breakdown.get(op, 0.0))
    }
    if not diffs and _hundredths(total) == _hundredths(days_total):
        return None
    return TieOut(label, total, days_total, diffs)


def _collect(
    source: UsageSource,
    requests: Sequence[tuple[P.Bucket, str]],
    *,
    timezone: str,
    cache: UsageCache | None,
    account_key: str | None,
    max_workers: int,
    progress: bool | None,
) -> tuple[list[dict[str, Any]], list[TieOut]]:
    """The ``data`` of every ``(bucket, period)``, in order, and the tie-outs found on the way.

    A closed bucket longer than a day whose every day is cached is summed from those days
    instead of being asked for; when the bucket is cached too, the two are compared.
    """
    from .planner import Job, run_jobs

    tz = P.get_timezone(timezone)
    now = dt.datetime.now(dt.UTC)
    queries = [_query(b, period, timezone) for b, period in requests]
    closed = [P.is_closed(b, tz, now) for b, _ in requests]
    results: list[dict[str, Any] | None] = [None] * len(requests)
    tie_outs: list[TieOut] = []
    if cache is not None and account_key:
        for i, (bucket, period) in enumerate(requests):
            if period == "day" or not closed[i]:
                continue
            days = cache.get_many(
                account_key,
                [_query(d, "day", timezone) for d in P.buckets(bucket.start, bucket.end, "day")],
            )
            if any(d is None for d in days):
                continue
            derived = _sum_payloads(bucket.label, days)  # type: ignore[arg-type]
            own = cache.get(account_key, queries[i])
            if own is None:
                results[i] = derived
                continue
            found = tie_out(bucket.label, own, derived)
            if found is not None:
                # Said once by whoever shows the figures (the report, the usage command).
                log.info(
                    "the API's figure for %s (%.2f credits) differs from the sum of its days "
                    "(%.2f); using the API's figure",
                    bucket.label,
                    found.bucket_total,
                    found.days_total,
                )
                tie_outs.append(found)
        derived_count = sum(r is not None for r in results)
        if derived_count:
            log.info("%d bucket(s) summed from cached days, not requested", derived_count)
    todo = [i for i, r in enumerate(results) if r is None]
    jobs = [Job(requests[i][0].label, queries[i], closed[i]) for i in todo]

    def one(q: dict[str, str]) -> dict[str, Any]:
        data = source.usage(
            q["start_date"], q["end_date"], timezone=q["timezone"], period=q["period"]
        )
        parse_usage_data(data)  # validate before anything is cached
        return data

    answers = run_jobs(
        jobs,
        one,
        cache=cache,
        account_key=account_key,
        max_workers=max_workers,
        progress=progress,
        desc="fetching usage",
        unit="bucket",
        source=source,
    )
    for i, data in zip(todo, answers):
        results[i] = data
    return results, tie_outs  # type: ignore[return-value]


def fetch_usage(
    start: str | dt.date,
    end: str | dt.date,
    *,
    period: str = "day",
    timezone: str = "UTC",
    client: GenerectClient | None = None,
    cache: bool | UsageCache = True,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Fetch credit usage from the API as a tidy frame.

    Parameters
    ----------
    start, end
        Inclusive local dates (``YYYY-MM-DD``) in ``timezone``. An end after today is clipped
        to today; a start in the future is an error.
    period
        ``day``, ``week`` (ISO, Monday to Sunday) or ``month``; buckets are clipped to the range.
    timezone
        IANA name; buckets are local calendar days in it.
    client
        A :class:`GenerectClient`; by default one is built from the environment.
    cache
        True for the default on-disk cache of closed buckets, False to bypass it, or a
        :class:`~generect_reports.cache.UsageCache`.
    max_workers
        Parallel requests (default: the client's, 8).
    progress
        Show a progress bar on stderr (default: when stderr is a terminal).

    Returns
    -------
    pandas.DataFrame
        Columns ``period_start`` (tz-aware local midnight), ``period`` (label), ``operation``,
        ``credits`` (float64); one row per bucket and operation, and an ``unattributed`` row
        where ``total_credits`` exceeds the breakdown, so each bucket adds up to the API total.
        ``attrs``: ``timezone``, ``period``, ``source="api"``, ``fetched_at``, ``start``, ``end``,
        ``base_url``.
    """
    from .planner import api_session, local_range

    P.get_timezone(timezone)
    first, last = local_range(start, end, timezone)
    bucket_list = P.buckets(first, last, period)
    fetched_at = pd.Timestamp.now(tz=timezone).floor("s")
    with api_session(client, cache) as (client, store):
        payloads, tie_outs = _collect(
            client,
            [(b, period) for b in bucket_list],
            timezone=timezone,
            cache=store,
            account_key=client.account_key,
            max_workers=max_workers or client.max_workers,
            progress=progress,
        )
    frame = usage_frame(
        bucket_list, payloads, timezone=timezone, period=period, source="api", fetched_at=fetched_at
    )
    frame.attrs["base_url"] = client.base_url
    if tie_outs:
        frame.attrs["tie_outs"] = tie_outs
    return frame


# --- the bundled sample ----------------------------------------------------------------------


def _sample_path() -> Any:
    """The sample CSV: from the installed package, or the source tree's ``data/`` folder."""
    from .._resources import data_file

    return data_file("sample_usage.csv")


class SampleUsageData:
    """Answers usage queries from the bundled daily sample with the API's payload shape."""

    _daily: pd.DataFrame | None = None

    @classmethod
    def daily(cls) -> pd.DataFrame:
        if cls._daily is None:
            with _sample_path().open("rb") as fh:
                raw = pd.read_csv(fh, dtype={"date": str, "operation": str, "credits": "float64"})
            raw["date"] = pd.to_datetime(raw["date"], format="%Y-%m-%d")
            cls._daily = raw
        return cls._daily

    def usage_many(self, buckets: list[P.Bucket]) -> list[dict[str, Any]]:
        """All buckets at once (vectorised): one groupby instead of one filter per bucket."""
        daily = self.daily()
        starts = pd.to_datetime([b.start.isoformat() for b in buckets])
        dates = daily["date"]
        pos = starts.searchsorted(dates, side="right") - 1
        ends = pd.to_datetime([b.end.isoformat() for b in buckets])
        inside = (pos >= 0) & (dates.to_numpy() <= ends.to_numpy()[np.clip(pos, 0, None)])
        sub = daily[inside].assign(bucket=pos[inside])
        sums = sub.groupby(["bucket", "operation"], sort=True)["credits"].sum()
        out: list[dict[str, Any]] = [
            {"period": b.label, "total_credits": 0.0, "breakdown": {}} for b in buckets
        ]
        for (i, op), value in sums.items():
            out[i]["total_credits"] += float(value)
            if op != UNATTRIBUTED:
                out[i]["breakdown"][op] = float(value)
        return out


def sample_as_of() -> pd.Timestamp:
    return pd.Timestamp(SAMPLE_AS_OF, tz=SAMPLE_TIMEZONE)


def load_sample(
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    period: str = "day",
    timezone: str = SAMPLE_TIMEZONE,
) -> pd.DataFrame:
    """The bundled sample account's usage as a tidy frame (no token, no network).

    Parameters
    ----------
    start, end
        Inclusive local dates; default to the whole sample (2025-01-01 to 2026-10-31).
    period
        ``day``, ``week`` or ``month``.
    timezone
        The sample was recorded in Europe/Kyiv; other zones cannot be re-bucketed exactly and
        are refused.

    Returns
    -------
    pandas.DataFrame
        The same tidy frame as :func:`fetch_usage`, with ``attrs["source"] == "sample"``.
    """
    P.get_timezone(timezone)
    if timezone != SAMPLE_TIMEZONE:
        raise InputError(
            f"the sample data is recorded in {SAMPLE_TIMEZONE}; "
            f"timezone {timezone!r} cannot be applied to it"
        )
    daily = SampleUsageData.daily()
    first_day = daily["date"].min().date()
    last_day = daily["date"].max().date()
    first = P.parse_date(start, what="start date") if start is not None else first_day
    last = P.parse_date(end, what="end date") if end is not None else last_day
    if first > last:
        raise InvalidDateRange(f"start date {first} is after end date {last}")
    if first > last_day or last < first_day:
        raise InvalidDateRange(
            f"the sample covers {first_day} to {last_day}; nothing in {first}..{last}"
        )
    # Like the API's "end clipped to today": the sample ends at its as-of date.
    bucket_list = P.buckets(max(first, first_day), min(last, last_day), period)
    payloads = SampleUsageData().usage_many(bucket_list)
    frame = usage_frame(
        bucket_list,
        payloads,
        timezone=SAMPLE_TIMEZONE,
        period=period,
        source="sample",
        fetched_at=sample_as_of(),
    )
    return frame
