"""Attacks on every command: bad input, API faults end to end, nothing lost on failure."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import run_cli

import generect_reports as g
from generect_reports.errors import MalformedResponseError
from generect_reports.fetch.usage import parse_usage_data, usage_frame
from generect_reports.periods import buckets

# --- bad input: exit 2, one line, no traceback ------------------------------------------

BAD_INPUT = [
    ("usage", ["--start", "2026-02-30", "--end", "2026-03-01"]),
    ("usage", ["--start", "2026-13-01", "--end", "2026-03-01"]),
    ("usage", ["--start", "2026-03-05", "--end", "2026-03-01"]),
    ("usage", ["--start", "2099-01-01", "--end", "2099-02-01"]),
    ("usage", ["--start", "1999-01-01", "--end", "1999-02-01"]),
    ("usage", ["--start", "2026-03-01", "--end", "2026-03-02", "--timezone", "Nowhere/City"]),
    (
        "usage",
        ["--start", "2026-03-01", "--end", "2026-03-02", "--timezone", "UTC"],
    ),  # sample is Kyiv-only
    ("usage", ["--start", "2026-03-01", "--end", "2026-03-02", "--period", "semester"]),
    (
        "usage",
        [
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-02",
            "--period",
            "quarter",
            "--fiscal-year-start",
            "0",
        ],
    ),
    (
        "usage",
        ["--start", "2026-03-01", "--end", "2026-03-02", "--period", "week", "--format", "focus"],
    ),
    (
        "usage",
        ["--start", "2026-03-01", "--end", "2026-03-02", "--format", "parquet"],
    ),  # needs --output
    (
        "usage",
        ["--start", "2026-03-01", "--end", "2026-03-02", "--format", "xlsx"],
    ),  # needs --output
    ("usage", ["--start", "2026-03-01", "--end", "2026-03-02", "--output", "{tmp}"]),  # a directory
    ("usage", ["--start", "2026-03-01", "--end", "2026-03-02", "--output", "{tmp}/missing/u.csv"]),
    ("report", ["--month", "2026-5"]),
    ("report", ["--quarter", "2026-Q5"]),
    ("report", ["--quarter", "FY2027-Q1", "--fiscal-year-start", "13"]),
    ("report", ["--month", "2026-13"]),
    ("report", ["--month", "May"]),
    ("report", ["--history", "0"]),
    ("report", ["--history", "-3"]),
    ("report", ["--history", "many"]),
    ("report", ["--month", "2030-01"]),
    ("report", ["--template", "{tmp}/no-such-template"]),
    ("report", ["--xlsx", "{tmp}"]),
    ("report", ["--pdf", "{tmp}/missing/r.pdf"]),
    ("email", ["--to", "nobody", "--from", "r@example.com", "--smtp-host", "h"]),
    ("email", ["--to", "a@example.com", "--from", "r@", "--smtp-host", "h"]),
    ("email", ["--to", "a@example.com", "--from", "r@example.com"]),  # no host, no dry run
    ("email", ["--from", "r@example.com", "--smtp-host", "h"]),  # no recipient
    (
        "email",
        [
            "--to",
            "a@example.com",
            "--from",
            "r@example.com",
            "--smtp-host",
            "h",
            "--smtp-port",
            "70000",
        ],
    ),
    (
        "email",
        [
            "--to",
            "a@example.com",
            "--from",
            "r@example.com",
            "--smtp-host",
            "h",
            "--smtp-user",
            "u",
        ],
    ),  # no password
    ("email", ["--to", "a@example.com", "--from", "r@example.com", "--dry-run", "{tmp}"]),
    (
        "email",
        [
            "--to",
            "a@example.com",
            "--from",
            "r@example.com",
            "--dry-run",
            "x.eml",
            "--month",
            "2026/10",
        ],
    ),
]


@pytest.mark.parametrize(
    "command,args", BAD_INPUT, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_INPUT)]
)
def test_bad_input_exit_2(command, args, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    before = set(tmp_path.rglob("*"))
    out = run_cli(command, "--sample", *args, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr
    assert set(tmp_path.rglob("*")) == before  # nothing written


def test_unwritable_output_folder(tmp_path, read_only_folder):
    folder, make_read_only = read_only_folder
    make_read_only()
    for args in (
        ["usage", "--start", "2026-03-01", "--end", "2026-03-02", "--output", f"{folder}/u.csv"],
        ["report", "--xlsx", f"{folder}/r.xlsx"],
    ):
        out = run_cli(*args, "--sample")
        assert out.returncode == 2 and "writ" in out.stderr, out.stderr


# --- API faults through the CLI: recover, or exit 4 naming the period ---------------------

PERMANENT = [
    "500",
    "503",
    "html502",
    "429",
    "drop",
    "truncate",
    "invalid_json",
    "no_data",
    "breakdown_list",
    "non_numeric",
    "nan",
    "infinite",
    "total_missing",
    "duplicate_ops",
    "proxy_json",
]


@pytest.mark.parametrize("kind", PERMANENT)
def test_permanent_fault_exit_4_names_period(token_env, kind, tmp_path):
    token_env.fail(kind, times=-1, when=lambda p: p["start_date"] == "2026-02-01")
    target = tmp_path / "u.csv"
    target.write_text("previous content\n")
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-04-30",
        "--period",
        "month",
        "--format",
        "csv",
        "--output",
        str(target),
        env={"GENERECT_API_MAX_ATTEMPTS": "3"},
    )
    assert out.returncode == 4, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert "period 2026-02" in line
    assert target.read_text() == "previous content\n"  # never a report with a missing period
    assert [p.name for p in tmp_path.iterdir()] == ["u.csv"]
    per_bucket = [r for r in token_env.usage_requests() if r.params["start_date"] == "2026-02-01"]
    assert 1 <= len(per_bucket) <= 5


@pytest.mark.parametrize(
    "kind", ["500", "503", "html502", "429", "drop", "truncate", "invalid_json", "proxy_json"]
)
def test_transient_fault_recovers_with_exact_figures(token_env, kind):
    token_env.fail(kind, times=2)
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-04-30",
        "--period",
        "month",
        "--format",
        "json",
        env={"GENERECT_API_MAX_ATTEMPTS": "3"},
    )
    assert out.returncode == 0, out.stderr
    assert sum(r["credits"] for r in json.loads(out.stdout)["rows"]) == 120 * 12.5


def test_hanging_server_is_bounded_in_time(token_env):
    token_env.fail("hang", times=-1, arg=3.0)
    started = time.monotonic()
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-01",
        env={"GENERECT_API_MAX_ATTEMPTS": "2", "GENERECT_API_TIMEOUT": "0.5"},
    )
    assert out.returncode == 4 and "timed out" in out.stderr
    assert time.monotonic() - started < 30


def test_negative_credits_are_flagged_in_report(tmp_path):
    import openpyxl
    from helpers import frame

    rows = [("2026-04-01", "a", 10.0), ("2026-05-01", "a", 10.0), ("2026-05-02", "refund", -4.0)]
    rep = g.build_report(frame(rows, fetched_at="2026-06-01 00:00"), "2026-05")
    assert any("Negative credits" in w for w in rep.warnings)
    g.write_excel_report(
        frame(rows, fetched_at="2026-06-01 00:00"), tmp_path / "n.xlsx", month="2026-05"
    )
    about = {
        r[0]: r[1]
        for r in openpyxl.load_workbook(tmp_path / "n.xlsx")["About"].iter_rows(values_only=True)
        if r[0]
    }
    assert about["Negative credits"].startswith("yes")
    assert rep.total == 6.0


# --- nothing lost ---------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["xlsx", "pdf", "csv", "tidy_xlsx", "eml"])
def test_failed_write_leaves_existing_file_intact(tmp_path, monkeypatch, writer, sample):

    import generect_reports._atomic as atomic

    target = tmp_path / f"out.{writer}"
    target.write_bytes(b"the controller's precious file")
    real_replace = os.replace

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    rep = g.build_report(sample, "2026-10")
    with pytest.raises(OSError):
        if writer == "xlsx":
            from generect_reports.outputs.excel import write_report_workbook

            write_report_workbook(rep, target)
        elif writer == "pdf":
            from generect_reports.outputs.pdf import write_report_pdf

            write_report_pdf(rep, target)
        elif writer == "csv":
            from generect_reports.outputs.export import to_csv

            atomic.write_bytes_atomic(target, to_csv(sample).encode())
        elif writer == "tidy_xlsx":
            g.write_usage_xlsx(sample, target)
        else:
            from generect_reports.outputs import mail

            mail.write_eml(
                mail.build_message(rep, to=["a@example.com"], sender="r@example.com"), target
            )
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert target.read_bytes() == b"the controller's precious file"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_exception_during_rendering_leaves_file_intact(tmp_path, monkeypatch, sample):
    import xlsxwriter.workbook as wbmod

    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")

    def half_close(self):
        if hasattr(self.filename, "write"):
            self.filename.write(b"PK\x03\x04 half a zip")
        else:
            with open(self.filename, "wb") as fh:
                fh.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("disk vanished")

    monkeypatch.setattr(wbmod.Workbook, "close", half_close)
    with pytest.raises(RuntimeError):
        g.write_excel_report(sample, target, month="2026-10")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_killed_mid_write_leaves_existing_file_intact(tmp_path, sig):
    """Kill the CLI while it streams a large export over an existing file."""
    target = tmp_path / "big.xlsx"
    target.write_bytes(b"yesterday's export")
    script = (
        "import pandas as pd, numpy as np, generect_reports as g\n"
        "n = 1_000_000\n"
        "df = pd.DataFrame({'period_start': "
        "pd.date_range('2020-01-01', periods=n, freq='min', tz='UTC'),"
        " 'period': ['2020-01-01'] * n, 'operation': ['op'] * n, 'credits': np.ones(n)})\n"
        "df.attrs['timezone'] = 'UTC'\n"
        "from generect_reports.cli import _terminate\nimport signal\n"
        "signal.signal(signal.SIGTERM, _terminate)\n"
        "print('writing', flush=True)\n"
        f"g.write_usage_xlsx(df, {str(target)!r})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    # wait until the rows are being spliced into the final temporary file
    while not any(
        p.name.endswith(".tmp")
        and not p.name.endswith(".layout.tmp")
        and p.stat().st_size > 100_000
        for p in tmp_path.iterdir()
    ):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.wait(60)
    assert proc.returncode != 0
    assert target.read_bytes() == b"yesterday's export"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "big.xlsx"]
    if sig == signal.SIGKILL:
        # nothing can clean up after SIGKILL; the partial file is hidden and never the target
        assert all(name.startswith(".big.xlsx.") and name.endswith(".tmp") for name in leftovers)
    else:
        assert leftovers == []


# --- property-based: parsing API responses ---------------------------------------------------

numbers = st.one_of(
    st.integers(-(10**6), 10**9), st.floats(-1e6, 1e9, allow_nan=False, allow_infinity=False)
)
junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=3), numbers
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda s: s.strip() and s != "unattributed"),
        numbers,
        max_size=8,
    ),
    numbers,
)
def test_rows_always_add_up_to_total(breakdown, extra):
    total = sum(breakdown.values()) + extra
    (bucket,) = buckets("2026-05-01", "2026-05-01")
    df = usage_frame(
        [bucket],
        [{"total_credits": total, "breakdown": breakdown}],
        timezone="UTC",
        period="day",
        source="api",
        fetched_at=None,
    )
    assert df["credits"].sum() == pytest.approx(total, rel=1e-9, abs=1e-6)
    assert set(breakdown) <= set(df["operation"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["total_credits", "breakdown", "period", "x"]),
        st.one_of(junk, st.dictionaries(st.text(max_size=4), junk, max_size=3)),
        max_size=4,
    )
)
def test_parsing_junk_raises_only_malformed(data):
    try:
        total, breakdown = parse_usage_data(data)
    except MalformedResponseError:
        return
    assert isinstance(total, float) and all(isinstance(v, float) for v in breakdown.values())


def test_csv_injection_from_api_operation_names(token_env, tmp_path):
    """Operation names come from the API: in CSV, formula-like ones get the OWASP ' prefix."""
    import csv
    import datetime as dt

    from test_excel import OWASP_PAYLOADS

    token_env.daily[dt.date(2026, 3, 1)] = {p: 1.0 for p in OWASP_PAYLOADS} | {"plain_op": 2.0}
    target = tmp_path / "u.csv"  # a file, read without newline translation (one payload has a CR)
    out = run_cli(
        "usage",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-01",
        "--format",
        "csv",
        "--output",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    with target.open(newline="", encoding="utf-8") as fh:
        ops = [row["operation"] for row in csv.DictReader(fh)]
    assert "plain_op" in ops
    for payload in OWASP_PAYLOADS:
        assert "'" + payload in ops
    assert not any(op.startswith(("=", "+", "-", "@", "\t", "\r")) for op in ops)
    # JSON is data, not a spreadsheet: names stay exactly as the API sent them
    out = run_cli("usage", "--start", "2026-03-01", "--end", "2026-03-01", "--format", "json")
    assert set(OWASP_PAYLOADS) <= {r["operation"] for r in json.loads(out.stdout)["rows"]}


def test_table_output_escapes_terminal_control_sequences(token_env):
    import datetime as dt

    token_env.daily[dt.date(2026, 3, 1)] = {"evil\x1b[2J\x1b]0;pwned\x07": 1.0}
    out = run_cli("usage", "--start", "2026-03-01", "--end", "2026-03-01")
    assert out.returncode == 0 and "\x1b" not in out.stdout and "\\x1b[2J" in out.stdout
