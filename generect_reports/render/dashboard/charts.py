"""The dashboard's charts as PNG bytes: the view's usage, period A against B, one operation's days.

Drawn on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, safe in a worker
thread: every call has its own figure). Each chart has a ``wide`` layout (legend beside the
plot) and a ``narrow`` one for a phone (taller, legend under the plot, fewer ticks), so a chart
stays readable at 390 px instead of being squeezed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

__all__ = [
    "usage_chart",
    "compare_chart",
    "drill_chart",
    "warm_up",
    "CHART_SIZES",
    "DAY_LINE_THRESHOLD",
    "BAR_LIMIT",
    "draw_usage",
    "draw_drill",
    "amount_formatter",
]

#: Box of each layout in CSS pixels (drawn at twice that for sharp screens).
CHART_SIZES = {"wide": (900, 380), "narrow": (380, 460)}
#: Past this many days the day view draws a line per operation: stacked bars thinner than a
#: pixel turn into moiré and cost seconds to draw.
DAY_LINE_THRESHOLD = 92
#: Up to this many periods the bars stand apart; past it they touch.
BAR_LIMIT = 60


def _png(fig: Any) -> bytes:
    """The figure as PNG at 200 dpi; the figure is emptied afterwards. A figure and its canvas
    refer to each other, so they wait for the cycle collector, and the canvas keeps its
    renderer's pixel buffer (several MB at this size): dropping both here frees that memory at
    once instead of whenever the collector runs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    canvas = FigureCanvasAgg(fig)
    canvas.print_figure(buffer, format="png", dpi=200, pil_kwargs={"compress_level": 1})
    canvas.__dict__.pop("renderer", None)
    fig.clear()
    return buffer.getvalue()


def warm_up() -> None:
    """Load matplotlib, its fonts and its PNG writer by drawing a small chart with text: the
    first real chart then costs what every later one does."""
    fig = _figure("narrow", 0.3)
    ax = fig.add_axes((0.2, 0.3, 0.7, 0.6))
    ax.bar([0, 1], [1.0, 2.0], label="a")
    ax.set_title("warm-up", fontsize=9)
    ax.legend(fontsize=7)
    _plain(ax)
    _png(fig)


def _figure(layout: str, scale: float = 1.0) -> Any:
    from matplotlib.figure import Figure

    width, height = CHART_SIZES[layout]
    return Figure(figsize=(width / 100, height * scale / 100), dpi=100)


def amount_formatter(unit: str) -> Any:
    """Axis labels of whole credits, or of whole dollars for ``usd``."""
    from matplotlib.ticker import FuncFormatter

    if unit == "usd":
        return FuncFormatter(lambda v, _p: f"${v:,.0f}")
    return FuncFormatter(lambda v, _p: f"{v:,.0f}")


