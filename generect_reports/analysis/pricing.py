"""Estimated cost: credits × a per-operation list price (always labelled as an estimate)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from ..theme import OPERATION_ALIASES, expand_aliases

__all__ = [
    "load_prices",
    "estimate_cost",
    "round_money",
    "money_cents",
    "to_hundredths",
    "largest_remainder",
    "expand_aliases",
    "OPERATION_ALIASES",
]

_CENT = Decimal("0.01")


def money_cents(value: float | Decimal | str) -> int:
    """``value`` in currency units rounded half-up to a whole cent, as integer cents.

    This is the one money rounding rule of the toolkit: every cost shown anywhere is rounded
    here, once. ``Decimal(repr(x))`` reads a float as the short decimal it prints as, so
    ``3387 * 0.005`` (16.935 in binary noise) rounds up to 16.94 as a person expects.
    """
    if isinstance(value, Decimal):
        exact = value
    else:
        exact = Decimal(repr(float(value))) if not isinstance(value, str) else Decimal(value)
    return int((exact / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def round_money(value: float | Decimal | str) -> float:
    """``value`` rounded half-up to the cent (see :func:`money_cents`), as a float."""
    return money_cents(value) / 100


def to_hundredths(credits: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Credits as integer hundredths (int64), for tie-outs that must be exact."""
    arr = np.asarray(credits, dtype="float64")
    return np.round(arr * 100.0).astype("int64")


def largest_remainder(total: int, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights``; the parts add up to ``total``.

    Each part gets the floor of its exact share; the units left over go to the largest
    remainders (ties to the earlier position, so the result is deterministic). With all
    weights zero the parts are zero and ``total`` must be zero too, else ``ValueError``.
    Negative totals are split as the negation of the positive split.
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


def load_prices(template: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """The price table (USD per credit by operation) from ``prices.toml`` in the templates."""
    from ..theme import load_theme

    return dict(load_theme(template).prices)


def estimate_cost(
    table: pd.DataFrame, prices: Mapping[str, float] | None = None, *, multiplier: float = 1.0
) -> pd.DataFrame:
    """Add ``price`` and ``estimated_cost`` columns to any frame with ``operation`` and ``credits``.

    Parameters
    ----------
    table
        A tidy usage frame or an analysis table.
    prices
        USD per credit by operation; default the bundled list prices.
    multiplier
        Tier multiplier applied to every price (1.0 = list price).

    Returns
    -------
    pandas.DataFrame
        A copy with ``price`` and ``estimated_cost``; operations without a price get 0 and are
        listed in ``attrs["unpriced_operations"]``; ``attrs["estimate"]`` is True.
    """
    missing = {"operation", "credits"} - set(getattr(table, "columns", ()))
    if not isinstance(table, pd.DataFrame) or missing:
        from ..errors import InputError

        raise InputError("estimate_cost needs a frame with operation and credits columns")
    if prices is None:
        prices = load_prices()
    else:
        prices = expand_aliases(prices, OPERATION_ALIASES)
    out = table.copy()
    price = out["operation"].map(dict(prices)).astype("float64")
    unpriced = sorted(set(out.loc[price.isna(), "operation"].astype(str)))
    out["price"] = price.fillna(0.0) * float(multiplier)
    out["estimated_cost"] = out["credits"].to_numpy(dtype="float64") * out["price"].to_numpy()
    out.attrs["unpriced_operations"] = unpriced
    out.attrs["estimate"] = True
    out.attrs["multiplier"] = float(multiplier)
    return out
