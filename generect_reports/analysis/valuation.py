"""What the credits really cost: purchases as prepaid lots, consumption, accrual, roll-forward.

Pure functions (no I/O). Credits are bought in top-ups (the ledger's settled positive ``top_up``
rows), each paid by one purchase (an invoice: credits and an amount). Every top-up becomes a
*lot* of credits with its cost in cents; settled charges (platform fees included) consume the
lots first in, first out (``policy="fifo"``) or at the moving weighted average
(``policy="average"``). Charges pending at month end are accrued at the rate of the lots they
will consume (the position right after the month's settled charges); reversed charges cost
nothing. Everything is integer: credits in hundredths, money in cents, and a part of a lot is
valued by one half-up rule, so each month's roll-forward closes to the cent::

    opening prepaid + purchases - consumed = closing prepaid

and the consumed cents are split over operations by
:func:`~generect_reports.money.largest_remainder`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from ..money import cost_cents, largest_remainder, money_cents, to_decimal, to_hundredths

__all__ = [
    "POLICIES",
    "Purchase",
    "Opening",
    "MoneySettings",
    "JournalAccounts",
    "Lot",
    "TopUpMatch",
    "MonthValuation",
    "Valuation",
    "parse_purchases",
    "parse_money_table",
    "parse_journal_table",
    "match_top_ups",
    "value_ledger",
]

POLICIES = ("fifo", "average")
PURCHASE_COLUMNS = ("date", "invoice", "credits", "amount", "currency")
_MONTH_KEY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purchase:
    """One invoice for credits: ``hundredths`` credits for ``cents`` (tax is not cost)."""

    date: dt.date
    invoice: str
    hundredths: int
    cents: int
    currency: str

    @property
    def credits(self) -> float:
        return self.hundredths / 100

    @property
    def amount(self) -> float:
        return self.cents / 100


@dataclass(frozen=True)
class Opening:
    """The prepaid position at the start of ``date``, for a ledger older than the purchases."""

    date: dt.date
    hundredths: int
    cents: int


@dataclass(frozen=True)
class MoneySettings:
    """The ``[money]`` table: purchases (or a rate), the policy, the opening, the overage rate."""

    purchases: tuple[Purchase, ...] | None = None
    rate: Decimal | None = None
    rate_from: Mapping[str, Decimal] = field(default_factory=dict)
    policy: str = "fifo"
    match_days: int = 3
    opening: Opening | None = None
    overage_rate: Decimal | None = None
    currency: str = "USD"
    #: Where the purchases came from (a file name), for messages and notes.
    purchases_source: str | None = None

    @property
    def configured(self) -> bool:
        return self.purchases is not None or self.rate is not None

    def rate_for(self, month: str) -> Decimal | None:
        """The price per credit of a top-up in ``month`` in rate mode: the latest ``rate_from``
        entry on or before it, else ``rate``."""
        earlier = [m for m in self.rate_from if m <= month]
        return self.rate_from[max(earlier)] if earlier else self.rate


@dataclass(frozen=True)
class JournalAccounts:
    """The ``[journal]`` table: account codes and the close register's file."""

    expense: str = "6100"
    prepaid: str = "1400"
    accrued: str = "2100"
    payable: str = "2000"
    register: str | None = None


def _decimal(value: Any, where: str, *, positive: bool = True) -> Decimal:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number, not {value!r}")
    try:
        number = to_decimal(value) if isinstance(value, (int, float, Decimal, str)) else None
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        raise ConfigError(f"{where} must be a number, not {value!r}")
    if positive and number <= 0:
        raise ConfigError(f"{where} must be more than zero, not {value}")
    return number


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where} must be a date YYYY-MM-DD, not {value!r}") from None


