"""Tie a month's usage to the ledger and the balance, with a reason for every difference.

Pure: usage frame + ledger frame (+ the balance anchor) in, a :class:`Reconciliation` out. Every
amount is compared in integer hundredths of a credit, so the tolerance is exactly zero.

The model: the usage endpoint counts a request when it is made, so a month's usage of an
operation is its settled charges plus the ones still ``pending`` plus the ones later reversed
(``error``). If the ledger shows that usage leaves pending or reversed charges out, the
explanation that fits is used. A month **ties** when every difference is explained by pending or
reversed charges; a charge on the other side of the month boundary, an unmapped transaction type
or an unexplained remainder makes it not tie.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..money import month_figures
from ..periods import month_window
from ..templates import load_ledger_mapping
from .pricing import to_hundredths

__all__ = [
    "reconcile",
    "Reconciliation",
    "load_ledger_mapping",
    "map_types",
    "usage_figures",
    "reported_figures",
    "REASONS",
    "TYING_REASONS",
    "UNMAPPED_PREFIX",
]

#: Reason kinds, in the order rows are listed.
REASONS = (
    "pending at month end",
    "reversed",
    "unmapped type",
    "timezone-boundary charge",
    "unexplained",
)
#: Reasons that still let a month tie.
TYING_REASONS = frozenset({"pending at month end", "reversed"})
#: Operation label of a charge type the mapping does not know.
UNMAPPED_PREFIX = "unmapped:"


# --- the type -> operation mapping -------------------------------------------------------


def map_types(types: pd.Series, mapping: Mapping[str, Mapping[str, str]]) -> pd.Series:
    """The usage operation of each transaction type (explicit table first, then the longest
    prefix); ``unmapped:<type>`` when neither knows it."""
    exact = mapping.get("types", {})
    prefixes = sorted(mapping.get("prefixes", {}).items(), key=lambda kv: -len(kv[0]))
    lookup: dict[str, str] = {}
    for kind in pd.unique(types.astype(str)):
        if kind in exact:
            lookup[kind] = exact[kind]
            continue
        lookup[kind] = next(
            (op for prefix, op in prefixes if kind.startswith(prefix)), UNMAPPED_PREFIX + kind
        )
    return types.astype(str).map(lookup)


# --- the result ------------------------------------------------------------------------------


@dataclass
class Reconciliation:
    """The tie-out of one month. Money-like figures are credits (floats of exact hundredths).

    ``operations``: ``operation, usage, settled, pending, reversed, difference, residual``
    (difference = settled − usage). ``reasons``: ``operation, reason, credits, transactions,
    detail``; the reason rows add up to the total difference. ``opening``/``closing`` are None
    without a balance anchor.
    """

    month: str
    timezone: str
    source: str
    opening: float | None
    top_ups: float
    charges: float
    closing: float | None
    pending: float
    reversed: float
    usage: float
    difference: float
    operations: pd.DataFrame
    reasons: pd.DataFrame
    unmapped_types: list[str]
    hypothesis: str = ""
    anchor_balance: float | None = None
    anchor_at: pd.Timestamp | None = None
    in_flight: float = 0.0
    notes: list[str] = field(default_factory=list)
    restatements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def balance_ties(self) -> bool:
        """Opening + top-ups − charges = closing, in hundredths (True without an anchor)."""
        if self.opening is None or self.closing is None:
            return True
        return _c(self.opening) + _c(self.top_ups) - _c(self.charges) == _c(self.closing)

    @property
    def ties(self) -> bool:
        """Every difference explained by pending or reversed charges, and the balance chain
        holds."""
        bad = ~self.reasons["reason"].isin(TYING_REASONS)
        return not bool(bad.any()) and not self.unmapped_types and self.balance_ties

    @property
    def running(self) -> bool:
        """True when the month was not over at the balance anchor: its figures are so far, and
        the anchor's balance is a live snapshot rather than a figure of the month."""
        if self.anchor_at is None:
            return False
        return pd.Timestamp(self.anchor_at) < pd.Timestamp(
            month_window(self.month, self.timezone)[1]
        )

    @property
    def failures(self) -> pd.DataFrame:
        """The reason rows that keep the month from tying."""
        return self.reasons[~self.reasons["reason"].isin(TYING_REASONS)].reset_index(drop=True)

    def figures(self) -> dict[str, Any]:
        """The tie-out figures as plain values (the JSON document's own fields)."""
        return {
            "month": self.month,
            "ties": self.ties,
            "opening_balance": self.opening,
            "top_ups": self.top_ups,
            "settled_charges": self.charges,
            "closing_balance": self.closing,
            "pending": self.pending,
            "reversed": self.reversed,
            "usage": self.usage,
            "difference": self.difference,
            "balance_ties": self.balance_ties,
            "unmapped_types": list(self.unmapped_types),
            "balance_hypothesis": self.hypothesis,
            "anchor_balance": self.anchor_balance,
            "anchor_at": self.anchor_at,
            "in_flight": self.in_flight,
        }


