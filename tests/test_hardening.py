"""Hardening: deadlines, signals, bad configuration, hidden server messages, exit codes,
two outputs on one path, idle accounts and the analysis functions' input checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import TOKEN
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ROOT, run_cli

import generect_reports as g
from generect_reports import errors as E
from generect_reports.analysis.usage import daily_matrix
from generect_reports.fetch.client import GenerectClient


def _env(api, **extra: str) -> dict[str, str]:
    return {"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url, **extra}


# --- 1. a wall-clock deadline per attempt and per request ---------------------------------


def test_trickling_body_costs_at_most_the_attempt_deadline(api):
    """The body arrives a byte every 0.2 s (90 s in all): the attempt ends at its deadline."""
    api.fail("trickle", times=-1, arg=0.2)
    client = GenerectClient(TOKEN, api.url, max_attempts=1, timeout=(2.0, 1.0))
    started = time.monotonic()
    with pytest.raises(E.APIConnectionError, match="timed out"):
        client.usage("2026-01-01", "2026-01-01")
    assert time.monotonic() - started < 1.0 + 0.5


def test_trickling_server_costs_at_most_the_request_deadline(api):
    """Retries included, one request never outlasts GENERECT_API_DEADLINE."""
    api.fail("trickle", times=-1, arg=0.2)
    started = time.monotonic()
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-01",
        env=_env(
            api, GENERECT_API_TIMEOUT="1", GENERECT_API_DEADLINE="3", GENERECT_API_MAX_ATTEMPTS="10"
        ),
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 4 and "timed out" in out.stderr, out.stderr
    assert "period 2026-01-01" in out.stderr
    assert elapsed < 3 + 4  # the deadline plus interpreter start-up on a busy machine
    assert 2 <= len(api.usage_requests()) <= 4  # retried within the deadline, no more


def test_deadline_env_is_validated():
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-01",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_DEADLINE": "soon"},
    )
    assert out.returncode == 2 and "GENERECT_API_DEADLINE" in out.stderr


def _spawn(api, *args: str, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, **_env(api, **env), "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}
    return subprocess.Popen(
        [sys.executable, "-m", "generect_reports", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        # Python only installs its Ctrl-C handler when SIGINT is not ignored at start-up.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # noqa: PLW1509


@pytest.mark.parametrize("kind", ["never", "trickle"])
@pytest.mark.parametrize(
    "sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_signal_ends_the_run_within_a_second(api, tmp_path, kind, sig, code, word):
    """Eight workers stuck on a server that never answers (or trickles): Ctrl-C and SIGTERM
    still end the run at once, with 130/143, and no worker retries after the signal."""
    api.fail(kind, times=-1, arg=60.0 if kind == "never" else 0.5)
    target = tmp_path / "u.csv"
    target.write_text("previous\n")
    proc = _spawn(
        api,
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        "--format",
        "csv",
        "--output",
        str(target),
        "--no-cache",
        GENERECT_API_TIMEOUT="60",
        GENERECT_API_DEADLINE="120",
    )
    deadline = time.monotonic() + 60
    while len(api.usage_requests()) < 8:  # every worker is stuck
        assert time.monotonic() < deadline and proc.poll() is None, (
            proc.stderr.read() if proc.stderr else ""
        )
        time.sleep(0.05)
    time.sleep(0.3)
    seen = len(api.usage_requests())
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(30)
    took = time.monotonic() - sent
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == code, err
    assert took < 1.5, took
    assert err.strip().splitlines()[-1] == f"error: {word}"
    time.sleep(0.5)
    assert len(api.usage_requests()) == seen  # nothing was retried or started after the signal
    assert target.read_text() == "previous\n" and [p.name for p in tmp_path.iterdir()] == ["u.csv"]


def test_interrupt_stops_pool_workers_in_the_library(api):
    """In a notebook, KeyboardInterrupt leaves run_jobs at once, and the workers of the
    interrupted run never retry, while the client stays usable."""
    import threading

    from generect_reports.fetch.planner import Job, run_jobs

    api.fail("never", times=-1, arg=5.0, when=lambda p: p["start_date"] != "2026-03-01")
    client = GenerectClient(TOKEN, api.url, timeout=(2.0, 30.0), max_retry_time=60)
    jobs = [
        Job(
            f"2026-01-{d:02d}",
            {"start_date": f"2026-01-{d:02d}", "end_date": f"2026-01-{d:02d}"},
            False,
        )
        for d in range(1, 5)
    ]
    main = threading.get_ident()

    def fetch(q: dict[str, str]) -> dict:
        return client.usage(q["start_date"], q["end_date"])

    def interrupt() -> None:
        while len(api.usage_requests()) < 4:
            time.sleep(0.02)
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C reaches the main thread

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_jobs(
            jobs, fetch, cache=None, account_key=None, max_workers=4, progress=False, source=client
        )
    assert time.monotonic() - started < 2 and threading.get_ident() == main
    time.sleep(6)  # the stuck requests end on the server's side: none of them retries
    assert len(api.usage_requests()) == 4
    assert client.usage("2026-03-01", "2026-03-01")["total_credits"] == 12.5


# --- 5. bad configuration is bad input, with no request made -------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "{url} ",
        " {url}",
        "http://127.0.0.1:0",
        "http://127.0.0.1\t:80",
        "http://[::1",
        "http://exa mple.com",
        "https://api.générect.com",
    ],
)
def test_invalid_api_url_is_exit_2_without_a_request(api, url):
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-02",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": url.format(url=api.url)},
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: invalid API URL") and len(out.stderr.splitlines()) == 1
    assert api.requests == []


@pytest.mark.parametrize("token", ["tökén-ü", "токен", "tok\u2019en", "t\u00a0k"])
def test_token_with_non_ascii_characters_is_exit_2(api, token):
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-02",
        env={"GENERECT_API_TOKEN": token, "GENERECT_API_URL": api.url},
    )
    assert out.returncode == 2 and "GENERECT_API_TOKEN" in out.stderr, out.stderr
    assert token not in out.stderr and api.requests == []


# --- 6. server messages are not hidden ------------------------------------------------------


@pytest.mark.parametrize(
    "wrapped,code,cls",
    [
        (401, 3, E.AuthenticationError),
        (403, 3, E.PermissionDeniedError),
        (400, 4, E.ValidationError),
        (404, 4, E.NotFoundError),
    ],
)
def test_error_envelope_in_a_200_is_that_error(api, wrapped, code, cls):
    api.fail("envelope200", times=-1, arg=wrapped)
    client = GenerectClient(TOKEN, api.url, sleep=lambda s: None)
    with pytest.raises(cls, match=f"HTTP {wrapped}: wrapped {wrapped}"):
        client.usage("2026-01-01", "2026-01-01")
    out = run_cli("usage", "--start", "2026-01-01", "--end", "2026-01-01", env=_env(api))
    assert out.returncode == code and f"wrapped {wrapped}" in out.stderr


def test_error_envelope_in_a_200_with_a_transient_status_is_retried(api):
    api.fail("envelope200", times=2, arg=503)
    client = GenerectClient(TOKEN, api.url, sleep=lambda s: None)
    assert client.usage("2026-01-01", "2026-01-01")["total_credits"] == 12.5
    assert len(api.requests) == 3


def test_redirect_loop_says_too_many_redirects(api):
    api.fail("redirect_loop", times=-1)
    out = run_cli("usage", "--start", "2026-01-01", "--end", "2026-01-01", env=_env(api))
    assert out.returncode == 4 and "too many redirects" in out.stderr, out.stderr
    assert len(api.requests) == 4  # one request and three hops: a loop is not retried


# --- 4. exit 1 where the contract says 2 or 4 -------------------------------------------------

BAD_OPTIONS = [
    ["report", "--history", "1000000000"],
    ["report", "--history", "1201"],
    [
        "email",
        "--max-attachment-mb",
        "nan",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
    ],
    [
        "email",
        "--max-attachment-mb",
        "inf",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
    ],
    [
        "email",
        "--max-attachment-mb",
        "-1",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
    ],
    [
        "email",
        "--max-attachment-mb",
        "0",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
    ],
    [
        "email",
        "--history",
        "99999999",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
    ],
]


@pytest.mark.parametrize("args", BAD_OPTIONS, ids=[" ".join(a[:3]) for a in BAD_OPTIONS])
def test_bad_options_are_exit_2_before_any_request(api, tmp_path, args):
    out = run_cli(*args, env=_env(api), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")
    assert api.requests == [] and list(tmp_path.iterdir()) == []


def test_huge_integer_total_is_a_malformed_response(api):
    api.fail("big_total", times=-1, when=lambda p: p["start_date"] == "2026-01-02")
    out = run_cli("usage", "--start", "2026-01-01", "--end", "2026-01-03", env=_env(api))
    assert (
        out.returncode == 4 and "period 2026-01-02" in out.stderr and "out of range" in out.stderr
    )


def test_reader_closing_the_pipe_is_a_quiet_exit(api):
    """`usage ... | true`: no "unexpected BrokenPipeError", no traceback; 141 like any filter."""
    full = {**os.environ, **_env(api)}
    proc = subprocess.run(
        f"{sys.executable} -m generect_reports usage --start 2025-01-01 --end 2026-10-31 "
        "--sample | true; "
        'echo "status=${PIPESTATUS[0]}" >&2',
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        check=False,
    )
    assert "status=141" in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == ["status=141"]


def test_closed_stdout_is_not_a_silent_success():
    full = {**os.environ}
    proc = subprocess.run(
        f"{sys.executable} -m generect_reports usage --start 2026-03-01 --end 2026-03-02 "
        "--sample >&-",
        shell=True,
        executable="/bin/bash",
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "standard output is closed" in proc.stderr, proc.stderr


def test_full_stdout_is_not_a_silent_success():
    with open("/dev/full", "w") as full_dev:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "generect_reports",
                "usage",
                "--start",
                "2026-03-01",
                "--end",
                "2026-03-02",
                "--sample",
            ],
            stdout=full_dev,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode != 0 and proc.stderr.startswith("error: "), proc.stderr


# --- 3. two outputs, one file -----------------------------------------------------------------


def _same_path_cases(tmp: Path) -> list[tuple[str, str]]:
    (tmp / "real.xlsx").write_bytes(b"keep")
    (tmp / "link.pdf").symlink_to(tmp / "real.xlsx")
    (tmp / "dangling.pdf").symlink_to(tmp / "not-yet.xlsx")
    (tmp / "sub").mkdir()
    (tmp / "sublink").symlink_to(tmp / "sub")
    os.link(tmp / "real.xlsx", tmp / "hard.pdf")
    return [
        (str(tmp / "same"), str(tmp / "same")),
        ("rel.out", str(tmp / "rel.out")),
        (str(tmp / "real.xlsx"), str(tmp / "link.pdf")),
        (str(tmp / "not-yet.xlsx"), str(tmp / "dangling.pdf")),
        (str(tmp / "sub" / "r.x"), str(tmp / "sublink" / "r.x")),
        (str(tmp / "sub" / ".." / "a.x"), str(tmp / "a.x")),
        (str(tmp / "Report.X"), str(tmp / "report.x")),  # one file on macOS and Windows
        (str(tmp / "real.xlsx"), str(tmp / "hard.pdf")),
    ]


def test_two_outputs_on_one_file_are_refused(tmp_path):
    cases = _same_path_cases(tmp_path)
    before = {p: (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")}
    for xlsx, pdf in cases:
        out = run_cli("report", "--sample", "--xlsx", xlsx, "--pdf", pdf, cwd=tmp_path)
        assert out.returncode == 2 and "same file" in out.stderr, (xlsx, pdf, out.stderr)
        assert "wrote" not in out.stderr
    after = {p: (p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")}
    assert after == before  # nothing written


def test_distinct_outputs_are_accepted(tmp_path):
    from generect_reports._atomic import check_distinct_outputs

    check_distinct_outputs(
        {"--xlsx": tmp_path / "r.xlsx", "--pdf": tmp_path / "r.pdf", "--x": None}
    )
    out = run_cli("report", "--sample", "--xlsx", "r.xlsx", "--pdf", "r.pdf", cwd=tmp_path)
    assert out.returncode == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf", "r.xlsx"]


# --- 7. an idle account -----------------------------------------------------------------------


def test_idle_account_reports_zeros_and_the_email_goes_out(api, tmp_path):
    import email
    from email import policy

    import openpyxl

    api.daily.clear()
    out = run_cli(
        "report",
        "--month",
        "2026-05",
        "--xlsx",
        "r.xlsx",
        "--pdf",
        "r.pdf",
        env=_env(api),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    cells = [
        str(c)
        for ws in openpyxl.load_workbook(tmp_path / "r.xlsx")
        for row in ws.iter_rows(values_only=True)
        for c in row
        if c is not None
    ]
    assert any("idle" in c for c in cells)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "idle" in text and "0.00" in text
    out = run_cli(
        "email",
        "--month",
        "2026-05",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        "m.eml",
        env=_env(api),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes((tmp_path / "m.eml").read_bytes(), policy=policy.default)
    assert "0 credits" in str(msg["Subject"])
    assert {p.get_filename() for p in msg.iter_attachments()} == {
        "generect-usage-2026-05.xlsx",
        "generect-usage-2026-05.pdf",
    }


def test_history_shows_zero_months_as_zero():
    from helpers import frame

    # Usage only in March and June 2026; the data itself covers 2026-01-01..2026-06-30.
    usage = frame(
        [("2026-03-10", "a", 5.0), ("2026-06-10", "a", 7.0)], fetched_at="2026-07-01 00:00"
    )
    usage.attrs.update({"start": "2026-01-01", "end": "2026-06-30"})
    rep = g.build_report(usage, "2026-06", history=12)
    assert list(rep.monthly.columns) == [f"2026-{m:02d}" for m in range(1, 7)]
    assert rep.monthly.loc["a"].tolist() == [0.0, 0.0, 5.0, 0.0, 0.0, 7.0]
    assert "History shows 6 of 12 months: the data starts on 2026-01-01." in rep.notes
    empty = frame([], fetched_at="2026-07-01 00:00")
    empty.attrs.update({"start": "2026-04-03", "end": "2026-06-30"})
    idle = g.build_report(empty, "2026-06", history=3)
    assert idle.total == 0 and list(idle.monthly.columns) == ["2026-04", "2026-05", "2026-06"]
    assert any("idle" in n for n in idle.notes)


# --- 8. library edges -------------------------------------------------------------------------

PUBLIC_ANALYSIS = [
    lambda f: g.to_monthly(f),
    lambda f: g.month_over_month(f),
    lambda f: g.operation_shares(f),
    lambda f: g.monthly_totals(f),
    lambda f: g.variance_by_operation(f, "2026-05"),
    lambda f: g.partial_month_comparison(f, "2026-05", as_of="2026-05-10"),
    lambda f: g.run_rate_projection(f, "2026-05", as_of="2026-05-10"),
    lambda f: g.detect_anomalies(f),
    lambda f: daily_matrix(f),
    lambda f: g.validate_usage_frame(f),
]


@pytest.mark.parametrize(
    "bad",
    [
        pd.DataFrame({"x": [1]}),
        pd.DataFrame({"period_start": ["2026-05-01"], "operation": ["a"], "credits": [1.0]}),
        pd.DataFrame(
            {"period_start": pd.to_datetime(["2026-05-01"]), "operation": ["a"], "credits": [1.0]}
        ),
        pd.DataFrame(
            {
                "period_start": pd.to_datetime(["2026-05-01"]).tz_localize("UTC"),
                "operation": ["a"],
                "credits": ["1"],
            }
        ),
        [1, 2, 3],
    ],
    ids=["no-columns", "text-dates", "naive-dates", "text-credits", "not-a-frame"],
)
@pytest.mark.parametrize("fn", range(len(PUBLIC_ANALYSIS)))
def test_every_analysis_function_checks_its_input_the_same_way(bad, fn):
    with pytest.raises(E.InputError, match="not a usage frame"):
        PUBLIC_ANALYSIS[fn](bad)


def test_display_percentages_of_zeros_are_zeros():
    assert g.display_percentages([0.0, 0.0]).tolist() == [0.0, 0.0]
    assert g.display_percentages([0.5, 0.5]).sum() == 100.0


# --- 9. aliases, fonts, warnings --------------------------------------------------------------


def test_either_spelling_is_priced_and_coloured():
    from helpers import frame

    theme = g.load_theme()
    assert theme.prices["email_validate"] == theme.prices["email_validation"] == 0.005
    colors = theme.operation_colors(["email_validate", "email_validation", "brand_new_op"])
    assert (
        colors["email_validate"]
        == colors["email_validation"]
        == theme.colors["operations"]["email_validation"]
    )
    usage = frame(
        [("2026-05-01", "email_validate", 100.0), ("2026-05-01", "brand_new_op", 3.0)],
        fetched_at="2026-06-01 00:00",
    )
    rep = g.build_report(usage, "2026-05")
    assert rep.unpriced == ["brand_new_op"]
    assert "No list price for: brand_new_op (unpriced: not in the estimated cost)." in rep.notes
    assert rep.estimated_cost == pytest.approx(0.5)


def test_aliases_from_a_users_prices_file(tmp_path):
    (tmp_path / "prices.toml").write_text(
        '[prices]\nsearch = 0.5\n[aliases]\nsearch_v2 = "search"\n'
    )
    theme = g.load_theme(tmp_path)
    assert theme.prices["search_v2"] == theme.prices["search"] == 0.5
    (tmp_path / "prices.toml").write_text("[aliases]\nsearch_v2 = 3\n")
    with pytest.raises(E.TemplateError):
        g.load_theme(tmp_path)


def test_font_chain_covers_what_dejavu_lacks():
    from matplotlib import font_manager

    from generect_reports.theme import font_chain

    chain = font_chain("DejaVu Sans")
    assert chain[0] == "DejaVu Sans"
    installed = {f.name for f in font_manager.fontManager.ttflist}
    assert set(chain) <= installed | {"DejaVu Sans"}
    if "Noto Sans Symbols 2" in installed:  # fonts-noto-core
        path = font_manager.findfont(
            font_manager.FontProperties(family=["DejaVu Sans", *chain[1:]])
        )
        assert path


def test_glyph_warnings_go_through_logging_and_quiet_silences_them(tmp_path):
    from helpers import frame

    rows = [("2026-04-01", "a", 1.0), ("2026-05-01", "\U0001f916 bot \u2f00", 3.0)]
    usage = frame(rows, fetched_at="2026-06-01 00:00")
    usage.to_pickle(tmp_path / "u.pkl")
    script = (
        "import logging, sys, pandas as pd\n"
        "from generect_reports.cli import _setup_logging\n"
        "import generect_reports as g\n"
        "from generect_reports.outputs.pdf import render_pdf\n"
        "_setup_logging(0, sys.argv[1] == 'q')\n"
        f"render_pdf(g.build_report(pd.read_pickle({str(tmp_path / 'u.pkl')!r}), '2026-05'))\n"
    )
    loud = subprocess.run(
        [sys.executable, "-c", script, "v"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script, "q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loud.returncode == 0 and quiet.returncode == 0, loud.stderr
    if "Glyph" in loud.stderr:  # no installed font has the robot face
        assert all(
            line.startswith(("WARNING: ", "  ")) or not line.strip()
            for line in loud.stderr.splitlines()
        ), loud.stderr
    assert quiet.stderr == ""


def test_json_document_rows_keep_names_verbatim():
    from generect_reports.outputs.export import dumps_document, json_document

    doc = json_document(
        "usage",
        [{"operation": "a\x1b\ufffe\u202e"}],
        source="api",
        timezone="UTC",
        period="day",
        start="2026-01-01",
        end="2026-01-01",
        complete=True,
        generated_at="2026-01-02T00:00:00+00:00",
    )
    assert json.loads(dumps_document(doc))["rows"][0]["operation"] == "a\x1b\ufffe\u202e"


# --- junk responses raise only MalformedResponseError, whatever the numbers and names ------

huge = st.one_of(
    st.integers(10**300, 10**400),
    st.integers(-(10**400), -(10**300)),
    st.integers(10**4000, 10**4000 + 5),
)
names = st.text(st.characters(), min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(huge, st.floats()),
    st.dictionaries(names, st.one_of(huge, st.floats(), st.integers()), max_size=4),
)
def test_junk_numbers_and_names_raise_only_malformed(total, breakdown):
    from generect_reports.fetch.usage import parse_usage_data

    try:
        parsed_total, parsed = parse_usage_data({"total_credits": total, "breakdown": breakdown})
    except E.MalformedResponseError:
        return
    assert all(isinstance(v, float) for v in [parsed_total, *parsed.values()])
    assert all("\ud800" > n or n > "\udfff" for name in parsed for n in name)
