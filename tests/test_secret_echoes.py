"""A secret the server echoes in a field where none belongs (a customer token in a name, a date
or an endpoint key; the account's token in an operation name) is replaced by its hint before
anything is cached, printed, written or raised."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fakeapi import TOKEN
from support import run_cli
from tokendata import SECRETS, install

ALL_SECRETS = [s.encode() for s in [*SECRETS, TOKEN]]


def _blobs(*folders: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, and each member of a zip (an xlsx) unpacked."""
    out = []
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            out.append((str(path), data))
            if data[:2] == b"PK":
                with zipfile.ZipFile(io.BytesIO(data)) as book:
                    out += [(f"{path}!{n}", book.read(n)) for n in book.namelist()]
    return out


def _assert_clean(out, *folders: Path) -> None:
    for name, data in [("stdout", out.stdout.encode()), ("stderr", out.stderr.encode())] + _blobs(
        *folders
    ):
        for secret in ALL_SECRETS:
            assert secret not in data, f"a token reached {name}"


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "xlsx"])
def test_customer_tokens_echoed_in_other_fields_never_leave(token_env, tmp_path, isolated_env, fmt):
    install(token_env)
    token_env.fail("echo_tokens", times=-1)
    args = ["chargeback", "--month", "2026-10", "--timezone", "Europe/Kyiv", "--format", fmt, "-vv"]
    if fmt == "xlsx":
        args += ["--output", str(tmp_path / "cb.xlsx")]
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    _assert_clean(out, tmp_path, isolated_env)
    # The echoes are still there, as hints: nothing was silently dropped.
    shown = out.stdout if fmt != "xlsx" else ""
    if fmt in ("csv", "json"):
        assert "****" in shown


def test_the_account_token_echoed_in_a_usage_answer_never_leaves(token_env, tmp_path, isolated_env):
    token_env.fail("echo_account_token", times=-1, arg=TOKEN)
    out = run_cli(
        "usage",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-03",
        "--format",
        "json",
        "-vv",
    )
    assert out.returncode == 0, out.stderr
    assert "op-****" in out.stdout
    _assert_clean(out, tmp_path, isolated_env)


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_malformed_response_and_nothing_is_cached(
    token_env, isolated_env, depth
):
    token_env.fail("deep", times=-1, arg=depth)
    out = run_cli(
        "usage",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-01",
        env={"GENERECT_API_MAX_ATTEMPTS": "1"},
    )
    assert out.returncode == 4 and "malformed response" in out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Recursion" not in out.stderr
    import sqlite3

    db = isolated_env / "usage-v1.sqlite3"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM buckets").fetchone()[0] == 0
