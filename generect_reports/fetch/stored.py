"""Reports from the history store first: a source whose report plans take every closed month the
store holds (``[history] path``, written by ``sync``) from its Parquet partitions, and ask the
API only for the rest (the running month, months not yet synced).

A month is read from the store only when its partition is listed in the manifest, its bytes
still have the manifest's SHA-256, and its days were cut in the source's timezone; anything else
is asked of the API as before. A month from the store is summed from its days, as a closed month
whose days are cached is (see :func:`generect_reports.fetch.usage.fetch_usage`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import periods as P
from .source import BaseSource

if TYPE_CHECKING:
    import pandas as pd

    from .plan import ReportUsage, UsagePlan
    from .source import Source

__all__ = ["HistoryStore", "StoredSource"]

log = logging.getLogger("generect_reports")

_ZERO: Mapping[str, Any] = {"total_credits": 0.0, "breakdown": {}}


class HistoryStore:
    """The usage partitions of a history store, read-only: the manifest is read once.

    Parameters
    ----------
    root
        The store's folder (``[history] path``). A folder without a manifest is an empty store:
        every month then comes from the API.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        from ..deliver.history import MANIFEST

        self.root = Path(root)
        try:
            manifest = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
            parts = manifest.get("partitions", {}) if isinstance(manifest, dict) else {}
        except FileNotFoundError:
            parts = {}
        except (OSError, ValueError):
            log.warning("the history store's manifest in %s is unreadable: not used", self.root)
            parts = {}
        self._parts: dict[str, Mapping[str, Any]] = parts if isinstance(parts, dict) else {}

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.root)!r}, partitions={len(self._parts)})"

    def usage_days(
        self, account: str, month: P.Month, timezone: str
    ) -> dict[str, Mapping[str, Any]] | None:
        """The month's daily usage of ``account`` as ``{day label: usage data}`` (the API's
        ``data`` shape), or None when the store cannot answer it (not synced, changed since,
        or cut in another timezone)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..deliver.history import partition_path

        rel = partition_path("usage", account, str(month))
        entry = self._parts.get(rel)
        if not isinstance(entry, Mapping):
            return None
        try:
            data = (self.root / rel).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            log.warning("%s no longer matches the store's manifest: asking the API", rel)
            return None
        table = pq.read_table(pa.BufferReader(data), columns=["period", "operation", "credits"])
        zones = pq.read_table(pa.BufferReader(data), columns=["timezone"]).column(0).unique()
        if len(zones) > 1 or (len(zones) == 1 and zones[0].as_py() != timezone):
            log.info("%s was cut in another timezone than %s: asking the API", rel, timezone)
            return None
        days: dict[str, Any] = {}
        totals: dict[str, list[float]] = {}
        for period, operation, credits in zip(
            table.column("period").to_pylist(),
            table.column("operation").to_pylist(),
            table.column("credits").to_pylist(),
        ):
            day = days.setdefault(period, {"total_credits": 0.0, "breakdown": {}})
            totals.setdefault(period, []).append(credits)
            if operation != "unattributed":
                day["breakdown"][operation] = credits
        import math

        for period, values in totals.items():
            days[period]["total_credits"] = round(math.fsum(values), 9)
        return days


class StoredSource(BaseSource):
    """``inner`` with its report plans answered from ``store`` where the store holds the month.

    Everything else (usage of a date range, the ledger, token analytics, ``/me/``) is the inner
    source's own.

    Parameters
    ----------
    inner
        The account's own source (the API).
    store
        The history store, shared by every account of a run.
    account
        The account's name in the store (``account=NAME`` partitions).
    """

    def __init__(self, inner: Source, store: HistoryStore, account: str) -> None:
        self.inner = inner
        self.store = store
        self.store_account = account
        self.timezone = inner.timezone
        self.kind = inner.kind
        self.offline = inner.offline
        self.any_timezone = inner.any_timezone
        self.refreshable = inner.refreshable

    def __repr__(self) -> str:
        return f"StoredSource({self.inner!r}, {self.store!r}, account={self.store_account!r})"

    def __getattr__(self, name: str) -> Any:
        # Called only for what this class does not define: the inner source's own.
        return getattr(self.inner, name)

    def now(self) -> pd.Timestamp:
        return self.inner.now()

    def purchases(self) -> list[dict[str, str]] | None:
        return self.inner.purchases()

    def in_timezone(self, timezone: str) -> StoredSource:
        return StoredSource(self.inner.in_timezone(timezone), self.store, self.store_account)

    def release_idle(self) -> None:
        release = getattr(self.inner, "release_idle", None)
        if release is not None:
            release()

    def close(self) -> None:
        self.inner.close()

    def plan_usage(self, plan: UsagePlan) -> ReportUsage:
        from .plan import ReportUsage, UsagePlan, _split
        from .usage import _sum_payloads

        months: dict[str, dict[str, Mapping[str, Any]] | None] = {}

        def stored(bucket: P.Bucket) -> dict[str, Mapping[str, Any]] | None:
            month = P.Month(bucket.start.year, bucket.start.month)
            if (bucket.end.year, bucket.end.month) != (month.year, month.month):
                return None
            key = str(month)
            if key not in months:
                months[key] = self.store.usage_days(self.store_account, month, self.timezone)
            return months[key]

        requests = plan.requests
        payloads: list[Mapping[str, Any] | None] = [None] * len(requests)
        for i, (bucket, period) in enumerate(requests):
            days = stored(bucket)
            if days is None:
                continue
            if period == "day":
                payloads[i] = days.get(bucket.label, _ZERO)
            else:
                payloads[i] = _sum_payloads(
                    bucket.label,
                    [days.get(d.label, _ZERO) for d in P.buckets(bucket.start, bucket.end, "day")],
                )
        missing = [i for i, p in enumerate(payloads) if p is None]
        n_days = len(plan.days)
        log.info(
            "account %s: %d of %d usage bucket(s) from the history store",
            self.store_account,
            len(requests) - len(missing),
            len(requests),
        )
        sent = 0
        attrs: dict[str, Any] = {}
        if missing:
            rest = UsagePlan(
                plan.month,
                plan.today,
                plan.day_start,
                plan.day_end,
                tuple(plan.days[i] for i in missing if i < n_days),
                tuple(plan.months[i - n_days] for i in missing if i >= n_days),
            )
            got = self.inner.plan_usage(rest)
            sent = int(got.daily.attrs.get("requests", 0))
            attrs = {"base_url": got.daily.attrs.get("base_url")}
            answers = _payloads(got.daily) | _payloads(got.monthly)
            for i in missing:
                payloads[i] = answers.get(requests[i][0].label, _ZERO)
            if got.monthly.attrs.get("tie_outs"):
                attrs["tie_outs"] = got.monthly.attrs["tie_outs"]
        out = _split(
            plan,
            [dict(p) for p in payloads if p is not None],
            timezone=self.timezone,
            source=self.kind,
            fetched_at=self.now().floor("s"),
        )
        for frame in out:
            if attrs.get("base_url"):
                frame.attrs["base_url"] = attrs["base_url"]
            frame.attrs["history_store"] = str(self.store.root)
        if attrs.get("tie_outs"):
            out.monthly.attrs["tie_outs"] = attrs["tie_outs"]
        out.daily.attrs["requests"] = sent
        return ReportUsage(out.daily, out.monthly)

    def report_usage(self, month: str | P.Month, history: int) -> ReportUsage:
        from .plan import report_plan

        return self.plan_usage(report_plan(month, history, today=self.today()))


def _payloads(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """A tidy usage frame back as ``{bucket label: usage data}``: the total is every row of the
    bucket (its ``unattributed`` row included), the breakdown every other row."""
    import math

    out: dict[str, dict[str, Any]] = {}
    totals: dict[str, list[float]] = {}
    for period, operation, credits in zip(
        frame["period"].tolist(), frame["operation"].tolist(), frame["credits"].tolist()
    ):
        data = out.setdefault(period, {"total_credits": 0.0, "breakdown": {}})
        totals.setdefault(period, []).append(credits)
        if operation != "unattributed":
            data["breakdown"][operation] = credits
    for period, values in totals.items():
        out[period]["total_credits"] = round(math.fsum(values), 9)
    return out


def with_store(
    sources: Mapping[str, Source], root: str | os.PathLike[str] | None
) -> dict[str, Source]:
    """``sources`` each answered from the store at ``root`` first; unchanged without one."""
    if not root:
        return dict(sources)
    store = HistoryStore(root)
    return {name: StoredSource(source, store, name) for name, source in sources.items()}
