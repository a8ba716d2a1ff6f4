""" "Download this view": the dashboard's chart and tables as they are on screen, as a PDF in the
report's look (its style sheet and fonts, landscape pages, text as real text)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

from generect_reports.render.pdf.document import MARGIN, PAGE_SIZES, SMALL, lit
from generect_reports.theme import font_chain

if TYPE_CHECKING:
    from generect_reports.theme import Theme

__all__ = ["render_view_pdf"]

#: One table: caption, column headers, rows (the first column is the label).
ViewTable = tuple[str, Sequence[str], Sequence[Sequence[str]]]

_LINE = 0.2  # inches per table row


def _rc(theme: Theme) -> dict[str, Any]:
    params = matplotlib.rc_params_from_file(
        str(theme.file("report.mplstyle")), use_default_template=False
    )
    rc: dict[str, Any] = {str(key): params[key] for key in params}
    rc["font.family"] = font_chain(theme.fonts.get("family") or rc.get("font.family"))
    rc["pdf.fonttype"] = 42
    rc["text.usetex"] = False
    return rc


def render_view_pdf(
    *,
    title: str,
    subtitle: str,
    chart_png: bytes,
    chart_alt: str,
    tables: Sequence[ViewTable],
    theme: Theme,
    created: dt.datetime,
) -> bytes:
    """The view as PDF bytes: the title and what the view is, the chart with its description,
    then each table (continued on further pages when long). The same view gives the same
    bytes."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    width, height = PAGE_SIZES.get(str(theme.paper), PAGE_SIZES["a4"])
    rc = _rc(theme)
    buffer = io.BytesIO()
    metadata = {
        "Title": title,
        "Creator": "generect-reports",
        "Producer": "generect-reports",
        "CreationDate": created.astimezone(dt.UTC).replace(microsecond=0),
        "ModDate": None,
        "Subject": subtitle,
    }
    with matplotlib.rc_context(rc), PdfPages(buffer, metadata=metadata) as pdf:  # type: ignore[arg-type]
        fig = Figure(figsize=(width, height))
        top = MARGIN
        fig.text(MARGIN / width, 1 - top / height, lit(title), fontsize=14, weight="bold", va="top")
        top += 0.32
        fig.text(MARGIN / width, 1 - top / height, lit(subtitle), fontsize=SMALL + 1, va="top")
        top += 0.3
        if chart_png:
            image = imread(io.BytesIO(chart_png))
            h_px, w_px = image.shape[:2]
            box_w = width - 2 * MARGIN
            box_h = min(box_w * h_px / w_px, 3.6)
            box_w = box_h * w_px / h_px
            ax = fig.add_axes(
                (MARGIN / width, 1 - (top + box_h) / height, box_w / width, box_h / height)
            )
            ax.imshow(image, interpolation="lanczos")
            ax.set_axis_off()
            top += box_h + 0.1
            fig.text(
                MARGIN / width,
                1 - top / height,
                lit(chart_alt, 260),
                fontsize=SMALL,
                va="top",
                wrap=True,
                color="#4a4a4a",
            )
            top += 0.45
        for caption, header, rows in tables:
            lines = [tuple(header), *(tuple(r) for r in rows)]
            columns = max(len(x) for x in lines)
            first_w = 3.2
            other_w = min(1.7, (width - 2 * MARGIN - first_w) / max(columns - 1, 1))
            if top + 3 * _LINE > height - MARGIN:
                pdf.savefig(fig)
                fig, top = Figure(figsize=(width, height)), MARGIN
            fig.text(MARGIN / width, 1 - top / height, lit(caption), fontsize=10.5, va="top")
            top += 0.28
            for i, row in enumerate(lines):
                if top + _LINE > height - MARGIN:
                    pdf.savefig(fig)
                    fig, top = Figure(figsize=(width, height)), MARGIN
                weight = (
                    "bold"
                    if i == 0 or (i == len(lines) - 1 and row[0].startswith("Total"))
                    else "normal"
                )
                fig.text(
                    MARGIN / width,
                    1 - top / height,
                    lit(row[0], 44),
                    fontsize=SMALL,
                    va="top",
                    weight=weight,
                )
                for j, cell in enumerate(row[1:]):
                    x = MARGIN + first_w + (j + 1) * other_w
                    fig.text(
                        x / width,
                        1 - top / height,
                        lit(cell, 24),
                        fontsize=SMALL,
                        va="top",
                        ha="right",
                        weight=weight,
                    )
                top += _LINE
            top += 0.25
        pdf.savefig(fig)
    return buffer.getvalue()
