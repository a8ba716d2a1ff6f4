"""The monthly PDF report: matplotlib figures on A4 or Letter pages, reproducible to the byte.

Text is real text (TrueType fonts embedded, ``pdf.fonttype`` 42) so ``pdftotext`` finds every
figure; data labels are escaped so a ``$`` in an operation name is not read as mathtext.
"""

from __future__ import annotations

import io
import os
import textwrap
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=False)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .._atomic import atomic_path  # noqa: E402
from .._text import display_text, truncate_for_layout  # noqa: E402
from ..theme import font_chain  # noqa: E402
from ..analysis.usage import ANOMALY_RULE  # noqa: E402
from .report import fmt_change, fmt_credits, fmt_money, fmt_signed_pct  # noqa: E402

if TYPE_CHECKING:
    from .report import MonthlyReport

__all__ = ["write_pdf_report", "write_report_pdf", "render_pdf", "history_chart_png"]

PAGE_SIZES = {"a4": (8.27, 11.69), "letter": (8.5, 11.0)}
#: Characters of an operation name shown in each place (the data keeps the whole name).
NAME_WIDTH = {"tile": 24, "legend": 34, "table": 38}


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
    return "#" + hexcode.lstrip("#")


def _rc(rep: "MonthlyReport") -> dict[str, Any]:
    params = matplotlib.rc_params_from_file(str(rep.theme.file("report.mplstyle")),
                                            use_default_template=False)
    rc: dict[str, Any] = {str(key): params[key] for key in params}
    family = rep.theme.fonts.get("family")
    # Glyphs the theme font lacks come from the next installed font of the chain.
    rc["font.family"] = font_chain(family or rc.get("font.family"))
    rc["pdf.fonttype"] = 42
    rc["text.usetex"] = False
    return rc


def _thousands(x: float, _pos: Any = None) -> str:
    return f"{x:,.0f}"


def _page(rep: "MonthlyReport") -> Figure:
    fig = Figure(figsize=PAGE_SIZES[rep.theme.paper])
    return fig


def _header(fig: Figure, rep: "MonthlyReport", heading: str) -> None:
    t = rep.theme.text
    fig.text(0.06, 0.955, lit(f"{t.get('title', 'Generect credit usage')} · {rep.month_name}"),
             fontsize=float(rep.theme.fonts.get("title_size", 16)), fontweight="bold",
             color=_color(rep.theme.colors.get("primary", "1F3A5F")))
    fig.text(0.06, 0.932, lit(heading), fontsize=10, color=_color(rep.theme.colors.get("muted", "6B7280")))


def _footer(fig: Figure, rep: "MonthlyReport", page: int, pages: int) -> None:
    fig.text(0.06, 0.025, lit(f"{rep.account} · {rep.timezone} · data as of {rep.as_of:%Y-%m-%d %H:%M} · "
                              f"source: {rep.source_label}"), fontsize=7,
             color=_color(rep.theme.colors.get("muted", "6B7280")))
    fig.text(0.94, 0.025, f"page {page} of {pages}", fontsize=7, ha="right",
             color=_color(rep.theme.colors.get("muted", "6B7280")))


def _tiles(fig: Figure, rep: "MonthlyReport") -> None:
    prev_short = rep.previous_month_name.split(" ")[0][:3]
    prev_label = (f"vs {rep.previous_month_name}" if rep.complete
                  else f"vs {prev_short} 1-{rep.elapsed_days}")
    tiles = [
        ("Credits this month" if rep.complete else "Credits so far", fmt_credits(rep.total), ""),
        ("Change", fmt_signed_pct(rep.change_pct), f"{fmt_change(rep.change)} {prev_label}"),
        ("Top operation", lit(rep.top_operation or "-", NAME_WIDTH["tile"]),
         fmt_credits(float(rep.operations["credits"].iloc[0])) if rep.top_operation else ""),
        ("Estimated cost", fmt_money(rep.estimated_cost, rep.currency), "estimate at list prices"),
    ]
    if not rep.complete:
        tiles.append(("Projection (estimate)", fmt_credits(rep.projection or 0.0),
                      f"weekday-aware {fmt_credits(rep.projection_weekday or 0.0)}"))
    n = len(tiles)
    width = 0.88 / n
    for i, (label, value, sub) in enumerate(tiles):
        ax = fig.add_axes((0.06 + i * width, 0.80, width - 0.012, 0.105))
        ax.set_axis_off()
        ax.add_patch(matplotlib.patches.FancyBboxPatch(
            (0, 0), 1, 1, boxstyle="round,pad=0,rounding_size=0.04", transform=ax.transAxes,
            facecolor=_color(rep.theme.colors.get("weekend", "EEF1F5")), edgecolor="none"))
        ax.text(0.07, 0.78, label, fontsize=7.5, color=_color(rep.theme.colors.get("muted", "6B7280")), transform=ax.transAxes)
        size = 12 if len(value) < 14 else 9
        ax.text(0.07, 0.42, value, fontsize=size, fontweight="bold", transform=ax.transAxes)
        if sub:
            ax.text(0.07, 0.12, lit(textwrap.shorten(sub, 42, placeholder="...")), fontsize=6,
                    color=_color(rep.theme.colors.get("muted", "6B7280")), transform=ax.transAxes)


