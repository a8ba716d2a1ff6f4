"""Write and execute the example notebooks so they are stored with their outputs.

Run from the repository root after changing a notebook's cells here:
``python scripts/build_notebooks.py``. The outputs are what ``pytest --nbval`` compares, so
tables are shown as fixed HTML (``generect_reports.notebook.tables.show``), never as a
``Styler`` whose text output changes on every run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from generect_reports.notebook.dashboard import dashboard_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = """\
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML

import generect_reports as gr
from generect_reports.notebook.dashboard import load_usage
from generect_reports.notebook.tables import show, with_total_row
from generect_reports.reports.monthly import last_full_month

%matplotlib inline"""

LOAD = """\
usage = load_usage(USE_LIVE_API, TIMEZONE, as_of=AS_OF)
month = MONTH or last_full_month(usage)
print(f"{len(usage):,} daily rows from {usage.attrs['start']} to {usage.attrs['end']}, "
      f"{usage.attrs['timezone']}, source: {usage.attrs['source']}; month: {month}")"""


def live(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A cell whose output is a live widget: nbval does not compare it (a tag, not a comment
    the reader would see)."""
    cell.metadata["tags"] = ["nbval-ignore-output"]
    return cell


def parameters(month: str | None = None, as_of: str | None = None) -> nbformat.NotebookNode:
    """The one cell papermill drives (tagged ``parameters``)."""
    cell = new_code_cell(
        "# Parameters\n"
        "USE_LIVE_API = False  # True: your account (needs GENERECT_API_TOKEN); False: the "
        "bundled sample\n"
        f"MONTH = {month!r}  # 'YYYY-MM'; None for the last full month of the data\n"
        f"AS_OF = {as_of!r}  # local time the data is complete up to, e.g. '2026-10-15 09:00'; "
        f"None for all of it\n"
        "TIMEZONE = 'Europe/Kyiv'  # IANA timezone of the days (the sample exists in "
        "Europe/Kyiv only)"
    )
    cell.metadata["tags"] = ["parameters"]
    return cell


def explore() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# Explore credit usage\n\nLoad the account's daily usage, then filter it with the "
                "panel: a month range or any two dates, operations, day/week/month, credits or "
                "estimated USD. Its tabs compare two periods, drill into one operation and export "
                "what you see."
            ),
            new_code_cell(SETUP),
            new_markdown_cell(
                "## Settings\n\nThe bundled sample account by default. Set `USE_LIVE_API = "
                "True` to "
                "read your own account; without `GENERECT_API_TOKEN` the next cell stops with a "
                "message saying so."
            ),
            parameters(),
            new_code_cell(LOAD),
            new_markdown_cell(
                "## The explorer\n\nMove the slider, pick dates or operations: the chart and the "
                "tables follow. Hatched periods are only partly inside the range. Long day ranges "
                "are drawn as a line per operation."
            ),
            live(
                new_code_cell(
                    "from generect_reports.notebook.widgets import UsageExplorer\n\n"
                    "explorer = UsageExplorer(usage)\nexplorer"
                )
            ),
            new_markdown_cell("## Monthly totals"),
            new_code_cell(
                "totals = gr.monthly_totals(usage)\n"
                "show(totals.tail(6), credits=['credits', 'previous_credits'], signed=['change'], "
                "signed_percent=['change_pct'])"
            ),
            live(
                new_code_cell(
                    "from generect_reports.notebook.charts import chart_alt, image\n\n"
                    "fig, ax = plt.subplots(figsize=(9, 3))\n"
                    "ax.bar(totals['month'], totals['credits'], color='#2E86AB')\n"
                    "ax.set_ylabel('credits')\nax.tick_params(axis='x', rotation=60)\n"
                    "plt.close(fig)  # shown below, with its text alternative for screen readers\n"
                    "image(fig, chart_alt('Credits by month', totals['month'], "
                    "totals['credits']))"
                )
            ),
            new_markdown_cell(
                "## Three selections worth a look\n\nThe same figures the panel shows, computed "
                "directly, so the panel above stays where you left it."
            ),
            new_code_cell(
                "from generect_reports.notebook.widgets import filter_usage\n\n"
                "last4 = filter_usage(usage, months=('2026-07', '2026-10'),\n"
                "                     operations=['search_database', 'search_realtime', "
                "'phone_find'])\n"
                "show(with_total_row(last4), credits=list(last4.columns), hide_index=False, "
                "total=True)"
            ),
            new_code_cell(
                "weekly_usd = filter_usage(usage, months=('2026-07', '2026-10'), "
                "granularity='week', unit='usd')\n"
                "show(weekly_usd.tail(5), money=list(weekly_usd.columns), hide_index=False,\n"
                "     caption='Estimated USD, last five weeks (2026-W44 is partial)')"
            ),
            new_code_cell(
                "period = filter_usage(usage, months=('2026-07', '2026-10')).sum()\n"
                "table = pd.DataFrame({'operation': period.index, 'credits': period.to_numpy(),\n"
                "                      'share': period.to_numpy() / period.sum()})\n"
                "show(with_total_row(table), credits=['credits'], percent=['share'], total=True)"
            ),
            new_markdown_cell(
                "## Shares in the month\n\nDisplayed percentages use largest-remainder "
                "rounding, so "
                "they add up to exactly 100."
            ),
            new_code_cell(
                "shares = gr.operation_shares(usage, month)\n"
                "shares = shares.assign(percent=gr.display_percentages(shares['share']) / 100)\n"
                "show(with_total_row(shares), credits=['credits'], percent=['share', "
                "'percent'], total=True)"
            ),
            new_markdown_cell("## Month over month"),
            new_code_cell(
                "mom = gr.month_over_month(usage)\n"
                "show(mom[mom['month'] == month], credits=['credits', 'previous_credits'], "
                "signed=['change'],\n"
                "     signed_percent=['change_pct'])"
            ),
            new_markdown_cell(
                "## Anomalies\n\nDays far above the operation's trailing 28-day median (6 × MAD)."
            ),
            new_code_cell(
                "show(gr.detect_anomalies(usage), credits=['credits', 'baseline', 'mad'])"
            ),
        ]
    )


