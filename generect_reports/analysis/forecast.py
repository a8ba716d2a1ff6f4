"""Month-end projections with intervals and a measured accuracy, from the account's own history.

The projection is the weekday-aware run rate of
:func:`~generect_reports.analysis.usage.run_rate_projection` (credits so far plus, for every day
still to come, the mean of its weekday over the 28 days before). Its error is not assumed, it is
measured: every past month is replayed as the projection would have been made at the start of
each of its days, and compared with how the month really ended. The ratio actual ÷ projected at
the same day of the month, over the last months, gives empirical quantiles, hence an 80 % and a
95 % interval around today's projection (model free, in the spirit of conformal prediction).
With fewer than :data:`MIN_HISTORY_MONTHS` months behind it the interval is widened to a fixed
band and flagged. The accuracy published with it is measured out of sample: each month's
interval is built only from the months before it.

Pure functions (no I/O): a tidy daily usage frame in, dataclasses and frames out. The arrays are
computed once for every day of the history (cumulative sums by weekday), not day by day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .calendar import FiscalCalendar
from .usage import _month_to_date, detect_anomalies, validate_usage_frame

__all__ = [
    "Accuracy",
    "Forecast",
    "TopUps",
    "Runway",
    "month_forecast",
    "replay_projections",
    "detect_topups",
    "parse_topups",
    "runway_with_topups",
    "accuracy_text",
    "accuracy_brief",
    "nearest_error",
    "LOOKBACK_DAYS",
    "ACCURACY_MONTHS",
    "MIN_HISTORY_MONTHS",
    "ACCURACY_DAYS",
    "SHORT_SPREAD",
    "FORECAST_RULE",
    "PeriodAccuracy",
    "PeriodForecast",
    "period_forecast",
    "period_forecasts",
    "period_accuracy_text",
    "period_accuracy_brief",
    "PERIOD_ACCURACY_SHARES",
    "PERIOD_HISTORY",
    "PERIOD_NAMES",
    "PERIOD_RULE",
]

#: Days before "today" whose weekday means project the rest of the month (the status's window).
LOOKBACK_DAYS = 28
#: Past months the intervals and the published accuracy read.
ACCURACY_MONTHS = 12
#: Fewer months than this behind an interval: it is widened to :data:`SHORT_SPREAD` and flagged.
MIN_HISTORY_MONTHS = 6
#: Days of the month (complete days) at which the accuracy is published.
ACCURACY_DAYS = (7, 14, 21)
#: With short history, the interval's relative half-width at the start of the month; it shrinks
#: in proportion to the share of the month still to come.
SHORT_SPREAD = {0.80: 0.25, 0.95: 0.50}

FORECAST_RULE = (
    "Interval: every past month is replayed as the projection stood on each of its days; the "
    f"80% and 95% intervals are split-conformal quantiles of actual ÷ projected on the same "
    f"day of the month over the last {ACCURACY_MONTHS} months (widened to ±"
    f"{SHORT_SPREAD[0.80]:.0%}/±{SHORT_SPREAD[0.95]:.0%} of the month still to come, and "
    f"flagged, with fewer than {MIN_HISTORY_MONTHS} months). Accuracy: median absolute "
    "percentage error of the projection after 7, 14 and 21 complete days, and the share of "
    "those projections whose 80% interval, built from the (at least 6) months before, held "
    "the actual."
)


@dataclass(frozen=True)
class Accuracy:
    """How good the projection was over the measured months (fractions: 0.05 = 5 %).

    ``mape_day7`` etc. are the median absolute percentage error of the projection made after
    that many complete days (None when no month was measured); ``coverage_80`` the share of
    those projections (days 7, 14, 21 of every month) whose 80 % interval, built only from the
    months before, held the month's actual (only where at least :data:`MIN_HISTORY_MONTHS`
    months came before: None until then); ``months`` the months measured.
    """

    months: int
    mape_day7: float | None
    mape_day14: float | None
    mape_day21: float | None
    coverage_80: float | None
    measured: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "mape_day7": _round(self.mape_day7),
            "mape_day14": _round(self.mape_day14),
            "mape_day21": _round(self.mape_day21),
            "coverage_80": _round(self.coverage_80),
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


@dataclass(frozen=True)
class Forecast:
    """Today's month-end projection of all operations, its intervals and measured accuracy.

    ``projected`` is None for a month that is over. ``interval_80``/``interval_95`` are
    ``(low, high)`` credits; ``history_months`` the past months behind them; ``short_history``
    True when they are the widened band. ``accuracy_without_anomalies`` measures the same
    months with the excess of every flagged anomaly day taken out (None when no measured month
    had one), ``anomaly_months`` those months. ``replay`` holds every replayed projection:
    ``month``, ``elapsed_days``, ``days_in_month``, ``projected``, ``actual``, ``ratio``
    (actual ÷ projected), ``ape`` (absolute percentage error).
    """

    month: str
    elapsed_days: int
    days_in_month: int
    used: float
    projected: float | None
    interval_80: tuple[float, float] | None
    interval_95: tuple[float, float] | None
    history_months: int
    short_history: bool
    accuracy: Accuracy
    accuracy_without_anomalies: Accuracy | None = None
    anomaly_months: tuple[str, ...] = ()
    replay: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    rule: str = FORECAST_RULE

    def interval(self, level: float) -> tuple[float, float] | None:
        return {0.80: self.interval_80, 0.95: self.interval_95}[level]

    def remaining_factors(self, level: float = 0.80) -> tuple[float, float] | None:
        """The interval as factors on the part of the month still to come: the month-end lies
        in ``used + factor × (projected - used)``; None without a projection or when nothing is
        left to project."""
        bounds = self.interval(level)
        if bounds is None or self.projected is None:
            return None
        ahead = self.projected - self.used
        if not ahead > 0:
            return None
        return ((bounds[0] - self.used) / ahead, (bounds[1] - self.used) / ahead)


def _pct(value: float) -> str:
    return f"{value * 100:,.1f}%"


def accuracy_text(forecast: Forecast) -> str:
    """The projection's measured accuracy in one sentence (status screen, report notes)."""
    acc = forecast.accuracy
    if not acc.months:
        return "accuracy not measured yet: no complete month of history to replay"
    errors = ", ".join(
        f"{_pct(v)} at day {d}"
        for d, v in ((7, acc.mape_day7), (14, acc.mape_day14), (21, acc.mape_day21))
        if v is not None
    )
    text = f"median error {errors} over the last {acc.months} month(s)"
    if acc.coverage_80 is not None:
        text += f"; the 80% interval held the actual {acc.coverage_80 * 100:.0f}% of the time"
    if forecast.short_history:
        text += f"; only {forecast.history_months} month(s) of history, so the interval is wide"
    return text


