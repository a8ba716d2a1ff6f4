"""The report's figures as the words and strings the PDF and the email show.

Both artefacts take their KPI tiles, table cells, drivers and anomaly lines from here, formatted
by the report's one :class:`~generect_reports.reports.formats.ReportFormats`, so a figure reads
the same in the PDF, in the email's HTML part and in its text part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "Kpi",
    "kpis",
    "layout_name",
    "operation_rows",
    "total_row",
    "cost_rows",
    "driver_lines",
    "anomaly_lines",
    "change_basis",
    "tone",
    "preheader",
]


#: Characters of an operation name shown in a table cell or tile (the data keeps it whole).
NAME_WIDTH = 60


def layout_name(name: object) -> str:
    """An operation name cut to :data:`NAME_WIDTH` characters for layout only."""
    from generect_reports._text import truncate_for_layout

    return truncate_for_layout(str(name), NAME_WIDTH)


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: a label, the figure, a line of detail and its tone (``up``/``down``/``""``)."""

    label: str
    value: str
    detail: str
    tone: str = ""


def tone(value: float | None) -> str:
    """``up`` for more credits or cost (red in a cost report), ``down`` for less, else ``""``."""
    if value is None or math.isnan(value) or value == 0:
        return ""
    return "up" if value > 0 else "down"


def _short(month_name: str) -> str:
    """``September 2026`` → ``Sep``."""
    return month_name[:3]


def change_basis(rep: MonthlyReport) -> str:
    """What the change compares, in a few words."""
    if rep.complete:
        return f"whole month, against {rep.previous_month_name}"
    return (
        f"like for like, days 1-{rep.elapsed_days} "
        f"against {_short(rep.previous_month_name)} 1-{rep.elapsed_days}"
    )


def kpis(rep: MonthlyReport) -> list[Kpi]:
    """Total, like-for-like change, year over year, cost, the largest cost line and, for a running
    month, the projection."""
    f = rep.formats
    out = [
        Kpi(
            "Credits this month" if rep.complete else "Credits so far",
            f.credits(rep.total),
            rep.month_name
            if rep.complete
            else f"{rep.month_name}, {rep.elapsed_days} of {rep.days_in_month} days",
        )
    ]
    prev = (
        rep.previous_month_name
        if rep.complete
        else f"{_short(rep.previous_month_name)} 1-{rep.elapsed_days}"
    )
    if rep.previous_available:
        out.append(
            Kpi(
                f"Change vs {prev}",
                f.signed_pct(rep.change_pct),
                f"{f.change(rep.change)} credits" + ("" if rep.complete else ", like for like"),
                tone(rep.change),
            )
        )
    else:
        out.append(Kpi("Change", "n/a", "first month of data"))
    if rep.yoy_available and rep.yoy_total is not None:
        then = (
            rep.yoy_month_name[:3]
            + " "
            + rep.yoy_month[:4]
            + ("" if rep.complete else f" 1-{rep.elapsed_days}")
        )
        out.append(
            Kpi(
                "Year over year",
                f.signed_pct(rep.yoy_change_pct),
                f"{f.change(rep.yoy_change)} credits on {f.credits(rep.yoy_total)} in {then}",
                tone(rep.yoy_change),
            )
        )
    else:
        out.append(Kpi("Year over year", "n/a", f"no data for {rep.yoy_month_name or 'last year'}"))
    compared = rep.previous_available and bool(rep.previous_cost)
    if compared and rep.complete:
        cost_detail = f"{f.money_change(rep.cost_change)} vs {rep.previous_month_name}"
    elif compared:
        cost_detail = f"{f.money_change(rep.cost_change)} like for like"
    else:
        cost_detail = "at list prices, an estimate"
    if rep.booked is not None:
        b = rep.booked
        out.append(
            Kpi(
                "Booked cost" if rep.complete else "Booked cost so far",
                f.money(b.booked_cost),
                f"consumed {f.money(b.consumed)} + accrual {f.money(b.pending_accrual)}; "
                f"list-price value {f.money(b.list_value)}",
            )
        )
    else:
        out.append(
            Kpi(
                "Estimated cost" if rep.complete else "Estimated cost so far",
                f.money(rep.estimated_cost),
                cost_detail,
                tone(rep.cost_change) if compared else "",
            )
        )
    if rep.largest_cost_operation is not None and len(rep.cost_by_operation):
        line = rep.cost_by_operation.iloc[0]
        out.append(
            Kpi(
                "Largest cost line",
                f.money(rep.largest_cost),
                f"{layout_name(rep.largest_cost_operation)}: "
                f"{f.share(line['cost_share_display'])} of cost, "
                f"{f.share(line['share_display'])} of credits",
            )
        )
    if not rep.complete and rep.projection is not None:
        from generect_reports.reports.narrative import projection_kpi

        out.append(Kpi("Projected month end", f.projection(rep.projection), projection_kpi(rep)))
    return out


