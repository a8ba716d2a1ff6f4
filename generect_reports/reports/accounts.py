"""The commands of one account, run across many: every account's own result, built once by the
same library call the one-account command makes (:func:`~.assemble.account_status`,
:func:`~.assemble.reconciliation`, :func:`~.assemble.chargeback`), each with that account's own
settings (its ``[budget]`` and ``[money]``), and the accounts that failed.

An account that fails never sinks the others: it is listed with its one-line error and exit
code, and the result says it is partial (:attr:`AcrossAccounts.complete` is False). Combined
totals are sums of the accounts' own figures in integer hundredths (credits) or cents (money),
so they add up to what each account's own output shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from generect_reports.periods import Month

if TYPE_CHECKING:
    from generect_reports.analysis.budget import Crossing
    from generect_reports.fetch.source import MultiSource, Source
    from generect_reports.reports.assemble import (
        Chargeback,
        Reconciled,
        ReportSettings,
        StatusReport,
    )

__all__ = [
    "AcrossAccounts",
    "statuses",
    "reconciliations",
    "chargebacks",
    "partial_note",
]

T = TypeVar("T")


def partial_note(failed: Sequence[Mapping[str, Any]], total: int) -> str:
    """``partial: 2 of 10 accounts failed (acct2, acct5)``: what every partial output says."""
    names = ", ".join(str(f["account"]) for f in failed)
    return f"partial: {len(failed)} of {total} accounts failed ({names})"


@dataclass(frozen=True)
class AcrossAccounts(Generic[T]):
    """One command's results across accounts.

    ``results`` holds the result of every account that answered, in configuration order;
    ``accounts`` every account asked (configuration order); ``failed`` the accounts that could
    not be read (``account``, ``error``, ``exit_code``); ``labels`` what documents call each
    account (its label, else its name); ``month`` the month asked for (``YYYY-MM``; for a
    status, the month so far, empty when no account answered).
    """

    command: str
    results: Mapping[str, T]
    accounts: tuple[str, ...]
    failed: tuple[Mapping[str, Any], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    month: str = ""

    @property
    def complete(self) -> bool:
        """False when any account failed: every total is then partial."""
        return not self.failed

    @property
    def note(self) -> str | None:
        """The partial note (:func:`partial_note`), None when every account answered."""
        return None if self.complete else partial_note(self.failed, len(self.accounts))

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    # --- status ------------------------------------------------------------------------------

    def crossings(self) -> dict[str, list[Crossing]]:
        """``--fail-at`` and ``--min-runway-days`` crossings by account (status only)."""
        out: dict[str, list[Crossing]] = {}
        for name, result in self.results.items():
            failed = list(getattr(result, "failed", None) or [])
            if failed:
                out[name] = failed
        return out

    # --- reconcile ---------------------------------------------------------------------------

    def untied(self) -> list[str]:
        """The accounts whose month does not tie (reconcile only)."""
        return [
            name
            for name, result in self.results.items()
            if not bool(getattr(getattr(result, "result", None), "ties", True))
        ]


def _across(
    command: str,
    sources: MultiSource,
    ask: Callable[[str, Source], T],
    labels: Mapping[str, str] | None,
    month: str = "",
) -> AcrossAccounts[T]:
    before = len(sources.failures)
    results = sources.each(ask)
    failed = tuple(f.as_dict() for f in sources.failures[before:])
    return AcrossAccounts(
        command, results, tuple(sources.accounts), failed, dict(labels or {}), month
    )


def statuses(
    sources: MultiSource,
    settings_for: Callable[[str], ReportSettings],
    *,
    warn_at: float | None = 80.0,
    fail_at: float | None = None,
    min_runway_days: float | None = None,
    labels: Mapping[str, str] | None = None,
) -> AcrossAccounts[StatusReport]:
    """Every account's :func:`~.assemble.account_status`, with its own settings."""
    from generect_reports.reports.assemble import account_status

    def one(name: str, source: Source) -> StatusReport:
        return account_status(
            source,
            settings_for(name),
            warn_at=warn_at,
            fail_at=fail_at,
            min_runway_days=min_runway_days,
        )

    across = _across("status", sources, one, labels)
    first = next(iter(across.results.values()), None)
    if first is None:
        return across
    return dataclasses.replace(across, month=str(first.frame.attrs["month"]))


def reconciliations(
    sources: MultiSource,
    month: Month | str,
    settings_for: Callable[[str], ReportSettings],
    *,
    refresh: bool = False,
    labels: Mapping[str, str] | None = None,
) -> AcrossAccounts[Reconciled]:
    """Every account's month tied to its ledger (:func:`~.assemble.reconciliation`)."""
    from generect_reports.reports.assemble import reconciliation

    chosen = Month.parse(month)

    def one(name: str, source: Source) -> Reconciled:
        return reconciliation(source, chosen, settings_for(name), refresh=refresh)

    return _across("reconcile", sources, one, labels, str(chosen))


def chargebacks(
    sources: MultiSource,
    month: Month | str,
    settings_for: Callable[[str], ReportSettings],
    *,
    customer: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> AcrossAccounts[Chargeback]:
    """Every account's customer split of the month (:func:`~.assemble.chargeback`)."""
    from generect_reports.reports.assemble import chargeback

    chosen = Month.parse(month)

    def one(name: str, source: Source) -> Chargeback:
        return chargeback(source, chosen, settings_for(name), customer=customer)

    return _across("chargeback", sources, one, labels, str(chosen))
