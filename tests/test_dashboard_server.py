"""The dashboard server as a team leaves it running: the real ``dashboard`` command (Voilà and its
kernels), asked with plain HTTP requests, as another local user or a ``curl`` would.

- Requests without the token printed at start-up get 403; the token is never on a command line
  and never in a kernel's environment.
- A view whose page never connects (a ``curl``) is culled after the idle timeout, so the kernel
  count returns to where it started; views beyond ``--max-views`` are refused with one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow]

IDLE = 4  # --idle-timeout of the server under test: seconds


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, url: str, log: Path) -> None:
        self.proc, self.port, self.url, self.log = proc, port, url, log

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kernels(self) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.NoSuchProcess:  # ended between the listing and the look
                pass
        return found

    def voila(self) -> psutil.Process:
        (child,) = [
            c
            for c in psutil.Process(self.proc.pid).children()
            if "generect_reports.notebook.voila_app" in c.cmdline()
        ]
        return child


def _get(url: str, *, method: str = "GET", data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dashboard-server")
    env = {k: v for k, v in os.environ.items() if k != "GENERECT_DASHBOARD_TOKEN"}
    env.update(
        GENERECT_REPORTS_CACHE_DIR=str(tmp / "cache"),
        MPLBACKEND="Agg",
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        IPYTHONDIR=str(tmp / "ipython"),
    )
    port = _free_port()
    log = tmp / "server.log"
    cmd = [sys.executable, "-m", "generect_reports", "dashboard", "--sample", "--quiet"]
    cmd += ["--port", str(port), "--idle-timeout", str(IDLE), "--max-views", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        url = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            found = re.search(r"dashboard on (\S+)", log.read_text())
            if found:
                url = found.group(1)
                try:
                    _get(f"http://127.0.0.1:{port}/voila/static/voila.js")
                    break
                except OSError:
                    pass
            time.sleep(0.3)
        else:
            raise AssertionError("the dashboard did not answer:\n" + log.read_text())
        yield Server(proc, port, url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_printed_url_carries_a_generated_token(server: Server) -> None:
    # --quiet, yet the URL is printed: with a generated token nobody could open the page else.
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:{server.port}/\?token=[A-Za-z0-9_-]{{40,}}", server.url
    )
    token = server.url.split("token=")[1]
    # Not on any command line: every local user can read those.
    for proc in [psutil.Process(server.proc.pid), server.voila()]:
        assert token not in " ".join(proc.cmdline())


@pytest.mark.parametrize(
    "path,method",
    [
        ("/", "GET"),
        ("/?token=wrong", "GET"),
        ("/login", "GET"),
        ("/api/kernels", "GET"),
        ("/voila/files/server.log", "GET"),
        ("/voila/api/shutdown/0f1e2d3c", "POST"),
    ],
)
def test_requests_without_the_token_are_refused(server: Server, path: str, method: str) -> None:
    before = {k.pid for k in server.kernels()}
    status, body = _get(server.base + path, method=method, data=b"" if method == "POST" else None)
    assert status == 403
    assert "Traceback" not in body and server.url.split("token=")[1] not in body
    assert {k.pid for k in server.kernels()} <= before  # nothing was started for it


def test_views_are_capped_and_an_unwatched_view_is_culled(server: Server) -> None:
    """A ``curl`` of the page starts a kernel no page ever connects to: it is shut down after the
    idle timeout. While it runs, a second view is refused (--max-views 1) with a short reason."""
    deadline = time.monotonic() + 60
    while server.kernels() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.kernels() == []
    status, body = _get(server.url)
    assert status == 200 and "jupyter-config-data" in body
    assert "Traceback" not in body and "show_tracebacks" not in body
    (kernel,) = server.kernels()
    assert "GENERECT_DASHBOARD_TOKEN" not in kernel.environ()  # the kernels never see the token
    status, body = _get(server.url)
    assert status == 503 and "open in 1 views already" in body and "Traceback" not in body
    started = time.monotonic()
    while server.kernels() and time.monotonic() - started < IDLE + 30:
        time.sleep(0.5)
    assert server.kernels() == [], server.log.read_text()[-2000:]
    assert "Culling 'idle' kernel" in server.log.read_text()
    # Freed: the next view is served again. The server counts the culled view out a moment
    # after its kernel process ends, so ask until it does (a refused view starts no kernel).
    started = time.monotonic()
    status, _body = _get(server.url)
    while status == 503 and time.monotonic() - started < 20:
        time.sleep(0.5)
        status, _body = _get(server.url)
    assert status == 200
