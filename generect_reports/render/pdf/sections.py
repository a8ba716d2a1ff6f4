"""The monthly PDF's section pages (plan limit and budgets, ledger tie-out, customers), drawn
with the same components as pages 1-3: the page header and footer, block titles, KPI tiles, the
ruled table and the value axes, all from the theme and in the report's number formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from generect_reports.render.pdf.document import (
    BODY,
    MARGIN,
    SMALL,
    _block_title,
    _caption,
    _color,
    _draw_tiles,
    _footnote,
    _header,
    _Page,
    _table,
    _value_axis,
    lit,
)
from generect_reports.reports import presentation as P

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from generect_reports.reports.monthly import MonthlyReport

__all__ = ["section_pages", "REASON_LABELS", "long_date"]

#: How a reconciliation reason reads on the page: the ledger status behind it spelled out.
REASON_LABELS = {
    "reversed": "reversed (ledger status error)",
    "pending at month end": "pending at month end (ledger status pending)",
}

#: Space the table of reasons may take, in rows, before the rest is counted in one line.
_ROW = 0.215


def long_date(value: Any) -> str:
    """``2026-10-28`` → ``28 Oct 2026``; ``-`` when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "-"
    day = pd.Timestamp(value)
    return f"{day.day} {day:%b %Y}"


def _colours(page: _Page) -> dict[str, str]:
    colors = page.rep.theme.colors
    return {
        "up": _color(colors.get("increase", "C0392B")),
        "down": _color(colors.get("decrease", "1E8449")),
        "accent": _color(colors.get("accent", "2E86AB")),
        "grid": _color(colors.get("grid", "D1D5DB")),
    }


# --------------------------------------------------------------------------- plan limit


def _limit_line(status: pd.DataFrame) -> pd.Series | None:
    from generect_reports.render.budget import _limit_row

    return _limit_row(status)


def _budget_tiles(rep: MonthlyReport, status: pd.DataFrame) -> list[P.Kpi]:
    from generect_reports.render.budget import _fmt

    f = rep.formats
    a = status.attrs
    running = not a.get("complete", True)
    kpi = _limit_line(status)
    if kpi is None:
        return [P.Kpi("Plan limit", "none set", "no plan limit or budget applies this month")]
    unit = str(kpi["unit"])
    tiles = [
        P.Kpi(
            f"{str(kpi['line']).capitalize()} used",
            _fmt(kpi["share_used"], pct=True, numbers=f),
            f"{_fmt(kpi['used'], unit, numbers=f)} of {_fmt(kpi['threshold'], unit, numbers=f)}"
            + (" credits" if unit == "credits" else ""),
            "up" if bool(kpi["crossed"]) else "",
        )
    ]
    if running and pd.notna(kpi["projected_share"]):
        tiles.append(
            P.Kpi(
                "Projected at month end",
                _fmt(kpi["projected_share"], pct=True, numbers=f),
                f"{_fmt(kpi['projected'], unit, projection=True, numbers=f)}, an estimate"
                + _band(kpi, unit, f),
                "up" if bool(kpi["projected_over"]) else "",
            )
        )
    crossing = kpi["crossing_day"]
    if pd.notna(crossing):
        tiles.append(
            P.Kpi(
                "Reached on" if bool(kpi["crossed"]) else "Projected to reach it on",
                long_date(crossing),
                f"day {pd.Timestamp(crossing).day} of {a.get('days_in_month', '')}",
                "up",
            )
        )
    else:
        tiles.append(P.Kpi("Reached on", "not reached", "the month stayed within it"))
    burn = a.get("daily_burn")
    if running and burn is not None and pd.notna(burn):
        tiles.append(
            P.Kpi("Daily burn", f.projection(burn), "credits a day, mean of the last 28 days")
        )
    return tiles


