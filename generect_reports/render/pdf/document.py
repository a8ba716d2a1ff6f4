"""The monthly PDF report: three landscape pages drawn with matplotlib, reproducible to the byte.

Page 1 is the summary (narrative, KPI tiles, up to 24 months of history), page 2 the operations
(table, what drove the change, cost ranked), page 3 the month day by day, the anomalies and the
notes. Every figure is formatted by the report's own formatters, so the PDF shows exactly what
the workbook and the email show.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg and PDF
canvases directly: importing this module never touches pyplot or the user's backend. Text is
real text (TrueType fonts embedded, ``pdf.fonttype`` 42) set at 8 pt or more, and data labels
are escaped so a ``$`` in an operation name is not read as mathtext.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd

from generect_reports._atomic import atomic_path
from generect_reports._text import display_text, truncate_for_layout
from generect_reports.analysis.usage import ANOMALY_RULE
from generect_reports.render.pdf.fontcache import defer_subsetter_import
from generect_reports.reports import presentation as P
from generect_reports.reports.narrative import anomaly_formats
from generect_reports.theme import font_chain

defer_subsetter_import()  # a warm report takes its font subsets from the cache

# These matplotlib imports must follow the call above: the PDF backend imports fontTools.subset
# at once, and only a stand-in put there first defers that import (E402 on purpose).
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.text import Text

    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "write_pdf_report",
    "write_report_pdf",
    "render_pdf",
    "history_chart_png",
    "PAGE_SIZES",
    "MIN_FONT_PT",
]

#: Landscape page sizes in inches (width, height).
PAGE_SIZES = {"a4": (11.69, 8.27), "letter": (11.0, 8.5)}
#: The smallest type on any page; a test reads the PDF's text operators to hold this.
MIN_FONT_PT = 8.0

MARGIN = 0.45  # page margin, inches
BODY = 9.0  # running text
SMALL = 8.0  # tables, captions, ticks, legends, footer
BLOCK_TITLE = 10.5  # the title over a chart, a table or a list


def lit(text: Any, width: int | None = None) -> str:
    """Text shown literally: invisible and control characters as escapes, cut to ``width``
    characters with an ellipsis (layout only), and ``$`` escaped so matplotlib does not parse
    it as mathtext."""
    shown = display_text(str(text))
    if width is not None:
        shown = truncate_for_layout(shown, width)
    # Non-math text keeps backslashes as they are: only ``$`` needs escaping.
    return shown.replace("$", r"\$")


def _color(hexcode: str) -> str:
    return "#" + str(hexcode).lstrip("#")


def _rc(rep: MonthlyReport) -> dict[str, Any]:
    params = matplotlib.rc_params_from_file(
        str(rep.theme.file("report.mplstyle")), use_default_template=False
    )
    rc: dict[str, Any] = {str(key): params[key] for key in params}
    family = rep.theme.fonts.get("family")
    # Glyphs the theme font lacks come from the next installed font of the chain.
    rc["font.family"] = font_chain(family or rc.get("font.family"))
    rc["pdf.fonttype"] = 42
    rc["text.usetex"] = False
    return rc


def _thousands(x: float, _pos: Any = None) -> str:
    return f"{x:,.0f}"


# --------------------------------------------------------------------------- page geometry


class _Page:
    """A landscape page measured in inches from its top-left corner, with a renderer that
    measures text exactly (for wrapping and for placing labels that must not collide)."""

    def __init__(self, rep: MonthlyReport, fig: Figure | None = None) -> None:
        self.rep = rep
        self.width, self.height = PAGE_SIZES[rep.theme.paper]
        self.fig = fig if fig is not None else Figure(figsize=(self.width, self.height))
        self.canvas = FigureCanvasAgg(self.fig)
        self.muted = _color(rep.theme.colors.get("muted", "6B7280"))
        self.primary = _color(rep.theme.colors.get("primary", "1F3A5F"))

    @property
    def renderer(self) -> RendererBase:
        return self.canvas.get_renderer()

    def axes(self, left: float, top: float, width: float, height: float) -> Axes:
        """Axes whose plotting box spans the given inches (top measured from the page top)."""
        return self.fig.add_axes(
            (
                left / self.width,
                1 - (top + height) / self.height,
                width / self.width,
                height / self.height,
            )
        )

    def box(self, left: float, top: float, width: float, height: float) -> Any:
        """The transform that maps the unit square onto the given inches, as an axes' own
        ``transAxes`` would, without the cost of an axes."""
        from matplotlib.transforms import Bbox, BboxTransformTo, TransformedBbox

        bounds = Bbox.from_bounds(
            left / self.width,
            1 - (top + height) / self.height,
            width / self.width,
            height / self.height,
        )
        return BboxTransformTo(TransformedBbox(bounds, self.fig.transFigure))

    def text(self, left: float, top: float, s: str, size: float = BODY, **kw: Any) -> Any:
        """Text whose top-left corner sits ``top`` inches below the page top."""
        kw.setdefault("va", "top")
        return self.fig.text(left / self.width, 1 - top / self.height, lit(s), fontsize=size, **kw)

    def text_width(self, s: str, size: float, weight: str = "normal") -> float:
        """Width of ``s`` in inches at ``size`` points."""
        from matplotlib.font_manager import FontProperties

        prop = FontProperties(family=matplotlib.rcParams["font.family"], size=size, weight=weight)
        w, _, _ = self.renderer.get_text_width_height_descent(s, prop, ismath=False)
        return w / self.fig.dpi

    def wrap(self, s: str, width: float, size: float, weight: str = "normal") -> list[str]:
        """Greedy word wrap measured with the real font: each line is the longest run of words
        that fits (a single word that does not fit gets a line of its own). The run is found
        from a guess by character count, a few measurements a line instead of one a word."""
        words = s.split()
        lines: list[str] = []

        def fits(n: int) -> bool:
            return self.text_width(" ".join(words[:n]), size, weight) <= width

        while words:
            text = " ".join(words)
            full = self.text_width(text, size, weight)
            if full <= width:
                lines.append(text)
                break
            room = len(text) * width / full  # characters that fit at the average width
            n, used = 1, len(words[0])
            while n < len(words) - 1 and used + 1 + len(words[n]) <= room:
                used += 1 + len(words[n])
                n += 1
            if fits(n):
                while n + 1 < len(words) and fits(n + 1):
                    n += 1
            else:
                n -= 1
                while n > 1 and not fits(n):
                    n -= 1
                n = max(n, 1)
            lines.append(" ".join(words[:n]))
            words = words[n:]
        return lines

    def paragraph(
        self,
        left: float,
        top: float,
        s: str,
        width: float,
        size: float = BODY,
        leading: float = 1.4,
        **kw: Any,
    ) -> float:
        """Wrapped text; returns the inches below the page top where it ends."""
        step = size * leading / 72
        for line in self.wrap(s, width, size, kw.get("fontweight", "normal")):
            self.text(left, top, line, size, **kw)
            top += step
        return top


def _header(page: _Page, heading: str) -> float:
    rep = page.rep
    title = rep.theme.text.get("title", "Generect credit usage")
    page.text(
        MARGIN,
        0.32,
        f"{title} · {rep.month_name}",
        float(rep.theme.fonts.get("title_size", 16)),
        fontweight="bold",
        color=page.primary,
    )
    page.text(MARGIN, 0.66, heading, 10, color=page.muted)
    return 0.95


def _block_title(page: _Page, left: float, top: float, text: str) -> float:
    """A block's title (a chart's, a table's, a list's) as every page sets it; returns the
    inches below the page top where the block's body starts."""
    page.text(left, top, text, BLOCK_TITLE, fontweight="bold")
    return top + 0.27


