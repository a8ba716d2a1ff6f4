"""The monthly report's figures, computed once and shared by the workbook, PDF and email.

Every artefact reads the same :class:`MonthlyReport`, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._text import name_list
from .._version import __version__
from ..analysis import usage as A
from ..errors import InputError
from ..periods import month_bounds, parse_month, shift_month
from ..analysis.pricing import estimate_cost
from ..theme import Theme, load_theme

__all__ = ["MonthlyReport", "build_report", "fmt_credits", "fmt_pct", "fmt_money",
           "fmt_change", "fmt_signed_pct", "last_full_month", "report_window"]


def fmt_credits(value: float, decimals: int = 2) -> str:
    """Credits with thousands separators, as the workbook's ``#,##0.00`` shows them."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:,.{decimals}f}"


def fmt_change(value: float) -> str:
    if value is None or np.isnan(value):
        return "-"
    return ("+" if value > 0 else "") + f"{value:,.2f}"


def fmt_pct(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage, as ``0.0%`` shows it."""
    if value is None or np.isnan(value):
        return "-"
    return f"{value * 100:.{decimals}f}%"


def fmt_signed_pct(value: float) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return ("+" if value > 0 else "") + fmt_pct(value)


def fmt_money(value: float, currency: str = "USD") -> str:
    symbol = "$" if currency == "USD" else currency + " "
    return f"-{symbol}{abs(value):,.2f}" if value < 0 else f"{symbol}{value:,.2f}"


def month_name(month: str) -> str:
    year, mon = parse_month(month)
    return dt.date(year, mon, 1).strftime("%B %Y")


def last_full_month(usage: pd.DataFrame | None = None, *, timezone: str = "UTC",
                    now: dt.datetime | None = None) -> str:
    """The last calendar month that is over: of the data's as-of time, or of now in ``timezone``."""
    if usage is not None and usage.attrs.get("fetched_at") is not None:
        ts = pd.Timestamp(usage.attrs["fetched_at"])
        # The as-of instant is the first moment not covered, so subtract a hair.
        ts = ts - pd.Timedelta(microseconds=1)
        end = usage.attrs.get("end")
        day = ts.date()
        if end:
            day = min(day, dt.date.fromisoformat(end))
        year, mon = (day.year, day.month)
        last = month_bounds(year, mon)[1]
        if day < last:
            year, mon = shift_month(year, mon, -1)
        return A.month_label(year, mon)
    from ..periods import get_timezone

    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(get_timezone(timezone)).date()
    year, mon = shift_month(today.year, today.month, -1)
    return A.month_label(year, mon)


def report_window(month: str, history: int, lookback_days: int = 28) -> tuple[dt.date, dt.date]:
    """The daily date range a report of ``month`` needs: ``history`` months plus the anomaly
    baseline before them."""
    if history < 1:
        raise InputError(f"history must be at least 1 month, not {history}")
    year, mon = parse_month(month)
    fy, fm = shift_month(year, mon, -(max(history, 2) - 1))
    first = month_bounds(fy, fm)[0] - dt.timedelta(days=lookback_days)
    return first, month_bounds(year, mon)[1]


def _checksum(usage: pd.DataFrame) -> str:
    """SHA-256 of the input rows in a canonical order, so the About sheet and notes can prove
    which data a report was built from."""
    canon = usage[["period_start", "operation", "credits"]].copy()
    canon["period_start"] = canon["period_start"].astype(str)
    canon = canon.sort_values(["period_start", "operation"], kind="mergesort")
    text = canon.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class MonthlyReport:
    """All figures of one month's report. Tables are pandas frames; scalars are floats."""

    month: str
    month_name: str
    previous_month: str
    previous_month_name: str
    timezone: str
    source: str
    source_label: str
    account: str
    as_of: pd.Timestamp
    complete: bool
    elapsed_days: int
    days_in_month: int
    total: float
    previous_total: float
    compared_total: float
    change: float
    change_pct: float
    comparison_basis: str
    projection: float | None
    projection_weekday: float | None
    top_operation: str | None
    estimated_cost: float
    currency: str
    operations: pd.DataFrame
    monthly: pd.DataFrame
    daily: pd.DataFrame
    daily_matrix: pd.DataFrame
    anomalies: pd.DataFrame
    colors: dict[str, str]
    notes: list[str]
    warnings: list[str]
    checksum: str
    theme: Theme
    history: int
    new_operations: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    version: str = __version__

    @property
    def rule(self) -> str:
        return A.LIKE_FOR_LIKE_RULE


def build_report(usage: pd.DataFrame, month: str | None = None, *, history: int = 12,
                 template: Any = None, theme: Theme | None = None, account: str | None = None,
                 as_of: Any = None) -> MonthlyReport:
    """Compute every figure of the monthly report from daily tidy usage.

    Parameters
    ----------
    usage
        Daily usage (``period='day'``) covering the month, ideally the ``history`` months before
        it and 28 days more (see :func:`report_window`).
    month
        'YYYY-MM'; default the last full month of the data.
    history
        Months shown in the history chart and the Monthly sheet.
    template, theme
        A template folder, or an already loaded :class:`~generect_reports.theme.Theme`.
    account
        Account name for titles (default: the theme's ``text.account``).
    as_of
        Time the data is complete up to; default ``usage.attrs["fetched_at"]``.
    """
    if usage.attrs.get("period", "day") != "day":
        raise InputError("the monthly report needs daily usage (period='day')")
    if history < 1:
        raise InputError(f"history must be at least 1 month, not {history}")
    theme = theme or load_theme(template)
    month = month or last_full_month(usage)
    year, mon = parse_month(month)
    first, last = month_bounds(year, mon)
    py, pm = shift_month(year, mon, -1)
    previous_month = A.month_label(py, pm)
    if as_of is None and usage.attrs.get("fetched_at") is None:
        as_of = pd.Timestamp(last + dt.timedelta(days=1))
    cmp = A.partial_month_comparison(usage, month, as_of=as_of)
    as_of_ts = cmp.attrs["as_of"]
    if as_of_ts.date() <= first:
        raise InputError(f"month {month} has no complete day of data yet (as of {as_of_ts:%Y-%m-%d %H:%M})")
    # Rows after the as-of day cannot exist in real data; an explicit earlier as_of cuts them off.
    keep = usage["period_start"].dt.tz_localize(None).dt.normalize() <= pd.Timestamp(as_of_ts.date())
    if not keep.all():
        attrs = dict(usage.attrs)
        usage = usage[keep.to_numpy()]
        usage.attrs.update(attrs)
    data_start = usage.attrs.get("start")
    data_end = usage.attrs.get("end")
    warnings: list[str] = []
    notes: list[str] = []
    if data_start and dt.date.fromisoformat(data_start) > first:
        warnings.append(f"Data starts on {data_start}: the first days of {month} are missing.")
    if data_end and dt.date.fromisoformat(data_end) < min(last, as_of_ts.date() - dt.timedelta(days=1)):
        warnings.append(f"Data ends on {data_end}: later days of {month} are missing.")
    complete = bool(cmp.attrs["complete"])
    elapsed = int(cmp.attrs["elapsed_days"])
    codes = A._month_codes(usage)
    in_month = usage[codes == year * 12 + mon - 1]
    month_rows = A.operation_shares(in_month) if len(in_month) else A.operation_shares(usage.iloc[0:0])

    # Per-operation table: month credits against the comparison base (like for like if partial).
    base = cmp.set_index("operation")
    ops = sorted(set(month_rows["operation"]) | set(base.index[base["previous_credits"] != 0]))
    credits = month_rows.set_index("operation")["credits"].reindex(ops, fill_value=0.0)
    if complete:
        previous = base["previous_credits"].reindex(ops, fill_value=0.0)
        basis = f"whole month, against all of {month_name(previous_month)}"
    else:
        # Compare only complete days; credits of the running day are in the total, not the change.
        credits_cmp = base["credits"].reindex(ops, fill_value=0.0)
        previous = base["previous_credits"].reindex(ops, fill_value=0.0)
        basis = (f"like for like: {month} days 1-{elapsed} against {previous_month} days "
                 f"1-{cmp.attrs['previous_days']}")
    table = pd.DataFrame({"operation": pd.Series(ops, dtype=str),
                          "credits": credits.to_numpy(dtype="float64"),
                          "previous_credits": previous.to_numpy(dtype="float64")})
    compared = table["credits"] if complete else pd.Series(credits_cmp.to_numpy(dtype="float64"))
    table["compared_credits"] = compared.to_numpy()
    table["change"] = table["compared_credits"] - table["previous_credits"]
    prev_nonzero = table["previous_credits"].where(table["previous_credits"] != 0)
    table["change_pct"] = table["change"] / prev_nonzero
    total = float(table["credits"].sum())
    table["share"] = table["credits"] / total if total else np.nan
    table = table.sort_values(["credits", "operation"], ascending=[False, True], kind="mergesort")
    table = table.reset_index(drop=True)
    table["share_display"] = A.display_percentages(table["share"]).to_numpy()
    priced = estimate_cost(table, theme.prices, multiplier=theme.tier_multiplier)
    table["price"] = priced["price"].to_numpy()
    table["estimated_cost"] = priced["estimated_cost"].to_numpy()
    unpriced = [op for op in priced.attrs["unpriced_operations"]]

    previous_total = float(table["previous_credits"].sum())
    compared_total = float(table["compared_credits"].sum())
    change = compared_total - previous_total
    change_pct = change / previous_total if previous_total else float("nan")

    projection = projection_weekday = None
    if not complete:
        proj = A.run_rate_projection(usage, month, as_of=as_of_ts)
        projection = float(proj["projected_credits"].sum())
        projection_weekday = float(proj["projected_weekday"].sum())

    # History: months × operations, the window clipped to the data.
    mom = A.month_over_month(usage)
    fy, fm = shift_month(year, mon, -(history - 1))
    lo, hi = A.month_label(fy, fm), month
    hist = mom[(mom["month"] >= lo) & (mom["month"] <= hi)]
    monthly = hist.pivot_table(index="operation", columns="month", values="credits",
                               aggfunc="sum", sort=True).fillna(0.0)
    op_order = list(table["operation"]) + [o for o in monthly.index if o not in set(table["operation"])]
    monthly = monthly.reindex(op_order).fillna(0.0)
    monthly = monthly.loc[(monthly != 0).any(axis=1) | monthly.index.isin(table["operation"])]
    # Every month the data covers is shown, a month without usage as zeros: only months before
    # the data starts are left out (and said so).
    covered_from = lo
    if data_start:
        ds = dt.date.fromisoformat(data_start)
        covered_from = max(lo, A.month_label(ds.year, ds.month))
    span = [A.month_label(*shift_month(fy, fm, k)) for k in range(history)]
    monthly = monthly.reindex(columns=[m for m in span if m >= covered_from], fill_value=0.0)
    if len(monthly.columns) < history and data_start:
        notes.append(f"History shows {len(monthly.columns)} of {history} months: the data starts on {data_start}.")
    if len(in_month) == 0:
        notes.append(f"No usage in {month_name(month)}: the account was idle, every figure is zero.")

    daily = in_month.copy()
    daily = daily.sort_values(["period_start", "operation"], kind="mergesort").reset_index(drop=True)
    mat = A.daily_matrix(usage)
    mat = mat.loc[(mat.index >= pd.Timestamp(first)) & (mat.index <= pd.Timestamp(last))]
    mat = mat.reindex(columns=[o for o in table["operation"] if o in mat.columns]).fillna(0.0)
    anomalies = A.detect_anomalies(usage)
    anomalies = anomalies[(anomalies["day"] >= first) & (anomalies["day"] <= last)].reset_index(drop=True)

    first_seen = A.to_monthly(usage).groupby("operation")["month"].min()
    new_ops = sorted(first_seen[first_seen == month].index) if month != first_seen.min() else []
    if new_ops:
        notes.append("First month with usage for: " + name_list(new_ops) + ".")
    gone = table.loc[(table["credits"] == 0) & (table["previous_credits"] != 0), "operation"].tolist()
    if gone:
        notes.append("No usage this month for: " + name_list(gone) + " (used in the previous month).")
    if not complete:
        warnings.append(f"{month_name(month)} is not over: data as of {as_of_ts:%Y-%m-%d %H:%M} "
                        f"({elapsed} of {cmp.attrs['days_in_month']} days complete); the change is "
                        "like for like and the month-end figure is a projection.")
    if (usage["credits"] < 0).any():
        neg = usage[usage["credits"] < 0]
        warnings.append(f"Negative credits (refunds) in {len(neg)} row(s), e.g. {name_list([neg['operation'].iloc[0]])} "
                        f"on {neg['period_start'].iloc[0]:%Y-%m-%d}: kept as reported.")
    if unpriced:
        notes.append("No list price for: " + name_list(unpriced) + " (estimated at 0).")
    if "unattributed" in set(table["operation"]):
        notes.append("'unattributed' is the API's total minus its per-operation breakdown "
                     "(platform charges).")

    source = usage.attrs.get("source", "api")
    source_label = "sample data (fictional account)" if source == "sample" else str(usage.attrs.get("base_url", "Generect API"))
    top = str(table["operation"].iloc[0]) if total > 0 and len(table) else None
    all_ops = sorted(set(usage["operation"]))
    return MonthlyReport(
        month=month, month_name=month_name(month), previous_month=previous_month,
        previous_month_name=month_name(previous_month),
        timezone=str(usage.attrs.get("timezone", "UTC")), source=source, source_label=source_label,
        account=account or ("Sample account" if source == "sample" else theme.text.get("account", "Generect account")),
        as_of=as_of_ts, complete=complete, elapsed_days=elapsed,
        days_in_month=int(cmp.attrs["days_in_month"]), total=total,
        previous_total=previous_total, compared_total=compared_total, change=change,
        change_pct=change_pct, comparison_basis=basis, projection=projection,
        projection_weekday=projection_weekday, top_operation=top,
        estimated_cost=float(table["estimated_cost"].sum()), currency=theme.currency,
        operations=table, monthly=monthly, daily=daily, daily_matrix=mat, anomalies=anomalies,
        colors=theme.operation_colors(all_ops), notes=notes, warnings=warnings,
        checksum=_checksum(usage), theme=theme, history=history, new_operations=new_ops,
        unpriced=unpriced,
    )
