"""Calendar buckets (day, ISO week, month) in a timezone: bounds, labels, closed-or-open.

Pure date arithmetic on ``datetime``: no I/O and no pandas, so the CLI can validate input
before any heavy import.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError, InvalidDateRange, InvalidTimezone

__all__ = [
    "month_window",
    "run_out_day",
    "PERIODS",
    "Period",
    "Bucket",
    "buckets",
    "parse_date",
    "parse_month",
    "Month",
    "get_timezone",
    "month_bounds",
    "shift_month",
    "local_today",
    "is_closed",
    "CLOSED_AFTER_DAYS",
]

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")

#: A bucket is final (cacheable) once it ended this many days ago: late-settling charges
#: land within a day or so, and two days keeps us clear of any timezone skew.
CLOSED_AFTER_DAYS = 2

#: The bundled sample account's timezone.
SAMPLE_TIMEZONE = "Europe/Kyiv"

#: The API has no data before this; earlier dates are almost certainly typos.
EARLIEST_DATE = dt.date(2000, 1, 1)


@dataclass(frozen=True, order=True)
class Bucket:
    """One request's worth of dates: ``start`` and ``end`` are inclusive local dates."""

    start: dt.date
    end: dt.date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def get_timezone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise :class:`InvalidTimezone`."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidTimezone(f"unknown timezone {name!r}: use an IANA name such as Europe/Kyiv")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Kyiv"
        ) from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: str | dt.date, *, what: str = "date") -> dt.date:
    """Parse ``YYYY-MM-DD`` (or pass a date through), with a one-line error naming ``what``.

    Only that form, in ASCII digits: no spaces, no other scripts' digits, and none of the other
    ISO 8601 forms ``date.fromisoformat`` takes (``2026-W01-1`` is a Monday of 2025).
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        text = str(value)
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidDateRange(
            f"invalid {what} {value!r}: expected a real date as YYYY-MM-DD"
        ) from None


#: Years a month may name: the API has no data before 2000, and 9999-12 has no next month.
_YEARS = (2000, 9998)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, parsed once where it enters (an option, a parameter) and passed down.

    ``str(month)`` is ``YYYY-MM``, the form every frame, label and file name uses.
    """

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and _YEARS[0] <= self.year <= _YEARS[1]):
            raise InputError(
                f"invalid month {self.year:04d}-{self.month:02d}: expected a real month "
                f"from {_YEARS[0]} to {_YEARS[1]}"
            )

    @classmethod
    def parse(cls, value: str | Month) -> Month:
        """``YYYY-MM`` in ASCII digits, nothing around it (a stray space or a digit from another
        script is a typo to report, not to guess at); a :class:`Month` passes through."""
        if isinstance(value, Month):
            return value
        text = str(value)
        if not (len(text) == 7 and text[4] == "-" and _ascii_digits(text[:4] + text[5:])):
            raise InputError(f"invalid month {value!r}: expected YYYY-MM, e.g. 2026-05")
        try:
            return cls(int(text[:4]), int(text[5:]))
        except InputError:
            raise InputError(f"invalid month {value!r}: expected YYYY-MM, e.g. 2026-05") from None

    @classmethod
    def of(cls, day: dt.date) -> Month:
        """The month ``day`` falls in."""
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, by: int) -> Month:
        """The month ``by`` months later (earlier when negative)."""
        return Month(*shift_month(self.year, self.month, by))


def _ascii_digits(text: str) -> bool:
    # str.isdigit() and int() also take other scripts' digits ('２０２６'): not a month we wrote.
    return all("0" <= c <= "9" for c in text)


def parse_month(value: str | Month) -> tuple[int, int]:
    """Parse ``YYYY-MM`` into ``(year, month)`` (see :meth:`Month.parse` for what is accepted)."""
    month = Month.parse(value)
    return month.year, month.month


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last day of a calendar month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    """The month ``by`` months after ``(year, month)`` (negative to go back)."""
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def month_window(label: str, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """A ``YYYY-MM`` month in ``timezone`` as its two local midnights (start, next start)."""
    year, month = parse_month(label)
    tz = get_timezone(timezone)
    first, last = month_bounds(year, month)
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start, stop


def local_today(tz: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``tz``."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(tz).date()


def is_closed(bucket: Bucket, tz: ZoneInfo, now: dt.datetime | None = None) -> bool:
    """True once the bucket ended more than :data:`CLOSED_AFTER_DAYS` days ago in ``tz``."""
    now = now or dt.datetime.now(dt.UTC)
    end = dt.datetime.combine(bucket.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return now >= end + dt.timedelta(days=CLOSED_AFTER_DAYS)


def _label(day: dt.date, period: str) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def buckets(start: str | dt.date, end: str | dt.date, period: str = "day") -> list[Bucket]:
    """Split the inclusive local date range into buckets, clipped to the range.

    Days are calendar days; weeks are ISO weeks (Monday to Sunday, labelled by ISO year, so
    2026-12-31 is in ``2026-W53`` and 2027-01-01 too); months are calendar months.
    """
    if period not in PERIODS:
        raise InputError(f"unknown period {period!r}: use one of {', '.join(PERIODS)}")
    first = parse_date(start, what="start date")
    last = parse_date(end, what="end date")
    if first > last:
        raise InvalidDateRange(f"start date {first} is after end date {last}")
    if first < EARLIEST_DATE:
        raise InvalidDateRange(
            f"start date {first} is before {EARLIEST_DATE}: no usage exists that early"
        )
    out: list[Bucket] = []
    day = first
    while day <= last:
        if period == "day":
            bucket_end = day
        elif period == "week":
            bucket_end = day + dt.timedelta(days=6 - day.weekday())
        else:
            bucket_end = dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        bucket_end = min(bucket_end, last)
        out.append(Bucket(day, bucket_end, _label(day, period)))
        day = bucket_end + dt.timedelta(days=1)
    return out


def run_out_day(start: dt.date, days: float) -> dt.date | None:
    """The last day a balance lasting ``days`` days from ``start`` (day 1) covers; None when
    it is infinite or falls past the calendar's last day (9999-12-31), shown as "beyond 9999"."""
    import math

    if math.isnan(days) or math.isinf(days):
        return None
    steps = max(math.ceil(days) - 1, 0)
    # pandas' Timestamp ends in 2262: a plain date carries the day as far as the calendar does.
    if steps > (dt.date(9999, 12, 31) - start).days:
        return None
    return start + dt.timedelta(days=steps)
