"""The plan limit and budgets in every artefact: the ``status`` screen and JSON, a workbook sheet,
a PDF page, email sentences and the subject flag.

Every function takes the frame of :func:`~generect_reports.analysis.budget.budget_status` (and
:func:`~generect_reports.analysis.budget.burn_up` for the charts), so a past month (actual
against the limit, no projection) and a running month are drawn by the same code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from generect_reports.analysis.budget import BUDGET_RULE, Crossing
from generect_reports.analysis.forecast import (
    PERIOD_NAMES,
    PERIOD_RULE,
    accuracy_text,
    period_accuracy_brief,
)

if TYPE_CHECKING:
    import xlsxwriter
    from matplotlib.figure import Figure

    from generect_reports.analysis.forecast import Forecast, PeriodForecast, Runway, TopUps
    from generect_reports.fetch.account import AccountStatus
    from generect_reports.reports.accounts import AcrossAccounts
    from generect_reports.reports.assemble import StatusMoney, StatusReport
    from generect_reports.reports.formats import ReportFormats

__all__ = [
    "status_rows",
    "status_fields",
    "status_document",
    "status_money_fields",
    "render_status_table",
    "alert_message",
    "alert_events_message",
    "digest_message",
    "add_budget_sheet",
    "budget_page",
    "budget_summary",
    "budget_subject_flag",
]

DEFAULT_COLORS = {
    "primary": "#1F3A5F",
    "accent": "#2E86AB",
    "over": "#C0392B",
    "ok": "#1E8449",
    "muted": "#6B7280",
    "grid": "#D1D5DB",
    "limit": "#C0392B",
    "projection": "#2E86AB",
}


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _day(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _long_day(value: Any) -> str | None:
    """``28 Oct 2026``, as the report's pages and exceptions write a date."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return f"{ts.day} {ts:%b %Y}"


def _pair(low: Any, high: Any) -> list[float] | None:
    """An interval for JSON, ``[low, high]`` rounded to 0.01; None when there is none."""
    if _num(low) is None or _num(high) is None:
        return None
    return [round(float(low), 2), round(float(high), 2)]


def _runway(value: Any) -> float | None:
    """Runway days for JSON: None when unknown or unlimited (zero burn)."""
    return None if value is None or pd.isna(value) or math.isinf(value) else round(float(value), 2)


# --- the status command --------------------------------------------------------------------------


def status_rows(status: pd.DataFrame) -> list[dict[str, Any]]:
    """One JSON row per limit or budget line (the account's position goes in its own fields)."""
    rows = []
    for rec in status.to_dict("records"):
        rows.append(
            {
                "line": rec["line"],
                "kind": rec["kind"],
                "operation": rec["operation"] or None,
                "unit": rec["unit"],
                "threshold": rec["threshold"],
                "threshold_note": rec["threshold_note"],
                "used": rec["used"],
                "share_used": _num(rec["share_used"]),
                "projected": _num(rec["projected"]),
                "projected_share": _num(rec["projected_share"]),
                "crossing_day": _day(rec["crossing_day"]),
                "crossed": bool(rec["crossed"]),
                "projected_over": bool(rec["projected_over"]),
                "interval_80": _pair(rec.get("interval_80_low"), rec.get("interval_80_high")),
                "interval_95": _pair(rec.get("interval_95_low"), rec.get("interval_95_high")),
                "crossing_range": None
                if _num(rec.get("interval_80_low")) is None
                else [_day(rec.get("crossing_earliest")), _day(rec.get("crossing_latest"))],
            }
        )
    return rows


def status_document(status: StatusReport, *, generated_at: Any = None) -> dict[str, Any]:
    """The ``status --format json`` document of one account (the versioned envelope)."""
    from generect_reports.render.records.export import json_document

    frame = status.frame
    first = status.today.replace(day=1)
    return json_document(
        "status",
        status_rows(frame),
        source=status.account.source,
        timezone=status.timezone,
        period="month",
        start=first,
        end=first.replace(day=frame.attrs["days_in_month"]),
        complete=bool(frame.attrs["complete"]),
        generated_at=generated_at,
        totals={
            "used_credits": frame.attrs["used_credits"],
            "projected_credits": frame.attrs["projected_credits"],
        },
        fields={
            **status_fields(
                frame,
                status.account,
                status.checks,
                forecast=status.forecast,
                topups=status.topups,
                runway_topups=status.runway_topups,
                periods=status.periods,
            ),
            **status_money_fields(status.money),
        },
    )


def projection_fields(forecast: Forecast | None) -> dict[str, Any] | None:
    """The month-end projection of all operations with its intervals and measured accuracy."""
    if forecast is None:
        return None
    without = forecast.accuracy_without_anomalies
    return {
        "projected": None if forecast.projected is None else round(forecast.projected, 2),
        "interval_80": None if forecast.interval_80 is None else _pair(*forecast.interval_80),
        "interval_95": None if forecast.interval_95 is None else _pair(*forecast.interval_95),
        "history_months": forecast.history_months,
        "short_history": forecast.short_history,
        "accuracy": forecast.accuracy.to_dict(),
        "accuracy_without_anomalies": None if without is None else without.to_dict(),
        "anomaly_months": list(forecast.anomaly_months),
        "rule": forecast.rule,
    }


