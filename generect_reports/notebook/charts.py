"""Report charts for notebooks, drawn on ``matplotlib.figure.Figure`` with ``FigureCanvasAgg``:
no pyplot, no backend switch, so a notebook's own ``plt`` keeps working."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

__all__ = ["history_chart", "daily_chart", "png", "image", "chart_alt"]


def png(fig: Any, dpi: int = 200) -> bytes:
    """The figure as PNG bytes at ``dpi`` (200: sharp at 2× when shown at its size in
    inches × 100)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_figure(
        buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 6}
    )
    return buffer.getvalue()


def chart_alt(title: str, labels: Any, values: Any, *, what: str = "month") -> str:
    """The text alternative of a chart of credits by ``what``: its title, total and highest
    bar (``Chart: Credits by month. Total 33,441 credits over 6 months. Highest month: 2026-10
    with 9,811 credits.``)."""
    names = [str(label) for label in labels]
    amounts = np.asarray(values, dtype="float64")
    if not len(amounts) or not np.isfinite(amounts).any():
        return f"Chart: {title}. No usage."
    top = int(np.nanargmax(amounts))
    whole = bool(np.all(np.abs(amounts - np.round(amounts)) < 1e-9))
    fmt = "{:,.0f}" if whole else "{:,.2f}"
    return (
        f"Chart: {title}. Total {fmt.format(float(np.nansum(amounts)))} credits over "
        f"{len(amounts)} {what}s. Highest {what}: {names[top]} with "
        f"{fmt.format(float(amounts[top]))} credits."
    )


def image(fig: Any, alt: str | None = None) -> Any:
    """The figure as an ``<img>`` with its text alternative (``alt``, else the one the chart
    functions here give their figure), drawn at 2× and shown at its CSS size; it narrows with
    the page. A plain PNG output has no text alternative: a screen reader says "image"."""
    import base64
    from html import escape

    from IPython.display import HTML

    text = alt or fig.get_label() or "Chart"
    width = int(fig.get_figwidth() * 100)
    height = int(fig.get_figheight() * 100)
    encoded = base64.b64encode(png(fig, 200)).decode("ascii")
    return HTML(
        f'<img class="generect-chart" alt="{escape(text)}" width="{width}" height="{height}" '
        f'style="max-width:100%;height:auto" src="data:image/png;base64,{encoded}">'
    )


def _color(colors: dict[str, str], op: str) -> str:
    return "#" + str(colors.get(op, "7F7F7F")).lstrip("#")


def _style(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def history_chart(report: Any, *, size: tuple[float, float] = (9.0, 3.6)) -> Any:
    """Credits by month and operation over the report's history; a month not over is hatched."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    monthly = report.monthly
    months = [str(m) for m in monthly.columns]
    fig = Figure(figsize=size)
    ax = fig.add_axes((0.08, 0.2, 0.7, 0.7))
    x = np.arange(len(months))
    bottom = np.zeros(len(months))
    handles: list[Any] = []
    for op, values in monthly.iterrows():
        vals = values.to_numpy(dtype="float64")
        handles.append(
            ax.bar(
                x,
                vals,
                bottom=bottom,
                width=0.72,
                color=_color(report.colors, str(op)),
                label=str(op).replace("$", r"\$"),
            )
        )
        bottom += vals
    handles.reverse()  # top of the stack first, as the eye reads it
    if not report.complete and months and months[-1] == report.month:
        ax.bar(
            x[-1], bottom[-1], width=0.72, fill=False, hatch="///", edgecolor="#777777", linewidth=0
        )
        handles.insert(
            0, Patch(facecolor="white", hatch="///", edgecolor="#777777", label="month to date")
        )
    ax.set_xticks(x, months, rotation=40, ha="right")
    _style(ax)
    ax.set_ylabel("credits", fontsize=9)
    ax.set_title(
        f"Credits by month and operation, last {len(months)} months", fontsize=10, loc="left"
    )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
    title = f"Credits by month and operation, last {len(months)} months"
    fig.set_label(chart_alt(title, months, bottom) + _to_date(report, months))
    return fig


def _to_date(report: Any, months: list[str]) -> str:
    if not report.complete and months and months[-1] == report.month:
        return f" {report.month} is the month to date."
    return ""


def daily_chart(report: Any, *, size: tuple[float, float] = (9.0, 3.2)) -> Any:
    """The report month's credits per day, stacked by operation."""
    from matplotlib.figure import Figure

    daily = report.daily_matrix.fillna(0.0)
    fig = Figure(figsize=size)
    ax = fig.add_axes((0.08, 0.16, 0.7, 0.72))
    days = np.arange(len(daily))
    bottom = np.zeros(len(daily))
    handles = []
    for op in daily.columns:
        vals = daily[op].to_numpy(dtype="float64")
        handles.append(
            ax.bar(
                days,
                vals,
                bottom=bottom,
                width=0.8,
                color=_color(report.colors, str(op)),
                label=str(op).replace("$", r"\$"),
            )
        )
        bottom += vals
    handles.reverse()
    ax.set_xticks(days[::3], [f"{d:%d %b}" for d in daily.index[::3]], rotation=40, ha="right")
    _style(ax)
    ax.set_ylabel("credits", fontsize=9)
    ax.set_title(f"Credits per day, {report.month_name}", fontsize=10, loc="left")
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )
    labels = [f"{d:%d %b}" for d in daily.index]
    fig.set_label(chart_alt(f"Credits per day, {report.month_name}", labels, bottom, what="day"))
    return fig
