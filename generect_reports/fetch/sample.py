"""The bundled sample account as a :class:`~generect_reports.fetch.source.Source`: usage, ledger,
account and token analytics, all as of one instant.

The sample was taken at :data:`~generect_reports.fetch.usage.SAMPLE_AS_OF` (local midnight when
its last day, 31 October 2026, ended): its usage, token analytics and ledger end there, the
ledger's balance anchor is ``/me/`` at that instant, and the account's position is derived at it.
Every command therefore sees the same "now" for the sample.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import periods as P
from ..errors import InputError
from .source import BaseSource

if TYPE_CHECKING:
    import pandas as pd

    from .account import AccountStatus
    from .ledger import LedgerInputs
    from .plan import ReportUsage, UsagePlan

__all__ = ["SampleSource"]


class SampleSource(BaseSource):
    """The sample account (no token, no network), recorded in :data:`P.SAMPLE_TIMEZONE` only."""

    kind = "sample"
    offline = True
    any_timezone = False
    refreshable = False

    def __init__(self, *, timezone: str | None = None, as_of: Any = None) -> None:
        self.timezone = timezone or P.SAMPLE_TIMEZONE
        P.get_timezone(self.timezone)
        if self.timezone != P.SAMPLE_TIMEZONE:
            raise InputError(
                f"the sample data is recorded in {P.SAMPLE_TIMEZONE}; "
                f"timezone {self.timezone!r} cannot be applied to it"
            )
        import pandas as pd

        from .usage import sample_as_of

        last = sample_as_of()
        # An earlier instant looks at the sample as it stood then (days complete by then only).
        at = last if as_of is None else pd.Timestamp(as_of)
        at = at.tz_localize(self.timezone) if at.tzinfo is None else at.tz_convert(self.timezone)
        if not at <= last:
            raise InputError(f"the sample ends at {last.isoformat()}; it cannot be seen at {at}")
        self._as_of = at

    def __repr__(self) -> str:
        return f"SampleSource(as_of={self._as_of.isoformat()!r})"

    def now(self) -> pd.Timestamp:
        return self._as_of

    def plan_usage(self, plan: UsagePlan) -> ReportUsage:
        from .plan import load_sample_plan_usage

        return load_sample_plan_usage(plan, timezone=self.timezone)

    def usage(
        self,
        start: str | dt.date,
        end: str | dt.date,
        *,
        period: str = "day",
        refresh: bool = False,
    ) -> pd.DataFrame:
        from .usage import load_sample, sample_as_of

        if self._as_of < sample_as_of():
            complete = (self._as_of - dt.timedelta(microseconds=1)).date()
            end = min(dt.date.fromisoformat(str(end)), complete)
        return load_sample(start, end, period=period, timezone=self.timezone)

    def ledger(self, month: str | P.Month, *, refresh: bool = False) -> LedgerInputs:
        from .ledger import load_sample_ledger

        return load_sample_ledger(str(P.Month.parse(month)), timezone=self.timezone)

    def ledger_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        from .ledger import SampleLedgerSource, fetch_transactions

        client = SampleLedgerSource()
        return fetch_transactions(
            start,
            end,
            timezone=self.timezone,
            client=client,
            cache=False,
            upper=self._as_of.to_pydatetime(),
            page_size=client.max_limit,
            progress=False,
        )

    def purchases(self) -> list[dict[str, str]] | None:
        from .purchases import read_sample_purchases

        return read_sample_purchases()

    def account(self, *, label: bool = False) -> AccountStatus:
        from .account import load_sample_account

        return load_sample_account(as_of=self._as_of)

    def limit_history(self) -> dict[str, float] | None:
        from .account import sample_limit_history

        return sample_limit_history()

    def tokens(self, start: str | dt.date, end: str | dt.date) -> pd.DataFrame:
        from .tokens import load_sample_tokens

        return load_sample_tokens(start, end, timezone=self.timezone)

    def settled(self, first: dt.date, last: dt.date) -> bool:
        # The sample never changes: a day is final once it is over.
        return last < self.today()

    def remember_reported(
        self,
        month: str | P.Month,
        figures: Mapping[str, Mapping[str, int]],
        *,
        closed: bool,
        refresh: bool = False,
    ) -> list[dict[str, Any]]:
        return []  # nothing is restated in a fixed sample

    def in_timezone(self, timezone: str) -> SampleSource:
        return SampleSource(timezone=timezone, as_of=self._as_of)
