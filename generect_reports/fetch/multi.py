"""Many accounts as one source: each account's own source (its own token, client, limiter and
cache key), asked side by side, the frames stacked with an ``account`` column.

One account failing never sinks the others: its error is kept as an :class:`AccountFailure` and
the result says it is partial (``attrs["complete"] = False`` and ``attrs["accounts_failed"]``).
A bad input (a wrong date, a bad format) is the same for every account and is raised at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import APIError, GenerectError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..accounts import AccountSpec
    from .source import Source

__all__ = ["AccountFailure", "MultiSource", "open_accounts", "ACCOUNT_WORKERS"]

log = logging.getLogger("generect_reports")

#: Accounts asked at once. Each account's client bounds its own requests in flight, so this caps
#: the connections of the whole run (accounts × per-client parallelism).
ACCOUNT_WORKERS = 4

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
    """

    kind = "multi"

    def __init__(self, sources: Mapping[str, Source], *, workers: int = ACCOUNT_WORKERS) -> None:
        if not sources:
            raise InputError("no accounts to read")
        self.sources = dict(sources)
        self.workers = max(1, min(int(workers), len(self.sources)))
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

        def one(name: str) -> tuple[str, T | AccountFailure]:
            try:
                return name, ask(name, self.sources[name])
            except InputError:
                raise
            except APIError as exc:
                return name, AccountFailure(name, _one_line(exc), exc.exit_code)
            except GenerectError as exc:
                return name, AccountFailure(name, _one_line(exc), exc.exit_code)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="generect-account") as pool:
            results = list(pool.map(one, self.sources))
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
) -> MultiSource:
    """One API source per account, each with its own client and token, checked before any
    request: a missing variable is exit 2 naming it.

    ``timezone`` and ``api_url`` (the command line's) win over each account's own.
    """
    from ..accounts import account_token
    from .api import ApiSource

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
            )
    except BaseException:
        for source in sources.values():
            source.close()
        raise
    return MultiSource(sources)
