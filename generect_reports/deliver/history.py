"""The history store: closed months of usage, ledger and token analytics as a Parquet dataset,
partitioned hive-style (``dataset=usage/account=NAME/month=YYYY-MM/data.parquet``), so DuckDB,
Spark or Trino read it as it is.

A partition is one file, replaced atomically (a reader sees the old month or the new one, never
half of either). ``_manifest.json`` holds each partition's SHA-256 and row count; a month whose
bytes did not change is not rewritten, so running :func:`sync_history` again is idempotent. Only
closed months are written: their figures can no longer change (a restatement found later is
written over the old partition, and the manifest says when).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputError
from ..periods import Month

if TYPE_CHECKING:
    from ..fetch.source import Source

__all__ = [
    "DATASETS",
    "SyncResult",
    "sync_history",
    "partition_path",
    "schema_fingerprint",
    "MANIFEST",
]

log = logging.getLogger("generect_reports")

DATASETS = ("usage", "ledger", "tokens")
MANIFEST = "_manifest.json"
_MANIFEST_FORMAT = 1


@dataclass
class SyncResult:
    """What one sync did: partitions ``written`` and ``unchanged`` (paths relative to the
    store), the accounts that ``failed`` (``account, error, exit_code``), the months covered."""

    root: Path
    months: list[str]
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def partition_path(dataset: str, account: str, month: str) -> str:
    """The partition file of one dataset, account and month, relative to the store."""
    return f"dataset={dataset}/account={account}/month={month}/data.parquet"


def _table_bytes(frame: pd.DataFrame) -> tuple[bytes, str]:
    """The frame as Parquet bytes that depend on its content only (no attrs, no run time), and
    the fingerprint of its columns' names and types (see :func:`schema_fingerprint`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = frame.copy()
    plain.attrs = {}
    for name in plain.columns:
        if isinstance(plain[name].dtype, pd.DatetimeTZDtype):
            # One instant type across accounts and zones: UTC, the local zone in its own column.
            plain[name] = plain[name].dt.tz_convert("UTC")
    table = pa.Table.from_pandas(plain, preserve_index=False).replace_schema_metadata(None)
    buffer = io.BytesIO()
    # Microseconds, not pandas' nanoseconds: Spark and Trino read INT64 timestamps in micros
    # (Spark refuses nanosecond ones); nothing here is finer than a microsecond.
    pq.write_table(table, buffer, compression="zstd", coerce_timestamps="us")
    data = buffer.getvalue()
    return data, schema_fingerprint(pq.read_schema(io.BytesIO(data)))


def schema_fingerprint(schema: Any) -> str:
    """A short digest of a Parquet schema's column names and types, in order. The manifest keeps
    one per partition: a reader that finds a single one across a dataset can bind the files by
    position, without opening every footer to line columns up by name."""
    described = ";".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.sha256(described.encode("utf-8")).hexdigest()[:16]


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": _MANIFEST_FORMAT, "partitions": {}}
    except (OSError, ValueError):
        # A damaged manifest costs a rewrite of every partition, never a wrong answer.
        log.warning("the history store's manifest %s is unreadable: rebuilding it", path)
        return {"format": _MANIFEST_FORMAT, "partitions": {}}
    if not isinstance(data, dict) or not isinstance(data.get("partitions"), dict):
        return {"format": _MANIFEST_FORMAT, "partitions": {}}
    return data


def _without_partition_columns(frame: pd.DataFrame, month: Month) -> pd.DataFrame:
    """The folder names say ``account`` and ``month``: a column of the same name would shadow
    them in a reader, so one that repeats the month is dropped and any other is renamed."""
    out = frame
    if "month" in out.columns:
        same = bool((out["month"].astype(str) == str(month)).all())
        out = out.drop(columns="month") if same else out.rename(columns={"month": "month_value"})
    if "account" in out.columns:
        out = out.rename(columns={"account": "account_value"})
    return out


def _frames(source: Source, month: Month, datasets: Sequence[str]) -> dict[str, pd.DataFrame]:
    return {
        name: _without_partition_columns(frame, month)
        for name, frame in _read(source, month, datasets).items()
    }


def _read(source: Source, month: Month, datasets: Sequence[str]) -> dict[str, pd.DataFrame]:
    first, last = month.first_day, month.last_day
    out: dict[str, pd.DataFrame] = {}
    if "usage" in datasets:
        usage = source.usage(first, last, period="day")
        out["usage"] = usage[["period_start", "period", "operation", "credits"]].assign(
            timezone=str(usage.attrs.get("timezone", source.timezone))
        )
    if "ledger" in datasets:
        out["ledger"] = source.ledger(month).ledger.reset_index(drop=True)
    if "tokens" in datasets:
        out["tokens"] = source.tokens(first, last).reset_index(drop=True)
    return out


def sync_history(
    sources: Mapping[str, Source],
    root: str | os.PathLike[str],
    months: Sequence[Month | str],
    *,
    datasets: Sequence[str] = DATASETS,
    on_account: Callable[[str], None] | None = None,
) -> SyncResult:
    """Write every closed month of ``months`` for every account of ``sources`` into the store.

    Parameters
    ----------
    sources
        ``{account name: Source}``; each account's partitions are its own.
    root
        The store's folder (created if missing).
    months
        The months to write; a month that is not closed for its source is refused (exit 2).
    datasets
        Any of :data:`DATASETS`.

    Returns
    -------
    SyncResult
        The partitions written and unchanged, and the accounts that failed (the others are
        written whatever happens to one).
    """
    from filelock import FileLock

    from .._atomic import write_bytes_atomic
    from ..errors import GenerectError
    from ..fetch.multi import AccountFailure

    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise InputError(f"unknown dataset {unknown[0]!r}: use {', '.join(DATASETS)}")
    chosen = [Month.parse(m) for m in months]
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    result = SyncResult(root=base, months=[str(m) for m in chosen])
    # Two syncs at once would race on the manifest: the second waits for the first.
    with FileLock(str(base / ".sync.lock"), timeout=600):
        manifest = _read_manifest(base)
        parts: dict[str, Any] = manifest["partitions"]
        for name, source in sources.items():
            if on_account is not None:
                on_account(name)
            try:
                for month in chosen:
                    if not source.settled(month.first_day, month.last_day):
                        raise InputError(
                            f"{month} is not closed yet for account {name}: the store keeps "
                            "closed months only"
                        )
                    for dataset, frame in _frames(source, month, datasets).items():
                        rel = partition_path(dataset, name, str(month))
                        data, schema = _table_bytes(frame)
                        digest = hashlib.sha256(data).hexdigest()
                        if parts.get(rel, {}).get("sha256") == digest and (base / rel).is_file():
                            # A store synced before fingerprints were kept gains them here.
                            parts[rel]["schema"] = schema
                            result.unchanged.append(rel)
                            continue
                        (base / rel).parent.mkdir(parents=True, exist_ok=True)
                        write_bytes_atomic(base / rel, data)
                        parts[rel] = {
                            "sha256": digest,
                            "rows": len(frame),
                            "schema": schema,
                            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        }
                        result.written.append(rel)
            except InputError:
                raise
            except GenerectError as exc:
                failure = AccountFailure(name, " ".join(str(exc).split()), exc.exit_code)
                result.failed.append(failure.as_dict())
                log.warning("account %s failed: %s", name, result.failed[-1]["error"])
            finally:
                # Written after every account: what is on disk is always described.
                manifest["partitions"] = dict(sorted(parts.items()))
                write_bytes_atomic(
                    base / MANIFEST,
                    (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"),
                )
    return result