def operation_rows(rep: MonthlyReport) -> list[dict[str, str]]:
    """One row of display strings per operation, in the report's order (largest first)."""
    f = rep.formats
    rows = []
    for r in rep.operations.itertuples(index=False):
        priced = bool(r.priced)
        rows.append(
            {
                "operation": layout_name(r.operation),
                "credits": f.credits(r.credits),
                "share": f.share(r.share_display),
                "previous": f.credits(r.previous_credits),
                "change": f.change(r.change),
                "change_pct": f.signed_pct(r.change_pct),
                "change_tone": tone(r.change),
                "yoy": f.credits(r.yoy_credits),
                "yoy_pct": f.signed_pct(r.yoy_change_pct),
                "yoy_tone": tone(r.yoy_change),
                "cost": f.money(r.estimated_cost) if priced else "unpriced",
                "cost_share": f.share(r.cost_share_display) if priced else "-",
            }
        )
    return rows


def total_row(rep: MonthlyReport) -> dict[str, str]:
    """The total row, with the same keys as :func:`operation_rows`."""
    f = rep.formats
    yoy = rep.yoy_total if rep.yoy_available else None
    return {
        "operation": "Total",
        "credits": f.credits(rep.total),
        "share": "100.0%" if rep.total else "-",
        "previous": f.credits(rep.previous_total),
        "change": f.change(rep.change),
        "change_pct": f.signed_pct(rep.change_pct),
        "change_tone": tone(rep.change),
        "yoy": f.credits(yoy),
        "yoy_pct": f.signed_pct(rep.yoy_change_pct),
        "yoy_tone": tone(rep.yoy_change),
        "cost": f.money(rep.estimated_cost),
        "cost_share": "100.0%" if rep.estimated_cost else "-",
    }


def cost_rows(rep: MonthlyReport) -> list[dict[str, str]]:
    """Cost by operation, largest first; unpriced operations last, said to be unpriced."""
    f = rep.formats
    return [
        {
            "operation": layout_name(r.operation),
            "cost": f.money(r.estimated_cost) if r.priced else "unpriced",
            "cost_share": f.share(r.cost_share_display) if r.priced else "-",
            "credit_share": f.share(r.share_display),
            "priced": "yes" if r.priced else "",
        }
        for r in rep.cost_by_operation.itertuples(index=False)
    ]


def driver_lines(rep: MonthlyReport) -> list[str]:
    """The bridge as lines, from last month's total through each operation's contribution
    (largest first, small ones grouped) to this month's; none without a previous month."""
    from generect_reports.reports.narrative import bridge_lines

    if rep.bridge.empty or not rep.previous_available:
        return []
    return bridge_lines(rep)


def anomaly_lines(rep: MonthlyReport) -> list[str]:
    """Each flagged day, quantified against its baseline and the month's rise."""
    from generect_reports.reports.narrative import anomaly_lines as lines

    return lines(rep) or ["No day was flagged as unusual."]


#: Operations a fixed-size page lists one by one; the rest are one "Other" line.
PAGE_OPERATIONS = 12
#: The colour of the "Other" line in charts.
OTHER_COLOUR = "9CA3AF"


def _other_label(count: int) -> str:
    return f"Other ({count} operations)"


def _cost_shares(rows: pd.DataFrame) -> dict[str, float]:
    """The cost shares of an "Other" line: its priced lines' shares summed (the displayed one
    as shown); NaN when none of them is priced."""
    priced = rows[rows["priced"].astype(bool)]
    if not len(priced):
        return {"cost_share": float("nan"), "cost_share_display": float("nan")}
    return {
        "cost_share": float(priced["cost_share"].sum()),
        "cost_share_display": round(float(priced["cost_share_display"].sum()), 1),
    }


