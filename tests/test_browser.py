"""The dashboard (Voilà) and the explorer notebook (JupyterLab) used in real Chromium, as a person
would: the panel renders, the controls change the chart and the totals, the export button writes
the filtered figures, and the browser logs no errors.

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


def test_dashboard_in_chromium(browser, tmp_path):
    from generect_reports.fetch.source import open_source

    # The explorer shows the days the report was built from: its plan's, 2026-09-03 to 10-31.
    days = open_source(sample=True).report_usage("2026-10", 24).daily
    port = _free_port()
    work = tmp_path / "work"
    work.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "generect_reports",
        "dashboard",
        "--sample",
        "--port",
        str(port),
        "--quiet",
    ]
    with (
        _server(cmd, cwd=work, port=port, env=_env(tmp_path)),
        _page(browser, tmp_path, "dashboard") as pg,
    ):
        page = pg.page
        page.goto(f"http://127.0.0.1:{port}/?token={DASHBOARD_TOKEN}", timeout=90000)
        page.locator(".generect-dashboard img.generect-chart").first.wait_for(timeout=90000)
        _no_broken_widgets(page)
        body = page.inner_text("body")
        assert "Credits, October 2026" in body and "33,441" in body
        # No code and no developer text in the page.
        assert (
            "import" not in body
            and "Dashboard.from_parameters" not in body
            and "USE_LIVE_API" not in body
        )
        assert page.locator(".jp-InputArea:visible, .jp-CodeCell .jp-Editor:visible").count() == 0
        scope = ".generect-dashboard"
        months = ("2026-09", "2026-09")
        ops = _exercise_explorer(pg, scope, days, months, steps=1)
        _check_export(pg, scope, work, ops, months, days)
        page.locator(f"{scope} button.generect-report-button").click()
        page.locator(f"{scope} .generect-report-links a.generect-download").nth(1).wait_for(
            timeout=60000
        )
        assert (work / "generect-usage-2026-10.xlsx").is_file() and (
            work / "generect-usage-2026-10.pdf"
        ).read_bytes()[:5] == b"%PDF-"
        pg.shot("dashboard")
        assert pg.errors == []


def _kernels(server: subprocess.Popen[bytes]) -> list[Any]:
    import psutil

    found = []
    for child in psutil.Process(server.pid).children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:  # ended between the listing and the look
            pass
    return found


def _wait_for_kernels(server: subprocess.Popen[bytes], count: int, timeout: float) -> float:
    """Seconds until the server runs ``count`` kernels (fails after ``timeout``)."""
    started = time.monotonic()
    while len(_kernels(server)) != count:
        assert time.monotonic() - started < timeout, f"{len(_kernels(server))} kernels running"
        time.sleep(0.2)
    return time.monotonic() - started


def test_leaving_the_dashboard_ends_its_kernel(browser, tmp_path):
    """Views left by navigating away end their kernel at once (the page's shutdown beacon passes
    the XSRF check); a tab that is closed without it is culled after the idle timeout. Either
    way the server is back to no kernels."""
    port = _free_port()
    work = tmp_path / "work"
    work.mkdir()
    idle = 15
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port), "--idle-timeout", str(idle)]
    with _server(cmd, cwd=work, port=port, env=_env(tmp_path)) as server:
        assert _kernels(server) == []
        for view, leave in enumerate(("navigate", "navigate", "close")):
            with _page(browser, tmp_path, f"view-{view}") as pg:
                page = pg.page
                # The first view is a shared link: it reopens the view it names.
                shared = "&from=2026-10-01&to=2026-10-15&period=day" if view == 0 else ""
                page.goto(
                    f"http://127.0.0.1:{port}/?token={DASHBOARD_TOKEN}{shared}", timeout=90000
                )
                chart = page.locator(".generect-dashboard img.generect-chart").first
                chart.wait_for(timeout=90000)
                if shared:
                    alt = str(chart.get_attribute("alt"))
                    assert alt.startswith("Chart: Credits by day, 01 Oct 2026 – 15 Oct 2026"), alt
                    link = page.locator("a.generect-share-link").first.get_attribute("href")
                    assert link is not None and "period=day" in link and "token" not in link
                assert len(_kernels(server)) == 1
                assert pg.errors == []
                if leave == "navigate":
                    page.goto("about:blank")
                    # Well inside the idle timeout: the shutdown on leaving, not the culling.
                    _wait_for_kernels(server, 0, timeout=idle / 2)
                else:
                    page.close(run_before_unload=True)
                    _wait_for_kernels(server, 0, timeout=idle + 30)
        log = (work / "server.log").read_text(errors="replace")
        assert "_xsrf" not in log and " 403 " not in log
        assert log.count("Culling 'idle' kernel") == 1  # the closed tab's kernel only


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
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        scope = ".generect-explorer"
        page.locator(f"{scope} img.generect-chart").first.wait_for(timeout=60000)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
            timeout=60000
        )
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


def test_dashboard_on_a_phone_in_print_and_to_a_screen_reader(browser, tmp_path):
    """At 390×844: nothing wider than the screen, every control on it, charts in proportion, the
    comparison inside the screen; toggles and buttons readable (contrast ≥ 4.5:1); charts state
    their figures in their accessible name; printing gives every section, not the first screen."""
    import unicodedata

    from pypdf import PdfReader

    port = _free_port()
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port)]
    with _server(cmd, cwd=work, port=port, env=_env(tmp_path)):
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        try:
            page.goto(f"http://127.0.0.1:{port}/?token={DASHBOARD_TOKEN}", timeout=90000)
            chart = page.locator(".generect-dashboard img.generect-chart").first
            chart.wait_for(timeout=90000)
            page.wait_for_timeout(500)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            controls = [
                ".generect-explorer .noUi-handle",
                ".generect-explorer .widget-datepicker input",
                ".generect-explorer .widget-dropdown select",
                ".generect-explorer select[multiple]",
                ".generect-explorer .widget-toggle-button",
                ".generect-dashboard button.generect-report-button",
            ]
            for selector in controls:
                items = page.locator(selector + ":visible")  # the open tab's, the page's
                assert items.count(), selector
                for i in range(items.count()):
                    box = items.nth(i).bounding_box()
                    assert box is not None and box["x"] >= 0, selector
                    assert box["x"] + box["width"] <= 390 + 0.5, (selector, i, box)
            box = chart.bounding_box()
            assert box is not None and box["width"] <= 390
            assert box["width"] / box["height"] == pytest.approx(900 / 380, rel=0.03)
            # What a screen reader announces for the chart: its figures.
            name = str(chart.get_attribute("alt"))
            assert name.startswith("Chart: Credits by month") and "Total " in name, name
            assert "Highest month: 2026-10" in name
            # Toggles (on and off) and the primary button: text contrast of at least 4.5:1.
            colours = page.evaluate(
                """() => [...document.querySelectorAll(
                     '.generect-explorer .widget-toggle-button, .generect-dashboard .mod-primary')]
                   .map(e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor,
                              e.className])"""
            )
            assert any("mod-active" in c[2] for c in colours)
            for fg, bg, cls in colours:
                assert _contrast(fg, bg) >= 4.5, (fg, bg, cls)
            page.locator(".lm-TabBar-tab", has_text="Compare").first.click()
            compare = page.locator(".generect-compare").first
            compare.wait_for(timeout=20000)
            page.wait_for_timeout(300)
            box = compare.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390 + 0.5
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            pdf = tmp_path / "print.pdf"
            page.emulate_media(media="print")
            pdf.write_bytes(page.pdf(width="390px", height="844px"))
            reader = PdfReader(str(pdf))
            # NFKC: the PDF's fonts join "fi" into one ligature glyph.
            text = unicodedata.normalize(
                "NFKC", " ".join(p.extract_text() or "" for p in reader.pages)
            )
            assert len(reader.pages) > 1
            assert "Explore usage" in text and "Report files" in text
        finally:
            context.close()