def _history_axes(ax: Any, rep: "MonthlyReport") -> None:
    monthly = rep.monthly
    months = list(monthly.columns)
    x = np.arange(len(months))
    bottom = np.zeros(len(months))
    for op, values in monthly.iterrows():
        vals = values.to_numpy(dtype="float64")
        ax.bar(x, vals, bottom=bottom, color=_color(rep.colors.get(str(op), "7F7F7F")),
               label=lit(op), width=0.72)
        bottom += vals
    labels = [lit(m) for m in months]
    if not rep.complete and months and months[-1] == rep.month:
        labels[-1] += " (to date)"
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_ylabel("Credits")
    for xi, total in zip(x, bottom):
        ax.text(xi, total, f"{total:,.0f}", ha="center", va="bottom", fontsize=6)
    ax.set_title(lit(f"Credits by month and operation, last {len(months)} months"), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)


def _page_title(rep: "MonthlyReport") -> Figure:
    fig = _page(rep)
    _header(fig, rep, rep.theme.text.get("subtitle", "Monthly usage report"))
    _tiles(fig, rep)
    basis = f"Change basis: {rep.comparison_basis}."
    fig.text(0.06, 0.775, lit(basis), fontsize=8)
    y = 0.755
    for warning in rep.warnings:
        for line in textwrap.wrap("Warning: " + warning, 120):
            fig.text(0.06, y, lit(line), fontsize=8, color=_color(rep.theme.colors.get("increase", "C0392B")))
            y -= 0.016
    ax = fig.add_axes((0.10, 0.30, 0.62, min(0.38, y - 0.36)))
    _history_axes(ax, rep)
    return fig


def _page_shares(rep: "MonthlyReport") -> Figure:
    fig = _page(rep)
    _header(fig, rep, "Where the credits went: operations and their shares")
    table = rep.operations
    ax = fig.add_axes((0.08, 0.56, 0.5, 0.33))
    positive = table[table["credits"] > 0]
    if len(positive):
        ax.pie(positive["credits"], colors=[_color(rep.colors.get(o, "7F7F7F")) for o in positive["operation"]],
               startangle=90, counterclock=False, wedgeprops={"width": 0.42, "edgecolor": "white"})
        ax.text(0, 0, f"{fmt_credits(rep.total)}\ncredits", ha="center", va="center", fontsize=9, fontweight="bold")
    ax.set_title(lit(f"Share of credits, {rep.month_name}"), loc="left")
    lax = fig.add_axes((0.60, 0.56, 0.34, 0.33))
    lax.set_axis_off()
    for i, row in enumerate(positive.itertuples(index=False)):
        yy = 0.95 - i * 0.075
        lax.add_patch(matplotlib.patches.Rectangle((0, yy - 0.02), 0.05, 0.04, color=_color(rep.colors.get(row.operation, "7F7F7F")), transform=lax.transAxes))
        lax.text(0.08, yy, lit(row.operation, NAME_WIDTH["legend"]), fontsize=8, va="center", transform=lax.transAxes)
        lax.text(1.0, yy, f"{row.share_display:.1f}%", fontsize=8, va="center", ha="right", transform=lax.transAxes)

    prev_head = "Previous" if rep.complete else f"Prev. d1-{rep.elapsed_days}"
    cols = ["Operation", "Credits", "Share", prev_head, "Change", "Change %", "Est. cost"]
    rows = [[lit(r.operation, NAME_WIDTH["table"]), fmt_credits(r.credits), f"{r.share_display:.1f}%" if not np.isnan(r.share_display) else "-",
             fmt_credits(r.previous_credits), fmt_change(r.change), fmt_signed_pct(r.change_pct),
             fmt_money(r.estimated_cost, rep.currency)] for r in table.itertuples(index=False)]
    total_share = "100.0%" if rep.total else "-"
    rows.append(["Total", fmt_credits(rep.total), total_share, fmt_credits(rep.previous_total),
                 fmt_change(rep.change), fmt_signed_pct(rep.change_pct), fmt_money(rep.estimated_cost, rep.currency)])
    tax = fig.add_axes((0.06, 0.08, 0.88, 0.42))
    tax.set_axis_off()
    widths = [0.28, 0.13, 0.09, 0.13, 0.13, 0.11, 0.13]
    tbl = tax.table(cellText=rows, colLabels=cols, colWidths=widths, loc="upper center", cellLoc="right")
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(7.5)
    tbl.scale(1, 1.35)
    head_fill = _color(rep.theme.colors.get("header_fill", "1F3A5F"))
    for (r, c), cell in tbl.get_celld().items():
        cell.set_edgecolor(_color(rep.theme.colors.get("grid", "D1D5DB")))
        cell.get_text().set_parse_math(False) if hasattr(cell.get_text(), "set_parse_math") else None
        if c == 0:
            cell.get_text().set_horizontalalignment("left")
            cell._loc = "left"  # type: ignore[attr-defined]  # Cell has no public setter
        if r == 0:
            cell.set_facecolor(head_fill)
            cell.get_text().set_color(_color(rep.theme.colors.get("header_font", "FFFFFF")))
            cell.get_text().set_fontweight("bold")
        elif r == len(rows):
            cell.get_text().set_fontweight("bold")
    if not rep.complete:
        tax.text(0, -0.02, lit(f"Credits are month to date; change compares days 1-{rep.elapsed_days} only."),
                 fontsize=7, transform=tax.transAxes, va="top")
    return fig


