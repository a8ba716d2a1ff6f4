"""Sending against slow servers: a webhook receiver and an SMTP server (raw sockets on
127.0.0.1) that trickle their answers a byte at a time. Every post and every SMTP session ends
within its wall-clock deadline, and SIGINT or SIGTERM ends a send within about a second, the
socket closed without QUIT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from fakeapi import TOKEN
from support import ROOT, run_cli

from generect_reports.deliver.smtp import SmtpSettings, send_message
from generect_reports.deliver.webhook import Webhook, post_webhook
from generect_reports.errors import DeliveryError, InputError
from generect_reports.render.chat import slack_payload

# Slow (each test waits out a deadline against a trickling server): the full suite runs it,
# not the fast core.
pytestmark = pytest.mark.slow

HOOK_PATH = "/services/T000/B000/hook-canary-0c94e1"


class SlowServer:
    """Accepts connections and runs ``talk(conn, server)`` for each on its own thread; records
    every line the client sends, so a test can tell whether QUIT arrived."""

    def __init__(self, talk) -> None:  # type: ignore[no-untyped-def]
        self.talk = talk
        self.lines: list[bytes] = []
        self.closed = threading.Event()  # the client closed (or shut down) its end
        self.data_sent_at = 0.0  # when the client finished sending the message
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.talk(conn, self)
        except OSError:
            self.closed.set()
        finally:
            conn.close()

    def readline(self, conn: socket.socket) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                self.closed.set()
                raise ConnectionResetError
            line += chunk
        self.lines.append(line)
        return line

    def trickle(self, conn: socket.socket, data: bytes, pause: float = 0.1) -> None:
        """Send ``data`` for ever, a byte every ``pause`` seconds, until the client goes."""
        while not self._stop.is_set():
            for byte in data:
                conn.sendall(bytes([byte]))
                time.sleep(pause)

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


@pytest.fixture
def servers() -> Iterator[list[SlowServer]]:
    started: list[SlowServer] = []
    yield started
    for server in started:
        server.stop()


def _start(servers: list[SlowServer], talk) -> SlowServer:  # type: ignore[no-untyped-def]
    server = SlowServer(talk)
    servers.append(server)
    return server


# --- the servers ------------------------------------------------------------------------


def _http_request(conn: socket.socket, server: SlowServer) -> None:
    length = 0
    while (line := server.readline(conn)) not in (b"\r\n", b"\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while length > 0:
        length -= len(conn.recv(length))


def slow_headers(conn: socket.socket, server: SlowServer) -> None:
    _http_request(conn, server)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    server.trickle(conn, b"X-Slow: still coming\r\n")


def slow_body(conn: socket.socket, server: SlowServer) -> None:
    _http_request(conn, server)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    server.trickle(conn, b"ok")


def smtp_slow_banner(conn: socket.socket, server: SlowServer) -> None:
    server.trickle(conn, b"220-still saying hello\r\n")


def smtp_slow_after_data(conn: socket.socket, server: SlowServer) -> None:
    """A polite server until the message is sent; then its reply never ends."""
    conn.sendall(b"220 slow.example ESMTP\r\n")
    while True:
        line = server.readline(conn).upper()
        if line.startswith((b"EHLO", b"HELO")):
            conn.sendall(b"250-slow.example\r\n250 8BITMIME\r\n")
        elif line.startswith(b"DATA"):
            conn.sendall(b"354 go ahead\r\n")
            while server.readline(conn) not in (b".\r\n", b".\n"):
                pass
            server.data_sent_at = time.monotonic()
            server.trickle(conn, b"250-queued, almost\r\n")
        elif line.startswith(b"QUIT"):
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"250 ok\r\n")


# --- webhooks ----------------------------------------------------------------------------


def _hook(server: SlowServer) -> Webhook:
    return Webhook(f"http://127.0.0.1:{server.port}{HOOK_PATH}", 1, 1)


@pytest.mark.parametrize("talk", [slow_headers, slow_body], ids=["headers", "body"])
def test_a_trickling_receiver_costs_one_attempt_deadline(servers, talk):
    """Bytes keep coming, so a read timeout never fires: the attempt's wall clock does."""
    server = _start(servers, talk)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="no complete answer within 1 s") as info:
        post_webhook(
            _hook(server),
            slack_payload("t", ["l"]),
            max_attempts=1,
            attempt_timeout=1.0,
            timeout=(5.0, 5.0),
        )
    assert time.monotonic() - started < 1.0 + 1.0
    assert HOOK_PATH not in str(info.value) and "canary" not in str(info.value)


def test_retries_of_a_trickling_receiver_stay_within_the_total_deadline(servers):
    server = _start(servers, slow_headers)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="after [23] attempts"):
        post_webhook(
            _hook(server),
            slack_payload("t", ["l"]),
            max_attempts=10,
            attempt_timeout=1.0,
            max_retry_time=2.5,
            sleep=lambda _: None,
        )
    assert time.monotonic() - started < 2.5 + 1.0


