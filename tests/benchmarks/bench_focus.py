"""FOCUS export cost: ~55,000 daily rows as FOCUS CSV, against the tidy CSV of the same rows."""

import time

from benchutil import synthetic_daily

from generect_reports.render.records import export
from generect_reports.render.records import focus as F


def test_focus_csv_55k_rows_against_tidy_csv(benchmark, results):
    usage = synthetic_daily(years=3, n_ops=50)  # 1,095 days × 50 operations
    prices = {f"op_{i:02d}": 0.001 * (i + 1) for i in range(50)}

    def run():
        return F.render_focus_csv(F.focus_frame(usage, prices=prices))

    text = benchmark.pedantic(run, rounds=3, iterations=1)
    assert text.count("\r\n") == (usage["credits"] != 0).sum() + 1
    # the baseline, side by side: the plain tidy CSV of the same frame
    baseline = []
    for _ in range(3):
        started = time.perf_counter()
        export.to_csv(usage)
        baseline.append(time.perf_counter() - started)
    baseline.sort()
    focus_s = benchmark.stats.stats.median
    results["focus_csv_55k_rows_s"] = round(focus_s, 3)
    results["focus_csv_vs_tidy_csv_ratio"] = round(focus_s / baseline[1], 1)
