"""axe-core (``tests/data/axe-core``) in Chromium against the dashboard and the example notebooks:
no violation of impact "serious" or "critical" (WCAG 2.x A and AA, and axe's best practices).

- The dashboard as served by the ``dashboard`` command, on a desktop and a phone, with a
  comparison and a drill-down on screen, its one-line failure page and its refusal page.
- The notebooks run in JupyterLab: what the notebook shows (its outputs and its text). The
  checks leave JupyterLab's own editor and toolbars out: they are JupyterLab's, not these
  notebooks' (axe reports, for example, its toolbar buttons' ``aria-pressed``).

The accounts dashboard is checked the same way in ``test_dashboard_accounts.py``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import test_browser
from axecheck import axe_violations, describe
from test_browser import (
    DASHBOARD_TOKEN,
    NOTEBOOKS,
    _env,
    _free_port,
    _run_notebook,
    _server,
    sample_dashboard,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))

#: Chromium, one for the module (the browser tests' fixture).
browser = test_browser.browser


def _clean(page: Any, where: str, **scope: Any) -> None:
    found = axe_violations(page, **scope)
    assert found == [], f"{where}:\n{describe(found)}"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sample_dashboard(tmp_path_factory.mktemp("axe-dashboard")) as (url, _work):
        yield url


def test_the_dashboard_has_no_serious_violation(browser, dashboard):
    for width, height in ((1440, 900), (390, 844)):
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            # The second half of October (a shared view): the period before it is inside the
            # data (from 03 Sep), so Compare draws its table and chart.
            view = "&from=2026-10-16&to=2026-10-31&period=day&op=preview"
            page.goto(f"{dashboard}?token={DASHBOARD_TOKEN}{view}", timeout=90000)
            page.locator("img.generect-compare-chart").wait_for(timeout=60000)
            page.locator("img.generect-drill-chart").wait_for(timeout=60000)
            _clean(page, f"the dashboard at {width} px")
            # The whole range: Compare refuses the period before the data, with one line.
            page.goto(f"{dashboard}?token={DASHBOARD_TOKEN}&unit=usd", timeout=90000)
            page.locator(".generect-refused").wait_for(timeout=60000)
            _clean(page, f"the dashboard in dollars with a refused comparison at {width} px")
            # The report's sections, each a tab of its own.
            for tab in ("customers", "reconciliation"):
                page.goto(f"{dashboard}?token={DASHBOARD_TOKEN}&tab={tab}", timeout=90000)
                page.locator(f"section.generect-{tab}").wait_for(timeout=60000)
                _clean(page, f"the {tab} tab at {width} px")
        finally:
            page.close()


def test_the_failure_and_refusal_pages_have_no_serious_violation(browser, dashboard):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        # A month the sample has no data for: one line in the page, the pickers above it.
        page.goto(f"{dashboard}?token={DASHBOARD_TOKEN}&month=2019-01", timeout=90000)
        line = page.locator(".generect-failure")
        line.wait_for(timeout=90000)
        assert line.inner_text().startswith("The dashboard cannot open: ")
        _clean(page, "the failure page")
        fresh = browser.new_context()
        try:
            refused = fresh.new_page()
            response = refused.goto(dashboard, timeout=90000)
            assert response is not None and response.status == 403
            _clean(refused, "the refusal page")
        finally:
            fresh.close()
    finally:
        page.close()


def test_the_notebooks_in_jupyterlab_have_no_serious_violation(browser, tmp_path):
    work = tmp_path / "lab"
    work.mkdir()
    for name in NAMES:
        shutil.copy(NOTEBOOKS / name, work / name)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={work}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
        "--allow-root",
    ]
    with _server(cmd, cwd=work, port=port, env=_env(tmp_path)):
        for name in NAMES:
            page = browser.new_page(viewport={"width": 1440, "height": 1600})
            try:
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}", timeout=90000)
                _run_notebook(page, name, work / "server.log")
                page.wait_for_timeout(2000)
                _clean(
                    page,
                    f"{name} in JupyterLab",
                    include=(
                        ".jp-NotebookPanel .jp-OutputArea, .jp-NotebookPanel .jp-MarkdownOutput"
                    ),
                )
            finally:
                page.close()
