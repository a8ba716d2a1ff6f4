"""The dashboard left running: cold start, page views and the server's resident memory, in
Chromium against the real ``dashboard --sample`` command (one tornado process).

- Cold start: from the command to the first chart loaded in the page.
- A new page view on the running server: a new tab, the page and its chart loaded (each of the
  ``GENERECT_BENCH_VIEWS`` views, default 30, is a different view, so its charts are drawn
  for it, not taken from the cache), then the tab closed.
- Memory: the server's resident memory with 1 and 3 viewers open (what each viewer beyond the
  first costs) and after the 30 views were opened and closed, which must be within 10 % of
  what it was with one viewer (each read 3 s after the last request: the server tidies up
  its memory every 2 s after work).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TOKEN = "bench-dashboard-token"


def _rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _settled_rss(pid: int, seconds: float = 3.0) -> float:
    """The resident memory once the server's tidy-up after work (every 2 s) has run."""
    time.sleep(seconds)
    return _rss_mb(pid)


def _open(browser, url: str):  # noqa: ANN001, ANN202
    tab = browser.new_page(viewport={"width": 1440, "height": 900})
    # The first usable chart: the page sends its explorer before the key figures are in.
    tab.goto(url, timeout=120000, wait_until="commit")
    tab.wait_for_function(
        "() => { const i = document.querySelector('img.generect-chart');"
        " return i && i.complete && i.naturalWidth > 0 }",
        timeout=120000,
    )
    t = time.monotonic()
    # Then the whole view: the key figures and every chart (comparison, drill-down) drawn.
    tab.wait_for_load_state("load", timeout=120000)
    tab.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        timeout=120000,
    )
    tab.rest_s = time.monotonic() - t  # type: ignore[attr-defined]
    return tab


def test_thirty_views_leave_memory_where_one_left_it(tmp_path: Path, results) -> None:
    from playwright.sync_api import sync_playwright

    views = int(os.environ.get("GENERECT_BENCH_VIEWS", "30"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = dict(os.environ, GENERECT_DASHBOARD_TOKEN=TOKEN, MPLBACKEND="Agg")
    env["GENERECT_REPORTS_CACHE_DIR"] = str(tmp_path / "cache")
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port)]
    base = f"http://127.0.0.1:{port}/?token={TOKEN}"
    log_path = tmp_path / "server.log"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        browser.new_page().close()  # the browser's own start-up is not the server's
        log = log_path.open("wb")
        started = time.monotonic()
        server = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert server.poll() is None and time.monotonic() - started < 120
                    time.sleep(0.05)
            listening = time.monotonic() - started
            first = _open(browser, base)
            # To the first usable chart, as for every page view below; the whole page (the
            # key figures, built from the month's report, and every chart) is recorded too.
            cold_whole = time.monotonic() - started
            cold = cold_whole - first.rest_s
            one_open = _settled_rss(server.pid)
            first.close()
            seconds = []
            whole = []
            for i in range(views):
                # A different view each time: the range's first day moves, so charts are drawn.
                view = f"&from=2026-09-{3 + i % 27:02d}&to=2026-10-31&period=day"
                t = time.monotonic()
                tab = _open(browser, base + view)
                seconds.append(time.monotonic() - t - tab.rest_s)
                whole.append(time.monotonic() - t)
                tab.close()
            after = _settled_rss(server.pid)
            held = []
            rss_held = []
            for i in range(3):
                held.append(_open(browser, base + f"&period=week&from=2026-09-{10 + i:02d}"))
                rss_held.append(_settled_rss(server.pid))
            for tab in held:
                tab.close()
            freed = _settled_rss(server.pid)
            browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    assert "Traceback" not in log_path.read_text()
    assert re.search(r"dashboard on", log_path.read_text()) is None  # --quiet, token given
    median = sorted(seconds)[len(seconds) // 2]
    extra = (rss_held[-1] - rss_held[0]) / 2
    results["dashboard_listening_s"] = round(listening, 2)
    results["dashboard_cold_start_to_chart_s"] = round(cold, 2)
    results["dashboard_cold_start_whole_page_s"] = round(cold_whole, 2)
    results["dashboard_view_median_s"] = round(median, 2)
    results["dashboard_view_max_s"] = round(max(seconds), 2)
    results["dashboard_view_whole_median_s"] = round(sorted(whole)[len(whole) // 2], 2)
    results["dashboard_one_viewer_mb"] = round(one_open, 1)
    results[f"dashboard_after_{views}_views_mb"] = round(after, 1)
    results["dashboard_three_viewers_mb"] = [round(m, 1) for m in rss_held]
    results["dashboard_extra_viewer_mb"] = round(extra, 1)
    results["dashboard_after_closing_three_mb"] = round(freed, 1)
    assert after <= one_open * 1.10, (one_open, after)
    assert extra <= 60, rss_held