def _caption(page: _Page, left: float, top: float, text: str, width: float | None = None) -> float:
    """A muted line (or wrapped lines, given ``width``) under a block title."""
    if width is None:
        page.text(left, top, text, SMALL, color=page.muted)
        return top + SMALL * 1.35 / 72
    return page.paragraph(left, top, text, width, SMALL, leading=1.3, color=page.muted)


def _footnote(page: _Page, lines: Sequence[str]) -> None:
    """Notes set in the muted small type just above the footer, wrapped to the page width."""
    width = page.width - 2 * MARGIN
    step = SMALL * 1.3 / 72
    wrapped = [part for line in lines if line for part in page.wrap(line, width, SMALL)]
    top = page.height - 0.42 - step * len(wrapped)
    for part in wrapped:
        page.text(MARGIN, top, part, SMALL, color=page.muted)
        top += step


def _value_axis(ax: Axes, page: _Page, axis: str = "y", *, money: bool = False) -> None:
    """The theme's value axis: thousands separators (or the currency symbol), at most five
    ticks, small labels, light grid lines across the values only."""
    f = page.rep.formats
    target = ax.yaxis if axis == "y" else ax.xaxis
    if money:
        target.set_major_formatter(FuncFormatter(lambda v, _p: lit(f"{f.symbol}{v:,.0f}")))
    else:
        target.set_major_formatter(FuncFormatter(_thousands))
    target.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=SMALL)
    grid = _color(page.rep.theme.colors.get("grid", "D1D5DB"))
    ax.grid(axis="y" if axis == "y" else "x", color=grid, linewidth=0.6)
    ax.grid(axis="x" if axis == "y" else "y", visible=False)


def _footer(page: _Page, number: int, pages: int) -> None:
    rep = page.rep
    _page_footer(
        page,
        f"{rep.account} · {rep.month_name} · {rep.timezone} · data as of "
        f"{rep.as_of:%Y-%m-%d %H:%M} · source: {rep.source_label}",
        number,
        pages,
    )


def _page_footer(page: _Page, text: str, number: int = 1, pages: int = 1) -> None:
    """The footer of every document's pages: what the page is of, left; its number, right."""
    bottom = page.height - 0.22
    page.text(MARGIN, bottom, text, SMALL, color=page.muted, va="baseline")
    page.text(
        page.width - MARGIN,
        bottom,
        f"page {number} of {pages}",
        SMALL,
        color=page.muted,
        ha="right",
        va="baseline",
    )


# --------------------------------------------------------------------------- what the pages show

# --------------------------------------------------------------------------- drawing blocks


def _draw_tiles(
    page: _Page,
    tiles: Sequence[P.Kpi],
    top: float,
    height: float = 0.92,
    *,
    left: float = MARGIN,
    span: float | None = None,
) -> float:
    """KPI tiles side by side across ``span`` inches from ``left`` (the page's width)."""
    rep = page.rep
    gap = 0.12
    n = len(tiles)
    if span is None:
        span = page.width - left - MARGIN
    width = (span - gap * (n - 1)) / n
    origin = left
    fill = _color(rep.theme.colors.get("weekend", "EEF1F5"))
    tones = {
        "up": _color(rep.theme.colors.get("increase", "C0392B")),
        "down": _color(rep.theme.colors.get("decrease", "1E8449")),
        "": "#1F2933",
    }
    for i, tile in enumerate(tiles):
        left = origin + i * (width + gap)
        page.fig.add_artist(
            FancyBboxPatch(
                (0, 0),
                1,
                1,
                boxstyle="round,pad=0,rounding_size=0.04",
                transform=page.box(left, top, width, height),
                facecolor=fill,
                edgecolor="none",
            )
        )
        pad = 0.1
        label = page.wrap(tile.label, width - 2 * pad, SMALL)[0]
        page.text(left + pad, top + 0.09, label, SMALL, color=page.muted)
        value_size = 15.0
        while value_size > 10 and page.text_width(tile.value, value_size, "bold") > width - 2 * pad:
            value_size -= 0.5
        page.text(
            left + pad,
            top + 0.27,
            tile.value,
            value_size,
            fontweight="bold",
            color=tones[tile.tone],
        )
        sub_top = top + 0.27 + value_size * 1.25 / 72 + 0.04
        for line in page.wrap(tile.detail, width - 2 * pad, SMALL)[:2]:
            page.text(left + pad, sub_top, line, SMALL, color=page.muted)
            sub_top += SMALL * 1.3 / 72
    return top + height


