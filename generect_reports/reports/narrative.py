"""What drove a month's change: the bridge from last month's total to this month's, anomalies
measured against that change, and the report's narrative sentences, all from the figures of a
:class:`~generect_reports.reports.monthly.MonthlyReport`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "projection_interval",
    "projection_detail",
    "projection_kpi",
    "bridge_table",
    "quantify_anomalies",
    "fraction_words",
    "report_narrative",
    "bridge_lines",
    "anomaly_lines",
    "anomaly_formats",
    "BRIDGE_MAX_BARS",
    "BRIDGE_MIN_SHARE",
]


def projection_interval(rep: MonthlyReport, sep: str = "–") -> str:
    """``80% interval 30,604–34,825`` of a running month's projection ("" without one)."""
    forecast = rep.forecast
    if forecast is None or forecast.interval_80 is None:
        return ""
    f = rep.formats
    low, high = forecast.interval_80
    return f"80% interval {f.projection(low)}{sep}{f.projection(high)}"


def projection_detail(rep: MonthlyReport, sep: str = "–") -> str:
    """The projection's 80 % interval and measured error, as every artefact states them with
    the figure: ``80% interval 30,604–34,825; median error 0.8% at day 14 over 12 month(s)``
    ("" for a month that is over)."""
    from generect_reports.analysis.forecast import accuracy_brief

    if rep.forecast is None or rep.forecast.interval_80 is None:
        return ""
    return f"{projection_interval(rep, sep)}; {accuracy_brief(rep.forecast)}"


def projection_kpi(rep: MonthlyReport) -> str:
    """The projection tile's detail, short enough for a tile: ``30,604–34,825 at 80%; median
    error 0.8%`` (the 80 % interval, and the error at the accuracy day nearest today)."""
    from generect_reports.analysis.forecast import nearest_error

    if rep.forecast is None or rep.forecast.interval_80 is None:
        return "an estimate"
    _day, error = nearest_error(rep.forecast)
    said = "error not measured yet" if error is None else f"median error {rep.formats.pct(error)}"
    low, high = rep.forecast.interval_80
    f = rep.formats
    return f"{f.projection(low)}–{f.projection(high)} at 80%; {said}"


#: At most this many operation bars in the bridge; the rest are grouped as "other".
BRIDGE_MAX_BARS = 6
#: Operations moving less than this fraction of the gross (absolute) change are grouped.
BRIDGE_MIN_SHARE = 0.05


def bridge_table(
    operations: pd.DataFrame,
    *,
    start_label: str,
    end_label: str,
    max_bars: int = BRIDGE_MAX_BARS,
    min_share: float = BRIDGE_MIN_SHARE,
) -> pd.DataFrame:
    """The waterfall from the comparison base to this month: one bar per operation's change.

    Parameters
    ----------
    operations
        ``operation``, ``previous_credits``, ``compared_credits`` (like for like in a month
        that is not over), ``change``.
    start_label, end_label
        Names of the first and last bar (e.g. "September 2026", "October 2026").

    Returns
    -------
    pandas.DataFrame
        ``label``, ``kind`` (``start``, ``operation``, ``other``, ``end``), ``value`` (the total
        for start/end, the change for a step), ``bottom`` and ``top`` (where the bar starts and
        ends), ``operations`` (the operations a bar stands for, ", "-joined). Steps run largest
        absolute change first; operations that did not change are left out; small ones (below
        ``min_share`` of the gross change, or past ``max_bars``) are one "other" bar, unless
        that would hold a single operation.
    """
    ops = operations[["operation", "change"]].copy()
    ops = ops[ops["change"].to_numpy(dtype="float64") != 0]
    ops = ops.assign(_abs=ops["change"].abs()).sort_values(
        ["_abs", "operation"], ascending=[False, True], kind="mergesort"
    )
    gross = float(ops["_abs"].sum())
    rank = np.arange(len(ops))
    big = (rank < max_bars) & (ops["_abs"].to_numpy() >= min_share * gross) if gross else rank < 0
    if (~big).sum() == 1:  # an "other" bar of one operation hides its name for nothing
        big[:] = True
    start = float(operations["previous_credits"].sum())
    end = float(operations["compared_credits"].sum())
    labels = [start_label]
    kinds = ["start"]
    values = [start]
    members = [""]
    for row, keep in zip(ops.itertuples(index=False), big):
        if keep:
            labels.append(str(row.operation))
            kinds.append("operation")
            values.append(float(row.change))
            members.append(str(row.operation))
    rest = ops[~big]
    if len(rest):
        labels.append(f"other ({len(rest)} operations)")
        kinds.append("other")
        values.append(float(rest["change"].sum()))
        members.append(", ".join(rest["operation"].astype(str)))
    labels.append(end_label)
    kinds.append("end")
    values.append(end)
    members.append("")
    vals = np.asarray(values, dtype="float64")
    steps = np.where(np.isin(kinds, ["operation", "other"]), vals, 0.0)
    running = start + np.cumsum(steps)
    top = np.where(np.asarray(kinds) == "start", start, running)
    top[-1] = end
    bottom = np.concatenate([[0.0], running[:-1]])
    bottom[-1] = 0.0
    return pd.DataFrame(
        {
            "label": pd.Series(labels, dtype=str),
            "kind": pd.Series(kinds, dtype=str),
            "value": vals,
            "bottom": bottom,
            "top": top,
            "operations": pd.Series(members, dtype=str),
        }
    )


