"""Write and execute the example notebooks so they are stored with their outputs.

Run from the repository root after changing a notebook's cells here:
``python scripts/build_notebooks.py``. The outputs are what ``pytest --nbval`` compares.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = """\
import os

import matplotlib.pyplot as plt
import pandas as pd

import generect_reports as gr

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)
%matplotlib inline"""

LOAD = """\
# Set to True to read your own account (needs GENERECT_API_TOKEN); the bundled sample otherwise.
USE_LIVE_API = False

if USE_LIVE_API and os.environ.get("GENERECT_API_TOKEN"):
    usage = gr.fetch_usage("2025-01-01", pd.Timestamp.today().strftime("%Y-%m-%d"), period="day",
                           timezone="Europe/Kyiv")
else:
    usage = gr.load_sample()
print(f"{len(usage):,} daily rows from {usage.attrs['start']} to {usage.attrs['end']}, "
      f"{usage.attrs['timezone']}, source: {usage.attrs['source']}")"""


def explore() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# Explore credit usage\n\nLoad the account's daily usage, then filter it with the "
                          "panel below: months, operations, day/week/month and credits or estimated USD."),
        new_code_cell(SETUP),
        new_markdown_cell("## Load usage\n\nThe bundled sample account by default; flip the switch to use the live API."),
        new_code_cell(LOAD),
        new_markdown_cell("## Monthly totals\n\nCalendar months in the data's timezone; `change_pct` is a fraction."),
        new_code_cell("totals = gr.monthly_totals(usage)\ntotals.tail(6)"),
        new_code_cell("fig, ax = plt.subplots(figsize=(9, 3))\n"
                      "ax.bar(totals['month'], totals['credits'], color='#2E86AB')\n"
                      "ax.set_ylabel('credits')\nax.tick_params(axis='x', rotation=60)\nplt.show()"),
        new_markdown_cell("## The filter panel\n\nMove the slider or pick operations: the chart and the totals "
                          "table update on every change. (Its output is interactive, so it is not compared "
                          "when the notebook is validated; the cells after it show fixed selections.)"),
        new_code_cell("# NBVAL_IGNORE_OUTPUT\nfrom generect_reports.notebook.widgets import UsageExplorer\n\n"
                      "explorer = UsageExplorer(usage)\nexplorer"),
        new_markdown_cell("### A few fixed selections\n\nSetting a control from code does what a click does."),
        new_code_cell("explorer.months.value = ('2026-07', '2026-10')\n"
                      "explorer.operations.value = ('search_database', 'search_realtime', 'phone_find')\n"
                      "explorer.filtered"),
        new_code_cell("explorer.granularity.value = 'week'\nexplorer.unit.value = 'usd'\n"
                      "explorer.filtered.round(2).tail(5)"),
        new_code_cell("explorer.granularity.value = 'month'\nexplorer.unit.value = 'credits'\n"
                      "explorer.operations.value = tuple(explorer.operations.options)\n"
                      "explorer.filtered.sum().rename('credits Jul–Oct 2026').to_frame()"),
        new_markdown_cell("## Shares in October 2026\n\nDisplayed percentages use largest-remainder rounding, so "
                          "they add up to exactly 100."),
        new_code_cell("shares = gr.operation_shares(usage, '2026-10')\n"
                      "shares.assign(percent=gr.display_percentages(shares['share']))"),
        new_markdown_cell("## Month over month"),
        new_code_cell("mom = gr.month_over_month(usage)\nmom[mom['month'] == '2026-10'].round(4)"),
        new_markdown_cell("## Anomalies\n\nDays far above the operation's trailing 28-day median (6 × MAD)."),
        new_code_cell("gr.detect_anomalies(usage).round(2)"),
    ])


def report() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# The monthly finance report, step by step\n\nThe same figures the workbook, the PDF "
                          "and the email show, computed once by `build_report`."),
        new_code_cell(SETUP),
        new_code_cell("usage = gr.load_sample()\nreport = gr.build_report(usage)  # the last full month of the data\n"
                      "report.month, report.complete, report.comparison_basis"),
        new_markdown_cell("## Key figures"),
        new_code_cell("from generect_reports.outputs.report import fmt_credits, fmt_money, fmt_signed_pct\n\n"
                      "pd.Series({\n"
                      "    'credits this month': fmt_credits(report.total),\n"
                      "    'previous month': fmt_credits(report.previous_total),\n"
                      "    'change': fmt_signed_pct(report.change_pct),\n"
                      "    'top operation': report.top_operation,\n"
                      "    'estimated cost': fmt_money(report.estimated_cost),\n"
                      "}, name=report.month_name).to_frame()"),
        new_markdown_cell("## What drove the change\n\n`contribution` is each operation's change as a fraction of "
                          "last month's total; they add up to the total change."),
        new_code_cell("gr.variance_by_operation(usage, report.month).round(4)"),
        new_markdown_cell("## Operations table (as in the workbook's *By operation* sheet)"),
        new_code_cell("report.operations[['operation', 'credits', 'share_display', 'previous_credits', 'change', "
                      "'change_pct', 'estimated_cost']].round(4)"),
        new_markdown_cell("## Chart previews"),
        new_code_cell("from IPython.display import Image\nfrom generect_reports.outputs.pdf import history_chart_png\n\n"
                      "Image(history_chart_png(report))"),
        new_code_cell("report.daily_matrix.plot.area(figsize=(9, 3), legend=False, title='Daily credits, ' + report.month_name)\nplt.show()"),
        new_markdown_cell("## Export\n\nThe workbook and the PDF, written atomically into a temporary folder."),
        new_code_cell("import tempfile\nfrom pathlib import Path\n\nimport openpyxl\n\n"
                      "with tempfile.TemporaryDirectory() as folder:\n"
                      "    xlsx = Path(folder) / f'generect-usage-{report.month}.xlsx'\n"
                      "    pdf = Path(folder) / f'generect-usage-{report.month}.pdf'\n"
                      "    gr.write_excel_report(usage, xlsx, month=report.month)\n"
                      "    gr.write_pdf_report(usage, pdf, month=report.month)\n"
                      "    for path in sorted(Path(folder).iterdir()):\n"
                      "        print(path.relative_to(folder))\n"
                      "    print(openpyxl.load_workbook(xlsx).sheetnames)\n"
                      "    print(pdf.read_bytes()[:5])"),
    ])


def what_changed() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# What changed this month?\n\nA quick read for the middle of a month: like-for-like "
                          "comparison with the same days of last month, a month-end projection, new and "
                          "vanished operations, and the days that stood out."),
        new_code_cell(SETUP),
        new_code_cell("usage = gr.load_sample()\nAS_OF = '2026-10-15 09:00'  # pretend the month is half over"),
        new_markdown_cell("## Like for like\n\nThe first complete days of October against the same days of September."),
        new_code_cell("cmp = gr.partial_month_comparison(usage, '2026-10', as_of=AS_OF)\n"
                      "print(cmp.attrs['rule'])\nprint(f\"{cmp.attrs['elapsed_days']} of {cmp.attrs['days_in_month']} days complete\")\n"
                      "cmp.round(4)"),
        new_markdown_cell("## Projection (an estimate)"),
        new_code_cell("proj = gr.run_rate_projection(usage, '2026-10', as_of=AS_OF)\nproj.round(2)"),
        new_code_cell("proj[['credits', 'projected_credits', 'projected_weekday']].sum().round(2)"),
        new_markdown_cell("## Operations that appeared or vanished"),
        new_code_cell("mom = gr.month_over_month(usage)\n"
                      "mom[(mom['previous_credits'] == 0) & (mom['credits'] > 0) | (mom['previous_credits'] > 0) & (mom['credits'] == 0)]"),
        new_markdown_cell("## Days that stood out"),
        new_code_cell("gr.detect_anomalies(usage).round(2)"),
    ])


def build(name: str, nb: nbformat.NotebookNode) -> None:
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    build("01_explore_usage.ipynb", explore())
    build("02_monthly_finance_report.ipynb", report())
    build("03_what_changed.ipynb", what_changed())
