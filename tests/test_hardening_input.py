"""Input normalised once, at the boundary: every config value and every template value is
checked for type and range where it is read (exit 2 naming the key), never in a renderer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
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
