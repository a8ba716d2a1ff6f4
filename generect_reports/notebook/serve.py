"""Serve the dashboard on 127.0.0.1 (the ``generect-reports dashboard`` command).

One process: a tornado server (:mod:`~generect_reports.notebook.server`) renders every page
from models built once and shared, and the view lives in the page's URL. Every request needs
the token generated at start-up (printed in the URL) or set in :data:`TOKEN_ENV`.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..accounts import AccountSpec
    from ..periods import Month

__all__ = [
    "serve_dashboard",
    "free_port",
    "dashboard_url",
    "DASHBOARD_EXTRA_MESSAGE",
    "TOKEN_ENV",
    "IDLE_TIMEOUT",
    "MAX_VIEWS",
]

#: The environment variable holding the dashboard's token: set it to choose the token (a
#: bookmark that survives restarts); unset, a new one is generated at every start.
TOKEN_ENV = "GENERECT_DASHBOARD_TOKEN"
#: Kept for scripts that passed them: a page holds nothing on the server, so there is no idle
#: view to end and no per-view process to cap.
IDLE_TIMEOUT = 45
MAX_VIEWS = 8

DASHBOARD_EXTRA_MESSAGE = (
    "the dashboard needs tornado, in the 'dashboard' extra: "
    "pip install 'generect-reports[dashboard]'"
)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_url(port: int, token: str) -> str:
    """The address to open: the token rides in the query, as Jupyter's does."""
    return f"http://127.0.0.1:{port}/?token={token}"


def serve_dashboard(
    *,
    port: int,
    month: Month | str | None,
    sample: bool,
    timezone: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
    quiet: bool = False,
    idle_timeout: int | None = None,
    max_views: int | None = None,
    accounts: Sequence[AccountSpec] | None = None,
    config: str | os.PathLike[str] | None = None,
    selection: tuple[Sequence[str], Sequence[str], bool] = ((), (), False),
) -> None:
    """Check everything, open the source(s) and serve the dashboard until stopped (Ctrl-C or
    SIGTERM). Exports and report files are also saved in the current folder.

    The token is :data:`TOKEN_ENV` if set, else generated; the URL carrying it is printed on
    stderr (even with ``quiet`` when it was generated: nobody could open the page otherwise).

    With ``accounts`` (the configured accounts the command chose from the file ``config``),
    the page has an account picker over "All accounts", the roll-up ``report --all-accounts``
    writes; each account's variable is checked before any request. ``idle_timeout`` and
    ``max_views`` are accepted and ignored: a page holds nothing on the server.

    Raises
    ------
    InputError
        tornado is not installed (the ``dashboard`` extra), a bad month, or the sample with a
        timezone other than its own.
    MissingTokenError
        Live data without ``GENERECT_API_TOKEN``.
    """
    import asyncio
    import importlib.util

    from ..errors import InputError
    from ..fetch.source import open_source, open_sources
    from ..periods import Month
    from ..reports.assemble import ReportSettings

    try:
        found = importlib.util.find_spec("tornado") is not None
        if found:
            from tornado.httpserver import HTTPServer
            from tornado.netutil import bind_sockets
    except ImportError:
        found = False
    if not found:
        raise InputError(DASHBOARD_EXTRA_MESSAGE)
    from .server import DashboardServer, make_app, single_heap

    single_heap()  # before the worker threads: memory they free is reused, not kept per thread

    chosen = None if month is None else str(Month.parse(month))
    token = os.environ.get(TOKEN_ENV) or ""
    generated = not token
    token = token or secrets.token_urlsafe(32)
    if accounts:
        from ..config import load_config
        from ..reports.rollup import account_settings
        from .rollup import _settings

        sources = open_sources(
            accounts, sample=sample, api_url=api_url, timezone=timezone, no_cache=no_cache
        )
        cfg = load_config(None if config is None else str(config))
        base = _settings(cfg, None)
        by_name = {spec.name: spec for spec in accounts}

        def settings_for(name: str) -> ReportSettings:
            return account_settings(by_name[name], base, where=cfg.where, config_path=cfg.path)

        server = DashboardServer(
            sources=sources,
            settings_for=settings_for,
            labels={spec.name: spec.title for spec in accounts},
            month=chosen,
            export_dir=Path.cwd(),
            token=token,
        )
        closing: Any = sources
    else:
        source = open_source(
            sample=sample, api_url=api_url, timezone=timezone, no_cache=no_cache, progress=False
        )
        server = DashboardServer(
            source=source,
            month=chosen,
            settings=ReportSettings(),
            export_dir=Path.cwd(),
            token=token,
        )
        closing = source
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        sockets = bind_sockets(port, address="127.0.0.1")
        http = HTTPServer(make_app(server), xheaders=False)
        http.add_sockets(sockets)
        port = int(sockets[0].getsockname()[1])
        if generated or not quiet:
            print(
                f"dashboard on {dashboard_url(port, token)} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
        server.warm()  # the first view's models, built while the browser opens
        from tornado.ioloop import PeriodicCallback

        from .server import TIDY_SECONDS

        PeriodicCallback(server.tidy_soon, TIDY_SECONDS * 1000).start()
        loop.run_forever()
    finally:
        server.close()
        closing.close()
        loop.close()
        asyncio.set_event_loop(None)
