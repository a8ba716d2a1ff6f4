"""Estimated cost: credits × a per-operation list price (always labelled as an estimate).

The rules live in :mod:`generect_reports.money` (the price book, integer cents, the one half-up
rounding, largest remainder); the names here keep working for code that imports them from this
module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pandas as pd

from ..money import (
    OPERATION_ALIASES,
    PriceBook,
    as_price_book,
    expand_aliases,
    largest_remainder,
    load_price_book,
    money_cents,
    round_money,
    to_hundredths,
)

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


def load_prices(template: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """The list prices (per credit by operation, as floats) of a template folder's price book.

    Parameters
    ----------
    template
        A template folder; None for the bundled ``prices.toml``.

    Returns
    -------
    dict
        Operation -> list price, every alias spelling included.
    """
    return load_price_book(template).prices


def estimate_cost(
    table: pd.DataFrame,
    prices: PriceBook | Mapping[str, float] | None = None,
    *,
    multiplier: float | None = None,
) -> pd.DataFrame:
    """Add ``price`` and ``estimated_cost`` columns to any frame with ``operation`` and ``credits``.

    Parameters
    ----------
    table
        A tidy usage frame or an analysis table.
    prices
        A :class:`~generect_reports.money.PriceBook`, or list prices by operation; default the
        bundled price book.
    multiplier
        Tier multiplier applied to every list price; default the book's (1.0 for a plain table).

    Returns
    -------
    pandas.DataFrame
        A copy with ``price`` (list × multiplier) and ``estimated_cost`` (each row rounded half
        up to the cent once, by the price book); operations without a price get 0 and are
        listed in ``attrs["unpriced_operations"]``; ``attrs["estimate"]`` is True.
    """
    missing = {"operation", "credits"} - set(getattr(table, "columns", ()))
    if not isinstance(table, pd.DataFrame) or missing:
        from ..errors import InputError

        raise InputError("estimate_cost needs a frame with operation and credits columns")
    book = as_price_book(prices, multiplier=multiplier)
    out = table.copy()
    ops = out["operation"].astype(str)
    priced = ops.isin(list(book.list_prices))
    out["price"] = ops.map(book.unit_prices).fillna(0.0).astype("float64")
    out["estimated_cost"] = book.costs_cents(ops.to_numpy(), out["credits"]) / 100
    out.attrs["unpriced_operations"] = sorted(set(ops[~priced]))
    out.attrs["estimate"] = True
    out.attrs["multiplier"] = float(book.multiplier)
    return out
