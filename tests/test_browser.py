"""The served dashboard and the explorer notebook (JupyterLab) used in real Chromium, as a person
would: the page renders, the controls change the chart and the totals (the dashboard's form
reloads the view its URL names, with or without script), the exports hold the figures on
screen, the phone layout and print work, and the browser logs no errors.

Needs Debian's ``chromium`` at /usr/bin/chromium and the ``playwright`` package (its own browser
download is not used). A failing test leaves a screenshot in its tmp folder and prints the path.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: The dashboard's token in these tests (the command takes it from the environment).
DASHBOARD_TOKEN = "browser-test-token-3f9a1c"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the kernel chooses its inline backend, as for a user
    # A private Jupyter configuration: nothing from the machine's, nothing left behind.
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[name] = str(tmp / ".jupyter" / sub)
    env["GENERECT_DASHBOARD_TOKEN"] = DASHBOARD_TOKEN
    return env


@contextlib.contextmanager
def _server(
    cmd: list[str], *, cwd: Path, port: int, env: dict[str, str], timeout: float = 90.0
) -> Iterator[subprocess.Popen[bytes]]:
    log = (cwd / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {proc.returncode}:\n"
                    + (cwd / "server.log").read_text(errors="replace")
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "server did not answer:\n"
                        + (cwd / "server.log").read_text(errors="replace")
                    ) from exc
                time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page that records console errors and takes a screenshot when the test fails."""

    def __init__(self, browser: Any, tmp: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1600})
        self.errors: list[str] = []
        self.tmp = tmp
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def shot(self, name: str) -> Path:
        path = self.tmp / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextlib.contextmanager
def _page(browser: Any, tmp: Path, name: str) -> Iterator[Page]:
    page = Page(browser, tmp)
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            print(f"screenshot of the failure: {page.shot(name + '-failure')}")
        raise
    finally:
        page.page.close()


def _chart_src(page: Any, scope: str) -> str:
    return str(page.locator(f"{scope} img.generect-chart").first.get_attribute("src"))


def _totals(page: Any, scope: str) -> str:
    return page.locator(f"{scope} .generect-totals").first.inner_text()


def _wait_for_total(page: Any, scope: str, chart: str, total: float, timeout: float = 30.0) -> str:
    """Wait until the chart image has changed and the totals row shows ``total``."""
    want = f"Total\t{total:,.0f}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _chart_src(page, scope) != chart and want in _totals(page, scope):
            return _chart_src(page, scope)
        page.wait_for_timeout(100)
    raise AssertionError(
        f"expected a new chart and {want!r} in the totals, got {_totals(page, scope)!r}"
    )


def _move_months(page: Any, scope: str, steps: int) -> None:
    """Move the upper handle of the month slider with the keyboard, as a person can."""
    handle = page.locator(f"{scope} .noUi-handle").last
    handle.focus()
    for _ in range(steps):
        handle.press("ArrowLeft")


def _no_broken_widgets(page: Any) -> None:
    body = page.inner_text("body")
    assert "Error displaying widget" not in body
    assert "VBox(children" not in body and "HBox(children" not in body


def _exercise_explorer(
    pg: Page,
    scope: str,
    sample: Any,
    months: tuple[str, str] = ("2025-01", "2026-07"),
    steps: int = 3,
) -> list[str]:
    """Move the upper month ``steps`` back (to ``months``), then pick three operations; return
    them. ``sample`` is the daily usage the explorer was given."""
    from generect_reports.notebook.widgets import filter_usage

    page = pg.page
    chart = _chart_src(page, scope)
    assert chart.startswith(("blob:", "data:image/png")) and "Total" in _totals(page, scope)
    _move_months(page, scope, steps)
    chart = _wait_for_total(
        page, scope, chart, filter_usage(sample, months=months).to_numpy().sum()
    )
    label = page.locator(f"{scope} .widget-readout").first.inner_text()
    assert label.replace("–", "-").endswith(months[1]), label
    ops = ["search_database", "phone_find", "email_find"]
    page.locator(f"{scope} select[multiple]").first.select_option(ops)
    _wait_for_total(
        page, scope, chart, filter_usage(sample, months=months, operations=ops).to_numpy().sum()
    )
    totals = _totals(page, scope)
    assert "preview" not in totals and all(op in totals for op in ops)
    return ops


