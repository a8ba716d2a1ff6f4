"""Where the data comes from, chosen once: :func:`open_source` gives a :class:`Source`, the live
API (:class:`~generect_reports.fetch.api.ApiSource`) or the bundled sample
(:class:`~generect_reports.fetch.sample.SampleSource`), and everything above this layer asks it.

A source answers the questions the reports ask, each as the tidy frames of the fetch layer:
usage by a report's fetch plan, usage for a date range, a month's ledger, the account's
position, and token analytics. It also says what "now" is for it: the clock for the API, the
one instant the sample was taken at. Nothing outside this module chooses between the two.
"""

from __future__ import annotations

import abc
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .. import periods as P
from ..errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..accounts import AccountSpec
    from .account import AccountStatus
    from .client import GenerectClient
    from .ledger import LedgerInputs
    from .multi import MultiSource
    from .plan import ReportUsage, UsagePlan

__all__ = ["Source", "BaseSource", "open_source", "open_sources"]


@runtime_checkable
class Source(Protocol):
    """What the reports need from a data source.

    Attributes
    ----------
    kind
        ``"api"`` or ``"sample"``; frames say the same in ``attrs["source"]``.
    timezone
        The IANA zone every day bucket is cut in.
    offline
        True when every answer is local (no request is sent): optional report sections then
        cost nothing and are on by default.
    any_timezone
        True when :meth:`in_timezone` accepts any zone (the sample exists in its own only).
    refreshable
        True when closed periods are cached and can be fetched again to find restatements.
    """

    kind: str
    timezone: str
    offline: bool
    any_timezone: bool
    refreshable: bool

    def now(self) -> pd.Timestamp:
        """The instant the data is complete up to, in :attr:`timezone`."""
        ...

    def today(self) -> dt.date:
        """The local date of :meth:`now`: the first day that is not complete."""
        ...

    def plan_usage(self, plan: UsagePlan) -> ReportUsage:
        """The daily and monthly usage of a fetch plan."""
        ...

    def report_usage(self, month: str | P.Month, history: int) -> ReportUsage:
        """The daily and monthly usage a report of ``month`` with ``history`` months needs, by
        its fetch plan as of :meth:`today`."""
        ...

    def usage(
        self,
        start: str | dt.date,
        end: str | dt.date,
        *,
        period: str = "day",
        refresh: bool = False,
    ) -> pd.DataFrame:
        """The tidy usage frame of inclusive local dates (an end after the data is clipped);
        ``refresh`` fetches cached closed buckets again and keeps what changed."""
        ...

    def ledger(self, month: str | P.Month, *, refresh: bool = False) -> LedgerInputs:
        """The month's ledger with its balances and anchor."""
        ...

    def ledger_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """The ledger of inclusive local dates ``start`` to ``end`` as one tidy frame (what the
        valuation of prepaid credits reads, from its first purchase on)."""
        ...

    def purchases(self) -> list[dict[str, str]] | None:
        """Rows of the source's own purchases file (the sample's invoices), or None: what values
        the credits when the ``[money]`` table names neither purchases nor a rate."""
        ...

    def account(self, *, label: bool = False) -> AccountStatus:
        """The account's position at :meth:`now` (plan, balance, month to date, limit)."""
        ...

    def limit_history(self) -> dict[str, float] | None:
        """The plan limit by month (``{"YYYY-MM": limit}`` from that month on), when known."""
        ...

    def tokens(self, start: str | dt.date, end: str | dt.date) -> pd.DataFrame:
        """Token analytics of the whole months from ``start`` to ``end``."""
        ...

    def settled(self, first: dt.date, last: dt.date) -> bool:
        """True when the figures of these dates can no longer change."""
        ...

    def remember_reported(
        self,
        month: str | P.Month,
        figures: Mapping[str, Mapping[str, int]],
        *,
        closed: bool,
        refresh: bool = False,
    ) -> list[dict[str, Any]]:
        """Keep a closed month's reported figures; return how they differ from the ones kept
        when it was last reported (only asked for with ``refresh``)."""
        ...

    def in_timezone(self, timezone: str) -> Source:
        """The same source with day buckets in ``timezone``."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...

    def __enter__(self) -> Source: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class BaseSource(abc.ABC):
    """What every source does the same way: the report's plan from :meth:`today`, the context
    manager. Each source says its own :meth:`now` and answers its own plan."""

    timezone: str

    @abc.abstractmethod
    def now(self) -> pd.Timestamp: ...

    @abc.abstractmethod
    def plan_usage(self, plan: UsagePlan) -> ReportUsage: ...

    def today(self) -> dt.date:
        return self.now().date()

    def report_usage(self, month: str | P.Month, history: int) -> ReportUsage:
        from .plan import report_plan

        return self.plan_usage(report_plan(month, history, today=self.today()))

    def purchases(self) -> list[dict[str, str]] | None:
        """Rows of the account's own purchases file, when the source has one (the sample)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional: only a source with connections overrides it
        """Nothing to release unless a source says otherwise."""

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_SAMPLE_IS_ONE = "--sample is one account: leave out --account, --tag and --all-accounts"


