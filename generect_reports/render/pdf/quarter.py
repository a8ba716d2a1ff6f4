"""The quarter report's PDF page: the months side by side as stacked bars, and the comparison
table, on :class:`matplotlib.figure.Figure` directly."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np

from generect_reports.reports.quarterly import (
    QuarterReport,
    _credits,
    _lit,
    _money,
    _signed_pct,
)

__all__ = ["quarter_page", "render_quarter_pdf", "write_quarter_pdf"]


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
