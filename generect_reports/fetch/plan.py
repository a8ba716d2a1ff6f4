"""A report's fetch plan: days only where days are needed, one monthly bucket for every other month.

The usage endpoint answers one aggregate per call, so a report that asked for every day of its
history would send hundreds of requests for figures a monthly bucket gives in one. A monthly
report reads days for:

- the reported month (the daily chart, the workbook's Daily sheet and its tie-out);
- the anomaly baseline, the ``lookback_days`` before the month (the weekday projection of a
  running month reads the same days);
- for a month that is still running, the previous month and the same month last year up to the
  same day, because those comparisons are like for like.

Every other month of the history (and the year-ago month) is one monthly bucket, and so is a
reported month that is over, to tie its days to the API's monthly figure. A closed month
whose every day is already cached is summed from those days, never asked again (see
:func:`generect_reports.fetch.usage.fetch_usage`); the plan is answered through the same planner
as every other fetch (:func:`generect_reports.fetch.planner.run_jobs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from .. import periods as P
from ..errors import InputError

if TYPE_CHECKING:
    from .cache import UsageCache
    from .client import GenerectClient

__all__ = [
    "UsagePlan",
    "ReportUsage",
    "report_plan",
    "windows_plan",
    "fetch_report_usage",
    "fetch_plan_usage",
    "load_sample_report_usage",
    "load_sample_plan_usage",
    "LOOKBACK_DAYS",
    "YOY_MONTHS",
]

#: Days of anomaly baseline before the reported month (the analysis layer's window).
LOOKBACK_DAYS = 28
#: Months back to the same month last year.
YOY_MONTHS = 12


@dataclass(frozen=True)
class UsagePlan:
    """The buckets a report of ``month`` needs, as of ``today`` (a local date).

    ``days`` are daily buckets (the main range from ``day_start`` to the month's end or today,
    plus last year's first days of a running month); ``months`` are whole calendar months.
    """

    month: str
    today: dt.date
    day_start: dt.date
    day_end: dt.date
    days: tuple[P.Bucket, ...]
    months: tuple[P.Bucket, ...]

    @property
    def requests(self) -> list[tuple[P.Bucket, str]]:
        """Every ``(bucket, period)`` of the plan, days first (before the cache is asked)."""
        return [(b, "day") for b in self.days] + [(b, "month") for b in self.months]


class ReportUsage(NamedTuple):
    """The two tidy frames a report is built from: ``daily`` and ``monthly`` usage."""

    daily: pd.DataFrame
    monthly: pd.DataFrame


def report_plan(
    month: str | P.Month,
    history: int,
    *,
    today: dt.date,
    lookback_days: int = LOOKBACK_DAYS,
    yoy_months: int = YOY_MONTHS,
) -> UsagePlan:
    """The buckets a report of ``month`` with ``history`` months needs, as of ``today``.

    Raises :class:`InputError` when the month has no complete day yet (``today`` is its first
    day or earlier) and for a history under one month.
    """
    if history < 1:
        raise InputError(f"history must be at least 1 month, not {history}")
    year, mon = P.parse_month(month)
    month = f"{year:04d}-{mon:02d}"
    first, last = P.month_bounds(year, mon)
    if today <= first:
        raise InputError(f"month {month} has no complete day of data yet (today is {today})")
    running = today <= last
    end = min(last, today)
    prev_first, _ = P.month_bounds(*P.shift_month(year, mon, -1))
    start = first - dt.timedelta(days=lookback_days)
    if running:
        # Like for like: the previous month's first N days, wherever the baseline starts.
        start = min(start, prev_first)
    days = P.buckets(start, end, "day")
    elapsed = (min(today, last + dt.timedelta(days=1)) - first).days  # complete days
    yoy_first, yoy_last = P.month_bounds(*P.shift_month(year, mon, -yoy_months))
    if running and elapsed and yoy_last < start:
        days = (
            P.buckets(yoy_first, min(yoy_last, yoy_first + dt.timedelta(days=elapsed - 1)), "day")
            + days
        )
    oldest = P.shift_month(year, mon, -max(history - 1, yoy_months))
    months: list[P.Bucket] = []
    if oldest < (year, mon):
        months = [
            b
            for b in P.buckets(P.month_bounds(*oldest)[0], first - dt.timedelta(days=1), "month")
            if not (start <= b.start and b.end <= end)
        ]  # a month the days cover is summed
    if not running:
        # One request more ties the reported month's days to the API's own monthly figure.
        months.append(P.Bucket(first, last, month))
    return UsagePlan(month, today, start, end, tuple(days), tuple(months))


def _split(
    plan: UsagePlan, payloads: list[dict], *, timezone: str, source: str, fetched_at: pd.Timestamp
) -> ReportUsage:
    from .usage import usage_frame

    n = len(plan.days)
    daily = usage_frame(
        plan.days,
        payloads[:n],
        timezone=timezone,
        period="day",
        source=source,
        fetched_at=fetched_at,
    )
    monthly = usage_frame(
        plan.months,
        payloads[n:],
        timezone=timezone,
        period="month",
        source=source,
        fetched_at=fetched_at,
    )
    daily.attrs["start"] = plan.day_start.isoformat()
    daily.attrs["end"] = plan.day_end.isoformat()
    return ReportUsage(daily, monthly)


def windows_plan(
    windows: Sequence[tuple[dt.date, dt.date]], *, today: dt.date, label: str = ""
) -> UsagePlan:
    """Buckets that sum every date window exactly: each whole calendar month inside a window is
    one monthly bucket, the rest of the window (a month cut short) is days. Nothing after
    ``today`` is planned. Used where only window totals are needed (a quarter and its
    comparison quarters)."""
    days: list[P.Bucket] = []
    months: list[P.Bucket] = []
    for first, last in windows:
        last = min(last, today)
        if last < first:
            continue
        for bucket in P.buckets(first, last, "month"):
            month_first, month_last = P.month_bounds(bucket.start.year, bucket.start.month)
            if bucket.start == month_first and bucket.end == month_last:
                months.append(bucket)
            else:
                days.extend(P.buckets(bucket.start, bucket.end, "day"))
    if not windows:
        raise InputError("nothing to fetch: no date window")
    start = min(first for first, _ in windows)
    end = min(max(last for _, last in windows), today)
    return UsagePlan(label, today, start, end, tuple(sorted(set(days))), tuple(sorted(set(months))))


def fetch_report_usage(
    month: str,
    history: int,
    *,
    timezone: str = "UTC",
    client: GenerectClient | None = None,
    cache: bool | UsageCache = True,
    max_workers: int | None = None,
    progress: bool | None = None,
    lookback_days: int = LOOKBACK_DAYS,
) -> ReportUsage:
    """The daily and monthly usage a report of ``month`` needs, from the API (through the cache).

    Parameters
    ----------
    month
        'YYYY-MM'.
    history
        Months of history (the year-ago month is fetched whatever this is).
    timezone, client, cache, max_workers, progress
        As for :func:`~generect_reports.fetch_usage`.

    Returns
    -------
    ReportUsage
        ``daily`` (``period='day'``) and ``monthly`` (``period='month'``) tidy frames, with the
        usual ``attrs``; ``monthly.attrs["tie_outs"]`` lists the closed months whose monthly
        figure and cached days disagree (the monthly figure is the one used);
        ``daily.attrs["requests"]`` counts the requests the run sent.
    """
    tz = P.get_timezone(timezone)
    plan = report_plan(month, history, today=P.local_today(tz), lookback_days=lookback_days)
    return fetch_plan_usage(
        plan,
        timezone=timezone,
        client=client,
        cache=cache,
        max_workers=max_workers,
        progress=progress,
    )


def fetch_plan_usage(
    plan: UsagePlan,
    *,
    timezone: str = "UTC",
    client: GenerectClient | None = None,
    cache: bool | UsageCache = True,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> ReportUsage:
    """Answer ``plan`` from the API through the cache and the planner (see
    :func:`fetch_report_usage` for what comes back)."""
    from .planner import api_session
    from .usage import _collect

    fetched_at = pd.Timestamp.now(tz=timezone).floor("s")
    with api_session(client, cache) as (session, store):
        before = getattr(session, "request_count", 0)
        payloads, tie_outs = _collect(
            session,
            plan.requests,
            timezone=timezone,
            cache=store,
            account_key=session.account_key,
            max_workers=max_workers or session.max_workers,
            progress=progress,
        )
        sent = getattr(session, "request_count", 0) - before
    out = _split(plan, payloads, timezone=timezone, source="api", fetched_at=fetched_at)
    for frame in out:
        frame.attrs["base_url"] = session.base_url
    if tie_outs:
        out.monthly.attrs["tie_outs"] = tie_outs
    out.daily.attrs["requests"] = sent
    return out


def load_sample_report_usage(
    month: str,
    history: int,
    *,
    timezone: str = P.SAMPLE_TIMEZONE,
    lookback_days: int = LOOKBACK_DAYS,
) -> ReportUsage:
    """The same two frames from the bundled sample, planned as of the sample's as-of date."""
    from .usage import sample_as_of

    plan = report_plan(month, history, today=sample_as_of().date(), lookback_days=lookback_days)
    return load_sample_plan_usage(plan, timezone=timezone)


def load_sample_plan_usage(plan: UsagePlan, *, timezone: str = P.SAMPLE_TIMEZONE) -> ReportUsage:
    """Answer ``plan`` from the bundled sample, clipped to the dates the sample covers."""
    from .usage import SampleUsageData, sample_as_of

    if timezone != P.SAMPLE_TIMEZONE:
        from .usage import load_sample

        load_sample(timezone=timezone)  # the one error for a zone the sample cannot take
    daily_data = SampleUsageData.daily()["date"]
    first_day, last_day = daily_data.min().date(), daily_data.max().date()
    # Like the API's "end clipped to today": nothing before or after the sample is planned.
    days = tuple(b for b in plan.days if first_day <= b.start and b.end <= last_day)
    months = tuple(b for b in plan.months if first_day <= b.start and b.end <= last_day)
    if not days and not months:
        raise InputError(
            f"the sample covers {first_day} to {last_day}; nothing in "
            f"{plan.day_start}..{plan.day_end}"
        )
    plan = UsagePlan(
        plan.month,
        plan.today,
        max(plan.day_start, first_day),
        min(plan.day_end, last_day),
        days,
        months,
    )
    source = SampleUsageData()
    payloads = (source.usage_many(list(days)) if days else []) + (
        source.usage_many(list(months)) if months else []
    )
    return _split(
        plan, payloads, timezone=P.SAMPLE_TIMEZONE, source="sample", fetched_at=sample_as_of()
    )
