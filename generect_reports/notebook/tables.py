"""Formatted tables for notebooks and the dashboard: pandas ``Styler`` rendered to fixed HTML.

A ``Styler`` displayed as is shows ``<pandas.io.formats.style.Styler at 0x…>`` as its plain-text
output, which changes on every run, and its HTML carries a random id. :func:`show` returns an
``IPython.display.HTML`` of the styled table with an id derived from its content, so a validated
notebook compares the same bytes every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["styled", "show", "html", "fmt_amount", "with_total_row", "POSITIVE", "NEGATIVE"]

#: Colours of signed changes (more usage is a cost, so increases are red).
POSITIVE = "#B03A2E"
NEGATIVE = "#1E7B4F"

_TABLE_CSS = [
    {"selector": "", "props": [("border-collapse", "collapse"), ("font-size", "13px")]},
    {
        "selector": "th, td",
        "props": [("padding", "3px 10px"), ("border-bottom", "1px solid #e3e3e3")],
    },
    {"selector": "th", "props": [("text-align", "left"), ("background", "#f4f6f8")]},
    {
        "selector": "td",
        "props": [("text-align", "right"), ("font-variant-numeric", "tabular-nums")],
    },
]


def _whole(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")
    return bool(len(numbers)) and bool(np.all(np.abs(numbers - np.round(numbers)) < 1e-9))


def fmt_amount(values: pd.Series | Sequence[float], *, money: bool = False) -> str:
    """Format string for a column: whole credits without decimals, otherwise two; money with $."""
    if money:
        return "${:,.2f}"
    return "{:,.0f}" if _whole(pd.Series(values)) else "{:,.2f}"


def with_total_row(
    frame: pd.DataFrame,
    *,
    label_column: str | None = None,
    label: str = "Total",
    sum_columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """``frame`` with a last row summing ``sum_columns`` (default: every numeric column).

    The label goes in ``label_column`` (default the first column) or, when that is None and
    the frame has a meaningful index, in the index.
    """
    columns = (
        list(sum_columns)
        if sum_columns is not None
        else list(frame.select_dtypes("number").columns)
    )
    total = {c: frame[c].sum() for c in columns}
    out = frame.copy()
    if label_column is None and not isinstance(frame.index, pd.RangeIndex):
        row = pd.DataFrame([total], index=pd.Index([label], name=frame.index.name))
        return pd.concat([out, row])
    column = label_column or frame.columns[0]
    row = pd.DataFrame([{column: label, **total}])
    return pd.concat([out, row], ignore_index=True)


def styled(
    frame: pd.DataFrame,
    *,
    credits: Sequence[str] = (),
    money: Sequence[str] = (),
    percent: Sequence[str] = (),
    signed: Sequence[str] = (),
    signed_percent: Sequence[str] = (),
    total: bool = False,
    caption: str | None = None,
    hide_index: bool = True,
) -> Any:
    """A ``Styler`` with thousands separators, percentages and coloured signed changes.

    Parameters
    ----------
    credits, money
        Amount columns: whole credits shown without decimals, money as $ with cents.
    percent
        Fractions shown as percentages with one decimal.
    signed, signed_percent
        Changes shown with a sign (amounts, fractions) and coloured: increases red, decreases
        green.
    total
        Bold the last row (a totals row added by :func:`with_total_row`).
    """
    formats: dict[str, Any] = {}
    for column in credits:
        formats[column] = fmt_amount(frame[column])
    for column in money:
        formats[column] = "${:,.2f}"
    for column in percent:
        formats[column] = "{:.1%}"
    for column in signed:
        whole = fmt_amount(frame[column]) == "{:,.0f}"
        formats[column] = "{:+,.0f}" if whole else "{:+,.2f}"
    for column in signed_percent:
        formats[column] = "{:+.1%}"
    styler = frame.style.format(formats, na_rep="–").set_table_styles(_TABLE_CSS)
    changes = [c for c in (*signed, *signed_percent) if c in frame.columns]
    if changes:

        def colour(values: pd.Series) -> list[str]:
            numbers = pd.to_numeric(values, errors="coerce")
            return [
                f"color: {POSITIVE}" if v > 0 else f"color: {NEGATIVE}" if v < 0 else ""
                for v in numbers.fillna(0.0)
            ]

        styler = styler.apply(colour, subset=changes)
    if total and len(frame):
        last = frame.index[-1]
        styler = styler.apply(
            lambda row: (
                ["font-weight: bold; border-top: 2px solid #888"] * len(row)
                if row.name == last
                else [""] * len(row)
            ),
            axis=1,
        )
    if hide_index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    # An element id from the content and the options: the same on every run, different for
    # different tables on one page (so one table's cell styles never land on another's).
    key = repr(
        (
            frame.to_csv(),
            credits,
            money,
            percent,
            signed,
            signed_percent,
            total,
            caption,
            hide_index,
        )
    )
    return styler.set_uuid(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12])


def html(styler: Any) -> str:
    """The styled table as HTML. Stylers from :func:`styled` carry an id derived from their
    content; any other gets one derived from its rendering, so the bytes are the same every run."""
    if len(str(getattr(styler, "uuid", ""))) == 12:  # set by styled(); pandas' own are 5 long
        return str(styler.to_html())
    draft = str(styler.set_uuid("fixed").to_html())
    return str(styler.set_uuid(hashlib.sha256(draft.encode("utf-8")).hexdigest()[:12]).to_html())


def show(frame: pd.DataFrame, **options: Any) -> Any:
    """Display-ready HTML of :func:`styled` (use as a cell's last expression).

    The table sits in a box that scrolls sideways when it is wider than the page; the box takes
    the keyboard focus (named by the caption, else the columns), so a keyboard user can scroll
    it too."""
    from html import escape

    from IPython.display import HTML

    name = options.get("caption") or "Table: " + ", ".join(map(str, frame.columns[:6]))
    return HTML(
        f'<div class="generect-table" role="region" tabindex="0" aria-label="{escape(name)}" '
        'style="overflow-x:auto;max-width:100%">' + html(styled(frame, **options)) + "</div>"
    )