def _bars(
    ax: Axes,
    x: np.ndarray,
    heights: np.ndarray,
    bottom: np.ndarray,
    *,
    width: float,
    color: str,
    label: str,
    zorder: float = 2,
) -> None:
    """One series of a stacked bar chart, drawn as one collection instead of a patch per bar
    (each patch is an artist with its own transform and graphics state: most of a chart's
    drawing time). The data limits are not updated: the charts set both limits.

    The bars are also recorded as ``ax.bar`` records them, a labelled ``BarContainer`` of
    rectangles (not drawn), so the legend takes its entry from it and the geometry stays
    readable from ``ax.containers``.
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.container import BarContainer

    left, right, top = x - width / 2, x + width / 2, bottom + heights
    shown = heights > 0  # an empty segment draws nothing
    verts = np.stack(
        [
            np.column_stack([left, bottom]),
            np.column_stack([left, top]),
            np.column_stack([right, top]),
            np.column_stack([right, bottom]),
        ],
        axis=1,
    )
    ax.add_collection(
        PolyCollection(
            list(verts[shown]),
            closed=True,
            facecolors=color,
            edgecolors="none",
            linewidths=0,
            zorder=zorder,
            label="_nolegend_",
        ),
        autolim=False,
    )
    patches = [
        Rectangle((xi - width / 2, b), width, h, facecolor=color, zorder=zorder, label="_nolegend_")
        for xi, h, b in zip(x.tolist(), heights.tolist(), bottom.tolist())
    ]
    ax.add_container(
        BarContainer(patches, datavalues=heights.copy(), orientation="vertical", label=label)
    )


def _category_labels(
    ax: Axes, xs: Sequence[float], labels: Sequence[str], size: float, pad_pt: float | None = None
) -> None:
    """Labels under a categorical x axis that has no tick marks, placed exactly where its tick
    labels would be, as texts of the figure (not of the axes): a tick is five artists, and the
    charts' label rows are most of a page's ticks. With a vertical grid (a template's choice)
    the ticks are kept, since the grid lines hang on them."""
    from matplotlib.text import Text
    from matplotlib.transforms import ScaledTranslation

    rc = matplotlib.rcParams
    if rc["axes.grid"] and rc["axes.grid.axis"] in ("x", "both"):
        ax.set_xticks(list(xs), list(labels), fontsize=size)
        if pad_pt is not None:
            ax.tick_params(axis="x", pad=pad_pt)
        return
    ax.set_xticks([])
    pad = rc["xtick.major.pad"] if pad_pt is None else pad_pt
    color = rc["xtick.labelcolor"]
    color = rc["xtick.color"] if color == "inherit" else color
    fig = ax.figure
    place = ax.get_xaxis_transform() + ScaledTranslation(0, -pad / 72, fig.dpi_scale_trans)
    for x, label in zip(xs, labels):
        fig.add_artist(
            Text(x, 0, label, fontsize=size, color=color, ha="center", va="top", transform=place)
        )


def _month_ticks(months: Sequence[str]) -> list[str]:
    """``Nov`` under each bar, the year under the first bar and each January."""
    out = []
    for i, m in enumerate(months):
        year, mon = int(m[:4]), int(m[5:7])
        name = dt.date(year, mon, 1).strftime("%b")
        out.append(f"{name}\n{year}" if i == 0 or mon == 1 else name)
    return out


def _bar_totals(
    ax: Axes,
    renderer: RendererBase,
    xs: Sequence[float],
    tops: Sequence[float],
    texts: Sequence[str],
    size: float,
    pad_pt: float = 2.5,
    clear_pt: float = 4.0,
) -> None:
    """Totals above bars, none touching another or the top of the axes.

    Each label starts just above its bar and is raised a line at a time until it clears every
    label placed before it; if the highest label then reaches the top of the axes, the y range
    grows and the labels are placed again, so they never run into the chart's title.
    """
    top_value = max([*tops, 1.0])
    ax.set_ylim(0, top_value * 1.08)
    line = size * 1.3
    to_px = ax.figure.dpi / 72
    labels = [
        ax.annotate(
            lit(s),
            (x, t),
            xytext=(0, pad_pt),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=size,
            annotation_clip=False,
        )
        for x, t, s in zip(xs, tops, texts)
    ]
    for _ in range(8):
        placed: list[Any] = []
        for label in labels:
            offset = pad_pt
            label.set_position((0, offset))
            box = label.get_window_extent(renderer).padded(1.5)
            while any(box.overlaps(other) for other in placed):
                offset += line
                label.set_position((0, offset))
                box = label.get_window_extent(renderer).padded(1.5)
            placed.append(box)
        highest = max((b.y1 for b in placed), default=0.0)
        limit = ax.get_window_extent(renderer).y1 - clear_pt * to_px
        if highest <= limit:
            return
        bottom_px = ax.transData.transform((0, 0))[1]
        room = limit - bottom_px
        need = highest - bottom_px
        ax.set_ylim(0, ax.get_ylim()[1] * need / room * 1.02)


def _headroom(ax: Axes, renderer: RendererBase, top_value: float, extra_pt: float) -> None:
    """Set the y limit so the tallest bar plus ``extra_pt`` points of labels fits in the axes."""
    height_pt = ax.get_window_extent(renderer).height * 72 / ax.figure.dpi
    frac = max(0.3, 1 - extra_pt / height_pt)
    ax.set_ylim(0, max(top_value, 1) / frac)


def _legend_in_stacking_order(ax: Axes, **kw: Any) -> None:
    """A vertical legend whose top entry is the top segment of the stack."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(
        handles[::-1],
        labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=SMALL,
        borderaxespad=0.0,
        handlelength=1.2,
        handleheight=0.9,
        **kw,
    )


