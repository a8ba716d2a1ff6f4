"""Many local API servers (one per account, each with its own token, latency and rate limit) in a
process of their own, so that serving them does not share the benchmark's interpreter lock."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sys
from pathlib import Path
from typing import Any

#: The usage every account has, each at its own scale.
OPS = {"search_database": 10.0, "email_find": 2.5, "preview": 1.0}


def _serve(conn: Any, n: int, latency: float, rate: float | None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fakeapi import TOKEN, FakeGenerect, SharedLoad, simple_daily

    load = SharedLoad()
    servers = []
    for k in range(n):
        scale = 1 + k % 17
        servers.append(
            FakeGenerect(
                token=f"{TOKEN}-{k}",
                daily=simple_daily(
                    dt.date(2025, 1, 1),
                    dt.date(2026, 12, 31),
                    {op: credits * scale for op, credits in OPS.items()},
                ),
                latency=latency,
                rate_limit=rate,
                shared=load,
            ).start()
        )
    conn.send([(s.url, s.token) for s in servers])
    while True:
        command = conn.recv()
        if command == "stats":
            conn.send(
                {
                    "usage": [len(s.usage_requests()) for s in servers],
                    "requests": [len(s.requests) for s in servers],
                    "http_429": [s.rate_limited for s in servers],
                    "peak_in_flight": load.peak,
                }
            )
        elif command == "clear":
            for s in servers:
                with s.lock:
                    s.requests.clear()
                    s.rate_limited = 0
            with load.lock:
                load.peak = 0
            conn.send(True)
        else:
            for s in servers:
                s.stop()
            conn.send(True)
            return


class Fleet:
    """``n`` accounts' servers in a child process: ``accounts`` is ``[(url, token)]``."""

    def __init__(self, n: int, *, latency: float, rate: float | None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, n, latency, rate), daemon=True)
        self._proc.start()
        self.accounts: list[tuple[str, str]] = self._conn.recv()

    def stats(self) -> dict[str, Any]:
        self._conn.send("stats")
        return self._conn.recv()

    def clear(self) -> None:
        self._conn.send("clear")
        self._conn.recv()

    def close(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(10)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