def quantify_anomalies(anomalies: pd.DataFrame, change: float) -> pd.DataFrame:
    """Add ``excess`` (credits above the baseline) and ``share_of_change`` (excess as a fraction
    of the month's change; NaN when the month did not rise or fall) to :func:`detect_anomalies`
    rows."""
    out = anomalies.copy()
    out["excess"] = out["credits"].astype("float64") - out["baseline"].astype("float64")
    out["share_of_change"] = out["excess"] / change if change else np.nan
    return out


def anomaly_formats(rep: MonthlyReport) -> tuple[ReportFormats, ReportFormats]:
    """How the flagged days' figures are shown: their credits, then their baselines and
    excesses, each with the decimals its values need (at least the report's).

    A baseline is a median, so it can hold half a credit (97.5); shown exactly, with the excess,
    credits − baseline = excess reads true in every artefact (1,212 − 97.50 = 1,114.50).
    """
    a = rep.anomalies
    f = rep.formats
    if a.empty:
        return f, f
    return f.exact(a["credits"]), f.exact(pd.concat([a["baseline"], a["excess"]]))


_FRACTIONS = [
    (1 / 10, "about a tenth"),
    (1 / 8, "about an eighth"),
    (1 / 5, "about a fifth"),
    (1 / 4, "about a quarter"),
    (1 / 3, "about a third"),
    (2 / 5, "about two fifths"),
    (1 / 2, "about half"),
    (3 / 5, "about three fifths"),
    (2 / 3, "about two thirds"),
    (3 / 4, "about three quarters"),
    (9 / 10, "nearly all"),
]


def fraction_words(fraction: float) -> str:
    """A fraction in words, as people say it: 0.31 → "about a third"."""
    if fraction >= 1.0:
        return "more than all"
    if fraction < 0.07:
        return "a small part"
    return min(_FRACTIONS, key=lambda item: abs(item[0] - fraction))[1]


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def _signed_words(rep: MonthlyReport, change: float, base: float, what: str) -> str:
    """ "11.9% more than September 2026" / "the same as ..." / "4.0% less than ..."."""
    f = rep.formats
    if change == 0:
        return f"the same as {what}"
    word = "more" if change > 0 else "less"
    return f"{f.pct(abs(change) / base)} {word} than {what}"


