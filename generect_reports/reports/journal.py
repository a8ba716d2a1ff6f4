"""The month's journal entries: what a controller books for the credits, balanced to the cent.

Entries, all in integer cents:

* consumption, on the month's last day: Dr expense (one line per operation with
  ``split="operation"``), Cr prepaid credits;
* the accrual for charges pending at month end, on the last day: Dr expense, Cr accrued
  liabilities, reversed on the first day of the next month;
* with ``purchases``, each top-up on its day: Dr prepaid credits, Cr accounts payable;
* a restatement of a closed month (its consumed value changed since it was closed in the close
  register) as a labelled adjustment in the first open month after it: Dr or Cr expense against
  prepaid for the difference. A closed month itself is never rewritten: its journal is the one
  the register recorded.

Every entry's debits equal its credits, and with ``purchases`` the month's net movement on the
prepaid account equals the valuation's roll-forward (closing minus opening prepaid).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from generect_reports.analysis.valuation import JournalAccounts, MonthValuation
from generect_reports.periods import Month

__all__ = [
    "JournalLine",
    "Journal",
    "SPLITS",
    "build_journal",
    "register_record",
    "split_by_customer",
    "valuation_from_record",
    "month_journal",
    "restatements",
]

SPLITS = ("none", "operation", "customer")


@dataclass(frozen=True)
class JournalLine:
    """One line of one entry: an account debited or credited, in cents."""

    date: dt.date
    entry: str
    kind: str
    account: str
    debit: int
    credit: int
    memo: str
    dimension: str = ""


@dataclass(frozen=True)
class Journal:
    """The month's entries and the roll-forward they book."""

    month: str
    currency: str
    split: str
    lines: tuple[JournalLine, ...]
    accounts: JournalAccounts
    opening_prepaid: int
    closing_prepaid: int
    purchases: int
    consumed: int
    pending_accrual: int
    purchases_included: bool
    closed: bool = False
    notes: tuple[str, ...] = ()
    source: str = "sample"
    timezone: str = "UTC"
    adjustments: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def entries(self) -> dict[str, tuple[JournalLine, ...]]:
        out: dict[str, list[JournalLine]] = {}
        for line in self.lines:
            out.setdefault(line.entry, []).append(line)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def balanced(self) -> bool:
        """Every entry's debits equal its credits."""
        return all(
            sum(x.debit for x in lines) == sum(x.credit for x in lines)
            for lines in self.entries.values()
        )

    def movement(self, account: str) -> int:
        """Net debit movement on ``account`` in cents."""
        return sum(x.debit - x.credit for x in self.lines if x.account == account)

    @property
    def prepaid_movement(self) -> int:
        return self.movement(self.accounts.prepaid)

    @property
    def booked_cost(self) -> int:
        """consumed + pending accrual (the month's booked cost)."""
        return self.consumed + self.pending_accrual


def _entry_lines(
    date: dt.date,
    entry: str,
    kind: str,
    debits: list[tuple[str, int, str]],
    credits: list[tuple[str, int, str]],
    memo: str,
) -> list[JournalLine]:
    """Lines of one entry from (account, cents, dimension); negative amounts change side."""
    out = []
    for account, cents, dim in debits:
        if cents:
            d, c = (cents, 0) if cents > 0 else (0, -cents)
            out.append(JournalLine(date, entry, kind, account, d, c, memo, dim))
    for account, cents, dim in credits:
        if cents:
            d, c = (0, cents) if cents > 0 else (-cents, 0)
            out.append(JournalLine(date, entry, kind, account, d, c, memo, dim))
    return out


def register_record(valuation: MonthValuation) -> dict[str, Any]:
    """What the close register keeps of a month: its booked figures in cents."""
    return {
        "opening_prepaid": valuation.opening_cents,
        "purchases": valuation.purchases_cents,
        "consumed": valuation.consumed_cents,
        "pending_accrual": valuation.pending_accrual_cents,
        "closing_prepaid": valuation.closing_cents,
        "consumed_hundredths": valuation.consumed_hundredths,
        "pending_hundredths": valuation.pending_hundredths,
        "by_operation": dict(sorted(valuation.by_operation.items())),
        "top_ups": [
            {
                "id": t.id,
                "date": t.at.date().isoformat(),
                "credits": t.credits,
                "invoice": t.invoice,
                "amount": t.amount_cents,
            }
            for t in valuation.top_ups
        ],
    }


