"""Money: the price book, integer cents, one half-up rule, one largest-remainder split.

Every cost the toolkit shows is computed here. An operation's cost is its credits (read to the
hundredth, the precision credits are tied out in) × its list price × the tier multiplier,
multiplied in decimal and rounded half up to the cent once (:func:`cost_cents`, through
:func:`money_cents`, the one rounding rule). A cent total is split over customers or days by
:func:`largest_remainder` (:func:`split_cents` when the parts differ in sign), so the parts add
up to it exactly; a set of shares is shown through :func:`display_shares`, so the shown values
add up to exactly 100.0.

A base module: it imports only other base modules (``errors``, ``_resources``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import TemplateError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "month_figures",
    "CENT",
    "OPERATION_ALIASES",
    "PriceBook",
    "as_price_book",
    "cost_cents",
    "display_shares",
    "expand_aliases",
    "largest_remainder",
    "load_price_book",
    "money_cents",
    "round_money",
    "split_cents",
    "to_decimal",
    "to_hundredths",
]

_V = TypeVar("_V")

CENT = Decimal("0.01")

#: Spellings of one operation: the API names operations after their endpoints
#: (``/email/validate/`` gives ``email_validate``) while price lists say ``email_validation``.
#: Either spelling is priced and coloured as the other; ``[aliases]`` in ``prices.toml`` or
#: ``theme.toml`` adds more.
OPERATION_ALIASES: dict[str, str] = {"email_validate": "email_validation"}


def expand_aliases(table: Mapping[str, _V], aliases: Mapping[str, str]) -> dict[str, _V]:
    """``table`` (prices or colours by operation) with every alias spelling filled in both
    ways: an entry under either spelling serves the other; an explicit entry is never replaced."""
    out = dict(table)
    for alias, name in aliases.items():
        if name in table and alias not in table:
            out[alias] = table[name]
        elif alias in table and name not in table:
            out[name] = table[alias]
    return out


# --- the one rounding rule -------------------------------------------------------------------


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """``value`` as a :class:`~decimal.Decimal`, exactly as a person reads it.

    A float is read as the short decimal it prints as (``repr``): ``0.005`` is five thousandths,
    not the binary fraction nearest to it, and ``3387 * 0.005`` (16.935 plus binary noise) is
    16.935. Integers and strings are exact; a Decimal is returned as it is.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a money amount cannot be a bool")
    if isinstance(value, (int, np.integer)):
        return Decimal(int(value))
    if isinstance(value, str):
        return Decimal(value)
    return Decimal(repr(float(value)))


