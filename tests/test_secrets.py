"""Canary secrets through every command, in success and failure, with -vv: they never show up
in stdout, stderr, logs, exceptions, cache files, reports, messages or .eml files."""

import base64

import pytest
from aiosmtpd.controller import Controller
from fakeapi import TOKEN
from support import SMTP_CANARY, run_cli
from test_mail import Inbox, authenticator, free_port

CANARIES = [
    TOKEN.encode(),
    SMTP_CANARY.encode(),
    base64.b64encode(SMTP_CANARY.encode()),
    base64.b64encode(TOKEN.encode()),
]


def assert_clean(*blobs: bytes | str):
    for blob in blobs:
        data = blob.encode() if isinstance(blob, str) else blob
        for canary in CANARIES:
            assert canary not in data


def files_under(*folders):
    out = []
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file():
                out.append(p.read_bytes())
    return out


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    ctl = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


SCENARIOS = {
    "usage-table": ["usage", "--start", "2026-01-01", "--end", "2026-03-31"],
    "usage-csv": [
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        "--format",
        "csv",
        "--output",
        "{tmp}/u.csv",
    ],
    "usage-json": [
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        "--format",
        "json",
        "--output",
        "{tmp}/u.json",
    ],
    "usage-parquet": [
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        "--format",
        "parquet",
        "--output",
        "{tmp}/u.parquet",
    ],
    "usage-focus": [
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        "--format",
        "focus",
        "--output",
        "{tmp}/f.csv",
    ],
    "usage-xlsx": [
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        "--format",
        "xlsx",
        "--output",
        "{tmp}/u.xlsx",
    ],
    "report": [
        "report",
        "--month",
        "2026-05",
        "--history",
        "2",
        "--xlsx",
        "{tmp}/r.xlsx",
        "--pdf",
        "{tmp}/r.pdf",
    ],
    "email-dry-run": [
        "email",
        "--month",
        "2026-05",
        "--history",
        "2",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-user",
        "finance",
        "--dry-run",
        "{tmp}/m.eml",
    ],
    "email-send": [
        "email",
        "--month",
        "2026-05",
        "--history",
        "2",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        "{port}",
        "--smtp-security",
        "none",
        "--smtp-user",
        "finance",
    ],
}


@pytest.mark.parametrize("fault", [None, "500", "echo_token_401", "html502"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_canaries_never_leak(token_env, smtp_server, tmp_path, isolated_env, name, fault):
    if fault:
        token_env.fail(fault, times=-1 if fault != "html502" else 1)
    args = [
        a.replace("{tmp}", str(tmp_path)).replace("{port}", str(smtp_server.port))
        for a in SCENARIOS[name]
    ]
    out = run_cli(
        *args, "-vv", env={"GENERECT_SMTP_PASSWORD": SMTP_CANARY, "GENERECT_API_MAX_ATTEMPTS": "2"}
    )
    expected = {None: 0, "html502": 0, "500": 4, "echo_token_401": 3}[fault]
    assert out.returncode == expected, out.stderr
    assert_clean(out.stdout, out.stderr, *files_under(tmp_path, isolated_env))
    for _, _, raw in smtp_server.messages:
        assert_clean(raw)
    if name == "email-send" and expected == 0:
        assert len(smtp_server.messages) == 1


def test_smtp_failure_does_not_leak_password(smtp_server, tmp_path):
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp_server.port),
        "--smtp-security",
        "none",
        "--smtp-user",
        "finance",
        "-vv",
        env={"GENERECT_SMTP_PASSWORD": SMTP_CANARY + "-wrong"},
    )
    assert out.returncode == 4
    assert_clean(out.stdout, out.stderr)


def test_token_only_in_authorization_header(token_env):
    run_cli("usage", "--start", "2026-01-01", "--end", "2026-01-31", "--period", "week")
    for req in token_env.requests:
        assert TOKEN not in req.path and TOKEN not in str(req.params)
        assert req.authorization == f"Token {TOKEN}"


def test_library_exceptions_and_reprs_are_clean(api):
    import generect_reports as g

    c = g.GenerectClient(TOKEN, api.url, sleep=lambda s: None, max_attempts=2)
    api.fail("echo_token_401")
    with pytest.raises(g.AuthenticationError) as info:
        g.fetch_usage("2026-01-01", "2026-01-02", client=c, cache=False)
    assert_clean(str(info.value), repr(info.value), repr(c), str(info.value.detail))
