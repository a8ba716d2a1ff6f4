"""The served dashboard as HTML: one function per component of the page, and its charts.

The figures arrive computed and worded (:class:`DashboardPage`); this package only lays them
out. The page is a plain ``<form method="get">``: the state of every control is the URL's query,
so a link reopens its view and a closed page holds nothing on the server.
"""

from .page import (
    ComparePart,
    DashboardPage,
    DrillPart,
    ExplorerPart,
    SectionPart,
    Table,
    render_failure,
    render_page,
    render_page_end,
    render_page_start,
)

__all__ = [
    "DashboardPage",
    "ExplorerPart",
    "ComparePart",
    "DrillPart",
    "SectionPart",
    "Table",
    "render_page",
    "render_page_start",
    "render_page_end",
    "render_failure",
]
