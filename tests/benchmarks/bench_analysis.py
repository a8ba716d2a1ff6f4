"""Target 5: month-over-month plus shares on one million daily rows."""

from benchutil import synthetic_daily

import generect_reports as g


def test_mom_and_shares_1m_rows(benchmark, results):
    usage = synthetic_daily(years=55, n_ops=50)  # 20,075 days × 50 operations ≈ 1.0M rows
    assert len(usage) >= 1_000_000

    def run():
        return g.month_over_month(usage), g.operation_shares(usage)

    mom, shares = benchmark.pedantic(run, rounds=5, iterations=1)
    assert mom["credits"].sum() == usage["credits"].sum()
    results["analysis_1m_rows_s"] = round(benchmark.stats.stats.median, 3)
    assert benchmark.stats.stats.median < 1.0
