"""The dashboard: its figures, the extra KPI row, report downloads, live loading against the local
API, and the ``dashboard`` command's checks before anything starts."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from fakeapi import TOKEN
from support import run_cli

import generect_reports as g
from generect_reports.errors import MissingTokenError
from generect_reports.notebook import dashboard as D

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_dashboard.ipynb"


@pytest.fixture
def sample_source():
    from generect_reports.fetch.source import open_source

    return open_source(sample=True)


def test_key_figures_are_the_reports(sample, sample_source, tmp_path):
    dash = D.Dashboard(sample_source, export_dir=tmp_path)
    rep = g.build_report(sample)
    text = dash.kpis.value
    assert f"Credits, {rep.month_name}" in text and f"{rep.total:,.0f}" in text
    assert rep.top_operation in text and f"${rep.estimated_cost:,.2f}" in text


def test_plan_limit_row_shows_the_reports_budget_section(sample_source, tmp_path):
    from generect_reports.reports.assemble import monthly_report

    dash = D.Dashboard(sample_source, export_dir=tmp_path)
    status = monthly_report(sample_source, None).sections.budget
    limit = status[status["kind"] == "limit"].iloc[0]
    text = dash.extra_kpis.value
    assert dash.extra_kpis.layout.display == "flex"
    assert "Plan limit used" in text and f"{limit['share_used'] * 100:.1f}%" in text
    assert f"{limit['threshold']:,.0f} credits" in text


def test_extra_kpi_row_is_hidden_without_providers(sample_source, tmp_path, monkeypatch):
    monkeypatch.setattr(D, "KPI_PROVIDERS", [])
    dash = D.Dashboard(sample_source, export_dir=tmp_path)
    assert dash.extra_kpis.layout.display == "none"


def test_extra_kpi_row_is_filled_by_providers(sample_source, tmp_path, monkeypatch):
    seen = []

    def runway(usage, report):
        seen.append((len(usage), report.month))
        return [("Plan limit used", "67%", "of 50,000 credits")]

    monkeypatch.setattr(D, "KPI_PROVIDERS", [runway])
    dash = D.Dashboard(sample_source, month="2026-09", export_dir=tmp_path)
    assert seen == [(len(dash.usage), "2026-09")]
    assert "Plan limit used" in dash.extra_kpis.value and dash.extra_kpis.layout.display == "flex"
    assert "Plan limit used" not in dash.kpis.value


def test_report_downloads_are_written_and_linked(sample_source, tmp_path):
    dash = D.Dashboard(sample_source, export_dir=tmp_path)
    xlsx, pdf = dash.write_reports()
    assert xlsx == tmp_path / "generect-usage-2026-10.xlsx" and xlsx.read_bytes()[:2] == b"PK"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert 'download="generect-usage-2026-10.xlsx"' in dash.report_links.value
    assert 'download="generect-usage-2026-10.pdf"' in dash.report_links.value


def test_report_files_are_the_report_commands_to_the_byte(tmp_path):
    cli_dir, dash_dir = tmp_path / "cli", tmp_path / "dashboard"
    cli_dir.mkdir()
    done = run_cli("report", "--sample", "--month", "2026-10", "--quiet", cwd=cli_dir)
    assert done.returncode == 0, done.stderr
    dash = D.Dashboard.from_parameters(use_live_api=False, month="2026-10", export_dir=dash_dir)
    dash_dir.mkdir()
    for path in dash.write_reports():
        assert path.read_bytes() == (cli_dir / path.name).read_bytes(), path.name
    # ... sections included: the budget, the ledger tie-out and the customers
    sections = dash.report.sections
    assert sections.budget is not None and sections.reconciliation is not None
    assert sections.allocation is not None


def test_live_dashboard_asks_the_api_url_it_is_given_by_the_reports_plan(
    api, tmp_path, monkeypatch
):
    from generect_reports.fetch.plan import report_plan
    from generect_reports.periods import local_today

    monkeypatch.setenv("GENERECT_API_TOKEN", TOKEN)
    monkeypatch.setenv("GENERECT_API_URL", "http://127.0.0.1:9")  # nothing listens there
    dash = D.Dashboard.from_parameters(
        use_live_api=True, timezone="UTC", api_url=api.url, export_dir=tmp_path
    )
    dash.close()  # its connections: the server's threads end with them
    plan = report_plan(dash.report.month, 24, today=local_today(dash.report.as_of.tzinfo))
    # Cold: the report's plan and one /me/ for the plan-limit row, nothing more.
    assert len(api.usage_requests()) == len(plan.requests) <= 100  # not a day per request
    assert [r.path for r in api.requests].count("/api/v1/accounts/me/") == 1
    assert "Plan limit used" in dash.extra_kpis.value and "unavailable" not in dash.extra_kpis.value
    assert dash.usage.attrs["start"] == plan.day_start.isoformat()


def test_the_served_dashboard_reads_the_live_api_it_is_given(token_env, tmp_path, monkeypatch):
    """The server's models come from the source the command opened: the API URL it was given,
    by the report's plan, once for every viewer; other timezones are offered for live data."""
    from generect_reports.fetch.plan import report_plan
    from generect_reports.fetch.source import open_source
    from generect_reports.notebook.server import DashboardServer
    from generect_reports.periods import local_today

    monkeypatch.setenv("GENERECT_API_URL", "http://127.0.0.1:9")  # nothing listens there
    source = open_source(sample=False, api_url=token_env.url, timezone="UTC", no_cache=True)
    server = DashboardServer(source=source, export_dir=tmp_path, token="t")
    try:
        month = server.default_month()
        key = server.key({"month": [month]})
        page = server.page({}, key) + server.page({"period": ["week"]}, key)  # two viewers
        rep = server.models(key).result().report
        plan = report_plan(rep.month, 24, today=local_today(rep.as_of.tzinfo))
        assert len(token_env.usage_requests()) == len(plan.requests) <= 100
        assert f"Credits, {rep.month_name}" in page and f"{rep.total:,.0f}" in page
        assert "<option value='America/New_York'>" in page and "disabled" not in page
        assert server.key({"month": [month], "tz": ["Asia/Tokyo"]})[2] == "Asia/Tokyo"
    finally:
        server.close()
        source.close()


