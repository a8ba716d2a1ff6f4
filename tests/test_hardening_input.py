"""Input normalised once, at the boundary: every config value and every template value is
checked for type and range where it is read (exit 2 naming the key), never in a renderer."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakeapi import TOKEN
from support import run_cli

from generect_reports.errors import TemplateError
from generect_reports.theme import bundled_template_dir, load_theme


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, key, problem",
    [
        # the examples
        ("[report]\nhistory = [1, 2]\n", "[report] history", "single value"),
        ("[email]\nsmtp_port = [25]\n", "[email] smtp_port", "single value"),
        ("[report]\nreconcile = [true]\n", "[report] reconcile", "single value"),
        ("[email]\nmax_attachment_mb = [1]\n", "[email] max_attachment_mb", "single value"),
        ("[email]\nmax_attachment_mb = nan\n", "[email] max_attachment_mb", "finite"),
        ("[email]\nmax_attachment_mb = inf\n", "[email] max_attachment_mb", "finite"),
        # variants: the wrong scalar type, a boolean for a count, a table for a value
        ("[report]\nhistory = true\n", "[report] history", "not be true or false"),
        ("[report]\nhistory = 2.5\n", "[report] history", "whole number"),
        ("[report]\nreconcile = 3\n", "[report] reconcile", "true or false"),
        ("[report]\nreconcile = 'yes'\n", "[report] reconcile", "true or false"),
        ("[email]\nsmtp_port = 'x'\n", "[email] smtp_port", "whole number"),
        ("[email]\nsmtp_host = 25\n", "[email] smtp_host", "string"),
        ("[email]\nsmtp_host = {a = 1}\n", "[email] smtp_host", "single value"),
        ("[email]\nto = [1]\n", "[email] to", "string"),
        # values of the right type but out of range are refused by the option's own check
        ("[email]\nsmtp_security = 'tls13'\n", "smtp-security", "tls13"),
        ("[report]\nhistory = 0\n", "history", "at least 1"),
    ],
)
def test_a_config_value_of_the_wrong_type_or_range_is_exit_2_naming_the_key(
    tmp_path, text, key, problem
):
    out = run_cli(
        "email",
        "--sample",
        "--month",
        "2026-03",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        str(tmp_path / "m.eml"),
        "--config",
        _config(tmp_path, text),
    )
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert key in line and problem in line, line
    assert not (tmp_path / "m.eml").exists()


def test_good_config_values_still_fill_the_defaults(tmp_path):
    text = (
        "[report]\nhistory = 3\nreconcile = false\n"
        "[email]\nto = ['a@example.com', 'b@example.com']\nmax_attachment_mb = 25\n"
    )
    out = run_cli(
        "email",
        "--sample",
        "--month",
        "2026-03",
        "--from",
        "r@example.com",
        "--dry-run",
        str(tmp_path / "m.eml"),
        "--config",
        _config(tmp_path, text),
    )
    assert out.returncode == 0, out.stderr
    assert b"a@example.com, b@example.com" in (tmp_path / "m.eml").read_bytes()


@pytest.mark.parametrize("value", ["1e308", "1e7", "-1", "nan"])
def test_max_attachment_out_of_range_on_the_command_line_is_exit_2(tmp_path, value):
    out = run_cli(
        "email",
        "--sample",
        "--to",
        "a@example.com",
        "--from",
        "r@example.com",
        "--dry-run",
        str(tmp_path / "m.eml"),
        "--max-attachment-mb",
        value,
    )
    assert out.returncode == 2 and "--max-attachment-mb" in out.stderr, out.stderr


# --- template values ------------------------------------------------------------------------


def _template(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "tpl"
    shutil.copytree(bundled_template_dir(), folder)
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    "file, old, new, key",
    [
        ("theme.toml", 'primary = "1F3A5F"', 'primary = "zz"', "colors.primary"),
        ("theme.toml", 'primary = "1F3A5F"', "primary = 12", "colors.primary"),
        ("theme.toml", 'primary = "1F3A5F"', 'primary = "#1F3A5F"', "colors.primary"),
        ("theme.toml", 'grid = "D1D5DB"', 'grid = "D1D5DBX"', "colors.grid"),
        ("theme.toml", 'palette = ["1F77B4",', 'palette = ["GG77B4",', "colors.palette entry 1"),
        ("theme.toml", "palette = [", "palette = [1, ", "colors.palette entry 1"),
        (
            "theme.toml",
            'search_database = "1F77B4"',
            "search_database = true",
            "colors.operations.search_database",
        ),
        ("theme.toml", "size = 10", "size = nan", "fonts.size"),
        ("theme.toml", "size = 10", "size = inf", "fonts.size"),
        ("theme.toml", "size = 10", "size = 1e308", "fonts.size"),
        ("theme.toml", "size = 10", 'size = "big"', "fonts.size"),
        ("theme.toml", "title_size = 16", "title_size = 0", "fonts.title_size"),
        ("theme.toml", 'family = "DejaVu Sans"', "family = 3", "fonts.family"),
        ("theme.toml", 'credits = "#,##0.00"', "credits = 2", "formats.credits"),
        ("theme.toml", 'title = "Generect credit usage"', "title = [1]", "text.title"),
        ("prices.toml", "search_database = 0.02", "search_database = 1e308", "search_database"),
        ("prices.toml", "search_database = 0.02", "search_database = nan", "search_database"),
        ("prices.toml", "tier_multiplier = 1.0", "tier_multiplier = 1e17", "tier_multiplier"),
    ],
)
def test_a_template_value_of_the_wrong_type_or_range_is_exit_2_naming_the_key(
    tmp_path, file, old, new, key
):
    folder = _template(tmp_path, file, old, new)
    with pytest.raises(TemplateError, match=key.replace(".", r"\.")):
        load_theme(folder)
    out = run_cli(
        "report",
        "--sample",
        "--month",
        "2026-03",
        "--template",
        str(folder),
        "--xlsx",
        str(tmp_path / "r.xlsx"),
    )
    assert out.returncode == 2, out.stderr
    assert key in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "r.xlsx").exists()


def test_the_bundled_theme_passes_its_own_checks():
    theme = load_theme()
    assert theme.colors["primary"] == "1F3A5F" and theme.fonts["size"] == 10


# --- answers out of range or not text ---------------------------------------------------------


def _usage_body(total: str, breakdown: str) -> bytes:
    return (
        b'{"data": {"period": "2026-01-02", "total_credits": '
        + total.encode()
        + b', "breakdown": '
        + breakdown.encode("utf-8", "surrogatepass")
        + b"}}"
    )


@pytest.mark.parametrize(
    "body, reason",
    [
        # the examples: a count past 2^63, credits near 1e17 and 1e308, a Latin-1 name
        (_usage_body("9223372036854775808", '{"search": 9223372036854775808}'), "out of range"),
        (_usage_body("1e17", '{"search": 1e17}'), "out of range"),
        (_usage_body("1e308", '{"search": 1e308}'), "out of range"),
        (_usage_body("1e400", '{"search": 1}'), "out of range"),
        (_usage_body("5", '{"search": 5}').replace(b"search", b"caf\xe9"), "utf-8"),
        # variants: 2^53 + 1, a negative giant, a credit just past 1e12, a bad byte in a key
        # nobody reads, a lone surrogate escaped in a key and in a value no parser reads
        (_usage_body("9007199254740993", '{"search": 9007199254740993}'), "out of range"),
        (_usage_body("5", '{"search": 5, "x": -1e13}'), "out of range"),
        (_usage_body("1000000000000.5", '{"search": 1000000000000.5}'), "out of range"),
        (_usage_body("5", '{"search": 5}').replace(b'"period"', b'"p\xff"'), "utf-8"),
        (_usage_body("5", '{"search": 5}').replace(b"}}", b', "note": "\\udc00"}}'), "surrogate"),
        (_usage_body("5", '{"\\ud800x": 5}'), "surrogate"),
    ],
)
def test_an_answer_out_of_range_or_not_utf8_is_malformed_and_not_cached(api, body, reason):
    api.fail("raw", times=-1, arg=body, when=lambda p: p["start_date"] == "2026-01-02")
    args = ("usage", "--start", "2026-01-01", "--end", "2026-01-03", "--format", "csv")
    env = {"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url}
    out = run_cli(*args, env={**env, "GENERECT_API_MAX_ATTEMPTS": "1"})
    assert out.returncode == 4, out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and "malformed" in line and reason in line.lower(), line
    assert "period 2026-01-02" in line
    api.faults.clear()  # the server is fixed: the answer was not cached, the real one is used
    out = run_cli(*args, env=env)
    assert out.returncode == 0 and "2026-01-02" in out.stdout, out.stderr


def test_answers_within_range_are_kept_exactly(api):
    body = _usage_body("1000000000000", '{"search": 999999999999.5, "café": 0.5}')
    api.fail("raw", times=-1, arg=body, when=lambda p: p["start_date"] == "2026-01-02")
    out = run_cli(
        "usage",
        "--start",
        "2026-01-02",
        "--end",
        "2026-01-02",
        "--format",
        "json",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url},
    )
    assert out.returncode == 0, out.stderr
    assert "café" in out.stdout and "999999999999.5" in out.stdout


# --- a locale that is not UTF-8 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "locale_env",
    [
        {"LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "", "PYTHONUTF8": "0"},
        {"PYTHONIOENCODING": "ascii"},
        {"PYTHONIOENCODING": "iso-8859-1"},
    ],
    ids=["LC_ALL=C", "ascii", "latin-1"],
)
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_stdout_in_a_locale_that_is_not_utf8_escapes_what_it_cannot_encode(api, locale_env, fmt):
    """The issue's example: a Cyrillic operation name in an ISO-8859-1 locale exited 1 with a
    UnicodeEncodeError for every stdout format."""
    api.daily.clear()
    api.daily[dt.date(2026, 4, 1)] = {"звіт_пошук": 3.0, "café": 2.0}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "generect_reports",
            "usage",
            "--start",
            "2026-04-01",
            "--end",
            "2026-04-01",
            "--format",
            fmt,
        ],
        capture_output=True,
        env={
            **os.environ,
            "GENERECT_API_TOKEN": TOKEN,
            "GENERECT_API_URL": api.url,
            **locale_env,
        },
    )
    assert out.returncode == 0, out.stderr
    # Written in the stream's encoding, what that cannot hold as escapes: the name is never
    # lost or replaced by "?". (Python speaks UTF-8 in the C locale, and click writes UTF-8 to
    # a stream that claims ASCII.)
    encoding = "latin-1" if locale_env.get("PYTHONIOENCODING") == "iso-8859-1" else "utf-8"
    text = out.stdout.decode(encoding)
    assert "звіт" in text or "\\u0437\\u0432\\u0456\\u0442" in text, text
    assert "?" not in text and b"Traceback" not in out.stderr


# --- dates past year 9999 ---------------------------------------------------------------------


@pytest.mark.parametrize("balance", [9e11, 4e5])  # 9e13 days, and 4e7 days (year ~111,000)
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_an_idle_account_with_a_large_balance_runs_out_beyond_9999(api, balance, fmt):
    """The issue's example: `status` exited 1 once the runway passed year 9999."""
    import json

    api.daily.clear()
    for day in range(1, 31):
        api.daily[dt.date(2026, 11, day)] = {"search_database": 0.01}
    api.me.update(balance=balance, monthly_limit=None, used_this_month=0.3)
    args = ["status", "--format", fmt, "--min-runway-days", "1e15"]
    out = run_cli(*args, env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url})
    assert out.returncode == 5, out.stderr  # the runway is below 1e15 days: a failed check
    days = balance / 0.01
    if fmt == "json":
        doc = json.loads(out.stdout)
        assert doc["run_out_date"] is None and doc["runway_days"] == days
    else:
        assert "(runs out beyond 9999)" in out.stdout
    assert "runs out beyond 9999) is below --min-runway-days" in out.stderr