def _c(value: float) -> int:
    return int(round(float(value) * 100))


def _f(cents: int | np.integer) -> float:
    return int(cents) / 100


# --- the tie-out ---------------------------------------------------------------------------


def usage_figures(usage: pd.DataFrame, *, month: str, timezone: str) -> dict[str, int]:
    """A month's usage by operation in hundredths."""
    start, stop = month_window(month, timezone)
    when = usage["period_start"]
    inside = ((when >= pd.Timestamp(start)) & (when < pd.Timestamp(stop))).to_numpy()
    sub = usage.loc[inside]
    cents = pd.Series(to_hundredths(sub["credits"]), index=sub.index)
    return {
        str(k): int(v)
        for k, v in cents.groupby(sub["operation"].astype(str).to_numpy()).sum().items()
    }


def _boundary_window(edge: dt.datetime) -> dt.timedelta:
    """How far either side of a month edge a charge may have been booked in the other month:
    the zone's UTC offset there (a UTC-versus-local mix-up), at least an hour."""
    offset = edge.utcoffset() or dt.timedelta(0)
    return max(abs(offset), dt.timedelta(hours=1))


def _boundary_match(
    residual: int, charges: pd.DataFrame, start: dt.datetime, stop: dt.datetime
) -> pd.DataFrame | None:
    """The charges near a month edge whose booking on the other side explains ``residual``
    (settled − usage, hundredths): a charge inside the month that usage counted next door adds
    to the difference, one outside that usage counted here subtracts."""
    if charges.empty:
        return None
    when = charges["created_at"]
    s, e = pd.Timestamp(start), pd.Timestamp(stop)
    ws, we = _boundary_window(start), _boundary_window(stop)
    inside = ((when >= s) & (when < s + ws)) | ((when < e) & (when >= e - we))
    outside = ((when < s) & (when >= s - ws)) | ((when >= e) & (when < e + we))
    near = charges[(inside | outside).to_numpy()].copy()
    if near.empty:
        return None
    near["effect"] = np.where(inside[(inside | outside)].to_numpy(), 1, -1) * -to_hundredths(
        near["credits"]
    )
    for _, row in near.iterrows():  # a handful of rows at most: the edges only
        if int(row["effect"]) == residual:
            return near.loc[[row.name]]
    for mask in (near["effect"] > 0, near["effect"] < 0, near["effect"] != 0):
        if mask.any() and int(near.loc[mask, "effect"].sum()) == residual:
            return near[mask]
    return None