def _check_export(
    pg: Page, scope: str, folder: Path, ops: list[str], months: tuple[str, str], sample: Any
) -> None:
    from generect_reports.notebook.widgets import filter_usage

    page = pg.page
    page.locator(f"{scope} .lm-TabBar-tab", has_text="Export").first.click()
    page.locator(f"{scope} button.generect-export").first.click()
    link = page.locator(f"{scope} .generect-export-link a.generect-download").first
    link.wait_for(timeout=20000)
    name = link.get_attribute("download")
    path = folder / str(name)
    assert path.is_file()
    with path.open(encoding="utf-8", newline="") as fh:
        rows = pd.DataFrame(list(csv.DictReader(fh))).astype({"credits": float})
    got = rows.pivot_table(index="period", columns="operation", values="credits", aggfunc="sum")
    want = filter_usage(sample, months=months, operations=ops)
    pd.testing.assert_frame_equal(got[want.columns], want, check_names=False)


@contextlib.contextmanager
def sample_dashboard(tmp: Path) -> Iterator[tuple[str, Path]]:
    """The ``dashboard`` command on the sample, run in ``tmp``: (its base URL, its folder)."""
    work = tmp / "work"
    work.mkdir()
    port = _free_port()
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port)]
    with _server(cmd, cwd=work, port=port, env=_env(tmp)):
        yield f"http://127.0.0.1:{port}/", work


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The sample's dashboard, one for the module: (its URL with the token, its folder)."""
    with sample_dashboard(tmp_path_factory.mktemp("dashboard")) as (url, work):
        yield f"{url}?token={DASHBOARD_TOKEN}", work


def _chart_loaded(page: Any, selector: str = "img.generect-chart") -> Any:
    chart = page.locator(selector).first
    chart.wait_for(timeout=60000)
    page.wait_for_function(
        "s => { const i = document.querySelector(s);"
        " return i && i.complete && i.naturalWidth > 0 }",
        arg=selector,
        timeout=60000,
    )
    return chart


def _totals_text(page: Any) -> str:
    return str(page.locator(".generect-totals").first.inner_text())


def test_dashboard_in_chromium(browser, dashboard, tmp_path):
    """The controls are a form: each change reloads the view it names (the URL is the view), the
    totals are the explorer's figures, and the view's export is the file on screen."""
    from generect_reports.fetch.source import open_source
    from generect_reports.notebook.widgets import filter_usage

    url, work = dashboard
    # The explorer shows the days the report was built from: its plan's, 2026-09-03 to 10-31.
    days = open_source(sample=True).report_usage("2026-10", 24).daily
    with _page(browser, tmp_path, "dashboard") as pg:
        page = pg.page
        page.goto(url, timeout=90000)
        assert "token=" not in page.url  # kept in a cookie, out of the address bar
        _chart_loaded(page)
        body = page.inner_text("body")
        assert "Credits, October 2026" in body and "33,441" in body
        assert "import" not in body and "USE_LIVE_API" not in body and "Traceback" not in body
        # The key figures arrive after the explorer and are moved above it.
        assert page.evaluate(
            "document.getElementById('generect-kpi-block')"
            ".compareDocumentPosition(document.querySelector('.generect-explorer')) & 4"
        )
        with page.expect_navigation():
            page.locator("input[name=period][value=week]").check()
        assert "period=week" in page.url
        with page.expect_navigation():
            page.fill("#c-from", "2026-09-10")
        assert "from=2026-09-10" in page.url
        chart = _chart_loaded(page)
        assert str(chart.get_attribute("alt")).startswith("Chart: Credits by week, 10 Sep 2026")
        ops = ["search_database", "phone_find", "email_find"]
        for op in [o for o in filter_usage(days).columns if o not in ops]:
            with page.expect_navigation():
                page.locator(f"input[name=ops][value='{op}']").uncheck()
        want = filter_usage(days, dates=("2026-09-10", "2026-10-31"), operations=ops)
        assert f"Total\t{want.to_numpy().sum():,.0f}" in _totals_text(page)
        with page.expect_download() as done:
            page.locator(".generect-export-links a", has_text=".csv").click()
        saved = tmp_path / done.value.suggested_filename
        done.value.save_as(saved)
        with saved.open(encoding="utf-8", newline="") as fh:
            rows = pd.DataFrame(list(csv.DictReader(fh))).astype({"credits": float})
        got = rows.pivot_table(index="period", columns="operation", values="credits", aggfunc="sum")
        weekly = filter_usage(
            days, dates=("2026-09-10", "2026-10-31"), operations=ops, granularity="week"
        )
        pd.testing.assert_frame_equal(got[weekly.columns], weekly, check_names=False)
        assert (work / saved.name).read_bytes() == saved.read_bytes()
        # The link to the view reopens it in a fresh page.
        link = page.locator("a.generect-share-link").get_attribute("href")
        assert link is not None and "token" not in link
        shared = page.url
        page.goto("about:blank")
        page.goto(shared)
        assert f"Total\t{want.to_numpy().sum():,.0f}\t100.0%" in _totals_text(page)
        pg.shot("dashboard")
        assert pg.errors == []