def test_as_of_keeps_only_complete_days():
    usage = D.load_usage(False, "Europe/Kyiv", as_of="2026-10-15 09:00")
    assert (
        usage.attrs["end"] == "2026-10-14"
        and str(usage["period_start"].max().date()) == "2026-10-14"
    )
    assert usage.attrs["fetched_at"] == pd.Timestamp("2026-10-15 09:00", tz="Europe/Kyiv")


def test_live_data_needs_a_token(monkeypatch):
    monkeypatch.delenv("GENERECT_API_TOKEN", raising=False)
    with pytest.raises(MissingTokenError, match="GENERECT_API_TOKEN is not set"):
        D.load_usage(True, "UTC")


def test_live_data_from_the_api(token_env):
    usage = D.load_usage(True, "UTC", start="2026-10-01", as_of="2026-10-11 00:00")
    assert usage.attrs["source"] == "api" and usage.attrs["timezone"] == "UTC"
    days = usage["period_start"].dt.strftime("%Y-%m-%d")
    assert days.min() == "2026-10-01" and days.max() == "2026-10-10"
    assert usage.groupby("operation")["credits"].sum().to_dict() == {
        "email_find": 25.0,
        "search_database": 100.0,
    }


def test_stored_dashboard_notebook_is_the_generated_one():
    stored = nbformat.read(NOTEBOOK, as_version=4)
    fresh = D.dashboard_notebook()
    assert [c.source for c in stored.cells] == [c.source for c in fresh.cells]
    assert [c.metadata.get("tags", []) for c in stored.cells] == [
        ["parameters"],
        ["nbval-ignore-output"],
    ]
    assert all(c.cell_type == "code" for c in stored.cells)  # nothing but the dashboard shows


# --- the command ------------------------------------------------------------------------------


def test_dashboard_without_tornado_names_the_extra(tmp_path):
    shadow = tmp_path / "shadow" / "tornado"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named tornado')\n")
    path = os.pathsep.join([str(tmp_path / "shadow"), os.environ.get("PYTHONPATH", "")])
    done = run_cli("dashboard", "--sample", "--port", "0", env={"PYTHONPATH": path}, cwd=tmp_path)
    assert done.returncode == 2
    assert "'dashboard' extra" in done.stderr and "generect-reports[dashboard]" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_dashboard_live_without_token(tmp_path):
    done = run_cli("dashboard", "--port", "0", cwd=tmp_path)
    assert done.returncode == 2 and "GENERECT_API_TOKEN" in done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--month", "2026-13"], "month"),
        (["--timezone", "UTC"], "Europe/Kyiv"),
        (["--port", "70000"], "--port"),
    ],
)
def test_dashboard_bad_input(tmp_path, args, message):
    done = run_cli("dashboard", "--sample", *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert list(tmp_path.iterdir()) == []


# --- friendly failure ---------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2020-01", "2026-12"])
def test_a_month_without_data_opens_as_one_plain_line(month, tmp_path):
    shown = D.open_dashboard(use_live_api=False, month=month, export_dir=str(tmp_path))
    assert not isinstance(shown, D.Dashboard)
    text = shown.value
    assert text.count("<p") == 1 and "The dashboard cannot open: " in text
    assert ("2019-12-04" in text) if month == "2020-01" else ("no complete day" in text)
    assert "Traceback" not in text and "show_tracebacks" not in text


def test_a_refused_token_opens_as_one_plain_line(api, tmp_path, monkeypatch):
    monkeypatch.setenv("GENERECT_API_TOKEN", "not-the-token-" + TOKEN[::-1])
    shown = D.open_dashboard(use_live_api=True, timezone="UTC", api_url=api.url, no_cache=True)
    text = shown.value
    assert "The dashboard cannot open: " in text and "role='alert'" in text
    assert TOKEN[::-1] not in text and "Traceback" not in text


def test_open_dashboard_gives_the_dashboard_when_it_can(tmp_path):
    shown = D.open_dashboard(use_live_api=False, month="2026-10", export_dir=str(tmp_path))
    assert isinstance(shown, D.Dashboard) and "Credits, October 2026" in shown.kpis.value


def test_open_dashboard_reopens_a_shared_view(tmp_path, monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "token=t&from=2026-10-01&to=2026-10-15&period=day&tab=drill")
    shown = D.open_dashboard(use_live_api=False, month="2026-10", export_dir=str(tmp_path))
    ex = shown.explorer
    assert ex.range == (pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-15"))
    assert ex.granularity.value == "day" and ex.tabs.selected_index == 2
    assert list(ex.filtered.index)[:2] == ["2026-10-01", "2026-10-02"] and len(ex.filtered) == 15
