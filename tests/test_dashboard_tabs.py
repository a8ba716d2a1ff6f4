"""The dashboard's Customers and Reconciliation tabs as models: the partial-period flag of a
month still running, and the one line of a report without such a section (the live API, where
the ledger tie-out and the customer split are left out unless the settings ask for them)."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def october():
    from generect_reports.fetch.source import open_source
    from generect_reports.reports.assemble import monthly_report

    return monthly_report(open_source(sample=True), "2026-10")


def test_a_month_still_running_flags_every_row_of_both_files(october, tmp_path: Path) -> None:
    import openpyxl

    from generect_reports.notebook.tabs import (
        customers_tab,
        reconciliation_tab,
        tab_csv,
        write_tab_xlsx,
    )

    running = dataclasses.replace(october, complete=False)
    for tab in (customers_tab(running, None, ""), reconciliation_tab(running)):
        assert tab.partial and "is still running" in " ".join(tab.lines)
        rows = list(csv.DictReader(io.StringIO(tab_csv(tab))))
        assert rows and {r["partial_period"] for r in rows} == {"true"}
        path = tmp_path / f"{tab.file_stem()}.xlsx"
        write_tab_xlsx(tab, path)
        sheet = openpyxl.load_workbook(path).active
        flags = [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert sheet.cell(row=1, column=sheet.max_column).value == "partial_period"
        assert len(flags) == len(rows) and set(flags) == {True}
    closed = customers_tab(october, None, "")
    assert not closed.partial and "is still running" not in " ".join(closed.lines)


def test_without_money_the_customers_tab_shows_the_labelled_list_price_estimate(october) -> None:
    from generect_reports.notebook.tabs import customers_tab, tab_csv

    tab = customers_tab(october, None, "")
    alloc = october.sections.allocation
    assert tab.header == ("Customer", "Credits", "Share", "est. cost USD")
    assert "an estimate at list prices" in tab.lines[0]
    assert tab.shown[-1] == (
        "Total",
        october.formats.exact_credits(october.total),
        "100.0%",
        f"{alloc.total_cost:,.2f}",
    )
    rows = list(csv.DictReader(io.StringIO(tab_csv(tab))))
    assert list(rows[0])[5] == "est_cost_usd"
    cents = sum(round(float(r["est_cost_usd"]) * 100) for r in rows[:-1])
    assert cents == int(alloc.customers["cost_cents"].sum()) == round(alloc.total_cost * 100)


def test_a_live_report_without_the_sections_says_so_in_one_line(token_env, tmp_path) -> None:
    from generect_reports.fetch.source import open_source
    from generect_reports.notebook.server import DashboardServer

    server = DashboardServer(
        source=open_source(sample=False), month="2026-10", export_dir=tmp_path, token="t"
    )
    try:
        key = ("", "2026-10", "")
        for tab, line in (
            ("customers", "This report has no split by customer"),
            ("reconciliation", "This report has no reconciliation"),
        ):
            html = server.page({"tab": [tab]}, key)
            assert html.count("class='generect-missing' role='status'>" + line) == 1, tab
            assert "Traceback" not in html and f"{tab}.csv" not in html
            with pytest.raises(LookupError):
                server.section_file(key, tab, "csv")
        assert not list(tmp_path.iterdir())
        # The explorer's own view is unchanged: its tab link is there and current.
        html = server.page({}, key)
        assert "generect-explorer" in html and "aria-current='page'>Usage<" in html
    finally:
        server.close()
    # The live report read usage through the real client; no ledger or token analytics.
    assert token_env.usage_requests()
    assert not token_env.token_requests() and not token_env.transaction_requests()
