"""The notebook usage explorer: a date range, operations, granularity and unit driving a chart,
a totals table, a period comparison, a drill-down into one operation and an export.

The figures come from pure functions (:func:`filter_usage`, :func:`view_rows`,
:func:`compare_periods`); :class:`UsageExplorer` only wires widgets to them. Charts are drawn
with ``matplotlib.figure.Figure`` and ``FigureCanvasAgg`` directly, so nothing here touches
pyplot or the kernel's plotting backend.

Needs the ``notebooks`` extra (ipywidgets).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import usage as A
from ..analysis.explore import check_comparison, comparison_period
from ..money import PriceBook, as_price_book, display_shares, split_cents, to_hundredths
from ..render.dashboard.charts import (
    BAR_LIMIT,
    DAY_LINE_THRESHOLD,
    amount_formatter,
    draw_drill,
    draw_usage,
)

__all__ = [
    "filter_usage",
    "view_rows",
    "compare_periods",
    "shift_range",
    "UsageGrid",
    "UsageExplorer",
    "GRANULARITIES",
    "UNITS",
    "DAY_LINE_THRESHOLD",
    "BAR_LIMIT",
    "COMPARISONS",
    "selection_alt",
    "Drill",
    "drill_data",
    "drill_alt",
    "drill_chart_args",
    "TIMEZONES",
    "PANEL_CSS",
    "A11Y_JS",
]

GRANULARITIES = ("day", "week", "month")
UNITS = ("credits", "usd")
#: Period A against period B: the current range against the period of the same length just
#: before it, the same days a year before, or any range
#: (:func:`~generect_reports.analysis.explore.comparison_period`).
COMPARISONS = (
    ("previous period (same length)", "previous"),
    ("same period a year before", "yoy"),
    ("custom range", "custom"),
)
#: Offered for live data (the sample is recorded in Europe/Kyiv only).
TIMEZONES = (
    "UTC",
    "Europe/Kyiv",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)


#: The explorer's look beyond ipywidgets' own, shipped inside the panel so it holds in Voilà and
#: in JupyterLab: rows that wrap on a phone, charts that keep their proportions, toggles and
#: buttons with text contrast of at least 4.5:1, a comparison table that scrolls sideways.
PANEL_CSS = """
.generect-explorer .widget-hbox, .generect-dashboard .widget-hbox { flex-wrap: wrap; }
.generect-explorer img.generect-chart, .generect-explorer img.generect-drill-chart,
.generect-explorer img.generect-compare-chart {
  max-width: 100%; height: auto; }
