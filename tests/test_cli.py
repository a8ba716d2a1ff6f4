"""The CLI as users run it: real subprocesses against the local API server, exit codes, output."""

import csv
import io
import json

import pytest
from click.testing import CliRunner
from fakeapi import TOKEN
from support import run_cli

from generect_reports.cli import cli


def test_the_group_has_help():
    top = CliRunner().invoke(cli, ["--help"])
    assert top.exit_code == 0 and "Exit codes" in top.output
    assert all(name in top.output for name in cli.commands)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--sample", "--timezone", "--api-url", "--no-cache", "--config", "--quiet"):
        assert option in result.output, option
    assert len(cli.commands[name].help or "") > 20


def test_every_command_is_in_the_readme_command_table():
    from support import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1].split("\n## ", 1)[0]
    listed = {
        line.split("|")[1].strip().strip("`")
        for line in section.splitlines()
        if line.startswith("| `")
    }
    assert set(cli.commands) <= listed, set(cli.commands) - listed


def test_no_command_takes_more_than_a_dozen_parameters():
    import inspect

    for name, command in cli.commands.items():
        function = inspect.unwrap(command.callback)
        assert len(inspect.signature(function).parameters) <= 12, name


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and "generect-reports" in out.stdout


def test_usage_sample_month_table():
    out = run_cli(
        "usage", "--sample", "--start", "2026-01-01", "--end", "2026-06-30", "--period", "month"
    )
    assert out.returncode == 0, out.stderr
    assert (
        "2026-06" in out.stdout
        and "search_database" in out.stdout
        and "total credits:" in out.stdout
    )


def test_usage_csv_columns_exact():
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-31",
        "--period",
        "week",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["period_start", "period", "operation", "credits"]
    assert (
        rows[0]["period_start"] == "2026-05-01T00:00:00+03:00" and rows[0]["period"] == "2026-W18"
    )


def test_usage_json_against_api(token_env):
    out = run_cli(
        "usage",
        "--start",
        "2026-01-01",
        "--end",
        "2026-06-30",
        "--period",
        "month",
        "--timezone",
        "Europe/Kyiv",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["schema_version"] and doc["timezone"] == "Europe/Kyiv" and doc["source"] == "api"
    records = doc["rows"]
    assert len(records) == 12 and set(records[0]) == {
        "period_start",
        "period",
        "operation",
        "credits",
    }
    assert sum(r["credits"] for r in records) == 181 * 12.5
    assert {r.params["timezone"] for r in token_env.usage_requests()} == {"Europe/Kyiv"}


def test_usage_output_file(tmp_path):
    target = tmp_path / "u.json"
    out = run_cli(
        "usage",
        "--sample",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-02",
        "--format",
        "json",
        "--output",
        str(target),
    )
    assert out.returncode == 0 and out.stdout == ""
    assert len(json.loads(target.read_text())["rows"]) == 16


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--start", "2026-02-30", "--end", "2026-03-01"], "invalid start date"),
        (["--start", "2026-03-02", "--end", "2026-03-01"], "after end date"),
        (
            ["--start", "2026-03-01", "--end", "2026-03-02", "--timezone", "Mars/Base"],
            "unknown timezone",
        ),
        (
            ["--start", "2026-03-01", "--end", "2026-03-02", "--period", "fortnight"],
            "unknown period",
        ),
        (["--start", "2026-03-01", "--end", "2026-03-02", "--format", "xml"], "unknown format"),
        (["--start", "2026-03-01"], "Missing option '--end'"),
    ],
)
def test_bad_input_exit_2_one_line(args, needle):
    out = run_cli("usage", "--sample", *args)
    assert out.returncode == 2
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_missing_token_says_what_to_set():
    out = run_cli("usage", "--start", "2026-03-01", "--end", "2026-03-02")
    assert out.returncode == 2 and "GENERECT_API_TOKEN" in out.stderr


def test_auth_failure_exit_3(api):
    out = run_cli(
        "usage",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-02",
        "--api-url",
        api.url,
        env={"GENERECT_API_TOKEN": "wrong"},
    )
    assert out.returncode == 3 and "HTTP 401" in out.stderr


