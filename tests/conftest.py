"""Shared fixtures: a real local API server, an isolated cache folder, canary secrets."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import datetime as dt  # noqa: E402

from fakeapi import TOKEN, FakeGenerect, simple_daily  # noqa: E402


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lets the helpers that start LibreOffice or Chromium check the test says so by its marker,
    so ``-m "not libreoffice and not browser"`` (the core suite) really leaves them out."""
    import support

    support.CURRENT_TEST = request.node
    yield
    support.CURRENT_TEST = None


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache and alert state folders and no stray credentials from the
    machine."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GENERECT_REPORTS_CACHE_DIR", str(cache))
    monkeypatch.setenv("GENERECT_REPORTS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    for name in (
        "GENERECT_API_TOKEN",
        "GENERECT_API_URL",
        "GENERECT_SMTP_PASSWORD",
        "GENERECT_REPORTS_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return cache


@pytest.fixture
def api() -> Iterator[FakeGenerect]:
    """A Generect API on 127.0.0.1 with two years of simple daily usage."""
    fake = FakeGenerect(
        daily=simple_daily(
            dt.date(2025, 1, 1), dt.date(2026, 12, 31), {"search_database": 10.0, "email_find": 2.5}
        )
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch, api: FakeGenerect) -> FakeGenerect:
    monkeypatch.setenv("GENERECT_API_TOKEN", TOKEN)
    monkeypatch.setenv("GENERECT_API_URL", api.url)
    return api


@pytest.fixture
def client(api: FakeGenerect):
    from generect_reports import GenerectClient

    waits: list[float] = []
    c = GenerectClient(TOKEN, api.url, sleep=waits.append, timeout=(2.0, 2.0))
    c.waits = waits  # type: ignore[attr-defined]
    yield c
    c.close()


@pytest.fixture(scope="session")
def sample():
    from generect_reports import load_sample

    return load_sample()


@pytest.fixture
def read_only_folder(tmp_path):
    """Yield (folder, make_read_only). Root may write anywhere, so as root the folder is a
    tmpfs that is remounted read-only; otherwise its permissions are removed."""
    import subprocess

    folder = tmp_path / "ro-cache"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
        mounted = True

    def make_read_only():
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            os.chmod(folder, 0o500)
            for p in folder.iterdir():
                os.chmod(p, 0o400)

    yield folder, make_read_only
    if mounted:
        # A handle still open on the mount (a cache another thread has not closed yet) makes a
        # plain umount fail; detach it lazily then, so no mount outlives the test's folder.
        if subprocess.run(["umount", str(folder)], check=False, capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)
    else:
        os.chmod(folder, 0o700)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the golden files in tests/golden/ (review the diff before committing).",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with ``--update-golden``."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def sample_reports(tmp_path_factory: pytest.TempPathFactory):
    """The four sample reports of the golden files and the cross-artefact check, each rendered
    once per run and shared by the xdist workers (see ``reportcases.py``)."""
    from reportcases import SampleReports

    # The run's root, shared by the workers (each has its own basetemp under it).
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return SampleReports(root / "sample-reports")


#: What marks a test as end to end: it runs the command line (or another program) in a child
#: process. Such a test costs a Python start-up and a full import each time it does so.
_CHILD_PROCESS = ("run_cli(", "subprocess.", "Popen(", "soffice_recalculate(", "pdftotext")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that starts a child process ``e2e``, read from its own source, so the
    fast core (``-m "not e2e and ..."``, run on the newest Python by scripts/core_suite.sh) is
    the library's behaviour in one process, and a new end-to-end test is marked without anyone
    remembering to."""
    import inspect

    cache: dict[object, bool] = {}
    for item in items:
        fn = getattr(item, "function", None)
        if fn is None:
            continue
        if fn not in cache:
            try:
                source = inspect.getsource(fn)
            except (OSError, TypeError):
                source = ""
            cache[fn] = any(marker in source for marker in _CHILD_PROCESS)
        if cache[fn]:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def forkable() -> None:
    """For a test of the forked PDF child: wait until no thread an earlier test left behind (a
    local server's request handler on a keep-alive connection) would stop the fork, so the test
    sees the fork it is about, never the one-process fallback."""
    import gc
    import threading
    import time

    from generect_reports.deliver import parallel

    deadline = time.monotonic() + 15
    while not parallel._can_fork() and time.monotonic() < deadline:
        gc.collect()  # closes the sessions whose sockets keep handler threads waiting
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and thread.daemon:
                thread.join(timeout=0.1)
    stray = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    assert parallel._can_fork(), f"threads still running, the report would not fork: {stray}"
