"""Chargeback: each operation's monthly credits split across the customers whose tokens caused them.

Pure functions on the usage frame and the token-usage frame. The split is an estimate, for two
reasons stated wherever the figures appear (:data:`ASSUMPTIONS`); the tie-out is not: customers'
credits plus ``unallocated`` equal the account's usage for every operation in integer hundredths,
and customers' estimated costs add up to the cost lines of the monthly report to the cent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..money import PriceBook, as_price_book, display_shares, largest_remainder, to_hundredths
from ..periods import parse_month, shift_month
from ..templates import load_endpoint_mapping
from .usage import month_label, to_monthly

__all__ = [
    "ALLOCATION_RULE",
    "ASSUMPTIONS",
    "BOUND_RULE",
    "DEFAULT_TOLERANCE",
    "HEALTH_FAILED_SHARE",
    "HEALTH_GROWTH_FACTOR",
    "HEALTH_GROWTH_MIN",
    "UNALLOCATED",
    "UNDER_REVIEW",
    "Allocation",
    "bound_rule",
    "allocate_credits",
    "health_rule",
    "integration_health",
    "load_endpoint_mapping",
    "map_endpoints",
]

UNALLOCATED = "unallocated"
UNATTRIBUTED = "unattributed"
#: Credits a customer's estimate would carry above what its requests prove, held back.
UNDER_REVIEW = "unallocated, under review"

#: How far (a share of the customer's successful requests) an operation's estimate may lie
#: above the proven lower end of its range before the lower end is billed instead.
DEFAULT_TOLERANCE = 0.05


def bound_rule(tolerance: float = DEFAULT_TOLERANCE) -> str:
    """The proven-lower-bound rule in words (statements, report, README)."""
    return (
        "The API counts a token's requests by endpoint and by status class, never both "
        "together, so its successful requests on one operation are only known to lie between "
        "the operation's requests less all the token's failed requests and the lower of the "
        "operation's requests and all its successful requests. Where the estimate lies more "
        f"than {tolerance:.0%} of the customer's successful requests above that range's lower "
        "end on any operation, the customer is billed the lower end on every operation and the "
        f"rest is held as '{UNDER_REVIEW}' with the range."
    )


#: The rule at the default tolerance.
BOUND_RULE = bound_rule()

#: The two estimates behind every allocated figure, in words.
ASSUMPTIONS: tuple[str, ...] = (
    (
        "Successful requests per endpoint are estimated: the API counts a token's requests by "
        "endpoint and by status class separately, so the token's share of 2xx answers in the month "
        "is applied to every endpoint it called."
    ),
    (
        "The API charges credits per result returned, not per request, so a customer's share of an "
        "operation's credits is estimated from its share of that operation's successful requests."
    ),
)

#: The allocation rule in words (statements, report, README).
ALLOCATION_RULE = (
    "Each operation's credits for the month are split across customers in proportion to their "
    "estimated successful requests on the endpoints that map to that operation. Credits of "
    "operations that no customer's requests map to, and unattributed platform charges, stay "
    "unallocated. The split is made in hundredths of a credit by largest remainder, so the "
    "parts add up to the account's usage exactly; the estimated cost is rounded to the cent "
    "once per operation and split across customers the same way."
)

#: A customer is flagged when more than this share of its requests failed (4xx and 5xx) ...
HEALTH_FAILED_SHARE = 0.20
#: ... or when its failed requests grew to at least this multiple of last month's ...
HEALTH_GROWTH_FACTOR = 3.0
#: ... and by at least this many requests (so a handful of errors does not raise a flag).
HEALTH_GROWTH_MIN = 100


def health_rule(threshold: float = HEALTH_FAILED_SHARE) -> str:
    """The integration-health rule in words."""
    return (
        f"A customer is flagged when more than {threshold:.0%} of its requests failed (4xx or "
        f"5xx), or when its failed requests grew to at least {HEALTH_GROWTH_FACTOR:g} times last "
        f"month's and by at least {HEALTH_GROWTH_MIN} requests: a client retrying in a loop "
        "costs support time even where it costs no credits."
    )


# --- the endpoint -> operation mapping -------------------------------------------------------


def _normalise(path: str) -> str:
    text = "/" + str(path).strip().split("?", 1)[0].strip("/")
    return text + "/" if text != "/" else text


def map_endpoints(endpoints: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    """The operation each endpoint maps to (None where none), by exact path or pattern."""
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    for key, op in mapping.items():
        norm = _normalise(key)
        if "{" in norm:
            rx = "".join(
                "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
                for part in re.split(r"(\{[^/{}]*\})", norm)
            )
            patterns.append((re.compile(rx + r"\Z"), op))
        else:
            exact[norm] = op
    unique = pd.unique(endpoints.astype(str))
    found: dict[str, str | None] = {}
    for ep in unique:  # a handful of distinct paths: the per-path loop is over the set, not rows
        norm = _normalise(ep) if ep else ""
        found_op = exact.get(norm)
        if found_op is None and norm:
            found_op = next((o for rx, o in patterns if rx.match(norm)), None)
        found[ep] = found_op
    return endpoints.astype(str).map(found)


# --- integration health ----------------------------------------------------------------------


def _token_counts(tokens: pd.DataFrame) -> pd.DataFrame:
    """One row per token and month (the status counts repeat on each endpoint row)."""
    keys = ["month", "customer", "token_hint", "name", "client_id", "created_at"]
    cols = keys + [
        "active",
        "token_requests",
        "status_2xx",
        "status_4xx",
        "status_5xx",
        "status_other",
    ]
    return tokens[cols].drop_duplicates(subset=keys, keep="first")


def integration_health(
    tokens: pd.DataFrame,
    *,
    month: str,
    threshold: float = HEALTH_FAILED_SHARE,
    growth_factor: float = HEALTH_GROWTH_FACTOR,
    growth_min: int = HEALTH_GROWTH_MIN,
) -> pd.DataFrame:
    """Per customer: requests, failures and whether its integration looks unhealthy.

    Returns
    -------
    pandas.DataFrame
        ``customer``, ``requests``, ``successful`` (2xx), ``failed`` (4xx + 5xx),
        ``failed_share`` (of status-counted requests; NaN without any), ``previous_failed``
        (NaN when the customer had no traffic last month or it was not fetched), ``flagged``
        and ``flags`` (reasons in words, empty when healthy).
    """
    parse_month(month)
    prev = month_label(*shift_month(*parse_month(month), -1))
    counts = _token_counts(tokens)
    counts = counts.assign(
        failed=counts["status_4xx"] + counts["status_5xx"],
        statuses=counts["status_2xx"]
        + counts["status_4xx"]
        + counts["status_5xx"]
        + counts["status_other"],
    )
    now = (
        counts[counts["month"] == month]
        .groupby("customer", sort=True)[["token_requests", "status_2xx", "failed", "statuses"]]
        .sum()
    )
    before = (
        counts[counts["month"] == prev].groupby("customer", sort=True)[["failed", "statuses"]].sum()
    )
    out = pd.DataFrame(
        {
            "customer": pd.Series(now.index.to_numpy(dtype=object), dtype=str),
            "requests": now["token_requests"].to_numpy(dtype="int64"),
            "successful": now["status_2xx"].to_numpy(dtype="int64"),
            "failed": now["failed"].to_numpy(dtype="int64"),
        }
    )
    statuses = now["statuses"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["failed_share"] = np.where(statuses > 0, out["failed"].to_numpy() / statuses, np.nan)
    had = before["statuses"].reindex(now.index)
    out["previous_failed"] = (
        before["failed"].reindex(now.index).where(had > 0).to_numpy(dtype="float64")
    )
    share_flag = out["failed_share"].to_numpy() > threshold
    prevf = out["previous_failed"].to_numpy()
    failed = out["failed"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        growth_flag = (
            (~np.isnan(prevf))
            & (failed >= growth_factor * np.nan_to_num(prevf))
            & (failed - np.nan_to_num(prevf) >= growth_min)
        )
    share_text = pd.Series(
        [
            f"{s:.0%} of requests failed (4xx/5xx)" if f else ""
            for s, f in zip(out["failed_share"], share_flag)
        ],
        dtype=str,
    )
    growth_text = pd.Series(
        [
            f"failed requests rose from {p:,.0f} to {n:,.0f} against last month" if g else ""
            for p, n, g in zip(prevf, failed, growth_flag)
        ],
        dtype=str,
    )
    out["flagged"] = share_flag | growth_flag
    out["flags"] = (share_text + np.where(share_flag & growth_flag, "; ", "") + growth_text).astype(
        str
    )
    return out.reset_index(drop=True)


# --- the allocation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """A month's credits and estimated cost per customer, tied to the account's usage.

    ``lines``: one row per customer (and ``unallocated``) and operation, with ``requests`` (on
    endpoints mapping to the operation), ``estimated_successful``, ``credits``, ``share`` (of
    the operation's credits), ``estimated_cost``, and the exact ``credits_hundredths`` and
    ``cost_cents``. ``customers``: one row per customer, largest first, then ``unallocated``,
    with identity, requests, health and totals, ``share`` of the account's credits and
    ``share_display``, the percent shown (adding up to 100.0). ``operations``: the account's
    usage per operation (the figures everything ties to), with the same ``share_display`` as
    the monthly report's operations. ``unmapped``: requests to endpoints that map to no
    operation.
    """

    month: str
    timezone: str
    source: str
    currency: str
    lines: pd.DataFrame
    customers: pd.DataFrame
    operations: pd.DataFrame
    unmapped: pd.DataFrame
    window: tuple[str, str] | None = None
    threshold: float = HEALTH_FAILED_SHARE
    #: Per customer billed its proven lower bound and operation: ``customer``, ``operation``,
    #: ``requests``, ``lower_successful``, ``upper_successful``, ``estimated_successful`` and
    #: the credits held back (``credits``, ``credits_hundredths``) under ``UNDER_REVIEW``.
    reviews: pd.DataFrame = field(default_factory=lambda: _empty_reviews())
    tolerance: float = DEFAULT_TOLERANCE
    notes: list[str] = field(default_factory=list)
    #: Customers plus unallocated equal the account's usage for every operation (hundredths).
    tied: bool = True
    #: Set by :meth:`for_customer`: the lines and customers shown are this customer's only.
    narrowed_to: str | None = None

    assumptions: tuple[str, ...] = ASSUMPTIONS
    rule: str = ALLOCATION_RULE

    @property
    def flagged(self) -> pd.DataFrame:
        """Customers whose integration-health check raised a flag."""
        return self.customers[self.customers["flagged"]].reset_index(drop=True)

    @property
    def unallocated_credits(self) -> float:
        return float(self.operations["unallocated_hundredths"].sum()) / 100

    @property
    def under_review_credits(self) -> float:
        """Credits held back from customers billed their proven lower bound."""
        return float(self.operations["review_hundredths"].sum()) / 100

    @property
    def bound_rule(self) -> str:
        return bound_rule(self.tolerance)

    @property
    def total_credits(self) -> float:
        return float(self.operations["credits_hundredths"].sum()) / 100

    @property
    def total_cost(self) -> float:
        return float(self.operations["cost_cents"].sum()) / 100

    def for_customer(self, customer: str) -> Allocation:
        """The same allocation narrowed to one customer (matched by customer label,
        ``client_id``, ``name`` or token hint); account totals are kept for reference."""
        c = self.customers
        real = c[c["kind"] == "customer"]
        hit = real[
            (real["customer"] == customer)
            | (real["client_id"] == customer)
            | (real["name"] == customer)
            | real["token_hints"].str.split(", ").map(lambda hints: customer in hints)
        ]
        if hit.empty:
            known = ", ".join(real["customer"].head(10))
            raise InputError(
                f"no customer {customer!r} in {self.month} (customers: {known or 'none'})"
            )
        names = set(hit["customer"])
        return replace(
            self,
            lines=self.lines[self.lines["customer"].isin(names)].reset_index(drop=True),
            customers=hit.reset_index(drop=True),
            reviews=self.reviews[self.reviews["customer"].isin(names)].reset_index(drop=True),
            narrowed_to=customer,
        )


_REVIEW_COLUMNS = (
    "customer",
    "operation",
    "requests",
    "lower_successful",
    "upper_successful",
    "estimated_successful",
    "credits",
    "credits_hundredths",
)


def _empty_reviews() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(
                dtype=str
                if c in ("customer", "operation")
                else "float64"
                if c in ("estimated_successful", "credits")
                else "int64"
            )
            for c in _REVIEW_COLUMNS
        }
    )


def successful_range(requests: Any, successful: Any, failed: Any) -> tuple[Any, Any]:
    """The range a token's successful requests on one operation are known to lie in.

    The API counts a token's requests by endpoint and by status class, never both together: of
    ``requests`` on the operation at least ``requests - failed`` succeeded (every failure could
    be there) and at most ``min(requests, successful)``.
    """
    n = np.asarray(requests, dtype="int64")
    return np.maximum(0, n - np.asarray(failed, dtype="int64")), np.minimum(
        n, np.asarray(successful, dtype="int64")
    )


def _identity(tokens: pd.DataFrame) -> pd.DataFrame:
    """Per customer: client_id, name, token hints and whether any of its tokens is active."""
    tok = tokens.drop_duplicates(
        subset=["customer", "token_hint", "name", "client_id", "created_at"]
    )
    g = tok.groupby("customer", sort=True)
    return pd.DataFrame(
        {
            "client_id": g["client_id"].first(),
            "name": g["name"].first(),
            "token_hints": g["token_hint"].agg(lambda s: ", ".join(sorted(set(s)))),
            "active": g["active"].any(),
        }
    )


def _shown_shares(operations: pd.DataFrame, customers: pd.DataFrame) -> tuple[Any, Any]:
    """The percent shown for each operation and each customer, each set adding up to 100.0.

    Both are shares of the account's credits. The operations' are the monthly report's (the
    same hundredths through the same rule). The ``unallocated`` line is usually one whole
    operation (``unattributed``): the same figure over the same total, so it shows that
    operation's share and the customers share the rest.
    """
    op_h = operations["credits_hundredths"].to_numpy(dtype="int64")
    cust_h = customers["credits_hundredths"].to_numpy(dtype="int64")
    if not op_h.sum() or not cust_h.sum():
        return np.full(len(op_h), np.nan), np.full(len(cust_h), np.nan)
    op_shown = display_shares(op_h)
    whole = operations["unallocated_hundredths"].to_numpy(dtype="int64")
    left_out = np.flatnonzero(whole != 0)
    fixed: dict[int, float] = {}
    if (
        len(left_out) == 1
        and whole[left_out[0]] == op_h[left_out[0]]
        and np.isfinite(op_shown[left_out[0]])
        and (cust_h >= 0).all()
    ):
        position = np.flatnonzero((customers["kind"] == "unallocated").to_numpy())
        fixed = {int(position[0]): float(op_shown[left_out[0]])}
    return op_shown, display_shares(cust_h, fixed=fixed)


def allocate_credits(
    usage: pd.DataFrame,
    tokens: pd.DataFrame,
    *,
    month: str,
    mapping: Mapping[str, str] | None = None,
    prices: PriceBook | Mapping[str, float] | None = None,
    multiplier: float | None = None,
    currency: str | None = None,
    threshold: float = HEALTH_FAILED_SHARE,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Allocation:
    """Split each operation's credits in ``month`` across customers by estimated successful
    requests, billing a customer no more than its requests prove where the estimate is in doubt.

    Parameters
    ----------
    usage
        Tidy usage frame covering ``month`` (daily or monthly buckets).
    tokens
        Token-usage frame (:func:`~generect_reports.fetch.tokens.fetch_token_usage`) holding
        ``month``, and the month before it for the growth check.
    month
        ``YYYY-MM``.
    mapping
        ``{endpoint pattern: operation}``; default the bundled ``endpoint_mapping.toml``.
    prices, multiplier, currency
        The report's :class:`~generect_reports.money.PriceBook` (default the bundled one), or a
        table of list prices; ``multiplier`` and ``currency`` override the book's when given
        (a plain table is at multiplier 1).
    threshold
        Failed share above which a customer's integration is flagged.
    tolerance
        How far above the proven lower end of an operation's successful requests the estimate
        may lie, as a share of the customer's successful requests, before the customer is billed
        its lower bound on every operation and the rest is held ``UNDER_REVIEW``
        (:func:`bound_rule`).

    Returns
    -------
    Allocation
        Customers' credits plus ``unallocated`` equal the account's credits per operation in
        integer hundredths; customers' cost cents plus unallocated equal each operation's cost,
        the price book's cost line (:meth:`~generect_reports.money.PriceBook.cost_cents`),
        which is the monthly report's to the cent.
    """
    parse_month(month)
    if not 0 <= tolerance <= 1:
        raise InputError(f"the allocation tolerance must be between 0 and 1, not {tolerance}")
    for reserved in (UNALLOCATED, UNDER_REVIEW):
        if (tokens["customer"] == reserved).any():
            # A client_id that reads like a remainder row must not merge with it.
            tokens = tokens.assign(
                customer=tokens["customer"].where(
                    tokens["customer"] != reserved, reserved + " (customer)"
                )
            )
    if mapping is None:
        mapping = load_endpoint_mapping()
    book = as_price_book(prices, multiplier=multiplier, currency=currency)
    monthly = (
        to_monthly(usage) if len(usage) else pd.DataFrame(columns=["month", "operation", "credits"])
    )
    in_month = monthly[monthly["month"] == month]
    op_credits = in_month.groupby("operation", sort=True)["credits"].sum()

    tk = tokens[tokens["month"] == month]
    ops_of = map_endpoints(tk["endpoint"], mapping) if len(tk) else pd.Series([], dtype=object)
    mapped = ops_of.notna().to_numpy()
    ratio = tk["ok_ratio"].fillna(1.0).to_numpy(dtype="float64")
    reqs = tk["requests"].to_numpy(dtype="int64")
    weights = pd.DataFrame(
        {
            "customer": tk["customer"].to_numpy()[mapped],
            "operation": ops_of.to_numpy()[mapped].astype(str),
            "requests": reqs[mapped],
            "estimated_successful": reqs[mapped] * ratio[mapped],
        }
    )
    w = weights.groupby(["operation", "customer"], sort=True)[
        ["requests", "estimated_successful"]
    ].sum()
    unmapped = (
        pd.DataFrame({"endpoint": tk["endpoint"].to_numpy()[~mapped], "requests": reqs[~mapped]})
        .query("endpoint != ''")
        .groupby("endpoint", sort=True, as_index=False)["requests"]
        .sum()
    )
    unmapped = (
        unmapped[unmapped["requests"] > 0]
        .sort_values(["requests", "endpoint"], ascending=[False, True], kind="mergesort")
        .reset_index(drop=True)
    )

    customers = sorted(set(tokens.loc[tokens["month"] == month, "customer"]))
    operations = sorted(set(op_credits.index) | set(weights["operation"]))
    hundredths = pd.Series(
        to_hundredths(op_credits.reindex(operations, fill_value=0.0).to_numpy()), index=operations
    )
    price = pd.Series(operations, index=operations, dtype=object).map(book.unit_prices)
    price = price.fillna(0.0).astype("float64")
    # One cent rounding per operation, by the price book, of the credits the split ties to: the
    # report's cost line for the operation, to the cent.
    cents = pd.Series(
        book.costs_cents(np.asarray(operations, dtype=object), hundredths.to_numpy() / 100),
        index=operations,
        dtype="int64",
    )
    health = integration_health(tokens, month=month, threshold=threshold).set_index("customer")
    ok = health["successful"].reindex(customers, fill_value=0).to_numpy(dtype="int64")
    bad = health["failed"].reindex(customers, fill_value=0).to_numpy(dtype="int64")
    n = len(customers)
    # Requests and estimates per operation (rows) and customer (columns).
    req = np.zeros((len(operations), n), dtype="int64")
    est_all = np.zeros((len(operations), n), dtype="float64")
    for i, op in enumerate(operations):
        if op in w.index.get_level_values(0):
            ww = w.loc[op].reindex(customers, fill_value=0)
            req[i] = ww["requests"].to_numpy(dtype="int64")
            est_all[i] = ww["estimated_successful"].to_numpy(dtype="float64")
    lower, upper = successful_range(req, ok, bad)
    lower = np.minimum(lower, est_all)  # never above the estimate (status counts may fall short)
    # A customer is billed its proven lower bound when, on an operation with credits, its
    # estimate lies beyond the tolerance above that bound.
    priced = np.array([op != UNATTRIBUTED and hundredths[op] != 0 for op in operations])
    gap = (est_all - lower) * priced[:, None] if len(operations) else est_all
    bounded = (gap > tolerance * ok[None, :] + 1e-9).any(axis=0) if len(operations) else gap
    billed_w = np.where(bounded[None, :], lower, est_all) if n else est_all
    held_w = est_all - billed_w
    parties = customers + [UNDER_REVIEW, UNALLOCATED]
    blocks: list[pd.DataFrame] = []
    held_parts: list[np.ndarray] = []
    for i, op in enumerate(operations):
        total = int(hundredths[op])
        est = est_all[i]
        parts = np.zeros(n + 2, dtype="int64")
        held = np.zeros(n, dtype="int64")
        if op != UNATTRIBUTED and est.sum() > 0:
            # One split over each customer's billed part and its held-back part, so billing a
            # customer its lower bound moves nothing onto the others.
            split = largest_remainder(total, np.concatenate([billed_w[i], held_w[i]]))
            parts[:n], held = split[:n], split[n:]
            parts[n] = int(held.sum())
        else:
            parts[n + 1] = total
        held_parts.append(held)
        money = np.zeros(n + 2, dtype="int64")
        if np.abs(parts).sum() > 0:
            money = largest_remainder(int(cents[op]), np.abs(parts).astype("float64"))
        else:
            money[n + 1] = int(cents[op])
        blocks.append(
            pd.DataFrame(
                {
                    "customer": parties,
                    "operation": op,
                    "requests": np.append(req[i], [0, 0]),
                    "estimated_successful": np.append(est, [0.0, 0.0]),
                    "credits_hundredths": parts,
                    "cost_cents": money,
                    "share": parts / total if total else np.full(n + 2, np.nan),
                }
            )
        )
    review_rows = [
        {
            "customer": customers[j],
            "operation": op,
            "requests": int(req[i, j]),
            "lower_successful": int(lower[i, j]),
            "upper_successful": int(upper[i, j]),
            "estimated_successful": float(est_all[i, j]),
            "credits_hundredths": int(held_parts[i][j]),
        }
        for j in np.flatnonzero(bounded if n else [])
        for i, op in enumerate(operations)
        if req[i, j] > 0 and priced[i]
    ]
    reviews = (
        pd.DataFrame(review_rows).assign(credits=lambda d: d["credits_hundredths"] / 100)[
            list(_REVIEW_COLUMNS)
        ]
        if review_rows
        else _empty_reviews()
    )
    cols = [
        "customer",
        "operation",
        "requests",
        "estimated_successful",
        "credits",
        "share",
        "estimated_cost",
        "credits_hundredths",
        "cost_cents",
    ]
    if blocks:
        lines = pd.concat(blocks, ignore_index=True)
    else:
        lines = pd.DataFrame(
            {c: pd.Series(dtype=str if c in ("customer", "operation") else "float64") for c in cols}
        )
        lines[["requests", "credits_hundredths", "cost_cents"]] = lines[
            ["requests", "credits_hundredths", "cost_cents"]
        ].astype("int64")
    keep = (lines["credits_hundredths"] != 0) | (lines["cost_cents"] != 0) | (lines["requests"] > 0)
    lines = lines[keep].copy()
    lines["credits"] = lines["credits_hundredths"] / 100
    lines["estimated_cost"] = lines["cost_cents"] / 100
    lines["is_unallocated"] = lines["customer"].map({UNDER_REVIEW: 1, UNALLOCATED: 2}).fillna(0)
    lines = lines.sort_values(["is_unallocated", "customer", "operation"], kind="mergesort")
    lines = lines[cols].reset_index(drop=True)

    ops_table = pd.DataFrame(
        {
            "operation": pd.Series(operations, dtype=str),
            "credits": hundredths.to_numpy() / 100,
            "credits_hundredths": hundredths.to_numpy(dtype="int64"),
            "price": price.to_numpy(),
            "estimated_cost": cents.to_numpy() / 100,
            "cost_cents": cents.to_numpy(dtype="int64"),
        }
    )
    un = lines[lines["customer"] == UNALLOCATED].set_index("operation")
    ops_table["unallocated_hundredths"] = (
        un["credits_hundredths"].reindex(operations, fill_value=0).to_numpy(dtype="int64")
    )
    held_back = lines[lines["customer"] == UNDER_REVIEW].set_index("operation")
    ops_table["review_hundredths"] = (
        held_back["credits_hundredths"].reindex(operations, fill_value=0).to_numpy(dtype="int64")
    )
    ops_table["allocated_hundredths"] = (
        ops_table["credits_hundredths"]
        - ops_table["unallocated_hundredths"]
        - ops_table["review_hundredths"]
    )

    ident = _identity(tokens[tokens["month"] == month])
    per = lines.groupby("customer", sort=True)[["credits_hundredths", "cost_cents"]].sum()
    total_h = int(hundredths.sum())
    summary = pd.DataFrame(index=pd.Index(customers, name="customer"))
    summary = summary.join(ident).join(health).join(per)
    summary[["credits_hundredths", "cost_cents"]] = (
        summary[["credits_hundredths", "cost_cents"]].fillna(0).astype("int64")
    )
    for col in ("requests", "successful", "failed"):
        summary[col] = summary[col].fillna(0).astype("int64")
    summary["flagged"] = summary["flagged"].fillna(False).astype(bool)
    summary["flags"] = summary["flags"].fillna("").astype(str)
    summary["kind"] = "customer"
    by_customer = dict(zip(customers, bounded.tolist() if n else []))
    summary["billing"] = [
        "lower bound" if by_customer.get(c) else "estimate" for c in summary.index
    ]
    held_by = (
        reviews.groupby("customer")["credits_hundredths"].sum()
        if len(reviews)
        else pd.Series(dtype="int64")
    )
    summary["under_review_hundredths"] = held_by.reindex(summary.index, fill_value=0).to_numpy(
        dtype="int64"
    )
    bound_text = pd.Series(
        [
            f"billed its proven lower bound, {h / 100:,.2f} credits under review"
            if how == "lower bound"
            else ""
            for how, h in zip(summary["billing"], summary["under_review_hundredths"])
        ],
        index=summary.index,
        dtype=str,
    )
    joiner = np.where((summary["flags"] != "") & (bound_text != ""), "; ", "")
    summary["flags"] = summary["flags"] + joiner + bound_text
    summary["flagged"] = summary["flagged"] | (bound_text != "")
    summary = summary.reset_index()
    summary = summary.sort_values(
        ["credits_hundredths", "requests", "customer"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    un_row = pd.DataFrame(
        [
            {
                "customer": party,
                "client_id": None,
                "name": None,
                "token_hints": "",
                "active": False,
                "requests": 0,
                "successful": 0,
                "failed": 0,
                "failed_share": np.nan,
                "previous_failed": np.nan,
                "flagged": False,
                "flags": "",
                "kind": kind,
                "billing": "",
                "under_review_hundredths": 0,
                "credits_hundredths": int(per["credits_hundredths"].get(party, 0)),
                "cost_cents": int(per["cost_cents"].get(party, 0)),
            }
            for party, kind in ((UNDER_REVIEW, "under_review"), (UNALLOCATED, "unallocated"))
            if party == UNALLOCATED or int(per["credits_hundredths"].get(party, 0))
        ]
    )
    summary = pd.concat([summary, un_row], ignore_index=True)
    summary["credits"] = summary["credits_hundredths"] / 100
    summary["share"] = summary["credits_hundredths"] / total_h if total_h else np.nan
    ops_table["share_display"], summary["share_display"] = _shown_shares(ops_table, summary)
    summary["estimated_cost"] = summary["cost_cents"] / 100
    summary = summary[
        [
            "customer",
            "kind",
            "client_id",
            "name",
            "token_hints",
            "active",
            "requests",
            "successful",
            "failed",
            "failed_share",
            "previous_failed",
            "credits",
            "share",
            "share_display",
            "estimated_cost",
            "credits_hundredths",
            "cost_cents",
            "flagged",
            "flags",
            "billing",
            "under_review_hundredths",
        ]
    ]
    summary["under_review_credits"] = summary["under_review_hundredths"] / 100

    notes: list[str] = []
    if not len(tk):
        notes.append(f"No token analytics for {month}: every credit is unallocated.")
    untouched = [
        op
        for op in operations
        if op != UNATTRIBUTED
        and hundredths[op] != 0
        and int(ops_table.set_index("operation").at[op, "unallocated_hundredths"]) == hundredths[op]
    ]
    if untouched:
        notes.append("No customer's requests map to: " + ", ".join(untouched) + " (unallocated).")
    if UNATTRIBUTED in operations and hundredths[UNATTRIBUTED]:
        notes.append("Unattributed platform charges are not caused by any token (unallocated).")
    if len(unmapped):
        notes.append(
            f"{int(unmapped['requests'].sum()):,} requests went to endpoints that map to no "
            "operation and did not move credits: "
            + ", ".join(unmapped["endpoint"].head(5))
            + (" and others" if len(unmapped) > 5 else "")
            + "."
        )
    for who in [c for c in customers if by_customer.get(c)]:
        mine = reviews[reviews["customer"] == who]
        held_h = int(mine["credits_hundredths"].sum())
        ranges = "; ".join(
            f"{r.operation} {r.lower_successful:,} to {r.upper_successful:,} "
            f"(estimate {r.estimated_successful:,.0f})"
            for r in mine.itertuples(index=False)
            if r.credits_hundredths
        )
        notes.append(
            f"{who} is billed its proven lower bound: its estimate lies more than "
            f"{tolerance:.0%} of its successful requests above what its requests prove; "
            f"{held_h / 100:,.2f} credits are held as {UNDER_REVIEW!r}. Successful requests "
            f"lie between: {ranges}."
        )
    per_op = (
        lines.groupby("operation")["credits_hundredths"].sum().reindex(operations, fill_value=0)
    )
    tied = bool((per_op.to_numpy() == hundredths.to_numpy()).all())
    windows = tokens.attrs.get("windows", {}) or {}
    window = tuple(windows[month]) if month in windows else None
    return Allocation(
        month=month,
        timezone=str(tokens.attrs.get("timezone", usage.attrs.get("timezone", "UTC"))),
        source=str(usage.attrs.get("source", tokens.attrs.get("source", "api"))),
        currency=book.currency,
        lines=lines,
        customers=summary.reset_index(drop=True),
        operations=ops_table,
        unmapped=unmapped,
        window=window,
        threshold=threshold,
        notes=notes,
        tied=tied,
        reviews=reviews,
        tolerance=tolerance,
    )
