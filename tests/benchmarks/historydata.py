"""Synthetic accounts for the history store benchmark, run as its own process so that its peak
memory is its own:

    python historydata.py sync STORE ACCOUNTS YEARS OUT.json   # every month through sync_history
    python historydata.py rollup STORE OUT.json                # the roll-up through DuckDB

Each account has ``OPERATIONS`` operations used every day and ``TOKENS`` customer tokens on
``ENDPOINTS`` endpoints each month, generated (seeded) month by month, so nothing is held
beyond one partition. The sync goes through :func:`generect_reports.deliver.history.sync_history`
itself: the same Parquet bytes, atomic writes and manifest as ``generect-reports sync``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

OPERATIONS = 30
TOKENS = 500
ENDPOINTS = 8
LAST_MONTH = "2026-10"


class SyntheticAccount:
    """Enough of a :class:`~generect_reports.fetch.source.Source` for ``sync_history``: daily
    usage and monthly token analytics of one account, the same for the same seed."""

    timezone = "UTC"

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ops = np.asarray([f"op_{i:02d}" for i in range(OPERATIONS)], dtype=object)

    def settled(self, first: dt.date, last: dt.date) -> bool:
        return True

    def _rng(self, day: dt.date) -> np.random.Generator:
        return np.random.default_rng([self.seed, day.year, day.month])

    def usage(self, start: dt.date, end: dt.date, *, period: str = "day") -> pd.DataFrame:
        days = pd.date_range(start, end, freq="D", tz="UTC")
        n = len(days) * OPERATIONS
        credits = self._rng(start).integers(0, 2000, size=n) / 100  # hundredths
        frame = pd.DataFrame(
            {
                "period_start": np.repeat(days, OPERATIONS),
                "period": pd.Series(np.repeat(days.strftime("%Y-%m-%d"), OPERATIONS), dtype=str),
                "operation": pd.Series(np.tile(self.ops, len(days)), dtype=str),
                "credits": credits,
            }
        )
        frame.attrs["timezone"] = "UTC"
        return frame

    def tokens(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        rng = self._rng(start)
        n = TOKENS * ENDPOINTS
        customer = np.repeat([f"customer-{i:03d}" for i in range(TOKENS)], ENDPOINTS)
        requests = rng.integers(0, 5000, size=n)
        ok = rng.integers(0, 100, size=n) / 100
        frame = pd.DataFrame(
            {
                "customer": customer,
                "client_id": customer,
                "token_hint": np.repeat([f"…{i:04d}" for i in range(TOKENS)], ENDPOINTS),
                "active": True,
                "endpoint": np.tile([f"/api/v1/e{j}/" for j in range(ENDPOINTS)], TOKENS),
                "requests": requests,
                "ok_ratio": ok,
                "month": f"{start:%Y-%m}",
                "period_start": pd.Timestamp(start, tz="UTC"),
                "name": customer,
                "created_at": "2021-01-01T00:00:00",
            }
        )
        per_token = frame.groupby("customer")["requests"].transform("sum")
        frame["token_requests"] = per_token
        frame["status_2xx"] = (per_token * 0.9).astype("int64")
        frame["status_4xx"] = per_token - frame["status_2xx"]
        frame["status_5xx"] = 0
        frame["status_other"] = 0
        return frame


def months(years: int) -> list[str]:
    last = pd.Period(LAST_MONTH, freq="M")
    return [str(last - k) for k in range(12 * years - 1, -1, -1)]


def sync(store: str, accounts: int, years: int, out: str) -> None:
    from generect_reports.deliver.history import sync_history

    sources: Any = {f"acct{k:03d}": SyntheticAccount(k) for k in range(accounts)}
    started = time.perf_counter()
    result = sync_history(sources, store, months(years), datasets=["usage", "tokens"])
    figures = {"written": len(result.written), "seconds": round(time.perf_counter() - started, 1)}
    with open(out, "w") as fh:
        json.dump(figures, fh)


ROLLUP = """
WITH monthly AS (
    SELECT account, month, sum(credits) AS credits FROM usage GROUP BY account, month
),
requests AS (
    SELECT account, month, sum(requests) AS requests FROM tokens GROUP BY account, month
)
SELECT m.account, m.month, m.credits, y.credits AS credits_year_ago, r.requests
FROM monthly m
LEFT JOIN monthly y
  ON y.account = m.account
 AND y.month = strftime(CAST(m.month || '-01' AS DATE) - INTERVAL 1 YEAR, '%Y-%m')
LEFT JOIN requests r ON r.account = m.account AND r.month = m.month
ORDER BY m.account, m.month
"""


def rollup(store: str, out: str) -> None:
    from generect_reports.fetch.history import open_history

    started = time.perf_counter()
    con = open_history(store)
    rows = con.execute(ROLLUP).fetchall()
    totals = con.execute(
        "SELECT count(*), sum(credits) FROM usage UNION ALL SELECT count(*), sum(requests) "
        "FROM tokens"
    ).fetchall()
    elapsed = time.perf_counter() - started
    with open(out, "w") as fh:
        json.dump(
            {
                "seconds": round(elapsed, 2),
                "rollup_rows": len(rows),
                "usage_rows": totals[0][0],
                "usage_credits": round(totals[0][1], 2),
                "token_rows": totals[1][0],
                "token_requests": int(totals[1][1]),
                "last": [str(v) for v in rows[-1]],
            },
            fh,
        )


if __name__ == "__main__":
    if sys.argv[1] == "sync":
        sync(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        rollup(sys.argv[2], sys.argv[3])