def nearest_error(forecast: Forecast) -> tuple[int, float | None]:
    """The accuracy day (7, 14 or 21) nearest today's elapsed days, and the projection's
    median absolute percentage error there (None when not measured)."""
    acc = forecast.accuracy
    day = min(ACCURACY_DAYS, key=lambda d: (abs(d - forecast.elapsed_days), d))
    return day, {7: acc.mape_day7, 14: acc.mape_day14, 21: acc.mape_day21}[day]


def accuracy_brief(forecast: Forecast) -> str:
    """The measured error at the accuracy day nearest today's, in a few words (a figure's
    detail line): ``median error 0.8% at day 14 over 12 month(s)``."""
    day, value = nearest_error(forecast)
    n = forecast.history_months
    if value is None:
        text = "error not measured yet: no past month to replay" if not n else "error not measured"
    else:
        text = f"median error {_pct(value)} at day {day} over {forecast.accuracy.months} month(s)"
    if forecast.short_history:
        text += (
            ", so the interval is wide"
            if not n
            else f"; only {n} month(s) of history, so the interval is wide"
        )
    return text


# --- the replay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Days:
    """Every day from the first of the data to the end of the as-of month, with the projection
    that would have been made at its start."""

    days: pd.DatetimeIndex
    values: np.ndarray  # credits of the day (0 after the data)
    projected: np.ndarray  # projection made at the start of the day (days before it known)
    used: np.ndarray  # credits of the month before the day
    actual: np.ndarray  # the month's total (meaningful for months inside the data)
    month_ok: np.ndarray  # the month lies in the data with a full lookback before its first day


def _daily_totals(usage: pd.DataFrame, last: pd.Timestamp) -> tuple[pd.DatetimeIndex, np.ndarray]:
    if usage.empty:
        days = pd.date_range(last.replace(day=1), last, freq="D")
        return days, np.zeros(len(days))
    local = usage["period_start"].dt.tz_localize(None).dt.normalize()
    totals = usage["credits"].groupby(local.to_numpy()).sum()
    first = pd.Timestamp(totals.index.min())
    days = pd.date_range(min(first, last.replace(day=1)), last, freq="D")
    return days, totals.reindex(days, fill_value=0.0).to_numpy(dtype="float64")


def _replay_days(
    days: pd.DatetimeIndex,
    values: np.ndarray,
    lookback: int,
    spans: tuple[np.ndarray, np.ndarray] | None = None,
) -> _Days:
    """The weekday-aware projection at the start of every day, vectorised: weekday sums over the
    lookback window from cumulative sums, remaining weekdays of the period from the calendar.

    The period is the calendar month unless ``spans`` gives, for every day, the positions of
    its period's first and last day in ``days`` (the first may be negative: before the data)."""
    n = len(days)
    t = np.arange(n)
    dow = days.day_of_week.to_numpy()
    onehot = (dow[:, None] == np.arange(7)[None, :]).astype("float64")
    cs_x = np.vstack([np.zeros((1, 7)), np.cumsum(onehot * values[:, None], axis=0)])
    cs_c = np.vstack([np.zeros((1, 7)), np.cumsum(onehot, axis=0)])
    lo = np.maximum(t - lookback, 0)
    sums = cs_x[t] - cs_x[lo]
    counts = cs_c[t] - cs_c[lo]
    seen = counts > 0
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=seen)
    # A weekday missing from a short window takes the mean of the other weekdays' means, as
    # run_rate_projection fills it; an empty window projects nothing.
    n_seen = seen.sum(axis=1)
    fill = np.divide(means.sum(axis=1), n_seen, out=np.zeros(n), where=n_seen > 0)
    means = np.where(seen, means, fill[:, None])
    if spans is None:
        dom = days.day.to_numpy()
        start = t - (dom - 1)  # may be negative: the month began before the data
        last = t + (days.days_in_month.to_numpy() - dom)
    else:
        start, last = spans
    end = np.minimum(last, n - 1)
    cs_v = np.concatenate([[0.0], np.cumsum(values)])
    used = cs_v[t] - cs_v[np.maximum(start, 0)]
    remaining = cs_c[end + 1] - cs_c[t]
    projected = used + (means * remaining).sum(axis=1)
    actual = cs_v[end + 1] - cs_v[np.maximum(start, 0)]
    month_ok = (start >= lookback) & (last <= n - 1)
    return _Days(days, values, projected, used, actual, month_ok)


