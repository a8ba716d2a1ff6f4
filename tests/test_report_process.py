"""The report command as a process: the PDF child is forked before the data is loaded, and a
successful command-line run leaves without tearing the interpreter down, with everything
written, flushed and cleaned up first."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from support import run_cli

from generect_reports.deliver import parallel as render

needs_fork = pytest.mark.skipif(not render._can_fork(), reason="fork is not used on this platform")


def test_report_run_writes_complete_files_and_says_so(tmp_path):
    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    out = run_cli(
        "report", "--sample", "--month", "2026-03", "--xlsx", str(xlsx), "--pdf", str(pdf)
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [f"wrote {xlsx}", f"wrote {pdf}"]
    with zipfile.ZipFile(xlsx) as book:
        assert book.testzip() is None
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.read_bytes().rstrip().endswith(b"%%EOF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf", "r.xlsx"]  # no temporary file


def test_standard_output_is_complete_through_a_pipe():
    out = run_cli(
        "usage", "--sample", "--start", "2025-01-01", "--end", "2026-10-31", "--format", "csv"
    )
    assert out.returncode == 0, out.stderr
    in_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import generect_reports as g, pandas as pd\n"
            "f = g.load_sample(); "
            "f = f[(f['period'] >= '2025-01-01') & (f['period'] <= '2026-10-31')]\n"
            "print(len(f))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(out.stdout.splitlines()) == int(in_process.stdout) + 1  # and the header
    assert out.stdout.endswith("\n")


def test_main_called_from_python_still_raises_system_exit():
    code = (
        "from generect_reports.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines()[-1] == "exit 0"


def test_an_error_keeps_its_exit_code(tmp_path):
    out = run_cli("report", "--sample", "--month", "1999-01", "--pdf", str(tmp_path / "r.pdf"))
    assert out.returncode == 2 and out.stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


#: Run in a fresh interpreter: a thread left alive by another test in the same process would
#: (rightly) stop the command from forking, and the order would say nothing.
_FORK_ORDER = """
import json, sys
from click.testing import CliRunner
from generect_reports import cli as cli_module
from generect_reports.deliver import parallel as render
from generect_reports.reports import assemble

events = []
real_start, real_data = render.start_pdf_worker, assemble.monthly_report

def start(*args, **kwargs):
    events.append("fork")
    return real_start(*args, **kwargs)

def data(*args, **kwargs):
    events.append("data")
    return real_data(*args, **kwargs)

render.start_pdf_worker, assemble.monthly_report = start, data
result = CliRunner().invoke(cli_module.cli, sys.argv[1:])
print(json.dumps({"exit": result.exit_code, "output": result.output, "events": events}))
"""


@needs_fork
@pytest.mark.parametrize("command", ["report", "email"])
def test_the_pdf_child_is_forked_before_the_data_is_loaded(command, tmp_path):
    import json

    if command == "report":
        args = ["report", "--xlsx", str(tmp_path / "r.xlsx"), "--pdf", str(tmp_path / "r.pdf")]
    else:
        args = ["email", "--to", "finance@example.com", "--from", "reports@example.com"]
        args += ["--dry-run", str(tmp_path / "m.eml")]
    args += ["--sample", "--month", "2026-03", "--quiet"]
    out = subprocess.run(
        [sys.executable, "-c", _FORK_ORDER, *args], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout.splitlines()[-1])
    assert run["exit"] == 0, run["output"]
    assert run["events"] == ["fork", "data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["r.pdf", "r.xlsx"] if command == "report" else ["m.eml"]
    )
