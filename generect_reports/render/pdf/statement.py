"""A customer's statement as a one-page PDF, drawn with the monthly report's components (header
type, KPI tiles, block titles, the ruled table, captions and footer) from the theme.

Everything on the page comes from one :class:`~generect_reports.reports.statements.Statement`,
which holds only that customer's figures.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from generect_reports.render.pdf.document import (
    BODY,
    MARGIN,
    SMALL,
    _block_title,
    _caption,
    _draw_tiles,
    _Page,
    _page_footer,
    _rc,
    _table,
)
from generect_reports.reports import presentation as P

if TYPE_CHECKING:
    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.statements import Statement, Statements
    from generect_reports.theme import Theme

__all__ = [
    "statement_page",
    "render_statement_pdf",
    "write_statement_pdfs",
    "statement_filename",
    "long_date",
]


@dataclass(frozen=True)
class _Look:
    """What the page components read: the theme, the number formats and the period's name."""

    theme: Theme
    formats: ReportFormats
    month_name: str


def _look(st: Statement, theme: Theme) -> _Look:
    from generect_reports.reports.formats import formats_from_theme

    values = [line.credits_hundredths / 100 for line in st.lines] or [0.0]
    month = dt.date(int(st.month[:4]), int(st.month[5:7]), 1)
    return _Look(theme, formats_from_theme(theme.formats, values, st.currency), f"{month:%B %Y}")


def long_date(day: dt.date) -> str:
    """``1 November 2026``."""
    return f"{day.day} {day:%B %Y}"


def _party_block(page: _Page, left: float, top: float, title: str, lines: Any) -> float:
    y = _block_title(page, left, top, title)
    for i, line in enumerate(lines):
        page.text(left, y, line, BODY, fontweight="bold" if i == 0 else "normal")
        y += BODY * 1.4 / 72
    return y


#: Room kept under a table for the notes and the footer, inches.
_NOTES_ROOM = 1.9


def _row_height(page: _Page, top: float, rows: int) -> float:
    """The report's table row height, or less when a customer has so many operations that the
    table would run into the notes (down to the small type's own height)."""
    room = page.height - _NOTES_ROOM - top
    return max(min(0.215, room / (rows + 1)), SMALL * 1.25 / 72)


def _statement_page(st: Statement, theme: Theme) -> _Page:
    look = _look(st, theme)
    f = look.formats
    page = _Page(cast(Any, look))
    heading = float(theme.fonts.get("title_size", 16))
    issuer = st.issuer.name if st.issuer else ""
    page.text(
        MARGIN,
        0.32,
        f"Statement of API usage · {look.month_name}",
        heading,
        fontweight="bold",
        color=page.primary,
    )
    page.text(
        MARGIN,
        0.66,
        f"Statement {st.number} · dated {long_date(st.date)} · period {st.period} ({st.timezone})",
        10,
        color=page.muted,
    )
    top = 0.98
    third = (page.width - 2 * MARGIN) / 3
    # Without an issuer in [chargeback] the statement starts with the bill-to.
    blocks = [("From", st.issuer.lines)] if st.issuer else []
    blocks.append(("Bill to", st.bill_to.lines))
    ends = [
        _party_block(page, MARGIN + i * third, top, title, lines)
        for i, (title, lines) in enumerate(blocks)
    ]
    ends.append(
        _party_block(
            page,
            MARGIN + 2 * third,
            top,
            "Statement",
            [
                f"No. {st.number}",
                f"Date {long_date(st.date)}",
                f"Period {st.period}",
                f"Customer {st.customer}"
                + (f" · token {st.token_hints}" if st.token_hints else ""),
            ],
        )
    )
    top = max(ends) + 0.15
    previous = dt.date(int(st.previous_month[:4]), int(st.previous_month[5:7]), 1)
    prev_name = f"{previous:%B %Y}"
    tiles = [
        P.Kpi(
            "Total for the period",
            f.money(st.total_cents / 100),
            f"{f.exact_credits(st.credits_hundredths / 100)} credits",
        ),
        P.Kpi(
            prev_name,
            f.money(st.previous_cents / 100),
            f"{f.exact_credits(st.previous_hundredths / 100)} credits",
        ),
        P.Kpi(
            f"Change against {prev_name}",
            f.money_change(st.change_cents / 100),
            f.signed_pct(st.change_pct),
            P.tone(st.change_cents),
        ),
    ]
    if st.review:
        tiles.append(
            P.Kpi(
                "Under review, not billed",
                f"{f.exact_credits(st.review_hundredths / 100)} credits",
                "see the note below",
            )
        )
    top = _draw_tiles(page, tiles, top, height=0.86) + 0.25
    width = page.width - 2 * MARGIN
    table_w = 7.2
    rate_head = "Rate per credit" + (" (booked)" if st.rate_basis == "booked" else " (list)")
    body = _block_title(page, MARGIN, top, "Usage by operation")
    rows = [
        [
            P.layout_name(line.operation),
            f.exact_credits(line.credits_hundredths / 100),
            f"{f.symbol}{line.rate:.4f}",
            f.money(line.amount_cents / 100),
        ]
        for line in st.lines
    ]
    if not rows:
        rows = [["No usage in the period", "0", "-", f.money(0)]]
    rows.append(
        [
            "Subtotal",
            f.exact_credits(st.credits_hundredths / 100),
            "",
            f.money(st.subtotal_cents / 100),
        ]
    )
    rows.append(["Total", "", "", f.money(st.total_cents / 100)])
    end = _table(
        page,
        MARGIN,
        body,
        [
            ("Operation", 2.7, "l"),
            ("Credits", 1.5, "r"),
            (rate_head, 1.6, "r"),
            ("Amount", 1.4, "r"),
        ],
        rows,
        bold_last=True,
        row_height=_row_height(page, body, len(rows)),
    )
    right = MARGIN + table_w + 0.4
    right_w = page.width - MARGIN - right
    y = body - 0.27
    if st.review:
        y = _block_title(page, right, y, "Under review (not billed)")
        review_rows = [
            [
                P.layout_name(r.operation),
                f"{r.lower:,}–{r.upper:,}",
                f.exact_credits(r.credits_hundredths / 100),
            ]
            for r in st.review
            if r.credits_hundredths
        ]
        y = _table(
            page,
            right,
            y,
            [("Operation", right_w - 2.4, "l"), ("Successful", 1.2, "r"), ("Credits", 1.2, "r")],
            review_rows,
            row_height=_row_height(page, y, len(review_rows)),
        )
        y = _caption(
            page,
            right,
            y + 0.05,
            "Successful: the range your token's requests prove; the lower end is billed.",
            right_w,
        )
        y += 0.2
    top = max(end, y) + 0.25
    top = _block_title(page, MARGIN, top, "Notes")
    for note in st.notes:
        top = page.paragraph(MARGIN, top, note, width, SMALL, leading=1.3) + 0.03
    if st.payment_terms:
        top = page.paragraph(MARGIN, top, st.payment_terms, width, SMALL, leading=1.3)
    _footer(page, st, issuer)
    return page