def _history_axes(
    ax: Axes,
    rep: MonthlyReport,
    renderer: RendererBase,
    size: float = SMALL,
    label_size: float | None = None,
    legend: str = "right",
) -> None:
    monthly = rep.monthly
    months = [str(m) for m in monthly.columns]
    x = np.arange(len(months), dtype="float64")
    bottom = np.zeros(len(months))
    for op, values in monthly.iterrows():
        vals = np.clip(values.to_numpy(dtype="float64"), 0, None)
        _bars(
            ax,
            x,
            vals,
            bottom,
            width=0.74,
            color=_color(rep.colors.get(str(op), "7F7F7F")),
            label=lit(op),
        )
        bottom += vals
    running = not rep.complete and months and months[-1] == rep.month
    if running:  # the month to date, outlined so it is not read as a finished month
        ax.bar(
            [x[-1]],
            [bottom[-1]],
            width=0.74,
            fill=False,
            hatch="///",
            edgecolor="white",
            linewidth=0,
            zorder=3,
        )
    _category_labels(ax, list(x), _month_ticks(months), size, pad_pt=3)
    ax.tick_params(axis="x", length=0)
    ax.tick_params(axis="y", labelsize=size)
    # A short history keeps the bars' width: the axis holds at least a year of slots.
    ax.set_xlim(-0.6, max(len(months), 12) - 0.4)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    totals = [rep.formats.credits(v) for v in bottom]
    _bar_totals(ax, renderer, list(x), list(bottom), totals, label_size or size)
    if legend == "right":
        _legend_in_stacking_order(ax)
    else:  # below, for narrow screens: read row by row, top segment first
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(0.0, -0.16),
            ncol=2,
            fontsize=size,
            borderaxespad=0.0,
            handlelength=1.0,
            columnspacing=1.0,
        )


def _history_title(rep: MonthlyReport) -> str:
    n = len(rep.monthly.columns)
    title = (
        f"Credits by month and operation, last {n} months"
        if n > 1
        else "Credits by operation, one month"
    )
    if not rep.complete:
        title += f" ({rep.month_name} to date, hatched)"
    return title


def _table(
    page: _Page,
    left: float,
    top: float,
    columns: Sequence[tuple[str, float, str]],
    rows: Sequence[Sequence[str]],
    *,
    bold_last: bool = False,
    size: float = SMALL,
    row_height: float = 0.215,
    tones: Sequence[Sequence[str]] | None = None,
) -> float:
    """A ruled table drawn as text: ``columns`` are (heading, width in inches, 'l' or 'r')."""
    rep = page.rep
    width = sum(w for _, w, _ in columns)
    head_fill = _color(rep.theme.colors.get("header_fill", "1F3A5F"))
    head_font = _color(rep.theme.colors.get("header_font", "FFFFFF"))
    grid = _color(rep.theme.colors.get("grid", "D1D5DB"))
    colours = {
        "up": _color(rep.theme.colors.get("increase", "C0392B")),
        "down": _color(rep.theme.colors.get("decrease", "1E8449")),
        "": "#1F2933",
    }
    ax = page.axes(left, top, width, row_height * (len(rows) + 1))
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(row_height * (len(rows) + 1), 0)
    ax.add_patch(Rectangle((0, 0), width, row_height, facecolor=head_fill, edgecolor="none"))
    pad = 0.06
    for r, cells in enumerate([[c[0] for c in columns], *rows]):
        y = r * row_height + row_height / 2
        x = 0.0
        weight = "bold" if r == 0 or (bold_last and r == len(rows)) else "normal"
        for c, ((_, w, align), cell) in enumerate(zip(columns, cells)):
            tone = "" if r == 0 or tones is None else tones[r - 1][c]
            ax.text(
                x + pad if align == "l" else x + w - pad,
                y,
                lit(cell),
                fontsize=size,
                ha="left" if align == "l" else "right",
                va="center_baseline",
                fontweight=weight,
                color=head_font if r == 0 else colours[tone],
            )
            x += w
        if r:
            ax.plot([0, width], [(r + 1) * row_height] * 2, color=grid, linewidth=0.6)
    if bold_last and rows:
        ax.plot([0, width], [len(rows) * row_height] * 2, color="#1F2933", linewidth=0.8)
    return top + row_height * (len(rows) + 1)


def _operations_rows(
    rep: MonthlyReport,
) -> tuple[list[tuple[str, float, str]], list[list[str]], list[list[str]]]:
    """Columns (heading, relative width, alignment), the cells and their tones."""
    short = rep.previous_month_name[:3]
    prev_head = rep.previous_month_name if rep.complete else f"{short} 1-{rep.elapsed_days}"
    cols: list[tuple[str, float, str]] = [
        ("Operation", 1.55, "l"),
        ("Credits", 1.0, "r"),
        ("Share", 0.7, "r"),
        (prev_head, 1.15, "r"),
        ("Change", 1.0, "r"),
        ("Change %", 0.85, "r"),
    ]
    keys = ["operation", "credits", "share", "previous", "change", "change_pct"]
    tone_keys = ["", "", "", "", "change_tone", "change_tone"]
    if rep.yoy_available:
        yoy_head = (
            rep.yoy_month_name
            if rep.complete
            else f"{rep.yoy_month_name[:3]} {rep.yoy_month[:4]} 1-{rep.elapsed_days}"
        )
        cols += [(yoy_head, 1.15, "r"), ("YoY %", 0.8, "r")]
        keys += ["yoy", "yoy_pct"]
        tone_keys += ["", "yoy_tone"]
    cols += [("Est. cost", 1.0, "r"), ("Cost share", 0.85, "r")]
    keys += ["cost", "cost_share"]
    tone_keys += ["", ""]
    rows = [*P.operation_rows(rep), P.total_row(rep)]
    cells = [[row[k] for k in keys] for row in rows]
    tones = [[row[t] if t else "" for t in tone_keys] for row in rows]
    return cols, cells, tones