def parse_purchases(
    rows: Sequence[Mapping[str, Any]], *, where: str = "purchases"
) -> tuple[Purchase, ...]:
    """Validate purchase rows (``date,invoice,credits,amount,currency``; ``tax`` ignored).

    Raises :class:`ConfigError` (exit 2) naming the row and the column for a missing or
    unreadable value, a non-positive amount, a repeated invoice or mixed currencies.
    """
    out: list[Purchase] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        at = f"{where} row {n}"
        for column in PURCHASE_COLUMNS:
            if str(row.get(column) or "").strip() == "":
                raise ConfigError(f"{at}: {column} is empty")
        invoice = str(row["invoice"]).strip()
        if invoice in seen:
            raise ConfigError(f"{at}: invoice {invoice!r} appears twice")
        seen.add(invoice)
        credits = _decimal(str(row["credits"]).strip(), f"{at}: credits")
        amount = _decimal(str(row["amount"]).strip(), f"{at}: amount", positive=False)
        if amount < 0:
            raise ConfigError(f"{at}: amount must not be negative, not {amount}")
        hundredths = credits.scaleb(2)
        if hundredths != hundredths.to_integral_value():
            raise ConfigError(f"{at}: credits must have at most two decimals, not {credits}")
        currency = str(row["currency"]).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ConfigError(f"{at}: currency must be an ISO 4217 code, not {row['currency']!r}")
        out.append(
            Purchase(
                date=_date(row["date"], f"{at}: date"),
                invoice=invoice,
                hundredths=int(hundredths),
                cents=money_cents(amount),
                currency=currency,
            )
        )
    currencies = sorted({p.currency for p in out})
    if len(currencies) > 1:
        raise ConfigError(f"{where}: one currency only, not {', '.join(currencies)}")
    return tuple(sorted(out, key=lambda p: (p.date, p.invoice)))


_MONEY_KEYS = {
    "purchases": "CSV file of purchases (date,invoice,credits,amount,currency), beside the config",
    "rate": "price per credit, for an account without a purchases file",
    "rate_from": 'price per credit from a month on, {"2026-01" = 0.022}',
    "policy": "fifo (default) or average",
    "match_days": "days between a top-up and its invoice date (default 3)",
    "opening": '{date = "YYYY-MM-DD", credits = N, amount = N}: the prepaid position then',
    "overage_rate": "contract price per credit above the plan limit",
    "currency": "currency of rate and opening (default USD; a purchases file names its own)",
}


def parse_money_table(
    table: Mapping[str, Any] | None,
    *,
    where: str = "[money]",
    purchases: Sequence[Mapping[str, Any]] | None = None,
    purchases_source: str | None = None,
) -> MoneySettings:
    """Validate a ``[money]`` table into :class:`MoneySettings` (:class:`ConfigError`, exit 2,
    naming the key). ``purchases`` are the rows of the file ``table["purchases"]`` names, read
    by the caller (this function does no I/O)."""
    table = dict(table or {})
    unknown = sorted(set(map(str, table)) - set(_MONEY_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} (settings: {', '.join(_MONEY_KEYS)})"
        )
    if "purchases" in table and ("rate" in table or "rate_from" in table):
        raise ConfigError(f"{where}: give purchases or rate, not both")
    if "rate_from" in table and "rate" not in table:
        raise ConfigError(f"{where} rate_from needs rate (the price before its first month)")
    policy = str(table.get("policy", "fifo"))
    if policy not in POLICIES:
        raise ConfigError(f"{where} policy must be fifo or average, not {policy!r}")
    days = table.get("match_days", 3)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 31:
        raise ConfigError(f"{where} match_days must be a whole number of days 0..31, not {days!r}")
    rate = None if "rate" not in table else _decimal(table["rate"], f"{where} rate")
    history = table.get("rate_from", {})
    if not isinstance(history, Mapping):
        raise ConfigError(f'{where} rate_from must be a table such as {{"2026-01" = 0.022}}')
    rate_from: dict[str, Decimal] = {}
    for month, value in sorted(history.items()):
        if not _MONTH_KEY.match(str(month)):
            raise ConfigError(f"{where} rate_from: {str(month)!r} is not a month (YYYY-MM)")
        rate_from[str(month)] = _decimal(value, f"{where} rate_from.{month}")
    opening = None
    if "opening" in table:
        raw = table["opening"]
        if not isinstance(raw, Mapping) or set(raw) != {"date", "credits", "amount"}:
            raise ConfigError(
                f'{where} opening must be {{date = "YYYY-MM-DD", credits = N, amount = N}}'
            )
        credits = _decimal(raw["credits"], f"{where} opening.credits", positive=False)
        amount = _decimal(raw["amount"], f"{where} opening.amount", positive=False)
        if credits < 0 or amount < 0:
            raise ConfigError(f"{where} opening credits and amount must not be negative")
        opening = Opening(
            _date(raw["date"], f"{where} opening.date"),
            int(to_hundredths([float(credits)])[0]),
            money_cents(amount),
        )
    overage = table.get("overage_rate")
    currency = str(table.get("currency", "USD")).upper()
    bought: tuple[Purchase, ...] | None = None
    if "purchases" in table:
        if not isinstance(table["purchases"], str) or not table["purchases"].strip():
            raise ConfigError(f"{where} purchases must name a CSV file")
        bought = parse_purchases(purchases or (), where=purchases_source or table["purchases"])
        if bought:
            currency = bought[0].currency
    return MoneySettings(
        purchases=bought,
        rate=rate,
        rate_from=rate_from,
        policy=policy,
        match_days=days,
        opening=opening,
        overage_rate=None if overage is None else _decimal(overage, f"{where} overage_rate"),
        currency=currency,
        purchases_source=purchases_source,
    )