def _page_daily(rep: "MonthlyReport") -> Figure:
    fig = _page(rep)
    _header(fig, rep, "The month day by day")
    ax = fig.add_axes((0.10, 0.42, 0.62, 0.45))
    mat = rep.daily_matrix
    if len(mat):
        days = mat.index
        x = np.arange(len(days))
        for i, day in enumerate(days):
            if day.day_of_week >= 5:
                ax.axvspan(i - 0.5, i + 0.5, color=_color(rep.theme.colors.get("weekend", "EEF1F5")), lw=0, zorder=0)
        values = mat.to_numpy(dtype="float64").T
        ax.stackplot(x, np.clip(values, 0, None), colors=[_color(rep.colors.get(o, "7F7F7F")) for o in mat.columns],
                     labels=[lit(o, NAME_WIDTH["legend"]) for o in mat.columns], alpha=0.9, zorder=2)
        totals = np.clip(values, 0, None).sum(axis=0)
        day_pos = {d.date(): i for i, d in enumerate(days)}
        for row in rep.anomalies.itertuples(index=False):
            xi = day_pos.get(row.day)
            if xi is None:
                continue
            ax.plot([xi], [totals[xi]], marker="v", color=_color(rep.theme.colors.get("increase", "C0392B")),
                    markersize=7, zorder=4)
            ax.annotate(lit(row.operation, NAME_WIDTH["tile"]) + lit(f": {fmt_credits(row.credits)}"), (xi, totals[xi]),
                        xytext=(0, 8), textcoords="offset points", ha="center", fontsize=6.5,
                        color=_color(rep.theme.colors.get("increase", "C0392B")), zorder=5)
        step = 1 if len(days) <= 16 else 3
        ax.set_xticks(x[::step], [f"{d:%d %b}" for d in days[::step]], rotation=45, ha="right")
        ax.set_xlim(-0.5, len(days) - 0.5)
        ax.set_ylim(0, max(totals.max() * 1.15, 1))
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.set_ylabel("Credits per day")
    ax.set_title(lit(f"Daily credits by operation, {rep.month_name} (weekends shaded)"), loc="left")
    y = 0.33
    fig.text(0.06, y, "Anomalies", fontsize=10, fontweight="bold")
    y -= 0.022
    if rep.anomalies.empty:
        fig.text(0.06, y, "No anomalies flagged this month.", fontsize=8)
    for row in rep.anomalies.itertuples(index=False):
        fig.text(0.06, y, lit(f"{row.day:%Y-%m-%d}  ") + lit(row.operation, NAME_WIDTH["table"]) + lit(f": {fmt_credits(row.credits)} credits "
                              f"against a baseline of {fmt_credits(row.baseline)} (score {row.score:.1f} × MAD)"),
                 fontsize=8)
        y -= 0.018
    return fig


