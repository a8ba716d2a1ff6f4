"""The quarter report's figures, and its workbook.

:func:`build_quarter_report` computes everything once into a :class:`QuarterReport`: the
quarter's months side by side, the quarter against the previous quarter and against the same
quarter a year earlier, and the operations that drove the change. A quarter that is not over is
compared like for like: its first *n* days against the first *n* days of each comparison quarter.
:func:`write_quarter_workbook` writes it with XlsxWriter; every formula is stored with its value.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from generect_reports.analysis.calendar import FiscalCalendar
from generect_reports.errors import InputError
from generect_reports.periods import month_bounds, shift_month
from generect_reports.theme import Theme, load_theme

__all__ = [
    "QuarterReport",
    "build_quarter_report",
    "quarter_window",
    "quarter_windows",
    "write_quarter_workbook",
    "render_quarter_workbook",
    "quarter_summary",
    "quarter_page",
    "render_quarter_pdf",
    "write_quarter_pdf",
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


def _col(index: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(index)


def render_quarter_workbook(rep: QuarterReport, path: str | os.PathLike[str]) -> None:
    """Write the quarter workbook to ``path`` (not atomic: see :func:`write_quarter_workbook`).

    Sheets: Summary, Months (side by side), Comparison (previous quarter and a year earlier),
    Drivers. Totals and changes are live formulas stored with their values.
    """
    import xlsxwriter

    from generect_reports.render.records.export import csv_safe

    wb = xlsxwriter.Workbook(
        str(path), {"nan_inf_to_errors": False, "default_date_format": "yyyy-mm-dd"}
    )
    # Fixed document properties so reruns are byte-identical.
    wb.set_properties({"title": f"Generect usage {rep.label}", "created": dt.datetime(2000, 1, 1)})
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    num = wb.add_format({"num_format": "#,##0.00"})
    num_bold = wb.add_format({"num_format": "#,##0.00", "bold": True, "top": 1})
    pct = wb.add_format({"num_format": "0.0%"})
    money = wb.add_format({"num_format": "$#,##0.00" if rep.currency == "USD" else "#,##0.00"})
    head = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True})
    price_fmt = wb.add_format({"num_format": "0.000"})

    def text(name: str) -> str:
        # Operation names come from the API: never let a spreadsheet read one as a formula.
        return csv_safe(str(name))

    def number(ws: Any, row: int, col: int, value: float, fmt: Any) -> None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        else:
            ws.write_number(row, col, float(value), fmt)

    # Summary first in the tab order; filled last, once the other sheets' total rows are known.
    summary = wb.add_worksheet("Summary")
    # Months side by side
    months = wb.add_worksheet("Months")
    cols = ["operation", *rep.months, "total"]
    months.write_row(0, 0, ["Operation", *rep.months, f"{rep.label} total"], head)
    n = len(rep.by_month)
    for i, row in enumerate(rep.by_month.itertuples(index=False), start=1):
        months.write_string(i, 0, text(row[0]))
        for j in range(1, 4):
            number(months, i, j, row[j], num)
        months.write_formula(i, 4, f"=SUM(B{i + 1}:D{i + 1})", num, float(row[4]))
    months.write_string(n + 1, 0, "Total", bold)
    for j in range(1, 5):
        c = _col(j)
        months.write_formula(
            n + 1, j, f"=SUM({c}2:{c}{n + 1})", num_bold, float(rep.by_month[cols[j]].sum())
        )
    months.set_column(0, 0, 22)
    months.set_column(1, 4, 14)

    # Comparison
    cmp = wb.add_worksheet("Comparison")
    headers = [
        "Operation",
        rep.label,
        rep.previous_label,
        "Change",
        "Change %",
        rep.last_year_label,
        "Change vs last year",
        "Change % vs last year",
        "Price",
        "Estimated cost",
    ]
    cmp.write_row(0, 0, headers, head)
    t = rep.comparison
    for i, row in enumerate(t.itertuples(index=False), start=1):
        r = i + 1
        cmp.write_string(i, 0, text(row.operation))
        number(cmp, i, 1, row.credits, num)
        # Against the previous quarter (C, D, E), then the same quarter last year (F, G, H).
        for col, base, change, change_pct in (
            (2, row.previous_credits, row.change, row.change_pct),
            (5, row.last_year_credits, row.yoy_change, row.yoy_change_pct),
        ):
            number(cmp, i, col, base, num)
            if np.isnan(base):
                cmp.write_blank(i, col + 1, None, num)
                cmp.write_blank(i, col + 2, None, pct)
                continue
            b, d = _col(col), _col(col + 1)
            cmp.write_formula(i, col + 1, f"=B{r}-{b}{r}", num, float(change))
            cmp.write_formula(
                i,
                col + 2,
                f'=IF({b}{r}=0,"",{d}{r}/{b}{r})',
                pct,
                "" if np.isnan(change_pct) else float(change_pct),
            )
        cmp.write_number(i, 8, float(row.price), price_fmt)
        # Each month's cost is rounded once to the cent, as in the monthly reports; the
        # quarter's is their sum (the Months sheet lists the operations in the same rows).
        month_costs = "+".join(f"ROUND(Months!{_col(j)}{r}*I{r},2)" for j in range(1, 4))
        cmp.write_formula(i, 9, "=" + month_costs, money, float(row.estimated_cost))
    m = len(t) + 1
    cmp.write_string(m, 0, "Total", bold)
    for j, value in (
        (1, rep.total),
        (2, rep.previous_total),
        (5, rep.last_year_total),
        (9, rep.estimated_cost),
    ):
        c = _col(j)
        if isinstance(value, float) and np.isnan(value):
            cmp.write_blank(m, j, None, num_bold)
        else:
            cmp.write_formula(
                m, j, f"=SUM({c}2:{c}{m})", money if j == 9 else num_bold, float(value)
            )
    cmp.set_column(0, 0, 22)
    cmp.set_column(1, 9, 14)

    # Drivers
    drv = wb.add_worksheet("Drivers")
    drv.write_row(
        0,
        0,
        ["Operation", f"Change vs {rep.previous_label}", "Share of the change", "Direction"],
        head,
    )
    for i, row in enumerate(rep.drivers.itertuples(index=False), start=1):
        drv.write_string(i, 0, text(row.operation))
        drv.write_number(i, 1, float(row.change), num)
        number(drv, i, 2, row.share_of_change, pct)
        drv.write_string(i, 3, row.direction)
    drv.set_column(0, 3, 22)

    summary.activate()
    summary.write_string(0, 0, f"Generect credit usage, {rep.label}", title)
    summary.write_string(1, 0, f"{rep.start} to {rep.end} ({rep.timezone}); {rep.comparison_basis}")
    rows = [
        ("Credits", "Comparison!B", rep.total),
        (rep.previous_label, "Comparison!C", rep.previous_total),
        (rep.last_year_label, "Comparison!F", rep.last_year_total),
    ]
    for k, (name, ref, value) in enumerate(rows, start=3):
        summary.write_string(k, 0, name, bold)
        if isinstance(value, float) and np.isnan(value):
            summary.write_string(k, 1, "no data")
        else:
            summary.write_formula(k, 1, f"={ref}{m + 1}", num, float(value))
    summary.write_string(6, 0, f"Change vs {rep.previous_label}", bold)
    if not np.isnan(rep.previous_total):
        summary.write_formula(6, 1, "=B4-B5", num, rep.total - rep.previous_total)
        summary.write_formula(
            6,
            2,
            '=IF(B5=0,"",B7/B5)',
            pct,
            (rep.total - rep.previous_total) / rep.previous_total if rep.previous_total else "",
        )
    summary.write_string(7, 0, f"Change vs {rep.last_year_label}", bold)
    if not np.isnan(rep.last_year_total):
        summary.write_formula(7, 1, "=B4-B6", num, rep.total - rep.last_year_total)
        summary.write_formula(
            7,
            2,
            '=IF(B6=0,"",B8/B6)',
            pct,
            (rep.total - rep.last_year_total) / rep.last_year_total if rep.last_year_total else "",
        )
    summary.write_string(8, 0, "Estimated cost (list prices)", bold)
    summary.write_formula(8, 1, f"=Comparison!J{m + 1}", money, rep.estimated_cost)
    if rep.booked_cost is not None:
        summary.write_string(9, 0, "Booked cost (consumed + accrual)", bold)
        summary.write_number(9, 1, rep.booked_cost, money)
    for k, note in enumerate(rep.notes, start=10):
        summary.write_string(k, 0, note)
    summary.set_column(0, 0, 34)
    summary.set_column(1, 2, 16)
    wb.close()


def write_quarter_workbook(rep: QuarterReport, path: str | os.PathLike[str]) -> None:
    """Write the quarter workbook to ``path`` atomically."""
    from generect_reports._atomic import atomic_path

    with atomic_path(path) as tmp:
        render_quarter_workbook(rep, tmp)


# --- PDF page and email sentences --------------------------------------------------------------


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


def quarter_page(
    rep: QuarterReport,
    *,
    figsize: tuple[float, float] = (11.69, 8.27),
    colors: dict[str, str] | None = None,
) -> Any:
    """One landscape page: the months side by side as stacked bars, and the comparison table.

    Built on :class:`matplotlib.figure.Figure` directly (no pyplot state); text is 8 pt or more.
    """
    from matplotlib.figure import Figure

    colors = colors or {}
    fig = Figure(figsize=figsize)
    fig.text(0.04, 0.95, _lit(f"Generect credit usage, {rep.label}"), fontsize=16, weight="bold")
    fig.text(
        0.04,
        0.915,
        _lit(
            f"{rep.start} to {rep.end} ({rep.timezone}); {rep.comparison_basis}. "
            "Costs are estimates at list prices."
        ),
        fontsize=9,
    )
    ax = fig.add_axes((0.06, 0.50, 0.55, 0.36))
    bm = rep.by_month
    bottom = np.zeros(len(rep.months))
    palette = [
        "#1f4e79",
        "#2e75b6",
        "#9dc3e6",
        "#c55a11",
        "#f4b183",
        "#548235",
        "#a9d18e",
        "#7f6000",
        "#bfbfbf",
    ]
    for i, row in enumerate(bm.itertuples(index=False)):
        values = np.asarray(row[1:4], dtype="float64")
        colour = "#" + colors.get(str(row[0]), palette[i % len(palette)]).lstrip("#")
        ax.bar(rep.months, values, bottom=bottom, color=colour, label=_lit(row[0]))
        bottom += values
    for x, total in zip(rep.months, bottom):
        ax.annotate(f"{total:,.0f}", (x, total), ha="center", va="bottom", fontsize=9)
    ax.set_title("Credits by month", fontsize=11, loc="left")
    ax.tick_params(labelsize=9)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)

    tiles = [
        (rep.label, _credits(rep.total)),
        (rep.previous_label, _credits(rep.previous_total)),
        (rep.last_year_label, _credits(rep.last_year_total)),
        ("Estimated cost", _money(rep.estimated_cost, rep.currency)),
    ]
    for k, (name, value) in enumerate(tiles):
        fig.text(0.80, 0.84 - k * 0.09, _lit(name), fontsize=9)
        fig.text(0.80, 0.81 - k * 0.09, _lit(value), fontsize=14, weight="bold")

    t = rep.comparison
    cells = [
        [
            _lit(r.operation),
            f"{r.credits:,.0f}",
            _credits(r.previous_credits),
            _signed_pct(r.change_pct),
            _credits(r.last_year_credits),
            _signed_pct(r.yoy_change_pct),
            _money(r.estimated_cost, rep.currency),
        ]
        for r in t.itertuples(index=False)
    ]
    cells.append(
        [
            "Total",
            f"{rep.total:,.0f}",
            _credits(rep.previous_total),
            _signed_pct(
                (rep.total - rep.previous_total) / rep.previous_total
                if rep.previous_total
                else float("nan")
            ),
            _credits(rep.last_year_total),
            _signed_pct(
                (rep.total - rep.last_year_total) / rep.last_year_total
                if rep.last_year_total
                else float("nan")
            ),
            _money(rep.estimated_cost, rep.currency),
        ]
    )
    tax = fig.add_axes((0.04, 0.05, 0.92, 0.38))
    tax.axis("off")
    table = tax.table(
        cellText=cells,
        loc="upper left",
        cellLoc="right",
        colLabels=[
            "Operation",
            rep.label,
            rep.previous_label,
            "change",
            rep.last_year_label,
            "change",
            "est. cost",
        ],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (row, col), cell in table.get_celld().items():
        if col == 0:
            cell.get_text().set_horizontalalignment("left")
        if row == 0 or row == len(cells):
            cell.get_text().set_fontweight("bold")
    return fig


def render_quarter_pdf(rep: QuarterReport, *, colors: dict[str, str] | None = None) -> bytes:
    """The quarter page as a one-page PDF (fonts embedded as TrueType; fixed metadata)."""
    import io

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42, "text.usetex": False}):
        fig = quarter_page(rep, colors=colors)
        buffer = io.BytesIO()
        created = (
            rep.as_of.tz_convert("UTC").to_pydatetime().replace(microsecond=0)
            if rep.as_of is not None
            else dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        )
        metadata = {
            "Title": f"Generect usage {rep.label}",
            "Creator": "generect-reports",
            "Producer": "generect-reports",
            "CreationDate": created,
            "ModDate": None,
        }
        with PdfPages(buffer, metadata=metadata) as pdf:
            pdf.savefig(fig)
    return buffer.getvalue()


def write_quarter_pdf(
    rep: QuarterReport, path: str | os.PathLike[str], *, colors: dict[str, str] | None = None
) -> None:
    """Write the quarter page PDF to ``path`` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, render_quarter_pdf(rep, colors=colors))