def period_projection_fields(periods: Sequence[PeriodForecast]) -> dict[str, Any]:
    """The running quarter and fiscal year (and calendar year) projected to their ends, each
    with its intervals and measured accuracy, and the rule they follow."""
    return {
        "period_projections": [p.to_dict() for p in periods],
        "period_projection_rule": PERIOD_RULE,
    }


def period_lines(periods: Sequence[PeriodForecast]) -> list[str]:
    """One line per running quarter or year: used, projected at its end with the 80 %
    interval, and the measured error halfway in (the full accuracy is in the JSON)."""
    lines = []
    for p in periods:
        lines.append(
            f"  {p.label} ({PERIOD_NAMES[p.period]}, {p.elapsed_days} of {p.days_in_period} days):"
            f" {_fmt(p.used, projection=True)} used, {_fmt(p.projected, projection=True)} "
            f"projected by {p.end:%d %b %Y}{_interval_text(p.interval_80)}; "
            f"{period_accuracy_brief(p)}"
        )
    return lines


def runway_fields(
    status: pd.DataFrame, topups: TopUps | None = None, runway_topups: Runway | None = None
) -> dict[str, Any]:
    """The runway: most likely, its range at the projection's 80 % interval, and with the
    recurring top-ups."""
    a = status.attrs
    days_range = a.get("runway_range")
    dates = a.get("run_out_range")
    return {
        "days": _runway(a["runway_days"]),
        "run_out_date": _day(a["run_out_date"]),
        "range_days": None if days_range is None else [_runway(v) for v in days_range],
        "run_out_range": None if dates is None else [_day(v) for v in dates],
        "topups": None if topups is None else topups.to_dict(),
        "with_topups": None if runway_topups is None else runway_topups.to_dict(),
    }


def status_fields(
    status: pd.DataFrame,
    account: AccountStatus,
    checks: list[Crossing],
    *,
    forecast: Forecast | None = None,
    topups: TopUps | None = None,
    runway_topups: Runway | None = None,
    periods: Sequence[PeriodForecast] = (),
) -> dict[str, Any]:
    """The ``status`` document's own fields: the account, the month, the projection with its
    intervals and accuracy, the quarter and the year projected to their ends, the runway,
    the checks."""
    a = status.attrs
    return {
        "account": account.to_dict(),
        "month": a["month"],
        "as_of": a["as_of"],
        "elapsed_days": a["elapsed_days"],
        "days_in_month": a["days_in_month"],
        "projection_rule": a["rule"],
        "daily_burn": round(float(a["daily_burn"]), 2),
        "runway_days": _runway(a["runway_days"]),
        "runway_unlimited": bool(
            a["runway_days"] is not None
            and not pd.isna(a["runway_days"])
            and math.isinf(a["runway_days"])
        ),
        "run_out_date": _day(a["run_out_date"]),
        "projection": projection_fields(forecast),
        "runway": runway_fields(status, topups, runway_topups),
        **period_projection_fields(periods),
        "checks": [{"level": c.level, "line": c.line, "text": c.text} for c in checks],
    }


def _fmt(
    value: Any,
    unit: str = "credits",
    pct: bool = False,
    projection: bool = False,
    numbers: ReportFormats | None = None,
) -> str:
    """Money with cents; credits whole when whole, else with two decimals; a projection (an
    estimate) in whole credits, as the report shows it; shares with one decimal. With
    ``numbers``, a report's formats: its precision and currency symbol."""
    if value is None or pd.isna(value):
        return "-"
    if numbers is not None:
        if pct:
            return numbers.pct(value)
        if unit == "USD":
            return numbers.money(value)
        return numbers.projection(value) if projection else numbers.exact_credits(value)
    if pct:
        return f"{value * 100:,.1f}%"
    if unit == "USD":
        return f"${value:,.2f}"
    if projection:
        from decimal import ROUND_HALF_UP, Decimal

        return f"{int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP)):,}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _runway_text(a: dict[str, Any]) -> str:
    runway = a.get("runway_days")
    if runway is None or pd.isna(runway):
        return "runway unknown"
    if math.isinf(runway):
        return "runway unlimited (no burn in the last 28 days)"
    ends = _day(a["run_out_date"]) or "beyond 9999"
    between = ""
    dates = a.get("run_out_range")
    if dates is not None:
        # An end with no date lies past the calendar (or never comes at that burn).
        low, high = (_day(d) or "beyond 9999" for d in dates)
        if not low == high == ends:
            between = f"; 80% range {low} to {high}"
    return f"runway {runway:,.1f} days (runs out {ends}{between})"