def test_the_form_works_without_script(browser, dashboard):
    url, _work = dashboard
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(url, timeout=90000)
        page.locator("input[name=unit][value=usd]").check()
        page.wait_for_timeout(300)
        assert "unit=usd" not in page.url  # nothing submits by itself
        with page.expect_navigation():
            page.locator("button.generect-show").click()
        assert "unit=usd" in page.url and "Total\t$" in _totals_text(page)
    finally:
        context.close()


# JupyterLab exposes itself as ``window.jupyterapp`` (``--LabApp.expose_app_in_browser``), so the
# test runs the notebook with JupyterLab's own command and reads the notebook's model: no menu
# click that can land while the menu is still opening, and no prompt hidden by the windowing.
# Each script finds the notebook's panel by its path: the shell's current widget follows focus.
_FIND_PANEL = """
  const app = window.jupyterapp;
  const panel = app && [...app.shell.widgets('main')].find(
    w => w.context && w.context.path === path);
"""

_KERNEL_READY = """(path) => {/*panel*/
  if (!panel || !panel.sessionContext || !panel.sessionContext.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}""".replace("/*panel*/", _FIND_PANEL)

_RUN_ALL = """(path) => {/*panel*/
  window.__runAll = undefined;
  app.shell.activateById(panel.id);
  app.commands.execute('notebook:run-all-cells').then(
    ran => { window.__runAll = {ran: ran}; },
    err => { window.__runAll = {ran: false, error: String(err)}; });
}""".replace("/*panel*/", _FIND_PANEL)

# What the run left: each code cell's execution count and any error it printed.
_STATE = """(path) => {/*panel*/
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code').map(c => ({
    count: c.model.executionCount,
    errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
      .map(o => o.ename + ': ' + o.evalue),
  }));
  return {done: window.__runAll, kernel: kernel ? kernel.status : 'none', cells: cells};
}""".replace("/*panel*/", _FIND_PANEL)