_JOURNAL_KEYS = ("expense", "prepaid", "accrued", "payable", "register")


def parse_journal_table(
    table: Mapping[str, Any] | None, *, where: str = "[journal]"
) -> JournalAccounts:
    """Validate a ``[journal]`` table (account codes and ``register``), exit 2 naming the key."""
    table = dict(table or {})
    unknown = sorted(set(map(str, table)) - set(_JOURNAL_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} (settings: {', '.join(_JOURNAL_KEYS)})"
        )
    values: dict[str, str] = {}
    for key in _JOURNAL_KEYS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise ConfigError(f"{where} {key} must be an account code (text), not {value!r}")
        values[key] = str(value).strip()
    codes = [values.get(k) for k in ("expense", "prepaid", "accrued", "payable") if k in values]
    if len(codes) != len(set(codes)):
        raise ConfigError(f"{where}: expense, prepaid, accrued and payable must be different")
    return JournalAccounts(**values)


# --- lots and matching -----------------------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    """Credits bought at one time for one cost: a top-up and what paid for it."""

    at: pd.Timestamp
    hundredths: int
    cents: int
    label: str
    top_up: str | None = None
    invoice: str | None = None
    estimated: bool = False


@dataclass(frozen=True)
class TopUpMatch:
    """A ledger top-up and the purchase that paid for it (``amount_cents`` None: unmatched; in
    rate mode ``invoice`` is None and ``amount_cents`` the lot's cost at the rate)."""

    id: str
    at: pd.Timestamp
    month: str
    credits: float
    invoice: str | None
    invoice_date: dt.date | None
    amount_cents: int | None


def match_top_ups(
    top_ups: pd.DataFrame, purchases: Sequence[Purchase], *, match_days: int = 3
) -> tuple[list[TopUpMatch], list[Purchase]]:
    """Pair each top-up with one purchase of the same credits invoiced within ``match_days``.

    Top-ups are taken oldest first; each takes the unused purchase nearest in date (ties to
    the earlier invoice). Returns the top-ups with their match (or None) and the purchases no
    top-up took.

    Parameters
    ----------
    top_ups
        Rows with ``id``, ``created_at`` (tz-aware, local) and ``credits`` (positive).
    purchases
        Parsed purchases (:func:`parse_purchases`).
    match_days
        Largest distance in days between the top-up's local date and the invoice date.
    """
    free = list(purchases)
    out: list[TopUpMatch] = []
    frame = top_ups.sort_values(["created_at", "id"], kind="mergesort")
    hundredths = to_hundredths(frame["credits"])
    for tid, at, h in zip(frame["id"].astype(str), frame["created_at"], hundredths.tolist()):
        day = at.date()
        best: Purchase | None = None
        for p in free:
            gap = abs((p.date - day).days)
            if p.hundredths == h and gap <= match_days:
                if best is None or gap < abs((best.date - day).days):
                    best = p
        if best is not None:
            free.remove(best)
        out.append(
            TopUpMatch(
                tid,
                at,
                f"{at:%Y-%m}",
                h / 100,
                None if best is None else best.invoice,
                None if best is None else best.date,
                None if best is None else best.cents,
            )
        )
    return out, free