def report_narrative(rep: MonthlyReport) -> list[str]:
    """Three to five plain sentences from the report's figures (never hand-written).

    In order: the total (and, for a running month, the projection), the change against last
    month, the same month last year, the biggest driver, the anomalies, the cost.
    """
    f = rep.formats
    out: list[str] = []
    prev_name = rep.previous_month_name
    n = rep.elapsed_days
    rise = "rise" if rep.change > 0 else "fall"
    so_far = "" if rep.complete else " so far"
    if rep.complete:
        head = f"{rep.month_name} used {f.credits(rep.total)} credits"
        if not rep.previous_available:
            out.append(
                head + "; it is the first month of data, so there is nothing to compare it with."
            )
        elif rep.previous_total == 0:
            out.append(head + f"; {prev_name} had no usage, so there is no percentage change.")
        else:
            out.append(
                head
                + ", "
                + _signed_words(rep, rep.change, rep.previous_total, prev_name)
                + f" ({f.change(rep.change)} credits)."
            )
        if rep.yoy_available and rep.yoy_total:
            out.append(
                "Year over year that is "
                + _signed_words(
                    rep, float(rep.yoy_change or 0.0), rep.yoy_total, rep.yoy_month_name
                )
                + f" ({f.credits(rep.yoy_total)} credits)."
            )
        elif rep.yoy_available:
            out.append(f"{rep.yoy_month_name} had no usage, so there is no year-over-year change.")
    else:
        out.append(
            f"{rep.month_name} is not over: {f.credits(rep.total)} credits so far, as of "
            f"{rep.as_of.day} {rep.as_of:%b %Y %H:%M}; at this rate it will end near "
            f"{f.projection(rep.projection)} credits (an estimate: "
            f"{projection_detail(rep, ' to ')})."
        )
        days = f"its first {n} complete day{'s' if n != 1 else ''}"
        if not rep.previous_available:
            sentence = (
                f"Like for like, {days} used {f.credits(rep.compared_total)} credits; there is "
                "no earlier month of data to compare them with"
            )
        elif rep.previous_total == 0:
            sentence = (
                f"Like for like, {days} used {f.credits(rep.compared_total)} credits; the same "
                f"days of {prev_name} had no usage"
            )
        else:
            sentence = (
                f"Like for like, {days} used {f.credits(rep.compared_total)} credits, "
                + _signed_words(
                    rep, rep.change, rep.previous_total, f"the same days of {prev_name}"
                )
                + f" ({f.change(rep.change)})"
            )
        if rep.yoy_available and rep.yoy_total:
            sentence += " and " + _signed_words(
                rep, float(rep.yoy_change or 0.0), rep.yoy_total, f"those of {rep.yoy_month_name}"
            )
        out.append(sentence + ".")

    anomalies = rep.anomalies
    ops = rep.operations
    driver_op = None
    if rep.change != 0 and rep.previous_available and len(ops):
        moved = ops.assign(_abs=ops["change"].abs()).sort_values(
            ["_abs", "operation"], ascending=[False, True], kind="mergesort"
        )
        top = moved.iloc[0]
        driver_op = str(top["operation"])
        share = float(top["change"]) / rep.change
        if share > 1:
            out.append(
                f"{driver_op} drove the {rise}{so_far}: {f.change(top['change'])} credits, "
                f"more than the net {f.change(rep.change)}, "
                "as other operations moved the other way."
            )
        elif share > 0:
            lead = "most" if share > 0.5 else "the largest part"
            out.append(
                f"{driver_op} drove {lead} of the {rise}{so_far}: "
                f"{f.change(top['change'])} credits, {f.pct(share)} of it."
            )
        else:
            same = moved[np.sign(moved["change"]) == np.sign(rep.change)]
            tail = ""
            if len(same):
                tail = (
                    f"; the {rise} was led by {same.iloc[0]['operation']} "
                    f"({f.change(same.iloc[0]['change'])})"
                )
            out.append(
                f"The largest move was {driver_op}, {f.change(top['change'])} credits, against "
                f"the month's {rise}{tail}."
            )

    if anomalies.empty:
        out.append("No day was flagged as unusual.")
    else:
        fb = anomaly_formats(rep)[1]
        biggest = anomalies.sort_values(
            ["excess", "day"], ascending=[False, True], kind="mergesort"
        ).iloc[0]
        what = f"the {_day(biggest['day'])} {biggest['operation']} spike"
        if len(anomalies) == 1:
            sentence = (
                f"{what[0].upper()}{what[1:]} was {fb.credits(biggest['excess'])} "
                "credits above baseline"
            )
            share = biggest["share_of_change"]
        else:
            sentence = (
                f"{len(anomalies)} unusual days were flagged, "
                f"{fb.credits(anomalies['excess'].sum())} credits above baseline in all, "
                f"the largest {what} "
                f"({fb.credits(biggest['excess'])} above)"
            )
            share = anomalies["excess"].sum() / rep.change if rep.change else np.nan
        if rep.change > 0 and rep.previous_available and pd.notna(share) and share > 0:
            sentence += f", {fraction_words(float(share))} of the month's rise{so_far}"
        out.append(sentence + ".")

    if len(ops) and not ops["priced"].any():
        out.append("No operation of the month has a list price, so there is no cost estimate.")
        return out
    cost = f"Estimated cost{so_far} at list prices is {f.money(rep.estimated_cost)}"
    if rep.complete and rep.previous_available and rep.previous_cost:
        cost += f", {f.money_change(rep.cost_change)} on {prev_name}"
    if rep.largest_cost_operation is not None and rep.estimated_cost > 0:
        line = rep.cost_by_operation.iloc[0]
        cost += (
            f"; {rep.largest_cost_operation} is the largest line at "
            f"{f.money(line['estimated_cost'])} ({f.share(line['cost_share_display'])} of cost "
            f"for {f.share(line['share_display'])} of credits)"
        )
    if rep.unpriced:
        names = ", ".join(rep.unpriced)
        cost += (
            f"; {names} {'is' if len(rep.unpriced) == 1 else 'are'} "
            "unpriced and not in the estimate"
        )
    out.append(cost + ".")
    return out


def bridge_lines(rep: MonthlyReport) -> list[str]:
    """The bridge as plain lines for text and HTML: ``"search_realtime: +1,209"``, from the
    comparison base to this month's total."""
    f = rep.formats
    out = []
    for row in rep.bridge.itertuples(index=False):
        value = f.credits(row.value) if row.kind in ("start", "end") else f.change(row.value)
        label = f"other ({row.operations})" if row.kind == "other" else str(row.label)
        out.append(f"{label}: {value}")
    return out


def anomaly_lines(rep: MonthlyReport) -> list[str]:
    """One plain line per flagged day: credits, the excess over the baseline and, when the month
    rose, the share of the rise it explains."""
    fc, fb = anomaly_formats(rep)
    out = []
    for row in rep.anomalies.itertuples(index=False):
        line = (
            f"{_day(row.day)} {row.operation}: {fc.credits(row.credits)} credits, "
            f"{fb.credits(row.excess)} above a baseline of {fb.credits(row.baseline)}"
        )
        if rep.change > 0 and pd.notna(row.share_of_change) and row.share_of_change > 0:
            line += f" ({fraction_words(float(row.share_of_change))} of the month's rise)"
        out.append(line)
    return out