.generect-explorer .widget-toggle-button {
  background: #ffffff; color: #1f2933; border: 1px solid #52606d; }
.generect-explorer .widget-toggle-button.mod-active { background: #1f3a5f; color: #ffffff; }
.generect-explorer .jupyter-button.mod-primary, .generect-dashboard .jupyter-button.mod-primary {
  background: #1565c0; color: #ffffff; }
.generect-compare, .generect-totals, .generect-drill-table { overflow-x: auto; max-width: 100%; }
.generect-explorer .lm-TabBar-tabLabel { color: #1f2933; }
.generect-explorer a, .generect-dashboard a { text-decoration: underline; }
@media (max-width: 640px) {
  .generect-explorer .widget-slider, .generect-explorer .widget-datepicker,
  .generect-explorer .widget-dropdown, .generect-explorer .widget-select-multiple,
  .generect-dashboard .generect-report-button {
    width: 100% !important; max-width: 100%; }
  .generect-explorer .widget-toggle-buttons { flex-wrap: wrap; }
  .generect-explorer .widget-label { width: 84px !important; }
}
@media print {
  .generect-explorer .widget-slider, .generect-explorer button,
  .generect-dashboard button { display: none !important; }
  .generect-explorer img { break-inside: avoid; }
}
"""

#: What ipywidgets cannot say from Python, said by a script the panel carries (it runs in Voilà
#: and, once the notebook has run, in JupyterLab): each handle of a range slider gets an
#: accessible name ("Months, first" and "Months, last"), which the slider library leaves unset.
A11Y_JS = """
(() => {
  const name = (slider) => {
    const label = slider.querySelector('.widget-label');
    return (label && label.textContent.trim()) || 'Range';
  };
  const fix = () => {
    document.querySelectorAll('.generect-explorer .widget-slider').forEach((slider) => {
      const handles = slider.querySelectorAll('.noUi-handle');
      handles.forEach((handle, i) => {
        const want = handles.length > 1 ? name(slider) + (i ? ', last' : ', first')
                                        : name(slider);
        if (handle.getAttribute('aria-label') !== want) handle.setAttribute('aria-label', want);
      });
    });
  };
  fix();
  if (!window.generectA11y) {
    window.generectA11y = new MutationObserver(fix);
    window.generectA11y.observe(document.body, {childList: true, subtree: true});
  }
})();
"""


#: The explorer's tabs, as a shared view's ``tab`` names them.
_TABS = ("totals", "compare", "drill", "export")


def _day(value: Any) -> pd.Timestamp:
    """A local day as a naive midnight (a tz-aware time keeps its local date)."""
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize(None) if stamp.tzinfo else stamp).normalize()


def shift_range(first: Any, last: Any, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The range ``months`` calendar months earlier; a range of whole months stays whole."""
    a, b = _day(first), _day(last)
    whole = a.day == 1 and (b + pd.Timedelta(days=1)).day == 1
    lo = a - pd.DateOffset(months=months)
    hi = (
        (b + pd.Timedelta(days=1) - pd.DateOffset(months=months) - pd.Timedelta(days=1))
        if whole
        else b - pd.DateOffset(months=months)
    )
    return pd.Timestamp(lo), pd.Timestamp(hi)


@dataclass
class _Selection:
    values: np.ndarray  # periods × operations
    labels: list[str]
    starts: list[pd.Timestamp]  # first selected day of each period
    partial: np.ndarray  # bool per period
    operations: list[str]


class UsageGrid:
    """Daily usage as a dense days × operations array, built once, sliced on every change.

    Filtering a 670-day sample this way takes a millisecond instead of a pandas pivot per
    control change.
    """

    def __init__(self, usage: pd.DataFrame) -> None:
        A._check_frame(usage)
        if usage.attrs.get("period") not in (None, "day"):
            from ..errors import InputError

            raise InputError("the explorer needs daily usage (period='day')")
        self.timezone = str(usage.attrs.get("timezone") or "UTC")
        self.attrs = dict(usage.attrs)
        days_all = (
            usage["period_start"].dt.tz_localize(None).dt.normalize()
            if len(usage)
            else pd.Series(dtype="datetime64[ns]")
        )
        op_codes, ops = pd.factorize(usage["operation"], sort=True)
        self.operations: list[str] = [str(o) for o in ops]
        if len(usage):
            first, last = days_all.min(), days_all.max()
        else:
            first = last = pd.Timestamp(self.attrs.get("start") or "2000-01-01")
        self.days = pd.date_range(first, last, freq="D")
        n_days, n_ops = len(self.days), len(self.operations)
        self.values = np.zeros((n_days, n_ops), dtype="float64")
        self.present = np.zeros((n_days, n_ops), dtype=bool)
        if len(usage):
            rows = ((days_all - first).dt.days).to_numpy(dtype=np.int64)
            np.add.at(self.values, (rows, op_codes), usage["credits"].to_numpy(dtype="float64"))
            self.present[rows, op_codes] = True
        idx = self.days
        iso = idx.isocalendar()
        self._labels = {
            "day": np.asarray(idx.strftime("%Y-%m-%d"), dtype=object),
            "week": np.asarray(
                (iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)).to_numpy(),
                dtype=object,
            ),
            "month": np.asarray(idx.strftime("%Y-%m"), dtype=object),
        }
        self._cents: dict[PriceBook, np.ndarray] = {}
        self._length = {
            "day": np.ones(n_days, dtype=np.int64),
            "week": np.full(n_days, 7, dtype=np.int64),
            "month": idx.days_in_month.to_numpy(dtype=np.int64),
        }

    @property
    def first_day(self) -> pd.Timestamp:
        return self.days[0]

    @property
    def last_day(self) -> pd.Timestamp:
        return self.days[-1]

    def months(self) -> list[str]:
        return list(dict.fromkeys(self._labels["month"]))

    def totals_by_operation(self) -> list[str]:
        """Operations, largest total first (ties by name)."""
        sums = self.values.sum(axis=0)
        order = sorted(range(len(self.operations)), key=lambda i: (-sums[i], self.operations[i]))
        return [self.operations[i] for i in order]

    def price_vector(self, prices: PriceBook | Mapping[str, float] | None) -> np.ndarray:
        """Price of one credit of each operation (list × multiplier; 0 when unpriced)."""
        unit = as_price_book(prices).unit_prices
        return np.array([unit.get(op, 0.0) for op in self.operations], dtype="float64")

    def cents(self, prices: PriceBook | Mapping[str, float] | None) -> np.ndarray:
        """Estimated cost as a days × operations array of integer cents, built once per book.

        Each calendar month's line of an operation is priced and rounded once by the price
        book (the monthly report's figure), then split over the month's days in whole cents
        (:func:`~generect_reports.money.split_cents`, as the FOCUS export splits it): a whole
        month in dollars is the report's cost line, and its days add up to it.

        Parameters
        ----------
        prices
            A :class:`~generect_reports.money.PriceBook`, list prices by operation (multiplier
            1), or None for the bundled book.

        Returns
        -------
        numpy.ndarray
            int64 cents, one row per day of the grid, one column per operation.
        """
        book = as_price_book(prices)
        cached = self._cents.get(book)
        if cached is not None:
            return cached
        out = np.zeros(self.values.shape, dtype="int64")
        labels = self._labels["month"]
        if self.values.size:
            starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
            sums = np.add.reduceat(self.values, starts, axis=0)  # months × operations
            ops = np.asarray(self.operations, dtype=object)
            lines = book.costs_cents(np.tile(ops, len(starts)), sums.ravel()).reshape(sums.shape)
            unit = self.price_vector(book) * 100.0
            ends = np.r_[starts[1:], len(labels)]
            for m, (lo, hi) in enumerate(zip(starts, ends)):  # months × operations, not days
                for j in np.flatnonzero(self.values[lo:hi].any(axis=0)):
                    out[lo:hi, j] = split_cents(int(lines[m, j]), self.values[lo:hi, j] * unit[j])
        self._cents[book] = out
        return out

    def day_in_data(self, text: str) -> pd.Timestamp | None:
        """The day a link gives as ``YYYY-MM-DD`` when it lies within the data, else None."""
        import re

        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return None
        try:
            value = pd.Timestamp(text)
        except ValueError:
            return None
        return value if self.first_day <= value <= self.last_day else None

    def select(
        self,
        first: Any,
        last: Any,
        operations: Iterable[str] | None,
        granularity: str,
        unit: str = "credits",
        prices: PriceBook | Mapping[str, float] | None = None,
    ) -> _Selection:
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}")
        lo = max(int(self.days.searchsorted(_day(first), side="left")), 0)
        hi = int(self.days.searchsorted(_day(last), side="right"))
        wanted = set(self.operations if operations is None else operations)
        cols = [i for i, op in enumerate(self.operations) if op in wanted]
        empty = _Selection(np.zeros((0, 0)), [], [], np.zeros(0, dtype=bool), [])
        if hi <= lo or not cols:
            return empty
        cols = [i for i in cols if self.present[lo:hi, i].any()]
        if not cols:
            return empty
        labels = self._labels[granularity][lo:hi]
        # Days are in order, so each period is one contiguous run: reduceat sums the runs.
        change = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        if unit == "usd":  # whole cents added, then shown in dollars
            sums = np.add.reduceat(self.cents(prices)[lo:hi][:, cols], change, axis=0) / 100
        else:
            sums = np.add.reduceat(self.values[lo:hi][:, cols], change, axis=0)
        counts = np.diff(np.r_[change, hi - lo])
        partial = counts < self._length[granularity][lo:hi][change]
        sums_total = sums.sum(axis=0)
        order = sorted(range(len(cols)), key=lambda j: (-sums_total[j], self.operations[cols[j]]))
        return _Selection(
            values=sums[:, order],
            labels=[str(x) for x in labels[change]],
            starts=list(self.days[lo:hi][change]),
            partial=partial,
            operations=[self.operations[cols[j]] for j in order],
        )


def _range_of(
    grid: UsageGrid, months: Sequence[str] | None, dates: Sequence[Any] | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    if dates is not None:
        return _day(dates[0]), _day(dates[1])
    if months is not None:
        from ..periods import parse_month

        y0, m0 = parse_month(str(months[0]))
        y1, m1 = parse_month(str(months[1]))
        first = pd.Timestamp(y0, m0, 1)
        last = pd.Timestamp(y1, m1, 1) + pd.offsets.MonthEnd(0)
        return first, last
    return grid.first_day, grid.last_day


def _wide(sel: _Selection, granularity: str) -> pd.DataFrame:
    wide = pd.DataFrame(
        sel.values,
        index=pd.Index(sel.labels, name=granularity),
        columns=pd.Index(sel.operations, name="operation"),
    )
    wide.attrs["partial"] = [lab for lab, p in zip(sel.labels, sel.partial) if p]
    return wide


def filter_usage(
    usage: pd.DataFrame,
    *,
    months: Sequence[str] | None = None,
    dates: Sequence[Any] | None = None,
    operations: Iterable[str] | None = None,
    granularity: str = "month",
    unit: str = "credits",
    prices: PriceBook | Mapping[str, float] | None = None,
    grid: UsageGrid | None = None,
) -> pd.DataFrame:
    """Daily usage filtered and re-aggregated for display.

    Parameters
    ----------
    usage
        Daily tidy usage.
    months
        ``(first, last)`` months, inclusive ('YYYY-MM'); None for all.
    dates
        ``(first, last)`` local days, inclusive; overrides ``months``.
    operations
        Operations to keep; None for all.
    granularity
        ``day``, ``week`` (ISO) or ``month``.
    unit
        ``credits`` or ``usd`` (estimated cost: each month's line priced by the price book,
        rounded once and split over its days in whole cents).
    prices
        The :class:`~generect_reports.money.PriceBook` (default the bundled one), or list
        prices by operation (multiplier 1).
    grid
        A prebuilt :class:`UsageGrid` of ``usage`` (saves rebuilding it).

    Returns
    -------
    pandas.DataFrame
        Periods (rows, in order) × operations (columns, largest total first) of the chosen unit.
        ``attrs["partial"]`` lists the periods the range covers only in part (a week or month
        cut by the range's ends or the data's).
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    grid = grid or UsageGrid(usage)
    first, last = _range_of(grid, months, dates)
    return _wide(grid.select(first, last, operations, granularity, unit, prices), granularity)


def view_rows(
    usage: pd.DataFrame,
    *,
    months: Sequence[str] | None = None,
    dates: Sequence[Any] | None = None,
    operations: Iterable[str] | None = None,
    granularity: str = "month",
    grid: UsageGrid | None = None,
    unit: str = "credits",
    prices: PriceBook | Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The filtered view as a tidy frame, ready for the package's CSV and xlsx writers.

    Parameters
    ----------
    unit
        ``credits``, or ``usd`` to add the estimated cost the dollar view shows (whole cents,
        as :meth:`UsageGrid.cents` splits them).

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (local midnight of the period's first selected day, tz-aware),
        ``period`` (label), ``operation``, ``credits``, then ``estimated_usd`` with
        ``unit="usd"``; periods clipped to the range, as the API clips buckets.
        ``attrs`` carry the source's timezone, ``period``, ``start``, ``end`` and ``partial``
        (the labels of the periods the range covers only in part).
    """
    grid = grid or UsageGrid(usage)
    first, last = _range_of(grid, months, dates)
    sel = grid.select(first, last, operations, granularity)
    n_p, n_o = sel.values.shape if sel.values.size else (0, 0)
    starts = (
        pd.DatetimeIndex(sel.starts).tz_localize(grid.timezone)
        if n_p
        else pd.DatetimeIndex([], tz=grid.timezone)
    )
    out = pd.DataFrame(
        {
            "period_start": np.repeat(starts, n_o) if n_p else starts,
            "period": pd.Series(np.repeat(np.asarray(sel.labels, dtype=object), n_o), dtype=str),
            "operation": pd.Series(
                np.tile(np.asarray(sel.operations, dtype=object), n_p), dtype=str
            ),
            "credits": sel.values.ravel() if n_p else np.zeros(0),
        }
    )
    out.attrs.update(
        {k: v for k, v in grid.attrs.items() if k in ("timezone", "source", "fetched_at")}
    )
    if unit == "usd":
        money = grid.select(first, last, operations, granularity, "usd", prices)
        # Same periods, operations in the same order (both ranked by credits... of the unit:
        # align by name, not position).
        usd = pd.DataFrame(money.values, columns=money.operations) if n_p else pd.DataFrame()
        out["estimated_usd"] = (
            usd.reindex(columns=sel.operations).fillna(0.0).to_numpy().ravel()
            if n_p
            else np.zeros(0)
        )
    elif unit != "credits":
        raise ValueError(f"unit must be one of {UNITS}")
    out.attrs.update(
        {
            "period": granularity,
            "unit": unit,
            "start": str(max(first, grid.first_day).date()),
            "end": str(min(last, grid.last_day).date()),
            "partial": [label for label, p in zip(sel.labels, sel.partial) if p],
        }
    )
    return out


def compare_periods(
    usage: pd.DataFrame,
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    operations: Iterable[str] | None = None,
    unit: str = "credits",
    prices: PriceBook | Mapping[str, float] | None = None,
    grid: UsageGrid | None = None,
) -> pd.DataFrame:
    """Each operation's total in period A against period B.

    Returns
    -------
    pandas.DataFrame
        ``operation``, ``a``, ``b``, ``change`` (b − a), ``change_pct`` (a fraction, NaN when a
        is 0), largest b first; operations without usage in either period are left out.
    """
    grid = grid or UsageGrid(usage)
    ops = list(grid.operations if operations is None else operations)
    sums = {}
    for key, (first, last) in (("a", a), ("b", b)):
        sel = grid.select(first, last, ops, "month", unit, prices)
        sums[key] = pd.Series(
            sel.values.sum(axis=0) if sel.values.size else [], index=sel.operations, dtype="float64"
        )
    frame = pd.DataFrame(sums).fillna(0.0)
    frame.index.name = "operation"
    frame = frame.reset_index()
    frame["change"] = frame["b"] - frame["a"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(
            frame["a"] != 0, frame["change"] / frame["a"].where(frame["a"] != 0, 1.0), np.nan
        )
    frame = frame.sort_values(["b", "operation"], ascending=[False, True], kind="mergesort")
    return frame.reset_index(drop=True)


def _png(fig: Any, dpi: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # zlib level 1: a third of the encoding time of the default for a few more bytes over a
    # local socket; the redraw budget is half a second.
    canvas.print_figure(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _picture(png: bytes, alt: str, css_class: str, size: tuple[int, int]) -> str:
    """An ``<img>`` of ``png`` with its text alternative, drawn in a box of ``size`` CSS pixels
    that narrows with the page and keeps its proportions."""
    encoded = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="{css_class}" alt="{escape(alt)}" width="{size[0]}" height="{size[1]}" '
        'style="max-width:100%;height:auto;display:block" '
        f'src="data:image/png;base64,{encoded}">'
    )


def _scroll_box(table: str, label: str) -> str:
    """``table`` in a box that scrolls sideways when wider than the page (a phone) and takes
    the keyboard focus, so a keyboard user can scroll it as well."""
    return (
        f'<div class="generect-scroll" role="region" tabindex="0" aria-label="{escape(label)}" '
        f'style="overflow-x:auto;max-width:100%">{table}</div>'
    )


def _download_link(path: Path, data: bytes, mime: str) -> str:
    """An HTML link that downloads ``data`` in any front end (Lab, Voilà, a static page)."""
    from html import escape

    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<a class="generect-download" download="{escape(path.name)}" '
        f'style="color:#1565c0;text-decoration:underline" '
        f'href="data:{mime};base64,{encoded}">{escape(path.name)}</a>'
    )


def selection_alt(title: str, sel: _Selection, granularity: str, unit: str) -> str:
    """The text alternative of a chart of ``sel``: its title, the total, the largest
    operations and the highest period (a screen reader's and a failed image's text)."""
    money = unit == "usd"

    def amount(v: float) -> str:
        return f"${v:,.2f}" if money else f"{v:,.0f} credits"

    if not sel.labels:
        return f"Chart: {title}. No usage in this selection."
    totals = sel.values.sum(axis=0)
    total = float(totals.sum())
    per_period = sel.values.sum(axis=1)
    top = int(np.argmax(per_period))
    ranked = ", ".join(
        f"{op} {amount(float(v))}" for op, v in list(zip(sel.operations, totals))[:3]
    )
    more = len(sel.operations) - 3
    return (
        f"Chart: {title}. Total {amount(total)} over {len(sel.labels)} "
        f"{granularity}{'s' if len(sel.labels) != 1 else ''}. "
        f"Largest: {ranked}{f' and {more} more' if more > 0 else ''}. "
        f"Highest {granularity}: {sel.labels[top]} with "
        f"{amount(float(per_period[top]))}."
    )


@dataclass(frozen=True)
class Drill:
    """One operation's drill-down over a range: its days (``sel``), its anomalies in the
    range (``anomalies``) and its share of all credits by month (``shares``, NaN for a month
    without credits, empty when the operation has none), labelled by ``share_labels``."""

    sel: _Selection
    anomalies: pd.DataFrame
    shares: np.ndarray
    share_labels: list[str]


def drill_data(
    grid: UsageGrid, anomalies: pd.DataFrame, op: str | None, first: Any, last: Any
) -> Drill:
    """The drill-down of ``op`` from ``first`` to ``last``: what the dashboard and the notebook
    explorer draw and list."""
    sel = grid.select(first, last, [op] if op else [], "day")
    mine = anomalies.iloc[0:0]
    if len(anomalies) and op:
        days = pd.to_datetime(anomalies["day"])
        mine = anomalies[(anomalies["operation"] == op) & (days >= first) & (days <= last)]
    everything = grid.select(first, last, None, "month")
    shares = np.zeros(0)
    if everything.labels and op in everything.operations:
        totals = everything.values.sum(axis=1)
        col = everything.operations.index(op)
        shares = np.where(
            totals > 0, everything.values[:, col] / np.where(totals > 0, totals, 1), np.nan
        )
    return Drill(sel, mine, shares, everything.labels)


def drill_alt(op: str | None, first: Any, last: Any, drill: Drill) -> str:
    """The text alternative of the drill-down chart: the total, the highest day and the
    anomalies marked, or that the range has no usage of ``op``."""
    sel = drill.sel
    if not op or not sel.labels:
        return f"Chart: {op or 'no operation'}: no usage in this range."
    series = sel.values[:, 0]
    days = pd.DatetimeIndex(sel.starts)
    n = len(drill.anomalies)
    return (
        f"Chart: {op}, credits per day, {first:%d %b %Y} – {last:%d %b %Y}: "
        f"{float(series.sum()):,.0f} credits over {len(series)} days, highest "
        f"{float(series.max()):,.0f} on {days[int(np.argmax(series))]:%d %b %Y}; "
        f"{n} anomal{'y' if n == 1 else 'ies'} marked. Below it, the operation's share of all "
        "credits by month."
    )


def drill_chart_args(op: str | None, drill: Drill, color: str) -> dict[str, Any]:
    """What :func:`~generect_reports.render.dashboard.charts.draw_drill` (and ``drill_chart``)
    draw of ``drill``: the same chart in the dashboard and the notebook explorer."""
    sel, mine = drill.sel, drill.anomalies
    found = bool(op) and bool(sel.labels)
    return {
        "title": (
            f"{op}: credits per day"
            if found
            else f"No usage of {op} in this range"
            if op
            else "No operation"
        ),
        "days": list(sel.starts) if found else [],
        "series": sel.values[:, 0] if found else np.zeros(0),
        "anomaly_days": list(pd.to_datetime(mine["day"])) if len(mine) else [],
        "anomaly_values": list(mine["credits"]) if len(mine) else [],
        "share_labels": list(drill.share_labels),
        "shares": drill.shares,
        "color": color,
    }


class UsageExplorer:
    """Widgets for exploring usage; ``.panel`` is the widget to display.

    Setting any control (``months.value``, ``start.value``/``end.value``, ``operations.value``,
    ``granularity.value``, ``unit.value``) recomputes :attr:`filtered` and redraws the chart
    once. Nothing outside the explorer changes it: fixed selections in a notebook call
    :func:`filter_usage` instead, so the panel stays where the reader left it.

    Parameters
    ----------
    usage
        Daily tidy usage.
    prices
        The :class:`~generect_reports.money.PriceBook` of the dollar view (default: the
        theme's), or list prices by operation (multiplier 1).
    colors
        Hex colour per operation (default: the theme's).
    loader
        ``loader(timezone) -> usage`` for live data: enables the timezone choice. None for the
        sample, whose timezone is fixed.
    export_dir
        Where exports are written (default: the working folder).
    chart_size
        Chart box in CSS pixels; the image is drawn at twice that for high-resolution screens.
    """

    def __init__(
        self,
        usage: pd.DataFrame,
        *,
        prices: PriceBook | Mapping[str, float] | None = None,
        colors: Mapping[str, str] | None = None,
        loader: Callable[[str], pd.DataFrame] | None = None,
        export_dir: str | os.PathLike[str] | None = None,
        chart_size: tuple[int, int] = (900, 380),
    ) -> None:
        import ipywidgets as w
        from matplotlib.figure import Figure

        from ..theme import load_theme

        theme = load_theme()
        self.price_book = as_price_book(prices) if prices is not None else theme.price_book
        self.prices = self.price_book.prices  # list prices, as before
        self._theme_colors = colors
        self._theme = theme
        self.loader = loader
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.chart_size = chart_size
        self.draw_count = 0
        self.filtered = pd.DataFrame()
        self.compared = pd.DataFrame()
        self.last_export: Path | None = None
        self._hold = False
        self._anomalies: pd.DataFrame | None = None
        self._set_usage(usage)

        months = self.grid.months()
        self.months = w.SelectionRangeSlider(
            options=months,
            index=(0, len(months) - 1),
            description="Months",
            continuous_update=False,
            layout=w.Layout(width="560px"),
        )
        self.start = w.DatePicker(
            description="From", value=self.grid.first_day.date(), layout=w.Layout(width="230px")
        )
        self.end = w.DatePicker(
            description="To", value=self.grid.last_day.date(), layout=w.Layout(width="230px")
        )
        ranked = self.grid.totals_by_operation()
        self.operations = w.SelectMultiple(
            options=ranked,
            value=tuple(ranked),
            rows=min(10, max(len(ranked), 1)),
            description="Operations",
            layout=w.Layout(width="330px"),
        )
        self.select_all = w.Button(
            description="All", layout=w.Layout(width="70px"), tooltip="Select every operation"
        )
        self.select_none = w.Button(
            description="None", layout=w.Layout(width="70px"), tooltip="Clear the selection"
        )
        self.granularity = w.ToggleButtons(
            options=list(GRANULARITIES),
            value="month",
            description="Period",
            style={"button_width": "70px"},
        )
        self.unit = w.ToggleButtons(
            options=[("credits", "credits"), ("est. USD", "usd")],
            value="credits",
            description="Unit",
            style={"button_width": "80px"},
        )
        tz_options = list(dict.fromkeys([self.grid.timezone, *TIMEZONES]))
        self.timezone = w.Dropdown(
            options=tz_options,
            value=self.grid.timezone,
            description="Timezone",
            disabled=loader is None,
            tooltip="Live data only: the sample is recorded in Europe/Kyiv",
        )
        # A disabled control says why, in the page (a tooltip is invisible on a phone).
        self.timezone_note = w.HTML(
            "<span class='generect-tz-note' style='color:#555;font-size:12px'>"
            f"Days are in {escape(self.grid.timezone)}: the bundled sample is recorded in that "
            "timezone only; live data can be shown in another.</span>"
            if loader is None
            else ""
        )
        self.status = w.HTML()
        width, height = chart_size
        # An HTML widget updated in place (no display messages on each change, so the panel
        # behaves the same in Jupyter, in Voilà, in nbclient and under nbval) holding an <img>
        # with its text alternative: the picture's figures in words (see _alt_text).
        self.chart = w.HTML()
        self.chart.add_class("generect-chart-box")
        self.chart_png = b""
        self.chart_alt = ""
        self.figure = Figure(figsize=(width / 100, height / 100), dpi=100)
        self.table_view = w.HTML()
        self.table_view.add_class("generect-totals")

        self.compare_mode = w.Dropdown(
            options=list(COMPARISONS), value="previous", description="Compare with"
        )
        self.compare_verdict: Any = None
        self.a_start = w.DatePicker(description="A from", layout=w.Layout(width="230px"))
        self.a_end = w.DatePicker(description="A to", layout=w.Layout(width="230px"))
        self.compare_view = w.HTML()
        self.compare_view.add_class("generect-compare")
        self.compare_chart = w.HTML()
        self.compare_chart.add_class("generect-compare-chart-box")
        self.compare_png = b""
        self.compare_alt = ""

        self.drill = w.Dropdown(
            options=ranked, value=ranked[0] if ranked else None, description="Operation"
        )
        self.drill_chart = w.HTML()
        self.drill_chart.add_class("generect-drill-chart-box")
        self.drill_png = b""
        self.drill_alt = ""
        self.drill_figure = Figure(figsize=(width / 100, height * 1.3 / 100), dpi=100)
        self.drill_view = w.HTML()
        self.drill_view.add_class("generect-drill-table")
        self._drill_stale = True
        self._compare_stale = True

        self.export_format = w.ToggleButtons(
            options=[("CSV", "csv"), ("Excel", "xlsx")],
            value="csv",
            description="Format",
            style={"button_width": "70px"},
        )
        self.export_button = w.Button(description="Export the view", button_style="primary")
        self.export_button.add_class("generect-export")
        self.export_view = w.HTML()
        self.export_view.add_class("generect-export-link")

        for control in (self.operations, self.granularity, self.unit):
            control.observe(self._changed, names="value")
        self.months.observe(self._months_changed, names="value")
        for picker in (self.start, self.end):
            picker.observe(self._dates_changed, names="value")
        for control in (self.compare_mode, self.a_start, self.a_end):
            control.observe(self._compare_changed, names="value")
        self.select_all.on_click(lambda _b: self._set_operations(tuple(self.operations.options)))
        self.select_none.on_click(lambda _b: self._set_operations(()))
        self.drill.observe(self._drill_changed, names="value")
        self.timezone.observe(self._timezone_changed, names="value")
        self.export_button.on_click(lambda _b: self.export())

        self.tabs = w.Tab(
            children=[
                self.table_view,
                w.VBox(
                    [
                        w.HBox([self.compare_mode, self.a_start, self.a_end]),
                        w.HBox([self.compare_view, self.compare_chart]),
                    ]
                ),
                w.VBox([self.drill, self.drill_chart, self.drill_view]),
                w.VBox([w.HBox([self.export_format, self.export_button]), self.export_view]),
            ]
        )
        for i, title in enumerate(("Totals", "Compare", "Drill-down", "Export")):
            self.tabs.set_title(i, title)
        self.tabs.observe(self._tab_changed, names="selected_index")
        controls = w.VBox(
            [
                w.HBox([self.months]),
                w.HBox([self.start, self.end, self.timezone]),
                self.timezone_note,
                w.HBox(
                    [
                        w.VBox([self.operations, w.HBox([self.select_all, self.select_none])]),
                        w.VBox([self.granularity, self.unit]),
                    ]
                ),
            ]
        )
        self.style = w.HTML(f"<style>{PANEL_CSS}</style>")
        # The script as an output of its own (never printed outside a kernel).
        self.a11y = w.Output()
        self.a11y.outputs = (
            {
                "output_type": "display_data",
                "data": {"application/javascript": A11Y_JS},
                "metadata": {},
            },
        )
        self.a11y.add_class("generect-a11y")
        self.share_link = w.HTML()
        self.share_link.add_class("generect-share")
        self.panel = w.VBox(
            [self.style, self.a11y, controls, self.status, self.chart, self.share_link, self.tabs]
        )
        self.panel.add_class("generect-explorer")
        for control in (
            self.granularity,
            self.unit,
            self.operations,
            self.start,
            self.end,
            self.compare_mode,
            self.a_start,
            self.a_end,
            self.drill,
        ):
            control.observe(lambda _c: self._update_share_link(), names="value")
        self.tabs.observe(lambda _c: self._update_share_link(), names="selected_index")
        self._sync_compare_pickers()
        self.update()
        self._update_share_link()

    # -- shareable views -------------------------------------------------------------------

    def view_query(self) -> str:
        """The controls' state as a URL query (no token): opening the dashboard with it
        (:meth:`apply_view`) shows the same view."""
        from urllib.parse import urlencode

        state: dict[str, str] = {}
        if self.start.value is not None and self.end.value is not None:
            state["from"], state["to"] = self.start.value.isoformat(), self.end.value.isoformat()
        state["period"] = self.granularity.value
        state["unit"] = self.unit.value
        if set(self.operations.value) != set(self.operations.options):
            state["ops"] = ",".join(self.operations.value)
        state["tab"] = _TABS[self.tabs.selected_index or 0]
        state["compare"] = self.compare_mode.value
        if self.compare_mode.value == "custom" and self.a_start.value and self.a_end.value:
            state["a_from"] = self.a_start.value.isoformat()
            state["a_to"] = self.a_end.value.isoformat()
        if self.drill.value is not None:
            state["op"] = self.drill.value
        return urlencode(state, safe=",")

    def apply_view(self, query: str | None) -> list[str]:
        """Set the controls from a URL query made by :meth:`view_query`; values that do not fit
        this data (an unknown operation, a date outside it, a malformed value) are left as they
        are. Returns the names of the ignored keys."""
        from urllib.parse import parse_qs

        if not query:
            return []
        given = {k: v[-1] for k, v in parse_qs(query.lstrip("?")).items() if k != "token"}
        ignored: list[str] = []

        def a_day(key: str) -> Any:
            value = self.grid.day_in_data(given.get(key, ""))
            return None if value is None else value.date()

        self._hold = True
        try:
            for key, control, allowed in (
                ("period", self.granularity, GRANULARITIES),
                ("unit", self.unit, UNITS),
                ("compare", self.compare_mode, tuple(v for _label, v in COMPARISONS)),
                ("op", self.drill, tuple(self.drill.options)),
            ):
                if key in given:
                    if given[key] in allowed:
                        control.value = given[key]
                    else:
                        ignored.append(key)
            if "ops" in given:
                ops = [o for o in given["ops"].split(",") if o]
                if ops and set(ops) <= set(self.operations.options):
                    self.operations.value = tuple(ops)
                else:
                    ignored.append("ops")
            first, last = a_day("from"), a_day("to")
            if "from" in given or "to" in given:
                if first is not None and last is not None and first <= last:
                    self.start.value, self.end.value = first, last
                else:
                    ignored += [k for k in ("from", "to") if k in given]
            a_first, a_last = a_day("a_from"), a_day("a_to")
            if a_first is not None and a_last is not None and a_first <= a_last:
                self.a_start.value, self.a_end.value = a_first, a_last
            else:
                ignored += [k for k in ("a_from", "a_to") if k in given]
        finally:
            self._hold = False
        self._follow_dates()
        self._compare_stale = self._drill_stale = True
        tab = given.get("tab")
        if tab in _TABS:
            self.tabs.selected_index = _TABS.index(tab)
        elif tab is not None:
            ignored.append("tab")
        self.update()
        self._update_share_link()
        return ignored

    def _update_share_link(self) -> None:
        if self._hold:
            return
        self.share_link.value = (
            f"<a class='generect-share-link' href='?{escape(self.view_query())}' "
            "style='color:#1565c0;font-size:13px;text-decoration:underline'>Link to this view</a>"
            "<span style='color:#555;font-size:12px'> (copy it to share; the dashboard's "
            "token is not in it)</span>"
        )

    # -- data ------------------------------------------------------------------------------

    def _set_usage(self, usage: pd.DataFrame) -> None:
        self.usage = usage
        self.grid = UsageGrid(usage)
        self.colors = dict(self._theme_colors or self._theme.operation_colors(self.grid.operations))
        self._anomalies = None

    @property
    def range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The selected first and last local day."""
        return _day(self.start.value), _day(self.end.value)

    @property
    def anomalies(self) -> pd.DataFrame:
        """:func:`~generect_reports.analysis.usage.detect_anomalies` of the whole data, once."""
        if self._anomalies is None:
            self._anomalies = A.detect_anomalies(self.usage)
        return self._anomalies

    # -- events ----------------------------------------------------------------------------

    def _changed(self, _change: Any = None) -> None:
        if not self._hold:
            self.update()

    def _set_operations(self, value: tuple[str, ...]) -> None:
        self.operations.value = value

    def _months_changed(self, change: Any) -> None:
        if self._hold:
            return
        first, last = _range_of(self.grid, change["new"], None)
        self._hold = True
        try:
            self.start.value = max(first, self.grid.first_day).date()
            self.end.value = min(last, self.grid.last_day).date()
        finally:
            self._hold = False
        self.update()

    def _dates_changed(self, _change: Any) -> None:
        if not self._hold:
            self._follow_dates()
            self.update()

    def _follow_dates(self) -> None:
        """Move the month slider to the months the typed dates fall in (without redrawing)."""
        if self.start.value is None or self.end.value is None:
            return
        first, last = self.range
        if first > last:
            return
        months = list(self.months.options)
        lo = max(first, self.grid.first_day).strftime("%Y-%m")
        hi = min(last, self.grid.last_day).strftime("%Y-%m")
        if lo in months and hi in months:
            self._hold = True
            try:
                self.months.index = (months.index(lo), months.index(hi))
            finally:
                self._hold = False

    def _compare_changed(self, _change: Any) -> None:
        if not self._hold:
            self._update_compare()

    def _drill_changed(self, _change: Any) -> None:
        self._drill_stale = True
        self._draw_drill()

    def _tab_changed(self, change: Any) -> None:
        if change["new"] == 1 and self._compare_stale:
            self._update_compare()
        elif change["new"] == 2 and self._drill_stale:
            self._draw_drill()

    def _timezone_changed(self, change: Any) -> None:
        if self.loader is None or change["new"] == self.grid.timezone:
            return
        self.status.value = f"<i>Loading usage in {change['new']}…</i>"
        self._set_usage(self.loader(change["new"]))
        self.status.value = ""
        self.update()

    # -- drawing ---------------------------------------------------------------------------

    def _sync_compare_pickers(self) -> None:
        first, last = self.range
        a_first, a_last = comparison_period("previous", first, last)
        self._hold = True
        try:
            self.a_start.value, self.a_end.value = a_first.date(), a_last.date()
        finally:
            self._hold = False

    def update(self) -> None:
        """Recompute the filtered table and redraw the chart (one draw per change)."""
        if self.start.value is None or self.end.value is None or self.range[0] > self.range[1]:
            # Clear what the old range drew: a chart under this message would not be its own.
            self.status.value = (
                "<p class='generect-invalid' role='alert'><b>Pick a start date on or before "
                "the end date.</b></p>"
            )
            self.filtered = pd.DataFrame()
            self.chart_png, self.chart_alt = b"", ""
            self.chart.value = ""
            self.chart.layout.display = "none"
            self.table_view.value = ""
            self.compare_view.value = ""
            self._clear_compare_chart()
            self._compare_stale = self._drill_stale = True
            return
        first, last = self.range
        self.status.value = ""
        self.chart.layout.display = None
        sel = self.grid.select(
            first,
            last,
            self.operations.value,
            self.granularity.value,
            self.unit.value,
            self.price_book,
        )
        self._selection = sel
        self.filtered = _wide(sel, self.granularity.value)
        self._draw(sel)
        self._update_table()
        # The comparison and the drill-down are computed when their tab is open (or opened).
        self._compare_stale = self._drill_stale = True
        if self.tabs.selected_index == 1:
            self._update_compare()
        elif self.tabs.selected_index == 2:
            self._draw_drill()
        self._update_share_link()

    @property
    def _unit_label(self) -> str:
        return "credits" if self.unit.value == "credits" else "estimated USD"

    def _color(self, op: str) -> str:
        return "#" + str(self.colors.get(op, "7F7F7F")).lstrip("#")

    def _axes(self) -> Any:
        """The chart's axes, made once; later draws only swap the data artists (building the
        axes and their ticks anew is a large part of a redraw)."""
        ax = getattr(self, "_ax", None)
        if ax is None:
            ax = self.figure.add_axes((0.08, 0.2, 0.68, 0.7))
            ax.tick_params(axis="y", labelsize=8)
            ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
            ax.set_axisbelow(True)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            self._ax = ax
            return ax
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
            artist.remove()
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        ax.set_axis_on()
        return ax

    def _draw(self, sel: _Selection) -> None:
        fig = self.figure
        ax = self._axes()
        first, last = self.range
        label = self._unit_label
        title = (
            f"{label[0].upper() + label[1:]} by {self.granularity.value}, "
            f"{first:%d %b %Y} – {last:%d %b %Y}"
        )
        # An explicit y: matplotlib otherwise measures every tick label to place the title.
        ax.set_title(title, fontsize=10, loc="left", y=1.0, pad=6)
        n = len(sel.labels)
        if n == 0:
            ax.set_axis_off()
            ax.text(
                0.5,
                0.5,
                "No usage in this selection",
                ha="center",
                va="center",
                fontsize=13,
                color="#555555",
                transform=ax.transAxes,
            )
            self._show_chart(_png(fig, 200), f"Chart: {title}. No usage in this selection.")
            self.draw_count += 1
            return
        x = np.arange(n)
        lines = self.granularity.value == "day" and n > DAY_LINE_THRESHOLD
        handles = draw_usage(ax, sel.values, sel.operations, sel.partial, self._color, lines)
        ax.set_xlim(-0.5, n - 0.5)
        step = max(1, int(np.ceil(n / 12)))
        ax.set_xticks(
            x[::step],
            [sel.labels[i] for i in range(0, n, step)],
            rotation=40,
            ha="right",
            fontsize=8,
        )
        ax.yaxis.set_major_formatter(amount_formatter(self.unit.value))
        ax.set_ylabel(self._unit_label, fontsize=9)
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )
        self._show_chart(_png(fig, 200), self._alt_text(title, sel))
        self.draw_count += 1

    def _show_chart(self, png: bytes, alt: str) -> None:
        self.chart_png, self.chart_alt = png, alt
        self.chart.value = _picture(png, alt, "generect-chart", self.chart_size)

    def _show_drill(self, png: bytes, alt: str) -> None:
        self.drill_png, self.drill_alt = png, alt
        width, height = self.chart_size
        self.drill_chart.value = _picture(
            png, alt, "generect-drill-chart", (width, int(height * 1.3))
        )

    def _alt_text(self, title: str, sel: _Selection) -> str:
        """What the chart shows, in words and figures (see :func:`selection_alt`)."""
        return selection_alt(title, sel, self.granularity.value, self.unit.value)

    def _update_table(self) -> None:
        from .tables import html, styled, with_total_row

        data = self.filtered
        if data.empty:
            self.table_view.value = "<p class='generect-empty'>No usage in this selection.</p>"
            return
        sums = data.sum(axis=0)
        total = float(sums.sum())
        # The shown shares add up to the total row's 100.0% (money in whole cents, credits in
        # hundredths: exact, so the same figures show the report's shares).
        shown = display_shares(to_hundredths(sums)) / 100 if total else np.nan
        frame = pd.DataFrame(
            {
                "operation": list(data.columns),
                self._unit_label: sums.to_numpy(),
                "share": shown,
            }
        )
        frame = with_total_row(frame, label_column="operation")
        money = self.unit.value == "usd"
        styler = styled(
            frame,
            credits=() if money else (self._unit_label,),
            money=(self._unit_label,) if money else (),
            percent=("share",),
            total=True,
        )
        note = ""
        if data.attrs.get("partial"):
            note = (
                "<p style='color:#666;font-size:12px'>Partial periods (hatched in the chart): "
                + ", ".join(data.attrs["partial"])
                + ".</p>"
            )
        self.table_view.value = _scroll_box(html(styler), "Totals table") + note

    def _compare_ranges(
        self,
    ) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
        b = self.range
        mode = self.compare_mode.value
        if mode == "custom" and self.a_start.value is not None and self.a_end.value is not None:
            a = (_day(self.a_start.value), _day(self.a_end.value))
        else:
            a = comparison_period("yoy" if mode == "yoy" else "previous", b[0], b[1])
            if mode != "custom":
                self._hold = True
                try:
                    self.a_start.value, self.a_end.value = a[0].date(), a[1].date()
                finally:
                    self._hold = False
        return a, b

    def _update_compare(self) -> None:
        from .tables import html, styled, with_total_row

        self.a_start.disabled = self.a_end.disabled = self.compare_mode.value != "custom"
        a, b = self._compare_ranges()
        verdict = check_comparison(a, b, self.grid.first_day, self.grid.last_day)
        self.compare_verdict = verdict
        if not verdict.ok:
            # Days outside the data would count as zero: refuse, saying what the data covers.
            self.compared = pd.DataFrame()
            self._compare_stale = False
            self.compare_view.value = (
                f"<p class='generect-refused' role='status'>{escape(verdict.message)}</p>"
            )
            self._clear_compare_chart()
            return
        frame = compare_periods(
            self.usage,
            a,
            b,
            operations=self.operations.value,
            unit=self.unit.value,
            prices=self.price_book,
            grid=self.grid,
        )
        self.compared = frame
        self._compare_stale = False
        if frame.empty:
            self.compare_view.value = "<p class='generect-empty'>No usage in either period.</p>"
            self._clear_compare_chart()
            return
        a_name = f"A: {a[0]:%d %b %Y} – {a[1]:%d %b %Y}"
        b_name = f"B: {b[0]:%d %b %Y} – {b[1]:%d %b %Y}"
        shown = with_total_row(frame.drop(columns="change_pct"), label_column="operation")
        a_total = shown["a"].iloc[-1]
        shown["change %"] = np.where(
            shown["a"] != 0, shown["change"] / shown["a"].where(shown["a"] != 0, 1.0), np.nan
        )
        shown = shown.rename(columns={"a": a_name, "b": b_name})
        money = self.unit.value == "usd"
        amounts = (a_name, b_name)
        styler = styled(
            shown,
            credits=() if money else amounts,
            money=amounts if money else (),
            signed=("change",),
            signed_percent=("change %",),
            total=True,
        )
        notes = [verdict.message] if verdict.message else []
        if not a_total:
            notes.append("Period A has no usage: no percentages.")
        edges = "".join(
            f"<p class='generect-compare-note' style='color:#555;font-size:12px'>{escape(n)}</p>"
            for n in notes
        )
        self.compare_view.value = _scroll_box(html(styler), "Comparison table") + edges
        self._draw_compare(frame, a, b)

    def _clear_compare_chart(self) -> None:
        self.compare_png, self.compare_alt = b"", ""
        self.compare_chart.value = ""

    def _draw_compare(
        self,
        frame: pd.DataFrame,
        a: tuple[pd.Timestamp, pd.Timestamp],
        b: tuple[pd.Timestamp, pd.Timestamp],
    ) -> None:
        """A against B per operation (the largest ten in B), as bars beside the table."""
        from matplotlib.figure import Figure

        top = frame.head(10).iloc[::-1]
        n = len(top)
        size = (420, 60 + 26 * n)
        fig = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
        ax = fig.add_axes((0.36, 40 / size[1], 0.6, 1 - 70 / size[1]))
        y = np.arange(n)
        ax.barh(y + 0.2, top["a"], height=0.38, color="#9aa5b1", label="A")
        ax.barh(y - 0.2, top["b"], height=0.38, color="#1f3a5f", label="B")
        ax.set_yticks(y, [op.replace("$", r"\$") for op in top["operation"]], fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_formatter(amount_formatter(self.unit.value))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(fontsize=8, frameon=False, loc="lower right")
        money = self.unit.value == "usd"

        def amount(v: float) -> str:
            return f"${v:,.2f}" if money else f"{v:,.0f} credits"

        total_a, total_b = float(frame["a"].sum()), float(frame["b"].sum())
        change = f" ({(total_b - total_a) / total_a:+.1%})" if total_a else ""
        alt = (
            f"Chart: period A ({a[0]:%d %b %Y} – {a[1]:%d %b %Y}) against period B "
            f"({b[0]:%d %b %Y} – {b[1]:%d %b %Y}) for the {n} largest operations in B. "
            f"A {amount(total_a)}, B {amount(total_b)}{change}."
        )
        self.compare_png, self.compare_alt = _png(fig, 200), alt
        self.compare_chart.value = _picture(self.compare_png, alt, "generect-compare-chart", size)

    def _draw_drill(self) -> None:
        from .tables import html, styled

        op = self.drill.value
        fig = self.drill_figure
        fig.clear()
        first, last = self.range
        drill = drill_data(self.grid, self.anomalies, op, first, last)
        draw_drill(fig, **drill_chart_args(op, drill, self._color(op) if op else "#7F7F7F"))
        self._show_drill(_png(fig, 200), drill_alt(op, first, last, drill))
        if op is None or not drill.sel.labels:
            self.drill_view.value = ""
            self._drill_stale = False
            return
        mine = drill.anomalies
        table = (
            mine[["day", "credits", "baseline", "score"]].copy() if len(mine) else pd.DataFrame()
        )
        if len(table):
            # The report's wording: a day, its credits, the baseline with the decimals it needs,
            # the excess over it and the score to one decimal.
            table = pd.DataFrame(
                {
                    "Day": table["day"].astype(str),
                    "Credits": table["credits"],
                    "Baseline (28-day median)": table["baseline"],
                    "Above baseline": table["credits"] - table["baseline"],
                    "Score (× MAD)": table["score"],
                }
            )
            shown = styled(
                table, credits=("Credits", "Baseline (28-day median)", "Above baseline")
            ).format("{:,.1f}", subset=["Score (× MAD)"])
            self.drill_view.value = (
                f"<p>{len(table)} anomal{'y' if len(table) == 1 else 'ies'} ({A.ANOMALY_RULE}):</p>"
                + _scroll_box(html(shown), f"Anomalies of {op}")
            )
        else:
            self.drill_view.value = f"<p>No anomalies of {op} in this range.</p>"
        self._drill_stale = False

    # -- export ----------------------------------------------------------------------------

    def export(self, fmt: str | None = None) -> Path:
        """Write the filtered view, in the unit on screen (credits, plus estimated dollars when
        they are shown), into the export folder with the header in the first row, and show a
        download link. Returns the file's path."""
        from generect_reports.render.records.view import view_csv

        from .._atomic import write_bytes_atomic

        fmt = fmt or self.export_format.value
        first, last = self.range
        unit = self.unit.value
        rows = view_rows(
            self.usage,
            dates=(first, last),
            operations=self.operations.value,
            granularity=self.granularity.value,
            grid=self.grid,
            unit=unit,
            prices=self.price_book,
        )
        folder = self.export_dir or Path.cwd()
        path = folder / (
            f"generect-usage-{first:%Y-%m-%d}-to-{last:%Y-%m-%d}-by-{self.granularity.value}"
            f"{'-usd' if unit == 'usd' else ''}.{fmt}"
        )
        if fmt == "csv":
            write_bytes_atomic(path, view_csv(rows).encode("utf-8"))
            mime = "text/csv"
        elif fmt == "xlsx":
            from generect_reports.render.xlsx.view import write_view_xlsx

            write_view_xlsx(rows, path)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            raise ValueError("export format must be csv or xlsx")
        self.last_export = path
        what = "credits and estimated USD" if unit == "usd" else "credits"
        self.export_view.value = (
            f"<p>Wrote {len(rows):,} rows ({what}) to <code>{escape(str(path))}</code>: "
            f"{_download_link(path, path.read_bytes(), mime)}</p>"
        )
        return path

    # -- display ---------------------------------------------------------------------------

    def snapshot_png(self) -> bytes:
        """The chart as it stands, for a static picture beside the live panel."""
        return self.chart_png

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # The live widget first; a front end that cannot render it (an untrusted notebook, a
        # static viewer) falls back to the picture, never to the widget's text repr.
        bundle = dict(self.panel._repr_mimebundle_())
        bundle["image/png"] = base64.b64encode(self.snapshot_png()).decode("ascii")
        bundle["text/plain"] = "Usage explorer (run the notebook to use the live panel)"
        return bundle, {"image/png": {"width": self.chart_size[0]}}
