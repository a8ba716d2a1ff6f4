"""Estimated cost: credits × a per-operation list price (always labelled as an estimate)."""

from __future__ import annotations

import os
from typing import Mapping

import pandas as pd

__all__ = ["load_prices", "estimate_cost"]


def load_prices(template: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """The price table (USD per credit by operation) from ``prices.toml`` in the templates."""
    from ..theme import load_theme

    return dict(load_theme(template).prices)


def estimate_cost(table: pd.DataFrame, prices: Mapping[str, float] | None = None, *,
                  multiplier: float = 1.0) -> pd.DataFrame:
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
    if prices is None:
        prices = load_prices()
    out = table.copy()
    price = out["operation"].map(dict(prices)).astype("float64")
    unpriced = sorted(set(out.loc[price.isna(), "operation"].astype(str)))
    out["price"] = price.fillna(0.0) * float(multiplier)
    out["estimated_cost"] = out["credits"].to_numpy(dtype="float64") * out["price"].to_numpy()
    out.attrs["unpriced_operations"] = unpriced
    out.attrs["estimate"] = True
    out.attrs["multiplier"] = float(multiplier)
    return out


