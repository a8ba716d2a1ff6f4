"""The account's position from ``/api/v1/accounts/me/``: plan, balance, month to date, plan limit.

``/me/`` also returns the account's email and name. They are personal data: the parser drops
them, so they never reach a log, a cache or an exception. Only a caller that asks for an account
label (``label=True``) keeps the name, for a report title; it is still left out of ``repr``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import MalformedResponseError
from .usage import _number

if TYPE_CHECKING:
    from .client import GenerectClient

__all__ = [
    "AccountStatus",
    "parse_account",
    "fetch_account",
    "load_sample_account",
    "sample_snapshot",
    "sample_balance_history",
    "sample_limit_history",
]

log = logging.getLogger(__name__)

#: ``used_this_month`` counts the API's own calendar month; the API does not say in which
#: timezone, so we name the month as UTC sees it at the time of the request.
API_MONTH_TIMEZONE = "UTC"


@dataclass(frozen=True)
class AccountStatus:
    """The account's position as ``/me/`` reported it (today's values only).

    ``monthly_limit`` is None when the plan has no limit (missing or zero in the response).
    ``used_this_month`` is the API's own month: see :attr:`api_month`.
    """

    plan: str
    balance: float
    used_this_month: float
    monthly_limit: float | None
    preview_tier: bool | None
    fetched_at: pd.Timestamp
    source: str = "api"
    #: The account name, only when the caller asked for a report label; never logged.
    label: str | None = field(default=None, repr=False, compare=False)

    @property
    def api_month(self) -> str:
        """'YYYY-MM' of the month ``used_this_month`` refers to (the API's month, in UTC)."""
        ts = pd.Timestamp(self.fetched_at)
        ts = (
            ts.tz_localize(API_MONTH_TIMEZONE)
            if ts.tzinfo is None
            else ts.tz_convert(API_MONTH_TIMEZONE)
        )
        return f"{ts.year:04d}-{ts.month:02d}"

    @property
    def limit_share(self) -> float | None:
        """``used_this_month`` ÷ ``monthly_limit``; None without a limit."""
        return None if self.monthly_limit is None else self.used_this_month / self.monthly_limit

    def to_dict(self) -> dict[str, Any]:
        """The position as plain values (no personal data), for JSON output."""
        return {
            "plan": self.plan,
            "balance": self.balance,
            "used_this_month": self.used_this_month,
            "used_this_month_refers_to": self.api_month,
            "used_this_month_timezone": API_MONTH_TIMEZONE,
            "monthly_limit": self.monthly_limit,
            "limit_is": "current plan limit",
            "preview_tier": self.preview_tier,
            "fetched_at": pd.Timestamp(self.fetched_at),
            "source": self.source,
        }


def parse_account(
    data: Mapping[str, Any], *, fetched_at: Any = None, source: str = "api", label: bool = False
) -> AccountStatus:
    """Validate one ``/me/`` ``data`` object into an :class:`AccountStatus`.

    Parameters
    ----------
    data
        The response's ``data`` object.
    fetched_at
        When it was fetched (default now, UTC); fixes which month ``used_this_month`` means.
    label
        Keep the account's name as :attr:`AccountStatus.label` (for a report title).

    Raises
    ------
    MalformedResponseError
        ``plan`` not a string, ``credits`` not an object, a missing or non-numeric balance or
        ``used_this_month``, a negative ``used_this_month`` or limit, a non-boolean
        ``preview_tier``. Messages never quote the email or the name.
    """
    if not isinstance(data, Mapping):
        raise MalformedResponseError("malformed response: 'data' is not an object")
    plan = data.get("plan")
    if not isinstance(plan, str) or not plan.strip():
        raise MalformedResponseError("malformed response: 'plan' is missing or not a string")
    credits = data.get("credits")
    if not isinstance(credits, Mapping):
        raise MalformedResponseError("malformed response: 'credits' is missing or not an object")
    for key in ("balance", "used_this_month"):
        if key not in credits:
            raise MalformedResponseError(f"malformed response: 'credits.{key}' is missing")
    balance = _number(credits["balance"], "credits.balance")  # may be negative (overdraft)
    used = _number(credits["used_this_month"], "credits.used_this_month")
    if used < 0:
        raise MalformedResponseError("malformed response: 'credits.used_this_month' is negative")
    raw_limit = credits.get("monthly_limit")
    limit: float | None = None
    if raw_limit is not None:
        limit = _number(raw_limit, "credits.monthly_limit")
        if limit < 0:
            raise MalformedResponseError("malformed response: 'credits.monthly_limit' is negative")
        limit = limit or None  # zero means "no limit", never a division by zero
    tier = data.get("preview_tier")
    if tier is not None and not isinstance(tier, bool):
        raise MalformedResponseError("malformed response: 'preview_tier' is not true or false")
    name = data.get("name") if label else None
    ts = pd.Timestamp.now(tz="UTC").floor("s") if fetched_at is None else pd.Timestamp(fetched_at)
    return AccountStatus(
        plan=plan.strip(),
        balance=balance,
        used_this_month=used,
        monthly_limit=limit,
        preview_tier=tier,
        fetched_at=ts,
        source=source,
        label=name.strip() if isinstance(name, str) and name.strip() else None,
    )


def fetch_account(client: GenerectClient | None = None, *, label: bool = False) -> AccountStatus:
    """``GET /api/v1/accounts/me/`` as an :class:`AccountStatus` (retries and errors as for usage).

    Parameters
    ----------
    client
        A :class:`~generect_reports.fetch.client.GenerectClient`; by default one from the
        environment.
    label
        Keep the account's name for a report title (it is never logged).
    """
    from .client import GenerectClient

    own = client is None
    client = client or GenerectClient()
    try:
        fetched_at = pd.Timestamp.now(tz="UTC").floor("s")
        data = client.me()
    finally:
        if own:
            client.close()
    status = parse_account(data, fetched_at=fetched_at, label=label)
    log.info(
        "account: plan %s, balance %.2f, used %.2f in %s",
        status.plan,
        status.balance,
        status.used_this_month,
        status.api_month,
    )
    return status


# --- the bundled sample --------------------------------------------------------------------------


def _sample_profile() -> dict[str, Any]:
    from .._resources import data_file

    with data_file("sample_account.json").open("rb") as fh:
        profile: dict[str, Any] = json.load(fh)
    return profile


def load_sample_account(*, as_of: Any = None) -> AccountStatus:
    """The sample account's ``/me/`` answer at ``as_of``, through the same parser as the API's.

    Parameters
    ----------
    as_of
        An instant (a naive time is read in the sample's timezone); default the sample's as-of
        time, when its usage, ledger and token analytics end, so every figure of the sample
        describes one moment.

    The position is derived from the rest of the sample, so it tells the same story: the
    balance is every top-up and every settled or still reserved charge of the sample ledger
    before ``as_of`` (``/me/`` subtracts pending charges), ``used_this_month`` the sample usage
    of the API's month (:attr:`AccountStatus.api_month`) before the day of ``as_of``, and the
    limit the one the plan had that month. ``data/sample_account.json`` records one such
    snapshot (22 October 2026), which the tests check this derivation against.
    """
    from .ledger import SampleLedgerSource
    from .usage import SampleUsageData, sample_as_of

    profile = _sample_profile()
    zone = str(profile["timezone"])
    at = sample_as_of() if as_of is None else pd.Timestamp(as_of)
    at = at.tz_localize(zone) if at.tzinfo is None else at.tz_convert(zone)
    ledger = SampleLedgerSource.table()
    moved = (ledger["ts"] < at) & ledger["status"].isin(["success", "pending"])
    api_month = at.tz_convert(API_MONTH_TIMEZONE).strftime("%Y-%m")
    days = SampleUsageData.daily()
    in_month = (days["date"].dt.strftime("%Y-%m") == api_month) & (
        days["date"] < pd.Timestamp(at.date())
    )
    limits = {str(k): float(v) for k, v in profile["limit_from"].items()}
    started = [m for m in sorted(limits) if m <= api_month]
    data = {
        "plan": profile["plan"],
        "credits": {
            "balance": round(float(ledger.loc[moved, "credits"].sum()), 2),
            "used_this_month": round(float(days.loc[in_month, "credits"].sum()), 2),
            "monthly_limit": limits[started[-1]] if started else None,
        },
        "preview_tier": profile.get("preview_tier"),
    }
    return parse_account(data, fetched_at=at, source="sample")


def sample_snapshot() -> AccountStatus:
    """The ``/me/`` snapshot recorded in ``data/sample_account.json`` (22 October 2026), as parsed
    from the file: what :func:`load_sample_account` gives at that instant."""
    profile = _sample_profile()
    fetched_at = pd.Timestamp(profile["as_of"]).tz_convert(profile["timezone"])
    return parse_account(profile, fetched_at=fetched_at, source="sample")


def sample_limit_history() -> dict[str, float]:
    """The sample plan's limit history, ``{"YYYY-MM": limit}`` from that month on."""
    return {str(k): float(v) for k, v in _sample_profile()["limit_from"].items()}


def sample_balance_history() -> pd.DataFrame:
    """The sample balance: ``date``, ``type`` (``opening_balance``, ``top_up``, ``usage``,
    ``usage_to_date``), ``credits`` (signed) and ``balance`` after the event; the top-up on the
    1st of each month and each month's usage add up to the sample usage."""
    rows = _sample_profile()["balance_history"]
    frame = pd.DataFrame(rows, columns=["date", "type", "credits", "balance"])
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["type"] = frame["type"].astype(str)
    frame["credits"] = frame["credits"].astype("float64")
    frame["balance"] = frame["balance"].astype("float64")
    frame.attrs.update({"source": "sample", "timezone": _sample_profile()["timezone"]})
    return frame
