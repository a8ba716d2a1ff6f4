"""Many accounts as one source: each account's own source (its own token, client, limiter and
cache key), asked side by side, the frames stacked with an ``account`` column.

One account failing never sinks the others: its error is kept as an :class:`AccountFailure` and
the result says it is partial (``attrs["complete"] = False`` and ``attrs["accounts_failed"]``).
A bad input (a wrong date, a bad format) is the same for every account and is raised at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import GenerectError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..accounts import AccountSpec
    from .source import Source
    from .throttle import ConnectionCap

__all__ = [
    "AccountFailure",
    "MultiSource",
    "open_accounts",
    "ACCOUNT_WORKERS",
    "account_workers",
    "account_window",
]

log = logging.getLogger("generect_reports")

#: Accounts asked at once at the least. The connections of the whole run are bounded by the
#: run's :class:`~generect_reports.fetch.throttle.ConnectionCap`, not by this.
ACCOUNT_WORKERS = 4
#: The fewest requests one account may have in flight when many share the cap.
ACCOUNT_MIN_WINDOW = 3
#: Requests in flight of one account's client on its own (``GenerectClient``'s default).
PER_CLIENT = 8


def account_workers(accounts: int, connections: int) -> int:
    """Accounts asked at once for ``accounts`` accounts sharing ``connections`` connections:
    as many as there are connections, so that the cap is spread over many tokens (each
    account's rate limit is its own: a few accounts holding every connection would be
    throttled while the others wait)."""
    return max(1, min(accounts, max(ACCOUNT_WORKERS, connections)))


def account_window(accounts: int, connections: int) -> int:
    """Requests one account may have in flight: its share of the cap, rounded up, between
    :data:`ACCOUNT_MIN_WINDOW` and the client's usual eight. Many accounts at once then each
    send a steady few (three in flight at 250 ms is twelve a second) instead of bursts of
    eight that one token's rate limit would turn back."""
    share = math.ceil(connections / account_workers(accounts, connections))
    return min(PER_CLIENT, max(ACCOUNT_MIN_WINDOW, share))


T = TypeVar("T")


@dataclass(frozen=True)
class AccountFailure:
    """An account that could not be read: its name, the one-line error and its exit code."""

    account: str
    error: str
    exit_code: int

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "error": self.error, "exit_code": self.exit_code}


class MultiSource:
    """Several sources by account name, asked in parallel.

    Parameters
    ----------
    sources
        ``{account name: Source}``, in the order reports list them.
    workers
        Accounts asked at once (default :data:`ACCOUNT_WORKERS`).
    connections
        The :class:`~generect_reports.fetch.throttle.ConnectionCap` the sources' clients share,
        when they do (for logs and benchmarks: its ``peak``).
    progress
        A progress bar of accounts done on stderr (default: when stderr is a terminal).
    """

    kind = "multi"

    def __init__(
        self,
        sources: Mapping[str, Source],
        *,
        workers: int = ACCOUNT_WORKERS,
        connections: ConnectionCap | None = None,
        progress: bool | None = None,
    ) -> None:
        if not sources:
            raise InputError("no accounts to read")
        self.sources = dict(sources)
        self.workers = max(1, min(int(workers), len(self.sources)))
        self.connections = connections
        self.progress = progress
        self.failures: list[AccountFailure] = []

    @property
    def accounts(self) -> list[str]:
        return list(self.sources)

    @property
    def complete(self) -> bool:
        """False once any account has failed."""
        return not self.failures

    def each(self, ask: Callable[[str, Source], T]) -> dict[str, T]:
        """``ask(name, source)`` for every account, in parallel; the answers of the accounts that
        answered, by name (in configuration order). An API failure of one account is recorded
        in :attr:`failures`; an input error is raised (it would fail every account alike)."""

        from tqdm import tqdm

        bar = tqdm(
            total=len(self.sources),
            desc="accounts",
            unit="account",
            file=sys.stderr,
            disable=(not self.progress) if self.progress is not None else not sys.stderr.isatty(),
            leave=False,
        )

        def one(name: str) -> tuple[str, T | AccountFailure]:
            source = self.sources[name]
            try:
                return name, ask(name, source)
            except InputError:
                raise
            except GenerectError as exc:  # an API, network or output failure of this account
                return name, AccountFailure(name, _one_line(exc), exc.exit_code)
            finally:
                release = getattr(source, "release_idle", None)
                if release is not None:
                    release()
                bar.update(1)

        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="generect-account") as pool:
                results = list(pool.map(one, self.sources))
        finally:
            bar.close()
        answers: dict[str, T] = {}
        for name, value in results:
            if isinstance(value, AccountFailure):
                log.warning("account %s failed: %s", name, value.error)
                self.failures.append(value)
            else:
                answers[name] = value
        return answers

    def usage(
        self,
        start: str | dt.date,
        end: str | dt.date,
        *,
        period: str = "day",
        refresh: bool = False,
    ) -> pd.DataFrame:
        """Every account's tidy usage frame stacked, ``account`` the first column.

        ``attrs`` carry ``complete`` and ``accounts_failed`` (a list of dicts) besides the
        usual ones."""
        frames = self.each(
            lambda _, source: source.usage(start, end, period=period, refresh=refresh)
        )
        return stack_frames(frames, self.failures, self.accounts)

    def close(self) -> None:
        for source in self.sources.values():
            source.close()

    def __enter__(self) -> MultiSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def stack_frames(
    frames: Mapping[str, pd.DataFrame],
    failures: Sequence[AccountFailure],
    order: Sequence[str],
) -> pd.DataFrame:
    """The frames of the accounts that answered, one under the other with an ``account`` column,
    marked partial when any account failed."""
    import pandas as pd

    parts = []
    attrs: dict[str, Any] = {}
    for name in order:
        frame = frames.get(name)
        if frame is None:
            continue
        attrs = attrs or dict(frame.attrs)
        parts.append(frame.assign(account=name)[["account", *frame.columns]])
    if parts:
        out = pd.concat(parts, ignore_index=True)
    else:
        out = pd.DataFrame(
            {
                "account": pd.Series(dtype="object"),
                "period_start": pd.Series(dtype="datetime64[ns, UTC]"),
                "period": pd.Series(dtype="object"),
                "operation": pd.Series(dtype="object"),
                "credits": pd.Series(dtype="float64"),
            }
        )
    attrs.pop("requests", None)
    attrs.pop("tie_outs", None)
    out.attrs = {
        **attrs,
        "accounts": list(order),
        "complete": not failures,
        "accounts_failed": [f.as_dict() for f in failures],
    }
    return out