# --- server text on a terminal --------------------------------------------------------------

#: A title change, a clear screen, a bell, the C1 CSI, a bidi override and a line feed.
HOSTILE = "Pro\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\nnext"


def _no_controls(text: str) -> bool:
    return not any(c in text for c in "\x1b\x07\x9b\u202e")


def test_an_error_detail_cannot_drive_the_terminal(api):
    api.fail("detail", times=-1, arg=HOSTILE)
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-01",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url},
    )
    assert out.returncode == 4, out.stderr
    assert _no_controls(out.stderr) and len(out.stderr.strip().splitlines()) == 1
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out.stderr and "\\u202eevil\\x0anext" in out.stderr


@pytest.mark.parametrize("detail", [{"start_date": [HOSTILE]}, {HOSTILE: ["bad"]}])
def test_a_field_map_detail_cannot_drive_the_terminal(api, detail):
    api.fail("detail", times=-1, arg=detail)
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-01",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url},
    )
    assert out.returncode == 4 and _no_controls(out.stderr), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_plan_name_cannot_drive_the_terminal_in_the_table_or_the_log(api):
    api.me["plan"] = HOSTILE
    out = run_cli(
        "status",
        "-v",
        env={"GENERECT_API_TOKEN": TOKEN, "GENERECT_API_URL": api.url},
    )
    assert out.returncode == 0, out.stderr
    assert _no_controls(out.stdout) and _no_controls(out.stderr)
    assert "Pro\\x1b]0;pwned" in out.stdout and "Pro\\x1b]0;pwned" in out.stderr


def test_terminal_text_escapes_every_control_and_keeps_every_script():
    from generect_reports._text import terminal_text

    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x200B, 0x2028, 0xFFFE]:
        shown = terminal_text(f"a{chr(code)}b")
        assert shown.isprintable() and shown.startswith("a\\") and shown.endswith("b")
    assert terminal_text("звіт 報告 café \\ ok") == "звіт 報告 café \\ ok"
    assert terminal_text("line\nline", keep_lines=True) == "line\nline"
    assert terminal_text("line\nline") == "line\\x0aline"
