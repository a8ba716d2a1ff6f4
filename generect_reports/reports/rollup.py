"""The roll-up of many accounts for one month: every account's own monthly report, built once by
:func:`~generect_reports.reports.assemble.monthly_report`, and the figures across them.

Every combined figure is a sum of the accounts' own figures as their packs show them (credits in
integer hundredths, cost in integer cents), so the roll-up adds up to the accounts' packs. An
account that failed is listed with its error, and the roll-up says it is partial everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from generect_reports.money import display_shares, money_cents, to_hundredths
from generect_reports.periods import Month

if TYPE_CHECKING:
    from pathlib import Path

    from generect_reports.accounts import AccountSpec
    from generect_reports.fetch.source import MultiSource, Source
    from generect_reports.reports.assemble import ReportSettings
    from generect_reports.reports.formats import ReportFormats
    from generect_reports.reports.model_cache import ReportCache
    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "RollupReport",
    "rollup_report",
    "build_rollup",
    "account_exceptions",
    "account_settings",
]


@dataclass(frozen=True)
class RollupReport:
    """One month across accounts.

    ``accounts`` (ranked by credits, largest first): ``account, label, credits,
    previous_credits, change, change_pct, yoy_credits, yoy_change_pct, cost, limit, limit_use,
    status, exceptions``; in a running month ``change`` compares the same days of both months
    (like for like), as each account's report does; ``cost`` is the account's own report's
    cost, in dollars of whole cents.
    ``operations``: ``operation, credits, share_display, cost`` across the accounts that
    answered, largest first (shares add up to 100.0 as displayed). ``trend``: ``account, month,
    credits``. ``failed``: the accounts that could not be read (``account, error, exit_code``).
    """

    month: str
    month_name: str
    timezone: str
    currency: str
    month_complete: bool
    accounts: pd.DataFrame
    operations: pd.DataFrame
    trend: pd.DataFrame
    total: float
    previous_total: float
    cost: float
    failed: tuple[Mapping[str, Any], ...] = ()
    reports: Mapping[str, MonthlyReport] = field(default_factory=dict, repr=False)

    @property
    def formats(self) -> ReportFormats:
        """The one display decision across accounts: whole credits when every figure is whole."""
        from generect_reports.reports.formats import ReportFormats, credit_decimals_for

        values = [*self.accounts["credits"], *self.accounts["previous_credits"]]
        return ReportFormats(credit_decimals=credit_decimals_for(values), currency=self.currency)

    @property
    def complete(self) -> bool:
        """False when any account failed: every total is then partial."""
        return not self.failed

    @property
    def change(self) -> float:
        """The sum of the accounts' changes (like for like in a running month)."""
        return _hundredths_sum(self.accounts["change"])

    @property
    def change_pct(self) -> float:
        return self.change / self.previous_total if self.previous_total else float("nan")

    @property
    def title(self) -> str:
        """The document title; a partial roll-up says so in it."""
        text = f"Generect usage across accounts, {self.month_name}"
        if not self.complete:
            text += f" (partial: {len(self.failed)} of {len(self.accounts) + len(self.failed)} "
            text += "accounts failed)"
        return text


def _hundredths_sum(values: Any) -> float:
    return int(to_hundredths(np.asarray(values, dtype="float64")).sum()) / 100


def account_exceptions(rep: MonthlyReport) -> list[str]:
    """What a controller must see first about one account's month, most severe first."""
    out: list[str] = []
    for row in _limit_rows(rep):
        if bool(row["crossed"]):
            out.append(
                f"over the plan limit: {rep.formats.credits(row['used'])} of "
                f"{rep.formats.credits(row['threshold'])} credits"
            )
        elif bool(row["projected_over"]):
            out.append(
                f"projected over the plan limit: {rep.formats.credits(row['projected'])} of "
                f"{rep.formats.credits(row['threshold'])} credits"
            )
    if len(rep.anomalies):
        days = sorted({pd.Timestamp(d).strftime("%d %b") for d in rep.anomalies["day"]})
        out.append(f"{len(rep.anomalies)} unusual day(s): {', '.join(days[:3])}")
    if rep.new_operations:
        out.append("new operation(s): " + ", ".join(rep.new_operations))
    if not rep.complete:
        out.append(f"month in progress: {rep.elapsed_days} of {rep.days_in_month} days")
    return out


