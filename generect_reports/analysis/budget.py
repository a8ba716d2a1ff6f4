"""Plan limit and budgets against month-to-date usage: share used, projection, crossing day, runway.

Pure functions on the tidy daily usage frame (no I/O). One row per line: the plan limit, the
monthly credit budget, each operation's budget and the money budget (against the estimated
cost). A month that is still running is projected with the weekday-aware run rate of
:func:`~generect_reports.analysis.usage.run_rate_projection`; a past month is compared as it
ended, without a projection. A line counts as crossed when the figure reaches it (``>=``),
compared in integer hundredths so a projection exactly on the limit is not lost to float noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from ..money import PriceBook, as_price_book, to_hundredths
from .forecast import TopUps, parse_topups, run_out_timestamp
from .usage import _month_to_date, daily_matrix, run_rate_projection

__all__ = [
    "Budgets",
    "parse_budget_table",
    "limit_for_month",
    "budget_status",
    "burn_up",
    "report_budget",
    "check_thresholds",
    "Crossing",
    "STATUS_COLUMNS",
    "BUDGET_RULE",
]

STATUS_COLUMNS = [
    "line",
    "kind",
    "operation",
    "unit",
    "threshold",
    "threshold_note",
    "used",
    "share_used",
    "projected",
    "projected_share",
    "crossing_day",
    "crossed",
    "projected_over",
    "runway_days",
    "run_out_date",
    "interval_80_low",
    "interval_80_high",
    "interval_95_low",
    "interval_95_high",
    "crossing_earliest",
    "crossing_latest",
]

BUDGET_RULE = (
    "Used = complete days of the month so far. Projection (estimate) = used + each remaining "
    "day's mean for its weekday over the previous 28 days. A line is crossed when the figure "
    "reaches it. Runway = balance ÷ projected daily burn."
)

_BUDGET_KEYS = {
    "monthly_credits": "monthly credit budget (a positive number)",
    "operations": "per-operation credit budgets, {operation = credits}",
    "monthly_money": "monthly money budget against the estimated cost (a positive number)",
    "limit_from": 'plan limit history, {"YYYY-MM" = credits} (0 = no limit)',
    "topups": 'recurring top-ups, {every = "month", credits = 35000}, or "ledger" to detect them',
}
_MONTH_KEY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Budgets:
    """The ``[budget]`` table: credit budget, per-operation budgets, money budget, limit history."""

    monthly_credits: float | None = None
    operations: Mapping[str, float] = field(default_factory=dict)
    monthly_money: float | None = None
    limit_from: Mapping[str, float] = field(default_factory=dict)
    topups: TopUps | str | None = None


def _positive(value: Any, where: str, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a number, not {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(
            f"{where} must be {'zero or more' if zero_ok else 'more than zero'}, not {value!r}"
        )
    return float(value)


def parse_budget_table(
    table: Mapping[str, Any] | Budgets | None, *, where: str = "[budget]"
) -> Budgets:
    """Validate a ``[budget]`` table (keys ``monthly_credits``, ``operations``, ``monthly_money``,
    ``limit_from``, ``topups``) into :class:`Budgets`; anything else is a
    :class:`ConfigError` (exit 2)."""
    if table is None:
        return Budgets()
    if isinstance(table, Budgets):
        return table
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(map(str, table)) - set(_BUDGET_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} (settings: "
            + "; ".join(f"{k}: {v}" for k, v in _BUDGET_KEYS.items())
            + ")"
        )
    credits = table.get("monthly_credits")
    money = table.get("monthly_money")
    ops = table.get("operations", {})
    limits = table.get("limit_from", {})
    if not isinstance(ops, Mapping):
        raise ConfigError(f"{where} operations must be a table of operation = credits")
    if not isinstance(limits, Mapping):
        raise ConfigError(f'{where} limit_from must be a table such as {{"2026-01" = 30000}}')
    for month in limits:
        if not _MONTH_KEY.match(str(month)):
            raise ConfigError(f"{where} limit_from: {str(month)!r} is not a month (YYYY-MM)")
    return Budgets(
        monthly_credits=None if credits is None else _positive(credits, f"{where} monthly_credits"),
        operations={
            str(op): _positive(v, f"{where} operations.{op}") for op, v in sorted(ops.items())
        },
        monthly_money=None if money is None else _positive(money, f"{where} monthly_money"),
        limit_from={
            str(m): _positive(v, f"{where} limit_from.{m}", zero_ok=True)
            for m, v in sorted(limits.items())
        },
        topups=parse_topups(table.get("topups"), where=f"{where} topups"),
    )


def limit_for_month(
    month: str,
    current_limit: float | None,
    limit_from: Mapping[str, float] | None,
    *,
    current_month: str | None = None,
) -> tuple[float | None, str]:
    """The plan limit that applied in ``month`` and how we know it.

    ``/me/`` gives only today's limit. For ``current_month`` (or with no history) that is the
    answer ("current plan limit"); for an earlier month the latest ``limit_from`` entry on or
    before it wins. A limit of 0 means no limit.
    """
    history = {str(k): float(v) for k, v in (limit_from or {}).items()}
    if month != current_month:
        earlier = [m for m in history if m <= month]
        if earlier:
            start = max(earlier)
            value = history[start]
            return (value or None), f"plan limit from {start} ([budget] limit_from)"
    return (current_limit or None), "current plan limit"


def _window_profile(mat: pd.DataFrame, today: pd.Timestamp, lookback_days: int) -> pd.DataFrame:
    """Mean credits per weekday (0..6) × operation over the ``lookback_days`` days before today,
    as :func:`run_rate_projection` computes it."""
    window = mat.loc[(mat.index < today) & (mat.index >= today - pd.Timedelta(days=lookback_days))]
    by_dow = window.fillna(0.0).groupby(window.index.day_of_week).mean().reindex(range(7))
    # A weekday missing from a short window takes the operation's mean over the other weekdays
    # (in numpy: DataFrame.fillna with a Series fills column by column).
    values = by_dow.to_numpy(dtype="float64")
    seen = ~np.isnan(values)
    counts = seen.sum(axis=0)
    means = np.divide(
        np.where(seen, values, 0.0).sum(axis=0),
        counts,
        out=np.zeros(values.shape[1]),
        where=counts > 0,
    )
    return pd.DataFrame(
        np.where(seen, values, means[None, :]), index=by_dow.index, columns=by_dow.columns
    )


def _daily_path(
    usage: pd.DataFrame, month: str | None, as_of: Any, lookback_days: int
) -> tuple[dict[str, Any], pd.DatetimeIndex, pd.DataFrame, float]:
    """Each day of the month × operation: actual credits on complete days, the weekday mean on
    the days still to come; and the projected daily burn of the whole account."""
    info = _month_to_date(usage, month, as_of)
    first = pd.Timestamp(info["first"])
    days = pd.date_range(first, pd.Timestamp(info["last"]), freq="D")
    mat = daily_matrix(usage) if len(usage) else pd.DataFrame(dtype="float64")
    ops = pd.Index(
        sorted(map(str, usage["operation"].unique())) if len(usage) else [], dtype=object
    )
    today = first + pd.Timedelta(days=info["elapsed"])
    actual = (
        mat.reindex(index=days, columns=ops).fillna(0.0)
        if len(mat)
        else pd.DataFrame(0.0, index=days, columns=ops)
    )
    as_of_day = pd.Timestamp(info["as_of"].date())
    if len(mat):
        profile = _window_profile(mat.reindex(columns=ops), as_of_day, lookback_days)
        burn = float(profile.sum(axis=1).mean())
        month_profile = (
            profile
            if info["complete"]
            else _window_profile(mat.reindex(columns=ops), today, lookback_days)
        )
        ahead = month_profile.loc[days.day_of_week].set_axis(days)
    else:
        burn = 0.0
        ahead = pd.DataFrame(0.0, index=days, columns=ops)
    past = np.broadcast_to((days < today)[:, None], actual.shape)
    path = actual.where(past, ahead) if len(ops) else actual
    return info, days, path, burn


def burn_up(
    usage: pd.DataFrame,
    month: str | None = None,
    *,
    as_of: Any = None,
    lookback_days: int = 28,
    spread: tuple[float, float] | None = None,
    _daily: tuple[dict[str, Any], pd.DatetimeIndex, pd.DataFrame, float] | None = None,
) -> pd.DataFrame:
    """Cumulative daily credits of ``month``: actual so far and the projection to month end.

    With ``spread`` (the projection's 80 % interval as factors on the part of the month still
    to come, :meth:`~generect_reports.analysis.forecast.Forecast.remaining_factors`), ``low``
    and ``high`` bound the projection day by day: the band around it.

    Returns
    -------
    pandas.DataFrame
        ``day`` (naive date), ``credits`` (the day's credits; NaN from today on),
        ``cumulative`` (actual, NaN from today on), ``projected`` (cumulative projection from the
        last complete day to month end; NaN before it, all NaN for a past month), ``low`` and
        ``high`` (the band; NaN where there is no projection or no ``spread``). ``attrs``:
        ``month``, ``as_of``, ``elapsed_days``, ``days_in_month``, ``complete``.
    """
    info, days, path, _ = (
        _daily if _daily is not None else _daily_path(usage, month, as_of, lookback_days)
    )
    total = path.sum(axis=1).to_numpy(dtype="float64") if path.shape[1] else np.zeros(len(days))
    elapsed = info["elapsed"]
    done = np.arange(len(days)) < elapsed
    cum = np.cumsum(total)
    projected = np.where(np.arange(len(days)) >= max(elapsed - 1, 0), cum, np.nan)
    if info["complete"]:
        projected[:] = np.nan
    low = high = np.full(len(days), np.nan)
    if spread is not None:
        base = cum[elapsed - 1] if elapsed else 0.0
        low = base + spread[0] * (projected - base)
        high = base + spread[1] * (projected - base)
    out = pd.DataFrame(
        {
            "day": days,
            "credits": np.where(done, total, np.nan),
            "cumulative": np.where(done, cum, np.nan),
            "projected": projected,
            "low": low,
            "high": high,
        }
    )
    out.attrs.update({k: info[k] for k in ("month", "as_of", "complete")})
    out.attrs.update({"elapsed_days": elapsed, "days_in_month": info["days_in_month"]})
    return out


def budget_status(
    usage: pd.DataFrame,
    month: str | None = None,
    *,
    limit: float | None = None,
    budgets: Budgets | Mapping[str, Any] | None = None,
    balance: float | None = None,
    as_of: Any = None,
    prices: PriceBook | Mapping[str, float] | None = None,
    limit_note: str = "current plan limit",
    lookback_days: int = 28,
    spread: Mapping[float, tuple[float, float] | None] | None = None,
    _daily: tuple[dict[str, Any], pd.DatetimeIndex, pd.DataFrame, float] | None = None,
) -> pd.DataFrame:
    """Month to date against the plan limit and every budget, with projection and runway.

    Parameters
    ----------
    usage
        Daily tidy usage covering the month so far and the ``lookback_days`` before ``as_of``.
    month
        'YYYY-MM'; default the month of ``as_of``.
    limit
        The plan's monthly credit limit; None or 0 = no limit (no row).
    budgets
        :class:`Budgets` or a ``[budget]`` table.
    balance
        The prepaid credit balance now (may be negative); None = no runway.
    as_of
        Time up to which the data is complete; default ``usage.attrs["fetched_at"]``.
    prices
        The money budget's :class:`~generect_reports.money.PriceBook` (the report's, so the
        line is its estimated cost), or list prices by operation (multiplier 1); default the
        bundled price book.
    limit_note
        How the limit is known (see :func:`limit_for_month`).
    spread
        The projection's intervals as factors on the part of the month still to come, by level
        (``{0.80: (low, high), 0.95: ...}``, from
        :meth:`~generect_reports.analysis.forecast.Forecast.remaining_factors`): each line's
        interval is ``used + factor × (projected - used)``, its crossing range the days the
        high and the low path reach it, and the runway's range the balance at the daily burn
        times the 80 % factors. None: no intervals (NaN, NaT).

    Returns
    -------
    pandas.DataFrame
        One row per line (``STATUS_COLUMNS``): ``line``, ``kind`` (``limit``, ``budget``,
        ``operation``, ``money``), ``operation``, ``unit`` (``credits``/``USD``), ``threshold``,
        ``threshold_note``, ``used``, ``share_used``, ``projected`` (NaN for a past month),
        ``projected_share``, ``crossing_day`` (the day actual-then-projected usage reaches the
        line, NaT if it does not), ``crossed`` (already reached), ``projected_over``,
        ``runway_days`` (the account's: inf at zero burn, 0 at a balance of zero or less),
        ``run_out_date``, ``interval_80_low``/``_high`` and ``interval_95_low``/``_high`` (the
        projected month end's intervals), ``crossing_earliest`` and ``crossing_latest`` (the
        days the 80 % interval's high and low paths reach the line; NaT when they do not).
        ``attrs``: ``month``, ``as_of``, ``elapsed_days``, ``days_in_month``,
        ``complete``, ``daily_burn``, ``used_credits``,
        ``projected_credits`` (all operations), ``balance``, ``runway_days``, ``run_out_date``,
        ``runway_range`` and ``run_out_range`` (at the 80 % interval's burn; None without
        ``spread``), ``rule``.
    """
    settings = parse_budget_table(budgets)
    info, days, path, burn = (
        _daily if _daily is not None else _daily_path(usage, month, as_of, lookback_days)
    )
    complete = bool(info["complete"])
    ops = list(path.columns)
    if info["elapsed"] and not complete and ops:
        # The month-end figures are run_rate_projection's (the path adds up to them).
        proj = run_rate_projection(
            usage, info["month"], as_of=info["as_of"], lookback_days=lookback_days
        )
        projected_ops = proj.set_index("operation")["projected_weekday"].reindex(
            ops, fill_value=0.0
        )
    else:
        projected_ops = path.sum(axis=0)
    done = np.arange(len(days)) < info["elapsed"]
    used_ops = path.loc[done].sum(axis=0) if ops else pd.Series(dtype="float64")

    # Lines as weight vectors over operations: the path of a line is path @ weights.
    names: list[str] = []
    kinds: list[str] = []
    line_ops: list[str] = []
    units: list[str] = []
    thresholds: list[float] = []
    notes: list[str] = []
    weights: list[np.ndarray] = []

    def add(
        name: str, kind: str, op: str, unit: str, value: float, note: str, w: np.ndarray
    ) -> None:
        names.append(name)
        kinds.append(kind)
        line_ops.append(op)
        units.append(unit)
        thresholds.append(value)
        notes.append(note)
        weights.append(w)

    ones = np.ones(len(ops))
    if limit:
        add("plan limit", "limit", "", "credits", float(limit), limit_note, ones)
    if settings.monthly_credits:
        add(
            "total budget",
            "budget",
            "",
            "credits",
            settings.monthly_credits,
            "[budget] monthly_credits",
            ones,
        )
    for op, value in settings.operations.items():
        add(
            f"budget: {op}",
            "operation",
            op,
            "credits",
            value,
            f"[budget] operations.{op}",
            np.asarray([1.0 if o == op else 0.0 for o in ops]),
        )
    if settings.monthly_money:
        # Weights of zero: the money line's path is priced below, one cost line per operation.
        add(
            "money budget",
            "money",
            "",
            "USD",
            settings.monthly_money,
            "[budget] monthly_money (estimated cost)",
            np.zeros(len(ops)),
        )

    w = np.vstack(weights).T if weights else np.zeros((len(ops), 0))  # ops × lines
    daily_lines = (
        path.to_numpy(dtype="float64") @ w if len(ops) else np.zeros((len(days), len(names)))
    )
    cum = np.cumsum(daily_lines, axis=0)
    used = used_ops.to_numpy(dtype="float64") @ w if len(ops) else np.zeros(len(names))
    projected = projected_ops.to_numpy(dtype="float64") @ w if len(ops) else np.zeros(len(names))
    money = np.asarray([u == "USD" for u in units], dtype=bool)
    if money.any():
        # The report's estimated cost, to the cent: each operation's credits priced by the book
        # and rounded once, then added (never the sum priced and rounded), on every day of the
        # path too, so the crossing day, the used and the projected figures agree.
        book = as_price_book(prices)
        op_names = np.asarray(ops, dtype=object)
        cum_ops = np.cumsum(path.to_numpy(dtype="float64"), axis=0)
        day_cents = book.costs_cents(np.tile(op_names, len(days)), cum_ops.ravel())
        cum[:, money] = (day_cents.reshape(len(days), len(ops)).sum(axis=1) / 100)[:, None]
        used[money] = int(book.costs_cents(op_names, used_ops.to_numpy()).sum()) / 100
        projected[money] = int(book.costs_cents(op_names, projected_ops.to_numpy()).sum()) / 100
    thr = np.asarray(thresholds, dtype="float64")
    thr_h = to_hundredths(thr)
    reach = to_hundredths(cum) >= thr_h[None, :] if len(names) else np.zeros((len(days), 0), bool)
    if complete:
        projected = np.full(len(names), np.nan)
        reach &= done[:, None]  # a past month: only the actual crossing
    hit = reach.any(axis=0)
    stamps = days.to_numpy()
    # NaT in the days' own unit: a unitless NaT is deprecated in NumPy 2.5.
    crossing = pd.DatetimeIndex(
        np.where(hit, stamps[reach.argmax(axis=0)], np.array("NaT", dtype=stamps.dtype))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = used / thr
        pshare = projected / thr

    # Intervals: the part of each line still to come, scaled by the history's factors.
    bounds = {
        level: np.full(len(names), np.nan) for level in ("80_low", "80_high", "95_low", "95_high")
    }
    nat = np.array("NaT", dtype=stamps.dtype)
    earliest = latest = np.full(len(names), nat)
    factors = {} if spread is None or complete else {k: v for k, v in spread.items() if v}
    elapsed = int(info["elapsed"])
    for level, name in ((0.80, "80"), (0.95, "95")):
        if level in factors:
            f_lo, f_hi = factors[level]
            bounds[f"{name}_low"] = used + f_lo * (projected - used)
            bounds[f"{name}_high"] = used + f_hi * (projected - used)
    if 0.80 in factors and len(names):
        f_lo, f_hi = factors[0.80]
        base = cum[elapsed - 1] if elapsed else np.zeros(len(names))
        ahead = np.arange(len(days)) >= elapsed
        band = {
            f: np.where(ahead[:, None], base[None, :] + f * (cum - base[None, :]), cum)
            for f in (f_lo, f_hi)
        }
        for f, target in ((f_hi, "earliest"), (f_lo, "latest")):
            at = to_hundredths(band[f]) >= thr_h[None, :]
            found = at.any(axis=0)
            picked = np.where(found, stamps[at.argmax(axis=0)], nat)
            if target == "earliest":
                earliest = picked
            else:
                latest = picked

    # Runway: the balance at the projected daily burn (weekday means over the lookback window).
    as_of_day = pd.Timestamp(info["as_of"].date())
    if balance is None:
        runway, run_out = np.nan, pd.NaT
    elif balance <= 0:
        runway, run_out = 0.0, as_of_day
    elif not burn > 0:
        runway, run_out = math.inf, pd.NaT
    else:
        runway = float(balance) / burn
        # The balance lasts through day ceil(runway) counting today as day 1; a day past what
        # a Timestamp holds (2262) is NaT, shown as "beyond 9999" or its date where the
        # calendar has one.
        run_out = _nat(run_out_timestamp(as_of_day, runway))

    out = pd.DataFrame(
        {
            "line": pd.Series(names, dtype=str),
            "kind": pd.Series(kinds, dtype=str),
            "operation": pd.Series(line_ops, dtype=str),
            "unit": pd.Series(units, dtype=str),
            "threshold": thr,
            "threshold_note": pd.Series(notes, dtype=str),
            "used": np.asarray(used, dtype="float64"),
            "share_used": np.asarray(share, dtype="float64"),
            "projected": np.asarray(projected, dtype="float64"),
            "projected_share": np.asarray(pshare, dtype="float64"),
            "crossing_day": crossing,
            "crossed": to_hundredths(used) >= thr_h if len(names) else np.zeros(0, bool),
            "projected_over": (to_hundredths(np.nan_to_num(projected, nan=-1.0)) >= thr_h)
            if len(names)
            else np.zeros(0, bool),
            "runway_days": np.full(len(names), runway, dtype="float64"),
            "run_out_date": pd.DatetimeIndex([run_out] * len(names)),
            "interval_80_low": bounds["80_low"],
            "interval_80_high": bounds["80_high"],
            "interval_95_low": bounds["95_low"],
            "interval_95_high": bounds["95_high"],
            "crossing_earliest": pd.DatetimeIndex(earliest),
            "crossing_latest": pd.DatetimeIndex(latest),
        },
        columns=STATUS_COLUMNS,
    )
    runway_range = run_out_range = None
    if 0.80 in factors and balance is not None and balance > 0 and burn > 0:
        f_lo, f_hi = factors[0.80]
        # More burn, less runway: the high factor gives the short end.
        short_runway = float(balance) / (burn * f_hi) if f_hi > 0 else math.inf
        long_runway = float(balance) / (burn * f_lo) if f_lo > 0 else math.inf
        runway_range = (short_runway, long_runway)
        run_out_range = tuple(
            None if math.isinf(r) else _nat(run_out_timestamp(as_of_day, r)) for r in runway_range
        )
    out.attrs.update(
        {
            "month": info["month"],
            "as_of": info["as_of"],
            "elapsed_days": info["elapsed"],
            "days_in_month": info["days_in_month"],
            "complete": complete,
            "daily_burn": burn,
            "used_credits": float(used_ops.sum()) if ops else 0.0,
            "projected_credits": float("nan")
            if complete
            else (float(projected_ops.sum()) if ops else 0.0),
            "balance": None if balance is None else float(balance),
            "runway_days": runway,
            "run_out_date": run_out,
            "runway_range": runway_range,
            "run_out_range": run_out_range,
            "rule": BUDGET_RULE,
        }
    )
    return out


def report_budget(
    usage: pd.DataFrame,
    month: str,
    *,
    current_limit: float | None,
    current_month: str | None,
    budgets: Budgets | Mapping[str, Any] | None = None,
    limit_from: Mapping[str, float] | None = None,
    balance: float | None = None,
    as_of: Any = None,
    prices: PriceBook | Mapping[str, float] | None = None,
    spread: Mapping[float, tuple[float, float] | None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The budget section of a monthly report: ``(budget_status(...), burn_up(...))`` for
    ``month``, with the plan limit that applied then (:func:`limit_for_month`: the ``[budget]``
    ``limit_from`` history, whose entries win over ``limit_from``, e.g. the sample's history).

    ``current_limit`` and ``current_month`` come from ``/me/`` (``AccountStatus.monthly_limit``
    and ``api_month``), or the sample account. ``spread``: the projection's intervals as
    factors by level (see :func:`budget_status`), for the lines' intervals and the band.
    """
    settings = parse_budget_table(budgets)
    history = {**dict(limit_from or {}), **dict(settings.limit_from)}
    limit, note = limit_for_month(month, current_limit, history, current_month=current_month)
    # One day-by-day path for both (the status and the burn-up read the same one).
    daily = _daily_path(usage, month, as_of, 28)
    status = budget_status(
        usage,
        month,
        limit=limit,
        budgets=settings,
        balance=balance,
        as_of=as_of,
        prices=prices,
        limit_note=note,
        spread=spread,
        _daily=daily,
    )
    band = None if spread is None or status.attrs["complete"] else spread.get(0.80)
    return status, burn_up(usage, month, as_of=as_of, spread=band, _daily=daily)


def _amount(value: float, unit: str) -> str:
    """A limit or budget as people write it: money with cents, whole credits without decimals."""
    if unit == "USD" or not float(value).is_integer():
        return f"{value:,.2f}"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Crossing:
    """A threshold a status run crossed: ``level`` is ``warn`` or ``fail``."""

    level: str
    line: str
    text: str


def _pct(value: float) -> str:
    return f"{value * 100:,.1f}%"


def check_thresholds(
    status: pd.DataFrame,
    *,
    warn_at: float | None = 80.0,
    fail_at: float | None = None,
    min_runway_days: float | None = None,
) -> list[Crossing]:
    """The thresholds ``status`` crosses, most severe first within each line.

    ``warn_at`` and ``fail_at`` (percent) apply to each line's projected share (the share used
    for a past month, or when there is no projection); ``min_runway_days`` to the balance
    runway. A line crossing ``fail_at`` is not also reported as a warning.
    """
    for name, value in (
        ("--warn-at", warn_at),
        ("--fail-at", fail_at),
        ("--min-runway-days", min_runway_days),
    ):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise InputError(f"{name} must be zero or more, not {value}")
    out: list[Crossing] = []
    share = status["projected_share"].where(status["projected_share"].notna(), status["share_used"])
    figure = status["projected"].where(status["projected"].notna(), status["used"])
    fig_h = to_hundredths(figure.fillna(0.0)) * 100
    thr_h = to_hundredths(status["threshold"])
    for level, pct in (("fail", fail_at), ("warn", warn_at)):
        if pct is None:
            continue
        over = fig_h >= thr_h * pct  # exact: figure/threshold >= pct/100 in hundredths
        for i in np.flatnonzero(over):
            row = status.iloc[i]
            if any(c.line == row["line"] for c in out):
                continue
            what = "projected at" if pd.notna(row["projected"]) else "at"
            flag = "--fail-at" if level == "fail" else "--warn-at"
            unit = "USD" if row["unit"] == "USD" else "credits"
            when = (
                f", reaches it on {pd.Timestamp(row['crossing_day']).date()}"
                if pd.notna(row["crossing_day"])
                else ""
            )
            out.append(
                Crossing(
                    level,
                    str(row["line"]),
                    f"{row['line']} {what} {_pct(share.iloc[i])} of "
                    f"{_amount(row['threshold'], unit)} {unit} ({flag} {pct:g}%){when}",
                )
            )
    runway = status.attrs.get("runway_days")
    if (
        min_runway_days is not None
        and runway is not None
        and not pd.isna(runway)
        and runway < min_runway_days
    ):
        run_out = status.attrs.get("run_out_date")
        day = "beyond 9999" if run_out is None or pd.isna(run_out) else pd.Timestamp(run_out).date()
        out.append(
            Crossing(
                "fail",
                "balance runway",
                f"balance runway {runway:,.1f} days (runs out {day}) "
                f"is below --min-runway-days {min_runway_days:g}",
            )
        )
    return out


def _nat(day: pd.Timestamp | None) -> Any:
    return pd.NaT if day is None else day