REPORT = """\
from generect_reports.notebook.dashboard import notebook_source
from generect_reports.reports import ReportSettings, monthly_report

# The report the `report` command writes: its default history, every section it carries.
source = notebook_source(USE_LIVE_API, TIMEZONE)
report = monthly_report(source, MONTH, ReportSettings(as_of=AS_OF))
print(f"{report.month}: {report.history} months of history, as of "
      f"{report.as_of:%Y-%m-%d %H:%M} {report.timezone}, source: {report.source}")
report.month, report.complete, report.comparison_basis"""


def report() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# The monthly finance report, step by step\n\nThe same figures the workbook, "
                "the PDF and the email show: `monthly_report` puts the report together once, "
                "its sections included, exactly as the `report` command does."
            ),
            new_code_cell(SETUP),
            parameters(),
            new_code_cell(REPORT),
            new_markdown_cell("## Key figures"),
            new_code_cell(
                "from generect_reports.reports.monthly import fmt_credits, fmt_money, "
                "fmt_signed_pct\n\n"
                "key = pd.DataFrame({'figure': ['credits this month', 'previous month', "
                "'change', 'top operation', 'estimated cost'],\n"
                "                    report.month_name: [fmt_credits(report.total, 0), "
                "fmt_credits(report.previous_total, 0),\n"
                "                                        fmt_signed_pct(report.change_pct), "
                "report.top_operation,\n"
                "                                        fmt_money(report.estimated_cost)]})\n"
                "show(key)"
            ),
            new_markdown_cell(
                "## What drove the change\n\nThe bridge from the comparison month's total to "
                "this month's, as in the workbook's *Drivers* sheet: each operation's change, the "
                "smallest together; the steps add up to the total change."
            ),
            new_code_cell("show(report.bridge[['label', 'kind', 'value']], credits=['value'])"),
            new_markdown_cell("## Operations (as in the workbook's *By operation* sheet)"),
            new_code_cell(
                "ops = report.operations[['operation', 'credits', 'share', 'previous_credits', "
                "'change',\n"
                "                         'change_pct', 'estimated_cost']]\n"
                "show(with_total_row(ops, sum_columns=['credits', 'share', 'previous_credits', "
                "'change', 'estimated_cost']),\n"
                "     credits=['credits', 'previous_credits'], percent=['share'], "
                "signed=['change'],\n"
                "     signed_percent=['change_pct'], money=['estimated_cost'], total=True)"
            ),
            new_markdown_cell("## Charts"),
            live(
                new_code_cell(
                    "from generect_reports.notebook.charts import (chart_alt, daily_chart, "
                    "history_chart,\n"
                    "                                              image)\n\n"
                    "image(history_chart(report))"
                )
            ),
            live(new_code_cell("image(daily_chart(report))")),
            live(
                new_code_cell(
                    "fig, ax = plt.subplots(figsize=(9, 2.5))\n"
                    "per_day = report.daily_matrix.sum(axis=1)\n"
                    "per_day.plot(ax=ax, color='#2E86AB', title='Total credits per day')\n"
                    "plt.close(fig)  # shown below, with its text alternative for screen readers\n"
                    "image(fig, chart_alt('Total credits per day', "
                    "[f'{d:%d %b %Y}' for d in per_day.index],\n"
                    "                     per_day, what='day'))"
                )
            ),
            new_markdown_cell(
                "## Plan limit, ledger and customers\n\nThe report's sections, in the words of "
                "its summary page (the ledger and the customers are on by default for the "
                "sample; for your account the `[report]` settings or `ReportSettings` turn them "
                "on)."
            ),
            new_code_cell(
                "from generect_reports.render.budget import budget_summary\n"
                "from generect_reports.render.chargeback import customers_summary\n"
                "from generect_reports.render.reconcile import reconciliation_summary\n\n"
                "sections = report.sections\n"
                "lines = budget_summary(sections.budget)\n"
                "if sections.reconciliation is not None:\n"
                "    lines += reconciliation_summary(sections.reconciliation)\n"
                "if sections.allocation is not None:\n"
                "    lines += customers_summary(sections.allocation)[:3]\n"
                "print('\\n'.join(lines))"
            ),
            new_markdown_cell(
                "## Export\n\nThe workbook and the PDF of this one report, written into the "
                "working folder: the files the `report` command writes."
            ),
            new_code_cell(
                "from pathlib import Path\n\n"
                "from generect_reports.deliver.parallel import write_report_files\n\n"
                "xlsx = Path(f'generect-usage-{report.month}.xlsx')\n"
                "pdf = Path(f'generect-usage-{report.month}.pdf')\n"
                "write_report_files(report, xlsx, pdf)\n"
                "HTML(' · '.join(f'<a href=\"{p}\" download>{p}</a>' for p in (xlsx, pdf)))"
            ),
        ]
    )


