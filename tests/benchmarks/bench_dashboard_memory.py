"""The dashboard left running: open and leave the page many times in Chromium and record the
server's resident memory (Voilà and its kernels). Memory must come back to where one view left
it: kernels are shut down when their page is left, and the server itself does not grow.

``GENERECT_BENCH_VIEWS`` sets the number of views (default 30). Then three views are held open
at once, to read what each viewer beyond the first costs (the target: 60 MB).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TOKEN = "bench-dashboard-token"


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _rss_mb(pid: int) -> float:
    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _kernels(pid: int) -> int:
    count = 0
    for proc in _tree(pid)[1:]:
        try:
            count += "ipykernel_launcher" in " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            pass
    return count


def _wait_kernels(pid: int, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _kernels(pid) != want:
        assert time.monotonic() < deadline, f"{_kernels(pid)} kernels, wanted {want}"
        time.sleep(0.2)


def test_thirty_views_leave_memory_where_one_left_it(tmp_path: Path, results) -> None:
    from playwright.sync_api import sync_playwright

    views = int(os.environ.get("GENERECT_BENCH_VIEWS", "30"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = dict(os.environ, GENERECT_DASHBOARD_TOKEN=TOKEN, MPLBACKEND="Agg")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(tmp_path / name.lower())
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port), "--idle-timeout", "600"]
    log = (tmp_path / "server.log").open("wb")
    started = time.monotonic()
    server = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/?token={TOKEN}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert server.poll() is None and time.monotonic() - started < 120
                    time.sleep(0.2)
            listening = time.monotonic() - started
            seconds = []
            rss_open = []
            rss_left = []
            for _ in range(views):
                t = time.monotonic()
                page.goto(url, timeout=120000)
                page.locator(".generect-dashboard img.generect-chart").first.wait_for(
                    timeout=120000
                )
                seconds.append(time.monotonic() - t)
                rss_open.append(_rss_mb(server.pid))
                page.goto("about:blank")
                _wait_kernels(server.pid, 0, timeout=30)
                rss_left.append(_rss_mb(server.pid))
            # Viewers at the same time: the memory each one beyond the first adds.
            held = []
            rss_held = []
            for _ in range(3):
                tab = browser.new_page()
                tab.goto(url, timeout=120000)
                tab.locator(".generect-dashboard img.generect-chart").first.wait_for(timeout=120000)
                held.append(tab)
                time.sleep(1.0)
                rss_held.append(_rss_mb(server.pid))
            for tab in held:
                tab.goto("about:blank")
            _wait_kernels(server.pid, 0, timeout=30)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    one, last = rss_left[0], rss_left[-1]
    results["dashboard_listening_s"] = round(listening, 2)
    results["dashboard_first_view_s"] = round(seconds[0], 2)
    results["dashboard_view_median_s"] = round(sorted(seconds)[len(seconds) // 2], 2)
    results["dashboard_one_view_open_mb"] = round(rss_open[0], 1)
    results["dashboard_view_cost_mb"] = round(rss_open[0] - rss_left[0], 1)
    results["dashboard_after_1_view_mb"] = round(one, 1)
    results[f"dashboard_after_{views}_views_mb"] = round(last, 1)
    results["dashboard_three_viewers_mb"] = [round(m, 1) for m in rss_held]
    results["dashboard_extra_viewer_mb"] = round((rss_held[-1] - rss_held[0]) / 2, 1)
    assert last <= one * 1.10, (one, last)
