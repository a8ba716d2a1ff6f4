"""The monthly report's figures, computed once and shared by the workbook, PDF and email.

Every artefact reads the same :class:`MonthlyReport`, so they cannot disagree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from generect_reports._text import name_list
from generect_reports._version import __version__
from generect_reports.analysis import usage as A
from generect_reports.analysis.forecast import LOOKBACK_DAYS, Forecast, month_forecast
from generect_reports.errors import InputError
from generect_reports.money import PriceBook, display_shares, to_hundredths
from generect_reports.periods import month_bounds, parse_month, shift_month
from generect_reports.reports.formats import ReportFormats, format_number, formats_from_theme
from generect_reports.reports.narrative import bridge_table, quantify_anomalies, report_narrative
from generect_reports.theme import Theme, load_theme

__all__ = [
    "MonthlyReport",
    "ReportSections",
    "ReportFormats",
    "build_report",
    "fmt_credits",
    "fmt_pct",
    "fmt_money",
    "fmt_money_change",
    "fmt_change",
    "fmt_signed_pct",
    "fmt_share",
    "last_full_month",
    "report_window",
    "YOY_MONTHS",
    "DEFAULT_HISTORY",
]

#: Months of history the report shows by default (enough to check year-over-year by eye).
DEFAULT_HISTORY = 24
#: Months back to the same month last year.
YOY_MONTHS = 12


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def fmt_credits(value: float, decimals: int = 2) -> str:
    """Credits with thousands separators, rounded half up as a spreadsheet shows them.

    A report's own precision (whole credits without decimals) is ``rep.formats.credits``.
    """
    return "-" if _missing(value) else format_number(float(value), decimals)


def fmt_change(value: float, decimals: int = 2) -> str:
    """A signed credit change (``+3,567.00``); see ``rep.formats.change`` for the report's."""
    return "-" if _missing(value) else format_number(float(value), decimals, sign=True)