# --- the valuation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthValuation:
    """One month's prepaid roll-forward in cents and hundredths, and what it cost.

    ``opening_cents + purchases_cents - consumed_cents == closing_cents`` always; the same for
    hundredths, less ``unvalued_hundredths`` (charges no lot could pay for, valued at 0).
    """

    month: str
    opening_cents: int
    purchases_cents: int
    consumed_cents: int
    closing_cents: int
    pending_accrual_cents: int
    opening_hundredths: int
    purchased_hundredths: int
    consumed_hundredths: int
    closing_hundredths: int
    pending_hundredths: int
    reversed_hundredths: int
    unvalued_hundredths: int
    by_operation: Mapping[str, int]
    operation_hundredths: Mapping[str, int]
    top_ups: tuple[TopUpMatch, ...] = ()
    unmatched_purchases: tuple[Purchase, ...] = ()

    @property
    def booked_cents(self) -> int:
        """What the month cost: consumed plus the month-end accrual."""
        return self.consumed_cents + self.pending_accrual_cents

    @property
    def unmatched_top_ups(self) -> tuple[TopUpMatch, ...]:
        return tuple(t for t in self.top_ups if t.amount_cents is None)

    @property
    def ties(self) -> bool:
        """Every top-up has its invoice, every invoice its top-up, every charge a lot."""
        return not (self.unmatched_top_ups or self.unmatched_purchases or self.unvalued_hundredths)

    @property
    def consumed_rate(self) -> float | None:
        """Average price per credit consumed this month (None without consumption)."""
        if not self.consumed_hundredths:
            return None
        return self.consumed_cents / self.consumed_hundredths


@dataclass(frozen=True)
class Valuation:
    """Every month from the start of the valuation through the last one asked for."""

    policy: str
    currency: str
    months: tuple[MonthValuation, ...]
    lots: tuple[Lot, ...]
    basis: str
    #: The prepaid position after the last month: ``(hundredths, cents)`` per lot, oldest first.
    remaining: tuple[tuple[int, int], ...] = ()
    #: ``(cents, hundredths)`` of the newest lot: the rate beyond the lots held.
    last_rate: tuple[int, int] | None = None

    def cost_of(self, hundredths: int) -> int:
        """What ``hundredths`` more credits would cost from the position after the last month
        (its pending charges first, then these): the lots in order, beyond them the newest
        lot's rate."""
        pool = _Pool(self.policy)
        pool.lots = [list(x) for x in self.remaining]
        pool.last_rate = self.last_rate
        cents, short = pool.take(max(int(hundredths), 0))
        if short and self.last_rate:
            c_last, h_last = self.last_rate
            cents += (2 * c_last * short + h_last) // (2 * h_last)
        return cents

    def month(self, label: str) -> MonthValuation:
        for m in self.months:
            if m.month == label:
                return m
        first = self.months[0].month if self.months else "nothing"
        raise InputError(f"the valuation starts in {first}: nothing valued for {label}")


