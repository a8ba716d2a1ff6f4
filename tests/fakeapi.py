"""A local HTTP server that implements the Generect account endpoints, with injectable faults.

It is a real server on 127.0.0.1 (no mocking of requests or of our client): it checks the
``Authorization: Token`` header and the trailing slash, answers with the documented envelope,
and misbehaves on request (status codes, HTML pages, dropped connections, truncated bodies,
invalid JSON, hangs, latency).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

TOKEN = "gr-canary-0f9b6c2e71d84a5c"


@dataclass
class Fault:
    kind: str
    times: int = 1  # -1 = forever
    when: Callable[[dict[str, str]], bool] | None = None
    arg: Any = None


@dataclass
class Request:
    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass
class FakeGenerect:
    token: str = TOKEN
    #: local date -> {operation: credits}; "unattributed" is added to the total only
    daily: dict[dt.date, dict[str, float]] = field(default_factory=dict)
    latency: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    # -- control -------------------------------------------------------------------------
    def fail(self, kind: str, times: int = 1, when: Callable[[dict[str, str]], bool] | None = None,
             arg: Any = None) -> None:
        with self.lock:
            self.faults.append(Fault(kind, times, when, arg))

    def usage_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/v1/accounts/usage/"]

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://127.0.0.1:{port}"

    def start(self) -> "FakeGenerect":
        api = self

        class Handler(_Handler):
            fake = api

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def _take_fault(self, params: dict[str, str]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times != 0 and (fault.when is None or fault.when(params)):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def usage_for(self, start: dt.date, end: dt.date) -> tuple[float, dict[str, float]]:
        breakdown: dict[str, float] = {}
        total = 0.0
        day = start
        while day <= end:
            for op, credits in self.daily.get(day, {}).items():
                total += credits
                if op != "unattributed":
                    breakdown[op] = breakdown.get(op, 0.0) + credits
            day += dt.timedelta(days=1)
        return total, breakdown


def envelope(status: int, detail: Any) -> bytes:
    return json.dumps({"status": "error", "status_code": status, "detail": detail}).encode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGenerect
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        fake = self.fake
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with fake.lock:
            fake.requests.append(Request(parts.path, params, self.headers.get("Authorization")))
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            if fake.latency:
                time.sleep(fake.latency)
            self._answer(parts.path, params)
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _answer(self, path: str, params: dict[str, str]) -> None:
        fake = self.fake
        if not path.endswith("/"):
            return self._send(404, envelope(404, "Not found."))
        auth = self.headers.get("Authorization")
        if not auth:
            return self._send(401, envelope(401, "Authentication credentials were not provided."))
        if auth != f"Token {fake.token}":
            return self._send(401, envelope(401, "Invalid token."))
        fault = fake._take_fault(params)
        if fault is not None and self._fault(fault):
            return None
        route = ROUTES.get(path)
        if route is None:
            return self._send(404, envelope(404, "Not found."))
        return getattr(self, route)(params, fault)

    # -- endpoints (one method each; ROUTES below maps paths to them) ---------------------

    def _me(self, params: dict[str, str], fault: Fault | None) -> None:
        return self._send(200, json.dumps({"data": {"id": "acc-1", "email": "finance@example.com",
                                                    "name": "Example Ltd", "plan": "Pro",
                                                    "credits": {"balance": 5000, "used_this_month": 1234,
                                                                "monthly_limit": 10000},
                                                    "preview_tier": False}}).encode())

    def _usage(self, params: dict[str, str], fault: Fault | None) -> None:
        fake = self.fake
        errors: dict[str, list[str]] = {}
        try:
            start = dt.date.fromisoformat(params.get("start_date", ""))
        except ValueError:
            errors["start_date"] = ["Enter a valid date."]
        try:
            end = dt.date.fromisoformat(params.get("end_date", ""))
        except ValueError:
            errors["end_date"] = ["Enter a valid date."]
        if params.get("period", "day") not in ("day", "week", "month"):
            errors["period"] = ["Select a valid choice."]
        if not errors and start > end:
            errors["end_date"] = ["End date must not be before start date."]
        if errors:
            return self._send(400, envelope(400, errors))
        total, breakdown = fake.usage_for(start, end)
        body = {"data": {"period": params.get("start_date", "")[:7], "total_credits": total,
                         "breakdown": breakdown}}
        if fault is not None:
            body = self._mangle(fault, body)
            if isinstance(body, bytes):
                return self._send(200, body)
        return self._send(200, json.dumps(body).encode())

    def _fault(self, fault: Fault) -> bool:
        """Faults that replace the whole answer; True when handled."""
        kind = fault.kind
        if kind in ("429", "500", "503", "402", "403", "404", "400"):
            headers = {"Retry-After": str(fault.arg)} if fault.arg is not None else None
            detail = {"start_date": ["Enter a valid date."]} if kind == "400" else f"fault {kind}"
            self._send(int(kind), envelope(int(kind), detail), headers=headers)
            return True
        if kind == "html502":
            self._send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            return True
        if kind == "proxy_json":
            self._send(503, b'{"message": "upstream unavailable"}')
            return True
        if kind == "echo_token_401":
            self._send(401, envelope(401, f"Invalid token {self.fake.token}"))
            return True
        if kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if kind == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"data": {"period": "2026-')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if kind == "hang":
            time.sleep(float(fault.arg or 2.0))
            self._send(200, b'{"data": {"total_credits": 0, "breakdown": {}}}')
            return True
        if kind == "never":
            # Accept the request and never answer (until `arg` seconds or the server stops).
            time.sleep(float(fault.arg or 120.0))
            self.close_connection = True
            return True
        if kind == "trickle":
            # A valid answer sent one byte every `arg` seconds (default 1).
            body = b'{"data": {"period": "x", "total_credits": 0, "breakdown": {}}}' + b" " * 400
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(float(fault.arg or 1.0))
            except OSError:
                pass
            self.close_connection = True
            return True
        if kind == "envelope200":
            # A gateway that wraps every error in a 200 (arg: the wrapped status).
            code = int(fault.arg or 401)
            self._send(200, envelope(code, f"wrapped {code}"))
            return True
        if kind == "redirect_loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if kind == "big_total":
            self._send(200, b'{"data": {"period": "x", "total_credits": ' + b"9" * 400 + b', "breakdown": {}}}')
            return True
        if kind == "names":
            # Operation names given verbatim in `arg` (a dict name -> credits), as JSON text.
            names = fault.arg or {}
            self._send(200, json.dumps({"data": {"period": "x", "total_credits": sum(names.values()),
                                                 "breakdown": names}}).encode())
            return True
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", str(fault.arg))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    @staticmethod
    def _mangle(fault: Fault, body: dict[str, Any]) -> dict[str, Any] | bytes:
        data = body["data"]
        kind = fault.kind
        if kind == "invalid_json":
            return b'{"data": {"total_credits": 12,'
        if kind == "no_data":
            return {"result": data}
        if kind == "breakdown_list":
            data["breakdown"] = [[k, v] for k, v in data["breakdown"].items()]
        elif kind == "non_numeric":
            data["total_credits"] = "12"
        elif kind == "nan":
            return json.dumps(body).replace(str(data["total_credits"]), "NaN", 1).encode()
        elif kind == "infinite":
            return b'{"data": {"period": "x", "total_credits": Infinity, "breakdown": {}}}'
        elif kind == "total_missing":
            del data["total_credits"]
        elif kind == "duplicate_ops":
            return b'{"data": {"period": "x", "total_credits": 3, "breakdown": {"a": 1, "a": 2}}}'
        elif kind == "negative":
            data["breakdown"]["refund_op"] = -float(fault.arg or 5)
            data["total_credits"] -= float(fault.arg or 5)
        elif kind == "extra_total":
            data["total_credits"] += float(fault.arg or 7)
        elif kind == "fractional":
            data["breakdown"] = {"a": 0.1, "b": 0.2}
            data["total_credits"] = 0.3
        return body


#: path -> handler method of _Handler
ROUTES: dict[str, str] = {
    "/api/v1/accounts/me/": "_me",
    "/api/v1/accounts/usage/": "_usage",
}


def simple_daily(start: dt.date, end: dt.date, ops: dict[str, float]) -> dict[dt.date, dict[str, float]]:
    out = {}
    day = start
    while day <= end:
        out[day] = dict(ops)
        day += dt.timedelta(days=1)
    return out
