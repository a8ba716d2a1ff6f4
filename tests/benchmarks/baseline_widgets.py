"""Baseline for bench_widgets.py: the explorer as it was before the redraw work (one pandas
pivot and one bar per period and operation on every change, a 720×320 PNG). Not part of the package.

Original docstring:
The notebook filter panel: month range, operations, granularity and unit driving a chart and
a table. The filtering is a pure function (:func:`filter_usage`); the panel only wires widgets to
it.

Needs the ``notebooks`` extra (ipywidgets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from generect_reports.analysis import usage as A
from generect_reports.analysis.pricing import estimate_cost

__all__ = ["filter_usage", "UsageExplorer", "GRANULARITIES", "UNITS"]

GRANULARITIES = ("day", "week", "month")
UNITS = ("credits", "usd")


def _labels(usage: pd.DataFrame, granularity: str) -> pd.Series:
    local = usage["period_start"].dt.tz_localize(None)
    if granularity == "day":
        return local.dt.strftime("%Y-%m-%d")
    if granularity == "month":
        return local.dt.strftime("%Y-%m")
    iso = local.dt.isocalendar()
    return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)


def filter_usage(
    usage: pd.DataFrame,
    *,
    months: Sequence[str] | None = None,
    operations: Iterable[str] | None = None,
    granularity: str = "month",
    unit: str = "credits",
    prices: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Daily usage filtered and re-aggregated for display.

    Parameters
    ----------
    usage
        Daily tidy usage.
    months
        ``(first, last)`` months, inclusive ('YYYY-MM'); None for all.
    operations
        Operations to keep; None for all.
    granularity
        ``day``, ``week`` (ISO) or ``month``.
    unit
        ``credits`` or ``usd`` (estimated cost at list prices).

    Returns
    -------
    pandas.DataFrame
        Periods (rows, in order) × operations (columns, largest total first) of the chosen unit.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    rows = usage
    if months is not None:
        codes = A._month_codes(usage)
        lo, hi = (A._month_index(m) for m in months)
        rows = usage[(codes >= lo) & (codes <= hi)]
    if operations is not None:
        rows = rows[rows["operation"].isin(list(operations))]
    values = rows["credits"]
    if unit == "usd":
        values = estimate_cost(rows[["operation", "credits"]], prices)["estimated_cost"]
    table = pd.DataFrame(
        {
            "period": _labels(rows, granularity).to_numpy(),
            "operation": rows["operation"].to_numpy(),
            "value": values.to_numpy(),
        }
    )
    wide = table.pivot_table(
        index="period",
        columns="operation",
        values="value",
        aggfunc="sum",
        fill_value=0.0,
        sort=True,
    )
    order = wide.sum().sort_values(ascending=False, kind="mergesort").index
    wide = wide[order]
    wide.columns.name = "operation"
    wide.index.name = granularity
    return wide


class UsageExplorer:
    """Widgets for exploring usage; ``.panel`` is the widget to display.

    Setting any control (``months.value``, ``operations.value``, ``granularity.value``,
    ``unit.value``) recomputes :attr:`filtered` and redraws :attr:`figure`.
    """

    def __init__(
        self,
        usage: pd.DataFrame,
        *,
        prices: Mapping[str, float] | None = None,
        colors: Mapping[str, str] | None = None,
    ) -> None:
        import ipywidgets as w
        from matplotlib.figure import Figure

        from generect_reports.theme import load_theme

        self.usage = usage
        theme = load_theme()
        self.prices = dict(prices if prices is not None else theme.prices)
        all_ops = sorted(set(usage["operation"]))
        self.colors = dict(colors or theme.operation_colors(all_ops))
        month_list = list(A.monthly_totals(usage)["month"])
        self.months = w.SelectionRangeSlider(
            options=month_list,
            index=(0, len(month_list) - 1),
            description="Months",
            continuous_update=False,
            layout=w.Layout(width="560px"),
        )
        ranked = list(A.operation_shares(usage)["operation"])
        self.operations = w.SelectMultiple(
            options=ranked, value=tuple(ranked), rows=min(10, len(ranked)), description="Operations"
        )
        self.granularity = w.ToggleButtons(
            options=list(GRANULARITIES), value="month", description="Period"
        )
        self.unit = w.ToggleButtons(
            options=[("credits", "credits"), ("est. USD", "usd")],
            value="credits",
            description="Unit",
        )
        # The chart is an Image widget updated in place: no display messages on each change, so
        # the panel behaves the same in Jupyter, in nbclient and under nbval.
        self.chart = w.Image(format="png", layout=w.Layout(width="900px"))
        self.table_view = w.HTML()
        self.figure = Figure(figsize=(9, 4))
        self.draw_count = 0
        self.filtered = pd.DataFrame()
        for control in (self.months, self.operations, self.granularity, self.unit):
            control.observe(self._changed, names="value")
        self.panel = w.VBox(
            [
                w.HBox([self.months]),
                w.HBox([self.operations, w.VBox([self.granularity, self.unit])]),
                self.chart,
                self.table_view,
            ]
        )
        self.update()

    def _changed(self, _change: Any) -> None:
        self.update()

    def update(self) -> None:
        """Recompute the filtered table and redraw the chart."""
        self.filtered = filter_usage(
            self.usage,
            months=self.months.value,
            operations=self.operations.value,
            granularity=self.granularity.value,
            unit=self.unit.value,
            prices=self.prices,
        )
        self._draw()
        label = "credits" if self.unit.value == "credits" else "estimated USD"
        totals = self.filtered.sum().rename(label).to_frame()
        fmt = "{:,.2f}" if self.unit.value == "credits" else "${:,.2f}"
        self.table_view.value = (
            totals.style.format(fmt).to_html()
            if len(totals)
            else "<p>No usage in this selection.</p>"
        )

    def _draw(self) -> None:
        import io

        fig = self.figure
        fig.clear()
        ax = fig.add_subplot(1, 1, 1)
        data = self.filtered
        if len(data):
            bottom = pd.Series(0.0, index=data.index)
            x = range(len(data.index))
            for op in data.columns:
                ax.bar(
                    x,
                    data[op],
                    bottom=bottom,
                    label=op.replace("$", r"\$"),
                    color="#" + self.colors.get(op, "7F7F7F"),
                )
                bottom = bottom + data[op]
            step = max(1, len(data.index) // 12)
            ax.set_xticks(list(x)[::step], list(data.index)[::step], rotation=45, ha="right")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.set_ylabel("credits" if self.unit.value == "credits" else "estimated USD")
        ax.set_title(f"Usage by {self.granularity.value}")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        self.chart.value = buffer.getvalue()
        self.draw_count += 1

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.panel)