def test_status_notify_is_bounded_by_the_environment(servers):
    """The issue's example: a receiver trickling its reply held `status` for minutes."""
    server = _start(servers, slow_body)
    started = time.monotonic()
    out = run_cli(
        "status",
        "--sample",
        "--warn-at",
        "1",
        "--notify",
        _hook(server).url,
        env={"GENERECT_WEBHOOK_TIMEOUT": "1", "GENERECT_WEBHOOK_DEADLINE": "2"},
    )
    assert out.returncode == 4, out.stderr
    assert "(slack): no complete answer" in out.stderr.strip().splitlines()[-1]
    assert HOOK_PATH not in out.stderr + out.stdout
    assert time.monotonic() - started < 2 + 6  # the deadline plus start-up on a busy machine


@pytest.mark.parametrize(
    "name,value",
    [("GENERECT_WEBHOOK_TIMEOUT", "soon"), ("GENERECT_WEBHOOK_DEADLINE", "nan")],
)
def test_webhook_deadline_variables_are_validated(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError, match=name):
        post_webhook(Webhook("http://127.0.0.1:9/x", 1, 1), slack_payload("t", ["l"]))


# --- SMTP --------------------------------------------------------------------------------


def _settings(server: SlowServer, **kw: float) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=server.port, security="none", **kw)  # type: ignore[arg-type]


def _message():  # type: ignore[no-untyped-def]
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "r@example.com", "a@example.com", "s"
    msg.set_content("body")
    return msg


@pytest.mark.parametrize(
    "talk", [smtp_slow_banner, smtp_slow_after_data], ids=["banner", "after-data"]
)
def test_a_trickling_smtp_server_costs_the_session_deadline(servers, talk):
    server = _start(servers, talk)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="did not finish within 1.5 s"):
        send_message(_message(), _settings(server, timeout=5.0, deadline=1.5))
    assert time.monotonic() - started < 1.5 + 1.0
    assert not any(line.upper().startswith(b"QUIT") for line in server.lines)


def test_smtp_deadline_from_the_environment(servers):
    server = _start(servers, smtp_slow_after_data)
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(server.port),
        "--smtp-security",
        "none",
        env={"GENERECT_SMTP_DEADLINE": "2", "GENERECT_SMTP_TIMEOUT": "30"},
    )
    assert out.returncode == 4, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: SMTP server 127.0.0.1:")
    assert "did not finish within 2 s (GENERECT_SMTP_DEADLINE)" in out.stderr
    # The session started before the message went out: it ends within 2 s of its start.
    assert 0 < time.monotonic() - server.data_sent_at < 2 + 1


def test_smtp_deadline_variable_is_validated():
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        env={"GENERECT_SMTP_DEADLINE": "-1"},
    )
    assert out.returncode == 2 and "GENERECT_SMTP_DEADLINE" in out.stderr


# --- signals during a send ----------------------------------------------------------------


def _spawn(*args: str, **env: str) -> subprocess.Popen[str]:
    full = {
        **os.environ,
        "GENERECT_API_TOKEN": TOKEN,
        "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "generect_reports", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        # Python installs its Ctrl-C handler only when SIGINT is not ignored at start-up.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # noqa: PLW1509


def _signal_when_stuck(proc: subprocess.Popen[str], stuck: threading.Event, sig: int) -> float:
    assert stuck.wait(90), proc.communicate(timeout=5)
    time.sleep(0.5)  # well into the slow reply
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(30)
    return time.monotonic() - sent


@pytest.mark.parametrize(
    "sig,code,word",
    [
        (signal.SIGTERM, 143, "terminated"),
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGHUP, 129, "terminated"),
    ],
)
def test_a_signal_ends_an_smtp_session_at_once_without_quit(servers, sig, code, word):
    """The issue's example: SIGTERM after DATA took 30 s to 733 s, as QUIT waited on the
    trickling server; now the socket is closed and the run ends within about a second."""
    stuck = threading.Event()

    def talk(conn: socket.socket, server: SlowServer) -> None:
        conn.sendall(b"220 slow.example ESMTP\r\n")
        while True:
            line = server.readline(conn).upper()
            if line.startswith(b"DATA"):
                conn.sendall(b"354 go ahead\r\n")
                while server.readline(conn) not in (b".\r\n", b".\n"):
                    pass
                stuck.set()
                server.trickle(conn, b"250-queued, almost\r\n")
            conn.sendall(b"250 ok\r\n")

    server = _start(servers, talk)
    proc = _spawn(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(server.port),
        "--smtp-security",
        "none",
        GENERECT_SMTP_DEADLINE="600",
    )
    took = _signal_when_stuck(proc, stuck, sig)
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == code, err
    assert took < 1.5, took
    assert err.strip().splitlines()[-1] == f"error: {word}"
    assert server.closed.wait(5)  # the connection is gone
    assert not any(line.upper().startswith(b"QUIT") for line in server.lines)


def test_sigterm_ends_a_webhook_post_at_once(servers):
    stuck = threading.Event()

    def talk(conn: socket.socket, server: SlowServer) -> None:
        _http_request(conn, server)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        stuck.set()
        server.trickle(conn, b"X-Slow: still coming\r\n")

    server = _start(servers, talk)
    proc = _spawn(
        "status",
        "--sample",
        "--warn-at",
        "1",
        "--notify",
        _hook(server).url,
        GENERECT_WEBHOOK_TIMEOUT="600",
        GENERECT_WEBHOOK_DEADLINE="600",
    )
    took = _signal_when_stuck(proc, stuck, signal.SIGTERM)
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 143, err
    assert took < 1.5, took
    assert err.strip().splitlines()[-1] == "error: terminated"
    assert server.closed.wait(5)