def money_cents(value: float | int | str | Decimal) -> int:
    """``value`` in currency units rounded half up (away from zero) to a whole cent, as int.

    The one money rounding rule of the toolkit: every cost shown anywhere is rounded here, once,
    in decimal (``2.675`` → 268 cents, ``0.125`` → 13, ``-0.125`` → -13), as a spreadsheet's
    ``ROUND(x, 2)`` does.

    Parameters
    ----------
    value
        An amount: a Decimal, an int, a decimal string, or a float (read by :func:`to_decimal`).

    Returns
    -------
    int
        Whole cents.
    """
    exact = to_decimal(value)
    if not exact.is_finite():
        raise ValueError(f"a money amount must be finite, not {value!r}")
    # scaleb moves the point without rounding, so only quantize rounds, and only once.
    return int(exact.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def round_money(value: float | int | str | Decimal) -> float:
    """``value`` rounded half up to the cent (see :func:`money_cents`), as a float."""
    return money_cents(value) / 100


def to_hundredths(credits: Sequence[float] | np.ndarray | Any) -> np.ndarray:
    """Credits as integer hundredths (int64), for tie-outs that must be exact.

    Parameters
    ----------
    credits
        Credit amounts (a list, an array or a pandas Series).

    Returns
    -------
    numpy.ndarray
        int64 hundredths; float noise (``0.1 + 0.2``) disappears in the rounding.
    """
    arr = np.asarray(credits, dtype="float64")
    return np.round(arr * 100.0).astype("int64")


def month_figures(ledger: pd.DataFrame) -> dict[str, int]:
    """A month's ledger summed by ``type/status`` in hundredths: what a restatement compares."""
    import pandas as pd

    if ledger.empty:
        return {}
    key = ledger["type"].astype(str) + "/" + ledger["status"].astype(str)
    cents = pd.Series(
        (ledger["credits"].to_numpy(dtype="float64") * 100).round().astype("int64"),
        index=ledger.index,
    )
    return {str(k): int(v) for k, v in cents.groupby(key.to_numpy()).sum().items()}


def cost_cents(hundredths: int, unit_price: Decimal) -> int:
    """The cost of ``hundredths`` / 100 credits at ``unit_price`` per credit, in whole cents.

    The one pricing formula: credits × price in decimal, rounded once by :func:`money_cents`.
    ``unit_price`` is the list price × the tier multiplier (:meth:`PriceBook.unit_price`).

    Parameters
    ----------
    hundredths
        Credits in integer hundredths (:func:`to_hundredths`).
    unit_price
        Price of one credit.

    Returns
    -------
    int
        Whole cents, rounded half up.
    """
    with localcontext() as ctx:
        ctx.prec = 60  # the product is exact: no digits are lost before the one rounding
        amount = Decimal(int(hundredths)).scaleb(-2) * unit_price
    return money_cents(amount)


# --- splits and shares -----------------------------------------------------------------------


def largest_remainder(total: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights``; the parts add up to ``total``.

    Each part gets the floor of its exact share; the units left over go to the largest
    remainders (ties to the earlier position, so the result is deterministic). With all
    weights zero the parts are zero and ``total`` must be zero too, else ``ValueError``.
    Negative totals are split as the negation of the positive split.

    Parameters
    ----------
    total
        Units to split (cents, hundredths of a credit).
    weights
        Finite, non-negative weights.

    Returns
    -------
    numpy.ndarray
        int64 parts, each within one unit of its exact share.
    """
    w = np.asarray(weights, dtype="float64")
    if w.size == 0:
        if total:
            raise ValueError("cannot split a non-zero total across no parts")
        return np.zeros(0, dtype="int64")
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and non-negative")
    if total < 0:
        return -largest_remainder(-total, w)
    wsum = w.sum()
    if wsum == 0:
        if total:
            raise ValueError("cannot split a non-zero total across zero weights")
        return np.zeros(w.size, dtype="int64")
    exact = w / wsum * total
    parts = np.floor(exact).astype("int64")
    left = int(total - parts.sum())
    if left:
        order = np.argsort(-(exact - parts), kind="stable")
        parts[order[:left]] += 1
    return parts


def split_cents(total: int, exact: Sequence[float] | np.ndarray) -> np.ndarray:
    """Split ``total`` cents over parts whose unrounded amounts are ``exact`` (in cents).

    Amounts of one sign are weights for :func:`largest_remainder`. Mixed signs (a refund day in
    a month of charges) cannot be weights: each part then gets the floor of its amount and the
    cents left go to the largest fractions. Either way the parts add up to ``total``.

    Parameters
    ----------
    total
        The rounded total in cents (the sum of ``exact`` rounded once).
    exact
        Each part's unrounded amount in cents.

    Returns
    -------
    numpy.ndarray
        int64 cents per part.
    """
    amounts = np.asarray(exact, dtype="float64")
    if (amounts >= 0).all():
        return largest_remainder(total, amounts)
    if (amounts <= 0).all():
        return -largest_remainder(-total, -amounts)
    parts = np.floor(amounts).astype("int64")
    left = int(total - parts.sum())
    order = np.argsort(-(amounts - parts), kind="stable")
    if left >= 0:
        parts[order[:left]] += 1
    else:  # only when total is not the rounded sum of exact: take cents back from the smallest
        parts[order[::-1][:-left]] -= 1
    return parts


def display_shares(
    values: Sequence[float] | np.ndarray | Any,
    decimals: int = 1,
    *,
    fixed: Mapping[int, float] | None = None,
) -> np.ndarray:
    """Percent shares of ``values`` as shown with ``decimals`` decimals, adding up to exactly 100.

    Largest remainder on the displayed unit (0.1 % by default): every share gets the floor of
    its exact value in that unit, and the units left over go to the largest remainders (ties
    to the larger value, then the earlier position). So each shown share is within one unit of
    its exact value, and the shown shares add up to exactly 100.0. Integer values (credits in
    hundredths, cents) are divided exactly, so the same figures give the same shares wherever
    they are shown, whatever their order.

    Parameters
    ----------
    values
        Amounts (not fractions): credits, cents, requests. Any NaN or negative value gives NaN
        everywhere (a share of a refund means nothing); all zeros give zeros.
    decimals
        Decimals shown.
    fixed
        ``{position: shown percent}`` already shown elsewhere over the same total (the
        ``unattributed`` operation, shown again as a customers' ``unallocated`` line): those
        positions keep that value and the others share the rest. ``ValueError`` when the rest
        cannot be shared within one unit of each exact value.

    Returns
    -------
    numpy.ndarray
        float64 percents (``29.3`` for 29.3 %), rounded to ``decimals``.
    """
    if decimals < 0:
        raise ValueError("decimals must be zero or more")
    v = np.asarray(values, dtype="float64").ravel()
    n = v.size
    if n == 0:
        return np.zeros(0, dtype="float64")
    if not np.isfinite(v).all() or (v < 0).any():
        return np.full(n, np.nan)
    scale = 10**decimals
    whole = 100 * scale
    total = float(v.sum())
    if total == 0:
        return np.zeros(n, dtype="float64")
    key: np.ndarray
    if (v == np.floor(v)).all() and total * whole < 2.0**62:
        # Whole numbers: floors and remainders in exact integer arithmetic.
        iv = v.astype("int64")
        num = iv * whole
        units = num // int(iv.sum())
        key = num % int(iv.sum())
    else:
        exact = v / total * whole
        # 1e-9 absorbs binary noise (29.3 computed as 292.99999999999994 tenths).
        units = np.floor(exact + 1e-9).astype("int64")
        key = np.round(exact - units, 9)
    free = np.ones(n, dtype=bool)
    for pos, shown in (fixed or {}).items():
        units[pos] = int(round(float(shown) * scale))
        free[pos] = False
    left = int(whole - units.sum())
    idx = np.flatnonzero(free)
    if not 0 <= left <= idx.size:
        raise ValueError("the fixed shares leave a rest the other shares cannot make up")
    if left:
        order = idx[np.lexsort((idx, -v[idx], -key[idx]))]
        units[order[:left]] += 1
    return np.round(units / scale, decimals)


# --- the price book --------------------------------------------------------------------------


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(table))


@dataclass(frozen=True, eq=True)
class PriceBook:
    """List prices per credit by operation, their aliases, the tier multiplier and the currency.

    Loaded once from the template folder's ``prices.toml`` (:func:`load_price_book`); every
    cost is computed from it in integer cents. Prices are Decimals exactly as written; the
    price table holds every alias spelling (an entry under either spelling serves the other).
    """

    list_prices: Mapping[str, Decimal] = field(default_factory=dict)
    multiplier: Decimal = Decimal(1)
    currency: str = "USD"
    #: Other spelling -> the name it stands for.
    aliases: Mapping[str, str] = field(default_factory=lambda: dict(OPERATION_ALIASES))
    #: The ``prices.toml`` the book was read from (None when built in code).
    source: str | None = None

    def __post_init__(self) -> None:
        # Read-only views: a book shared by every artefact must not change under one of them.
        object.__setattr__(self, "list_prices", _frozen(self.list_prices))
        object.__setattr__(self, "aliases", _frozen(self.aliases))
        object.__setattr__(self, "multiplier", to_decimal(self.multiplier))

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only views do not pickle; the report goes to the PDF worker with its book.
        args = (dict(self.list_prices), self.multiplier, self.currency, dict(self.aliases))
        return (type(self), (*args, self.source))

    def __hash__(self) -> int:
        return hash(
            (
                tuple(sorted(self.list_prices.items())),
                self.multiplier,
                self.currency,
                tuple(sorted(self.aliases.items())),
            )
        )

    @classmethod
    def from_prices(
        cls,
        prices: Mapping[str, float | int | str | Decimal],
        *,
        multiplier: float | int | str | Decimal = 1,
        currency: str = "USD",
        aliases: Mapping[str, str] | None = None,
    ) -> PriceBook:
        """A book from a plain price table (floats are read as the decimals they print as).

        Parameters
        ----------
        prices
            Price per credit by operation.
        multiplier
            Tier multiplier applied to every list price.
        currency
            ISO 4217 code of the prices.
        aliases
            Extra spellings (``{alias: name}``) on top of :data:`OPERATION_ALIASES`.

        Returns
        -------
        PriceBook
        """
        names = {**OPERATION_ALIASES, **dict(aliases or {})}
        table = {str(op): to_decimal(p) for op, p in prices.items()}
        return cls(
            list_prices=expand_aliases(table, names),
            multiplier=to_decimal(multiplier),
            currency=str(currency),
            aliases=names,
        )

    def with_multiplier(self, multiplier: float | int | str | Decimal) -> PriceBook:
        """The same list prices at another tier multiplier."""
        return replace(self, multiplier=to_decimal(multiplier))

    # -- prices ---------------------------------------------------------------------------

    def priced(self, operation: str) -> bool:
        """Whether ``operation`` has a list price (unpriced operations cost 0 and are named)."""
        return str(operation) in self.list_prices

    def list_price(self, operation: str) -> Decimal | None:
        """List price of one credit of ``operation``; None when unpriced."""
        return self.list_prices.get(str(operation))

    def unit_price(self, operation: str) -> Decimal | None:
        """Price of one credit after the tier multiplier; None when unpriced."""
        price = self.list_price(operation)
        return None if price is None else price * self.multiplier

    @property
    def prices(self) -> dict[str, float]:
        """List prices as floats (for tables and workbook cells), every alias included."""
        return {op: float(p) for op, p in self.list_prices.items()}

    @property
    def unit_prices(self) -> dict[str, float]:
        """Prices after the tier multiplier, as floats."""
        return {op: float(p * self.multiplier) for op, p in self.list_prices.items()}

    # -- costs ----------------------------------------------------------------------------

    def cost_cents(self, operation: str, credits: float, *, list_price: bool = False) -> int:
        """Cost of ``credits`` of ``operation`` in whole cents (0 when unpriced).

        Parameters
        ----------
        operation
            Operation name (either spelling of an alias).
        credits
            Credits, read to the hundredth (:func:`to_hundredths`).
        list_price
            True for the cost at list price (no tier multiplier), as FOCUS's ``ListCost``.

        Returns
        -------
        int
            Whole cents: credits × list price × multiplier, rounded half up once.
        """
        price = self.list_price(operation) if list_price else self.unit_price(operation)
        if price is None:
            return 0
        return cost_cents(int(to_hundredths([credits])[0]), price)

    def costs_cents(
        self,
        operations: Iterable[str] | np.ndarray | Any,
        credits: Sequence[float] | np.ndarray | Any,
        *,
        list_price: bool = False,
    ) -> np.ndarray:
        """:meth:`cost_cents` of many lines (operation and credits side by side).

        The decimal pass runs once per distinct (operation, credits) pair, so a frame of many
        rows costs a pass over its distinct lines only.

        Parameters
        ----------
        operations
            Operation of each line.
        credits
            Credits of each line, read to the hundredth.
        list_price
            True for the cost at list price (no tier multiplier).

        Returns
        -------
        numpy.ndarray
            int64 cents per line (0 for unpriced operations).
        """
        ops = np.asarray(
            operations if isinstance(operations, np.ndarray) else list(operations), dtype=object
        ).astype(str)
        hundredths = to_hundredths(credits)
        if ops.size != hundredths.size:
            raise ValueError("operations and credits must have the same length")
        if not ops.size:
            return np.zeros(0, dtype="int64")
        names, codes = np.unique(ops, return_inverse=True)
        prices = [self.list_price(op) if list_price else self.unit_price(op) for op in names]
        pairs, inverse = np.unique(
            np.stack([codes.astype("int64"), hundredths], axis=1), axis=0, return_inverse=True
        )
        cents = np.asarray(
            [
                0 if prices[code] is None else cost_cents(h, prices[code])
                for code, h in pairs.tolist()
            ],
            dtype="int64",
        )
        return cents[np.asarray(inverse).ravel()]


def _number(value: Any, where: str, *, what: str) -> Decimal:
    """A finite, non-negative TOML number (int, or Decimal from ``parse_float``)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TemplateError(f"{what} in {where} must be numbers")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise TemplateError(f"{what} in {where} must be finite and not negative, not {value}")
    return number


def _alias_table(table: Any, where: Path) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise TemplateError(f"[aliases] in {where} must map names to names")
    return {str(k): v for k, v in table.items()}


def load_price_book(template: str | os.PathLike[str] | None = None) -> PriceBook:
    """The price book of a template folder: its ``prices.toml`` (else the bundled one).

    ``prices.toml`` holds ``currency``, ``tier_multiplier`` and the tables ``[prices]`` (list
    price per credit by operation) and ``[aliases]``; ``[aliases]`` of ``theme.toml`` (the
    bundled one and the folder's own) add spellings too, as they do for colours.

    Parameters
    ----------
    template
        A template folder; None for the bundled ``report_templates``.

    Returns
    -------
    PriceBook
        Prices exactly as written (Decimal), every alias spelling priced.
    """
    from ._resources import read_toml, templates_dir

    bundled = templates_dir()
    folder = Path(template) if template is not None else bundled
    if not folder.is_dir():
        raise TemplateError(f"template folder {folder} does not exist")
    own = folder / "prices.toml"
    path = own if own.is_file() else bundled / "prices.toml"
    raw = read_toml(path, parse_float=Decimal)
    table = raw.get("prices", {})
    if not isinstance(table, dict):
        raise TemplateError(f"[prices] in {path} must map operations to prices")
    prices = {str(op): _number(p, str(path), what="prices") for op, p in table.items()}
    multiplier = _number(raw.get("tier_multiplier", 1), str(path), what="tier_multiplier")
    aliases = dict(OPERATION_ALIASES)
    theme_files = [bundled / "theme.toml"]
    if folder != bundled and (folder / "theme.toml").is_file():
        theme_files.append(folder / "theme.toml")
    for theme_file in theme_files:
        aliases.update(_alias_table(read_toml(theme_file).get("aliases", {}), theme_file))
    aliases.update(_alias_table(raw.get("aliases", {}), path))
    return PriceBook(
        list_prices=expand_aliases(prices, aliases),
        multiplier=multiplier,
        currency=str(raw.get("currency", "USD")),
        aliases=aliases,
        source=str(path),
    )


def as_price_book(
    prices: PriceBook | Mapping[str, float] | None = None,
    *,
    multiplier: float | Decimal | None = None,
    currency: str | None = None,
) -> PriceBook:
    """The price book a function was given in any of the accepted forms.

    Parameters
    ----------
    prices
        A :class:`PriceBook`; a plain table of list prices (then ``multiplier`` defaults to 1);
        or None for the bundled ``prices.toml``.
    multiplier, currency
        Override the book's tier multiplier and currency when given.

    Returns
    -------
    PriceBook
    """
    if isinstance(prices, PriceBook):
        book = prices
    elif prices is None:
        book = load_price_book()
    else:
        book = PriceBook.from_prices(prices)
    if multiplier is not None and to_decimal(multiplier) != book.multiplier:
        book = book.with_multiplier(multiplier)
    if currency is not None and currency != book.currency:
        book = replace(book, currency=str(currency))
    return book
