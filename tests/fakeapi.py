"""A local HTTP server that implements the Generect account endpoints, with injectable faults.

It is a real server on 127.0.0.1 (no mocking of requests or of our client): it checks the
``Authorization: Token`` header and the trailing slash, answers with the documented envelope,
and misbehaves on request (status codes, HTML pages, dropped connections, truncated bodies,
invalid JSON, hangs, latency).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
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
class SharedLoad:
    """Requests in flight across several fake servers (one per account): the most seen at once."""

    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


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
    #: The connections being served: closed at stop(), so no handler thread outlives the server
    #: (one waiting on a client's idle keep-alive socket would stop the report from forking).
    _open: set[Any] = field(default_factory=set)
    #: Set by stop(): a hanging or trickling answer ends with its server.
    _stopped: threading.Event = field(default_factory=threading.Event)
    #: the ledger: dicts with id, ts (aware), type, credits, status, balance_type; None = no ledger
    ledger: list[dict[str, Any]] | None = None
    #: whether /me/'s balance already subtracts pending charges
    pending_in_balance: bool = True
    #: transactions that arrive one per served ledger page (after it is sent)
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    #: filters this server ignores even when it can read them
    drop_filters: set[str] = field(default_factory=set)
    max_limit: int = 100
    #: pages the tx_endless fault has served
    endless_pages: int = 0
    _ledger_version: int = 0
    _ledger_views: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    #: what /me/ answers (None = the key is left out of the response)
    me: dict[str, Any] = field(
        default_factory=lambda: {
            "plan": "Pro",
            "balance": 5000,
            "used_this_month": 1234,
            "monthly_limit": 10000,
            "preview_tier": False,
            "email": "finance@example.com",
            "name": "Example Ltd",
        }
    )

    #: requests per second the server accepts (a sliding one-second window of accepted
    #: requests; rejected ones do not count); over it: 429 with the error envelope. None = no limit
    rate_limit: float | None = None
    #: the Retry-After (seconds) sent with those 429s; None = no header, as the spec promises none
    rate_limit_retry_after: float | None = None
    #: 429s sent because of rate_limit
    rate_limited: int = 0
    _accepted: collections.deque = field(default_factory=collections.deque)
    #: counts this server's requests in flight together with other servers' (None: not counted)
    shared: SharedLoad | None = None

    # -- control -------------------------------------------------------------------------
    def fail(
        self,
        kind: str,
        times: int = 1,
        when: Callable[[dict[str, str]], bool] | None = None,
        arg: Any = None,
    ) -> None:
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

    def start(self) -> FakeGenerect:
        api = self

        class Handler(_Handler):
            fake = api

        self._stopped.clear()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits up to one poll interval, at every test's teardown.
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self.server:
            self.server.shutdown()
            with self.lock:
                conns = list(self._open)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.server.server_close()

    def _take_fault(self, params: dict[str, str]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times != 0 and (fault.when is None or fault.when(params)):
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def _admit(self) -> bool:
        """Whether a request fits under ``rate_limit`` now (and count it if so)."""
        assert self.rate_limit is not None
        now = time.monotonic()
        with self.lock:
            while self._accepted and self._accepted[0] <= now - 1.0:
                self._accepted.popleft()
            if len(self._accepted) >= max(1, round(self.rate_limit)):
                self.rate_limited += 1
                return False
            self._accepted.append(now)
            return True

    def transaction_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/v1/accounts/transactions/"]

    def add_transactions(self, rows: list[dict[str, Any]]) -> None:
        with self.lock:
            if self.ledger is None:
                self.ledger = []
            self.ledger.extend(rows)
            self._ledger_version += 1
            self._ledger_views.clear()

    def balance(self) -> float:
        """/me/'s balance: settled rows, minus pending ones if ``pending_in_balance``."""
        rows = self.ledger or []
        settled = sum(round(r["credits"] * 100) for r in rows if r["status"] == "success")
        pending = sum(round(r["credits"] * 100) for r in rows if r["status"] == "pending")
        return (settled + (pending if self.pending_in_balance else 0)) / 100

    def _sorted_ledger(self) -> list[dict[str, Any]]:
        """Newest first, each row with its after_balance (the settled balance after it)."""
        key = ("all", self._ledger_version)
        if key not in self._ledger_views:
            rows = sorted(self.ledger or [], key=lambda r: (r["ts"], r["id"]))
            settled = 0
            out = []
            for r in rows:
                if r["status"] == "success":
                    settled += round(r["credits"] * 100)
                out.append({**r, "after_balance": settled / 100})
            self._ledger_views[key] = out[::-1]
        return self._ledger_views[key]

    def transactions_for(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """The filtered ledger, newest first; a filter value it cannot read is dropped (as the
        spec says), as is every filter in ``drop_filters``."""
        tests: list[tuple[str, str, Any]] = []
        for name, value in sorted(params.items()):
            base, _, op = name.partition("__")
            if name in self.drop_filters:
                continue
            if base == "created_at" and op in _OPS:
                when = _read_instant(value)
                if when is not None:
                    tests.append(("ts", _OPS[op], when))
            elif base in ("amount", "credits", "after_balance") and op in _OPS:
                try:
                    number = float(value)
                except ValueError:
                    continue
                tests.append(
                    ("credits" if base != "after_balance" else "after_balance", _OPS[op], number)
                )
            elif name == "status" and value in ("success", "pending", "error"):
                tests.append(("status", "__eq__", value))
        with self.lock:
            key = (tuple(tests), self._ledger_version)
            if key not in self._ledger_views:
                self._ledger_views[key] = [
                    r
                    for r in self._sorted_ledger()
                    if all(getattr(r[f], op)(arg) for f, op, arg in tests)
                ]
            return self._ledger_views[key]

    def after_page(self) -> None:
        if self.arrivals:
            row = self.arrivals.pop(0)
            self.add_transactions([{"ts": dt.datetime.now(dt.UTC), **row}])

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
    # Headers and body go out as two writes: without TCP_NODELAY each keep-alive request waits
    # for a delayed ACK (about 40 ms), which would dominate any paging benchmark.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake._open.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.fake.lock:
                self.fake._open.discard(self.connection)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
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
            if fake.shared is not None:
                # Counted from the request's arrival to just before its answer is written, a
                # span inside the client's own (it holds its connection until the body is read).
                fake.shared.enter()
                try:
                    if fake.latency:
                        time.sleep(fake.latency)
                finally:
                    fake.shared.leave()
            elif fake.latency:
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
        if fake.rate_limit is not None and not fake._admit():
            retry = fake.rate_limit_retry_after
            return self._send(
                429,
                envelope(429, "Request was throttled."),
                headers=None if retry is None else {"Retry-After": f"{retry:g}"},
            )
        fault = fake._take_fault(params)
        if fault is not None and self._fault(fault):
            return None
        route = ROUTES.get(path)
        if route is None:
            return self._send(404, envelope(404, "Not found."))
        return getattr(self, route)(params, fault)

    # -- endpoints (one method each; ROUTES below maps paths to them) ---------------------

    def _me(self, params: dict[str, str], fault: Fault | None) -> None:
        me = dict(self.fake.me)
        if self.fake.ledger is not None:
            me["balance"] = self.fake.balance()
        credits = {
            k: me[k]
            for k in ("balance", "used_this_month", "monthly_limit")
            if me.get(k) is not None
        }
        data: dict[str, Any] = {"id": "acc-1", "credits": credits}
        data.update(
            {k: me[k] for k in ("email", "name", "plan", "preview_tier") if me.get(k) is not None}
        )
        body: dict[str, Any] = {"data": data}
        if fault is not None:
            if fault.kind == "invalid_json":
                return self._send(200, b'{"data": {"plan": "Pro",')
            if fault.kind == "no_data":
                return self._send(200, json.dumps({"result": data}).encode())
            if fault.kind == "non_numeric":
                credits["balance"] = "5000"
            elif fault.kind == "nan":
                return self._send(
                    200,
                    b'{"data": {"plan": "Pro", "credits": {"balance": NaN, "used_this_month": 1}}}',
                )
            elif fault.kind == "credits_list":
                data["credits"] = list(credits.values())
            elif fault.kind == "total_missing":
                credits.pop("used_this_month", None)
        return self._send(200, json.dumps(body).encode())

    def _transactions(self, params: dict[str, str], fault: Fault | None) -> None:
        fake = self.fake
        rows = fake.transactions_for(params)
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = 100
        try:
            offset = max(0, int(params.get("offset", "0")))
        except ValueError:
            offset = 0
        limit = max(0, min(limit, fake.max_limit))  # the server caps limit
        page = rows[offset : offset + limit]
        body: Any = {
            "data": {
                "transactions": [
                    {
                        "id": r["id"],
                        "timestamp": r["ts"].isoformat().replace("+00:00", "Z"),
                        "type": r["type"],
                        "credits": r["credits"],
                        "details": {
                            "status": r["status"],
                            "balance_type": r.get("balance_type", "credits"),
                        },
                    }
                    for r in page
                ]
            }
        }
        if fault is not None and fault.kind == "tx_bad_status" and page:
            body["data"]["transactions"][0]["details"]["status"] = "settled"
        elif fault is not None and fault.kind == "tx_not_list":
            body["data"]["transactions"] = {"rows": []}
        elif fault is not None and fault.kind == "tx_endless" and rows:
            # A server that ignores the offset and makes up new ids on every page.
            fake.endless_pages += 1
            first = rows[0]
            body["data"]["transactions"] = [
                {
                    "id": f"endless-{fake.endless_pages}-{i}",
                    "timestamp": first["ts"].isoformat().replace("+00:00", "Z"),
                    "type": first["type"],
                    "credits": first["credits"],
                    "details": {"status": first["status"], "balance_type": "credits"},
                }
                for i in range(limit)
            ]
        elif fault is not None and fault.kind == "tx_naive_text":
            body = b'{"data": {"transactions": [{"id": 1'
        self._send(200, body if isinstance(body, bytes) else json.dumps(body).encode())
        fake.after_page()

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
        body = {
            "data": {
                "period": params.get("start_date", "")[:7],
                "total_credits": total,
                "breakdown": breakdown,
            }
        }
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
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    def _token_analytics(self, params: dict[str, str], fault: Fault | None) -> None:
        from zoneinfo import ZoneInfo

        fake = self.fake
        errors: dict[str, list[str]] = {}
        now = dt.datetime.now(dt.UTC)
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
        chosen = [
            t
            for t in fake.tokens
            if ("client_id" not in params or t.client_id == params["client_id"])
            and ("token" not in params or t.token == params["token"])
        ]
        chosen.sort(key=lambda t: t.created_at or "", reverse=True)  # newest first
        by_token: dict[str, dict[str, Any]] = {
            t.token: {"by_endpoint": {}, "by_status": {}} for t in chosen
        }
        for ev in fake.token_events:
            if ev.token in by_token and start <= ev.at <= end:
                agg = by_token[ev.token]
                agg["by_endpoint"][ev.endpoint] = agg["by_endpoint"].get(ev.endpoint, 0) + ev.count
                agg["by_status"][ev.status] = agg["by_status"].get(ev.status, 0) + ev.count
        entries = []
        for t in chosen:
            agg = by_token[t.token]
            entries.append(
                {
                    "token": t.token,
                    "name": t.name,
                    "client_id": t.client_id,
                    "is_active": t.is_active,
                    "created_at": t.created_at,
                    "total_requests": sum(agg["by_endpoint"].values()),
                    "by_endpoint": agg["by_endpoint"],
                    "by_status": agg["by_status"],
                }
            )

        def render(instant: dt.datetime) -> str:  # no offset, as the spec warns
            return instant.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")

        body: dict[str, Any] = {
            "data": {
                "period": {"start": render(start), "end": render(end)},
                "total_requests": sum(e["total_requests"] for e in entries),
                "tokens": entries,
            }
        }
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
            elif kind == "echo_tokens":
                # Each customer's token echoed in its other fields, the account's own in one too.
                for e in entries:
                    secret = e["token"]
                    e["name"] = f"{e['name'] or 'Customer'} ({secret})"
                    e["created_at"] = secret
                    if e["by_endpoint"]:
                        first = next(iter(e["by_endpoint"]))
                        e["by_endpoint"][f"{first}?key={secret}"] = e["by_endpoint"].pop(first)
                if entries:
                    entries[0]["client_id"] = f"acct-{fake.token}"
                body["data"]["period"]["note"] = " ".join(e["token"] for e in entries)
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
            if self.fake._stopped.wait(float(fault.arg or 2.0)):
                self.close_connection = True
                return True
            self._send(200, b'{"data": {"total_credits": 0, "breakdown": {}}}')
            return True
        if kind == "never":
            # Accept the request and never answer (until `arg` seconds or the server stops).
            self.fake._stopped.wait(float(fault.arg or 120.0))
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
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    if self.fake._stopped.wait(float(fault.arg or 1.0)):
                        break
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
        if kind == "detail":
            # A 400 whose envelope's detail is `arg`, verbatim (text or a field map).
            self._send(400, envelope(400, fault.arg))
            return True
        if kind == "raw":
            # A 200 whose body is `arg`, bytes sent verbatim (invalid UTF-8, odd numbers).
            self._send(200, bytes(fault.arg))
            return True
        if kind == "big_total":
            self._send(
                200,
                b'{"data": {"period": "x", "total_credits": ' + b"9" * 400 + b', "breakdown": {}}}',
            )
            return True
        if kind == "names":
            # Operation names given verbatim in `arg` (a dict name -> credits), as JSON text.
            names = fault.arg or {}
            self._send(
                200,
                json.dumps(
                    {
                        "data": {
                            "period": "x",
                            "total_credits": sum(names.values()),
                            "breakdown": names,
                        }
                    }
                ).encode(),
            )
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
        elif kind == "echo_account_token":
            # The account's own token (fault.arg) echoed as an operation name and the period.
            first = next(iter(data["breakdown"]))
            data["breakdown"][f"op-{fault.arg}"] = data["breakdown"].pop(first)
            data["period"] = f"{data['period']} {fault.arg}"
        elif kind == "deep":
            depth = int(fault.arg or 10_000)
            return b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
        return body


#: path -> handler method of _Handler
ROUTES: dict[str, str] = {
    "/api/v1/accounts/me/": "_me",
    "/api/v1/accounts/usage/": "_usage",
    "/api/v1/accounts/transactions/": "_transactions",
    "/api/v1/accounts/tokens/analytics/": "_token_analytics",
}

_OPS = {"gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__"}


def _read_instant(value: str) -> dt.datetime | None:
    """A created_at filter value as the server reads it: a bare date is midnight, a naive time
    is UTC, anything unreadable is None (and the filter is dropped)."""
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def make_ledger(
    start: dt.date,
    end: dt.date,
    ops: dict[str, float],
    *,
    timezone: str = "UTC",
    hours: tuple[int, ...] = (9, 15),
    types: dict[str, str] | None = None,
    top_up: float = 0.0,
    prefix: str = "t",
) -> list[dict[str, Any]]:
    """A ledger matching ``simple_daily(start, end, ops)``: each day's credits of an operation
    split evenly over ``hours`` (local), settled; a top-up at 08:00 on each 1st."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    rows: list[dict[str, Any]] = []
    day = start
    n = 0
    while day <= end:
        if top_up and day.day == 1:
            n += 1
            rows.append(
                {
                    "id": f"{prefix}{n:07d}",
                    "ts": dt.datetime.combine(day, dt.time(8), tzinfo=tz),
                    "type": "top_up",
                    "credits": top_up,
                    "status": "success",
                    "balance_type": "credits",
                }
            )
        for op, credits in ops.items():
            cents = round(credits * 100)
            parts = [cents // len(hours)] * len(hours)
            parts[0] += cents - sum(parts)
            for hour, part in zip(hours, parts):
                n += 1
                rows.append(
                    {
                        "id": f"{prefix}{n:07d}",
                        "ts": dt.datetime.combine(day, dt.time(hour), tzinfo=tz),
                        "type": (types or {}).get(op, op),
                        "credits": -part / 100,
                        "status": "success",
                        "balance_type": "credits",
                    }
                )
        day += dt.timedelta(days=1)
    return rows


def simple_daily(
    start: dt.date, end: dt.date, ops: dict[str, float]
) -> dict[dt.date, dict[str, float]]:
    out = {}
    day = start
    while day <= end:
        out[day] = dict(ops)
        day += dt.timedelta(days=1)
    return out
