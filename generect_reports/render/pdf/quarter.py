"""The quarter report's PDF page, drawn with the monthly report's components (header, tiles,
block titles, ruled table, value axes) from the theme, in the report's number formats."""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from generect_reports.render.pdf.document import (
    MARGIN,
    SMALL,
    _block_title,
    _color,
    _draw_tiles,
    _header,
    _legend_in_stacking_order,
    _Page,
    _page_footer,
    _rc,
    _table,
    _value_axis,
    lit,
)
from generect_reports.reports import presentation as P

if TYPE_CHECKING:
    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.quarterly import QuarterReport
    from generect_reports.theme import Theme

__all__ = ["quarter_page", "render_quarter_pdf", "write_quarter_pdf"]


@dataclass(frozen=True)
class _Look:
    """What the page components read from a report: the theme, the number formats, the
    period's name (the header's) and where the data comes from (the footer's)."""

    theme: Theme
    formats: ReportFormats
    month_name: str


def _look(rep: QuarterReport, theme: Theme) -> _Look:
    from generect_reports.reports.formats import formats_from_theme

    values = rep.by_month.iloc[:, 1:].to_numpy(dtype="float64")
    return _Look(theme, formats_from_theme(theme.formats, values, rep.currency), rep.label)


def _change_pct(now: float, base: float) -> float:
    return (now - base) / base if base and not np.isnan(base) else float("nan")


def quarter_page(
    rep: QuarterReport,
    *,
    figsize: tuple[float, float] | None = None,
    colors: dict[str, str] | None = None,
    theme: Theme | None = None,
) -> Any:
    """The quarter page as a matplotlib figure, on the theme's paper (``figsize`` is kept for
    callers of the older signature and not used)."""
    return _quarter_page(rep, theme=theme, colors=colors).fig


def _quarter_page(
    rep: QuarterReport, *, theme: Theme | None = None, colors: dict[str, str] | None = None
) -> _Page:
    """The quarter on one landscape page: key figures, the months side by side, what drove the
    change and the operations against the previous quarter and a year earlier."""
    from generect_reports.reports.quarterly import quarter_headings
    from generect_reports.theme import load_theme

    theme = theme or load_theme()
    look = _look(rep, theme)
    f = look.formats
    page = _Page(cast(Any, look))
    prev_head, last_head = quarter_headings(rep)
    top = _header(
        page,
        f"Quarter report: {rep.start:%-d %b %Y} to {rep.end:%-d %b %Y} ({rep.timezone}); "
        f"{rep.comparison_basis}",
    )
    pct_prev = _change_pct(rep.total, rep.previous_total)
    pct_year = _change_pct(rep.total, rep.last_year_total)
    tiles = [
        P.Kpi(
            "Credits this quarter" if rep.complete else "Credits so far",
            f.credits(rep.total),
            rep.label if rep.complete else f"{rep.label}, days 1-{rep.elapsed_days}",
        ),
        P.Kpi(
            f"Change vs {prev_head}",
            f.signed_pct(pct_prev),
            f"{f.change(rep.total - rep.previous_total)} credits on "
            f"{f.credits(rep.previous_total)}",
            P.tone(rep.total - rep.previous_total),
        ),
        P.Kpi(
            f"Change vs {last_head}",
            f.signed_pct(pct_year),
            f"{f.change(rep.total - rep.last_year_total)} credits on "
            f"{f.credits(rep.last_year_total)}",
            P.tone(rep.total - rep.last_year_total),
        ),
        P.Kpi("Estimated cost", f.money(rep.estimated_cost), "at list prices, an estimate"),
    ]
    if rep.forecast is not None:
        tiles.append(_projection_tile(rep, f))
    top = _draw_tiles(page, tiles, top) + 0.28
    rows = len(rep.comparison) + 2
    chart_h = float(np.clip(page.height - 0.75 - top - 0.95 - rows * 0.215, 1.4, 2.6))
    chart_w = 5.2
    _block_title(page, MARGIN, top, "Credits by month")
    right = MARGIN + chart_w + 1.9
    body = _block_title(page, right, top, f"What drove the change against {prev_head}")
    ax = page.axes(MARGIN + 0.55, body, chart_w - 0.55, chart_h)
    _month_bars(ax, page, rep, colors or {})
    y = body
    width = page.width - MARGIN - right
    for line in _driver_lines(rep, f)[:6]:
        y = page.paragraph(right, y, line, width, SMALL + 1, leading=1.3) + 0.02
    top = body + chart_h + 0.4
    top = _block_title(page, MARGIN, top, "Operations")
    cols = [
        ("Operation", 2.2, "l"),
        (rep.label, 1.2, "r"),
        (prev_head, 1.3, "r"),
        (f"vs {rep.previous_label}", 1.1, "r"),
        (last_head, 1.3, "r"),
        (f"vs {rep.last_year_label}", 1.1, "r"),
        ("Est. cost", 1.2, "r"),
    ]
    scale = (page.width - 2 * MARGIN) / sum(w for _, w, _ in cols)
    cells, tones = [], []
    for r in rep.comparison.itertuples(index=False):
        cells.append(
            [
                P.layout_name(r.operation),
                f.credits(r.credits),
                f.credits(r.previous_credits),
                f.signed_pct(r.change_pct),
                f.credits(r.last_year_credits),
                f.signed_pct(r.yoy_change_pct),
                "unpriced" if r.operation in rep.unpriced else f.money(r.estimated_cost),
            ]
        )
        tones.append(["", "", "", P.tone(r.change), "", P.tone(r.yoy_change), ""])
    cells.append(
        [
            "Total",
            f.credits(rep.total),
            f.credits(rep.previous_total),
            f.signed_pct(pct_prev),
            f.credits(rep.last_year_total),
            f.signed_pct(pct_year),
            f.money(rep.estimated_cost),
        ]
    )
    tones.append(["", "", "", P.tone(pct_prev), "", P.tone(pct_year), ""])
    _table(
        page,
        MARGIN,
        top,
        [(h, w * scale, a) for h, w, a in cols],
        cells,
        bold_last=True,
        tones=tones,
    )
    _footer(page, rep)
    return page