def _page_notes(rep: "MonthlyReport") -> Figure:
    fig = _page(rep)
    _header(fig, rep, "Notes: definitions, comparison rule, completeness and source")
    blocks = [
        ("Definitions", [
            "Credits are the API's credits consumed; days are local calendar days in "
            f"{rep.timezone}, months are calendar months, weeks are ISO weeks (Monday to Sunday).",
            "'unattributed' is the API's total credits minus its per-operation breakdown (platform charges).",
            "Shares are of the month's credits; displayed percentages use largest-remainder rounding so they add up to 100.0%.",
            rep.theme.text.get("estimate_note", "Estimated cost is an estimate, not an invoice.")
            + f" Tier multiplier {rep.theme.tier_multiplier:g}.",
            f"Anomalies: {ANOMALY_RULE}.",
        ]),
        ("Comparison rule", [rep.rule, f"This report: {rep.comparison_basis}."]),
        ("Data completeness", [
            ("Complete month." if rep.complete else
             f"Partial month: {rep.elapsed_days} of {rep.days_in_month} days complete as of {rep.as_of:%Y-%m-%d %H:%M}."),
            *rep.warnings, *rep.notes,
        ]),
        ("Source", [f"{rep.source_label}; account: {rep.account}; generated by generect-reports {rep.version}.",
                    f"Input checksum (SHA-256): {rep.checksum}"]),
    ]
    y = 0.89
    for title, lines in blocks:
        fig.text(0.06, y, title, fontsize=10, fontweight="bold")
        y -= 0.024
        for line in lines:
            for k, part in enumerate(textwrap.wrap(line, 105)):
                fig.text(0.08 if k else 0.06, y, lit(("· " if k == 0 else "") + part), fontsize=8)
                y -= 0.017
        y -= 0.012
    return fig


def _no_ligatures(fig: Figure) -> None:
    """Turn off ligatures: matplotlib embeds ligature glyphs ("fi", "ff") as a second subset of
    the font, and every embedded subset costs a full TrueType subsetting pass (~0.1 s each)."""
    from matplotlib.table import Table
    from matplotlib.text import Text

    texts = list(fig.findobj(Text))
    for table in fig.findobj(Table):  # table cells keep their texts out of findobj's reach
        texts += [cell.get_text() for cell in table.get_celld().values()]
    for text in texts:
        text.set_fontfeatures(("-liga", "-clig"))


def render_pdf(rep: "MonthlyReport") -> bytes:
    """The report as PDF bytes; the same report always gives the same bytes."""
    import datetime as dt

    with matplotlib.rc_context(_rc(rep)):  # type: ignore[arg-type]
        builders = [_page_title, _page_shares, _page_daily, _page_notes]
        figures = [build(rep) for build in builders]
        for number, fig in enumerate(figures, start=1):
            _footer(fig, rep, number, len(figures))
        buffer = io.BytesIO()
        as_of = rep.as_of.tz_convert("UTC").to_pydatetime().replace(microsecond=0)
        metadata = {"Title": f"Generect usage {rep.month}", "Author": rep.account,
                    "Creator": f"generect-reports {rep.version}", "Producer": "generect-reports",
                    "CreationDate": as_of.astimezone(dt.timezone.utc), "ModDate": None,
                    "Subject": f"Credit usage report for {rep.month_name}"}
        with PdfPages(buffer, metadata=metadata) as pdf:
            for fig in figures:
                _no_ligatures(fig)
                pdf.savefig(fig)
    return buffer.getvalue()


def write_report_pdf(rep: "MonthlyReport", path: str | os.PathLike[str]) -> None:
    """Write the PDF of an already built :class:`MonthlyReport`, atomically."""
    data = render_pdf(rep)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_pdf_report(usage: pd.DataFrame, path: str | os.PathLike[str], *, month: str | None = None,
                     history: int = 12, template: Any = None, account: str | None = None) -> None:
    """Write the monthly PDF report for ``month`` from daily tidy usage (see
    :func:`~generect_reports.excel.write_excel_report` for the parameters)."""
    from .report import build_report

    write_report_pdf(build_report(usage, month, history=history, template=template, account=account), path)


def history_chart_png(rep: "MonthlyReport", dpi: int = 100) -> bytes:
    """The history chart as PNG bytes (for the email body)."""
    with matplotlib.rc_context(_rc(rep)):  # type: ignore[arg-type]
        fig = Figure(figsize=(7.5, 3.6))
        ax = fig.add_axes((0.09, 0.2, 0.66, 0.7))
        _history_axes(ax, rep)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
