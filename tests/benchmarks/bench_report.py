"""Targets 2, 3 and 6: the monthly report as a whole process from a warm cache, against the plain
script a user would write; start-up time; peak memory."""

import datetime as dt
import statistics
import sys
import textwrap

import pytest
from benchutil import run_process
from fakeapi import TOKEN, FakeGenerect

NAIVE = textwrap.dedent("""
    import sys
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.backends.backend_pdf import PdfPages

    daily = pd.read_csv(sys.argv[1], parse_dates=["date"])
    daily["month"] = daily["date"].dt.strftime("%Y-%m")
    monthly = daily.pivot_table(index="month", columns="operation", values="credits", \
aggfunc="sum", fill_value=0)
    month = daily[daily["month"] == "2026-05"]
    ops = month.groupby("operation")["credits"].sum().sort_values(ascending=False)
    with pd.ExcelWriter(sys.argv[2], engine="openpyxl") as xw:
        ops.to_frame().to_excel(xw, sheet_name="By operation")
        monthly.to_excel(xw, sheet_name="Monthly")
        month.to_excel(xw, sheet_name="Daily", index=False)
    with PdfPages(sys.argv[3]) as pdf:
        fig, ax = plt.subplots(figsize=(8.27, 11.69))
        monthly.tail(12).plot.bar(stacked=True, ax=ax)
        pdf.savefig(fig)
        fig, ax = plt.subplots(figsize=(8.27, 11.69))
        ax.pie(ops.values, labels=ops.index)
        pdf.savefig(fig)
        fig, ax = plt.subplots(figsize=(8.27, 11.69))
        month.pivot_table(index="date", columns="operation", values="credits", \
aggfunc="sum").plot(ax=ax)
        pdf.savefig(fig)
""")


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """A local API with 15 months of daily usage of 8 operations, and a warm cache."""
    import numpy as np

    rng = np.random.default_rng(3)
    ops = [
        "search_database",
        "enrich_database",
        "preview",
        "search_realtime",
        "email_validation",
        "email_find",
        "enrich_realtime",
        "phone_find",
    ]
    daily = {}
    rows = []
    day = dt.date(2025, 3, 1)
    while day <= dt.date(2026, 5, 31):
        daily[day] = {op: float(rng.integers(10, 500)) for op in ops}
        rows += [f"{day},{op},{v}" for op, v in daily[day].items()]
        day += dt.timedelta(days=1)
    api = FakeGenerect(daily=daily).start()
    folder = tmp_path_factory.mktemp("report-bench")
    csv = folder / "daily.csv"
    csv.write_text("date,operation,credits\n" + "\n".join(rows) + "\n")
    env = {
        "GENERECT_API_TOKEN": TOKEN,
        "GENERECT_API_URL": api.url,
        "GENERECT_REPORTS_CACHE_DIR": str(folder / "cache"),
    }
    ours = [
        sys.executable,
        "-m",
        "generect_reports",
        "report",
        "--month",
        "2026-05",
        "--timezone",
        "UTC",
        "--xlsx",
        str(folder / "ours.xlsx"),
        "--pdf",
        str(folder / "ours.pdf"),
        "--quiet",
    ]
    run_process(ours, env)  # fills the cache
    api.requests.clear()
    naive = [
        sys.executable,
        "-c",
        NAIVE,
        str(csv),
        str(folder / "naive.xlsx"),
        str(folder / "naive.pdf"),
    ]
    # The same script with embedded TrueType fonts, as our PDF has (real text for pdftotext)
    naive42 = [
        sys.executable,
        "-c",
        NAIVE.replace(
            'matplotlib.use("Agg")',
            'matplotlib.use("Agg"); matplotlib.rcParams["pdf.fonttype"] = 42',
        ),
        str(csv),
        str(folder / "naive42.xlsx"),
        str(folder / "naive42.pdf"),
    ]
    yield api, env, ours, naive, naive42
    api.stop()


def test_report_vs_naive_script(warm, results):
    """Ours against the plain script, plus two variants of ours that show what two measures
    buy: everything in one process (no forked PDF child) and no cached font subsets."""
    import shutil
    from pathlib import Path

    api, env, ours, naive, naive42 = warm
    subsets = Path(env["GENERECT_REPORTS_CACHE_DIR"]) / "font-subsets"
    one_process = {**env, "GENERECT_REPORTS_NO_FORK": "1"}
    times: dict[str, list[float]] = {k: [] for k in ("ours", "one", "cold", "naive", "42")}
    rss_ours, rss_naive = [], []
    for _ in range(7):  # interleaved, so drift on a shared machine hits all alike
        t, m = run_process(ours, env)
        times["ours"].append(t)
        rss_ours.append(m)
        t, m = run_process(naive)
        times["naive"].append(t)
        rss_naive.append(m)
        times["42"].append(run_process(naive42)[0])
        times["one"].append(run_process(ours, one_process)[0])
        shutil.rmtree(subsets, ignore_errors=True)
        times["cold"].append(run_process(ours, env)[0])  # subsets made again, and stored
    assert api.usage_requests() == []  # warm cache: the API is not asked
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    results["report_ours_s"] = med["ours"]
    results["report_naive_s"] = med["naive"]
    results["report_time_ratio"] = round(med["ours"] / med["naive"], 3)
    results["report_naive_truetype_s"] = med["42"]
    results["report_time_ratio_vs_truetype_naive"] = round(med["ours"] / med["42"], 3)
    results["report_one_process_s"] = med["one"]
    results["report_one_process_ratio"] = round(med["one"] / med["naive"], 3)
    results["report_uncached_fonts_s"] = med["cold"]
    results["report_uncached_fonts_ratio"] = round(med["cold"] / med["naive"], 3)
    results["report_ours_rss_mib"] = round(max(rss_ours) / 1024, 1)
    results["report_naive_rss_mib"] = round(max(rss_naive) / 1024, 1)
    results["report_rss_ratio"] = round(max(rss_ours) / max(rss_naive), 3)


def test_import_floor(results):
    times = [
        run_process([sys.executable, "-c", "import pandas, matplotlib.pyplot, openpyxl"])[0]
        for _ in range(5)
    ]
    results["import_floor_s"] = round(statistics.median(times), 3)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["usage", "--start", "2026-02-30", "--end", "2026-03-01"]],
    ids=["help", "argument-error"],
)
def test_startup(benchmark, args, results):
    import subprocess

    def run():
        return subprocess.run(
            [sys.executable, "-m", "generect_reports", *args], capture_output=True
        )

    benchmark.pedantic(run, rounds=10, iterations=1)
    results[f"startup_{'help' if args == ['--help'] else 'argerror'}_s"] = round(
        benchmark.stats.stats.median, 3
    )
    assert benchmark.stats.stats.median < 0.3