def fold_operations(rep: MonthlyReport, keep: int = PAGE_OPERATIONS) -> MonthlyReport:
    """The report as a page of fixed size shows it: the ``keep - 1`` largest operations one by
    one and the rest as one "Other (k operations)" line, in the table, the history and daily
    charts and the cost ranking. Every figure of the Other line is the sum of the lines it holds
    (money and displayed shares summed as shown, so the page still adds up); the totals, the
    bridge and the anomalies are the report's own. A report with ``keep`` operations or fewer
    comes back unchanged; the workbook and the email always list every operation.
    """
    import dataclasses

    import numpy as np
    import pandas as pd

    from generect_reports.analysis.pricing import to_hundredths

    ops = rep.operations
    if len(ops) <= keep:
        return rep
    head, rest = ops.iloc[: keep - 1], ops.iloc[keep - 1 :]
    label = _other_label(len(rest))
    folded = set(rest["operation"])

    def total(column: str) -> float:
        values = rest[column].to_numpy(dtype="float64")
        return float("nan") if np.isnan(values).all() else float(np.nansum(values))

    def cents(column: str, rows: pd.DataFrame = rest) -> float:
        return int(to_hundredths(rows[column]).sum()) / 100

    other = {column: rest[column].iloc[0] for column in ops.columns}
    other.update(
        {
            "operation": label,
            "credits": total("credits"),
            "previous_credits": total("previous_credits"),
            "compared_credits": total("compared_credits"),
            "share": total("share"),
            "share_display": round(total("share_display"), 1),
            "price": float("nan"),
            "list_price": float("nan"),
            "priced": bool(rest["priced"].any()),
            "estimated_cost": cents("estimated_cost"),
            "previous_cost": cents("previous_cost"),
            "compared_cost": cents("compared_cost"),
            "yoy_credits": total("yoy_credits"),
        }
    )
    other["change"] = other["compared_credits"] - other["previous_credits"]
    other["change_pct"] = (
        other["change"] / other["previous_credits"] if other["previous_credits"] else float("nan")
    )
    other["cost_change"] = (
        round(other["compared_cost"] * 100) - round(other["previous_cost"] * 100)
    ) / 100
    other["yoy_change"] = other["compared_credits"] - other["yoy_credits"]
    other["yoy_change_pct"] = (
        other["yoy_change"] / other["yoy_credits"] if other["yoy_credits"] else float("nan")
    )
    other.update(_cost_shares(rest))
    table = pd.concat([head, pd.DataFrame([other]).astype(ops.dtypes.to_dict())], ignore_index=True)

    monthly = rep.monthly
    in_rest = monthly.index.isin(list(folded))
    monthly = pd.concat(
        [monthly.loc[~in_rest], monthly.loc[in_rest].sum(axis=0).to_frame(label).T]
    ).rename_axis(monthly.index.name)
    mat = rep.daily_matrix
    rest_cols = [c for c in mat.columns if c in folded]
    mat = mat[[c for c in mat.columns if c not in folded]].assign(
        **{label: mat[rest_cols].sum(axis=1)}
    )

    costs = rep.cost_by_operation
    colors = {**rep.colors, label: OTHER_COLOUR}
    if len(costs) > keep:
        c_head, c_rest = costs.iloc[: keep - 1], costs.iloc[keep - 1 :]
        c_label = _other_label(len(c_rest))
        line = {column: c_rest[column].iloc[0] for column in costs.columns}
        line.update(
            {
                "operation": c_label,
                "credits": float(c_rest["credits"].sum()),
                "share_display": round(float(c_rest["share_display"].sum()), 1),
                "estimated_cost": cents("estimated_cost", c_rest),
                "priced": bool(c_rest["priced"].any()),
                **_cost_shares(c_rest),
            }
        )
        costs = pd.concat(
            [c_head, pd.DataFrame([line]).astype(costs.dtypes.to_dict())], ignore_index=True
        )
        colors[c_label] = OTHER_COLOUR
    note = (
        f"This page lists the {keep - 1} largest operations; the other {len(rest)} are one line, "
        f"'{label}'. The workbook lists every operation."
    )
    return dataclasses.replace(
        rep,
        operations=table,
        monthly=monthly,
        daily_matrix=mat,
        cost_by_operation=costs,
        colors=colors,
        notes=[*rep.notes, note],
    )


def preheader(rep: MonthlyReport) -> str:
    """The inbox preview line: the month's figure, its change and cost, and how many exceptions
    need action (the title is already the subject)."""
    from generect_reports.reports.exceptions import report_exceptions

    f = rep.formats
    prev = rep.previous_month_name.split(" ")[0]
    head = f"{f.credits(rep.total)} credits"
    if rep.previous_available:
        head += f" ({f.signed_pct(rep.change_pct)} vs {prev}" + (
            ")" if rep.complete else f", first {rep.elapsed_days} days)"
        )
    head += f", estimated cost {f.money(rep.estimated_cost)}"
    alerts = [e for e in report_exceptions(rep) if e.alert]
    if not alerts:
        return head + "; no exceptions need action."
    return head + f"; {len(alerts)} exception{'s' if len(alerts) > 1 else ''} need action."