def _replay_frame(d: _Days, before: pd.Timestamp) -> pd.DataFrame:
    """The replayed projections of the months that ended before ``before`` (a local day)."""
    month_end = d.days + pd.to_timedelta(d.days.days_in_month - d.days.day, unit="D")
    keep = d.month_ok & np.asarray(month_end < before)
    actual = d.actual[keep]
    projected = d.projected[keep]
    used = d.used[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((projected > 0) & (actual > 0), actual / projected, np.nan)
        ape = np.where(actual > 0, np.abs(projected - actual) / actual, np.nan)
    days = d.days[keep]
    return pd.DataFrame(
        {
            "month": pd.Series(days.strftime("%Y-%m"), dtype=str),
            "elapsed_days": (days.day.to_numpy() - 1).astype("int64"),
            "days_in_month": days.days_in_month.to_numpy().astype("int64"),
            "used": used,
            "projected": projected,
            "actual": actual,
            "ratio": ratio,
            "ape": ape,
        }
    )


def replay_projections(
    usage: pd.DataFrame, *, as_of: Any = None, lookback_days: int = LOOKBACK_DAYS
) -> pd.DataFrame:
    """Every complete month of ``usage`` before ``as_of``, replayed: the weekday-aware projection
    as it would have been made at the start of each of its days, against how the month ended.

    Only months with ``lookback_days`` of data before their first day are replayed (the
    projection then reads a full window, as it does today).

    Returns
    -------
    pandas.DataFrame
        ``month``, ``elapsed_days`` (complete days known, 0 to days in month - 1),
        ``days_in_month``, ``projected``, ``actual``, ``ratio`` (actual ÷ projected; NaN when
        either is 0), ``ape`` (|projected - actual| ÷ actual).
    """
    validate_usage_frame(usage)
    info = _month_to_date(usage, None, as_of)
    today = pd.Timestamp(info["as_of"].date())
    days, values = _daily_totals(usage, pd.Timestamp(info["last"]))
    values = np.where(days < today, values, 0.0)
    return _replay_frame(_replay_days(days, values, lookback_days), today)


# --- intervals and accuracy --------------------------------------------------------------------


def _quantiles(r: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal bounds on the ratios ``r``: the order statistics at ranks
    ``floor((n + 1) α/2)`` and ``ceil((n + 1)(1 - α/2))``. Where ``n`` months cannot bound the
    level (the rank runs past them), the extreme is pushed out by its distance from the median."""
    n = len(r)
    s = np.sort(r)
    alpha = 1.0 - level
    k_hi = math.ceil((n + 1) * (1 - alpha / 2))
    k_lo = math.floor((n + 1) * alpha / 2)
    mid = float(np.median(s))
    hi = float(s[k_hi - 1]) if k_hi <= n else float(s[-1]) + (float(s[-1]) - mid)
    lo = float(s[k_lo - 1]) if k_lo >= 1 else float(s[0]) - (mid - float(s[0]))
    return lo, hi


def _interval(
    projected: float,
    used: float,
    elapsed: int,
    days_in_month: int,
    ratios: np.ndarray,
    level: float,
) -> tuple[tuple[float, float], bool]:
    """``(low, high)`` around ``projected`` from the historical ratios at this day, and whether
    the history was too short (then widened to the :data:`SHORT_SPREAD` band)."""
    r = ratios[np.isfinite(ratios)]
    short = len(r) < MIN_HISTORY_MONTHS
    q_lo, q_hi = _quantiles(r, level) if len(r) else (1.0, 1.0)
    if short:
        spread = SHORT_SPREAD[level] * (days_in_month - elapsed) / days_in_month
        q_lo, q_hi = min(q_lo, 1.0 - spread), max(q_hi, 1.0 + spread)
    low = max(projected * q_lo, used)  # the month cannot end below what is used
    high = max(projected * q_hi, low)
    return (float(low), float(high)), short


def _accuracy(replay: pd.DataFrame, months: Sequence[str], window: int) -> Accuracy:
    """The published accuracy of ``months`` (the last ones measured), each month's interval from
    the ``window`` months replayed before it."""
    if replay.empty or not months:
        return Accuracy(0, None, None, None, None)
    order = sorted(replay["month"].unique())
    at_day = replay[replay["elapsed_days"].isin(ACCURACY_DAYS)]
    mi = np.searchsorted(order, at_day["month"].to_numpy(dtype=object).astype(str))
    di = np.searchsorted(ACCURACY_DAYS, at_day["elapsed_days"].to_numpy())
    grid: dict[str, np.ndarray] = {}
    for name in ("ratio", "ape", "projected", "used", "actual", "days_in_month"):
        values = np.full((len(order), len(ACCURACY_DAYS)), np.nan)
        values[mi, di] = at_day[name].to_numpy(dtype="float64")
        grid[name] = values
    rows = [order.index(m) for m in months]
    mape = {
        day: (float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else None)
        for day, v in zip(ACCURACY_DAYS, grid["ape"][rows].T)
    }
    inside: list[bool] = []
    for i in rows:
        prior = grid["ratio"][max(0, i - window) : i]
        for j, day in enumerate(ACCURACY_DAYS):
            actual = grid["actual"][i, j]
            if not actual > 0:
                continue
            (low, high), short = _interval(
                grid["projected"][i, j],
                grid["used"][i, j],
                day,
                int(grid["days_in_month"][i, j]),
                prior[:, j],
                0.80,
            )
            if not short:  # the widened band of a short history would flatter the coverage
                inside.append(low - 1e-9 <= actual <= high + 1e-9)
    return Accuracy(
        months=len(months),
        mape_day7=mape[7],
        mape_day14=mape[14],
        mape_day21=mape[21],
        coverage_80=float(np.mean(inside)) if inside else None,
        measured=tuple(months),
    )


def _anomaly_excess(usage: pd.DataFrame, days: pd.DatetimeIndex) -> np.ndarray:
    """Credits above baseline on every flagged anomaly day (0 elsewhere), per day of ``days``."""
    flagged = detect_anomalies(usage)
    out = np.zeros(len(days))
    if flagged.empty:
        return out
    excess = (flagged["credits"] - flagged["baseline"]).clip(lower=0.0)
    by_day = excess.groupby(pd.to_datetime(flagged["day"]).to_numpy()).sum()
    return by_day.reindex(days, fill_value=0.0).to_numpy(dtype="float64")


def month_forecast(
    usage: pd.DataFrame,
    *,
    as_of: Any = None,
    lookback_days: int = LOOKBACK_DAYS,
    months: int = ACCURACY_MONTHS,
) -> Forecast:
    """Today's month-end projection of all operations with its 80 % and 95 % intervals and the
    projection's measured accuracy over the last ``months`` months.

    Parameters
    ----------
    usage
        Daily tidy usage: the month so far and as much history before it as there is (at least
        ``months`` months and ``lookback_days`` for the full accuracy).
    as_of
        Time up to which the data is complete; default ``usage.attrs["fetched_at"]``. The month
        is the one of ``as_of``.

    Returns
    -------
    Forecast
        The projection equals :func:`~generect_reports.analysis.budget.budget_status`'s
        ``projected_credits`` for the same data.
    """
    validate_usage_frame(usage)
    info = _month_to_date(usage, None, as_of)
    today = pd.Timestamp(info["as_of"].date())
    days, values = _daily_totals(usage, pd.Timestamp(info["last"]))
    values = np.where(days < today, values, 0.0)
    d = _replay_days(days, values, lookback_days)
    replay = _replay_frame(d, today)
    order = sorted(replay["month"].unique()) if len(replay) else []
    measured = order[-months:]
    accuracy = _accuracy(replay, measured, months)

    excess = _anomaly_excess(usage, days) if len(usage) else np.zeros(len(days))
    excess = np.where(days < today, excess, 0.0)
    hit = {
        str(m)
        for m in pd.DatetimeIndex(days[excess > 0]).strftime("%Y-%m")
        if str(m) in set(measured)
    }
    without = None
    if hit:
        clean = _replay_days(days, values - excess, lookback_days)
        clean_replay = _replay_frame(clean, today)
        without = _accuracy(clean_replay, measured, months)

    elapsed, n = int(info["elapsed"]), int(info["days_in_month"])
    complete = bool(info["complete"])
    t = int(np.searchsorted(days.to_numpy(), np.datetime64(pd.Timestamp(info["first"]))) + elapsed)
    used = float(d.used[t]) if not complete else float(d.actual[t - 1])
    projected: float | None = None
    i80 = i95 = None
    short = False
    same_day = replay["month"].isin(measured) & (replay["elapsed_days"] == elapsed)
    ratios = replay.loc[same_day, "ratio"].to_numpy(dtype="float64")
    history = int(np.isfinite(ratios).sum())
    if not complete:
        projected = float(d.projected[t])
        i80, short = _interval(projected, used, elapsed, n, ratios, 0.80)
        i95, _ = _interval(projected, used, elapsed, n, ratios, 0.95)
    return Forecast(
        month=str(info["month"]),
        elapsed_days=elapsed,
        days_in_month=n,
        used=used,
        projected=projected,
        interval_80=i80,
        interval_95=i95,
        history_months=history,
        short_history=short if not complete else history < MIN_HISTORY_MONTHS,
        accuracy=accuracy,
        accuracy_without_anomalies=without,
        anomaly_months=tuple(sorted(hit)),
        replay=replay,
    )


# --- the quarter, the fiscal year and the calendar year ----------------------------------------

#: Shares of a quarter or a year elapsed at which its projection's accuracy is published.
PERIOD_ACCURACY_SHARES = (0.25, 0.50, 0.75)
#: Past periods (at most) the quarter and year intervals read.
PERIOD_HISTORY = 12

PERIOD_RULE = (
    "The quarter and the year are projected as the month is (used so far plus, for every day "
    "still to come, the mean of its weekday over the 28 days before) and their intervals are "
    "built the same way: every past quarter (year) in the data is replayed, and the quantiles "
    "of actual ÷ projected at the same share of the period elapsed bound today's projection "
    f"(widened, and flagged, with fewer than {MIN_HISTORY_MONTHS} past periods). Accuracy: "
    "median absolute percentage error a quarter, half and three quarters into the period."
)


@dataclass(frozen=True)
class PeriodAccuracy:
    """How good a quarter or year projection was: ``mape`` is ``(share elapsed, median absolute
    percentage error)`` at each of :data:`PERIOD_ACCURACY_SHARES` (None when no period was
    measured); ``coverage_80`` the share of those projections whose 80 % interval, built only
    from the periods before (at least :data:`MIN_HISTORY_MONTHS`), held the actual (None until
    then); ``periods`` the past periods measured."""

    periods: int
    mape: tuple[tuple[float, float | None], ...]
    coverage_80: float | None
    measured: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "periods": self.periods,
            "mape_at": [{"share_elapsed": s, "mape": _round(v)} for s, v in self.mape],
            "coverage_80": _round(self.coverage_80),
        }


@dataclass(frozen=True)
class PeriodForecast:
    """The projection of a running quarter or year to its last day, with its 80 % and 95 %
    intervals from the account's own past periods and their measured accuracy.

    ``period`` is ``quarter``, ``fiscal_year`` or ``year`` (calendar), ``label`` its name
    (``2026-Q4``, ``FY2027``, ``2026``); ``used`` the credits of the period to date (for the
    fiscal year: the fiscal year to date); ``projected`` the credits at its last day.
    ``replay`` holds every replayed projection: ``period``, ``elapsed_days``,
    ``days_in_period``, ``used``, ``projected``, ``actual``, ``ratio``, ``ape``.
    """

    period: str
    label: str
    start: dt.date
    end: dt.date
    elapsed_days: int
    days_in_period: int
    used: float
    projected: float
    interval_80: tuple[float, float]
    interval_95: tuple[float, float]
    history_periods: int
    short_history: bool
    accuracy: PeriodAccuracy
    replay: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    rule: str = PERIOD_RULE

    def to_dict(self) -> dict[str, Any]:
        def pair(bounds: tuple[float, float]) -> list[float]:
            return [round(bounds[0], 2), round(bounds[1], 2)]

        return {
            "period": self.period,
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "elapsed_days": self.elapsed_days,
            "days_in_period": self.days_in_period,
            "used": round(self.used, 2),
            "projected": round(self.projected, 2),
            "interval_80": pair(self.interval_80),
            "interval_95": pair(self.interval_95),
            "history_periods": self.history_periods,
            "short_history": self.short_history,
            "accuracy": self.accuracy.to_dict(),
        }


#: What each period is called in words.
PERIOD_NAMES = {"quarter": "quarter", "fiscal_year": "fiscal year", "year": "year"}


def period_accuracy_text(forecast: PeriodForecast) -> str:
    """A quarter or year projection's measured accuracy in one phrase."""
    acc = forecast.accuracy
    if not acc.periods:
        return (
            f"accuracy not measured yet: no complete {PERIOD_NAMES[forecast.period]} "
            "of history to replay"
        )
    errors = ", ".join(f"{_pct(v)} {_share_words(s)} in" for s, v in acc.mape if v is not None)
    text = f"median error {errors} over {acc.periods} past {PERIOD_NAMES[forecast.period]}(s)"
    if acc.coverage_80 is not None:
        text += f"; the 80% interval held the actual {acc.coverage_80 * 100:.0f}% of the time"
    if forecast.short_history:
        text += (
            f"; only {forecast.history_periods} past {PERIOD_NAMES[forecast.period]}(s), so the "
            "interval is wide"
        )
    return text


def period_accuracy_brief(forecast: PeriodForecast) -> str:
    """The measured error halfway into past periods, in a few words (the status screen)."""
    name = PERIOD_NAMES[forecast.period]
    half = dict(forecast.accuracy.mape).get(0.5)
    text = (
        f"error not measured yet (no past {name})"
        if half is None
        else f"median error {_pct(half)} halfway in over {forecast.accuracy.periods} past {name}(s)"
    )
    return text + (", so the interval is wide" if forecast.short_history else "")


def _share_words(share: float) -> str:
    return {0.25: "a quarter", 0.5: "halfway", 0.75: "three quarters"}.get(share, f"{share:.0%}")


def _period_bounds(
    period: str, calendar: FiscalCalendar
) -> Callable[[int, int], tuple[dt.date, dt.date, str]]:
    """``(first, last, label)`` of the ``period`` holding calendar ``(year, month)``."""

    def bounds(year: int, month: int) -> tuple[dt.date, dt.date, str]:
        if period == "quarter":
            fy, q = calendar.quarter(year, month)
            return (*calendar.quarter_bounds(fy, q), calendar.quarter_label(fy, q))
        if period == "fiscal_year":
            fy = calendar.fiscal_year(year, month)
            return (*calendar.year_bounds(fy), calendar.year_label(fy))
        if period == "year":
            return dt.date(year, 1, 1), dt.date(year, 12, 31), str(year)
        raise ValueError(f"unknown period {period!r}")

    return bounds


def _spans(
    days: pd.DatetimeIndex, bounds: Callable[[int, int], tuple[dt.date, dt.date, str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every day: the positions of its period's first and last day in ``days``, and the
    period's label (one calendar look-up per month, not per day)."""
    day0 = days[0].date()
    key = days.year.to_numpy() * 12 + days.month.to_numpy() - 1
    uniq, inverse = np.unique(key, return_inverse=True)
    firsts, lasts, labels = [], [], []
    for k in uniq:
        first, last, label = bounds(int(k) // 12, int(k) % 12 + 1)
        firsts.append((first - day0).days)
        lasts.append((last - day0).days)
        labels.append(label)
    return (
        np.asarray(firsts, dtype="int64")[inverse],
        np.asarray(lasts, dtype="int64")[inverse],
        np.asarray(labels, dtype=object)[inverse],
    )


def _nearest(elapsed: np.ndarray | int, n_from: np.ndarray | int, n_to: np.ndarray) -> np.ndarray:
    """The elapsed day of a period of ``n_to`` days at the same share as ``elapsed`` of
    ``n_from`` (rounded half up, within the period)."""
    at = np.floor(np.asarray(elapsed) * np.asarray(n_to) / np.asarray(n_from) + 0.5)
    return np.minimum(at, np.asarray(n_to) - 1).astype("int64")


def _period_replay(
    d: _Days, first: np.ndarray, last: np.ndarray, label: np.ndarray, today: pd.Timestamp
) -> pd.DataFrame:
    t = np.arange(len(d.days))
    ended = d.days[0] + pd.to_timedelta(last, unit="D") < today
    keep = d.month_ok & np.asarray(ended)
    actual, projected = d.actual[keep], d.projected[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((projected > 0) & (actual > 0), actual / projected, np.nan)
        ape = np.where(actual > 0, np.abs(projected - actual) / actual, np.nan)
    return pd.DataFrame(
        {
            "period": pd.Series(label[keep], dtype=str),
            "elapsed_days": (t - first)[keep].astype("int64"),
            "days_in_period": (last - first + 1)[keep].astype("int64"),
            "used": d.used[keep],
            "projected": projected,
            "actual": actual,
            "ratio": ratio,
            "ape": ape,
        }
    )


def _period_grid(replay: pd.DataFrame, order: list[str]) -> dict[str, np.ndarray]:
    """The replay as ``periods × max length`` arrays (NaN past a period's end)."""
    width = int(replay["days_in_period"].max())
    pi = np.searchsorted(order, replay["period"].to_numpy(dtype=object).astype(str))
    di = replay["elapsed_days"].to_numpy()
    grid = {}
    for name in ("ratio", "ape", "projected", "used", "actual"):
        values = np.full((len(order), width), np.nan)
        values[pi, di] = replay[name].to_numpy(dtype="float64")
        grid[name] = values
    lengths = replay.groupby("period")["days_in_period"].first().reindex(order)
    grid["length"] = lengths.to_numpy(dtype="int64")
    return grid


def _ratios_at(
    grid: dict[str, np.ndarray], rows: Sequence[int], elapsed: int, n: int
) -> np.ndarray:
    if not len(rows):
        return np.array([])
    rows_a = np.asarray(rows, dtype="int64")
    cols = _nearest(elapsed, n, grid["length"][rows_a])
    return np.asarray(grid["ratio"][rows_a, cols], dtype="float64")


def _period_accuracy(replay: pd.DataFrame, measured: Sequence[str], window: int) -> PeriodAccuracy:
    if replay.empty or not measured:
        return PeriodAccuracy(0, tuple((s, None) for s in PERIOD_ACCURACY_SHARES), None)
    order = sorted(replay["period"].unique())
    grid = _period_grid(replay, order)
    rows = [order.index(p) for p in measured]
    mape: list[tuple[float, float | None]] = []
    inside: list[bool] = []
    for share in PERIOD_ACCURACY_SHARES:
        errors = []
        for i in rows:
            n = int(grid["length"][i])
            k = int(_nearest(round(share * n), n, np.asarray(n)))
            ape = grid["ape"][i, k]
            if np.isfinite(ape):
                errors.append(float(ape))
            actual = grid["actual"][i, k]
            if not actual > 0:
                continue
            prior = list(range(max(0, i - window), i))
            (low, high), short = _interval(
                grid["projected"][i, k],
                grid["used"][i, k],
                k,
                n,
                _ratios_at(grid, prior, k, n),
                0.80,
            )
            if not short:
                inside.append(low - 1e-9 <= actual <= high + 1e-9)
        mape.append((share, float(np.median(errors)) if errors else None))
    return PeriodAccuracy(
        periods=len(measured),
        mape=tuple(mape),
        coverage_80=float(np.mean(inside)) if inside else None,
        measured=tuple(measured),
    )


def period_forecast(
    usage: pd.DataFrame,
    period: str,
    *,
    calendar: FiscalCalendar | None = None,
    as_of: Any = None,
    lookback_days: int = LOOKBACK_DAYS,
    periods: int = PERIOD_HISTORY,
) -> PeriodForecast:
    """Today's projection of the running ``period`` (``quarter``, ``fiscal_year`` or ``year``)
    to its last day, with 80 % and 95 % intervals and the accuracy measured by replaying every
    past period of the same kind in ``usage`` (the last ``periods`` of them).

    Parameters
    ----------
    usage
        Daily tidy usage: the period so far and as much history before it as there is.
    calendar
        The fiscal calendar naming quarters and fiscal years (default: calendar years).
    as_of
        Time up to which the data is complete; default ``usage.attrs["fetched_at"]``.
    """
    if period not in PERIOD_NAMES:
        raise ValueError(f"unknown period {period!r}: use quarter, fiscal_year or year")
    validate_usage_frame(usage)
    calendar = calendar or FiscalCalendar()
    info = _month_to_date(usage, None, as_of)
    today = pd.Timestamp(info["as_of"].date())
    bounds = _period_bounds(period, calendar)
    first_day, last_day, label = bounds(today.year, today.month)
    days, values = _daily_totals(usage, pd.Timestamp(last_day))
    if days[0] > pd.Timestamp(first_day):  # the period began before the data: zeros before it
        ahead = (days[0] - pd.Timestamp(first_day)).days
        days = pd.date_range(pd.Timestamp(first_day), days[-1], freq="D")
        values = np.concatenate([np.zeros(ahead), values])
    values = np.where(days < today, values, 0.0)
    first, last, labels = _spans(days, bounds)
    d = _replay_days(days, values, lookback_days, (first, last))
    replay = _period_replay(d, first, last, labels, today)
    order = sorted(replay["period"].unique()) if len(replay) else []
    measured = order[-periods:]
    accuracy = _period_accuracy(replay, measured, periods)

    # The period holds today, so it is still running: project it.
    n = (last_day - first_day).days + 1
    t = int((today - days[0]).days)
    elapsed = int((today - pd.Timestamp(first_day)).days)
    used = float(d.used[t])
    projected = float(d.projected[t])
    ratios = (
        _ratios_at(_period_grid(replay, order), [order.index(p) for p in measured], elapsed, n)
        if measured
        else np.array([])
    )
    history = int(np.isfinite(ratios).sum())
    i80, short = _interval(projected, used, elapsed, n, ratios, 0.80)
    i95, _ = _interval(projected, used, elapsed, n, ratios, 0.95)
    return PeriodForecast(
        period=period,
        label=label,
        start=first_day,
        end=last_day,
        elapsed_days=elapsed,
        days_in_period=n,
        used=used,
        projected=projected,
        interval_80=i80,
        interval_95=i95,
        history_periods=history,
        short_history=short,
        accuracy=accuracy,
        replay=replay,
    )


def period_forecasts(
    usage: pd.DataFrame,
    *,
    calendar: FiscalCalendar | None = None,
    as_of: Any = None,
    lookback_days: int = LOOKBACK_DAYS,
) -> tuple[PeriodForecast, ...]:
    """The quarter, the fiscal year and, when the fiscal year is not the calendar year, the
    calendar year, each projected to its end with its intervals and accuracy."""
    calendar = calendar or FiscalCalendar()
    kinds = ["quarter", "fiscal_year"] + ([] if calendar.is_calendar else ["year"])
    return tuple(
        period_forecast(usage, kind, calendar=calendar, as_of=as_of, lookback_days=lookback_days)
        for kind in kinds
    )


# --- recurring top-ups and the runway ----------------------------------------------------------


@dataclass(frozen=True)
class TopUps:
    """Recurring top-ups: ``credits`` every ``every`` (``month``: on day ``day`` of each month;
    ``week``: every 7 days from ``day``'s weekday, 0 = Monday), and where the pattern comes from."""

    every: str
    credits: float
    day: int = 1
    source: str = "[budget] topups"

    def to_dict(self) -> dict[str, Any]:
        return {"every": self.every, "credits": self.credits, "day": self.day, "from": self.source}


def parse_topups(value: Any, *, where: str = "[budget] topups") -> TopUps | str | None:
    """``{every = "month", credits = 35000}`` (optional ``day``), or ``"ledger"`` (detect the
    pattern from the ledger), or ``"none"``; anything else is a :class:`ConfigError`."""
    if value is None:
        return None
    if isinstance(value, str):
        if value in ("ledger", "none"):
            return value
        raise ConfigError(f'{where} must be a table such as {{every = "month", credits = 35000}}')
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table such as {{every = "month", credits = 35000}}')
    unknown = sorted(set(map(str, value)) - {"every", "credits", "day"})
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} (settings: every, credits, day)"
        )
    every = value.get("every", "month")
    if every not in ("month", "week"):
        raise ConfigError(f'{where} every must be "month" or "week", not {every!r}')
    credits = value.get("credits")
    if (
        isinstance(credits, bool)
        or not isinstance(credits, (int, float))
        or not math.isfinite(credits)
        or credits <= 0
    ):
        raise ConfigError(f"{where} credits must be a number more than zero, not {credits!r}")
    day = value.get("day", 1 if every == "month" else 0)
    top = 28 if every == "month" else 6
    low = 1 if every == "month" else 0
    if isinstance(day, bool) or not isinstance(day, int) or not low <= day <= top:
        raise ConfigError(f"{where} day must be a whole number from {low} to {top}, not {day!r}")
    return TopUps(str(every), float(credits), int(day))


def detect_topups(ledger: pd.DataFrame, *, as_of: Any, months: int = 3) -> TopUps | None:
    """A monthly top-up pattern in the ledger: settled ``top_up`` rows in each of the ``months``
    calendar months before ``as_of``'s month. The amount is their median, the day of the month
    the most common one (the earliest on a tie). None when there is no such pattern.
    """
    if ledger is None or ledger.empty:
        return None
    at = pd.Timestamp(as_of)
    tz = ledger["created_at"].dt.tz
    at = at.tz_localize(tz) if at.tzinfo is None else at.tz_convert(tz)
    rows = ledger[(ledger["type"] == "top_up") & (ledger["status"] == "success")]
    rows = rows[rows["created_at"] < at]
    if rows.empty:
        return None
    local = rows["created_at"].dt.tz_localize(None)
    label = local.dt.strftime("%Y-%m")
    current = pd.Period(at.tz_localize(None), freq="M")
    wanted = [str(current - k) for k in range(1, months + 1)]
    per_month = rows["credits"].groupby(label.to_numpy()).sum()
    if not all(m in per_month.index for m in wanted):
        return None
    amount = float(np.median(per_month.loc[wanted].to_numpy(dtype="float64")))
    days = local[label.isin(wanted).to_numpy()].dt.day
    counts = days.value_counts()
    day = int(min(counts.index[counts == counts.max()]))
    return TopUps("month", round(amount, 2), min(day, 28), source="ledger")


@dataclass(frozen=True)
class Runway:
    """How long the balance lasts: ``days`` (inf = never at this burn), ``run_out_date`` (the
    last local day it lasts; None when never)."""

    days: float
    run_out_date: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        unlimited = math.isinf(self.days)
        return {
            "days": None if unlimited or math.isnan(self.days) else round(self.days, 2),
            "unlimited": bool(unlimited),
            "run_out_date": None
            if self.run_out_date is None
            else self.run_out_date.date().isoformat(),
        }


def run_out_timestamp(today: pd.Timestamp, days: float) -> pd.Timestamp | None:
    """The last day a balance lasting ``days`` days covers, ``today`` being day 1; None when it
    never runs out or runs out past what a Timestamp holds (2262: "beyond 9999" where shown)."""
    from generect_reports.periods import run_out_day

    day = run_out_day(today.date(), days)
    if day is None or day > pd.Timestamp.max.date():
        return None
    return pd.Timestamp(day).tz_localize(today.tz) if today.tz is not None else pd.Timestamp(day)


def _plain_runway(balance: float, burn: float, today: pd.Timestamp) -> Runway:
    if balance <= 0:
        return Runway(0.0, today)
    if not burn > 0:
        return Runway(math.inf, None)
    days = balance / burn
    return Runway(days, run_out_timestamp(today, days))


def runway_with_topups(
    balance: float,
    daily_burn: float,
    today: Any,
    topups: TopUps | None,
    *,
    horizon_days: int = 3660,
) -> Runway:
    """The balance at ``daily_burn`` a day from ``today`` (day 1), with ``topups`` credited on
    their days. Never runs out (inf) when the top-ups cover the burn over the horizon."""
    day0 = pd.Timestamp(today).normalize()
    if day0.tzinfo is not None:
        day0 = day0.tz_localize(None)
    if topups is None:
        return _plain_runway(balance, daily_burn, day0)
    if balance <= 0:
        return Runway(0.0, day0)
    if not daily_burn > 0:
        return Runway(math.inf, None)
    days = pd.date_range(day0, periods=horizon_days, freq="D")
    if topups.every == "month":
        credited = days.day.to_numpy() == topups.day
    else:
        credited = days.day_of_week.to_numpy() == topups.day
    credited[0] = False  # today's top-up, if any, is already in the balance
    # Balance at the end of each day: top-ups arrive at the start of their day.
    after = (
        balance + np.cumsum(credited * topups.credits) - daily_burn * np.arange(1, len(days) + 1)
    )
    out = np.flatnonzero(after <= 1e-9)
    if not len(out):
        return Runway(math.inf, None)
    k = int(out[0])
    # Day k (0-based) is the last the balance lasts, partly: days = k + what was left that day.
    before = after[k] + daily_burn
    return Runway(float(k + before / daily_burn), days[k])