def split_by_customer(by_operation: Mapping[str, int], lines: Any) -> dict[str, int]:
    """Each operation's consumed cents split over customers in proportion to their credits of
    it (the chargeback's lines), by largest remainder; an operation no customer used, and the
    chargeback's own ``unallocated`` share, go to ``unallocated``. Adds up to the consumed."""
    from generect_reports.money import largest_remainder

    out: dict[str, int] = {}
    for op, cents in sorted(by_operation.items()):
        rows = lines[lines["operation"].astype(str) == op]
        weights = rows["credits_hundredths"].to_numpy(dtype="int64") if len(rows) else []
        if not len(rows) or int(sum(weights)) == 0:
            out["unallocated"] = out.get("unallocated", 0) + int(cents)
            continue
        for who, part in zip(rows["customer"].astype(str), largest_remainder(cents, weights)):
            out[who] = out.get(who, 0) + int(part)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] == "unallocated", kv[0])))


def valuation_from_record(month: str, record: Mapping[str, Any]) -> MonthValuation:
    """A closed month's valuation as the register recorded it."""
    import pandas as pd

    from generect_reports.analysis.valuation import TopUpMatch

    return MonthValuation(
        month=month,
        opening_cents=int(record["opening_prepaid"]),
        purchases_cents=int(record["purchases"]),
        consumed_cents=int(record["consumed"]),
        closing_cents=int(record["closing_prepaid"]),
        pending_accrual_cents=int(record["pending_accrual"]),
        opening_hundredths=0,
        purchased_hundredths=0,
        consumed_hundredths=int(record.get("consumed_hundredths", 0)),
        closing_hundredths=0,
        pending_hundredths=int(record.get("pending_hundredths", 0)),
        reversed_hundredths=0,
        unvalued_hundredths=0,
        by_operation={str(k): int(v) for k, v in record.get("by_operation", {}).items()},
        operation_hundredths={},
        top_ups=tuple(
            TopUpMatch(
                str(t["id"]),
                pd.Timestamp(t["date"]),
                month,
                float(t["credits"]),
                t.get("invoice"),
                None,
                None if t.get("amount") is None else int(t["amount"]),
            )
            for t in record.get("top_ups", [])
        ),
    )


def restatements(
    register: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, MonthValuation],
    month: str,
) -> list[dict[str, Any]]:
    """Closed months whose consumed value changed, to adjust in ``month`` when it is the first
    open month after them: ``{"month", "before", "after", "change"}`` in cents, where "before"
    is the register's figure plus adjustments already booked for it."""
    out = []
    for closed, record in sorted(register.items()):
        if closed >= month or closed not in current:
            continue
        between = [m for m in _months(closed, month)[1:-1]]
        if any(m not in register for m in between):
            continue  # an earlier open month takes the adjustment
        booked = int(record["consumed"]) + sum(
            int(a["change"])
            for other in register.values()
            for a in other.get("adjustments", [])
            if a["month"] == closed
        )
        now = current[closed].consumed_cents
        if now != booked:
            out.append({"month": closed, "before": booked, "after": now, "change": now - booked})
    return out


def _months(first: str, last: str) -> list[str]:
    out = []
    m = Month.parse(first)
    stop = Month.parse(last)
    while str(m) <= str(stop):
        out.append(str(m))
        m = Month.parse(f"{m.last_day + dt.timedelta(days=1):%Y-%m}")
    return out


