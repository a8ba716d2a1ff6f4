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
#: A customer's token listed by /accounts/tokens/analytics/: it must never reach any output.
CUSTOMER_TOKEN = "cust-canary-5e0d7b3a9f1c4e62"


@dataclass
class FakeToken:
    """A customer token of the account, as /accounts/tokens/analytics/ lists it."""

    token: str
    name: str | None
    client_id: str | None
    is_active: bool = True
    created_at: str | None = "2025-01-01T00:00:00"


@dataclass
class TokenEvent:
    """``count`` requests by ``token`` to ``endpoint`` answered with ``status`` at UTC ``at``."""

    at: dt.datetime
    token: str
    endpoint: str
    status: str
    count: int = 1


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
    #: customer tokens and their requests, for /accounts/tokens/analytics/
    tokens: list[FakeToken] = field(default_factory=list)
    token_events: list[TokenEvent] = field(default_factory=list)
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

    def token_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/v1/accounts/tokens/analytics/"]

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

    @staticmethod
    def _instant(text: str) -> dt.datetime:
        """The server's reading of a window bound: a bare date is midnight and a time without
        an offset is taken as UTC (the spec leaves its zone open; this server picks UTC)."""
        value = text.strip().replace("Z", "+00:00")
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)

    def _token_analytics(self, params: dict[str, str], fault: Fault | None) -> None:
        from zoneinfo import ZoneInfo

        fake = self.fake
        errors: dict[str, list[str]] = {}
        now = dt.datetime.now(dt.timezone.utc)
        try:
            zone = ZoneInfo(params.get("timezone", "UTC"))
        except Exception:
            errors["timezone"] = ["Unknown timezone."]
        bounds = {}
        for key, default in (("start_date", now - dt.timedelta(days=30)), ("end_date", now)):
            try:
                bounds[key] = self._instant(params[key]) if key in params else default
            except ValueError:
                errors[key] = ["Enter a valid date or ISO timestamp."]
        if errors:
            return self._send(400, envelope(400, errors))
        start, end = bounds["start_date"], bounds["end_date"]
        chosen = [t for t in fake.tokens
                  if ("client_id" not in params or t.client_id == params["client_id"])
                  and ("token" not in params or t.token == params["token"])]
        chosen.sort(key=lambda t: t.created_at or "", reverse=True)  # newest first
        by_token: dict[str, dict[str, Any]] = {t.token: {"by_endpoint": {}, "by_status": {}} for t in chosen}
        for ev in fake.token_events:
            if ev.token in by_token and start <= ev.at <= end:
                agg = by_token[ev.token]
                agg["by_endpoint"][ev.endpoint] = agg["by_endpoint"].get(ev.endpoint, 0) + ev.count
                agg["by_status"][ev.status] = agg["by_status"].get(ev.status, 0) + ev.count
        entries = []
        for t in chosen:
            agg = by_token[t.token]
            entries.append({"token": t.token, "name": t.name, "client_id": t.client_id,
                            "is_active": t.is_active, "created_at": t.created_at,
                            "total_requests": sum(agg["by_endpoint"].values()),
                            "by_endpoint": agg["by_endpoint"], "by_status": agg["by_status"]})

        def render(instant: dt.datetime) -> str:  # no offset, as the spec warns
            return instant.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")

        body: dict[str, Any] = {"data": {"period": {"start": render(start), "end": render(end)},
                                         "total_requests": sum(e["total_requests"] for e in entries),
                                         "tokens": entries}}
        if fault is not None:
            kind = fault.kind
            if kind == "invalid_json":
                return self._send(200, b'{"data": {"tokens": [')
            if kind == "no_data":
                body = {"result": body["data"]}
            elif kind == "tokens_not_list":
                body["data"]["tokens"] = {"a": 1}
            elif kind == "bad_count":
                for e in entries:
                    e["by_endpoint"] = {k: "many" for k in e["by_endpoint"]} or {"/x/": "many"}
            elif kind == "short_window":
                body["data"]["period"]["end"] = render(end - dt.timedelta(days=1))
            elif kind == "offset_period":
                body["data"]["period"] = {"start": start.isoformat(), "end": end.isoformat()}
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
    "/api/v1/accounts/tokens/analytics/": "_token_analytics",
}


def simple_daily(start: dt.date, end: dt.date, ops: dict[str, float]) -> dict[dt.date, dict[str, float]]:
    out = {}
    day = start
    while day <= end:
        out[day] = dict(ops)
        day += dt.timedelta(days=1)
    return out
