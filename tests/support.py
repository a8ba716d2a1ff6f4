"""Helpers shared by the tests: the CLI in a subprocess, LibreOffice recalculation, canaries."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

SMTP_CANARY = "smtp-canary-pw-7d1e0a9c"
ROOT = Path(__file__).resolve().parent.parent


#: The test being run (set by an autouse fixture in conftest.py).
CURRENT_TEST: Any = None


def require_marker(name: str) -> None:
    """Fail a test that starts a heavy outside program without the marker that selects it."""
    if CURRENT_TEST is not None and CURRENT_TEST.get_closest_marker(name) is None:
        raise AssertionError(
            f"{CURRENT_TEST.nodeid} uses {name} but is not marked @pytest.mark.{name}"
        )


#: Environment variables a running interpreter cannot take on: the standard streams' encoding and
#: the locale are fixed at start-up, and so is what Python and matplotlib read as they start. A
#: run that changes one of them gets a fresh interpreter.
_STARTUP_ENV = re.compile(r"^(PYTHON\w*|LC_\w+|LANG|LANGUAGE|MPL\w*)$")
#: What every CLI run imports: loaded once in the fork server, so a run pays only for its work.
_PRELOAD = [
    "generect_reports.cli",
    "generect_reports.reports.assemble",
    "generect_reports.render.xlsx",
    "generect_reports.render.pdf",
    "generect_reports.fetch.api",
    "matplotlib.pyplot",
]
_FORKS: Any = None


def _forks() -> Any:
    """The fork server of this test process (started on first use, like multiprocessing's)."""
    global _FORKS
    if _FORKS is None:
        import multiprocessing

        os.environ.setdefault("MPLBACKEND", "Agg")
        _FORKS = multiprocessing.get_context("forkserver")
        _FORKS.set_forkserver_preload(_PRELOAD)
    return _FORKS


def _cli_child(args: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked child: become ``python -m generect_reports ARGS`` run from ``cwd`` with
    ``env``, its standard streams in files, and leave with the CLI's exit code."""
    import io
    import time

    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    os.chdir(cwd)
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding, errors)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding, "backslashreplace", line_buffering=True
    )
    sys.argv = [str(ROOT / "generect_reports" / "__main__.py"), *args]
    from generect_reports.cli import main

    main()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, as a user or cron runs it: its own process, environment,
    working folder, standard streams and exit code.

    The child is forked from a server that has imported the package already (as
    ``multiprocessing``'s forkserver does), which saves every run the second or two of imports;
    a run that changes what an interpreter fixes at start-up (the locale, ``PYTHON*``) gets a
    fresh ``python -m generect_reports``, and so does every run with
    ``GENERECT_TEST_FRESH_INTERPRETER=1``.
    """
    full_env = {k: v for k, v in os.environ.items()}
    full_env.update(env or {})
    changed = {k for k in set(full_env) | set(os.environ) if full_env.get(k) != os.environ.get(k)}
    if os.environ.get("GENERECT_TEST_FRESH_INTERPRETER") == "1" or any(
        _STARTUP_ENV.match(k) for k in changed
    ):
        return subprocess.run(
            [sys.executable, "-m", "generect_reports", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=timeout,
        )
    import io
    import locale
    import tempfile

    with tempfile.TemporaryDirectory(prefix="generect-cli-") as tmp:
        out, err = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        child = _forks().Process(
            target=_cli_child,
            args=(list(args), full_env, str(cwd or os.getcwd()), out, err),
        )
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(
                [sys.executable, "-m", "generect_reports", *args], timeout
            )
        texts = []
        for path in (out, err):
            with open(path, "rb") as f:
                data = f.read()
            # As subprocess.run(text=True) reads them: the locale's encoding, universal newlines.
            texts.append(
                io.TextIOWrapper(io.BytesIO(data), locale.getpreferredencoding(False)).read()
            )
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "generect_reports", *args], child.exitcode, texts[0], texts[1]
        )


#: LibreOffice keeps an xlsx file's stored values on opening unless told to recalculate:
#: OOXMLRecalcMode 0 means "always", so a recalculation test really recomputes every formula.
_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice_recalculate(path: Path, workdir: Path, to: str = "xlsx") -> Path:
    """Let LibreOffice (headless) open, recalculate every formula and re-save a workbook;
    return the copy (``to="pdf"``: the workbook as LibreOffice prints it)."""
    require_marker("libreoffice")
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise RuntimeError(
            "LibreOffice is required for these tests: apt-get install libreoffice-calc"
        )
    profile = workdir / f"lo-profile-{uuid.uuid4().hex}"  # one profile per conversion
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS)
    out = workdir / f"lo-out-{uuid.uuid4().hex}"
    out.mkdir()
    subprocess.run(
        [
            exe,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            to,
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = out / (path.name if to == "xlsx" else f"{path.stem}.{to}")
    assert result.is_file(), f"LibreOffice produced no file for {path.name}"
    return result
