"""One control change of the explorer (recompute, redraw, re-encode the PNG) for selections of the
sample up to the day view over all 22 months, against the explorer before this work, side by
side."""

from __future__ import annotations

import statistics
import time

import pytest
from baseline_widgets import UsageExplorer as BaselineExplorer

import generect_reports as g
from generect_reports.notebook.widgets import UsageExplorer

#: (name, granularity, unit, months or None for all)
CASES = [
    ("month-all", "month", "credits", None),
    ("week-all", "week", "credits", None),
    ("day-22-months", "day", "credits", None),
    ("day-22-months-usd", "day", "usd", None),
    ("day-one-month", "day", "credits", ("2026-10", "2026-10")),
]


def _prepare(cls, usage, granularity, unit, months):
    ex = cls(usage)
    ex.granularity.value = granularity
    ex.unit.value = unit
    if months:
        ex.months.value = months
    everything = tuple(ex.operations.options)
    fewer = everything[:-1]
    state = {"flip": False}

    def change():
        # One click in the operations list: every call is a real change of the selection.
        state["flip"] = not state["flip"]
        ex.operations.value = fewer if state["flip"] else everything

    return ex, change


def _median(change, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        change()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@pytest.mark.parametrize("name,granularity,unit,months", CASES, ids=[c[0] for c in CASES])
def test_one_control_change(benchmark, results, name, granularity, unit, months):
    usage = g.load_sample()
    ex, change = _prepare(UsageExplorer, usage, granularity, unit, months)
    before = ex.draw_count
    benchmark.pedantic(change, rounds=5, iterations=1, warmup_rounds=1)
    assert ex.draw_count == before + 6  # one redraw per change
    new = benchmark.stats.stats.median
    _old_ex, old_change = _prepare(BaselineExplorer, usage, granularity, unit, months)
    old_change()  # warm-up
    old = _median(old_change, 3)
    results[f"widgets_{name}_s"] = round(new, 3)
    results[f"widgets_{name}_baseline_s"] = round(old, 3)
    results[f"widgets_{name}_speedup"] = round(old / new, 1)
    assert new < 0.5
