"""Pure analysis functions on the tidy usage frame: frame in, frame out, no I/O.

Months are calendar months of ``period_start`` in the frame's own timezone. Fractions are
fractions (0.25 = 25 %). Results do not depend on row order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..money import display_shares

__all__ = [
    "to_monthly",
    "month_over_month",
    "operation_shares",
    "display_percentages",
    "monthly_totals",
    "variance_by_operation",
    "partial_month_comparison",
    "run_rate_projection",
    "detect_anomalies",
    "daily_matrix",
    "month_label",
    "validate_usage_frame",
    "LIKE_FOR_LIKE_RULE",
    "ANOMALY_RULE",
]

LIKE_FOR_LIKE_RULE = (
    "A month that is not over is compared like for like: its first N complete days against the "
    "first N days of the previous month. Projections are run-rate estimates, not actuals."
)


ANOMALY_K = 6.0
ANOMALY_MIN_CREDITS = 50.0
ANOMALY_WINDOW = 28
ANOMALY_MIN_PERIODS = 14
#: How reports describe :func:`detect_anomalies` with its defaults (one text, derived from them).
ANOMALY_RULE = (
    f"days on which an operation's credits exceed its trailing {ANOMALY_WINDOW}-day median by more "
    f"than {ANOMALY_K:g} × MAD (at least {ANOMALY_MIN_CREDITS:g} credits, "
    f"{ANOMALY_MIN_PERIODS} active days of baseline)"
)


def month_label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _month_index(month: str) -> int:
    from ..periods import parse_month

    year, mon = parse_month(month)
    return year * 12 + mon - 1


def _label_from_index(index: np.ndarray) -> list[str]:
    return [month_label(int(i) // 12, int(i) % 12 + 1) for i in index]


USAGE_COLUMNS = ("period_start", "operation", "credits")


def validate_usage_frame(usage: Any) -> pd.DataFrame:
    """The one input check of every public analysis function: raise :class:`InputError` unless
    ``usage`` is a tidy usage frame (a DataFrame with ``period_start`` as timezone-aware
    timestamps, ``operation`` and numeric ``credits``); return it unchanged."""
    if not isinstance(usage, pd.DataFrame):
        raise InputError(
            f"not a usage frame: expected a pandas DataFrame, not {type(usage).__name__}"
        )
    missing = set(USAGE_COLUMNS) - set(usage.columns)
    if missing:
        raise InputError(f"not a usage frame: missing column(s) {', '.join(sorted(missing))}")
    starts = usage["period_start"]
    if not isinstance(starts.dtype, pd.DatetimeTZDtype):
        raise InputError(
            "not a usage frame: period_start must hold timezone-aware timestamps, "
            f"not {starts.dtype}"
        )
    if not pd.api.types.is_numeric_dtype(usage["credits"]) or pd.api.types.is_bool_dtype(
        usage["credits"]
    ):
        raise InputError(
            f"not a usage frame: credits must be numbers, not {usage['credits'].dtype}"
        )
    return usage


_check_frame = validate_usage_frame


def _month_codes(usage: pd.DataFrame) -> np.ndarray:
    """Month index (year*12 + month-1) of every row, computed on the unique days only."""
    _check_frame(usage)
    period = usage.attrs.get("period")
    if period == "week" or (
        period is None
        and len(usage)
        and usage.get("period", pd.Series(dtype=str)).astype(str).str.contains("-W").any()
    ):
        raise InputError(
            "weekly rows can straddle two months: use daily or monthly usage for monthly figures"
        )
    if len(usage) == 0:
        return np.empty(0, dtype=np.int64)
    codes, uniques = pd.factorize(usage["period_start"], sort=False)
    uniq = pd.DatetimeIndex(uniques)
    month_of_unique = (uniq.year * 12 + uniq.month - 1).to_numpy(dtype=np.int64)
    return month_of_unique[codes]


def _monthly_matrix(usage: pd.DataFrame) -> pd.DataFrame:
    """Months (continuous, as int index) × operations of summed credits, 0 where absent."""
    months = _month_codes(usage)
    if len(months) == 0:
        return pd.DataFrame(dtype="float64")
    ops_codes, ops = pd.factorize(usage["operation"], sort=True)
    lo, hi = int(months.min()), int(months.max())
    grid = np.zeros((hi - lo + 1, len(ops)), dtype="float64")
    np.add.at(grid, (months - lo, ops_codes), usage["credits"].to_numpy(dtype="float64"))
    return pd.DataFrame(grid, index=pd.RangeIndex(lo, hi + 1), columns=pd.Index(ops, dtype=str))


def to_monthly(usage: pd.DataFrame) -> pd.DataFrame:
    """Re-aggregate daily (or monthly) usage to calendar months.

    Returns
    -------
    pandas.DataFrame
        ``month`` ('YYYY-MM'), ``operation``, ``credits``; only operations with rows in a month.
    """
    months = _month_codes(usage)
    keyed = pd.DataFrame(
        {
            "m": months,
            "operation": usage["operation"].to_numpy(),
            "credits": usage["credits"].to_numpy(dtype="float64"),
        }
    )
    out = keyed.groupby(["m", "operation"], sort=True, as_index=False)["credits"].sum()
    out.insert(0, "month", pd.Series(_label_from_index(out.pop("m").to_numpy()), dtype=str))
    return out.reset_index(drop=True)


def month_over_month(usage: pd.DataFrame) -> pd.DataFrame:
    """Each operation's credits per calendar month against the previous month.

    Returns
    -------
    pandas.DataFrame
        ``month`` ('YYYY-MM'), ``operation``, ``credits``, ``previous_credits``, ``change``,
        ``change_pct``. Every operation of the frame appears in every month of its span
        (0 where it had no usage). ``previous_credits`` is NaN only in the first month;
        ``change_pct`` is a fraction, NaN (never inf) when the previous month is 0.
    """
    grid = _monthly_matrix(usage)
    cols = ["month", "operation", "credits", "previous_credits", "change", "change_pct"]
    if grid.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=str if c in ("month", "operation") else "float64") for c in cols}
        )
    values = grid.to_numpy()
    previous = np.vstack([np.full((1, values.shape[1]), np.nan), values[:-1]])
    n_months, n_ops = values.shape
    credits = values.ravel()
    prev = previous.ravel()
    change = credits - prev
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(prev != 0, change / np.where(prev != 0, prev, 1.0), np.nan)
    pct[np.isnan(prev)] = np.nan
    labels = np.repeat(np.asarray(_label_from_index(grid.index.to_numpy()), dtype=object), n_ops)
    ops = np.tile(grid.columns.to_numpy(dtype=object), n_months)
    return pd.DataFrame(
        {
            "month": pd.Series(labels, dtype=str),
            "operation": pd.Series(ops, dtype=str),
            "credits": credits,
            "previous_credits": prev,
            "change": change,
            "change_pct": pct,
        }
    )


def _rows_in_month(usage: pd.DataFrame, month: str | None) -> pd.DataFrame:
    if month is None:
        _check_frame(usage)
        return usage
    codes = _month_codes(usage)
    return usage[codes == _month_index(month)]


def operation_shares(usage: pd.DataFrame, month: str | None = None) -> pd.DataFrame:
    """Each operation's credits and share of the total, largest first.

    Parameters
    ----------
    usage
        Tidy usage frame.
    month
        'YYYY-MM' to restrict to one calendar month; None for the whole frame.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``credits``, ``share`` (fractions summing to 1; NaN when the total is 0),
        sorted by credits descending, then operation name.
    """
    rows = _rows_in_month(usage, month)
    sums = rows.groupby("operation", sort=True)["credits"].sum()
    out = pd.DataFrame(
        {
            "operation": pd.Series(sums.index.to_numpy(dtype=object), dtype=str),
            "credits": sums.to_numpy(dtype="float64"),
        }
    )
    total = out["credits"].sum()
    out["share"] = out["credits"] / total if total != 0 else np.nan
    out = out.sort_values(["credits", "operation"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)


def display_percentages(
    shares: pd.Series | np.ndarray | list[float], decimals: int = 1
) -> pd.Series:
    """Shares (fractions) as percentages rounded so that they add up to exactly 100.

    Largest remainder on the displayed unit (:func:`~generect_reports.money.display_shares`):
    each percentage within one unit of its exact value. NaN in, NaN out; all zeros give zeros.
    """
    values = pd.Series(shares, dtype="float64")
    return pd.Series(display_shares(values.to_numpy(), decimals), index=values.index)


def monthly_totals(usage: pd.DataFrame) -> pd.DataFrame:
    """Total credits per calendar month, continuous (0 for months without usage).

    Returns
    -------
    pandas.DataFrame
        ``month``, ``credits``, ``previous_credits``, ``change``, ``change_pct``.
    """
    grid = _monthly_matrix(usage)
    if grid.empty:
        return pd.DataFrame(
            {
                "month": pd.Series(dtype=str),
                **{
                    c: pd.Series(dtype="float64")
                    for c in ("credits", "previous_credits", "change", "change_pct")
                },
            }
        )
    total = grid.sum(axis=1).to_numpy()
    prev = np.concatenate([[np.nan], total[:-1]])
    change = total - prev
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(prev != 0, change / np.where(prev != 0, prev, 1.0), np.nan)
    pct[np.isnan(prev)] = np.nan
    return pd.DataFrame(
        {
            "month": pd.Series(_label_from_index(grid.index.to_numpy()), dtype=str),
            "credits": total,
            "previous_credits": prev,
            "change": change,
            "change_pct": pct,
        }
    )


def variance_by_operation(usage: pd.DataFrame, month: str) -> pd.DataFrame:
    """Which operations drove a month's change in total credits.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``credits``, ``previous_credits``, ``change``, ``contribution`` (change as a
        fraction of the previous month's total: these add up to the total's ``change_pct``) and
        ``share_of_change`` (fraction of the total change; NaN when the total did not change),
        sorted by absolute change, largest first.
    """
    validate_usage_frame(usage)
    mom = month_over_month(usage)
    rows = mom[mom["month"] == month]
    if rows.empty:
        raise InputError(f"month {month} is not in the data")
    rows = rows[(rows["credits"] != 0) | (rows["previous_credits"].fillna(0) != 0)]
    prev_total = rows["previous_credits"].sum(min_count=1)
    total_change = rows["change"].sum(min_count=1)
    out = rows[["operation", "credits", "previous_credits", "change"]].copy()
    out["contribution"] = out["change"] / prev_total if prev_total else np.nan
    out["share_of_change"] = out["change"] / total_change if total_change else np.nan
    out = (
        out.assign(_abs=out["change"].abs())
        .sort_values(["_abs", "operation"], ascending=[False, True], kind="mergesort")
        .drop(columns="_abs")
    )
    return out.reset_index(drop=True)


def daily_matrix(usage: pd.DataFrame) -> pd.DataFrame:
    """Local days (continuous, naive dates) × operations of credits; NaN before an operation's
    first day, 0 on later days without usage."""
    _check_frame(usage)
    if usage.attrs.get("period") not in (None, "day"):
        raise InputError("daily figures need daily usage (period='day')")
    if usage.empty:
        return pd.DataFrame(
            index=pd.DatetimeIndex([], name="day"),
            columns=pd.Index([], dtype=str, name="operation"),
            dtype="float64",
        )
    days = usage["period_start"].dt.tz_localize(None).dt.normalize()
    grid = pd.DataFrame({"day": days, "operation": usage["operation"], "credits": usage["credits"]})
    mat = grid.pivot_table(
        index="day", columns="operation", values="credits", aggfunc="sum", sort=True
    )
    mat = mat.reindex(pd.date_range(mat.index.min(), mat.index.max(), freq="D"))
    started = mat.notna().cummax()
    mat = mat.fillna(0.0).where(started)
    mat.index.name = "day"
    mat.columns.name = "operation"
    return mat


def _as_of(usage: pd.DataFrame, as_of: Any) -> pd.Timestamp:
    tz = usage.attrs.get("timezone") or "UTC"
    if as_of is None:
        as_of = usage.attrs.get("fetched_at")
        if as_of is None:
            raise InputError(
                "no as-of time: pass as_of, or use a frame from fetch_usage/load_sample"
            )
    ts = pd.Timestamp(as_of)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)


def _month_to_date(usage: pd.DataFrame, month: str | None, as_of: Any) -> dict[str, Any]:
    from ..periods import month_bounds, parse_month, shift_month

    ts = _as_of(usage, as_of)
    if month is None:
        month = month_label(ts.year, ts.month)
    year, mon = parse_month(month)
    first, last = month_bounds(year, mon)
    days_in_month = last.day
    today = ts.date()
    # Complete days only: the as-of day itself is still running.
    elapsed = int(min(max((today - first).days, 0), days_in_month))
    py, pm = shift_month(year, mon, -1)
    pfirst, plast = month_bounds(py, pm)
    # A complete month is compared with the whole previous month, whatever their lengths.
    prev_elapsed = plast.day if elapsed == days_in_month else min(elapsed, plast.day)
    return {
        "month": month,
        "as_of": ts,
        "first": first,
        "last": last,
        "elapsed": elapsed,
        "days_in_month": days_in_month,
        "complete": elapsed == days_in_month,
        "prev_first": pfirst,
        "prev_elapsed": prev_elapsed,
        "previous_month": month_label(py, pm),
    }


def _sum_days(usage: pd.DataFrame, first: dt.date, n_days: int) -> pd.Series:
    days = usage["period_start"].dt.tz_localize(None).dt.normalize()
    lo = pd.Timestamp(first)
    mask = (days >= lo) & (days < lo + pd.Timedelta(days=n_days))
    return usage[mask].groupby("operation", sort=True)["credits"].sum()


def partial_month_comparison(
    usage: pd.DataFrame, month: str | None = None, *, as_of: Any = None
) -> pd.DataFrame:
    """A month that may not be over, compared like for like with the previous month.

    The comparison base is the same number of complete days at the start of the previous month
    (capped at its length). For a complete month this equals :func:`month_over_month`.

    Parameters
    ----------
    usage
        Daily tidy usage covering the month and the previous one.
    month
        'YYYY-MM'; default the month of ``as_of``.
    as_of
        Time up to which the data is complete; default ``usage.attrs["fetched_at"]``.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``credits`` (first N days), ``previous_credits`` (first N days of the
        previous month), ``change``, ``change_pct``; ``attrs``: ``month``, ``as_of``,
        ``elapsed_days`` (N), ``days_in_month``, ``complete``, ``rule``.
    """
    validate_usage_frame(usage)
    info = _month_to_date(usage, month, as_of)
    if usage.attrs.get("period") not in (None, "day") and not info["complete"]:
        raise InputError("a partial month needs daily usage (period='day')")
    cur = _sum_days(usage, info["first"], info["elapsed"])
    prev = _sum_days(usage, info["prev_first"], info["prev_elapsed"])
    ops = cur.index.union(prev.index)
    cur = cur.reindex(ops, fill_value=0.0)
    prev = prev.reindex(ops, fill_value=0.0)
    change = cur - prev
    pct = (change / prev.where(prev != 0)).astype("float64")
    out = pd.DataFrame(
        {
            "operation": pd.Series(ops.to_numpy(dtype=object), dtype=str),
            "credits": cur.to_numpy(dtype="float64"),
            "previous_credits": prev.to_numpy(dtype="float64"),
            "change": change.to_numpy(dtype="float64"),
            "change_pct": pct.to_numpy(dtype="float64"),
        }
    )
    out.attrs.update(
        {
            "month": info["month"],
            "previous_month": info["previous_month"],
            "as_of": info["as_of"],
            "elapsed_days": info["elapsed"],
            "previous_days": info["prev_elapsed"],
            "days_in_month": info["days_in_month"],
            "complete": info["complete"],
            "rule": LIKE_FOR_LIKE_RULE,
        }
    )
    return out


def run_rate_projection(
    usage: pd.DataFrame, month: str | None = None, *, as_of: Any = None, lookback_days: int = 28
) -> pd.DataFrame:
    """Projected month-end credits per operation for a month that is not over (an estimate).

    ``projected_credits`` = observed ÷ elapsed complete days × days in month.
    ``projected_weekday`` = observed + for each remaining day, the operation's mean credits on
    that weekday over the ``lookback_days`` complete days before ``as_of``.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``credits`` (complete days so far), ``projected_credits``,
        ``projected_weekday``; ``attrs``: ``month``, ``as_of``, ``elapsed_days``,
        ``days_in_month``, ``is_projection`` (always True), ``rule``.
    """
    validate_usage_frame(usage)
    info = _month_to_date(usage, month, as_of)
    elapsed, n = info["elapsed"], info["days_in_month"]
    cur = _sum_days(usage, info["first"], elapsed)
    mat = daily_matrix(usage) if len(usage) else pd.DataFrame(dtype="float64")
    today = pd.Timestamp(info["first"]) + pd.Timedelta(days=elapsed)
    ops = cur.index.union(mat.columns) if len(mat) else cur.index
    cur = cur.reindex(ops, fill_value=0.0)
    linear = cur * n / elapsed if elapsed else pd.Series(np.nan, index=ops)
    remaining = pd.date_range(today, pd.Timestamp(info["last"]), freq="D")
    if len(mat):
        window = mat.loc[
            (mat.index < today) & (mat.index >= today - pd.Timedelta(days=lookback_days))
        ]
        window = window.reindex(columns=ops)
        by_dow = window.fillna(0.0).groupby(window.index.day_of_week).mean()
        by_dow = by_dow.reindex(range(7)).fillna(by_dow.mean()).fillna(0.0)
        rest = (
            by_dow.loc[remaining.day_of_week].sum(axis=0)
            if len(remaining)
            else pd.Series(0.0, index=ops)
        )
        weekday = cur + rest.reindex(ops, fill_value=0.0)
    else:
        weekday = pd.Series(np.nan, index=ops)
    if elapsed == 0:
        weekday[:] = np.nan
    out = pd.DataFrame(
        {
            "operation": pd.Series(ops.to_numpy(dtype=object), dtype=str),
            "credits": cur.to_numpy(dtype="float64"),
            "projected_credits": linear.to_numpy(dtype="float64"),
            "projected_weekday": weekday.to_numpy(dtype="float64"),
        }
    )
    out.attrs.update(
        {
            "month": info["month"],
            "as_of": info["as_of"],
            "elapsed_days": elapsed,
            "days_in_month": n,
            "is_projection": True,
            "rule": "Projection (estimate): credits so far ÷ complete days × days in month; "
            "weekday-aware variant adds each remaining day's mean for its weekday "
            f"over the previous {lookback_days} days.",
        }
    )
    return out


def detect_anomalies(
    usage: pd.DataFrame,
    *,
    k: float = ANOMALY_K,
    min_credits: float = ANOMALY_MIN_CREDITS,
    window: int = ANOMALY_WINDOW,
    min_periods: int = ANOMALY_MIN_PERIODS,
    min_scale: float = 1.0,
    matrix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Days on which an operation's credits exceed its trailing median by ``k`` × MAD.

    The baseline of a day is the median of the operation's previous ``window`` days (the day
    itself excluded; days before the operation first appeared don't count), and needs at least
    ``min_periods`` days with usage, so sparse charges and a restart after a pause are not
    flagged against an empty baseline; the scale is
    1.4826 × MAD of those days, at least ``min_scale``. A day is flagged when
    ``score = (credits - baseline) / scale > k`` and ``credits >= min_credits``.
    ``matrix``: ``daily_matrix(usage)`` when the caller already has it (it is not changed).

    Returns
    -------
    pandas.DataFrame
        ``day`` (date), ``operation``, ``credits``, ``baseline``, ``mad``, ``score``, sorted by
        day then operation.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    cols = ["day", "operation", "credits", "baseline", "mad", "score"]
    mat = daily_matrix(usage) if matrix is None else matrix
    if mat.empty or len(mat) <= window:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in ("day", "operation") else "float64") for c in cols}
        ).astype({"operation": str})
    values = mat.to_numpy(dtype="float64")
    # Windows of the `window` days before each day t (t >= window).
    win = sliding_window_view(values[:-1], window, axis=0)  # (days - window, ops, window)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.nanmedian(win, axis=-1)
            mad = np.nanmedian(np.abs(win - base[..., None]), axis=-1)
        active = np.sum(win > 0, axis=-1)  # NaN > 0 is False
        today = values[window:]
        scale = np.maximum(1.4826 * mad, min_scale)
        score = (today - base) / scale
    flag = (active >= min_periods) & (score > k) & (today >= min_credits) & ~np.isnan(today)
    d_idx, o_idx = np.nonzero(flag)
    days = mat.index[window:][d_idx]
    out = pd.DataFrame(
        {
            "day": pd.Series([d.date() for d in days], dtype=object),
            "operation": pd.Series(mat.columns.to_numpy(dtype=object)[o_idx], dtype=str),
            "credits": today[d_idx, o_idx],
            "baseline": base[d_idx, o_idx],
            "mad": mad[d_idx, o_idx],
            "score": score[d_idx, o_idx],
        }
    )
    return out.sort_values(["day", "operation"], kind="mergesort").reset_index(drop=True)