def reconcile(
    usage: pd.DataFrame,
    ledger: pd.DataFrame,
    *,
    month: str,
    balance_now: float | None = None,
    pending_in_balance: bool | None = None,
    closing_balance: float | None = None,
    anchor_at: Any = None,
    in_flight: float = 0.0,
    hypothesis: str = "",
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    timezone: str | None = None,
) -> Reconciliation:
    """Tie ``month``: opening balance, top-ups, settled charges, pending, reversed, closing balance,
    and settled charges against usage, in total and per operation.

    Parameters
    ----------
    usage
        Tidy usage frame (any bucket size) covering the month.
    ledger
        Tidy ledger frame covering the month; with ``balance_now`` it must run on to the anchor,
        and rows just outside the month help recognise timezone-boundary charges.
    month
        ``YYYY-MM``, in ``timezone`` (default: the usage frame's).
    balance_now, pending_in_balance
        ``/me/``'s balance at the anchor, and whether it already subtracts pending charges; the
        closing balance is the settled balance now minus the settled rows after the month.
    closing_balance
        A closing balance derived earlier (cached); wins over ``balance_now``.
    anchor_at, in_flight, hypothesis
        Shown with the figures: the anchor's moment, the balance movement during paging, and the
        sentence stating which pending reading of the balance was taken.
    mapping
        Transaction type → operation (default ``ledger_mapping.toml``).

    Returns
    -------
    Reconciliation
    """
    tz = timezone or usage.attrs.get("timezone") or ledger.attrs.get("timezone")
    if not tz:
        raise InputError("reconcile needs a timezone: the frames carry none")
    start, stop = month_window(month, tz)
    mapping = mapping if mapping is not None else load_ledger_mapping()
    when = ledger["created_at"]
    in_month = ((when >= pd.Timestamp(start)) & (when < pd.Timestamp(stop))).to_numpy()
    rows = ledger.loc[in_month]
    cents = to_hundredths(rows["credits"])
    status = rows["status"].to_numpy()
    success = status == "success"
    top_ups = int(cents[success & (cents > 0)].sum())
    charges = -int(cents[success & (cents < 0)].sum())
    pending = -int(cents[status == "pending"].sum())
    reversed_ = -int(cents[status == "error"].sum())

    # Balance chain.
    closing: int | None = None
    if closing_balance is not None:
        closing = _c(closing_balance)
    elif balance_now is not None:
        all_cents = to_hundredths(ledger["credits"])
        all_status = ledger["status"].to_numpy()
        pending_all = int(all_cents[all_status == "pending"].sum())
        settled_now = _c(balance_now) - (pending_all if pending_in_balance else 0)
        after = (when >= pd.Timestamp(stop)).to_numpy()
        closing = settled_now - int(all_cents[(all_status == "success") & after].sum())
    opening = None if closing is None else closing - top_ups + charges

    # Per operation: settled, pending and reversed charges against usage.
    charge_rows = rows[cents < 0]
    ops = map_types(charge_rows["type"], mapping)
    ch = pd.DataFrame(
        {
            "operation": ops.to_numpy(),
            "status": charge_rows["status"].to_numpy(),
            "c": -cents[cents < 0],
        }
    )
    by = ch.pivot_table(
        index="operation", columns="status", values="c", aggfunc="sum", fill_value=0
    )
    by = by.reindex(columns=["success", "pending", "error"], fill_value=0)
    used = pd.Series(usage_figures(usage, month=month, timezone=tz), dtype="int64")
    table = pd.DataFrame(index=sorted(set(by.index) | set(used.index)))
    table["usage"] = used.reindex(table.index, fill_value=0).astype("int64")
    for col, src in (("settled", "success"), ("pending", "pending"), ("reversed", "error")):
        table[col] = by[src].reindex(table.index, fill_value=0).astype("int64")
    table["difference"] = table["settled"] - table["usage"]
    unmapped = sorted(
        str(op)[len(UNMAPPED_PREFIX) :] for op in table.index if str(op).startswith(UNMAPPED_PREFIX)
    )

    reasons: list[dict[str, Any]] = []
    residuals: dict[str, int] = {}
    notes: list[str] = []
    settled_charges = ledger[
        (ledger["status"] == "success").to_numpy() & (ledger["credits"] < 0).to_numpy()
    ]
    settled_ops = map_types(settled_charges["type"], mapping).to_numpy()
    for op, r in table.iterrows():  # one row per operation: a dozen at most
        diff, p, v = int(r["difference"]), int(r["pending"]), int(r["reversed"])
        if str(op).startswith(UNMAPPED_PREFIX):
            kind = str(op)[len(UNMAPPED_PREFIX) :]
            n = int((charge_rows["type"].astype(str) == kind).sum())
            reasons.append(
                _reason(
                    op,
                    "unmapped type",
                    diff,
                    n,
                    f"transaction type {kind!r} is not in ledger_mapping.toml",
                )
            )
            residuals[str(op)] = 0
            continue
        # Which of pending and reversed the usage counted: the first reading that leaves nothing.
        for use_p, use_v in ((True, True), (True, False), (False, True), (False, False)):
            if diff + (p if use_p else 0) + (v if use_v else 0) == 0:
                break
        else:
            use_p, use_v = True, True
        if use_p and p:
            n = int(((ch["operation"] == op) & (ch["status"] == "pending")).sum())
            reasons.append(_reason(op, "pending at month end", -p, n, "reserved, not yet settled"))
        if use_v and v:
            n = int(((ch["operation"] == op) & (ch["status"] == "error")).sum())
            reasons.append(_reason(op, "reversed", -v, n, "charged, then reversed"))
        if (p and not use_p) or (v and not use_v):
            notes.append(
                f"{op}: usage leaves out its "
                + " and ".join(
                    w
                    for w, keep, a in (("pending", use_p, p), ("reversed", use_v, v))
                    if a and not keep
                )
                + " charges"
            )
        residual = diff + (p if use_p else 0) + (v if use_v else 0)
        residuals[str(op)] = residual
        if residual:
            near = _boundary_match(residual, settled_charges[settled_ops == op], start, stop)
            if near is not None:
                ids = ", ".join(
                    f"{i} at {t.isoformat()}" for i, t in zip(near["id"], near["created_at"])
                )
                reasons.append(
                    _reason(
                        op,
                        "timezone-boundary charge",
                        residual,
                        len(near),
                        f"booked within hours of the month edge, counted by usage "
                        f"in the other month: {ids}",
                    )
                )
                continue
            match = [
                k
                for k in unmapped
                if -int(table.loc[UNMAPPED_PREFIX + k, "difference"]) == residual
            ]
            if match:
                reasons.append(
                    _reason(
                        op,
                        "unmapped type",
                        residual,
                        0,
                        f"the same amount was charged as type {match[0]!r}, "
                        "which ledger_mapping.toml does not map to an operation",
                    )
                )
                continue
            reasons.append(
                _reason(
                    op,
                    "unexplained",
                    residual,
                    0,
                    "settled charges and usage differ with no pending, reversed, "
                    "boundary or unmapped charge to account for it",
                )
            )
    table["residual"] = pd.Series(residuals).reindex(table.index, fill_value=0).astype("int64")
    operations = table.reset_index(names="operation")
    for col in ("usage", "settled", "pending", "reversed", "difference", "residual"):
        operations[col] = operations[col].to_numpy(dtype="int64") / 100
    order = {r: i for i, r in enumerate(REASONS)}
    reason_frame = pd.DataFrame(
        reasons, columns=["operation", "reason", "credits", "transactions", "detail"]
    )
    if not reason_frame.empty:
        reason_frame = (
            reason_frame.assign(_o=reason_frame["reason"].map(order))
            .sort_values(["_o", "operation"], kind="mergesort")
            .drop(columns="_o")
            .reset_index(drop=True)
        )
    usage_total = int(table["usage"].sum())
    anchor_ts = pd.Timestamp(anchor_at).tz_convert(tz) if anchor_at is not None else None
    return Reconciliation(
        month=month,
        timezone=tz,
        source=str(ledger.attrs.get("source") or usage.attrs.get("source", "api")),
        opening=None if opening is None else _f(opening),
        top_ups=_f(top_ups),
        charges=_f(charges),
        closing=None if closing is None else _f(closing),
        pending=_f(pending),
        reversed=_f(reversed_),
        usage=_f(usage_total),
        difference=_f(charges - usage_total),
        operations=operations,
        reasons=reason_frame,
        unmapped_types=unmapped,
        hypothesis=hypothesis,
        anchor_balance=balance_now,
        anchor_at=anchor_ts,
        in_flight=float(in_flight),
        notes=notes,
    )


def _reason(op: Any, reason: str, cents: int, n: int, detail: str) -> dict[str, Any]:
    return {
        "operation": str(op),
        "reason": reason,
        "credits": cents / 100,
        "transactions": n,
        "detail": detail,
    }


def reported_figures(
    usage: pd.DataFrame, ledger: pd.DataFrame, *, month: str, timezone: str
) -> dict[str, dict[str, int]]:
    """What a restatement compares for a reported month: usage by operation and the month's
    ledger by type and status, in hundredths."""
    start, stop = month_window(month, timezone)
    when = ledger["created_at"]
    inside = ((when >= pd.Timestamp(start)) & (when < pd.Timestamp(stop))).to_numpy()
    return {
        "usage": usage_figures(usage, month=month, timezone=timezone),
        "ledger": month_figures(ledger.loc[inside]),
    }