def what_changed() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# What changed this month?\n\nA quick read for the middle of a month: "
                "like-for-like "
                "comparison with the same days of last month, a month-end projection, new and "
                "vanished operations, and the days that stood out."
            ),
            new_code_cell(SETUP),
            new_markdown_cell(
                "## Settings\n\n`AS_OF` pretends the month is half over; set it to `None` for "
                "the data "
                "as it is."
            ),
            parameters("2026-10", "2026-10-15 09:00"),
            new_code_cell(LOAD),
            new_markdown_cell(
                "## Like for like\n\nThe month's complete days against the same days of the "
                "month before."
            ),
            new_code_cell(
                "cmp = gr.partial_month_comparison(usage, month, as_of=AS_OF)\n"
                "print(cmp.attrs['rule'])\n"
                "print(f\"{cmp.attrs['elapsed_days']} of {cmp.attrs['days_in_month']} days "
                'complete")\n'
                "show(cmp, credits=[c for c in cmp.columns if c.endswith('credits')],\n"
                "     signed=[c for c in cmp.columns if c == 'change'],\n"
                "     signed_percent=[c for c in cmp.columns if c == 'change_pct'])"
            ),
            new_markdown_cell(
                "## Projection (an estimate)\n\nThe one month-end projection the report, "
                "`status` and the dashboard show: the weekday-aware run rate, with its 80% "
                "interval and its error measured by replaying the months before."
            ),
            new_code_cell(
                "from generect_reports.analysis.forecast import accuracy_text\n\n"
                "forecast = gr.month_forecast(usage)\n"
                "low, high = forecast.interval_80\n"
                "print(f'month end {forecast.projected:,.0f} credits, 80% interval '\n"
                "      f'{low:,.0f} to {high:,.0f}; {accuracy_text(forecast)}')\n"
                "proj = gr.run_rate_projection(usage, month, as_of=AS_OF)\n"
                "proj = proj[['operation', 'credits', 'projected_weekday']].rename(\n"
                "    columns={'projected_weekday': 'projected'})\n"
                "show(with_total_row(proj, sum_columns=['credits', 'projected']),\n"
                "     credits=['credits', 'projected'], total=True)"
            ),
            new_markdown_cell("## Operations that appeared or vanished"),
            new_code_cell(
                "mom = gr.month_over_month(usage)\n"
                "mom = mom[mom['month'] == month]\n"
                "changed = mom[((mom['previous_credits'] == 0) & (mom['credits'] > 0))\n"
                "              | ((mom['previous_credits'] > 0) & (mom['credits'] == 0))]\n"
                "show(changed, credits=['credits', 'previous_credits'], signed=['change'])"
                " if len(changed) else print('none this month')"
            ),
            new_markdown_cell("## Days that stood out"),
            new_code_cell(
                "show(gr.detect_anomalies(usage), credits=['credits', 'baseline', 'mad'])"
            ),
        ]
    )


def build(name: str, nb: nbformat.NotebookNode) -> None:
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.id = f"cell-{i:02d}"  # fixed ids: a rebuild changes only what really changed
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, HERE / name)


NOTEBOOKS = {
    "01_explore_usage.ipynb": explore,
    "02_monthly_finance_report.ipynb": report,
    "03_what_changed.ipynb": what_changed,
    "04_dashboard.ipynb": dashboard_notebook,
}

if __name__ == "__main__":
    import sys

    for name, make in NOTEBOOKS.items():
        if len(sys.argv) == 1 or name in sys.argv[1:]:
            build(name, make())
