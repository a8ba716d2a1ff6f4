"""Benchmark helpers: whole-process timing and peak memory, a synthetic usage frame."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pandas as pd

_LAUNCHER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "t = time.perf_counter() - t\n"
    "print(json.dumps([r.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
    " r.stderr.decode()[-500:]]))\n"
)


def run_process(
    args: list[str], env: dict[str, str] | None = None, cwd: str | None = None
) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one child process.

    A small launcher process starts the child and reads its peak RSS, so the figure is the
    child's own and not inflated by the (large) benchmark process that forked it.
    """
    import json
    import sys

    full_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    code, elapsed, rss, err = json.loads(out.stdout)
    if code != 0:
        raise RuntimeError(f"{args} failed: {err}")
    return elapsed, rss


def synthetic_daily(years: int, n_ops: int, seed: int = 1, end: str = "2026-10-31") -> pd.DataFrame:
    """Daily usage of ``n_ops`` operations over ``years`` years ending at ``end``."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(end=end, periods=365 * years, freq="D")
    ops = [f"op_{i:02d}" for i in range(n_ops)]
    grid_days = np.repeat(days.values, n_ops)
    grid_ops = np.tile(np.asarray(ops, dtype=object), len(days))
    credits = rng.integers(0, 500, size=len(grid_days)).astype("float64")
    starts = pd.DatetimeIndex(grid_days).tz_localize(
        "Europe/Kyiv", nonexistent="shift_forward", ambiguous=True
    )
    df = pd.DataFrame(
        {
            "period_start": starts,
            "period": pd.Series(starts.strftime("%Y-%m-%d"), dtype=str),
            "operation": pd.Series(grid_ops, dtype=str),
            "credits": credits,
        }
    )
    df.attrs.update(
        {
            "timezone": "Europe/Kyiv",
            "period": "day",
            "source": "api",
            "fetched_at": pd.Timestamp(end, tz="Europe/Kyiv") + pd.Timedelta(days=1),
            "start": str(days[0].date()),
            "end": str(days[-1].date()),
        }
    )
    return df