def build_journal(
    valuation: MonthValuation,
    accounts: JournalAccounts,
    *,
    currency: str,
    purchases: bool = False,
    split: str = "none",
    adjustments: list[dict[str, Any]] | None = None,
    source: str = "sample",
    timezone: str = "UTC",
    closed: bool = False,
    customers: Mapping[str, int] | None = None,
) -> Journal:
    """The month's journal from its valuation (see the module docstring for the entries).

    Parameters
    ----------
    valuation
        The month's :class:`MonthValuation` (or the close register's record of it, rebuilt).
    accounts
        Account codes (``[journal]``).
    currency
        ISO code of the amounts.
    purchases
        Book the top-ups (Dr prepaid, Cr payable) too.
    split
        ``operation`` for one expense line per operation, ``customer`` for one per customer
        cost centre (``customers``), ``none`` for one line.
    customers
        The consumed cents by customer (:func:`split_by_customer`), for ``split="customer"``.
    adjustments
        Restated closed months (:func:`restatements`) to book in this month.
    """
    month = Month.parse(valuation.month)
    last, first_next = month.last_day, month.last_day + dt.timedelta(days=1)
    tag = f"GR{month.first_day:%y%m}"  # short: QuickBooks caps a journal number at 21
    lines: list[JournalLine] = []
    ops = sorted(valuation.by_operation.items())
    if split == "operation":
        expense = [(accounts.expense, c, op) for op, c in ops]
    elif split == "customer":
        expense = [(accounts.expense, c, who) for who, c in (customers or {}).items()]
    else:
        expense = [(accounts.expense, valuation.consumed_cents, "")]
    lines += _entry_lines(
        last,
        f"{tag}-C",
        "consumption",
        expense,
        [(accounts.prepaid, valuation.consumed_cents, "")],
        f"API credits consumed in {valuation.month} "
        f"({valuation.consumed_hundredths / 100:,.2f} credits)",
    )
    accrual = valuation.pending_accrual_cents
    memo = (
        f"Accrual: {valuation.pending_hundredths / 100:,.2f} credits pending at the end of "
        f"{valuation.month}"
    )
    lines += _entry_lines(
        last,
        f"{tag}-A",
        "accrual",
        [(accounts.expense, accrual, "")],
        [(accounts.accrued, accrual, "")],
        memo,
    )
    lines += _entry_lines(
        first_next,
        f"{tag}-AR",
        "accrual reversal",
        [(accounts.accrued, accrual, "")],
        [(accounts.expense, accrual, "")],
        f"Reversal of the {valuation.month} accrual",
    )
    if purchases:
        for n, t in enumerate(valuation.top_ups, start=1):
            cents = t.amount_cents or 0
            ref = f"invoice {t.invoice}" if t.invoice else "no invoice"
            lines += _entry_lines(
                t.at.date(),
                f"{tag}-P{n}",
                "purchase",
                [(accounts.prepaid, cents, "")],
                [(accounts.payable, cents, "")],
                f"{t.credits:,.2f} credits bought ({ref})",
            )
    notes: list[str] = []
    for adj in adjustments or []:
        lines += _entry_lines(
            last,
            f"{tag}-ADJ{adj['month'][2:].replace('-', '')}",
            "adjustment",
            [(accounts.expense, int(adj["change"]), "")],
            [(accounts.prepaid, int(adj["change"]), "")],
            f"Adjustment: {adj['month']} (closed) restated, consumed "
            f"{adj['before'] / 100:,.2f} -> {adj['after'] / 100:,.2f}",
        )
        notes.append(
            f"{adj['month']} was closed and its ledger has changed since: the difference "
            f"({adj['change'] / 100:+,.2f} {currency}) is booked here as an adjustment; "
            f"the closed month is not rewritten."
        )
    if closed:
        notes.append(f"{valuation.month} is closed: these are the figures the register holds.")
    if not purchases:
        notes.append(
            "Purchases are not booked (add --purchases): the prepaid account moves by the "
            "consumption only."
        )
    return Journal(
        month=valuation.month,
        currency=currency,
        split=split,
        lines=tuple(lines),
        accounts=accounts,
        opening_prepaid=valuation.opening_cents,
        closing_prepaid=valuation.closing_cents,
        purchases=valuation.purchases_cents,
        consumed=valuation.consumed_cents,
        pending_accrual=accrual,
        purchases_included=purchases,
        closed=closed,
        notes=tuple(notes),
        source=source,
        timezone=timezone,
        adjustments=tuple(adjustments or ()),
    )


def month_journal(
    source: Any,
    month: Month | str,
    money: Any,
    accounts: JournalAccounts,
    *,
    register: Mapping[str, Mapping[str, Any]] | None = None,
    purchases: bool = False,
    split: str = "none",
    template: Any = None,
) -> tuple[Journal, MonthValuation]:
    """The journal of ``month`` for a source: valued from the ledger, or as the close register
    holds it when the month is closed; restated closed months adjusted in the first open month.

    Returns the journal and the month's current valuation (what ``--close`` records).
    """
    from generect_reports.errors import ConfigError, InputError
    from generect_reports.reports.valuation import money_for, value_months

    month = Month.parse(month)
    money = money_for(source, money)
    if not money.configured:
        raise ConfigError(
            'journal needs [money] purchases = "FILE.csv" or rate = PRICE in the configuration'
        )
    if split not in SPLITS:
        raise InputError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    usage = source.usage(month.first_day, month.last_day, period="month")
    operations = sorted({str(op) for op in usage["operation"]} - {"unattributed"})
    valued = value_months(source, month, money, template=template, operations=operations)
    current = valued.month(str(month))
    register = register or {}
    kind = getattr(source, "kind", "api")
    lines = None
    if split == "customer":
        from generect_reports.reports.assemble import ReportSettings, chargeback

        lines = chargeback(source, month, ReportSettings(template=template)).allocation.lines
    if str(month) in register:
        recorded = valuation_from_record(str(month), register[str(month)])
        booked = build_journal(
            recorded,
            accounts,
            currency=valued.currency,
            purchases=purchases,
            split=split,
            source=kind,
            timezone=source.timezone,
            closed=True,
            adjustments=[],
            customers=None if lines is None else split_by_customer(recorded.by_operation, lines),
        )
        return booked, current
    changes = restatements(register, {m.month: m for m in valued.months}, str(month))
    journal = build_journal(
        current,
        accounts,
        currency=valued.currency,
        purchases=purchases,
        split=split,
        adjustments=changes,
        source=kind,
        timezone=source.timezone,
        customers=None if lines is None else split_by_customer(current.by_operation, lines),
    )
    return journal, current
