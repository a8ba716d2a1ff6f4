"""Target 4: report time by history length and operation count; tidy xlsx export against
DataFrame.to_excel (time and peak memory, each in its own process)."""

import statistics
import sys
import textwrap

import pytest
from benchutil import run_process

REPORT = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, {bench!r})
    from benchutil import synthetic_daily
    import generect_reports as g
    usage = synthetic_daily({years}, {ops})
    monthly = None
    if {plan}:
        # The shape the fetch plan delivers: the month and its baseline as days, the months
        # before it as monthly rows.
        import pandas as pd
        from generect_reports.analysis.usage import to_monthly
        local = usage["period_start"].dt.tz_localize(None)
        m = to_monthly(usage[(local < "2026-10-01").to_numpy()])
        starts = pd.DatetimeIndex(pd.to_datetime(m["month"] + "-01")).tz_localize("Europe/Kyiv")
        monthly = pd.DataFrame({{"period_start": starts, "period": m["month"].astype(str),
                                "operation": m["operation"].astype(str), "credits": m["credits"]}})
        monthly.attrs.update({{"timezone": "Europe/Kyiv", "period": "month", "source": "api",
                              "start": str(starts.min().date())}})
        attrs = dict(usage.attrs)
        usage = usage[(local >= "2026-09-03").to_numpy()].reset_index(drop=True)
        usage.attrs.update(attrs)
        usage.attrs["start"] = "2026-09-03"
    t = time.perf_counter()
    rep = g.build_report(usage, "2026-10", monthly=monthly)
    built = time.perf_counter() - t
    from generect_reports.deliver.parallel import write_report_files
    write_report_files(rep, {out!r} + ".xlsx", {out!r} + ".pdf")
    # The workbook may be rendered in a forked child: the peak is the larger of the two.
    peak = max(resource.getrusage(who).ru_maxrss for who in \
(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(time.perf_counter() - t, built, peak)
""")

EXPORT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {bench!r})
    from benchutil import synthetic_daily
    usage = synthetic_daily(1, 1)
    import pandas as pd, numpy as np
    n = {rows}
    reps = max(1, -(-n // len(usage)))
    usage = pd.concat([usage] * reps, ignore_index=True).iloc[:n]
    usage.attrs["timezone"] = "Europe/Kyiv"
    if {ours}:
        import generect_reports as g
        g.write_usage_xlsx(usage, {out!r})
    else:
        plain = usage.assign(period_start=usage["period_start"].dt.tz_localize(None))
        plain.to_excel({out!r}, engine="openpyxl", index=False)
""")


@pytest.mark.parametrize("years", [1, 3, 10])
@pytest.mark.parametrize("ops", [10, 50])
@pytest.mark.parametrize("plan", [False, True], ids=["all-days", "plan"])
def test_report_scale(years, ops, plan, results, tmp_path):
    """Report time (figures, workbook and PDF) and the process's peak memory by history length:
    all of it as days, or shaped as the fetch plan delivers it (recent days, monthly history)."""
    import os
    import subprocess

    bench = os.path.dirname(__file__)
    code = REPORT.format(bench=bench, years=years, ops=ops, plan=plan, out=str(tmp_path / "r"))
    times, built, rss = [], [], []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        t, b, m = out.stdout.split()
        times.append(float(t))
        built.append(float(b))
        rss.append(int(m))
    key = f"report_{years}y_{ops}ops{'_plan' if plan else ''}"
    results[key + "_s"] = round(statistics.median(times), 3)
    results[key + "_figures_s"] = round(statistics.median(built), 3)
    results[key + "_peak_rss_mib"] = round(max(rss) / 1024, 1)
    assert statistics.median(times) < 5.0


@pytest.mark.parametrize("rows", [10_000, 100_000, 1_000_000])
def test_tidy_export_vs_to_excel(rows, results, tmp_path):
    import os

    bench = os.path.dirname(__file__)
    ours = [
        sys.executable,
        "-c",
        EXPORT.format(bench=bench, rows=rows, ours=True, out=str(tmp_path / "o.xlsx")),
    ]
    base = [
        sys.executable,
        "-c",
        EXPORT.format(bench=bench, rows=rows, ours=False, out=str(tmp_path / "b.xlsx")),
    ]
    base_only = [
        sys.executable,
        "-c",
        EXPORT.format(bench=bench, rows=0, ours=True, out=str(tmp_path / "z.xlsx")),
    ]
    rounds = 3 if rows < 1_000_000 else 1
    t_ours, t_base, m_ours, m_base = [], [], [], []
    for _ in range(rounds):
        t, m = run_process(ours)
        t_ours.append(t)
        m_ours.append(m)
        t, m = run_process(base)
        t_base.append(t)
        m_base.append(m)
    startup, m_start = run_process(base_only)
    key = f"export_{rows}"
    results[key + "_ours_s"] = round(statistics.median(t_ours), 2)
    results[key + "_to_excel_s"] = round(statistics.median(t_base), 2)
    results[key + "_time_ratio"] = round(statistics.median(t_ours) / statistics.median(t_base), 3)
    results[key + "_ours_rss_mib"] = round(max(m_ours) / 1024, 1)
    results[key + "_to_excel_rss_mib"] = round(max(m_base) / 1024, 1)
    results[key + "_rss_ratio"] = round(max(m_ours) / max(m_base), 3)
    results[key + "_process_floor_s"] = round(startup, 2)
