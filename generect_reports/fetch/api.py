"""The live API as a :class:`~generect_reports.fetch.source.Source`: one client (its throttle and
retries), the cache of closed periods and the request planner behind every question."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import periods as P
from .source import BaseSource

if TYPE_CHECKING:
    import pandas as pd

    from .account import AccountStatus
    from .client import GenerectClient
    from .ledger import LedgerInputs
    from .plan import ReportUsage, UsagePlan
    from .throttle import ConnectionCap

__all__ = ["ApiSource"]

log = logging.getLogger("generect_reports")


class ApiSource(BaseSource):
    """The account behind ``GENERECT_API_TOKEN``, through one :class:`GenerectClient`.

    Parameters
    ----------
    api_url
        Base URL of every request (default ``$GENERECT_API_URL`` or the public API).
    timezone
        IANA zone of the day buckets (default UTC).
    no_cache
        Neither read nor write the cache of closed periods.
    client
        A client to use and leave open; by default one is made (token and URL checked now, no
        request sent) and closed with the source.
    progress
        Progress bars on stderr (default: when stderr is a terminal).
    token
        The account's token (default ``$GENERECT_API_TOKEN``); only for the client made here.
    connections
        The run's :class:`~generect_reports.fetch.throttle.ConnectionCap`, shared by every
        account; only for the client made here.
    max_workers
        Requests in flight of the client made here (default 8).
    """

    kind = "api"
    offline = False
    any_timezone = True

    def __init__(
        self,
        *,
        api_url: str | None = None,
        timezone: str | None = None,
        no_cache: bool = False,
        client: GenerectClient | None = None,
        progress: bool | None = None,
        token: str | None = None,
        connections: ConnectionCap | None = None,
        max_workers: int = 8,
    ) -> None:
        from .client import GenerectClient

        self.timezone = timezone or "UTC"
        P.get_timezone(self.timezone)
        self._own_client = client is None
        self.client = client or GenerectClient(
            token, base_url=api_url, connections=connections, max_workers=max_workers
        )
        self.no_cache = no_cache
        self.refreshable = not no_cache  # restatements are found in the cache
        self.progress = progress

    @property
    def base_url(self) -> str:
        return str(self.client.base_url)

    def __repr__(self) -> str:
        return f"ApiSource(base_url={self.base_url!r}, timezone={self.timezone!r})"

    def now(self) -> pd.Timestamp:
        import pandas as pd

        return pd.Timestamp.now(tz=self.timezone)

    def plan_usage(self, plan: UsagePlan) -> ReportUsage:
        from .plan import fetch_plan_usage

        usage = fetch_plan_usage(
            plan,
            timezone=self.timezone,
            client=self.client,
            cache=not self.no_cache,
            progress=self.progress,
        )
        log.info(
            "usage: %d day(s), %d month(s), %d request(s) sent",
            usage.daily["period"].nunique(),
            usage.monthly["period"].nunique(),
            usage.daily.attrs.get("requests", 0),
        )
        return usage

    def usage(
        self,
        start: str | dt.date,
        end: str | dt.date,
        *,
        period: str = "day",
        refresh: bool = False,
    ) -> pd.DataFrame:
        from .ledger import RefreshCache
        from .usage import fetch_usage

        cache: Any = False if self.no_cache else (RefreshCache() if refresh else True)
        try:
            return fetch_usage(
                start,
                end,
                period=period,
                timezone=self.timezone,
                client=self.client,
                cache=cache,
                progress=self.progress,
            )
        finally:
            if not isinstance(cache, bool):
                cache.close()

    def ledger(self, month: str | P.Month, *, refresh: bool = False) -> LedgerInputs:
        from .ledger import ledger_for_month

        return ledger_for_month(
            str(P.Month.parse(month)),
            timezone=self.timezone,
            client=self.client,
            cache=not self.no_cache,
            refresh=refresh,
            progress=self.progress,
        )

    def ledger_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        from .ledger import fetch_transactions

        return fetch_transactions(
            start,
            end,
            timezone=self.timezone,
            client=self.client,
            cache=not self.no_cache,
            progress=self.progress,
        )

    def account(self, *, label: bool = False) -> AccountStatus:
        from .account import fetch_account

        return fetch_account(self.client, label=label)

    def limit_history(self) -> dict[str, float] | None:
        return None  # /me/ tells only today's limit

    def tokens(self, start: str | dt.date, end: str | dt.date) -> pd.DataFrame:
        from .tokens import fetch_token_usage

        return fetch_token_usage(
            start,
            end,
            timezone=self.timezone,
            client=self.client,
            cache=not self.no_cache,
            progress=self.progress,
        )

    def settled(self, first: dt.date, last: dt.date) -> bool:
        # Charges settle late: a period is final once it ended CLOSED_AFTER_DAYS ago.
        return P.is_closed(P.Bucket(first, last, ""), P.get_timezone(self.timezone))

    def remember_reported(
        self,
        month: str | P.Month,
        figures: Mapping[str, Mapping[str, int]],
        *,
        closed: bool,
        refresh: bool = False,
    ) -> list[dict[str, Any]]:
        from .ledger import restate_reported

        return restate_reported(
            not self.no_cache,
            self.client.account_key,
            str(P.Month.parse(month)),
            self.timezone,
            figures,
            refresh=refresh,
            closed=closed,
        )

    def in_timezone(self, timezone: str) -> ApiSource:
        return ApiSource(
            timezone=timezone, no_cache=self.no_cache, client=self.client, progress=self.progress
        )

    def release_idle(self) -> None:
        """Close the connections kept alive for reuse (the client opens new ones if asked
        again): an account that has answered holds none while the others run."""
        if self._own_client:
            self.client.close()

    def close(self) -> None:
        if self._own_client:
            self.client.close()