def _plain(ax: Any) -> None:
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _empty(ax: Any, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#4a4a4a")


def _color(colors: Mapping[str, str], op: str) -> str:
    return "#" + str(colors.get(op, "7F7F7F")).lstrip("#")


def _label(op: str) -> str:
    return op.replace("$", r"\$")


def draw_usage(
    ax: Any,
    values: np.ndarray,
    operations: Sequence[str],
    partial: np.ndarray,
    color_of: Callable[[str], str],
    lines: bool,
) -> list[Any]:
    """Periods × operations on ``ax``: a line per operation (``lines``), else stacked bars,
    partial periods hatched. Returns the legend's handles in reading order: the partial period
    first, then the operations (the stack top down, as it is seen)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    n = len(values)
    x = np.arange(n)
    handles: list[Any] = []
    if lines:
        # A line per operation: readable over any number of days and cheap to draw.
        for j, op in enumerate(operations):
            (line,) = ax.plot(x, values[:, j], color=color_of(op), linewidth=0.9, label=_label(op))
            handles.append(line)
        ax.set_ylim(min(0.0, float(values.min())), max(float(values.max()), 1.0) * 1.05)
    else:
        # Stacked bars as one PolyCollection per operation: a bar chart of hundreds of
        # Rectangle artists costs most of the redraw budget.
        half = 0.4 if n <= BAR_LIMIT else 0.5
        left, right = x - half, x + half
        bottom = np.zeros(n)
        for j, op in enumerate(operations):
            top = bottom + values[:, j]
            verts = np.stack(
                [np.c_[left, bottom], np.c_[left, top], np.c_[right, top], np.c_[right, bottom]],
                axis=1,
            )
            bars = PolyCollection(
                cast(Any, verts), facecolors=color_of(op), linewidths=0, label=_label(op)
            )
            ax.add_collection(bars)
            handles.append(bars)
            bottom = top
        ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.05)
        handles.reverse()
    if partial.any():
        for i in np.flatnonzero(partial):
            ax.axvspan(
                i - 0.5,
                i + 0.5,
                facecolor="#000000",
                alpha=0.06,
                hatch="///",
                edgecolor="#9a9a9a",
                linewidth=0,
            )
        handles.insert(
            0, Patch(facecolor="#eeeeee", hatch="///", edgecolor="#9a9a9a", label="partial period")
        )
    return handles


def usage_chart(
    *,
    title: str,
    values: np.ndarray,
    labels: Sequence[str],
    operations: Sequence[str],
    partial: np.ndarray,
    colors: Mapping[str, str],
    granularity: str,
    unit: str,
    layout: str = "wide",
) -> bytes:
    """Periods × operations stacked (a line per operation for a long day range), partial
    periods hatched; ``values`` is periods × operations in the unit on screen."""
    narrow = layout == "narrow"
    fig = _figure(layout)
    box = (0.21, 0.45, 0.75, 0.47) if narrow else (0.08, 0.2, 0.68, 0.7)
    ax = fig.add_axes(box)
    ax.set_title(title, fontsize=9 if narrow else 10, loc="left", y=1.0, pad=6, wrap=True)
    n = len(labels)
    if n == 0:
        _empty(ax, "No usage in this selection")
        return _png(fig)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    x = np.arange(n)
    lines = granularity == "day" and n > DAY_LINE_THRESHOLD
    handles = draw_usage(ax, values, operations, partial, lambda op: _color(colors, op), lines)
    ax.set_xlim(-0.5, n - 0.5)
    step = max(1, int(np.ceil(n / (5 if narrow else 12))))
    ax.set_xticks(x[::step], [labels[i] for i in range(0, n, step)], rotation=40, ha="right")
    _plain(ax)
    ax.yaxis.set_major_formatter(amount_formatter(unit))
    ax.set_ylabel("estimated USD" if unit == "usd" else "credits", fontsize=8)
    if narrow:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(-0.26, -0.24),
            ncol=2,
            fontsize=7,
            frameon=False,
        )
    else:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
        )
    return _png(fig)


def compare_chart(
    *, operations: Sequence[str], a: np.ndarray, b: np.ndarray, unit: str, layout: str = "wide"
) -> bytes:
    """Period A against period B per operation (the first ten given), as paired bars."""
    ops, a, b = list(operations)[:10][::-1], np.asarray(a)[:10][::-1], np.asarray(b)[:10][::-1]
    n = len(ops)
    width = 420 if layout == "wide" else 380
    height = 60 + 26 * max(n, 1)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    ax = fig.add_axes((0.4, 40 / height, 0.56, 1 - 70 / height))
    y = np.arange(n)
    ax.barh(y + 0.2, a, height=0.38, color="#9aa5b1", label="A")
    ax.barh(y - 0.2, b, height=0.38, color="#1f3a5f", label="B")
    ax.set_yticks(y, [_label(op) for op in ops], fontsize=8)
    _plain(ax)
    ax.tick_params(axis="x", labelsize=7)
    ax.xaxis.set_major_formatter(amount_formatter(unit))
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _png(fig)


def drill_chart(*, layout: str = "wide", **drill: Any) -> bytes:
    """:func:`draw_drill` (its keyword arguments) as a PNG of ``layout``."""
    fig = _figure(layout, 1.3)
    draw_drill(fig, layout=layout, **drill)
    return _png(fig)


def draw_drill(
    fig: Any,
    *,
    title: str,
    days: Sequence[Any],
    series: np.ndarray,
    anomaly_days: Sequence[Any],
    anomaly_values: Sequence[float],
    share_labels: Sequence[str],
    shares: np.ndarray,
    color: str,
    layout: str = "wide",
) -> None:
    """The drill-down on ``fig``: one operation's credits per day with its anomalies circled,
    and its share of all credits by month below; ``title`` alone when there is no day. Drawn
    the same for the dashboard and the notebook explorer."""
    import pandas as pd

    if not len(series):
        _empty(fig.add_subplot(1, 1, 1), title)
        return
    ax1 = fig.add_axes((0.12 if layout == "narrow" else 0.08, 0.45, 0.84, 0.48))
    ax1.plot(pd.DatetimeIndex(days), series, color=color, linewidth=1.0)
    ax1.set_title(title, fontsize=10, loc="left")
    if len(anomaly_days):
        ax1.scatter(
            pd.DatetimeIndex(anomaly_days),
            anomaly_values,
            s=28,
            facecolors="none",
            edgecolors="#B03A2E",
            linewidths=1.2,
            zorder=3,
            label="anomaly",
        )
        ax1.legend(fontsize=8, frameon=False, loc="upper left")
    ax1.yaxis.set_major_formatter(amount_formatter("credits"))
    if layout == "narrow":
        import matplotlib.dates as mdates

        ax1.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=4))
    ax2 = fig.add_axes((0.12 if layout == "narrow" else 0.08, 0.1, 0.84, 0.25))
    if len(shares):
        ax2.bar(range(len(shares)), np.asarray(shares) * 100, color=color, width=0.7)
        step = max(1, int(np.ceil(len(shares) / (4 if layout == "narrow" else 12))))
        ax2.set_xticks(range(0, len(shares), step), list(share_labels)[::step], fontsize=7)
    ax2.set_title("share of all credits by month (%)", fontsize=9, loc="left")
    for ax in (ax1, ax2):
        _plain(ax)