def _footer(page: _Page, st: Statement, issuer: str) -> None:
    who = f"{issuer} · " if issuer else ""
    _page_footer(page, f"{who}statement {st.number} · {st.period} · {st.timezone}")


def statement_page(st: Statement, *, theme: Theme | None = None) -> Any:
    """The statement as a matplotlib figure on the theme's paper."""
    from generect_reports.theme import load_theme

    return _statement_page(st, theme or load_theme()).fig


def render_statement_pdf(st: Statement, *, theme: Theme | None = None) -> bytes:
    """One statement as a one-page PDF; the same statement always gives the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    from generect_reports.render.pdf.fontcache import cached_font_subsets
    from generect_reports.theme import load_theme

    theme = theme or load_theme()
    rc = _rc(cast(Any, _look(st, theme)))
    created = dt.datetime.combine(st.date, dt.time(), tzinfo=dt.UTC)
    metadata = {
        "Title": f"Statement {st.number}",
        "Subject": f"Statement of API usage for {st.period}",
        "Creator": "generect-reports",
        "Producer": "generect-reports",
        "CreationDate": created,
        "ModDate": None,
    }
    buffer = io.BytesIO()
    with matplotlib.rc_context(rc), cached_font_subsets():  # type: ignore[arg-type]
        page = _statement_page(st, theme)
        with PdfPages(buffer, metadata=metadata) as pdf:
            pdf.savefig(page.fig)
    return buffer.getvalue()


def statement_filename(st: Statement) -> str:
    """``<statement number>.pdf``: the number holds only letters, digits, ``.``, ``_``, ``-``
    and the prefix's ``/``, which becomes ``-`` here."""
    return st.number.replace("/", "-") + ".pdf"


def write_statement_pdfs(
    statements: Statements, folder: str | os.PathLike[str], *, theme: Theme | None = None
) -> list[Path]:
    """Write one PDF per statement into ``folder`` (created if missing), each atomically;
    returns the paths written."""
    from generect_reports._atomic import write_bytes_atomic
    from generect_reports.theme import load_theme

    theme = theme or load_theme()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for st in statements.statements:
        path = out / statement_filename(st)
        write_bytes_atomic(path, render_statement_pdf(st, theme=theme))
        paths.append(path)
    return paths