def _run_notebook(page: Any, name: str, log: Any, timeout_ms: int = 240000) -> None:  # noqa: ANN401
    """Run every cell with JupyterLab's Run All Cells and wait for the run to finish; on a
    failure or a hang, say which cells ran, what they raised and what the server logged."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    where = f"{name} in JupyterLab"
    page.wait_for_function(_KERNEL_READY, arg=name, timeout=90000, polling=250)
    page.evaluate(_RUN_ALL, name)
    try:
        page.wait_for_function("() => window.__runAll !== undefined", timeout=timeout_ms)
    except PlaywrightTimeout as exc:
        state = page.evaluate(_STATE, name)
        tail = log.read_text(errors="replace")[-3000:]
        raise AssertionError(
            f"{where}: the run did not finish: {state}\nserver log:\n{tail}"
        ) from exc
    state = page.evaluate(_STATE, name)
    ran = all(cell["count"] is not None for cell in state["cells"])
    errors = [e for cell in state["cells"] for e in cell["errors"]]
    assert state["done"].get("ran") and ran and not errors, f"{where}: {state}"


def test_explorer_notebook_in_jupyterlab(browser, tmp_path, sample):
    port = _free_port()
    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(NOTEBOOKS / "01_explore_usage.ipynb", work / "01_explore_usage.ipynb")
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.open_browser=False",
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
    with (
        _server(cmd, cwd=work, port=port, env=_env(tmp_path)),
        _page(browser, tmp_path, "jupyterlab") as pg,
    ):
        page = pg.page
        page.goto(f"http://127.0.0.1:{port}/lab/tree/01_explore_usage.ipynb", timeout=90000)
        # Opened before running (untrusted): the stored picture of the panel, not its text repr.
        page.locator(".jp-OutputArea-output img").first.wait_for(timeout=60000)
        _no_broken_widgets(page)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
            timeout=60000
        )
        # The kernel connected (the status bar says so), not only its indicator drawn: a Run All
        # sent before that clears the outputs and runs nothing.
        page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60000)
        _run_notebook(page, "01_explore_usage.ipynb", work / "server.log")
        scope = ".generect-explorer"
        page.locator(f"{scope} img.generect-chart").first.wait_for(timeout=60000)
        page.locator(f"{scope}").first.scroll_into_view_if_needed()
        _no_broken_widgets(page)
        ops = _exercise_explorer(pg, scope, sample)
        _check_export(pg, scope, work, ops, ("2025-01", "2026-07"), sample)
        pg.shot("jupyterlab")
        assert pg.errors == []


def _contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS ``rgb(...)``/``rgba(...)`` colours (opaque background)."""
    import re

    def lum(css: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_dashboard_on_a_phone_in_print_and_to_a_screen_reader(browser, dashboard, tmp_path):
    """At 390×844: nothing wider than the screen, every control on it, the charts in their phone
    layout, the comparison inside the screen; text and buttons readable (contrast ≥ 4.5:1);
    charts state their figures; printing gives every section, not the first screen."""
    import unicodedata

    from pypdf import PdfReader

    url, _work = dashboard
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(url + "&from=2026-10-16&to=2026-10-31&period=day", timeout=90000)
        chart = _chart_loaded(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # The phone layout of the chart: taller than wide, legend under it.
        assert "layout=narrow" in chart.evaluate("i => i.currentSrc")
        box = chart.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["width"] / box["height"] == pytest.approx(380 / 460, rel=0.03)
        controls = page.locator(
            "form.generect-controls select, form.generect-controls input:not([type=hidden]), "
            "form.generect-controls button, a.generect-download"
        )
        assert controls.count() > 20
        for i in range(controls.count()):
            item = controls.nth(i)
            item.scroll_into_view_if_needed()
            box = item.bounding_box()
            assert box is not None and box["x"] >= 0, i
            assert box["x"] + box["width"] <= 390 + 0.5, (i, box)
        compare = page.locator(".generect-compare").first
        box = compare.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390 + 0.5
        # What a screen reader announces for the chart: its figures.
        name = str(chart.get_attribute("alt"))
        assert name.startswith("Chart: Credits by day, 16 Oct 2026") and "Total " in name, name
        assert "Highest day: 2026-10-" in name
        colours = page.evaluate(
            """() => [...document.querySelectorAll(
                 'button, .generect-kpi .label, .generect-kpi .note, label, a, .muted, td, th')]
               .map(e => {
                 let bg = 'rgb(255, 255, 255)';
                 for (let n = e; n; n = n.parentElement) {
                   const c = getComputedStyle(n).backgroundColor;
                   if (c && c !== 'rgba(0, 0, 0, 0)') { bg = c; break; }
                 }
                 return [getComputedStyle(e).color, bg, e.className || e.tagName];
               })"""
        )
        assert len(colours) > 30
        for fg, bg, cls in colours:
            assert _contrast(fg, bg) >= 4.5, (fg, bg, cls)
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        pdf = tmp_path / "print.pdf"
        page.emulate_media(media="print")
        assert page.locator("form.generect-controls").is_hidden()
        pdf.write_bytes(page.pdf(width="390px", height="844px"))
        reader = PdfReader(str(pdf))
        # NFKC: the PDF's fonts join "fi" into one ligature glyph.
        text = unicodedata.normalize("NFKC", " ".join(p.extract_text() or "" for p in reader.pages))
        assert len(reader.pages) > 1
        for heading in ("Explore usage", "Totals", "Compare", "Drill-down", "Report files"):
            assert heading in text, heading
        page.emulate_media(media="screen")
        _section_tabs_on_a_phone(page)
    finally:
        context.close()


def _section_tabs_on_a_phone(page: Any) -> None:
    """The Customers and Reconciliation tabs, reached by their links with the keyboard: nothing
    wider than the screen, the shown shares adding up to 100.0%, the files on the screen."""
    import re

    for label, css in (
        ("Customers", "generect-customers"),
        ("Reconciliation", "generect-reconciliation"),
    ):
        link = page.locator("a.generect-tab", has_text=label)
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert f"tab={label.lower()}" in page.url
        assert page.locator("a.generect-tab[aria-current=page]").inner_text() == label
        section = page.locator(f"section.{css}")
        section.wait_for(timeout=60000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        files = page.locator("a.generect-section-file")
        assert files.count() == 2
        for i in range(files.count()):
            box = files.nth(i).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5
        if label == "Customers":
            rows = section.locator("tbody tr")
            shares = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
            assert shares[-1] == "100.0%"
            assert round(sum(float(v.rstrip("%")) for v in shares[:-1] if v), 1) == 100.0
        else:
            assert re.search(r"ties to the ledger|does not tie", section.inner_text())