def _burnup_axes(ax: Axes, page: _Page, status: pd.DataFrame, burnup: pd.DataFrame) -> None:
    import matplotlib.dates as mdates

    rep = page.rep
    f = rep.formats
    c = _colours(page)
    kpi = _limit_line(status)
    days = pd.to_datetime(burnup["day"])
    ax.plot(
        days, burnup["cumulative"], color=page.primary, linewidth=2, label="cumulative (actual)"
    )
    values = [float(np.nanmax(burnup["cumulative"].to_numpy(dtype="float64")))]
    if burnup["projected"].notna().any():
        ax.plot(
            days,
            burnup["projected"],
            color=c["accent"],
            linewidth=2,
            linestyle="--",
            label="projection (estimate)",
        )
        values.append(float(np.nanmax(burnup["projected"].to_numpy(dtype="float64"))))
    if kpi is not None and kpi["unit"] == "credits":
        ax.axhline(
            float(kpi["threshold"]),
            color=c["up"],
            linewidth=1.5,
            label=lit(f"{kpi['line']} {f.credits(kpi['threshold'])}"),
        )
        values.append(float(kpi["threshold"]))
    ax.set_ylim(0, max(max(values), 1.0) * 1.12)
    _value_axis(ax, page, "y")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b"))
    ax.set_xlim(days.min(), days.max())
    # Below the plot, so no line ever runs through it.
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, -0.1),
        ncol=3,
        fontsize=SMALL,
        frameon=False,
        borderaxespad=0.0,
    )


def _budget_rows(
    rep: MonthlyReport, status: pd.DataFrame
) -> tuple[list[list[str]], list[list[str]]]:
    from generect_reports.render.budget import _fmt

    f = rep.formats
    rows, tones = [], []
    for rec in status.to_dict("records"):
        unit = rec["unit"]
        rows.append(
            [
                str(rec["line"]),
                _fmt(rec["threshold"], unit, numbers=f),
                _fmt(rec["used"], unit, numbers=f),
                _fmt(rec["share_used"], pct=True, numbers=f),
                _fmt(rec["projected"], unit, projection=True, numbers=f),
                _fmt(rec["projected_share"], pct=True, numbers=f),
                long_date(rec["crossing_day"]),
            ]
        )
        over = "up" if bool(rec["crossed"]) else ""
        projected = "up" if bool(rec["projected_over"]) else ""
        tones.append(["", "", "", over, "", projected, over])
    return rows, tones


def budget_page(rep: MonthlyReport, status: pd.DataFrame, burnup: pd.DataFrame | None) -> _Page:
    """Plan limit and budgets: the limit tiles, the burn-up and the table of lines."""
    from generect_reports.analysis.budget import BUDGET_RULE

    page = _Page(rep)
    running = not status.attrs.get("complete", True)
    top = _header(
        page,
        "Plan limit and budgets: "
        + (
            f"{status.attrs.get('elapsed_days')} of {status.attrs.get('days_in_month')} days "
            "complete, projections are estimates"
            if running
            else "complete month, actual against the limit"
        ),
    )
    top = _draw_tiles(page, _budget_tiles(rep, status), top) + 0.28
    width = page.width - 2 * MARGIN
    if burnup is not None and len(burnup):
        top = _block_title(page, MARGIN, top, "Burn-up: cumulative credits against the limit")
        left = MARGIN + 0.55
        height = 2.75
        ax = page.axes(left, top, width - 0.55, height)
        _burnup_axes(ax, page, status, burnup)
        top += height + 0.55
    top = _block_title(page, MARGIN, top, "Limit and budget lines")
    head = [
        ("Line", 2.6, "l"),
        ("Limit / budget", 1.3, "r"),
        ("Used", 1.3, "r"),
        ("Used %", 1.0, "r"),
        ("Projected", 1.3, "r"),
        ("Proj. %", 1.0, "r"),
        ("Reaches it on", 1.5, "r"),
    ]
    scale = width / sum(w for _, w, _ in head)
    rows, tones = _budget_rows(rep, status)
    _table(page, MARGIN, top, [(h, w * scale, a) for h, w, a in head], rows, tones=tones)
    _footnote(page, [BUDGET_RULE])
    return page


# --------------------------------------------------------------------------- reconciliation