def _interval_text(bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return ""
    return f" (80% interval {_fmt(bounds[0], projection=True)}–{_fmt(bounds[1], projection=True)})"


def _topups_text(topups: TopUps | None, runway: Runway | None) -> str | None:
    if topups is None or runway is None:
        return None
    every = "every month" if topups.every == "month" else "every week"
    where = "detected in the ledger" if topups.source == "ledger" else topups.source
    lasts = (
        "the balance never runs out at this burn"
        if math.isinf(runway.days)
        else f"runway {runway.days:,.1f} days (runs out {_day(runway.run_out_date)})"
    )
    return f"  with top-ups     {_fmt(topups.credits)} credits {every} ({where}): {lasts}"


def _cents(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def status_money_lines(m: StatusMoney | None) -> list[str]:
    """The status screen's money: booked cost so far and projected (with the projected overage),
    and the prepaid balance at what it cost; nothing without ``[money]``."""
    if m is None:
        return []
    booked = f"  booked cost      {_cents(m.booked_cost)} {m.currency} month to date"
    if m.projected_booked_cost is not None:
        booked += f", {_cents(m.projected_booked_cost)} projected at month end"
    if m.overage_hundredths and m.overage_cost is not None:
        booked += (
            f" ({m.overage_hundredths / 100:,.2f} credits over the limit: "
            f"{_cents(m.overage_cost)} {m.currency})"
        )
    return [booked, f"  prepaid value    {_cents(m.prepaid_balance)} {m.currency} ({m.basis})"]


def status_money_fields(m: StatusMoney | None) -> dict[str, Any]:
    """The status document's money: ``booked_cost`` (month to date), ``projected_booked_cost``,
    the prepaid balance and the projected overage, with their currency; nothing without
    ``[money]``."""
    if m is None:
        return {}
    return {
        "currency": m.currency,
        "booked_cost": m.booked_cost / 100,
        "projected_booked_cost": (
            None if m.projected_booked_cost is None else m.projected_booked_cost / 100
        ),
        "prepaid_balance": m.prepaid_balance / 100,
        "valuation": m.basis,
        "projected_overage": {
            "credits": m.overage_hundredths / 100,
            "cost": None if m.overage_cost is None else m.overage_cost / 100,
            "valued_at": m.overage_basis,
        },
    }


def render_status_table(
    status: pd.DataFrame,
    account: AccountStatus,
    *,
    timezone: str,
    forecast: Forecast | None = None,
    topups: TopUps | None = None,
    runway_topups: Runway | None = None,
    money: StatusMoney | None = None,
    periods: Sequence[PeriodForecast] = (),
) -> str:
    """The one-screen status: account position on top, then one line per limit or budget; with
    ``forecast``, the projection's 80 % interval and measured accuracy, the runway with the
    recurring top-ups, and the quarter and year (``periods``) projected to their ends."""
    a = status.attrs
    as_of = pd.Timestamp(a["as_of"])
    local_month = a["month"]
    used_line = f"{_fmt(account.used_this_month)} credits"
    if account.monthly_limit:
        used_line += f" of {_fmt(account.monthly_limit)} ({_fmt(account.limit_share, pct=True)})"
    used_line += f" · API month {account.api_month} (UTC)"
    if account.api_month != local_month:
        used_line += f", not {local_month} of {timezone}"
    lines = [
        f"Generect account status · {as_of:%Y-%m-%d %H:%M} {timezone}"
        + (" · sample data" if account.source == "sample" else ""),
        f"  plan             {account.plan}"
        + ("" if account.monthly_limit else " (no monthly limit)"),
        f"  balance          {_fmt(account.balance)} credits · {_runway_text(a)}",
    ]
    with_topups = _topups_text(topups, runway_topups)
    if with_topups:
        lines.append(with_topups)
    lines.append(f"  used this month  {used_line}")
    lines += [*status_money_lines(money), ""]
    state = (
        "complete"
        if a["complete"]
        else f"{a['elapsed_days']} of {a['days_in_month']} days complete; projection is an estimate"
    )
    lines.append(
        f"  {local_month} ({state}): {_fmt(a['used_credits'])} credits used"
        + (
            ""
            if a["complete"] or pd.isna(a["projected_credits"])
            else f", {_fmt(a['projected_credits'], projection=True)} projected at month end"
            + _interval_text(None if forecast is None else forecast.interval_80)
        )
    )
    if forecast is not None and not a["complete"]:
        lines.append(f"  projection: {accuracy_text(forecast)}")
    lines += period_lines(periods)
    ranges = "crossing_earliest" in status.columns and bool(status["interval_80_low"].notna().any())
    if len(status):
        header = ["line", "limit", "used", "used %", "projected", "proj %", "reaches it on"]
        if ranges:
            header.append("80% range")
        table = [header]
        for rec in status.to_dict("records"):
            unit = rec["unit"]
            table.append(
                [
                    rec["line"] + (" (USD)" if unit == "USD" else ""),
                    _fmt(rec["threshold"], unit),
                    _fmt(rec["used"], unit),
                    _fmt(rec["share_used"], pct=True),
                    _fmt(rec["projected"], unit, projection=True),
                    _fmt(rec["projected_share"], pct=True),
                    _day(rec["crossing_day"]) or "-",
                ]
                + (
                    [
                        f"{_day(rec['crossing_earliest']) or 'not reached'} to "
                        f"{_day(rec['crossing_latest']) or 'not reached'}"
                        if pd.notna(rec["crossing_earliest"])
                        else "-"
                    ]
                    if ranges
                    else []
                )
            )
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for r in table:
            cells = [str(r[0]).ljust(widths[0])] + [
                str(c).rjust(w) for c, w in zip(r[1:], widths[1:])
            ]
            lines.append("  " + "  ".join(cells).rstrip())
    else:
        lines.append("  no plan limit and no [budget] lines to check")
    return "\n".join(lines) + "\n"


def alert_message(
    status: pd.DataFrame, account: AccountStatus, checks: list[Crossing]
) -> tuple[str, list[str]]:
    """Title and lines of the chat alert for ``checks``."""
    a = status.attrs
    where = "sample account" if account.source == "sample" else f"plan {account.plan}"
    title = f"Generect credits {a['month']}: {len(checks)} threshold(s) crossed ({where})"
    lines = [c.text for c in checks]
    lines.append(f"balance {_fmt(account.balance)} credits, {_runway_text(a)}")
    return title, lines


def alert_events_message(
    status: pd.DataFrame, account: AccountStatus, events: list[Any]
) -> tuple[str, list[str]]:
    """Title and lines of the chat message for a run's alert events (``kind``, ``line``,
    ``level``, ``text``): new crossings, escalations and the short all-clear of a recovery."""
    a = status.attrs
    where = "sample account" if account.source == "sample" else f"plan {account.plan}"
    counts = {k: sum(e.kind == k for e in events) for k in ("crossing", "escalation", "recovery")}
    if counts["crossing"] == len(events):
        return alert_message(status, account, [Crossing(e.level, e.line, e.text) for e in events])
    parts = []
    if counts["crossing"]:
        parts.append(f"{counts['crossing']} threshold(s) crossed")
    if counts["escalation"]:
        parts.append(f"{counts['escalation']} escalated to fail")
    if counts["recovery"]:
        parts.append(f"{counts['recovery']} back below" if len(parts) else "all clear")
    title = f"Generect credits {a['month']}: {', '.join(parts)} ({where})"
    rows = {rec["line"]: rec for rec in status.to_dict("records")}
    lines = []
    for e in events:
        if e.kind == "crossing":
            lines.append(e.text)
        elif e.kind == "escalation":
            lines.append(f"escalated: {e.text}")
        elif e.line in rows:
            rec = rows[e.line]
            share = (
                rec["projected_share"] if pd.notna(rec["projected_share"]) else rec["share_used"]
            )
            lines.append(f"all clear: {e.line} now at {_fmt(share, pct=True)}")
        else:
            lines.append(f"all clear: {e.line} {_runway_text(a)}")
    if counts["crossing"] or counts["escalation"]:
        lines.append(f"balance {_fmt(account.balance)} credits, {_runway_text(a)}")
    return title, lines


def digest_message(
    status: pd.DataFrame,
    account: AccountStatus,
    checks: list[Crossing],
    *,
    forecast: Forecast | None = None,
    topups: TopUps | None = None,
    runway_topups: Runway | None = None,
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Title, figures (label, value) and exceptions of the month-so-far digest."""
    a = status.attrs
    where = "sample account" if account.source == "sample" else f"plan {account.plan}"
    title = f"Generect credits {a['month']} so far ({where})"
    facts = [
        (
            "Used",
            f"{_fmt(a['used_credits'])} credits ({a['elapsed_days']} of {a['days_in_month']} days)",
        )
    ]
    if not a["complete"] and not pd.isna(a["projected_credits"]):
        facts.append(
            (
                "Projected month end",
                f"{_fmt(a['projected_credits'], projection=True)} credits"
                + _interval_text(None if forecast is None else forecast.interval_80),
            )
        )
    if forecast is not None:
        facts.append(("Projection accuracy", accuracy_text(forecast)))
    for rec in status.to_dict("records"):
        share = rec["projected_share"] if pd.notna(rec["projected_share"]) else rec["share_used"]
        facts.append(
            (
                rec["line"],
                f"{_fmt(rec['threshold'], rec['unit'])}"
                + (" USD" if rec["unit"] == "USD" else " credits")
                + f", {'projected ' if pd.notna(rec['projected_share']) else ''}"
                f"{_fmt(share, pct=True)}",
            )
        )
    facts.append(("Balance", f"{_fmt(account.balance)} credits, {_runway_text(a)}"))
    with_topups = _topups_text(topups, runway_topups)
    if with_topups:
        facts.append(("With top-ups", with_topups.strip().removeprefix("with top-ups").strip()))
    lines = [c.text for c in checks] or ["no threshold crossed"]
    return title, facts, lines


def digest_across_message(
    across: AcrossAccounts[StatusReport],
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Title, figures (one per account: used, projection, the first line's share, balance) and
    exceptions (every account's crossings, then the accounts that could not be read) of the
    month-so-far digest across accounts: one message naming every account."""
    month = across.month or "this month"
    title = f"Generect credits {month} so far: {len(across.results)} account(s)"
    if not across.complete:
        title += f" [{across.note}]"
    facts: list[tuple[str, str]] = []
    lines: list[str] = []
    for name, status in across.results.items():
        a = status.frame.attrs
        parts = [
            f"{_fmt(a['used_credits'])} credits ({a['elapsed_days']} of {a['days_in_month']} days)"
        ]
        if not a["complete"] and not pd.isna(a["projected_credits"]):
            parts.append(f"projected {_fmt(a['projected_credits'], projection=True)}")
        row = _limit_row(status.frame)
        if row is not None:
            projected = pd.notna(row["projected_share"])
            share = row["projected_share"] if projected else row["share_used"]
            parts.append(
                f"{row['line']} {'projected ' if projected else ''}{_fmt(share, pct=True)}"
            )
        parts.append(f"balance {_fmt(status.account.balance)} credits")
        label = across.label(name)
        facts.append((label, ", ".join(parts)))
        lines += [f"{label}: {c.text}" for c in status.checks]
    if not lines:
        lines.append("no threshold crossed")
    lines += [
        f"{across.label(str(f['account']))}: could not be read ({f['error']})"
        for f in across.failed
    ]
    return title, facts, lines


# --- the monthly report's sections -------------------------------------------------------------


def _limit_row(status: pd.DataFrame) -> pd.Series | None:
    """The line the KPI shows: the plan limit, else the total budget, else the first line."""
    if status.empty:
        return None
    for kind in ("limit", "budget"):
        rows = status[status["kind"] == kind]
        if len(rows):
            return rows.iloc[0]
    return status.iloc[0]


def add_budget_sheet(
    workbook: xlsxwriter.Workbook,
    status: pd.DataFrame,
    burnup: pd.DataFrame | None = None,
    *,
    formats: dict[str, Any] | None = None,
    sheet_name: str = "Budget",
    numbers: ReportFormats | None = None,
) -> None:
    """Add the Budget sheet: limit and budgets as inputs, every figure a live formula over them.

    Column C (limit or budget) is the input: change it and the shares, the remaining credits,
    the status and the burn-up chart's limit line follow. Each formula is written with its
    computed value, so viewers that do not recalculate show the right numbers. With
    ``numbers`` (the report's formats) figures read as the report shows them.
    """
    f = dict(formats or {})
    add = workbook.add_format
    if numbers is not None:
        f.setdefault("percent", add({"num_format": numbers.excel_pct}))
        f.setdefault("kpi", add({"bold": True, "font_size": 16, "num_format": numbers.excel_pct}))
    cache: dict[tuple[str, bool], Any] = {}

    def num(
        value: Any, unit: str = "credits", *, projection: bool = False, entry: bool = False
    ) -> Any:
        """A figure's cell format: the report's, with the cents the figure has, when given."""
        if numbers is None:
            return f["input"] if entry else f["currency"] if unit == "USD" else f["credits"]
        if unit == "USD":
            code = numbers.excel_money
        elif projection:
            code = numbers.excel_projection
        else:
            code = numbers.exact([] if _num(value) is None else [value]).excel_credits
        if (code, entry) not in cache:
            style = {"bg_color": "#FFF2CC", "border": 1} if entry else {}
            cache[code, entry] = add({"num_format": code, **style})
        return cache[code, entry]

    f.setdefault("title", add({"bold": True, "font_size": 14, "font_color": "#1F3A5F"}))
    f.setdefault("note", add({"italic": True, "font_color": "#6B7280"}))
    f.setdefault(
        "header",
        add(
            {
                "bold": True,
                "font_color": "#FFFFFF",
                "bg_color": "#1F3A5F",
                "text_wrap": True,
                "valign": "top",
            }
        ),
    )
    f.setdefault("credits", add({"num_format": "#,##0.00"}))
    f.setdefault("currency", add({"num_format": "$#,##0.00"}))
    f.setdefault("percent", add({"num_format": "0.0%"}))
    f.setdefault("date", add({"num_format": "yyyy-mm-dd"}))
    f.setdefault("input", add({"num_format": "#,##0.00", "bg_color": "#FFF2CC", "border": 1}))
    f.setdefault("kpi", add({"bold": True, "font_size": 16, "num_format": "0.0%"}))
    ws = workbook.add_worksheet(sheet_name)
    a = status.attrs
    running = not a.get("complete", True)
    state = (
        f"running month, {a.get('elapsed_days')} of {a.get('days_in_month')} days complete"
        if running
        else "complete month: actual against the limit, no projection"
    )
    ws.write(0, 0, f"Plan limit and budgets · {a.get('month', '')} ({state})", f["title"])
    ws.write(1, 0, BUDGET_RULE + " Yellow cells are inputs.", f["note"])
    header = [
        "Line",
        "Unit",
        "Limit / budget (input)",
        "Used",
        "Projected month end",
        "Share used",
        "Projected share",
        "Remaining",
        "Status",
        "Reaches it on",
        "Source",
    ]
    top = 6  # first table row (0-based); KPIs sit above it
    ws.write_row(top - 1, 0, header, f["header"])
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 9)
    ws.set_column(2, 9, 15)
    ws.set_column(10, 10, 36)
    for i, rec in enumerate(status.to_dict("records")):
        r = top + i
        n = r + 1  # 1-based row number in formulas
        unit = rec["unit"]
        thr = float(rec["threshold"])
        used = float(rec["used"])
        ws.write_string(r, 0, rec["line"])
        ws.write_string(r, 1, unit)
        ws.write_number(r, 2, thr, num(thr, unit, entry=True))
        ws.write_number(r, 3, used, num(used, unit))
        projected = _num(rec["projected"])
        if projected is None:
            ws.write_blank(r, 4, None, num(None, unit, projection=True))
        else:
            ws.write_number(r, 4, projected, num(projected, unit, projection=True))
        share = used / thr if thr > 0 else ""
        ws.write_formula(r, 5, f'=IF(C{n}>0,D{n}/C{n},"")', f["percent"], share)
        pshare = projected / thr if projected is not None and thr > 0 else ""
        ws.write_formula(
            r, 6, f'=IF(AND(ISNUMBER(E{n}),C{n}>0),E{n}/C{n},"")', f["percent"], pshare
        )
        ws.write_formula(r, 7, f"=C{n}-D{n}", num(thr - used, unit), thr - used)
        state_value = (
            "over"
            if round(used * 100) >= round(thr * 100)
            else "projected over"
            if projected is not None and round(projected * 100) >= round(thr * 100)
            else "within"
        )
        ws.write_formula(
            r,
            8,
            f'=IF(D{n}>=C{n},"over",IF(AND(ISNUMBER(E{n}),E{n}>=C{n}),"projected over","within"))',
            None,
            state_value,
        )
        day = rec["crossing_day"]
        daily = burnup is not None and len(burnup) and unit == "credits"
        if daily:
            # The first day the cumulative (or projected) credits reach the input in column C,
            # read from the daily table below: change the limit and the date follows.
            assert burnup is not None
            first = top + len(status) + 4  # 1-based row of the table's first day
            last = first + len(burnup) - 1
            days, cum, proj = (f"${c}${first}:${c}${last}" for c in "ACD")
            # Stored as the spreadsheet's day number, what the formula computes.
            stored: Any = (
                (pd.Timestamp(day).normalize().tz_localize(None) - pd.Timestamp("1899-12-30")).days
                if pd.notna(day)
                else ""
            )
            ws.write_formula(
                r,
                9,
                f'=IFERROR(INDEX({days},MATCH(TRUE,INDEX(({cum}>=C{n})+({proj}>=C{n})>0,0),0)),"")',
                f["date"],
                stored,
            )
        elif pd.notna(day):
            ws.write_datetime(r, 9, pd.Timestamp(day).to_pydatetime(), f["date"])
        ws.write_string(r, 10, rec["threshold_note"])
    # KPI: share of the limit (or budget) used, with its projection, live over the table.
    kpi = _limit_row(status)
    if kpi is not None:
        k = top + 1 + int(np.flatnonzero((status["line"] == kpi["line"]).to_numpy())[0])
        ws.write(3, 0, f"{kpi['line']} used", f["note"])
        ws.write_formula(3, 1, f"=F{k}", f["kpi"], float(kpi["share_used"]))
        if running:
            ws.write(3, 3, "projected at month end", f["note"])
            pv = _num(kpi["projected_share"])
            ws.write_formula(3, 5, f"=G{k}", f["kpi"], "" if pv is None else pv)
    if burnup is not None and len(burnup) and kpi is not None and kpi["unit"] == "credits":
        _burnup_table(
            workbook, ws, burnup, k, float(kpi["threshold"]), top + len(status) + 2, f, num
        )


def _burnup_table(
    workbook: xlsxwriter.Workbook,
    ws: Any,
    burnup: pd.DataFrame,
    limit_row: int,
    limit_value: float,
    first: int,
    f: dict[str, Any],
    num: Callable[..., Any],
) -> None:
    """Daily table (credits, cumulative by formula, projection, limit from the input cell) and
    the burn-up chart over it; ``num`` gives a figure's cell format."""
    band = "low" in burnup and bool(burnup["low"].notna().any())
    ws.write_row(
        first,
        0,
        ["Day", "Credits", "Cumulative", "Projected", "Limit / budget"]
        + (["80% interval low", "80% interval high"] if band else []),
        f["header"],
    )
    rows = burnup.to_dict("records")
    start = first + 1
    cum = 0.0
    for i, rec in enumerate(rows):
        r = start + i
        n = r + 1
        ws.write_datetime(r, 0, pd.Timestamp(rec["day"]).to_pydatetime(), f["date"])
        credits = _num(rec["credits"])
        if credits is not None:
            ws.write_number(r, 1, credits, num(credits))
            cum += credits
            prev = f"C{n - 1}+" if i else ""
            ws.write_formula(r, 2, f"={prev}B{n}", num(cum), cum)
        projected = _num(rec["projected"])
        if projected is not None:
            ws.write_number(r, 3, projected, num(projected, projection=True))
        ws.write_formula(r, 4, f"=$C${limit_row}", num(limit_value), limit_value)
        for col, key in ((5, "low"), (6, "high")):
            bound = _num(rec.get(key)) if band else None
            if bound is not None:
                ws.write_number(r, col, bound, num(bound, projection=True))
    last = start + len(rows) - 1
    chart = workbook.add_chart({"type": "line"})
    name = ws.get_name()
    series = [
        (2, "Cumulative", "#1F3A5F", "solid", 2.0),
        (3, "Projected", "#2E86AB", "dash", 2.0),
        (4, "Limit / budget", "#C0392B", "solid", 2.0),
    ]
    if band:
        series += [
            (5, "80% interval low", "#9CC9DC", "round_dot", 1.25),
            (6, "80% interval high", "#9CC9DC", "round_dot", 1.25),
        ]
    for col, label, color, dash, width in series:
        chart.add_series(
            {
                "name": label,
                "categories": [name, start, 0, last, 0],
                "values": [name, start, col, last, col],
                "line": {"color": color, "dash_type": dash, "width": width},
            }
        )
    chart.set_title({"name": "Burn-up: cumulative credits against the limit"})
    chart.set_x_axis({"date_axis": True, "num_format": "dd", "name": "day"})
    chart.set_y_axis({"num_format": "#,##0", "name": "credits"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(first, 8 if band else 6, chart, {"x_scale": 1.5, "y_scale": 1.4})


def budget_page(
    status: pd.DataFrame,
    burnup: pd.DataFrame | None = None,
    *,
    figsize: tuple[float, float] = (11.69, 8.27),
    colors: dict[str, str] | None = None,
    numbers: ReportFormats | None = None,
) -> Figure:
    """A landscape PDF page: the limit-use KPI, the burn-up chart and the table of lines, its
    figures in ``numbers`` (the report's formats) when given."""
    from functools import partial

    from matplotlib.figure import Figure

    fmt = partial(_fmt, numbers=numbers)

    c = {
        **DEFAULT_COLORS,
        **{k: (v if str(v).startswith("#") else f"#{v}") for k, v in (colors or {}).items()},
    }
    a = status.attrs
    fig = Figure(figsize=figsize)
    running = not a.get("complete", True)
    fig.text(
        0.05,
        0.94,
        f"Plan limit and budgets · {a.get('month', '')}",
        fontsize=16,
        color=c["primary"],
        weight="bold",
    )
    sub = (
        f"Running month: {a.get('elapsed_days')} of {a.get('days_in_month')} days complete; "
        "projections are estimates."
        if running
        else "Complete month: actual against the limit."
    )
    fig.text(0.05, 0.905, sub, fontsize=9, color=c["muted"])
    kpi = _limit_row(status)
    if kpi is not None:
        over = bool(kpi["crossed"])
        fig.text(
            0.05,
            0.80,
            fmt(kpi["share_used"], pct=True),
            fontsize=30,
            weight="bold",
            color=c["over"] if over else c["primary"],
        )
        fig.text(
            0.05,
            0.765,
            f"of the {kpi['line']} used ({fmt(kpi['used'], kpi['unit'])} of "
            f"{fmt(kpi['threshold'], kpi['unit'])})",
            fontsize=10,
        )
        if running and pd.notna(kpi["projected_share"]):
            color = c["over"] if bool(kpi["projected_over"]) else c["ok"]
            fig.text(
                0.05,
                0.73,
                f"projected {fmt(kpi['projected_share'], pct=True)} at month end"
                + (
                    f" (80% interval {fmt(kpi['interval_80_low'], kpi['unit'], projection=True)}"
                    f"–{fmt(kpi['interval_80_high'], kpi['unit'], projection=True)})"
                    if _num(kpi.get("interval_80_low")) is not None
                    and _num(kpi.get("interval_80_high")) is not None
                    else ""
                ),
                fontsize=10,
                color=color,
            )
            if pd.notna(kpi["crossing_day"]):
                fig.text(
                    0.05,
                    0.70,
                    f"reaching it on {_day(kpi['crossing_day'])}",
                    fontsize=10,
                    color=color,
                )
        elif pd.notna(kpi["crossing_day"]):
            fig.text(
                0.05, 0.73, f"reached on {_day(kpi['crossing_day'])}", fontsize=10, color=c["over"]
            )
    else:
        fig.text(0.05, 0.80, "No plan limit or budget set", fontsize=14, color=c["muted"])
    ax = fig.add_axes((0.45, 0.42, 0.51, 0.45))
    if burnup is not None and len(burnup):
        days = pd.to_datetime(burnup["day"])
        ax.plot(
            days, burnup["cumulative"], color=c["primary"], linewidth=2, label="cumulative (actual)"
        )
        if "low" in burnup and burnup["low"].notna().any():
            ax.fill_between(
                days,
                burnup["low"],
                burnup["high"],
                color=c["projection"],
                alpha=0.18,
                linewidth=0,
                label="80% interval (from past months)",
            )
        if burnup["projected"].notna().any():
            ax.plot(
                days,
                burnup["projected"],
                color=c["projection"],
                linewidth=2,
                linestyle="--",
                label="projection (estimate)",
            )
        if kpi is not None and kpi["unit"] == "credits":
            ax.axhline(
                float(kpi["threshold"]),
                color=c["limit"],
                linewidth=1.5,
                label=f"{kpi['line']} {fmt(kpi['threshold'])}",
            )
        ax.set_title("Burn-up: cumulative daily credits", fontsize=11, loc="left")
        ax.set_ylabel("credits", fontsize=9)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
        ax.grid(True, color=c["grid"], linewidth=0.5)
        ax.legend(fontsize=8, loc="upper left", frameon=False)
        import matplotlib.dates as mdates

        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.yaxis.set_major_formatter(_thousands())
    else:
        ax.set_axis_off()
    # The table of lines.
    y = 0.33
    cols = [0.05, 0.30, 0.43, 0.55, 0.65, 0.78, 0.88]
    head = ["Line", "Limit / budget", "Used", "Used %", "Projected", "Proj. %", "Reaches it on"]
    for x, h in zip(cols, head):
        fig.text(x, y, h, fontsize=9, weight="bold", color=c["primary"])
    for rec in status.to_dict("records"):
        y -= 0.035
        unit = rec["unit"]
        cells = [
            rec["line"],
            fmt(rec["threshold"], unit),
            fmt(rec["used"], unit),
            fmt(rec["share_used"], pct=True),
            fmt(rec["projected"], unit, projection=True),
            fmt(rec["projected_share"], pct=True),
            _day(rec["crossing_day"]) or "-",
        ]
        for x, text in zip(cols, cells):
            fig.text(
                x,
                y,
                text,
                fontsize=9,
                color=c["over"] if rec["crossed"] and text == cells[3] else "black",
            )
    # Above the page footer the report adds, wrapped to the page's width.
    import textwrap

    fig.text(
        0.05,
        0.075,
        textwrap.fill(BUDGET_RULE, int(figsize[0] * 12.5)),
        fontsize=8,
        color=c["muted"],
        va="bottom",
    )
    return fig


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _month_name(month: str) -> str:
    return pd.Timestamp(f"{month}-01").strftime("%B %Y")


def budget_summary(status: pd.DataFrame, *, numbers: ReportFormats | None = None) -> list[str]:
    """Plain sentences about the limit and budgets for the email's HTML and text parts, its
    figures in ``numbers`` (the report's formats) when given."""
    from functools import partial

    fmt = partial(_fmt, numbers=numbers)
    # In a report (``numbers`` given) dates read as the report's other dates do: 28 Oct 2026.
    day = _day if numbers is None else _long_day
    a = status.attrs
    month = _month_name(a["month"]) if a.get("month") else "This month"
    running = not a.get("complete", True)
    out: list[str] = []
    for rec in status.to_dict("records"):
        unit = rec["unit"]
        used = fmt(rec["used"], unit) + ("" if unit == "USD" else " credits")
        limit = fmt(rec["threshold"], unit) + ("" if unit == "USD" else " credits")
        what = "estimated cost" if unit == "USD" else "usage"
        text = (
            f"{month} {what} so far is {used}, {fmt(rec['share_used'], pct=True)} "
            f"of the {rec['line']} of {limit}"
            if running
            else f"{month} {what} was {used}, {fmt(rec['share_used'], pct=True)} "
            f"of the {rec['line']} of {limit}"
        )
        if rec["crossed"] and pd.notna(rec["crossing_day"]):
            text += f"; it was reached on {day(rec['crossing_day'])}"
        if running and pd.notna(rec["projected"]):
            low, high = rec.get("interval_80_low"), rec.get("interval_80_high")
            band = (
                f", 80% interval {fmt(low, unit, projection=True)} to "
                f"{fmt(high, unit, projection=True)}"
                if _num(low) is not None and _num(high) is not None
                else ""
            )
            text += (
                f"; projected {fmt(rec['projected_share'], pct=True)} at month end "
                f"(an estimate{band})"
            )
            if not rec["crossed"] and pd.notna(rec["crossing_day"]):
                text += f", reaching it on {day(rec['crossing_day'])}"
        out.append(text + ".")
    return out


def budget_subject_flag(status: pd.DataFrame) -> str | None:
    """``[over limit]``, ``[projected over limit]`` or ``[over budget]`` for the email subject,
    most severe first; None when every line holds (budgets flag actual overruns only)."""
    limit = status[status["kind"] == "limit"]
    if bool(limit["crossed"].any()):
        return "[over limit]"
    if bool(limit["projected_over"].any()):
        return "[projected over limit]"
    if bool(status.loc[status["kind"] != "limit", "crossed"].any()):
        return "[over budget]"
    return None
