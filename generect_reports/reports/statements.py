"""Customer statements: what one customer is billed for a month, built once from the chargeback
and rendered by the workbook and the PDF alike.

A statement holds only its customer's figures: its lines per operation (credits, rate, amount),
subtotal and total, the month before and the change, what of its usage is held under review with
the range its requests prove, and notes written for the customer. Nothing account-wide (no
account totals, no other customer, no internal note) is part of the model, so no renderer can
show it. The issuer, bill-to names and cost centres come from the ``[chargeback]`` table.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from generect_reports.analysis.chargeback import DEFAULT_TOLERANCE
from generect_reports.errors import ConfigError

if TYPE_CHECKING:
    from generect_reports.analysis.chargeback import Allocation

__all__ = [
    "Party",
    "CustomerBilling",
    "StatementSettings",
    "StatementLine",
    "ReviewLine",
    "Statement",
    "Statements",
    "parse_chargeback_table",
    "build_statements",
    "statement_number",
    "statement_period",
    "split_by_line",
]

_PARTY_KEYS = {"name", "address", "email", "tax_id"}
_CUSTOMER_KEYS = {"bill_to", "cost_centre"}
_TABLE_KEYS = {"issuer", "customers", "number_prefix", "tolerance", "payment_terms"}


@dataclass(frozen=True)
class Party:
    """A name and postal address as a statement prints them (issuer or bill-to)."""

    name: str
    address: tuple[str, ...] = ()
    email: str | None = None
    tax_id: str | None = None

    @property
    def lines(self) -> tuple[str, ...]:
        extra = [self.email] if self.email else []
        if self.tax_id:
            extra.append(f"Tax ID {self.tax_id}")
        return (self.name, *self.address, *extra)


@dataclass(frozen=True)
class CustomerBilling:
    """One customer's ``[chargeback.customers.ID]`` table."""

    bill_to: Party | None = None
    cost_centre: str | None = None


@dataclass(frozen=True)
class StatementSettings:
    """The ``[chargeback]`` table: who issues the statements, whom each customer's is billed to,
    the cost centre each customer's credits are booked to, the statement number's prefix and
    the tolerance of the allocation's proven-lower-bound rule."""

    issuer: Party | None = None
    customers: Mapping[str, CustomerBilling] = field(default_factory=dict)
    number_prefix: str = ""
    tolerance: float = DEFAULT_TOLERANCE
    payment_terms: str | None = None

    def billing(self, customer: str) -> CustomerBilling:
        return self.customers.get(customer, CustomerBilling())


def _text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ConfigError(f"{where} must be a non-empty string, not {value!r}")
    return value.strip()


def _party(value: Any, where: str) -> Party:
    """A party from a string (the name alone) or a table ``{name, address, email, tax_id}``."""
    if isinstance(value, str):
        return Party(_text(value, where))
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a name or a table with name and address, not {value!r}")
    unknown = sorted(set(value) - _PARTY_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} "
            f"(settings: {', '.join(sorted(_PARTY_KEYS))})"
        )
    if "name" not in value:
        raise ConfigError(f"{where} needs a name")
    address = value.get("address", ())
    if isinstance(address, str):
        address = [address]
    if not isinstance(address, list):
        raise ConfigError(f"{where} address must be a list of lines, not {address!r}")
    return Party(
        name=_text(value["name"], f"{where} name"),
        address=tuple(_text(line, f"{where} address line") for line in address),
        email=_text(value["email"], f"{where} email") if "email" in value else None,
        tax_id=_text(value["tax_id"], f"{where} tax_id") if "tax_id" in value else None,
    )


