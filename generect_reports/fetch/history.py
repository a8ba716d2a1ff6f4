"""Reading the history store (see :mod:`generect_reports.deliver.history`): one DuckDB connection
with a view per dataset over the hive-partitioned Parquet files, ``account`` and ``month`` taken
from the folder names."""

from __future__ import annotations

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
    the store at ``path``; a dataset with no partition yet is an empty view-less name.

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
    for dataset in _DATASETS:
        folder = root / f"dataset={dataset}"
        if not any(folder.glob("account=*/month=*/data.parquet")):
            continue
        pattern = str(folder / "account=*" / "month=*" / "data.parquet").replace("'", "''")
        con.execute(
            f"CREATE VIEW {dataset} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, union_by_name = true, hive_types = "
            "{'account': VARCHAR, 'month': VARCHAR})"
        )
    return con
