"""Target 4: report time by history length and operation count; tidy xlsx export against
DataFrame.to_excel (time and peak memory, each in its own process)."""

import statistics
import sys
import textwrap

import pytest

from benchutil import run_process

REPORT = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, {bench!r})
    from benchutil import synthetic_daily
    import generect_reports as g
    usage = synthetic_daily({years}, {ops})
    t = time.perf_counter()
    rep = g.build_report(usage, "2026-10")
    from generect_reports.outputs.excel import write_report_workbook
    from generect_reports.outputs.pdf import write_report_pdf
    write_report_workbook(rep, {out!r} + ".xlsx")
    write_report_pdf(rep, {out!r} + ".pdf")
    print(time.perf_counter() - t)
''')

EXPORT = textwrap.dedent('''
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
''')


@pytest.mark.parametrize("years", [1, 3, 10])
@pytest.mark.parametrize("ops", [10, 50])
def test_report_scale(years, ops, results, tmp_path):
    import os
    import subprocess

    bench = os.path.dirname(__file__)
    code = REPORT.format(bench=bench, years=years, ops=ops, out=str(tmp_path / "r"))
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    results[f"report_{years}y_{ops}ops_s"] = round(statistics.median(times), 3)


@pytest.mark.parametrize("rows", [10_000, 100_000, 1_000_000])
def test_tidy_export_vs_to_excel(rows, results, tmp_path):
    import os

    bench = os.path.dirname(__file__)
    ours = [sys.executable, "-c", EXPORT.format(bench=bench, rows=rows, ours=True, out=str(tmp_path / "o.xlsx"))]
    base = [sys.executable, "-c", EXPORT.format(bench=bench, rows=rows, ours=False, out=str(tmp_path / "b.xlsx"))]
    base_only = [sys.executable, "-c", EXPORT.format(bench=bench, rows=0, ours=True, out=str(tmp_path / "z.xlsx"))]
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