def _limit_rows(rep: MonthlyReport) -> list[dict[str, Any]]:
    """The budget rows of the plan limit, as plain records (a few rows: no frame needed)."""
    budget = rep.sections.budget
    if budget is None or not len(budget):
        return []
    kinds = budget["kind"].tolist()
    if "limit" not in kinds:
        return []
    columns = ["used", "threshold", "projected", "crossed", "projected_over", "share_used"]
    values = zip(*(budget[c].tolist() for c in columns), strict=True)
    return [dict(zip(columns, v, strict=True)) for k, v in zip(kinds, values) if k == "limit"]


def _limit(rep: MonthlyReport) -> tuple[float, float, str]:
    rows = _limit_rows(rep)
    if not rows:
        return float("nan"), float("nan"), "no limit"
    row = rows[0]
    status = (
        "over limit"
        if bool(row["crossed"])
        else "projected over"
        if bool(row["projected_over"])
        else "within limit"
    )
    return float(row["threshold"]), float(row["share_used"]), status


def build_rollup(
    reports: Mapping[str, MonthlyReport],
    *,
    month: str,
    timezone: str,
    labels: Mapping[str, str] | None = None,
    failed: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...] = (),
) -> RollupReport:
    """The roll-up of ``reports`` (``{account: its monthly report}``, configuration order)."""
    labels = labels or {}
    rows = []
    trend = []
    ops: dict[str, list[float]] = {}
    op_cents: dict[str, int] = {}
    currency = "USD"
    month_complete = True
    for name, rep in reports.items():
        currency = rep.currency
        month_complete = month_complete and rep.complete
        limit, limit_use, status = _limit(rep)
        rows.append(
            {
                "account": name,
                "label": labels.get(name, name),
                "credits": float(rep.total),
                "previous_credits": float(rep.previous_total),
                "change": float(rep.change),
                "change_pct": float(rep.change_pct),
                "yoy_credits": float("nan") if rep.yoy_total is None else float(rep.yoy_total),
                "yoy_change_pct": (
                    float("nan") if rep.yoy_change_pct is None else float(rep.yoy_change_pct)
                ),
                "cost": money_cents(rep.estimated_cost) / 100,
                "limit": limit,
                "limit_use": limit_use,
                "status": status,
                "exceptions": "; ".join(account_exceptions(rep)),
            }
        )
        totals = rep.monthly.sum(axis=0)
        for period, credits in totals.items():
            trend.append({"account": name, "month": str(period), "credits": float(credits)})
        table = rep.operations
        for operation, credits, cost in zip(
            table["operation"].tolist(),
            table["credits"].tolist(),
            table["estimated_cost"].tolist(),
            strict=True,
        ):
            if float(credits):
                ops.setdefault(str(operation), []).append(float(credits))
                op_cents[str(operation)] = op_cents.get(str(operation), 0) + money_cents(cost)
    accounts = pd.DataFrame(
        rows,
        columns=[
            "account",
            "label",
            "credits",
            "previous_credits",
            "change",
            "change_pct",
            "yoy_credits",
            "yoy_change_pct",
            "cost",
            "limit",
            "limit_use",
            "status",
            "exceptions",
        ],
    )
    accounts = accounts.sort_values(
        ["credits", "account"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    operations = pd.DataFrame(
        {
            "operation": list(ops),
            "credits": [_hundredths_sum(v) for v in ops.values()],
            "cost": [op_cents[o] / 100 for o in ops],
        }
    )
    operations = operations.sort_values(
        ["credits", "operation"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)
    operations.insert(2, "share_display", display_shares(operations["credits"].to_numpy()))
    return RollupReport(
        month=month,
        month_name=Month.parse(month).first_day.strftime("%B %Y"),
        timezone=timezone,
        currency=currency,
        month_complete=month_complete,
        accounts=accounts,
        operations=operations,
        trend=pd.DataFrame(trend, columns=["account", "month", "credits"]),
        total=_hundredths_sum(accounts["credits"]),
        previous_total=_hundredths_sum(accounts["previous_credits"]),
        cost=int(round(sum(money_cents(c) for c in accounts["cost"]))) / 100,
        failed=tuple(dict(f) for f in failed),
        reports=dict(reports),
    )


def rollup_report(
    sources: MultiSource,
    month: Month | str | None,
    settings_for: Callable[[str], ReportSettings],
    *,
    labels: Mapping[str, str] | None = None,
    report_cache: ReportCache | bool = True,
) -> RollupReport:
    """Every account's monthly report of ``month`` (each with its own settings), side by side,
    and the roll-up of those that answered. ``month`` None is the last full month.

    With many accounts and several cores, the reports are built in worker processes while the
    accounts are fetched here (:mod:`~generect_reports.reports.rollup_pool`); the figures are
    the same as in one process.

    An account whose report was built before from exactly the same inputs (a closed month, its
    data from the usage cache) has that report read back from ``report_cache``
    (:mod:`~generect_reports.reports.model_cache`): True for the one in the usage cache's
    folder, False for none. An account opened with ``no_cache`` never uses it."""
    from generect_reports.reports.model_cache import ReportCache
    from generect_reports.reports.rollup_pool import ReportPool, report_workers

    chosen = None if month is None else Month.parse(month)
    cache: ReportCache | None = None
    if isinstance(report_cache, ReportCache):
        cache = report_cache
    elif report_cache:
        cache = ReportCache()

    # Many accounts on several cores: each account's report is built in a worker process as
    # soon as its data has arrived, while the other accounts are still being fetched here.
    with ReportPool(report_workers(len(sources.accounts)), cache=cache) as pool:

        def one(name: str, source: Source) -> MonthlyReport:
            return pool.report(source, chosen, settings_for(name))

        reports = sources.each(one)
    first = next(iter(reports.values()), None)
    label = str(chosen) if chosen is not None else (first.month if first else "")
    if not label:
        # Every account failed: nothing says which month "last full" was; the API's clock does.
        label = str(Month.parse(pd.Timestamp.now(tz="UTC").strftime("%Y-%m")).shift(-1))
    timezone = first.timezone if first else "UTC"
    return build_rollup(
        reports,
        month=label,
        timezone=timezone,
        labels=labels,
        failed=[f.as_dict() for f in sources.failures],
    )


def account_settings(
    spec: AccountSpec,
    base: ReportSettings,
    *,
    where: str = "the configuration",
    config_path: Path | None = None,
) -> ReportSettings:
    """``base`` for one account: its label in titles (unless ``base`` names one), its own
    ``[accounts.NAME.budget]`` and ``[accounts.NAME.money]`` when it has them (they replace the
    file's tables for that account; a purchases file is found beside ``config_path``). Every
    command and the dashboard build each account's figures with these settings, so their
    roll-ups are the same."""
    import dataclasses

    from generect_reports.analysis.budget import parse_budget_table

    changes: dict[str, Any] = {"account": base.account or spec.title}
    if "budget" in spec.overrides:
        changes["budgets"] = parse_budget_table(
            dict(spec.overrides["budget"]), where=f"[accounts.{spec.name}.budget] of {where}"
        )
    if "money" in spec.overrides:
        from generect_reports.reports.valuation import load_money

        changes["money"] = load_money(
            dict(spec.overrides["money"]),
            config_path=config_path,
            where=f"[accounts.{spec.name}.money] of {where}",
        )
    return dataclasses.replace(base, **changes)