def parse_chargeback_table(
    table: Mapping[str, Any] | None, *, where: str = "[chargeback]"
) -> StatementSettings:
    """The ``[chargeback]`` table validated (:class:`~generect_reports.errors.ConfigError`,
    exit 2, for an unknown setting or a value of the wrong type).

    ``issuer`` and each ``customers.ID.bill_to`` are a name or ``{name, address = [lines],
    email, tax_id}``; ``customers.ID.cost_centre`` a string; ``number_prefix`` a string;
    ``tolerance`` a fraction from 0 to 1; ``payment_terms`` a sentence.
    """
    table = dict(table or {})
    unknown = sorted(set(table) - _TABLE_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {where} "
            f"(settings: {', '.join(sorted(_TABLE_KEYS))})"
        )
    issuer = _party(table["issuer"], f"{where} issuer") if "issuer" in table else None
    customers_table = table.get("customers", {})
    if not isinstance(customers_table, Mapping):
        raise ConfigError(f"{where} customers must be tables [chargeback.customers.ID]")
    customers: dict[str, CustomerBilling] = {}
    for cid, spec in customers_table.items():
        at = f"{where} customers.{cid}"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{at} must be a table with bill_to and cost_centre")
        bad = sorted(set(spec) - _CUSTOMER_KEYS)
        if bad:
            raise ConfigError(
                f"unknown setting {bad[0]!r} in {at} (settings: bill_to, cost_centre)"
            )
        customers[str(cid)] = CustomerBilling(
            bill_to=_party(spec["bill_to"], f"{at} bill_to") if "bill_to" in spec else None,
            cost_centre=_text(spec["cost_centre"], f"{at} cost_centre")
            if "cost_centre" in spec
            else None,
        )
    prefix = table.get("number_prefix", "")
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9._/-]*", prefix):
        raise ConfigError(
            f"{where} number_prefix must be letters, digits, '.', '_', '/' or '-', not {prefix!r}"
        )
    tolerance = table.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ConfigError(f"{where} tolerance must be a number from 0 to 1, not {tolerance!r}")
    if not 0 <= tolerance <= 1:
        raise ConfigError(f"{where} tolerance must be from 0 to 1 (0.05 is 5%), not {tolerance}")
    terms = table.get("payment_terms")
    return StatementSettings(
        issuer=issuer,
        customers=customers,
        number_prefix=prefix,
        tolerance=float(tolerance),
        payment_terms=_text(terms, f"{where} payment_terms") if terms is not None else None,
    )


# --- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    """One operation on a statement: credits in hundredths, the rate per credit, the amount."""

    operation: str
    credits_hundredths: int
    rate: Decimal
    amount_cents: int


@dataclass(frozen=True)
class ReviewLine:
    """Usage of one operation held back: the successful requests the customer's requests prove
    (``lower``) and allow (``upper``), and the credits not billed."""

    operation: str
    requests: int
    lower: int
    upper: int
    estimated: float
    credits_hundredths: int


@dataclass(frozen=True)
class Statement:
    """One customer's statement for one month. Only this customer's figures."""

    customer: str
    number: str
    date: dt.date
    month: str
    period: str
    timezone: str
    issuer: Party | None
    bill_to: Party
    token_hints: str
    currency: str
    #: ``booked`` (what the credits cost, valued from the purchases) or ``list`` (list prices).
    rate_basis: str
    lines: tuple[StatementLine, ...]
    previous_month: str
    previous_cents: int
    previous_hundredths: int
    review: tuple[ReviewLine, ...]
    notes: tuple[str, ...]
    payment_terms: str | None = None

    @property
    def subtotal_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        """The amount due: the subtotal (no tax or discount is applied to usage)."""
        return self.subtotal_cents

    @property
    def credits_hundredths(self) -> int:
        return sum(line.credits_hundredths for line in self.lines)

    @property
    def change_cents(self) -> int:
        return self.total_cents - self.previous_cents

    @property
    def change_pct(self) -> float | None:
        return self.change_cents / self.previous_cents if self.previous_cents else None

    @property
    def review_hundredths(self) -> int:
        return sum(r.credits_hundredths for r in self.review)

    @property
    def rate_label(self) -> str:
        return (
            "booked cost per credit (what the credits cost)"
            if self.rate_basis == "booked"
            else "list price per credit"
        )


@dataclass(frozen=True)
class AllocationRow:
    """The internal allocation summary's line: one party, its cost centre and its figures."""

    customer: str
    kind: str
    cost_centre: str | None
    credits_hundredths: int
    amount_cents: int
    under_review_hundredths: int
    billing: str
    statement: str | None


@dataclass(frozen=True)
class Statements:
    """The month's statements (one per customer with something to bill, or every customer when
    asked) and the internal allocation summary they come from."""

    month: str
    currency: str
    rate_basis: str
    statements: tuple[Statement, ...]
    allocation: tuple[AllocationRow, ...]
    total_cents: int
    total_hundredths: int
    tied: bool


def statement_period(month: str) -> str:
    """``2026-10`` → ``1–31 October 2026``."""
    year, number = int(month[:4]), int(month[5:7])
    last = calendar.monthrange(year, number)[1]
    return f"1–{last} {calendar.month_name[number]} {year}"


def _month_name(month: str) -> str:
    return f"{calendar.month_name[int(month[5:7])]} {month[:4]}"