def open_accounts(
    specs: Sequence[AccountSpec],
    *,
    timezone: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
    environ: Mapping[str, str] | None = None,
    max_connections: int | None = None,
    progress: bool | None = None,
    history: str | os.PathLike[str] | None = None,
) -> MultiSource:
    """One API source per account, each with its own client, token and adaptive limiter (rate
    limits are per token), checked before any request: a missing variable is exit 2 naming it.

    ``timezone`` and ``api_url`` (the command line's) win over each account's own. Every client
    shares one :class:`~generect_reports.fetch.throttle.ConnectionCap` of ``max_connections``
    (default ``$GENERECT_MAX_CONNECTIONS`` or
    :data:`~generect_reports.fetch.throttle.DEFAULT_MAX_CONNECTIONS`): however many accounts,
    no more requests are in flight at once. ``progress`` shows a bar of accounts done.
    ``history``, the folder of a history store, answers each account's report plans from the
    closed months the store holds (:class:`~generect_reports.fetch.stored.StoredSource`).
    """
    from ..accounts import account_token
    from .api import ApiSource
    from .throttle import ConnectionCap, max_connections_from_env

    if max_connections is None:
        max_connections = max_connections_from_env()
    elif max_connections < 1:
        raise InputError(f"max_connections must be at least 1, not {max_connections}")
    cap = ConnectionCap(max_connections)
    window = account_window(len(specs), cap.limit)

    tokens = {spec.name: account_token(spec, environ) for spec in specs}
    zones = {spec.name: timezone or spec.timezone or "UTC" for spec in specs}
    if len(set(zones.values())) > 1:
        # A combined day or month is one span of time: the accounts must be cut in one zone.
        listed = ", ".join(f"{name} {zone}" for name, zone in zones.items())
        raise InputError(
            f"the accounts are in different timezones ({listed}): pass --timezone for the "
            "combined figures"
        )
    sources: dict[str, Source] = {}
    try:
        for spec in specs:
            sources[spec.name] = ApiSource(
                api_url=api_url or spec.api_url,
                timezone=zones[spec.name],
                no_cache=no_cache,
                # One progress bar per account would interleave: the run reports accounts.
                progress=False,
                token=tokens[spec.name],
                connections=cap,
                max_workers=window,
            )
    except BaseException:
        for source in sources.values():
            source.close()
        raise
    from .stored import with_store

    return MultiSource(
        with_store(sources, history),
        workers=account_workers(len(sources), cap.limit),
        connections=cap,
        progress=progress,
    )