def open_source(
    *,
    sample: bool,
    api_url: str | None = None,
    timezone: str | None = None,
    no_cache: bool = False,
    client: GenerectClient | None = None,
    progress: bool | None = None,
    token: str | None = None,
    account: str | None = None,
) -> Source:
    """The one place the sample or the API is chosen (:func:`open_sources` for many accounts).

    Parameters
    ----------
    sample
        True for the bundled sample account (no token, no network), False for the API.
    api_url
        The API's base URL (default ``$GENERECT_API_URL`` or the public API); every request of
        the source goes there.
    timezone
        IANA zone of the day buckets (default UTC for the API, the sample's own zone for the
        sample, which refuses any other).
    no_cache
        Neither read nor write the cache of closed periods.
    client
        A :class:`~generect_reports.fetch.client.GenerectClient` to use (and leave open).
    progress
        Progress bars on stderr (default: when stderr is a terminal).
    token
        The account's token (default ``$GENERECT_API_TOKEN``).
    account
        The configured account ``token`` belongs to (the sample is no configured account).

    Raises
    ------
    InvalidTimezone, InputError
        An unknown zone, or a zone the sample cannot take.
    MissingTokenError
        The API without ``GENERECT_API_TOKEN`` (checked here, before any request).
    """
    if sample:
        if account is not None:
            raise InputError(_SAMPLE_IS_ONE)
        from .sample import SampleSource

        return SampleSource(timezone=timezone)
    from .api import ApiSource

    return ApiSource(
        api_url=api_url,
        timezone=timezone,
        no_cache=no_cache,
        client=client,
        progress=progress,
        token=token,
    )


def open_sources(
    accounts: Sequence[AccountSpec],
    *,
    sample: bool = False,
    api_url: str | None = None,
    timezone: str | None = None,
    no_cache: bool = False,
    environ: Mapping[str, str] | None = None,
    max_connections: int | None = None,
    progress: bool | None = None,
    history: str | os.PathLike[str] | None = None,
) -> MultiSource:
    """Several configured accounts as one :class:`~generect_reports.fetch.multi.MultiSource`,
    each through its own API source and token (every variable checked before any request),
    sharing one cap of ``max_connections`` requests in flight (see
    :func:`~generect_reports.fetch.multi.open_accounts`). With ``history`` (the folder of a
    history store), reports read the closed months the store holds from it and ask the API
    only for the rest."""
    from .multi import open_accounts

    if sample:
        raise InputError(_SAMPLE_IS_ONE)
    return open_accounts(
        accounts,
        timezone=timezone,
        api_url=api_url,
        no_cache=no_cache,
        environ=environ,
        max_connections=max_connections,
        progress=progress,
        history=history,
    )
