"""Issue target: a history store that scales past memory. Many accounts x 5 years of daily usage
and monthly token analytics (``historydata.py``: 30 operations a day, 500 customer tokens on 8
endpoints a month) synced through ``sync_history``, then a roll-up over every account and month
(credits, the same month a year before, token requests) through DuckDB.

Each step is a process of its own (wall time and its own peak RSS, read by ``run_process``);
the roll-up is measured at a quarter of the accounts and at all of them, so "memory flat" is a
ratio measured side by side. ``GENERECT_BENCH_HISTORY_ACCOUNTS`` sets the larger size (default
200; the smaller is a quarter of it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from benchutil import run_process
from historydata import ENDPOINTS, OPERATIONS, TOKENS, months

YEARS = 5
ACCOUNTS = int(os.environ.get("GENERECT_BENCH_HISTORY_ACCOUNTS", "200"))
SCRIPT = str(Path(__file__).with_name("historydata.py"))


def _step(*args: str, out: Path) -> tuple[dict[str, object], float, int]:
    elapsed, rss = run_process([sys.executable, SCRIPT, *args, str(out)])
    return json.loads(out.read_text()), elapsed, rss


@pytest.mark.parametrize("accounts", [max(1, ACCOUNTS // 4), ACCOUNTS])
def test_history_store_sync_and_rollup(results, accounts, tmp_path):
    store = tmp_path / "store"
    synced, sync_s, sync_rss = _step(
        "sync", str(store), str(accounts), str(YEARS), out=tmp_path / "sync.json"
    )
    n_months = len(months(YEARS))
    assert synced["written"] == 2 * accounts * n_months  # usage and tokens, every month
    rolled, roll_s, roll_rss = _step("rollup", str(store), out=tmp_path / "rollup.json")
    days = sum(pd_days(m) for m in months(YEARS))
    assert rolled["rollup_rows"] == accounts * n_months
    assert rolled["usage_rows"] == accounts * days * OPERATIONS
    assert rolled["token_rows"] == accounts * n_months * TOKENS * ENDPOINTS
    size = sum(f.stat().st_size for f in store.rglob("*.parquet"))
    results[f"history_{accounts}_accounts"] = {
        "rows": rolled["usage_rows"] + rolled["token_rows"],  # type: ignore[operator]
        "usage_rows": rolled["usage_rows"],
        "token_rows": rolled["token_rows"],
        "partitions": synced["written"],
        "store_mib": round(size / 2**20, 1),
        "sync_s": round(sync_s, 1),
        "sync_peak_rss_mib": round(sync_rss / 1024),
        "rollup_s": round(roll_s, 2),
        "rollup_query_s": rolled["seconds"],
        "rollup_peak_rss_mib": round(roll_rss / 1024),
    }


def pd_days(month: str) -> int:
    import pandas as pd

    return int(pd.Period(month, freq="M").days_in_month)