def _projection_tile(rep: QuarterReport, f: ReportFormats) -> P.Kpi:
    """The quarter-end projection with its 80 % interval and the error measured halfway into
    past quarters (short enough for a tile)."""
    forecast = rep.forecast
    assert forecast is not None
    low, high = forecast.interval_80
    half = dict(forecast.accuracy.mape).get(0.5)
    said = "error not measured yet" if half is None else f"median error {f.pct(half)}"
    return P.Kpi(
        "Projected quarter end",
        f.projection(forecast.projected),
        f"{f.projection(low)}–{f.projection(high)} at 80%; {said}",
    )


def _driver_lines(rep: QuarterReport, f: ReportFormats) -> list[str]:
    lines = []
    for r in rep.drivers.itertuples(index=False):
        share = "" if np.isnan(r.share_of_change) else f", {f.pct(r.share_of_change)} of it"
        lines.append(f"{r.operation}: {f.change(r.change)} credits{share}")
    return lines or ["No comparison quarter in the data."]


def _month_bars(ax: Any, page: _Page, rep: QuarterReport, colors: dict[str, str]) -> None:
    f = page.rep.formats
    x = np.arange(len(rep.months), dtype="float64")
    bottom = np.zeros(len(rep.months))
    named = page.rep.theme.operation_colors(list(rep.by_month["operation"]))
    for row in rep.by_month.itertuples(index=False):
        values = np.clip(np.asarray(row[1 : 1 + len(rep.months)], dtype="float64"), 0, None)
        colour = _color(colors.get(str(row[0]), named.get(str(row[0]), "7F7F7F")))
        ax.bar(x, values, bottom=bottom, width=0.6, color=colour, label=lit(row[0]), zorder=2)
        bottom += values
    for xi, total in zip(x, bottom):
        ax.annotate(
            lit(f.credits(total)),
            (xi, total),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=SMALL,
        )
    ax.set_ylim(0, max(float(bottom.max()) if len(bottom) else 1.0, 1.0) * 1.15)
    ax.set_xticks(x, [lit(m) for m in rep.months])
    ax.tick_params(axis="x", length=0)
    _value_axis(ax, page, "y")
    _legend_in_stacking_order(ax)


def _footer(page: _Page, rep: QuarterReport) -> None:
    as_of = "" if rep.as_of is None else f" · data as of {rep.as_of:%Y-%m-%d %H:%M}"
    _page_footer(
        page, f"{rep.account} · {rep.label} · {rep.timezone}{as_of} · source: {rep.source}"
    )


def render_quarter_pdf(
    rep: QuarterReport, *, theme: Theme | None = None, colors: dict[str, str] | None = None
) -> bytes:
    """The quarter page as a one-page PDF, the same bytes for the same report."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    from generect_reports.theme import load_theme

    theme = theme or load_theme()
    rc = _rc(cast(Any, _look(rep, theme)))
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
    buffer = io.BytesIO()
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        page = _quarter_page(rep, theme=theme, colors=colors)
        with PdfPages(buffer, metadata=metadata) as pdf:
            pdf.savefig(page.fig)
    return buffer.getvalue()


def write_quarter_pdf(
    rep: QuarterReport,
    path: str | os.PathLike[str],
    *,
    colors: dict[str, str] | None = None,
    theme: Theme | None = None,
) -> None:
    """Write the quarter page PDF to ``path`` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, render_quarter_pdf(rep, colors=colors, theme=theme))
