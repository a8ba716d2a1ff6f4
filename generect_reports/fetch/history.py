"""Reading the history store (see :mod:`generect_reports.deliver.history`): one DuckDB connection
with a view per dataset over the hive-partitioned Parquet files, ``account`` and ``month`` taken
from the folder names."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["open_history", "HISTORY_EXTRA"]

#: The optional extra that brings DuckDB and pyarrow.
HISTORY_EXTRA = "history"
_DATASETS = ("usage", "ledger", "tokens")


def open_history(path: str | os.PathLike[str]) -> Any:
    """A DuckDB connection (in memory) with the views ``usage``, ``ledger`` and ``tokens`` over
    the store at ``path``; a dataset with no partition yet is an empty view-less name. DuckDB's
    cache of the bytes it reads is off on that connection: the files are local, and the
    operating system caches them already.

    Raises :class:`~generect_reports.errors.InputError` (exit 2) for a folder that is not a
    store, or when DuckDB is not installed.
    """
    try:
        import duckdb
    except ImportError:
        raise InputError(
            f"the history store needs DuckDB: pip install 'generect-reports[{HISTORY_EXTRA}]'"
        ) from None
    root = Path(path)
    if not (root / "_manifest.json").is_file():
        raise InputError(f"{root} is not a history store (no _manifest.json): run sync first")
    con = duckdb.connect()
    _without_file_cache(con, duckdb)
    described = _described_partitions(root)
    for dataset in _DATASETS:
        folder = root / f"dataset={dataset}"
        files = [f.relative_to(root).as_posix() for f in folder.glob(_FILES)]
        if not files:
            continue
        pattern = str(folder / _FILES).replace("'", "''")
        # One schema across the dataset (every file described by the manifest, one fingerprint):
        # DuckDB binds the files as the first one, reading each footer only as it scans it.
        # Otherwise (partitions written by different versions, or not described) it lines the
        # columns up by name, which opens every footer first: more memory with many files.
        schemas = {described.get(f) for f in files}
        by_name = "" if len(schemas) == 1 and None not in schemas else "union_by_name = true, "
        con.execute(
            f"CREATE VIEW {dataset} AS SELECT * FROM read_parquet('{pattern}', "
            f"hive_partitioning = true, {by_name}hive_types = "
            "{'account': VARCHAR, 'month': VARCHAR})"
        )
    return con


_FILES = "account=*/month=*/data.parquet"


def _without_file_cache(con: Any, duckdb: Any) -> None:
    """Turn off DuckDB's cache of the file bytes it reads (on by default since DuckDB 1.3).

    The store is local files, which the operating system already caches; DuckDB's own copy of
    every footer and page a query reads grows with the partitions it scans (23 MiB more at
    24,000 partitions, measured in BENCHMARKS.md) and is kept for the connection's life. A
    DuckDB without that cache has no such setting, and nothing to turn off.
    """
    try:
        con.execute("SET enable_external_file_cache = false")
    except duckdb.CatalogException:
        pass


def _described_partitions(root: Path) -> dict[str, str]:
    """``{partition file: schema fingerprint}`` from the manifest (empty if it has none)."""
    try:
        manifest = json.loads((root / "_manifest.json").read_text(encoding="utf-8"))
        parts = manifest["partitions"]
        return {
            str(rel): str(entry["schema"])
            for rel, entry in parts.items()
            if isinstance(entry, dict) and entry.get("schema")
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
