"""The forecast replays every day of 24 months of daily data: it costs a few status projections,
not one per replayed day."""

import time

from benchutil import synthetic_daily

from generect_reports.analysis.budget import budget_status
from generect_reports.analysis.forecast import month_forecast


def _median_time(fn, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def test_forecast_of_24_months_costs_a_few_status_projections(benchmark, results):
    usage = synthetic_daily(years=2, n_ops=10)  # 730 days × 10 operations
    as_of = "2026-10-15T00:00"
    one_status = _median_time(lambda: budget_status(usage, None, limit=1e6, as_of=as_of))
    got = benchmark.pedantic(lambda: month_forecast(usage, as_of=as_of), rounds=5, iterations=1)
    assert got.history_months == 12 and len(got.replay) > 600
    ratio = benchmark.stats.stats.median / one_status
    results["forecast_24_months_s"] = round(benchmark.stats.stats.median, 3)
    results["forecast_over_one_status"] = round(ratio, 1)
    # Replaying ~630 days one projection at a time would cost hundreds of status projections.
    assert ratio < 25
