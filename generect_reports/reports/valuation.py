"""What the credits cost, for a source: the ``[money]`` settings read and the ledger valued.

:func:`load_money` reads the ``[money]`` table and its purchases file (the bundled sample's own
with ``--sample``); :func:`value_months` asks the source for the ledger from the start of the
valuation (the opening date, else the first invoice) through a month and values it with
:func:`~generect_reports.analysis.valuation.value_ledger`, ledger types mapped to the usage's
operations as the reconciliation maps them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from generect_reports.analysis.valuation import (
    MoneySettings,
    MonthValuation,
    Opening,
    Valuation,
    parse_money_table,
    parse_purchases,
    value_ledger,
)
from generect_reports.periods import Month

if TYPE_CHECKING:
    from generect_reports.fetch.source import Source

__all__ = [
    "load_money",
    "money_for",
    "value_months",
    "valuation_start",
    "booked_by_operation",
    "booked_months",
]


def load_money(
    table: Mapping[str, Any] | None,
    *,
    config_path: Path | None = None,
    where: str = "[money]",
) -> MoneySettings:
    """The ``[money]`` table validated, its purchases file read (relative to ``config_path``).

    Without purchases or a rate the settings are unconfigured (``configured`` False): a source
    with invoices of its own (the sample) then supplies them (:func:`money_for`).
    """
    from generect_reports.fetch.purchases import read_purchases_file

    table = dict(table or {})
    if isinstance(table.get("purchases"), str) and table["purchases"].strip():
        rows, name = read_purchases_file(
            table["purchases"], config_path=config_path, where=f"{where} purchases"
        )
        return parse_money_table(table, where=where, purchases=rows, purchases_source=name)
    return parse_money_table(table, where=where)


def money_for(source: Source, money: MoneySettings) -> MoneySettings:
    """``money``, or, when it names neither purchases nor a rate, the source's own invoices
    (the sample's ``sample_purchases.csv``) under the same policy and match window."""
    if money.configured:
        return money
    rows = source.purchases()
    if rows is None:
        return money
    from generect_reports.fetch.purchases import SAMPLE_PURCHASES

    bought = parse_purchases(rows, where=SAMPLE_PURCHASES)
    return replace(
        money,
        purchases=bought,
        purchases_source=SAMPLE_PURCHASES,
        currency=bought[0].currency if bought else money.currency,
    )


def valuation_start(money: MoneySettings, month: Month) -> dt.date:
    """The first day the valuation reads: the opening date, else the first invoice less
    ``match_days``, else (a rate) the first ``rate_from`` month or ``month`` itself."""
    if money.opening is not None:
        return money.opening.date
    if money.purchases:
        return money.purchases[0].date - dt.timedelta(days=money.match_days)
    first = min([*money.rate_from, str(month)])
    return Month.parse(first).first_day


def value_months(
    source: Source,
    month: Month | str,
    money: MoneySettings,
    *,
    template: str | os.PathLike[str] | None = None,
    operations: Sequence[str] = (),
    until: Any = None,
) -> Valuation:
    """Value the source's ledger from the start of the valuation through ``month``.

    In rate mode without an opening position, the balance at the start (from the ledger's
    closing balance) becomes the opening, valued at the rate then.
    """
    from generect_reports.analysis.reconcile import load_ledger_mapping, map_types
    from generect_reports.money import cost_cents, to_hundredths

    month = Month.parse(month)
    money = money_for(source, money)
    start = valuation_start(money, month)
    if start > month.last_day:
        start = month.first_day
    if money.purchases is None and money.opening is None:
        first = Month.parse(f"{start:%Y-%m}")
        inputs = source.ledger(first)
        rows = inputs.ledger
        settled = rows[rows["status"] == "success"]
        if inputs.closing_balance is not None:
            opening_h = int(
                to_hundredths([inputs.closing_balance])[0] - to_hundredths(settled["credits"]).sum()
            )
            rate = money.rate_for(str(first)) or Decimal(0)
            opening_h = max(opening_h, 0)
            money = replace(money, opening=Opening(start, opening_h, cost_cents(opening_h, rate)))
    # A top-up just after the month may be what an invoice at its end paid for.
    last = min(month.last_day + dt.timedelta(days=money.match_days), source.today())
    ledger = source.ledger_history(start, max(last, month.last_day))
    mapping = load_ledger_mapping(template)
    kinds = sorted(set(ledger["type"].astype(str))) if len(ledger) else []
    names = map_types(pd.Series(kinds, dtype=object), mapping, operations)
    lookup = dict(zip(kinds, names.astype(str)))
    return value_ledger(
        ledger,
        money,
        through=str(month),
        timezone=source.timezone,
        operation_of=lambda t: lookup.get(t, t),
        until=None if until is None else pd.Timestamp(until),
    )


def booked_by_operation(month: MonthValuation) -> dict[str, int]:
    """A month's booked cost in cents by operation: its consumed cents by operation plus the
    accrual split over them by largest remainder (all to ``unattributed`` with no consumption)."""
    from generect_reports.money import largest_remainder

    names = sorted(month.by_operation)
    out = {op: int(month.by_operation[op]) for op in names}
    accrual = month.pending_accrual_cents
    if accrual:
        if names and sum(out.values()):
            for op, part in zip(names, largest_remainder(accrual, [out[n] for n in names])):
                out[op] += int(part)
        else:
            out["unattributed"] = out.get("unattributed", 0) + accrual
    return out


def booked_months(
    source: Source,
    money: MoneySettings,
    start: dt.date,
    end: dt.date,
    *,
    template: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, int]] | None:
    """The booked cost by month and operation (cents) of the months ``start`` to ``end`` that
    are over, when ``[money]`` (or the source) values the credits; None otherwise."""
    money = money_for(source, money)
    if not money.configured:
        return None
    last = min(end, source.today() - dt.timedelta(days=1))
    if last < start:
        return {}
    valued = value_months(source, f"{last:%Y-%m}", money, template=template)
    months = {m.month: m for m in valued.months}
    wanted = pd.period_range(f"{start:%Y-%m}", f"{last:%Y-%m}", freq="M").strftime("%Y-%m")
    return {m: booked_by_operation(months[m]) for m in wanted if m in months}