def fmt_pct(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage, as ``0.0%`` shows it."""
    return (
        "-"
        if _missing(value)
        else format_number(float(value) * 100, decimals, grouping=False) + "%"
    )


def fmt_signed_pct(value: float) -> str:
    """A signed fraction as a percentage (``+11.9%``); ``n/a`` when missing."""
    return ReportFormats().signed_pct(value)


def fmt_share(percent: float) -> str:
    """An agreed display share given in percent (``share_display``): ``29.3`` → ``29.3%``."""
    return ReportFormats().share(percent)


def fmt_money(value: float, currency: str = "USD") -> str:
    """Money rounded half up to the cent (``$816.15``, ``-$3.20``)."""
    return ReportFormats(currency=currency).money(value)


def fmt_money_change(value: float, currency: str = "USD") -> str:
    """A signed money change (``+$80.12``)."""
    return ReportFormats(currency=currency).money_change(value)


def month_name(month: str) -> str:
    year, mon = parse_month(month)
    return dt.date(year, mon, 1).strftime("%B %Y")


def last_full_month(
    usage: pd.DataFrame | None = None, *, timezone: str = "UTC", now: dt.datetime | None = None
) -> str:
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
    from generect_reports.periods import get_timezone

    today = (now or dt.datetime.now(dt.UTC)).astimezone(get_timezone(timezone)).date()
    year, mon = shift_month(today.year, today.month, -1)
    return A.month_label(year, mon)


def report_window(month: str, history: int, lookback_days: int = 28) -> tuple[dt.date, dt.date]:
    """The daily date range a report of ``month`` needs: ``history`` months (at least back to the
    same month last year, for year-over-year) plus the anomaly baseline before them."""
    if history < 1:
        raise InputError(f"history must be at least 1 month, not {history}")
    year, mon = parse_month(month)
    fy, fm = shift_month(year, mon, -max(history - 1, YOY_MONTHS))
    first = month_bounds(fy, fm)[0] - dt.timedelta(days=lookback_days)
    return first, month_bounds(year, mon)[1]


def _checksum(usage: pd.DataFrame, monthly: pd.DataFrame | None = None) -> str:
    """SHA-256 of the input rows (daily, then monthly) in a canonical order, so the About sheet
    and notes can prove which data a report was built from.

    Each frame contributes its rows sorted by instant and operation, as binary columns: the
    instant (nanoseconds since the epoch, UTC), the operation name and the credits in
    millionths; hashing arrays instead of formatted text keeps ten years of days cheap.
    """
    digest = hashlib.sha256()
    for frame in (usage, monthly):
        if frame is None:
            continue
        instants = pd.DatetimeIndex(frame["period_start"]).as_unit("ns").asi8
        codes, names = pd.factorize(frame["operation"].astype(str), sort=True)
        order = np.lexsort((codes, instants))
        micro = np.round(frame["credits"].to_numpy(dtype="float64") * 1e6).astype("int64")
        digest.update(f"{len(frame)} rows, {len(names)} operations\n".encode())
        digest.update("\0".join(names).encode("utf-8", "surrogatepass"))
        for column in (instants[order], codes.astype("int64")[order], micro[order]):
            digest.update(np.ascontiguousarray(column).astype("<i8").tobytes())
    return digest.hexdigest()


def _month_frame(rows: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """``month, operation, credits`` rows as a tidy monthly usage frame."""
    naive = pd.to_datetime(rows["month"] + "-01", format="%Y-%m-%d")
    starts = pd.DatetimeIndex(naive).tz_localize(
        timezone, nonexistent="shift_forward", ambiguous=np.ones(len(rows), bool)
    )
    frame = pd.DataFrame(
        {
            "period_start": starts,
            "period": rows["month"].to_numpy(dtype=object),
            "operation": rows["operation"].to_numpy(dtype=object),
            "credits": rows["credits"].to_numpy(dtype="float64"),
        }
    )
    frame = frame.astype({"period": str, "operation": str})
    frame.attrs.update({"timezone": timezone, "period": "month"})
    return frame


def _month_sums(months: pd.DataFrame, label: str) -> pd.Series:
    """Credits by operation in month ``label`` of a month-level frame."""
    rows = months[months["period"] == label]
    return rows.groupby("operation", sort=True)["credits"].sum()


def _coverage(usage: pd.DataFrame) -> tuple[dt.date | None, dt.date | None]:
    """First and last local day the daily frame covers (its attrs, else its rows)."""
    lo, hi = usage.attrs.get("start"), usage.attrs.get("end")
    if lo and hi:
        return dt.date.fromisoformat(str(lo)[:10]), dt.date.fromisoformat(str(hi)[:10])
    if len(usage) == 0:
        return None, None
    days = usage["period_start"].dt.tz_localize(None)
    return days.min().date(), days.max().date()


def _tie_out_sentence(label: str, monthly_total: float, days_total: float, kept: str) -> str:
    return (
        f"The API's monthly figure for {month_name(label)} is {fmt_credits(monthly_total)} credits "
        f"but its days add up to {fmt_credits(days_total)} (a difference of "
        f"{fmt_change(monthly_total - days_total)}): {kept}"
    )


def _month_level(
    usage: pd.DataFrame, monthly: pd.DataFrame | None, month: str
) -> tuple[pd.DataFrame, list[str]]:
    """Every month's credits by operation (a tidy ``period='month'`` frame) and the warnings
    where the API's monthly figures and the days disagree.

    A month comes from ``monthly`` unless it is the reported month (its days, which the
    workbook ties day by day) or ``monthly`` lacks it (then from the days it has).
    """
    tz = str(usage.attrs.get("timezone") or "UTC")
    from_days = A.to_monthly(usage)
    if monthly is None or len(monthly) == 0:
        return _month_frame(from_days, tz), []
    from_api = A.to_monthly(monthly)
    lo, hi = _coverage(usage)
    api_months = set(from_api["month"])
    warnings: list[str] = []
    for label in sorted(set(from_days["month"]) & api_months):
        first, last = month_bounds(*parse_month(label))
        if lo is None or hi is None or not (lo <= first and last <= hi):
            continue  # the days cover part of it only: nothing to compare
        days = from_days[from_days["month"] == label].set_index("operation")["credits"]
        api = from_api[from_api["month"] == label].set_index("operation")["credits"]
        ops = days.index.union(api.index)
        d = to_hundredths(days.reindex(ops, fill_value=0.0))
        a = to_hundredths(api.reindex(ops, fill_value=0.0))
        if (d != a).any() or to_hundredths([days.sum()])[0] != to_hundredths([api.sum()])[0]:
            kept = (
                "the report shows its days, which the workbook ties day by day."
                if label == month
                else "the report uses the monthly figure."
            )
            warnings.append(_tie_out_sentence(label, float(api.sum()), float(days.sum()), kept))
    for tie in monthly.attrs.get("tie_outs", []) or []:
        warnings.append(
            _tie_out_sentence(
                tie.label, tie.bucket_total, tie.days_total, "the report uses the monthly figure."
            )
        )
    use_days = (set(from_days["month"]) - api_months) | {month}
    rows = pd.concat(
        [from_days[from_days["month"].isin(use_days)], from_api[~from_api["month"].isin(use_days)]],
        ignore_index=True,
    )
    rows = rows.sort_values(["month", "operation"], kind="mergesort").reset_index(drop=True)
    return _month_frame(rows, tz), warnings


def _recent_days(usage: pd.DataFrame, months: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """The daily rows from ``since`` on: all the daily figures (matrix, anomalies, projection)
    need, however long the history. An operation seen before ``since`` gets a zero row on the
    first day kept, so it counts as started (0, not missing) exactly as with the whole history."""
    days = usage["period_start"].dt.tz_localize(None)
    keep = (days >= since).to_numpy()
    if keep.all() or not keep.any():
        return usage
    recent = usage[keep]
    earlier = set(usage.loc[~keep, "operation"].unique())
    month_codes = A._month_codes(months) if len(months) else np.empty(0, dtype=np.int64)
    earlier |= set(
        months.loc[month_codes < since.year * 12 + since.month - 1, "operation"].unique()
    )
    on_first_day = recent[recent["period_start"] == recent["period_start"].min()]
    seeds = sorted(earlier - set(on_first_day["operation"]))
    if seeds:
        first = on_first_day.iloc[0]
        recent = pd.concat(
            [
                pd.DataFrame(
                    {
                        "period_start": [first["period_start"]] * len(seeds),
                        "period": [first["period"]] * len(seeds),
                        "operation": seeds,
                        "credits": 0.0,
                    }
                ).astype({"period": str, "operation": str}),
                recent,
            ],
            ignore_index=True,
        )
    recent.attrs.update(usage.attrs)
    return recent


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class ReportSections:
    """Optional sections of the monthly report, each computed by its own analysis module.

    ``budget``/``burnup``: the plan limit and budget lines (``analysis.budget.report_budget``);
    ``reconciliation``/``ledger``: the month tied to the ledger (``analysis.reconcile``) and its
    transactions; ``allocation``: credits and estimated cost by customer
    (``analysis.chargeback.allocate_credits``). ``None`` means the section is left out.
    """

    budget: pd.DataFrame | None = None
    burnup: pd.DataFrame | None = None
    reconciliation: Any = None
    ledger: pd.DataFrame | None = None
    allocation: Any = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.budget, self.reconciliation, self.allocation))


@dataclass(frozen=True)
class BookedCost:
    """What the month cost as a controller books it: settled charges valued from the prepaid
    lots they consumed plus the accrual for charges pending at month end (money in currency
    units, exact cents). ``list_value`` is the list-price estimate, a secondary figure."""

    currency: str
    booked_cost: float
    consumed: float
    pending_accrual: float
    list_value: float
    basis: str
    by_operation: dict[str, float] = field(default_factory=dict)

    label = "Booked cost"


@dataclass(frozen=True)
class MonthlyReport:
    """All figures of one month's report. Tables are pandas frames; scalars are floats.

    Fields after ``version`` were added later and have defaults, so sections can keep being
    added the same way. ``formats`` is the one display decision: ``rep.formats.credits(x)`` for
    text, ``rep.formats.excel_credits`` for the workbook.

    ``operations`` (largest credits first; a row for every operation with credits this month,
    in the comparison base or in the year-ago month, so each column adds up to its total):
    ``operation, credits, previous_credits, compared_credits, change, change_pct, share,
    share_display`` (the agreed one-decimal percent), ``price`` (list × multiplier, 0 when
    unpriced), ``list_price`` (NaN when unpriced),
    ``priced``, ``estimated_cost``, ``previous_cost``, ``compared_cost``, ``cost_change`` (each
    rounded half up to the cent once), ``yoy_credits``, ``yoy_change``, ``yoy_change_pct`` (NaN
    without year-ago data), ``cost_share``, ``cost_share_display``. ``anomalies`` adds
    ``excess`` (credits above the baseline) and ``share_of_change`` to ``detect_anomalies``.
    """

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
    #: The display decision (precision from the data or the theme): text and Excel formats.
    formats: ReportFormats = field(default_factory=ReportFormats)
    #: False when the data starts after the previous month began (a first month).
    previous_available: bool = True
    #: The same month last year ('YYYY-MM', 'October 2025'); its figures only when the data
    #: reaches back to its first day. A running month compares its first N days with that
    #: month's first N days. ``yoy_change_pct`` is NaN when the year-ago total is 0.
    yoy_month: str = ""
    yoy_month_name: str = ""
    yoy_available: bool = False
    yoy_total: float | None = None
    yoy_change: float | None = None
    yoy_change_pct: float | None = None
    #: Cost of the comparison base and of this month's compared days (each line rounded once),
    #: and the change between them; ``estimated_cost`` is the sum of the rounded lines.
    previous_cost: float = 0.0
    compared_cost: float = 0.0
    cost_change: float = 0.0
    cost_change_pct: float = float("nan")
    #: ``operation, credits, share_display, estimated_cost, priced, cost_share,
    #: cost_share_display``, ranked by cost, unpriced operations last.
    cost_by_operation: pd.DataFrame = field(default_factory=_empty_frame)
    #: The largest priced cost line and its cost (None/0 when nothing is priced).
    largest_cost_operation: str | None = None
    largest_cost: float = 0.0
    #: The price assumptions the costs were computed with (list prices, before the multiplier).
    tier_multiplier: float = 1.0
    prices: dict[str, float] = field(default_factory=dict)
    #: The price book every cost line was computed with; sections that show money (the budget's
    #: money line, the customers) price with it too, so they agree with the cost table.
    price_book: PriceBook = field(default_factory=PriceBook)
    #: The waterfall from the comparison base to this month (see ``drivers.bridge_table``).
    bridge: pd.DataFrame = field(default_factory=_empty_frame)
    #: The operation with the largest absolute change (None without a comparison).
    biggest_driver: str | None = None
    #: Three to five plain sentences generated from the figures (``drivers.report_narrative``).
    narrative: list[str] = field(default_factory=list)
    #: Limit and budgets, reconciliation, customers: filled by the caller when available.
    sections: ReportSections = field(default_factory=ReportSections)
    #: The booked cost (``[money]``): the headline cost when set; ``estimated_cost`` is then the
    #: list-price value, a labelled secondary figure.
    booked: BookedCost | None = None
    #: A running month's projection (``projection``, the weekday-aware run rate) with its 80 %
    #: and 95 % intervals and measured accuracy; None for a month that is over.
    forecast: Forecast | None = None

    @property
    def rule(self) -> str:
        return A.LIKE_FOR_LIKE_RULE

    @property
    def projection_weekday(self) -> float | None:
        """The month-end projection (the weekday-aware run rate): ``projection``."""
        return self.projection


def _data_start(usage: pd.DataFrame) -> dt.date | None:
    start = usage.attrs.get("start")
    if start:
        return dt.date.fromisoformat(str(start)[:10])
    if len(usage) == 0:
        return None
    return usage["period_start"].min().date()


def build_report(
    usage: pd.DataFrame,
    month: str | None = None,
    *,
    monthly: pd.DataFrame | None = None,
    history: int = DEFAULT_HISTORY,
    template: Any = None,
    theme: Theme | None = None,
    account: str | None = None,
    as_of: Any = None,
) -> MonthlyReport:
    """Compute every figure of the monthly report from daily (and monthly) tidy usage.

    Parameters
    ----------
    usage
        Daily usage (``period='day'``) covering the month and the 28 days before it (for a
        month that is not over, from the first day of the previous month, and last year's
        month up to the same day). Without ``monthly`` it must also cover the history (see
        :func:`report_window`).
    monthly
        Monthly usage (``period='month'``) of the history months, as
        :func:`~generect_reports.fetch.plan.fetch_report_usage` returns it: months the days do
        not cover in full are taken from it. Where a month is in both and they disagree, the
        report says so and uses the monthly figure (the reported month keeps its days, which
        the workbook ties day by day).
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
    if monthly is not None:
        A.validate_usage_frame(monthly)
        if monthly.attrs.get("period", "month") != "month":
            raise InputError("monthly usage must have period='month'")
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
        raise InputError(
            f"month {month} has no complete day of data yet (as of {as_of_ts:%Y-%m-%d %H:%M})"
        )
    # Rows after the as-of day cannot exist in real data; an explicit earlier as_of cuts them off.
    keep = usage["period_start"].dt.tz_localize(None).dt.normalize() <= pd.Timestamp(
        as_of_ts.date()
    )
    if not keep.all():
        attrs = dict(usage.attrs)
        usage = usage[keep.to_numpy()]
        usage.attrs.update(attrs)
    data_start = usage.attrs.get("start")
    data_end = usage.attrs.get("end")
    warnings: list[str] = []
    notes: list[str] = []
    months, month_warnings = _month_level(usage, monthly, month)
    warnings.extend(month_warnings)
    recent = _recent_days(
        usage, months, pd.Timestamp(month_bounds(py, pm)[0]) - pd.Timedelta(days=A.ANOMALY_WINDOW)
    )
    if data_start and dt.date.fromisoformat(data_start) > first:
        warnings.append(f"Data starts on {data_start}: the first days of {month} are missing.")
    if data_end and dt.date.fromisoformat(data_end) < min(
        last, as_of_ts.date() - dt.timedelta(days=1)
    ):
        warnings.append(f"Data ends on {data_end}: later days of {month} are missing.")
    complete = bool(cmp.attrs["complete"])
    elapsed = int(cmp.attrs["elapsed_days"])
    codes = A._month_codes(usage)
    in_month = usage[codes == year * 12 + mon - 1]
    month_rows = (
        A.operation_shares(in_month) if len(in_month) else A.operation_shares(usage.iloc[0:0])
    )

    # Year over year: the same month last year (its first N days for a running month), when the
    # data reaches back that far.
    start_day = _data_start(usage)
    monthly_start = _data_start(monthly) if monthly is not None and len(monthly) else None
    if monthly_start is not None and (start_day is None or monthly_start < start_day):
        start_day = monthly_start
    pfirst = month_bounds(py, pm)[0]
    previous_available = start_day is None or start_day <= pfirst
    yy, ym = shift_month(year, mon, -YOY_MONTHS)
    yoy_month = A.month_label(yy, ym)
    yfirst, ylast = month_bounds(yy, ym)
    yoy_available = start_day is not None and start_day <= yfirst
    yoy_days = (ylast - yfirst).days + 1 if complete else min(elapsed, (ylast - yfirst).days + 1)
    yoy: pd.Series | None = None
    if yoy_available:
        yoy = _month_sums(months, yoy_month) if complete else A._sum_days(usage, yfirst, yoy_days)

    # Per-operation table: month credits against the comparison base (like for like if partial).
    base = cmp.set_index("operation")
    ops = sorted(set(month_rows["operation"]) | set(base.index[base["previous_credits"] != 0]))
    if complete:
        # The whole previous month, from the month-level figures (its days may not all be here).
        prev_month = _month_sums(months, previous_month)
        ops = sorted(set(ops) | set(prev_month.index[prev_month != 0]))
    # An operation used a year ago but neither this month nor last still gets a row (0 and 0):
    # the year-ago total is the whole month, and every column adds up to its total.
    year_ago_only = set() if yoy is None else set(yoy.index[yoy != 0]) - set(ops)
    ops = sorted(set(ops) | year_ago_only)
    credits = month_rows.set_index("operation")["credits"].reindex(ops, fill_value=0.0)
    if complete:
        previous = prev_month.reindex(ops, fill_value=0.0)
        basis = f"whole month, against all of {month_name(previous_month)}"
    else:
        # Compare only complete days; credits of the running day are in the total, not the change.
        credits_cmp = base["credits"].reindex(ops, fill_value=0.0)
        previous = base["previous_credits"].reindex(ops, fill_value=0.0)
        basis = (
            f"like for like: {month} days 1-{elapsed} against {previous_month} days "
            f"1-{cmp.attrs['previous_days']}"
        )
    table = pd.DataFrame(
        {
            "operation": pd.Series(ops, dtype=str),
            "credits": credits.to_numpy(dtype="float64"),
            "previous_credits": previous.to_numpy(dtype="float64"),
        }
    )
    compared = table["credits"] if complete else pd.Series(credits_cmp.to_numpy(dtype="float64"))
    table["compared_credits"] = compared.to_numpy()
    table["change"] = table["compared_credits"] - table["previous_credits"]
    prev_nonzero = table["previous_credits"].where(table["previous_credits"] != 0)
    table["change_pct"] = table["change"] / prev_nonzero
    total = float(table["credits"].sum())
    table["share"] = table["credits"] / total if total else np.nan
    table = table.sort_values(["credits", "operation"], ascending=[False, True], kind="mergesort")
    table = table.reset_index(drop=True)
    # Shown shares from the exact hundredths: the customers section gets the same ones.
    table["share_display"] = display_shares(to_hundredths(table["credits"])) if total else np.nan
    # Every cost line is the price book's: credits × list price × multiplier, in cents, rounded
    # half up once (the workbook's ROUND(credits*price*multiplier,2) gives the same).
    book = theme.price_book
    mult = float(book.multiplier)
    list_price = table["operation"].map(book.prices).astype("float64")
    table["price"] = table["operation"].map(book.unit_prices).fillna(0.0).astype("float64")
    table["list_price"] = list_price.to_numpy()
    table["priced"] = list_price.notna().to_numpy()
    line_ops = table["operation"].to_numpy()
    cents = {
        column: book.costs_cents(line_ops, table[column])
        for column in ("credits", "previous_credits", "compared_credits")
    }
    table["estimated_cost"] = cents["credits"] / 100
    table["previous_cost"] = cents["previous_credits"] / 100
    table["compared_cost"] = cents["compared_credits"] / 100
    table["cost_change"] = (cents["compared_credits"] - cents["previous_credits"]) / 100
    # A row kept for the year-ago column alone has nothing to price: it is not unpriced.
    unpriced = sorted(set(table.loc[~table["priced"], "operation"]) - set(year_ago_only))

    previous_total = float(table["previous_credits"].sum())
    compared_total = float(table["compared_credits"].sum())
    change = compared_total - previous_total
    change_pct = change / previous_total if previous_total else float("nan")

    if yoy is not None:
        table["yoy_credits"] = yoy.reindex(table["operation"], fill_value=0.0).to_numpy(
            dtype="float64"
        )
    else:
        table["yoy_credits"] = np.nan
    table["yoy_change"] = table["compared_credits"] - table["yoy_credits"]
    table["yoy_change_pct"] = table["yoy_change"] / table["yoy_credits"].where(
        table["yoy_credits"] != 0
    )
    yoy_total = float(table["yoy_credits"].sum()) if yoy_available else None
    yoy_change: float | None = None
    yoy_change_pct: float | None = None
    if yoy_total is not None:
        yoy_change = compared_total - yoy_total
        yoy_change_pct = yoy_change / yoy_total if yoy_total else float("nan")

    # One month-end projection: the weekday-aware run rate the plan limit and `status` use,
    # with its intervals from the days at hand (the assembled report replays two years).
    projection = None
    forecast = None
    if not complete:
        # The month and the window before it only: the same days whether the report was read
        # from its fetch plan or from every day (the assembled report replays the history).
        since = pd.Timestamp(first) - pd.Timedelta(days=LOOKBACK_DAYS)
        window = recent[recent["period_start"].dt.tz_localize(None) >= since]
        window.attrs.update(recent.attrs)
        forecast = month_forecast(window, as_of=as_of_ts, lookback_days=LOOKBACK_DAYS)
        projection = forecast.projected

    # History: months × operations, the window clipped to the data.
    mom = A.month_over_month(months)
    fy, fm = shift_month(year, mon, -(history - 1))
    lo, hi = A.month_label(fy, fm), month
    hist = mom[(mom["month"] >= lo) & (mom["month"] <= hi)]
    history_table = hist.pivot_table(
        index="operation", columns="month", values="credits", aggfunc="sum", sort=True
    ).fillna(0.0)
    op_order = list(table["operation"]) + [
        o for o in history_table.index if o not in set(table["operation"])
    ]
    history_table = history_table.reindex(op_order).fillna(0.0)
    history_table = history_table.loc[
        (history_table != 0).any(axis=1) | history_table.index.isin(table["operation"])
    ]
    # Every month the data covers is shown, a month without usage as zeros: only months before
    # the data starts are left out (and said so).
    covered_from = lo
    if start_day is not None:
        covered_from = max(lo, A.month_label(start_day.year, start_day.month))
    span = [A.month_label(*shift_month(fy, fm, k)) for k in range(history)]
    history_table = history_table.reindex(
        columns=[m for m in span if m >= covered_from], fill_value=0.0
    )
    if len(history_table.columns) < history and start_day is not None:
        notes.append(
            f"History shows {len(history_table.columns)} of {history} months: "
            f"the data starts on {start_day}."
        )
    if len(in_month) == 0:
        notes.append(
            f"No usage in {month_name(month)}: the account was idle, every figure is zero."
        )

    daily = in_month.copy()
    daily = daily.sort_values(["period_start", "operation"], kind="mergesort").reset_index(
        drop=True
    )
    full = A.daily_matrix(recent)
    mat = full.loc[(full.index >= pd.Timestamp(first)) & (full.index <= pd.Timestamp(last))]
    # The month day by day: a row kept for the year-ago column alone has no day in it.
    mat = mat.reindex(
        columns=[o for o in table["operation"] if o in mat.columns and o not in year_ago_only]
    ).fillna(0.0)
    anomalies = A.detect_anomalies(recent, matrix=full)
    anomalies = anomalies[(anomalies["day"] >= first) & (anomalies["day"] <= last)].reset_index(
        drop=True
    )
    # Measured against the change only when there is a previous month to change from.
    anomalies = quantify_anomalies(
        anomalies, change if previous_available and previous_total else 0.0
    )

    first_seen = A.to_monthly(months).groupby("operation")["month"].min()
    new_ops = sorted(first_seen[first_seen == month].index) if month != first_seen.min() else []
    if new_ops:
        notes.append("First month with usage for: " + name_list(new_ops) + ".")
    gone = table.loc[
        (table["credits"] == 0) & (table["previous_credits"] != 0), "operation"
    ].tolist()
    if gone:
        notes.append(
            "No usage this month for: " + name_list(gone) + " (used in the previous month)."
        )
    if not complete:
        warnings.append(
            f"{month_name(month)} is not over: data as of {as_of_ts:%Y-%m-%d %H:%M} "
            f"({elapsed} of {cmp.attrs['days_in_month']} days complete); the change is "
            "like for like and the month-end figure is a projection."
        )
    inputs = usage if monthly is None else pd.concat([usage, monthly], ignore_index=True)
    if (inputs["credits"] < 0).any():
        neg = inputs[inputs["credits"] < 0]
        warnings.append(
            f"Negative credits (refunds) in {len(neg)} row(s), "
            f"e.g. {name_list([neg['operation'].iloc[0]])} "
            f"on {neg['period_start'].iloc[0]:%Y-%m-%d}: kept as reported."
        )
    if unpriced:
        notes.append(
            "No list price for: " + name_list(unpriced) + " (unpriced: not in the estimated cost)."
        )
    if "unattributed" in set(table["operation"]):
        notes.append(
            "'unattributed' is the API's total minus its per-operation breakdown "
            "(platform charges)."
        )

    source = usage.attrs.get("source", "api")
    source_label = (
        "sample data (fictional account)"
        if source == "sample"
        else str(usage.attrs.get("base_url", "Generect API"))
    )
    top = str(table["operation"].iloc[0]) if total > 0 and len(table) else None
    all_ops = sorted(set(inputs["operation"].unique()))

    # Cost first: lines ranked by cost, priced before unpriced; shares of the priced cost.
    estimated_cost = int(cents["credits"].sum()) / 100
    previous_cost = int(cents["previous_credits"].sum()) / 100
    compared_cost = int(cents["compared_credits"].sum()) / 100
    cost_change = int(cents["compared_credits"].sum() - cents["previous_credits"].sum()) / 100
    costs = table[["operation", "credits", "share_display", "estimated_cost", "priced"]].copy()
    costs["_unpriced"] = ~costs["priced"]
    costs = costs.sort_values(
        ["_unpriced", "estimated_cost", "credits", "operation"],
        ascending=[True, False, False, True],
        kind="mergesort",
    ).drop(columns="_unpriced")
    costs = costs.reset_index(drop=True)
    priced_rows = costs["priced"].to_numpy()
    cost_sum = float(costs.loc[priced_rows, "estimated_cost"].sum())
    costs["cost_share"] = costs["estimated_cost"] / cost_sum if cost_sum else np.nan
    costs.loc[~priced_rows, "cost_share"] = np.nan
    costs["cost_share_display"] = np.nan
    if cost_sum:
        costs.loc[priced_rows, "cost_share_display"] = display_shares(
            to_hundredths(costs.loc[priced_rows, "estimated_cost"])
        )
    table = table.merge(
        costs[["operation", "cost_share", "cost_share_display"]],
        on="operation",
        how="left",
        sort=False,
    )
    largest = (
        costs.iloc[0]
        if len(costs) and bool(costs["priced"].iloc[0]) and costs["estimated_cost"].iloc[0] > 0
        else None
    )

    if complete:
        start_label, end_label = month_name(previous_month), month_name(month)
    else:
        start_label = f"{month_name(previous_month)} days 1-{cmp.attrs['previous_days']}"
        end_label = f"{month_name(month)} days 1-{elapsed}"
    bridge = bridge_table(table, start_label=start_label, end_label=end_label)
    moved = table.loc[table["change"] != 0]
    biggest_driver = None
    if len(moved) and change != 0 and previous_available:
        biggest_driver = str(
            moved.assign(_abs=moved["change"].abs())
            .sort_values(["_abs", "operation"], ascending=[False, True], kind="mergesort")[
                "operation"
            ]
            .iloc[0]
        )
    formats = formats_from_theme(theme.formats, inputs["credits"], book.currency)

    rep = MonthlyReport(
        month=month,
        month_name=month_name(month),
        previous_month=previous_month,
        previous_month_name=month_name(previous_month),
        timezone=str(usage.attrs.get("timezone", "UTC")),
        source=source,
        source_label=source_label,
        account=account
        or (
            "Sample account"
            if source == "sample"
            else theme.text.get("account", "Generect account")
        ),
        as_of=as_of_ts,
        complete=complete,
        elapsed_days=elapsed,
        days_in_month=int(cmp.attrs["days_in_month"]),
        total=total,
        previous_total=previous_total,
        compared_total=compared_total,
        change=change,
        change_pct=change_pct,
        comparison_basis=basis,
        projection=projection,
        forecast=forecast,
        top_operation=top,
        estimated_cost=estimated_cost,
        currency=book.currency,
        operations=table,
        monthly=history_table,
        daily=daily,
        daily_matrix=mat,
        anomalies=anomalies,
        colors=theme.operation_colors(all_ops),
        notes=notes,
        warnings=warnings,
        checksum=_checksum(usage, monthly),
        theme=theme,
        history=history,
        new_operations=new_ops,
        unpriced=unpriced,
        formats=formats,
        previous_available=previous_available,
        yoy_month=yoy_month,
        yoy_month_name=month_name(yoy_month),
        yoy_available=yoy_available,
        yoy_total=yoy_total,
        yoy_change=yoy_change,
        yoy_change_pct=yoy_change_pct,
        previous_cost=previous_cost,
        compared_cost=compared_cost,
        cost_change=cost_change,
        cost_change_pct=cost_change / previous_cost if previous_cost else float("nan"),
        cost_by_operation=costs,
        largest_cost_operation=None if largest is None else str(largest["operation"]),
        largest_cost=0.0 if largest is None else float(largest["estimated_cost"]),
        tier_multiplier=mult,
        prices=book.prices,
        price_book=book,
        bridge=bridge,
        biggest_driver=biggest_driver,
    )
    # The narrative reads the finished figures, so it is made last.
    return dataclasses.replace(rep, narrative=report_narrative(rep))
