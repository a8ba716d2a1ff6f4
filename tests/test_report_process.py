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


@needs_fork
@pytest.mark.parametrize("command", ["report", "email"])
def test_the_pdf_child_is_forked_before_the_data_is_loaded(command, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from generect_reports import cli as cli_module
    from generect_reports.reports import assemble

    events: list[str] = []
    real_start, real_data = render.start_pdf_worker, assemble.monthly_report

    def start(*args, **kwargs):
        events.append("fork")
        return real_start(*args, **kwargs)

    def data(*args, **kwargs):
        events.append("data")
        return real_data(*args, **kwargs)

    monkeypatch.setattr(render, "start_pdf_worker", start)
    monkeypatch.setattr(assemble, "monthly_report", data)
    if command == "report":
        args = [
            "report",
            "--sample",
            "--month",
            "2026-03",
            "--quiet",
            "--xlsx",
            str(tmp_path / "r.xlsx"),
            "--pdf",
            str(tmp_path / "r.pdf"),
        ]
    else:
        args = [
            "email",
            "--sample",
            "--month",
            "2026-03",
            "--quiet",
            "--to",
            "finance@example.com",
            "--from",
            "reports@example.com",
            "--dry-run",
            str(tmp_path / "m.eml"),
        ]
    result = CliRunner().invoke(cli_module.cli, args)
    assert result.exit_code == 0, result.output
    assert events == ["fork", "data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["r.pdf", "r.xlsx"] if command == "report" else ["m.eml"]
    )
