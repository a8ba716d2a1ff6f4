"""Per-token request counts as a tidy frame: which customer token called which endpoint, and how
many of its requests succeeded.

``/api/v1/accounts/tokens/analytics/`` answers one window per call, so a range is asked month by
month through the planner (cache of closed months, bounded pool, retries). Three rules of the
endpoint shape this module:

- ``timezone`` only renders the answer's ``period``; it does not move the window. Every window is
  therefore sent as two instants with an explicit offset (the local month's first instant and
  its last microsecond), never as bare dates.
- The answer's ``period`` bounds carry no offset: they are parsed leniently and checked to cover
  the window that was asked for.
- Token values are customers' live credentials. They are masked to a hint (last 4 characters)
  while parsing, before anything is cached, logged or put in a frame.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import periods as P
from ..errors import InputError, InvalidDateRange, MalformedResponseError

if TYPE_CHECKING:
    from .cache import UsageCache
    from .client import GenerectClient

__all__ = [
    "COLUMNS",
    "customer_label",
    "fetch_token_usage",
    "load_sample_tokens",
    "mask_token",
    "month_window",
    "parse_token_data",
    "token_frame",
]

log = logging.getLogger(__name__)

#: The tidy token-usage frame: the contract columns first, then the month and the token's own
#: counts (``token_*``/``status_*`` are per token and month, repeated on each endpoint row).
COLUMNS = [
    "customer",
    "client_id",
    "token_hint",
    "active",
    "endpoint",
    "requests",
    "ok_ratio",
    "month",
    "period_start",
    "name",
    "created_at",
    "token_requests",
    "status_2xx",
    "status_4xx",
    "status_5xx",
    "status_other",
]

#: Tokens shorter than this show no characters at all in their hint.
_MIN_HINT_LENGTH = 12
#: Slack allowed between the window asked for and the ``period`` rendered (the API may drop
#: the microseconds of ``…23:59:59.999999``).
_PERIOD_SLACK = dt.timedelta(seconds=1)


def mask_token(value: str) -> str:
    """The printable hint of a token: ``****`` and its last 4 characters (none of a short one)."""
    text = str(value)
    return "****" + (text[-4:] if len(text) >= _MIN_HINT_LENGTH else "")


def customer_label(client_id: str | None, name: str | None, token_hint: str) -> str:
    """Who a token belongs to: its ``client_id``, else its ``name``, else its masked token."""
    for value in (client_id, name):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"token {token_hint}"


def month_window(bucket: P.Bucket, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The first and last instant (microsecond) of a bucket of local days, as aware datetimes.

    Midnight that a DST change skips becomes the first real instant of the day.
    """
    tz = P.get_timezone(timezone)
    utc = dt.UTC
    start = dt.datetime.combine(bucket.start, dt.time(), tzinfo=tz).astimezone(utc).astimezone(tz)
    after = dt.datetime.combine(bucket.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    end = (after.astimezone(utc) - dt.timedelta(microseconds=1)).astimezone(tz)
    return start, end


def _instant(value: dt.datetime) -> str:
    return value.isoformat(timespec="microseconds") if value.microsecond else value.isoformat()


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedResponseError(
            f"malformed response: {what} is {type(value).__name__}, not a count"
        )
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise MalformedResponseError(f"malformed response: {what} is not a whole number")
    if value < 0:
        raise MalformedResponseError(f"malformed response: {what} is negative")
    return int(value)


def _counts(raw: Any, what: str) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise MalformedResponseError(
            f"malformed response: {what} is {type(raw).__name__}, not an object"
        )
    out: dict[str, int] = {}
    for key, value in raw.items():
        name = str(key)
        if not name.strip():
            raise MalformedResponseError(f"malformed response: empty key in {what}")
        out[name] = _count(value, f"{what}[{name!r}]")
    return out


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(
            f"malformed response: {what} is {type(value).__name__}, not text"
        )
    return value.strip() or None


def parse_token_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one token-analytics ``data`` object and return it with every token masked.

    The result holds ``token_hint`` instead of ``token`` (an already masked object, from the
    cache or the sample, passes through unchanged), so it is safe to cache. Raises
    :class:`MalformedResponseError`; its messages name a token by its position and hint only.
    """
    if not isinstance(data, Mapping):
        raise MalformedResponseError("malformed response: 'data' is not an object")
    raw_tokens = data.get("tokens")
    if not isinstance(raw_tokens, list):
        raise MalformedResponseError("malformed response: 'tokens' is missing or not a list")
    period = data.get("period")
    if period is not None and not isinstance(period, Mapping):
        raise MalformedResponseError("malformed response: 'period' is not an object")
    tokens: list[dict[str, Any]] = []
    for i, entry in enumerate(raw_tokens):
        if not isinstance(entry, Mapping):
            raise MalformedResponseError(f"malformed response: token #{i + 1} is not an object")
        secret = entry.get("token")
        if isinstance(secret, str) and secret:
            hint = mask_token(secret)
        elif isinstance(entry.get("token_hint"), str) and "token" not in entry:
            hint = str(entry["token_hint"])
        else:
            raise MalformedResponseError(f"malformed response: token #{i + 1} has no token value")
        what = f"token #{i + 1} ({hint})"
        active = entry.get("is_active", True)
        if not isinstance(active, bool):
            raise MalformedResponseError(
                f"malformed response: is_active of {what} is not true/false"
            )
        by_endpoint = _counts(entry.get("by_endpoint"), f"by_endpoint of {what}")
        by_status = _counts(entry.get("by_status"), f"by_status of {what}")
        total = entry.get("total_requests")
        total_requests = (
            _count(total, f"total_requests of {what}")
            if total is not None
            else sum(by_endpoint.values())
        )
        tokens.append(
            {
                "token_hint": hint,
                "name": _optional_text(entry.get("name"), f"name of {what}"),
                "client_id": _optional_text(entry.get("client_id"), f"client_id of {what}"),
                "is_active": active,
                "created_at": _optional_text(entry.get("created_at"), f"created_at of {what}"),
                "total_requests": total_requests,
                "by_endpoint": by_endpoint,
                "by_status": by_status,
            }
        )
    return {
        "period": {
            "start": _optional_text((period or {}).get("start"), "period.start"),
            "end": _optional_text((period or {}).get("end"), "period.end"),
        },
        "total_requests": sum(t["total_requests"] for t in tokens),
        "tokens": tokens,
    }


def _lenient_instants(text: str, tz: dt.tzinfo) -> list[dt.datetime]:
    """The instants a rendered bound can mean: itself when it has an offset, else read in the
    asked zone or in UTC (the spec leaves the zone of offset-less times open)."""
    value = text.strip().replace(" ", "T")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponseError(
            f"malformed response: period bound {text[:40]!r} is not a date"
        ) from None
    if parsed.tzinfo is not None:
        return [parsed]
    return [parsed.replace(tzinfo=tz), parsed.replace(tzinfo=dt.UTC)]


def check_period(data: Mapping[str, Any], start: dt.datetime, end: dt.datetime) -> None:
    """Raise :class:`MalformedResponseError` unless ``data['period']`` covers ``[start, end]``."""
    period = data.get("period") or {}
    if not period.get("start") or not period.get("end"):
        raise MalformedResponseError(
            "malformed response: the answer does not say which window it counted"
        )
    tz = start.tzinfo or dt.UTC
    starts = _lenient_instants(str(period["start"]), tz)
    ends = _lenient_instants(str(period["end"]), tz)
    for first, last in zip(starts, ends):
        if first <= start + _PERIOD_SLACK and last >= end - _PERIOD_SLACK and first < end:
            return
    raise MalformedResponseError(
        f"the API counted {period['start']} to {period['end']}, not the window asked for "
        f"({_instant(start)} to {_instant(end)})"
    )


def _status(by_status: Mapping[str, int]) -> tuple[int, int, int, int]:
    ok = fours = fives = other = 0
    for key, value in by_status.items():
        head = key.strip().lower()[:1]
        if head == "2":
            ok += value
        elif head == "4":
            fours += value
        elif head == "5":
            fives += value
        else:
            other += value
    return ok, fours, fives, other


def token_frame(
    buckets: Sequence[P.Bucket],
    payloads: Sequence[Mapping[str, Any]],
    *,
    timezone: str,
    source: str,
    fetched_at: pd.Timestamp,
    windows: Sequence[tuple[dt.datetime, dt.datetime]] | None = None,
) -> pd.DataFrame:
    """Build the tidy token-usage frame from one (masked or raw) ``data`` object per month.

    A token without requests in a month gets one row with an empty ``endpoint`` and zeros, so
    idle and revoked tokens stay visible.
    """
    records: list[tuple[Any, ...]] = []
    for i, (bucket, raw) in enumerate(zip(buckets, payloads)):
        try:
            data = parse_token_data(raw)
        except MalformedResponseError as exc:
            raise exc.for_period(bucket.label) from None
        for tok in data["tokens"]:
            ok, fours, fives, other = _status(tok["by_status"])
            statuses = ok + fours + fives + other
            ratio = ok / statuses if statuses else math.nan
            customer = customer_label(tok["client_id"], tok["name"], tok["token_hint"])
            endpoints = sorted(tok["by_endpoint"].items()) or [("", 0)]
            for endpoint, requests in endpoints:
                records.append(
                    (
                        customer,
                        tok["client_id"],
                        tok["token_hint"],
                        tok["is_active"],
                        endpoint,
                        requests,
                        ratio,
                        bucket.label,
                        i,
                        tok["name"],
                        tok["created_at"],
                        tok["total_requests"],
                        ok,
                        fours,
                        fives,
                        other,
                    )
                )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    starts = (
        pd.DatetimeIndex(pd.to_datetime([b.start.isoformat() for b in buckets])).tz_localize(
            timezone, nonexistent="shift_forward", ambiguous=True
        )
        if buckets
        else pd.DatetimeIndex([], tz=timezone)
    )
    frame["period_start"] = (
        starts[frame["period_start"].to_numpy(dtype="int64")]
        if len(frame)
        else pd.Series(pd.DatetimeIndex([], tz=timezone))
    )
    for col in ("customer", "token_hint", "endpoint", "month"):
        frame[col] = frame[col].astype(str)
    frame["active"] = frame["active"].astype(bool)
    for col in (
        "requests",
        "token_requests",
        "status_2xx",
        "status_4xx",
        "status_5xx",
        "status_other",
    ):
        frame[col] = frame[col].astype("int64")
    frame["ok_ratio"] = frame["ok_ratio"].astype("float64")
    frame.attrs.update(
        {
            "timezone": timezone,
            "period": "month",
            "source": source,
            "fetched_at": fetched_at,
            "start": _instant(windows[0][0])
            if windows
            else (buckets[0].start.isoformat() if buckets else None),
            "end": _instant(windows[-1][1])
            if windows
            else (buckets[-1].end.isoformat() if buckets else None),
            "windows": {b.label: [_instant(w[0]), _instant(w[1])] for b, w in zip(buckets, windows)}
            if windows
            else {},
        }
    )
    return frame


def _month_buckets(start: str | dt.date, end: str | dt.date) -> list[P.Bucket]:
    return P.buckets(start, end, "month")


def fetch_token_usage(
    start: str | dt.date,
    end: str | dt.date,
    *,
    timezone: str,
    client: GenerectClient | None = None,
    cache: bool | UsageCache = True,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Requests per customer token and endpoint, one API call per calendar month.

    Parameters
    ----------
    start, end
        Inclusive local dates in ``timezone``; the range is split into calendar months (the
        first and last clipped). An end after today is clipped to today.
    timezone
        IANA name. Each month is sent as explicit instants with their offset, from the first
        local midnight to the last microsecond before the next one.
    client
        A :class:`GenerectClient`; by default one is built from the environment.
    cache
        True for the default cache of closed months, False to bypass it, or a ``UsageCache``.
        Only masked answers are cached.
    max_workers, progress
        As for :func:`~generect_reports.fetch_usage`.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``customer`` (``client_id``, else ``name``, else the masked token),
        ``client_id``, ``token_hint`` (never the token), ``active``, ``endpoint``, ``requests``,
        ``ok_ratio`` (the token's 2xx share in the month, NaN without requests), then ``month``,
        ``period_start``, ``name``, ``created_at`` and the token's ``token_requests`` and
        ``status_*`` counts. ``attrs``: ``timezone``, ``source="api"``, ``fetched_at``,
        ``start``/``end`` (the instants asked for), ``windows`` (per month), ``base_url``.
    """
    from .planner import Job, api_session, local_range, run_jobs

    tz = P.get_timezone(timezone)
    first, last = local_range(start, end, timezone)
    bucket_list = _month_buckets(first, last)
    windows = [month_window(b, timezone) for b in bucket_list]
    now = dt.datetime.now(dt.UTC)
    jobs = [
        Job(
            b.label,
            {
                "endpoint": "tokens/analytics",
                "start_date": _instant(w[0]),
                "end_date": _instant(w[1]),
                "timezone": timezone,
            },
            P.is_closed(b, tz, now),
        )
        for b, w in zip(bucket_list, windows)
    ]
    asked = {job.query["start_date"]: w for job, w in zip(jobs, windows)}
    fetched_at = pd.Timestamp.now(tz=timezone).floor("s")
    with api_session(client, cache) as (session, store):

        def one(q: dict[str, str]) -> dict[str, Any]:
            raw = session.token_analytics(q["start_date"], q["end_date"], timezone=q["timezone"])
            masked = parse_token_data(raw)  # mask before anything is cached or kept
            del raw
            check_period(masked, *asked[q["start_date"]])
            return masked

        payloads = run_jobs(
            jobs,
            one,
            cache=store,
            account_key=session.account_key,
            max_workers=max_workers or session.max_workers,
            progress=progress,
            desc="fetching token analytics",
            unit="month",
            source=session,
        )
    frame = token_frame(
        bucket_list,
        payloads,
        timezone=timezone,
        source="api",
        fetched_at=fetched_at,
        windows=windows,
    )
    frame.attrs["base_url"] = session.base_url
    return frame


# --- the bundled sample ----------------------------------------------------------------------

_SAMPLE_CACHE: dict[str, Any] = {}


def _sample_months() -> dict[str, Any]:
    if "months" not in _SAMPLE_CACHE:
        from .._resources import data_file

        with data_file("sample_tokens.json").open("rb") as fh:
            doc = json.load(fh)
        _SAMPLE_CACHE["months"] = doc["months"]
    return _SAMPLE_CACHE["months"]


def load_sample_tokens(
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    *,
    timezone: str = P.SAMPLE_TIMEZONE,
) -> pd.DataFrame:
    """The sample account's token analytics (no token, no network), as :func:`fetch_token_usage`.

    The sample is recorded per Europe/Kyiv month (2025-01 to 2026-10); the bundled file holds
    masked hints only.
    """
    P.get_timezone(timezone)
    if timezone != P.SAMPLE_TIMEZONE:
        raise InputError(
            f"the sample data is recorded in {P.SAMPLE_TIMEZONE}; "
            f"timezone {timezone!r} cannot be applied to it"
        )
    months = _sample_months()
    labels = sorted(months)
    lo = P.month_bounds(*P.parse_month(labels[0]))[0]
    hi = P.month_bounds(*P.parse_month(labels[-1]))[1]
    first = P.parse_date(start, what="start date") if start is not None else lo
    last = P.parse_date(end, what="end date") if end is not None else hi
    if first > last:
        raise InvalidDateRange(f"start date {first} is after end date {last}")
    if first > hi or last < lo:
        raise InvalidDateRange(f"the sample covers {lo} to {hi}; nothing in {first}..{last}")
    bucket_list = _month_buckets(max(first, lo), min(last, hi))
    whole = [P.Bucket(*P.month_bounds(*P.parse_month(b.label)), b.label) for b in bucket_list]
    if whole != bucket_list:
        raise InputError("the sample's token analytics are monthly: ask for whole months")
    from .usage import sample_as_of

    return token_frame(
        bucket_list,
        [months[b.label] for b in bucket_list],
        timezone=timezone,
        source="sample",
        fetched_at=sample_as_of(),
        windows=[month_window(b, timezone) for b in bucket_list],
    )