def reconciliation_page(rep: MonthlyReport, result: Any) -> _Page:
    """The ledger tie-out, the difference by operation and the reason for every difference."""
    from generect_reports.render.reconcile import _num, balance_note, reconciliation_summary

    f = rep.formats
    page = _Page(rep)
    c = _colours(page)
    top = _header(page, "Reconciliation: usage against the ledger's settled charges")
    width = page.width - 2 * MARGIN
    verdict = reconciliation_summary(result, numbers=f)[0]
    top = page.paragraph(
        MARGIN, top, verdict, width, 10.0, color=c["down"] if result.ties else c["up"]
    )
    top += 0.12
    tie_rows = [
        ["Opening balance", _num(result.opening, f)],
        ["+ Top-ups", _num(result.top_ups, f)],
        ["− Settled charges", _num(result.charges, f)],
        ["= Closing balance", _num(result.closing, f)],
        ["Usage", _num(result.usage, f)],
        ["Difference (settled charges − usage)", _num(result.difference, f, sign=True)],
        ["Pending at month end (ledger status pending)", _num(result.pending, f)],
        ["Reversed (ledger status error)", _num(result.reversed, f)],
    ]
    left_w = 4.3
    _block_title(page, MARGIN, top, "Tie-out (credits)")
    right = MARGIN + left_w + 0.4
    body = _block_title(page, right, top, "By operation (credits)")
    end_left = _table(page, MARGIN, body, [("", 3.1, "l"), ("Credits", 1.2, "r")], tie_rows)
    ops = result.operations
    op_rows = [
        [
            P.layout_name(r.operation),
            _num(r.usage, f),
            _num(r.settled, f),
            _num(r.difference, f, sign=True),
            _num(r.residual, f, sign=True),
        ]
        for r in ops.itertuples(index=False)
    ]
    right_w = page.width - MARGIN - right
    cols = [("Operation", 2.1, "l")] + [
        (h, (right_w - 2.1) / 4, "r") for h in ("Usage", "Settled", "Difference", "Residual")
    ]
    room = int((end_left - body) / _ROW) + 3
    if len(op_rows) > room:
        more = len(op_rows) - room + 1
        op_rows = [*op_rows[: room - 1], [f"{more} more in the workbook", "", "", "", ""]]
    end_right = _table(page, right, body, cols, op_rows)
    top = max(end_left, end_right) + 0.3
    top = _block_title(page, MARGIN, top, "Why the figures differ")
    reasons = result.reasons
    if not len(reasons):
        page.text(MARGIN, top, "No differences: settled charges equal usage for every operation.")
    else:
        note = balance_note(result, numbers=f)
        fit = int((page.height - 0.6 - (0.4 if note else 0) - top) / _ROW) - 1
        rows = [
            [
                P.layout_name(r.operation),
                REASON_LABELS.get(str(r.reason), str(r.reason)),
                _num(r.credits, f, sign=True),
                str(r.detail),
            ]
            for r in reasons.itertuples(index=False)
        ]
        if len(rows) > fit:
            more = len(rows) - fit + 1
            rows = [*rows[: fit - 1], ["", f"{more} more reasons in the workbook", "", ""]]
        detail_w = width - 1.9 - 2.9 - 1.1
        cut = int(detail_w / (SMALL * 0.55 / 72))
        rows = [[*r[:3], r[3][:cut]] for r in rows]
        _table(
            page,
            MARGIN,
            top,
            [
                ("Operation", 1.9, "l"),
                ("Reason", 2.9, "l"),
                ("Credits", 1.1, "r"),
                ("Detail", detail_w, "l"),
            ],
            rows,
        )
    _footnote(page, [balance_note(result, numbers=f)])
    return page


# --------------------------------------------------------------------------- customers