def test_api_failure_after_retries_exit_4(token_env):
    token_env.fail("500", times=-1)
    out = run_cli("usage", "--start", "2026-03-01", "--end", "2026-03-01", "-v")
    assert out.returncode == 4
    assert "period 2026-03-01" in out.stderr and "gave up after 5 attempts" in out.stderr
    assert TOKEN not in out.stderr + out.stdout


def test_cached_rerun_asks_nothing(token_env):
    args = (
        "usage",
        "--start",
        "2025-01-01",
        "--end",
        "2025-12-31",
        "--period",
        "month",
        "--format",
        "csv",
    )
    first = run_cli(*args)
    n = len(token_env.usage_requests())
    second = run_cli(*args)
    assert first.stdout == second.stdout and n == 12 and len(token_env.usage_requests()) == 12
    run_cli(*args, "--no-cache")
    assert len(token_env.usage_requests()) == 24


def test_python_api_matches_cli(sample):
    import generect_reports

    assert callable(generect_reports.fetch_usage) and "fetch_usage" in generect_reports.__all__
    out = run_cli(
        "usage", "--sample", "--start", "2025-01-01", "--end", "2026-10-31", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == len(sample)
    assert sum(float(r["credits"]) for r in rows) == sample["credits"].sum()


def test_help_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys; from generect_reports.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('pandas','matplotlib','openpyxl','requests') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_installed_package_works_from_another_folder(tmp_path):
    """Sample data and templates ship inside the package (not only in the source tree)."""
    import subprocess
    import sys

    code = (
        "import generect_reports as g, pathlib\n"
        "from generect_reports.render.records.contract import load_schema, schema_names\n"
        "df = g.load_sample(); t = g.load_theme()\n"
        "assert 'usage' in schema_names(), schema_names()\n"
        "assert load_schema('usage')['allOf'][0]['$ref'] == 'envelope.schema.json'\n"
        "assert load_schema('envelope')['properties']['schema_version']\n"
        "print(len(df), sorted(t.prices)[0], pathlib.Path(g.__file__).parent.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows, first_price, package = out.stdout.split()
    assert int(rows) > 5000 and first_price == "email_find" and package == "generect_reports"


# --- formats come from their renderer; values are parsed where they are read ---------------

CHARGEBACK_FORMATS = ("table", "csv", "json", "xlsx")


def test_chargeback_offers_exactly_its_renderers_formats():
    from generect_reports.render.chargeback import CHARGEBACK_FORMATS as renderer_formats
    from generect_reports.render.reconcile import FORMATS as reconcile_formats

    for name, formats in (("chargeback", renderer_formats), ("reconcile", reconcile_formats)):
        option = next(p for p in cli.commands[name].params if p.name == "fmt")
        assert option.type.formats == formats
        assert all(f in option.help for f in formats) and "ndjson" not in option.help
    assert renderer_formats == CHARGEBACK_FORMATS


@pytest.mark.parametrize("fmt", CHARGEBACK_FORMATS)
def test_every_offered_chargeback_format_works(fmt, tmp_path):
    target = tmp_path / f"c.{fmt}"
    args = ["chargeback", "--sample", "--month", "2026-10", "--format", fmt, "-q"]
    result = CliRunner().invoke(cli, [*args, "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0


@pytest.mark.parametrize("fmt", ["ndjson", "parquet", "focus", "xml"])
def test_a_format_chargeback_cannot_render_is_exit_2_before_any_request(token_env, fmt):
    out = run_cli("chargeback", "--month", "2026-10", "--format", fmt)
    assert out.returncode == 2, out.stderr
    assert "unknown format" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "unexpected" not in out.stderr and token_env.requests == []


@pytest.mark.parametrize("command", ["report", "email", "reconcile", "chargeback", "dashboard"])
@pytest.mark.parametrize("month", [" 2026-10", "２０２６-10"])
def test_a_month_is_ascii_yyyy_mm_and_nothing_around_it(token_env, tmp_path, command, month):
    out = run_cli(command, "--month", month, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "invalid month" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert token_env.requests == [] and list(tmp_path.iterdir()) == []
