"""The roll-up PDF: one landscape page per month across accounts, the accounts ranked with their
change, cost, limit use and exceptions, and the operations across them. A partial roll-up says
so in its title and above its totals."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from generect_reports.reports.rollup import RollupReport
from generect_reports.theme import Theme, load_theme

__all__ = ["rollup_page", "render_rollup_pdf", "write_rollup_pdf"]


def _lit(text: Any) -> str:
    """Text shown literally: a ``$`` in a name is not mathtext."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def rollup_page(rep: RollupReport, *, theme: Theme | None = None) -> Any:
    """The page as a :class:`matplotlib.figure.Figure` (no pyplot state); text 8 pt or more."""
    from matplotlib.figure import Figure

    theme = theme or load_theme()
    f = rep.formats
    primary = "#" + str(theme.colors.get("primary", "1F3A5F"))
    muted = "#" + str(theme.colors.get("muted", "6B7280"))
    alert = "#" + str(theme.colors.get("increase", "C0392B"))
    fig = Figure(figsize=(11.69, 8.27) if theme.paper == "a4" else (11.0, 8.5))
    fig.text(0.04, 0.95, _lit(rep.title), fontsize=16, weight="bold", color=primary)
    basis = "the same days of" if not rep.month_complete else ""
    summary = (
        f"{f.credits(rep.total)} credits across {len(rep.accounts)} account(s), "
        f"{f.signed_pct(rep.change_pct)} against {basis} the previous month "
        f"({f.credits(rep.previous_total)}); cost {f.money(rep.cost)}."
    ).replace("  ", " ")
    fig.text(0.04, 0.91, _lit(summary), fontsize=10)
    if not rep.complete:
        names = ", ".join(str(x["account"]) for x in rep.failed)
        fig.text(
            0.04,
            0.875,
            _lit(f"Partial: not included, as they could not be read: {names}."),
            fontsize=10,
            weight="bold",
            color=alert,
        )

    ax = fig.add_axes((0.04, 0.40, 0.92, 0.44))
    ax.axis("off")
    header = [
        "Account",
        "Credits",
        "Change",
        "Year over year",
        "Cost",
        "Limit used",
        "Status",
        "Exceptions",
    ]
    shown = rep.accounts.head(15)
    body = [
        [
            _lit(_cut(str(r.label), 22)),
            f.credits(r.credits),
            f.signed_pct(r.change_pct),
            f.signed_pct(r.yoy_change_pct),
            f.money(r.cost),
            f.pct(r.limit_use),
            r.status,
            _lit(_cut(str(r.exceptions) or "none", 58)),
        ]
        for r in shown.itertuples()
    ]
    total = "Total" if rep.complete else "Total (partial)"
    body.append(
        [total, f.credits(rep.total), f.signed_pct(rep.change_pct), "", f.money(rep.cost)]
        + ["", "", ""]
    )
    table = ax.table(
        cellText=body,
        colLabels=header,
        loc="upper left",
        cellLoc="right",
        colWidths=[0.14, 0.09, 0.07, 0.09, 0.09, 0.07, 0.09, 0.36],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, col), cell in table.get_celld().items():
        cell.set_edgecolor("#" + str(theme.colors.get("grid", "D1D5DB")))
        cell.set_linewidth(0.4)
        if col in (0, 6, 7):
            cell.get_text().set_horizontalalignment("left")
        if row == 0:
            cell.set_facecolor(primary)
            cell.get_text().set_color("white")
            cell.get_text().set_fontweight("bold")
        elif row == len(body):
            cell.get_text().set_fontweight("bold")
    if len(rep.accounts) > len(shown):
        fig.text(
            0.04,
            0.37,
            f"The 15 largest of {len(rep.accounts)} accounts; the workbook lists every one.",
            fontsize=8,
            color=muted,
        )

    ops = rep.operations.head(10)
    ax2 = fig.add_axes((0.19, 0.07, 0.30, 0.25))  # room on the left for the names
    ax2.barh(
        [_lit(o) for o in ops["operation"]][::-1],
        list(ops["credits"])[::-1],
        color=primary,
    )
    ax2.set_title("Operations across accounts (credits)", fontsize=10, loc="left")
    ax2.tick_params(labelsize=8)
    ax2.xaxis.set_major_formatter(_thousands())
    for side in ("top", "right"):
        ax2.spines[side].set_visible(False)
    ax3 = fig.add_axes((0.55, 0.07, 0.40, 0.25))
    ax3.axis("off")
    lines = [
        f"{_lit(_cut(str(o.operation), 26))}: {f.credits(o.credits)} credits, "
        f"{f.share(o.share_display)}"
        for o in ops.itertuples()
    ]
    ax3.text(0, 1, "\n".join(lines), fontsize=8, va="top")
    fig.text(
        0.04,
        0.02,
        f"generect-reports · {rep.month} · {rep.timezone} · each account's figures are its own "
        "report's",
        fontsize=8,
        color=muted,
    )
    return fig


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:,.0f}")


def render_rollup_pdf(rep: RollupReport, *, theme: Theme | None = None) -> bytes:
    """The roll-up page as a one-page PDF (fonts embedded as TrueType; fixed metadata)."""
    import io

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42, "text.usetex": False}):
        fig = rollup_page(rep, theme=theme)
        buffer = io.BytesIO()
        metadata = {
            "Title": rep.title,
            "Creator": "generect-reports",
            "Producer": "generect-reports",
            "CreationDate": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            "ModDate": None,
        }
        with PdfPages(buffer, metadata=metadata) as pdf:
            pdf.savefig(fig)
    return buffer.getvalue()


def write_rollup_pdf(
    rep: RollupReport, path: str | os.PathLike[str], *, theme: Theme | None = None
) -> None:
    """Write the roll-up PDF to ``path`` atomically."""
    from generect_reports._atomic import write_bytes_atomic

    write_bytes_atomic(path, render_rollup_pdf(rep, theme=theme))