def _customer_bars(ax: Axes, page: _Page, allocation: Any, top_n: int = 8) -> None:
    from generect_reports.analysis.chargeback import UNALLOCATED, UNDER_REVIEW

    f = page.rep.formats
    a = allocation
    real = a.customers[
        (a.customers["kind"] == "customer") & (a.customers["credits_hundredths"] != 0)
    ]
    shown, rest = real.head(top_n), real.iloc[top_n:]
    labels = [str(c) for c in shown["customer"]]
    values = [float(v) for v in shown["credits"]]
    shares = [float(v) for v in shown["share_display"]]
    if len(rest):
        labels.append(f"{len(rest)} other customers")
        values.append(float(rest["credits"].sum()))
        shares.append(round(float(rest["share_display"].sum()), 1))
    held = a.customers[a.customers["kind"] == "under_review"]
    for _, row in held.iterrows():  # the credits held back from a lower-bound customer
        labels.append(UNDER_REVIEW)
        values.append(float(row["credits"]))
        shares.append(float(row["share_display"]))
    labels.append(UNALLOCATED)
    values.append(float(a.unallocated_credits))
    unallocated = a.customers[a.customers["kind"] == "unallocated"]["share_display"]
    shares.append(float(unallocated.iloc[0]) if len(unallocated) else float("nan"))
    y = np.arange(len(labels))
    colours = [page.primary] * (len(labels) - 1 - len(held)) + [page.muted] * (1 + len(held))
    ax.barh(y, values, color=colours, height=0.62, zorder=2)
    ax.set_xlim(0, max(max(values), 1.0) * 1.45)
    for yi, value, share in zip(y, values, shares):
        ax.annotate(
            lit(f"{f.exact_credits(value)} ({f.share(share)})"),
            (value, yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center_baseline",  # the baseline of its tick label: read as one line
            ha="left",
            fontsize=SMALL,
        )
    ax.set_yticks(y, [lit(label, 26) for label in labels], fontsize=SMALL)
    ax.invert_yaxis()
    ax.tick_params(axis="y", length=0)
    _value_axis(ax, page, "x")


def customers_page(rep: MonthlyReport, allocation: Any) -> _Page:
    """Credits by customer, integration health and how the split is estimated."""
    f = rep.formats
    a = allocation
    page = _Page(rep)
    c = _colours(page)
    top = _header(
        page,
        "By customer: credits split across customer tokens by estimated successful requests; "
        "figures are estimates",
    )
    billed = a.customers[
        (a.customers["kind"] == "customer") & (a.customers["credits_hundredths"] != 0)
    ]
    unallocated = a.customers.loc[a.customers["kind"] == "unallocated", "share_display"]
    tiles = [
        P.Kpi("Credits this month", f.credits(a.total_credits), "the account's total"),
        P.Kpi("Estimated cost", f.money(a.total_cost), "at list prices, an estimate"),
        P.Kpi(
            "Unallocated",
            f.exact_credits(a.unallocated_credits),
            "credits"
            + (f", {f.share(unallocated.iloc[0])} of the month" if len(unallocated) else "")
            + "; platform charges",
        ),
        P.Kpi(
            "Customers",
            f"{len(billed):,}",
            f"{len(a.flagged):,} with an integration problem" if len(a.flagged) else "all healthy",
        ),
    ]
    top = _draw_tiles(page, tiles, top) + 0.28
    chart_w = 5.9
    _block_title(page, MARGIN, top, "Credits by customer")
    right = MARGIN + chart_w + 0.45
    right_w = page.width - MARGIN - right
    body = _block_title(page, right, top, "Integration health")
    n = min(len(billed), 8) + (1 if len(billed) > 8 else 0) + 1
    height = min(max(n * 0.36, 1.2), page.height - 1.0 - body - 0.4)
    ax = page.axes(MARGIN + 1.45, body, chart_w - 1.45, height)
    _customer_bars(ax, page, a)
    y = body
    health = [f"{r['customer']}: {r['flags']}." for _, r in a.flagged.iterrows()]
    if not health:
        health = [f"No customer above {a.threshold:.0%} failed requests or with a sharp rise."]
    for line in health:
        y = page.paragraph(
            right, y, line, right_w, BODY, leading=1.3, color=c["up"] if len(a.flagged) else None
        )
        y += 0.06
    y = _block_title(page, right, y + 0.12, "How the split is estimated")
    for para in (*a.assumptions, *a.notes):
        y = _caption(page, right, y, para, right_w) + 0.04
    return page


def section_pages(rep: MonthlyReport) -> list[_Page]:
    """One page per optional section the report has, in the report's look."""
    sec = rep.sections
    pages: list[_Page] = []
    if sec.budget is not None:
        pages.append(budget_page(rep, sec.budget, sec.burnup))
    if sec.reconciliation is not None:
        pages.append(reconciliation_page(rep, sec.reconciliation))
    if sec.allocation is not None:
        pages.append(customers_page(rep, sec.allocation))
    return pages


def _band(rec: Any, unit: str, f: Any) -> str:
    """``; 80% interval low–high`` of a line's projected month end ("" without one)."""
    from generect_reports.render.budget import _fmt

    low, high = rec.get("interval_80_low"), rec.get("interval_80_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return (
        f"; 80% interval {_fmt(low, unit, projection=True, numbers=f)}–"
        f"{_fmt(high, unit, projection=True, numbers=f)}"
    )