class _Pool:
    """Prepaid lots in order, consumed FIFO or at the moving average, in integer units."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.lots: list[list[int]] = []  # [hundredths, cents], oldest first
        self.last_rate: tuple[int, int] | None = None  # (cents, hundredths) of the newest lot

    def add(self, hundredths: int, cents: int) -> None:
        if hundredths <= 0:
            return
        self.last_rate = (cents, hundredths)
        if self.policy == "average" and self.lots:
            self.lots[0][0] += hundredths
            self.lots[0][1] += cents
        else:
            self.lots.append([hundredths, cents])

    @property
    def hundredths(self) -> int:
        return sum(h for h, _ in self.lots)

    @property
    def cents(self) -> int:
        return sum(c for _, c in self.lots)

    def take(self, wanted: int, *, dry: bool = False) -> tuple[int, int]:
        """Consume ``wanted`` hundredths: (cents, hundredths no lot could cover)."""
        lots = [list(x) for x in self.lots] if dry else self.lots
        cents = 0
        while wanted > 0 and lots:
            h, c = lots[0]
            if h <= wanted:
                cents += c
                wanted -= h
                lots.pop(0)
                continue
            part = (2 * c * wanted + h) // (2 * h)  # c * wanted / h, half up, in integers
            lots[0][0] -= wanted
            lots[0][1] -= part
            cents += part
            wanted = 0
        return cents, wanted


def _month_labels(first: str, last: str) -> list[str]:
    return [f"{p:%Y-%m}" for p in pd.period_range(first, last, freq="M")]


def value_ledger(
    ledger: pd.DataFrame,
    money: MoneySettings,
    *,
    through: str,
    timezone: str | None = None,
    operation_of: Callable[[str], str] | None = None,
    until: pd.Timestamp | None = None,
) -> Valuation:
    """Value a ledger's months from its purchases (or rate), oldest first, through ``through``.

    Parameters
    ----------
    ledger
        The tidy ledger frame (``id, created_at, type, credits, status``) from the start of the
        valuation (the opening date, else the first row) through the month ``through``.
    money
        Purchases or rate, policy, opening (:func:`parse_money_table`).
    through
        The last month (``YYYY-MM``) to value.
    timezone
        The months' timezone; default the frame's ``created_at`` timezone.
    operation_of
        Ledger type → the operation its consumed cents are split to; default the type itself.
    until
        Read the ledger as of this instant: later rows are left out (a month to date).

    Returns
    -------
    Valuation
        One :class:`MonthValuation` per month from the first month with a row (or the opening)
        through ``through``.
    """
    if not money.configured and money.opening is None:
        raise ConfigError('[money] needs purchases = "FILE.csv" or rate = PRICE to value credits')
    frame = ledger
    if timezone is not None and len(frame):
        frame = frame.assign(created_at=frame["created_at"].dt.tz_convert(timezone))
    tz = timezone or (str(frame["created_at"].dt.tz) if len(frame) else "UTC")
    if money.opening is not None:
        start = pd.Timestamp(money.opening.date).tz_localize(tz)
        frame = frame[frame["created_at"] >= start]
    if until is not None:
        frame = frame[frame["created_at"] < until]
    frame = frame.sort_values(["created_at", "id"], kind="mergesort").reset_index(drop=True)
    months = frame["created_at"].dt.strftime("%Y-%m") if len(frame) else pd.Series([], dtype=str)
    frame = frame.assign(month=months.to_numpy())
    # Top-ups just after the month (within match_days) may be what its last invoices paid for.
    after = frame[frame["month"] > through]
    later_top_ups = after[
        (after["type"].astype(str) == "top_up").to_numpy()
        & (after["credits"] > 0).to_numpy()
        & (after["status"].astype(str) == "success").to_numpy()
    ]
    frame = frame[frame["month"] <= through].reset_index(drop=True)
    if money.opening is not None:
        first = f"{money.opening.date:%Y-%m}"
    elif len(frame):
        first = str(frame["month"].iloc[0])
    else:
        first = through
    credits_h = to_hundredths(frame["credits"])
    status = frame["status"].astype(str).to_numpy()
    kind = frame["type"].astype(str).to_numpy()
    is_top_up = (kind == "top_up") & (credits_h > 0) & (status == "success")
    is_charge = (credits_h < 0) & (status == "success")
    is_pending = (credits_h < 0) & (status == "pending")
    is_reversed = (credits_h < 0) & (status == "error")

    # Lots: each settled top-up, costed by its purchase (or the rate).
    top_ups = frame[is_top_up]
    matches: list[TopUpMatch]
    unmatched: list[Purchase] = []
    lots: dict[str, Lot] = {}
    if money.purchases is not None:
        # Invoices a few days either side of the window may pay for top-ups inside it.
        slack = dt.timedelta(days=money.match_days)
        lo = pd.Period(first, freq="M").start_time.date() - slack
        hi = pd.Period(through, freq="M").end_time.date() + slack
        window = [p for p in money.purchases if lo <= p.date <= hi]
        matches, unmatched = match_top_ups(
            pd.concat([top_ups, later_top_ups]) if len(later_top_ups) else top_ups,
            window,
            match_days=money.match_days,
        )
        known = [(m.at, m.amount_cents, m.credits) for m in matches if m.amount_cents is not None]
        for m in matches:
            h = int(round(m.credits * 100))
            if m.amount_cents is not None:
                lots[m.id] = Lot(m.at, h, m.amount_cents, m.invoice or "", m.id, m.invoice)
                continue
            # No invoice: estimated at the rate of the nearest earlier matched purchase (else
            # the first later one), so later months stay sensible; the month does not tie.
            before = [k for k in known if k[0] <= m.at] or known[:1]
            cents = 0
            if before:
                _, c, cr = before[-1]
                cents = cost_cents(h, Decimal(c) / Decimal(int(round(cr * 100))))
            lots[m.id] = Lot(m.at, h, cents, "no invoice", m.id, None, estimated=True)
        basis = f"purchases ({money.purchases_source or 'file'})"
    else:
        matches = []
        for tid, at, h in zip(
            top_ups["id"].astype(str), top_ups["created_at"], credits_h[is_top_up]
        ):
            rate = money.rate_for(f"{at:%Y-%m}") or Decimal(0)
            lots[tid] = Lot(at, int(h), cost_cents(int(h), rate), f"rate {rate}", tid)
            cents = lots[tid].cents
            matches.append(TopUpMatch(tid, at, f"{at:%Y-%m}", int(h) / 100, None, None, cents))
        basis = "rate"

    pool = _Pool(money.policy)
    if money.opening is not None:
        pool.add(money.opening.hundredths, money.opening.cents)
    # Segment each month at its top-ups: charges before a top-up consume the lots then held.
    segment = np.cumsum(is_top_up)
    out: list[MonthValuation] = []
    op_of = operation_of or (lambda t: t)
    for label in _month_labels(first, through):
        inside = (frame["month"] == label).to_numpy()
        open_c, open_h = pool.cents, pool.hundredths
        bought_c = bought_h = consumed_c = consumed_h = unvalued = 0
        seg = segment[inside]
        charges = -credits_h[inside & is_charge]
        charge_seg = segment[inside & is_charge]
        ids = frame["id"].astype(str).to_numpy()[inside & is_top_up]
        seg_of_lot = segment[inside & is_top_up]
        for s in np.unique(seg).tolist() if seg.size else []:
            for tid, ls in zip(ids, seg_of_lot):
                if ls == s:
                    lot = lots[str(tid)]
                    pool.add(lot.hundredths, lot.cents)
                    bought_c += lot.cents
                    bought_h += lot.hundredths
            q = int(charges[charge_seg == s].sum())
            if q:
                c, short = pool.take(q)
                consumed_c += c
                consumed_h += q - short
                unvalued += short
        pending_h = int(-credits_h[inside & is_pending].sum())
        accrual, short = pool.take(pending_h, dry=True)
        if short and pool.last_rate:
            c_last, h_last = pool.last_rate
            accrual += (2 * c_last * short + h_last) // (2 * h_last)
        types = kind[inside & is_charge]
        by_h: dict[str, int] = {}
        for t, h in zip(types.tolist(), charges.tolist()):
            name = op_of(t)
            by_h[name] = by_h.get(name, 0) + int(h)
        names = sorted(by_h)
        parts: Sequence[int] = (
            largest_remainder(consumed_c, [by_h[n] for n in names]).tolist() if names else []
        )
        by_op = {n: int(p) for n, p in zip(names, parts)}
        out.append(
            MonthValuation(
                month=label,
                opening_cents=open_c,
                purchases_cents=bought_c,
                consumed_cents=consumed_c,
                closing_cents=pool.cents,
                pending_accrual_cents=accrual,
                opening_hundredths=open_h,
                purchased_hundredths=bought_h,
                consumed_hundredths=consumed_h,
                closing_hundredths=pool.hundredths,
                pending_hundredths=pending_h,
                reversed_hundredths=int(-credits_h[inside & is_reversed].sum()),
                unvalued_hundredths=unvalued,
                by_operation=by_op,
                operation_hundredths=by_h,
                top_ups=tuple(m for m in matches if m.month == label),
                unmatched_purchases=tuple(p for p in unmatched if f"{p.date:%Y-%m}" == label),
            )
        )
    return Valuation(
        money.policy,
        money.currency,
        tuple(out),
        tuple(lots.values()),
        basis,
        tuple((h, c) for h, c in pool.lots),
        pool.last_rate,
    )
