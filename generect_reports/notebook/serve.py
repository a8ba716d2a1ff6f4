"""Serve the dashboard with Voilà on 127.0.0.1 (the ``generect-reports dashboard`` command).

The server can be left running: every request needs the token generated at start-up (printed in
the URL), a page that is left shuts its kernel down, kernels without a page are culled after
``idle_timeout`` seconds, and at most ``max_views`` run at once (see
:mod:`~generect_reports.notebook.voila_app`).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..accounts import AccountSpec
    from ..periods import Month

__all__ = [
    "serve_dashboard",
    "voila_command",
    "voila_env",
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
#: Seconds a kernel may sit without a page connected before it is shut down.
IDLE_TIMEOUT = 45
#: Most views (kernels) at once; each costs one Python process.
MAX_VIEWS = 8

DASHBOARD_EXTRA_MESSAGE = (
    "the dashboard needs Voila, in the 'dashboard' extra: pip install 'generect-reports[dashboard]'"
)


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_url(port: int, token: str) -> str:
    """The address to open: the token rides in the query, as Jupyter's does."""
    return f"http://127.0.0.1:{port}/?token={token}"


def voila_command(
    notebook: Path, port: int, *, idle_timeout: int = IDLE_TIMEOUT, max_views: int = MAX_VIEWS
) -> list[str]:
    """Voilà on 127.0.0.1 only, no browser, no code, no tracebacks in the page; kernels without a
    page culled after ``idle_timeout`` seconds, at most ``max_views`` at once. The token is not
    here (a command line is visible to every local user): it travels in :data:`TOKEN_ENV`."""
    interval = max(1, min(10, idle_timeout // 3))
    return [
        sys.executable,
        "-m",
        "generect_reports.notebook.voila_app",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--template=generect",
        "--theme=light",
        f"--MappingKernelManager.cull_idle_timeout={idle_timeout}",
        f"--MappingKernelManager.cull_interval={interval}",
        "--MappingKernelManager.cull_connected=False",
        f"--BoundedKernelManager.max_kernels={max_views}",
    ]


def voila_env(token: str = "") -> dict[str, str]:
    """The environment for Voilà: our template folder first on the Jupyter data path, and the
    token in :data:`TOKEN_ENV`."""
    share = Path(__file__).resolve().parent / "share" / "jupyter"
    env = dict(os.environ)
    env[TOKEN_ENV] = token
    env["JUPYTER_PATH"] = os.pathsep.join([str(share), *filter(None, [env.get("JUPYTER_PATH")])])
    return env


def serve_dashboard(
    *,
    port: int,
    month: Month | str | None,
    sample: bool,
    timezone: str | None = None,
    api_url: str | None = None,
    no_cache: bool = False,
    quiet: bool = False,
    idle_timeout: int = IDLE_TIMEOUT,
    max_views: int = MAX_VIEWS,
    accounts: Sequence[AccountSpec] | None = None,
    config: str | os.PathLike[str] | None = None,
    selection: tuple[Sequence[str], Sequence[str], bool] = ((), (), False),
) -> None:
    """Check everything, write the dashboard notebook to a temporary folder and run Voilà until
    it is stopped. Exports and report files go to the current folder.

    The token is :data:`TOKEN_ENV` if set, else generated; the URL carrying it is printed on
    stderr (even with ``quiet`` when it was generated: nobody could open the page otherwise).

    The notebook opens its source with the same choices (sample or API, ``api_url``,
    ``timezone``, ``no_cache``) through
    :func:`~generect_reports.notebook.dashboard.notebook_source`; they are checked here first.

    With ``accounts`` (the configured accounts the command chose, from the file ``config`` by
    ``selection``: names, tags, all), the page is the dashboard across them
    (:func:`~generect_reports.notebook.rollup.accounts_notebook`): every account's variable is
    checked here, before any request, and each kernel reads the tokens from the environment.

    Raises
    ------
    InputError
        Voilà is not installed (the ``dashboard`` extra), a bad month, or the sample with a
        timezone other than its own.
    MissingTokenError
        Live data without ``GENERECT_API_TOKEN``.
    """
    import importlib.util

    import nbformat

    from ..errors import InputError
    from ..fetch.source import open_source, open_sources
    from ..periods import Month
    from .dashboard import dashboard_notebook
    from .rollup import accounts_notebook

    try:
        found = importlib.util.find_spec("voila") is not None
        if found:
            import voila  # noqa: F401  (a broken install fails here, not in the child)
    except ImportError:
        found = False
    if not found:
        raise InputError(DASHBOARD_EXTRA_MESSAGE)
    if month is not None:
        month = Month.parse(month)
    # The same sources the notebook will open: a bad zone, URL or a missing token is said here
    # (no request is sent), and the notebook gets the zone the source resolved.
    if accounts:
        with open_sources(
            accounts, sample=sample, api_url=api_url, timezone=timezone, no_cache=no_cache
        ) as sources:
            zone = next(iter(sources.sources.values())).timezone
        names, tags, every = selection
        page = accounts_notebook(
            config=str(Path(config).resolve()) if config is not None else "",
            accounts=list(names),
            tags=list(tags),
            all_accounts=every,
            month=None if month is None else str(month),
            timezone=zone,
            export_dir=str(Path.cwd()),
            api_url=api_url,
            no_cache=no_cache,
        )
    else:
        with open_source(
            sample=sample, api_url=api_url, timezone=timezone, no_cache=no_cache
        ) as source:
            zone = source.timezone
        page = dashboard_notebook(
            use_live_api=not sample,
            month=None if month is None else str(month),
            timezone=zone,
            export_dir=str(Path.cwd()),
            api_url=api_url,
            no_cache=no_cache,
        )
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="generect-dashboard-") as folder:
        notebook = Path(folder) / "Generect usage.ipynb"
        nbformat.write(page, notebook)
        token = os.environ.get(TOKEN_ENV) or ""
        generated = not token
        token = token or secrets.token_urlsafe(32)
        if generated or not quiet:
            print(
                f"dashboard on {dashboard_url(port, token)} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )
        command = voila_command(notebook, port, idle_timeout=idle_timeout, max_views=max_views)
        child = subprocess.Popen(command, cwd=folder, env=voila_env(token))
        try:
            code = child.wait()
        except KeyboardInterrupt:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            raise
    if code not in (0, -15):
        from ..errors import GenerectError

        raise GenerectError(f"Voila stopped with exit code {code}")
