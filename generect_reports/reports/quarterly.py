"""The quarter report's figures, and its workbook.

:func:`build_quarter_report` computes everything once into a :class:`QuarterReport`: the
quarter's months side by side, the quarter against the previous quarter and against the same
quarter a year earlier, and the operations that drove the change. A quarter that is not over is
compared like for like: its first *n* days against the first *n* days of each comparison quarter.
Its workbook is drawn by ``render/xlsx/quarter.py`` and its PDF page by ``render/pdf/quarter.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from generect_reports.analysis.calendar import FiscalCalendar
from generect_reports.analysis.forecast import PeriodForecast
from generect_reports.errors import InputError
from generect_reports.periods import month_bounds, shift_month
from generect_reports.theme import Theme, load_theme

__all__ = [
    "QuarterReport",
    "build_quarter_report",
    "quarter_window",
    "quarter_windows",
    "quarter_summary",
    "quarter_headings",
    "quarter_projection_sentence",
]


@dataclass
class QuarterReport:
    """All figures of one fiscal quarter's report. Tables are tidy pandas frames."""

    label: str
    previous_label: str
    last_year_label: str
    calendar: FiscalCalendar
    start: dt.date
    end: dt.date
    months: list[str]
    timezone: str
    source: str
    account: str
    as_of: pd.Timestamp | None
    complete: bool
    elapsed_days: int
    days_in_quarter: int
    comparison_basis: str
    total: float
    previous_total: float
    last_year_total: float
    estimated_cost: float
    currency: str
    #: operation, one column per month (credits), total
    by_month: pd.DataFrame
    #: operation, credits, previous_credits, change, change_pct, last_year_credits,
    #: yoy_change, yoy_change_pct, price, estimated_cost
    comparison: pd.DataFrame
    #: operation, change, share_of_change, direction (largest absolute change first)
    drivers: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    #: operation, one column per month (estimated cost, each month's line rounded once by the
    #: price book: the monthly report's figure), total (the quarter's line: their sum)
    cost_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The booked cost of each month of the quarter (consumed + month-end accrual, currency
    #: units) when ``[money]`` values the credits; the quarter's is their sum.
    booked_by_month: dict[str, float] | None = None
    #: A running quarter's projection to its last day with its 80 % and 95 % intervals from
    #: the account's past quarters and their measured accuracy; None for a quarter that is over.
    forecast: PeriodForecast | None = None

    @property
    def booked_cost(self) -> float | None:
        """The quarter's booked cost: its months' booked costs added up (None without them)."""
        if self.booked_by_month is None:
            return None
        return round(sum(round(v * 100) for v in self.booked_by_month.values()) / 100, 2)


def quarter_window(quarter: str, calendar: FiscalCalendar) -> tuple[dt.date, dt.date]:
    """The daily date range a report of ``quarter`` needs: from the same quarter a year earlier
    to the quarter's last day."""
    fy, q = calendar.parse_quarter(quarter)
    return calendar.quarter_bounds(fy - 1, q)[0], calendar.quarter_bounds(fy, q)[1]


def quarter_windows(
    quarter: str, calendar: FiscalCalendar, *, today: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """The three date windows a report of ``quarter`` sums, as of ``today``: the quarter to
    date, and the same number of days of the previous quarter and of the quarter a year
    earlier (whole quarters once it is over). A fetch plan needs nothing else."""
    fy, q = calendar.parse_quarter(quarter)
    first, last = calendar.quarter_bounds(fy, q)
    if today < first:
        raise InputError(
            f"quarter {calendar.quarter_label(fy, q)} has no data yet (today is {today})"
        )
    end = min(last, today)
    elapsed = (end - first).days + 1
    out = [(first, end)]
    for a, b in (
        calendar.quarter_bounds(*((fy, q - 1) if q > 1 else (fy - 1, 4))),
        calendar.quarter_bounds(fy - 1, q),
    ):
        out.append((a, b if end == last else min(a + dt.timedelta(days=elapsed - 1), b)))
    return out


def _by_month_first(usage: pd.DataFrame, monthly: pd.DataFrame | None) -> pd.DataFrame:
    """Daily and monthly rows as one frame for window sums: a month ``monthly`` has is taken
    from it, and the days of that month are left out so nothing counts twice."""
    if monthly is None or len(monthly) == 0:
        return usage
    from generect_reports.analysis.usage import _month_codes, validate_usage_frame

    validate_usage_frame(monthly)
    if monthly.attrs.get("period", "month") != "month":
        raise InputError("monthly usage must have period='month'")
    taken = set(_month_codes(monthly).tolist())
    days = usage[~np.isin(_month_codes(usage), list(taken))] if len(usage) else usage
    if len(days) == 0:
        return monthly.copy()
    return pd.concat([days, monthly], ignore_index=True)


def _window_sums(usage: pd.DataFrame, local: pd.Series, first: dt.date, last: dt.date) -> pd.Series:
    mask = ((local >= pd.Timestamp(first)) & (local <= pd.Timestamp(last))).to_numpy()
    return usage.loc[mask].groupby(usage.loc[mask, "operation"].astype(str))["credits"].sum()


def _pct(change: pd.Series, base: pd.Series) -> pd.Series:
    return change / base.where(base != 0)


def build_quarter_report(
    usage: pd.DataFrame,
    quarter: str,
    *,
    monthly: pd.DataFrame | None = None,
    calendar: FiscalCalendar | None = None,
    theme: Theme | None = None,
    template: Any = None,
    account: str | None = None,
    drivers: int = 5,
) -> QuarterReport:
    """Compute the quarter report from daily tidy usage.

    Parameters
    ----------
    usage
        Daily usage (``period='day'``) covering :func:`quarter_window`, or only the days of
        months cut short by :func:`quarter_windows` when ``monthly`` holds the whole months.
    monthly
        Monthly usage (``period='month'``): a month it has is taken from it, not from the days.
    quarter
        ``FY2027-Q1`` (fiscal, named by ``calendar``) or ``2026-Q3`` (a calendar quarter).
    calendar
        The fiscal calendar (default: calendar years).
    drivers
        How many operations to list as drivers of the change against the previous quarter.

    Returns
    -------
    QuarterReport
        Figures in credits; ``estimated_cost`` per operation is the sum of its months' cost
        lines, each priced by the theme's price book and rounded half up to the cent once.
        The previous-year figures are NaN when the data does not reach back that far.
    """
    if usage.attrs.get("period", "day") != "day":
        raise InputError("the quarter report needs daily usage (period='day')")
    calendar = calendar or FiscalCalendar()
    theme = theme or load_theme(template)
    fy, q = calendar.parse_quarter(quarter)
    first, last = calendar.quarter_bounds(fy, q)
    pfy, pq = (fy, q - 1) if q > 1 else (fy - 1, 4)
    prev_first, prev_last = calendar.quarter_bounds(pfy, pq)
    ly_first, ly_last = calendar.quarter_bounds(fy - 1, q)
    data_start = dt.date.fromisoformat(usage.attrs["start"]) if usage.attrs.get("start") else None
    data_end = dt.date.fromisoformat(usage.attrs["end"]) if usage.attrs.get("end") else last
    if monthly is not None and monthly.attrs.get("start"):
        monthly_start = dt.date.fromisoformat(str(monthly.attrs["start"])[:10])
        data_start = monthly_start if data_start is None else min(data_start, monthly_start)
    attrs = dict(usage.attrs)
    usage = _by_month_first(usage, monthly)
    usage.attrs.update(attrs)
    if data_end < first:
        raise InputError(
            f"quarter {calendar.quarter_label(fy, q)} has no data yet (the data ends {data_end})"
        )
    end = min(last, data_end)
    days_in_quarter = (last - first).days + 1
    elapsed = (end - first).days + 1
    complete = elapsed == days_in_quarter
    # Like for like: the same number of elapsed days of each comparison quarter (capped).
    prev_end = (
        prev_last if complete else min(prev_first + dt.timedelta(days=elapsed - 1), prev_last)
    )
    ly_end = ly_last if complete else min(ly_first + dt.timedelta(days=elapsed - 1), ly_last)

    local = usage["period_start"].dt.tz_localize(None).dt.normalize()
    cur = _window_sums(usage, local, first, end)
    prev = _window_sums(usage, local, prev_first, prev_end)
    ly = _window_sums(usage, local, ly_first, ly_end)
    has_prev = data_start is None or data_start <= prev_first
    has_ly = data_start is None or data_start <= ly_first

    ops = sorted(set(cur.index) | set(prev.index) | set(ly.index))
    table = pd.DataFrame(
        {
            "operation": pd.Series(ops, dtype=str),
            "credits": cur.reindex(ops, fill_value=0.0).to_numpy(dtype="float64"),
        }
    )
    table["previous_credits"] = (
        prev.reindex(ops, fill_value=0.0).to_numpy(dtype="float64") if has_prev else np.nan
    )
    table["change"] = table["credits"] - table["previous_credits"]
    table["change_pct"] = _pct(table["change"], table["previous_credits"])
    table["last_year_credits"] = (
        ly.reindex(ops, fill_value=0.0).to_numpy(dtype="float64") if has_ly else np.nan
    )
    table["yoy_change"] = table["credits"] - table["last_year_credits"]
    table["yoy_change_pct"] = _pct(table["yoy_change"], table["last_year_credits"])
    book = theme.price_book
    table["price"] = table["operation"].map(book.unit_prices).fillna(0.0).astype("float64")
    table = table.sort_values(["credits", "operation"], ascending=[False, True], kind="mergesort")
    table = table.reset_index(drop=True)

    months = []
    y, m = first.year, first.month
    for _ in range(3):
        months.append(f"{y}-{m:02d}")
        y, m = shift_month(y, m, 1)
    month_sums = {}
    for label in months:
        a, b = month_bounds(int(label[:4]), int(label[5:]))
        month_sums[label] = _window_sums(usage, local, a, min(b, end)).reindex(
            table["operation"], fill_value=0.0
        )
    by_month = pd.DataFrame({"operation": table["operation"]})
    for label in months:
        by_month[label] = month_sums[label].to_numpy(dtype="float64")
    by_month["total"] = by_month[months].sum(axis=1)
    # Money is booked by month: each month's line is priced and rounded once (the monthly
    # report's figure) and the quarter's line is their sum, so the quarter ties to its months.
    line_ops = table["operation"].to_numpy()
    month_cents = {label: book.costs_cents(line_ops, month_sums[label]) for label in months}
    quarter_cents = sum(month_cents.values(), np.zeros(len(table), dtype="int64"))
    cost_by_month = pd.DataFrame({"operation": table["operation"]})
    for label in months:
        cost_by_month[label] = month_cents[label] / 100
    cost_by_month["total"] = quarter_cents / 100
    table["estimated_cost"] = quarter_cents / 100
    unpriced = sorted(set(table.loc[~table["operation"].isin(list(book.prices)), "operation"]))

    total_change = float(table["change"].sum()) if has_prev else float("nan")
    drv = table[["operation", "change"]].dropna()
    drv = drv.assign(size=drv["change"].abs()).sort_values(
        ["size", "operation"], ascending=[False, True], kind="mergesort"
    )
    drv = drv.head(drivers).drop(columns="size").reset_index(drop=True)
    drv["share_of_change"] = drv["change"] / total_change if total_change else np.nan
    drv["direction"] = np.where(
        drv["change"] > 0, "up", np.where(drv["change"] < 0, "down", "flat")
    )

    basis = (
        "complete quarters"
        if complete
        else f"like for like: days 1-{elapsed} of each quarter (data to {end})"
    )
    notes = [
        f"Compared on {basis}.",
        "Estimated cost uses list prices from the price table (times the tier multiplier), "
        "each month rounded to the cent once; it is an estimate.",
    ]
    missing = [
        label
        for label, ok in (
            (calendar.quarter_label(pfy, pq), has_prev),
            (calendar.quarter_label(fy - 1, q), has_ly),
        )
        if not ok
    ]
    if missing:
        notes.append(f"The data starts {data_start}: no figures for {' or '.join(missing)}.")
    fetched = usage.attrs.get("fetched_at")
    return QuarterReport(
        label=calendar.quarter_label(fy, q),
        previous_label=calendar.quarter_label(pfy, pq),
        last_year_label=calendar.quarter_label(fy - 1, q),
        calendar=calendar,
        start=first,
        end=last,
        months=months,
        timezone=str(usage.attrs.get("timezone", "UTC")),
        source=str(usage.attrs.get("source", "api")),
        # The same account label as the monthly report.
        account=account
        or (
            "Sample account"
            if usage.attrs.get("source") == "sample"
            else str(theme.text.get("account", "Generect account"))
        ),
        as_of=pd.Timestamp(fetched) if fetched is not None else None,
        complete=complete,
        elapsed_days=elapsed,
        days_in_quarter=days_in_quarter,
        comparison_basis=basis,
        total=float(table["credits"].sum()),
        previous_total=float(table["previous_credits"].sum()) if has_prev else float("nan"),
        last_year_total=float(table["last_year_credits"].sum()) if has_ly else float("nan"),
        # the sum of the rounded lines, in whole cents, so the total ties out to them
        estimated_cost=int(quarter_cents.sum()) / 100,
        currency=book.currency,
        by_month=by_month,
        comparison=table,
        drivers=drv,
        notes=notes,
        unpriced=unpriced,
        cost_by_month=cost_by_month,
    )


# --- workbook ----------------------------------------------------------------------------------


# --- the figures as shown, and the email's sentences ----------------------------------------------


def _lit(text: Any) -> str:
    """Text shown literally: a ``$`` in an operation name is not mathtext."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _signed_pct(value: float) -> str:
    if value is None or np.isnan(value):
        return "n/a"
    return ("+" if value > 0 else "") + f"{value * 100:.1f}%"


def _credits(value: float) -> str:
    return "no data" if value is None or np.isnan(value) else f"{value:,.0f}"


def _money(value: float, currency: str) -> str:
    symbol = "$" if currency == "USD" else currency + " "
    return f"{symbol}{value:,.2f}"


def quarter_headings(rep: QuarterReport) -> tuple[str, str]:
    """The comparison quarters as a column or a tile heads them; a running quarter is compared
    like for like, and says so (``2026-Q2 days 1-46``)."""
    if rep.complete:
        return rep.previous_label, rep.last_year_label
    days = f" days 1-{rep.elapsed_days}"
    return rep.previous_label + days, rep.last_year_label + days


def quarter_summary(rep: QuarterReport) -> list[str]:
    """Plain sentences on the quarter for the email's HTML and text parts."""
    change = rep.total - rep.previous_total
    lines = [
        (
            f"{rep.label} ({rep.start:%d %b %Y} to {rep.end:%d %b %Y}): {rep.total:,.0f} credits, "
            f"estimated {_money(rep.estimated_cost, rep.currency)} at list prices."
        )
    ]
    if not np.isnan(rep.previous_total):
        pct = change / rep.previous_total if rep.previous_total else float("nan")
        lines.append(f"Against {rep.previous_label}: {change:+,.0f} credits ({_signed_pct(pct)}).")
    if not np.isnan(rep.last_year_total):
        yoy = rep.total - rep.last_year_total
        pct = yoy / rep.last_year_total if rep.last_year_total else float("nan")
        lines.append(f"Against {rep.last_year_label}: {yoy:+,.0f} credits ({_signed_pct(pct)}).")
    if len(rep.drivers):
        top = rep.drivers.iloc[0]
        lines.append(f"Largest driver: {top['operation']} ({top['change']:+,.0f} credits).")
    if not rep.complete:
        lines.append(f"The quarter is in progress: {rep.comparison_basis}.")
    return lines


def quarter_projection_sentence(forecast: PeriodForecast) -> str:
    """``Quarter-end projection 99,045 credits, 80% interval 97,690 to 105,003 (…); …``: the
    figure, its interval and its measured accuracy, as the notes, the email and the workbook
    state it."""
    from generect_reports.analysis.forecast import period_accuracy_text
    from generect_reports.reports.formats import format_number

    low, high = (format_number(v, 0) for v in forecast.interval_80)
    return (
        f"Quarter-end projection {format_number(forecast.projected, 0)} credits on "
        f"{forecast.end:%d %b %Y}, 80% interval {low} to {high} (from the account's own past "
        f"quarters, an estimate); {period_accuracy_text(forecast)}"
    )