def statement_number(customer: str, month: str, prefix: str = "") -> str:
    """``<prefix><customer>-<YYYY-MM>``: the same customer and month always get the same number;
    characters other than letters, digits, ``.``, ``_`` and ``-`` become ``-``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", customer).strip("-") or "customer"
    return f"{prefix}{slug}-{month}"


def split_by_line(by_operation: Mapping[str, int], lines: Any) -> dict[tuple[str, str], int]:
    """Each operation's booked cents split over the chargeback's lines of it in proportion to
    their credits (largest remainder): per (customer, operation), adding up per operation (and,
    summed per customer, equal to :func:`~generect_reports.reports.journal.split_by_customer`).
    An operation no line carries goes to ``unallocated``."""
    from generect_reports.money import largest_remainder

    out: dict[tuple[str, str], int] = {}
    for op, cents in sorted(by_operation.items()):
        rows = lines[lines["operation"].astype(str) == op]
        weights = rows["credits_hundredths"].to_numpy(dtype="int64") if len(rows) else []
        if not len(rows) or int(sum(weights)) == 0:
            key = ("unallocated", op)
            out[key] = out.get(key, 0) + int(cents)
            continue
        for who, part in zip(rows["customer"].astype(str), largest_remainder(cents, weights)):
            out[who, op] = out.get((who, op), 0) + int(part)
    return out


def _rate(cents: int, hundredths: int) -> Decimal:
    """Amount per credit to four decimals, half up (display only: amounts are the figures)."""
    if not hundredths:
        return Decimal(0)
    exact = Decimal(cents) / Decimal(hundredths)  # cents per hundredth = currency per credit
    return exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _amounts(
    alloc: Allocation, booked: Mapping[tuple[str, str], int] | None
) -> dict[tuple[str, str], int]:
    if booked is not None:
        return dict(booked)
    return {
        (str(r.customer), str(r.operation)): int(r.cost_cents)
        for r in alloc.lines.itertuples(index=False)
    }


def _customer_notes(
    alloc: Allocation,
    row: Any,
    *,
    basis: str,
    review: Sequence[ReviewLine],
    currency: str,
) -> tuple[str, ...]:
    period = statement_period(alloc.month)
    hints = str(row["token_hints"]) or "your API tokens"
    notes = [
        f"Credits are those used with your API token {hints} from {period} "
        f"({alloc.timezone} time).",
        "Your share of each operation's credits follows your successful requests on the "
        "endpoints of that operation; the Generect API reports requests by endpoint and by "
        "status separately, so the successful ones per endpoint are estimated.",
    ]
    if basis == "booked":
        notes.append(
            f"Rates are what the credits cost ({currency}, valued from the credit purchases), "
            "per credit; the rate shown is the amount divided by the credits, to four decimals."
        )
    else:
        notes.append(
            f"Rates are list prices per credit ({currency}); each operation's cost is rounded to "
            "the cent once and shared by credits, so the amounts add up exactly."
        )
    if review:
        held = sum(r.credits_hundredths for r in review) / 100
        ranges = "; ".join(
            f"{r.operation}: {r.lower:,} to {r.upper:,}" for r in review if r.credits_hundredths
        )
        notes.append(
            f"Billed on what your requests prove: your token's requests show only a range of "
            f"successful requests per operation ({ranges}), so this statement bills the lower "
            f"end. {held:,.2f} further credits are under review and not billed here."
        )
    failed = row["failed_share"]
    if failed == failed and failed is not None and float(failed) > alloc.threshold:
        notes.append(
            f"{float(failed):.0%} of your token's requests in the period failed (4xx or 5xx). "
            "Failed requests are not billed; a client retrying in a loop is the usual cause."
        )
    return tuple(notes)


def build_statements(
    alloc: Allocation,
    *,
    settings: StatementSettings | None = None,
    booked: Mapping[tuple[str, str], int] | None = None,
    currency: str | None = None,
    previous: Allocation | None = None,
    previous_booked: Mapping[tuple[str, str], int] | None = None,
    include_empty: bool = False,
    date: dt.date | None = None,
) -> Statements:
    """The month's statements from the chargeback (pure: the allocation in, the model out).

    Parameters
    ----------
    alloc
        The month's allocation (:func:`~generect_reports.analysis.chargeback.allocate_credits`).
    settings
        The ``[chargeback]`` table (issuer, bill-to, cost centres, number prefix).
    booked, currency
        Booked cents per (customer, operation) (:func:`split_by_line`) and their currency when
        ``[money]`` values the credits; None for list prices (the allocation's own cents).
    previous, previous_booked
        The month before, for each statement's previous month and change.
    include_empty
        Also a statement for a customer with nothing to bill.
    date
        The statement date; default the day after the period.
    """
    settings = settings or StatementSettings()
    basis = "booked" if booked is not None else "list"
    cur = currency or alloc.currency
    amounts = _amounts(alloc, booked)
    # List prices: the price book's per credit (after the tier multiplier), as the cost lines.
    list_price = {
        str(op): Decimal(repr(float(p)))
        for op, p in zip(alloc.operations["operation"], alloc.operations["price"])
    }
    year, number = int(alloc.month[:4]), int(alloc.month[5:7])
    if date is None:
        date = dt.date(year, number, calendar.monthrange(year, number)[1]) + dt.timedelta(1)
    prev_month = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
    prev_amounts: dict[tuple[str, str], int] = (
        _amounts(previous, previous_booked) if previous is not None else {}
    )
    prev_credits: dict[str, int] = {}
    if previous is not None:
        for r in previous.lines.itertuples(index=False):
            prev_credits[str(r.customer)] = prev_credits.get(str(r.customer), 0) + int(
                r.credits_hundredths
            )
    customers = alloc.customers
    reviews = alloc.reviews
    out: list[Statement] = []
    rows: list[AllocationRow] = []
    by_customer: dict[str, int] = {}
    for (who, _op), cents in amounts.items():
        by_customer[who] = by_customer.get(who, 0) + cents
    for _, row in customers.iterrows():
        who = str(row["customer"])
        billing = settings.billing(who)
        mine = alloc.lines[alloc.lines["customer"] == who]
        lines = tuple(
            StatementLine(
                operation=str(r.operation),
                credits_hundredths=int(r.credits_hundredths),
                rate=_rate(amounts.get((who, str(r.operation)), 0), int(r.credits_hundredths))
                if basis == "booked"
                else list_price.get(str(r.operation), Decimal(0)),
                amount_cents=amounts.get((who, str(r.operation)), 0),
            )
            for r in mine.itertuples(index=False)
            if int(r.credits_hundredths) or amounts.get((who, str(r.operation)), 0)
        )
        total = sum(line.amount_cents for line in lines)
        is_customer = row["kind"] == "customer"
        wanted = is_customer and (include_empty or any(line.credits_hundredths for line in lines))
        number_text = statement_number(who, alloc.month, settings.number_prefix)
        rows.append(
            AllocationRow(
                customer=who,
                kind=str(row["kind"]),
                cost_centre=billing.cost_centre,
                credits_hundredths=int(row["credits_hundredths"]),
                amount_cents=by_customer.get(who, 0) if not is_customer else total,
                under_review_hundredths=int(row["under_review_hundredths"]),
                billing=str(row["billing"]),
                statement=number_text if wanted else None,
            )
        )
        if not wanted:
            continue
        mine_review = reviews[reviews["customer"] == who]
        review = tuple(
            ReviewLine(
                operation=str(r.operation),
                requests=int(r.requests),
                lower=int(r.lower_successful),
                upper=int(r.upper_successful),
                estimated=float(r.estimated_successful),
                credits_hundredths=int(r.credits_hundredths),
            )
            for r in mine_review.itertuples(index=False)
        )
        previous_cents = sum(c for (p, _o), c in prev_amounts.items() if p == who)
        out.append(
            Statement(
                customer=who,
                number=number_text,
                date=date,
                month=alloc.month,
                period=statement_period(alloc.month),
                timezone=alloc.timezone,
                issuer=settings.issuer,
                bill_to=billing.bill_to
                or Party(str(row["name"]) if isinstance(row["name"], str) and row["name"] else who),
                token_hints=str(row["token_hints"]),
                currency=cur,
                rate_basis=basis,
                lines=lines,
                previous_month=prev_month,
                previous_cents=previous_cents,
                previous_hundredths=prev_credits.get(who, 0),
                review=review,
                notes=_customer_notes(alloc, row, basis=basis, review=review, currency=cur),
                payment_terms=settings.payment_terms,
            )
        )
    total_cents = sum(amounts.values())
    total_h = int(alloc.operations["credits_hundredths"].sum())
    tied = (
        sum(r.credits_hundredths for r in rows) == total_h
        and sum(r.amount_cents for r in rows) == total_cents
    )
    return Statements(
        month=alloc.month,
        currency=cur,
        rate_basis=basis,
        statements=tuple(out),
        allocation=tuple(rows),
        total_cents=total_cents,
        total_hundredths=total_h,
        tied=tied and not alloc.narrowed_to,
    )