def _bridge_axes(ax: Axes, page: _Page) -> None:
    """The waterfall, horizontal so operation names read level: last month's total at the top,
    each operation's contribution (largest first), this month's total at the bottom."""
    rep = page.rep
    f = rep.formats
    bridge = rep.bridge
    up = _color(rep.theme.colors.get("increase", "C0392B"))
    down = _color(rep.theme.colors.get("decrease", "1E8449"))
    y = np.arange(len(bridge), dtype="float64")
    lo_edge = np.minimum(bridge["bottom"], bridge["top"]).to_numpy(dtype="float64")
    hi_edge = np.maximum(bridge["bottom"], bridge["top"]).to_numpy(dtype="float64")
    kinds = bridge["kind"].tolist()
    total_bar = np.isin(kinds, ["start", "end"])
    colours = [
        page.primary if k in ("start", "end") else (up if v >= 0 else down)
        for k, v in zip(kinds, bridge["value"])
    ]
    ax.barh(y, hi_edge - lo_edge, left=lo_edge, color=colours, height=0.62, zorder=2)
    for i in range(len(bridge) - 1):  # connectors carry the running total to the next bar
        level = float(bridge["top"].iloc[i])
        ax.plot([level, level], [i + 0.31, i + 0.69], color="#9CA3AF", linewidth=0.6, zorder=1)
    left_limit, right_limit = bridge_limits(bridge)
    ax.set_xlim(left_limit, right_limit)
    if left_limit > 0:
        _axis_break(ax, [float(v) for v in y[total_bar]])
    for yi, (kind, value, edge) in enumerate(zip(kinds, bridge["value"], hi_edge)):
        text = f.credits(value) if kind in ("start", "end") else f.change(value)
        ax.annotate(
            lit(text),
            (max(float(edge), left_limit), yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=SMALL,
        )
    ax.set_yticks(y, [lit(label) for label in bridge["label"]], fontsize=SMALL)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    _value_axis(ax, page, "x")
    ax.xaxis.set_major_locator(MaxNLocator(4))


def bridge_limits(bridge: pd.DataFrame) -> tuple[float, float]:
    """The bridge's value axis: from zero when the steps are large enough to read at that
    scale, else from a round number below the smallest edge (the break is then marked)."""
    lo_edge = np.minimum(bridge["bottom"], bridge["top"]).to_numpy(dtype="float64")
    hi_edge = np.maximum(bridge["bottom"], bridge["top"]).to_numpy(dtype="float64")
    total_bar = np.isin(bridge["kind"].tolist(), ["start", "end"])
    steps = ~total_bar
    ends = hi_edge[total_bar]
    lo = float(min(lo_edge[steps].min() if steps.any() else ends.min(), ends.min()))
    hi = float(hi_edge.max())
    span = max(hi - lo, abs(hi) * 0.02, 1.0)
    right = hi + span * 0.5
    if lo <= 0 or span >= 0.25 * hi:
        return min(0.0, lo - span * 0.1), right
    step = 10.0 ** math.floor(math.log10(span))
    return max(0.0, math.floor((lo - span * 0.6) / step) * step), right


def _axis_break(ax: Axes, bars: Sequence[float]) -> None:
    """Mark an axis that does not start at zero: a double slash on the axis line and across
    each bar that runs off its left end."""
    slash: dict[str, Any] = {
        "color": "white",
        "linewidth": 2.2,
        "zorder": 3,
        "solid_capstyle": "butt",
    }
    across = ax.get_yaxis_transform()  # x in axes fractions, y in data
    for yi in bars:
        for x0 in (0.018, 0.038):
            ax.plot([x0, x0 + 0.012], [yi + 0.36, yi - 0.36], transform=across, **slash)
    ink: dict[str, Any] = {"color": "#1F2933", "linewidth": 0.8, "clip_on": False, "zorder": 4}
    for x0 in (0.0, 0.012):
        ax.plot([x0, x0 + 0.01], [-0.012, 0.012], transform=ax.transAxes, **ink)


def _cost_axes(ax: Axes, page: _Page) -> None:
    """Estimated cost by operation, largest first; unpriced operations are named below the chart."""
    rep = page.rep
    f = rep.formats
    ops = rep.cost_by_operation[rep.cost_by_operation["priced"].astype(bool)]
    if ops.empty:
        ax.set_axis_off()
        ax.text(
            0,
            1,
            "No operation of the month has a list price:\nthere is no cost estimate.",
            transform=ax.transAxes,
            va="top",
            fontsize=BODY,
        )
        return
    y = np.arange(len(ops))
    ax.barh(
        y,
        ops["estimated_cost"],
        color=[_color(rep.colors.get(o, "7F7F7F")) for o in ops["operation"]],
        height=0.62,
        zorder=2,
    )
    top = float(ops["estimated_cost"].max()) if len(ops) else 1.0
    ax.set_xlim(0, max(top, 0.01) * 1.4)
    for yi, r in zip(y, ops.itertuples(index=False)):
        ax.annotate(
            lit(f"{f.money(r.estimated_cost)} ({f.share(r.cost_share_display)})"),
            (r.estimated_cost, yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=SMALL,
        )
    ax.set_yticks(y, [lit(o) for o in ops["operation"]], fontsize=SMALL)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    _value_axis(ax, page, "x", money=True)
    ax.xaxis.set_major_locator(MaxNLocator(4))


def _daily_axes(ax: Axes, page: _Page) -> None:
    rep = page.rep
    mat = rep.daily_matrix
    weekend = _color(rep.theme.colors.get("weekend", "EEF1F5"))
    alert = _color(rep.theme.colors.get("increase", "C0392B"))
    renderer = page.renderer
    if not len(mat):
        ax.set_yticks([])
        return
    days = mat.index
    x = np.arange(len(days), dtype="float64")
    # Weekends shaded from the bottom to the top of the axes, as one collection.
    ends = [(i - 0.5, i + 0.5) for i, day in enumerate(days) if day.day_of_week >= 5]
    if ends:
        from matplotlib.collections import PolyCollection

        ax.add_collection(
            PolyCollection(
                [[(a, 0), (a, 1), (b, 1), (b, 0)] for a, b in ends],
                closed=True,
                facecolors=weekend,
                edgecolors="none",
                linewidths=0,
                zorder=0,
                transform=ax.get_xaxis_transform(),
            ),
            autolim=False,
        )
    values = np.clip(mat.to_numpy(dtype="float64"), 0, None)
    bottoms = np.zeros(len(days))
    segment: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for j, op in enumerate(mat.columns):
        _bars(
            ax,
            x,
            values[:, j],
            bottoms,
            width=0.8,
            color=_color(rep.colors.get(op, "7F7F7F")),
            label=lit(op),
        )
        segment[op] = (bottoms.copy(), values[:, j].copy())
        bottoms += values[:, j]
    top = float(bottoms.max()) if len(bottoms) else 1.0
    day_pos = {d.date(): i for i, d in enumerate(days)}
    marks = [
        row
        for row in rep.anomalies.itertuples(index=False)
        if row.day in day_pos and row.operation in segment
    ]
    _headroom(ax, renderer, top, 30 if marks else 4)
    ymax = ax.get_ylim()[1]
    fc, fb = anomaly_formats(rep)
    for row in marks:
        xi = day_pos[row.day]
        base, height = segment[row.operation][0][xi], segment[row.operation][1][xi]
        # The anomaly is outlined on its own operation's segment, not on top of the whole stack.
        ax.add_patch(
            Rectangle(
                (xi - 0.5, base), 1.0, height, fill=False, edgecolor=alert, linewidth=1.6, zorder=4
            )
        )
        ha = "left" if xi < len(days) * 0.6 else "right"
        label = (
            f"{row.day.day} {row.day:%b} {row.operation}: "
            f"{fc.credits(row.credits)} credits, "
            f"{fb.credits(row.excess)} above baseline"
        )
        ax.annotate(
            lit(label),
            (xi, base + height / 2),
            xytext=(xi + (0.9 if ha == "left" else -0.9), ymax * 0.97),
            textcoords="data",
            ha=ha,
            va="top",
            fontsize=SMALL,
            color=alert,
            zorder=5,
            arrowprops={
                "arrowstyle": "-",
                "color": alert,
                "linewidth": 0.8,
                "shrinkA": 0,
                "shrinkB": 0,
                "relpos": (0 if ha == "left" else 1, 0.5),
            },
        )
    step = 1 if len(days) <= 16 else 2
    _category_labels(ax, list(x[::step]), [f"{d.day}" for d in days[::step]], SMALL)
    ax.tick_params(axis="x", length=0)
    ax.tick_params(axis="y", labelsize=SMALL)
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    _legend_in_stacking_order(ax)


def _notes_blocks(rep: MonthlyReport) -> list[tuple[str, list[str]]]:
    return [
        (
            "Definitions",
            [
                (
                    "Credits are the API's credits consumed; "
                    f"days are local calendar days in {rep.timezone}, "
                    "months are calendar months."
                ),
                (
                    "Shares are of the month's credits; "
                    "displayed percentages use largest-remainder rounding "
                    "so they add up to 100.0%."
                ),
                rep.theme.text.get(
                    "estimate_note", "Estimated cost is an estimate, not an invoice."
                )
                + f" Tier multiplier {rep.theme.tier_multiplier:g}; "
                "each line is rounded half-up to the cent.",
                f"Anomalies: {ANOMALY_RULE}.",
            ],
        ),
        ("Comparison rule", [rep.rule, f"This report: {rep.comparison_basis}."]),
        (
            "Data completeness",
            [
                (
                    "Complete month."
                    if rep.complete
                    else f"Partial month: {rep.elapsed_days} of {rep.days_in_month} days "
                    f"complete as of {rep.as_of:%Y-%m-%d %H:%M}."
                ),
                *(["Warnings: see page 1."] if rep.warnings else []),
                *rep.notes,
            ],
        ),
        (
            "Source",
            [
                f"{rep.source_label}; account: {rep.account}; "
                f"generated by generect-reports {rep.version}.",
                f"Input checksum (SHA-256): {rep.checksum}",
            ],
        ),
    ]


# --------------------------------------------------------------------------- pages


def _page_summary(rep: MonthlyReport) -> _Page:
    page = _Page(rep)
    top = _header(
        page, rep.theme.text.get("subtitle", "Monthly usage report") + f": {rep.comparison_basis}"
    )
    alert = _color(rep.theme.colors.get("increase", "C0392B"))
    text_width = page.width - 2 * MARGIN
    for warning in rep.warnings:
        top = page.paragraph(
            MARGIN, top, "Warning: " + warning, text_width, BODY, color=alert, fontweight="bold"
        )
    if rep.warnings:
        top += 0.06
    top = _exceptions_block(page, top) + 0.08
    for sentence in rep.narrative:
        top = page.paragraph(MARGIN, top, sentence, text_width, 10.0, leading=1.35)
    top += 0.1
    top = _draw_tiles(page, P.kpis(rep), top) + 0.28
    top = _block_title(page, MARGIN, top, _history_title(rep)) + 0.03
    legend_width = 1.55
    left = MARGIN + 0.55
    bottom = page.height - 0.85
    ax = page.axes(left, top, page.width - left - MARGIN - legend_width, bottom - top)
    _history_axes(ax, rep, page.renderer)
    return page


def _exceptions_block(page: _Page, top: float) -> float:
    """The report's exceptions and actions, alerts in the theme's increase colour, each line
    marked by a bullet; one line when there is nothing to report."""
    from generect_reports.reports.exceptions import TITLE, report_exceptions

    rep = page.rep
    alert = _color(rep.theme.colors.get("increase", "C0392B"))
    width = page.width - 2 * MARGIN - 0.18
    top = _block_title(page, MARGIN, top, TITLE) - 0.04
    found = report_exceptions(rep)
    if not found:
        from generect_reports.reports.exceptions import NOTHING_TO_REPORT

        return page.paragraph(MARGIN, top, NOTHING_TO_REPORT, width, BODY, leading=1.3)
    for item in found:
        colour = alert if item.alert else "#1F2933"
        page.text(MARGIN, top, "\u2022", BODY, color=colour)
        top = page.paragraph(MARGIN + 0.18, top, item.text, width, BODY, leading=1.3, color=colour)
    return top


def _page_operations(rep: MonthlyReport) -> _Page:
    page = _Page(rep)
    top = _header(page, "Operations: credits, shares, change, year over year and estimated cost")
    cols, rows, tones = _operations_rows(rep)
    scale = (page.width - 2 * MARGIN) / sum(w for _, w, _ in cols)
    cols = [(h, w * scale, a) for h, w, a in cols]
    top = _table(page, MARGIN, top, cols, rows, bold_last=True, tones=tones) + 0.38
    half = (page.width - 2 * MARGIN - 0.5) / 2
    right = MARGIN + half + 0.5
    _block_title(page, MARGIN, top, "What drove the change")
    top = _block_title(page, right, top, "Estimated cost by operation, ranked")
    if len(rep.bridge):
        start = bridge_limits(rep.bridge)[0]
        caption = (
            f"Largest contribution first; the axis starts at {start:,.0f} (broken)"
            if start > 0
            else f"From {rep.bridge['label'].iloc[0]} to {rep.bridge['label'].iloc[-1]}, "
            "largest contribution first"
        )
        _caption(page, MARGIN, top, caption)
    if rep.unpriced:
        # A long list would run off the page: beyond three names, the notes on page 3 name them.
        unpriced = (
            ", ".join(P.layout_name(name) for name in rep.unpriced)
            if len(rep.unpriced) <= 3
            else f"{len(rep.unpriced)} operations, named in the notes"
        )
        _caption(page, right, top, "Unpriced, not in the estimate: " + unpriced)
    top += 0.22
    bottom = page.height - 0.75
    label_w = 1.75
    ax = page.axes(MARGIN + label_w, top, half - label_w, bottom - top)
    _bridge_axes(ax, page)
    ax2 = page.axes(right + 1.3, top, half - 1.3, bottom - top)
    _cost_axes(ax2, page)
    return page


def _page_days(rep: MonthlyReport) -> _Page:
    page = _Page(rep)
    top = _header(page, "The month day by day, anomalies and notes")
    top = (
        _block_title(
            page,
            MARGIN,
            top,
            f"Daily credits by operation, {rep.month_name} (weekends shaded, anomalies outlined)",
        )
        + 0.03
    )
    left = MARGIN + 0.55
    ax = page.axes(left, top, page.width - left - MARGIN - 1.55, 2.85)
    _daily_axes(ax, page)
    top += 2.85 + 0.42
    col_w = (page.width - 2 * MARGIN - 0.4) / 2
    y = top
    y = _block_title(page, MARGIN, y, "Anomalies") - 0.03
    for line in P.anomaly_lines(rep):
        y = page.paragraph(MARGIN, y, line, col_w, SMALL, leading=1.35) + 0.04
    blocks = _notes_blocks(rep)
    y += 0.12
    right = MARGIN + col_w + 0.4
    y2 = top
    for i, (title, lines) in enumerate(blocks):
        # Definitions and rule continue the left column; completeness and source go right.
        col_left, cur = (MARGIN, y) if i < 2 else (right, y2)
        cur = _block_title(page, col_left, cur, title) - 0.05
        for line in lines:
            cur = page.paragraph(col_left, cur, line, col_w, SMALL, leading=1.3) + 0.03
        cur += 0.1
        if i < 2:
            y = cur
        else:
            y2 = cur
    return page


def _texts(fig: Figure) -> Iterator[Text]:
    """Every text of the figure made so far. Unlike ``findobj`` this does not visit the axis of
    axes drawn without one, whose (never drawn) tick labels would be made just to be walked."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    stack: list[Any] = [fig]
    while stack:
        artist = stack.pop()
        if isinstance(artist, Text):
            yield artist
        if isinstance(artist, Axis) and not (artist.axes.axison and artist.get_visible()):
            continue
        stack.extend(artist.get_children())


def _no_ligatures(figures: Sequence[Figure]) -> set[str]:
    """Turn off ligatures and return the characters of every text.

    Ligatures: matplotlib embeds ligature glyphs ("fi", "ff") as a second subset of the font,
    and every embedded subset costs a TrueType subsetting pass (~0.1 s each when not cached).
    """
    chars: set[str] = set()
    for fig in figures:
        for text in _texts(fig):
            text.set_fontfeatures(("-liga", "-clig"))
            chars.update(text.get_text())
    return chars


#: Characters tick labels may show (made while drawing, after the texts are walked).
_TICK_CHARS = frozenset("0123456789,.%-+\u2212 $")

_coverage: dict[str, frozenset[int]] = {}


def _covers(family: str, chars: set[str]) -> bool:
    """Whether the regular and bold faces matplotlib picks for ``family`` have every glyph."""
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    codes = {ord(c) for c in chars if not c.isspace()}
    for weight in ("normal", "bold"):
        path = font_manager.findfont(
            FontProperties(family=[family], weight=weight), fallback_to_default=False
        )
        if path not in _coverage:
            _coverage[path] = frozenset(font_manager.get_font(path).get_charmap())
        if not codes <= _coverage[path]:
            return False
    return True


def _section_pages(rep: MonthlyReport) -> list[_Page]:
    """One page per optional section (plan limit and budgets, ledger, customers), drawn with
    this module's components; the footer is added like on every page."""
    from generect_reports.render.pdf.sections import section_pages

    return section_pages(rep)


def _build_pages(rep: MonthlyReport) -> list[_Page]:
    # A landscape page holds a dozen operations in its table, legends and bars: more are
    # shown as one "Other" line that adds up (the workbook lists every one).
    shown = P.fold_operations(rep)
    pages = [build(shown) for build in (_page_summary, _page_operations, _page_days)]
    pages += _section_pages(rep)
    for number, page in enumerate(pages, start=1):
        _footer(page, number, len(pages))
    return pages


def _pages(rep: MonthlyReport) -> tuple[list[_Page], dict[str, Any]]:
    """The built pages and the rc parameters to draw them with.

    Every text looks its font up in each family of the fallback chain, and with the Noto fonts
    installed each lookup scores hundreds of fonts. So the pages are built with the theme font
    alone first, and built again with the whole chain only if that font lacks a glyph of some
    text. A font of the chain is only used for glyphs the fonts before it lack, so both give
    the same pages.
    """
    from matplotlib import font_manager

    full = _rc(rep)
    chain = list(full["font.family"])
    installed = {f.name for f in font_manager.fontManager.ttflist}
    first = next((name for name in chain if name in installed), None)
    if first is not None:
        # A family that is not installed is skipped by matplotlib anyway.
        lean = {**full, "font.family": [first]}
        with matplotlib.rc_context(lean), warnings.catch_warnings():  # type: ignore[arg-type]
            # A missing glyph sends this pass to the chain below, which warns if it has to.
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            pages = _build_pages(rep)
            chars = _no_ligatures([p.fig for p in pages])
        if _covers(first, chars | _TICK_CHARS | set(rep.formats.symbol)):
            return pages, lean
    with matplotlib.rc_context(full):  # type: ignore[arg-type]
        pages = _build_pages(rep)
        _no_ligatures([p.fig for p in pages])
    return pages, full


def render_pdf(rep: MonthlyReport) -> bytes:
    """The report as PDF bytes; the same report always gives the same bytes."""
    from generect_reports.render.pdf.fontcache import cached_font_subsets

    pages, rc = _pages(rep)
    buffer = io.BytesIO()
    as_of = rep.as_of.tz_convert("UTC").to_pydatetime().replace(microsecond=0)
    metadata = {
        "Title": f"Generect usage {rep.month}",
        "Author": rep.account,
        "Creator": f"generect-reports {rep.version}",
        "Producer": "generect-reports",
        "CreationDate": as_of.astimezone(dt.UTC),
        "ModDate": None,
        "Subject": f"Credit usage report for {rep.month_name}",
    }
    style = matplotlib.rc_context(rc)  # type: ignore[arg-type]
    with style, cached_font_subsets(), PdfPages(buffer, metadata=metadata) as pdf:
        for page in pages:
            pdf.savefig(page.fig)
    return buffer.getvalue()


def write_report_pdf(rep: MonthlyReport, path: str | os.PathLike[str]) -> None:
    """Write the PDF of an already built :class:`MonthlyReport`, atomically."""
    data = render_pdf(rep)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_pdf_report(
    usage: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    month: str | None = None,
    history: int = 12,
    template: Any = None,
    account: str | None = None,
) -> None:
    """Write the monthly PDF report for ``month`` from daily tidy usage (see
    :func:`~generect_reports.excel.write_excel_report` for the parameters)."""
    from generect_reports.reports.monthly import build_report

    write_report_pdf(
        build_report(usage, month, history=history, template=template, account=account), path
    )


def history_chart_png(
    rep: MonthlyReport, dpi: int = 200, width: float = 4.8, months: int = 13
) -> bytes:
    """The history chart for the email body as PNG bytes.

    Drawn ``width`` inches wide at ``dpi``; the email lays it out at half its pixels, so it is
    sharp on high-density screens. It shows the last ``months`` months (13 include the same
    month last year), with the legend below the bars and type large enough for a phone.
    """
    from dataclasses import replace

    shown = replace(rep, monthly=rep.monthly.iloc[:, -months:]) if months else rep
    n_ops = len(shown.monthly.index)
    legend_rows = -(-n_ops // 2)
    size = 9.5
    with matplotlib.rc_context(_rc(rep)):  # type: ignore[arg-type]
        plot_h = width * 0.5
        top_pad, bottom_pad = 0.42, 0.55 + legend_rows * size * 1.45 / 72
        height = plot_h + top_pad + bottom_pad
        fig = Figure(figsize=(width, height))
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes(
            (0.62 / width, bottom_pad / height, (width - 0.95) / width, plot_h / height)
        )
        n = len(shown.monthly.columns)
        title = f"Credits by month, last {n} months" if n > 1 else "Credits by operation, one month"
        if not rep.complete:
            title += " (this month to date)"
        fig.text(
            0.1 / width, 1 - 0.1 / height, lit(title), fontsize=10.5, fontweight="bold", va="top"
        )
        _history_axes(ax, shown, canvas.get_renderer(), size=size, label_size=8.5, legend="below")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
