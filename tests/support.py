"""Helpers shared by the tests: the CLI in a subprocess, LibreOffice recalculation, canaries."""

from __future__ import annotations

import os
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


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI in a real subprocess, as a user or cron runs it."""
    full_env = {k: v for k, v in os.environ.items()}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "generect_reports", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
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
