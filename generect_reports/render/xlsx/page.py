"""Print setup shared by every workbook the package writes (monthly, reconciliation,
chargeback): the theme's paper, one page wide, the table's header row repeated, and a header
and a footer with page x of y."""

from __future__ import annotations

from typing import Any

__all__ = ["print_setup", "PAPER_CODES"]

#: XlsxWriter's paper codes for the theme's page sizes.
PAPER_CODES = {"a4": 9, "letter": 1}


def _hf(text: str) -> str:
    """Text for a header or footer: ``&`` doubled, so it is not read as a code."""
    return str(text).replace("&", "&&")


def print_setup(
    ws: Any,
    *,
    title: str,
    footer_left: str,
    paper: str = "a4",
    landscape: bool = True,
    header_row: int | None = None,
) -> None:
    """Set ``ws`` up for print: ``title`` left in the header with the sheet's name right,
    ``footer_left`` and "Page x of y" in the footer; ``header_row`` (0-based) repeated."""
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_paper(PAPER_CODES.get(paper.lower(), 9))
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
    if header_row is not None:
        ws.repeat_rows(header_row)
    ws.set_header(f'&L&"-,Bold"{_hf(title)}&R&A', {"margin": 0.3})
    ws.set_footer(f"&L{_hf(footer_left)[:80]}&CPage &P of &N", {"margin": 0.3})
