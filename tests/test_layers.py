"""The source is chosen in one place and the sample is one moment: read from the package's own
source code (imports and branches) and from what the commands print."""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

import generect_reports
from generect_reports.cli import cli

PACKAGE = Path(generect_reports.__file__).resolve().parent
#: The names that load data from the sample or the API: only the fetch layer touches them.
LOADERS = {
    "load_sample",
    "load_sample_plan_usage",
    "load_sample_report_usage",
    "load_sample_ledger",
    "load_sample_account",
    "load_sample_tokens",
    "sample_limit_history",
    "sample_as_of",
    "SampleLedgerSource",
    "SampleUsageData",
    "SampleSource",
    "ApiSource",
    "GenerectClient",
    "fetch_usage",
    "fetch_plan_usage",
    "fetch_report_usage",
    "fetch_account",
    "fetch_token_usage",
    "fetch_transactions",
    "ledger_for_month",
}
#: Names whose value says "sample or API".
CHOICE_FLAGS = {"sample", "use_live_api", "live"}


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE.parent)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _imports(tree: ast.Module, module: str) -> list[tuple[str, str]]:
    """``(absolute module, name)`` of every ``from … import name`` in ``tree``."""
    # The package a relative import starts from: the module's folder (for __init__, its own).
    package = module.removesuffix(".py").split("/")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            where = ".".join([*base, node.module or ""]).strip(".")
            out += [(where, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
    return out


def _flag_tests(tree: ast.Module) -> list[int]:
    """Lines of branches (if, conditional expressions, and/or) that read a sample/API flag."""
    lines = []
    for node in ast.walk(tree):
        tests = []
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            tests.append(node.test)
        elif isinstance(node, ast.BoolOp):
            tests.extend(node.values)
        for test in tests:
            names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
            names |= {n.attr for n in ast.walk(test) if isinstance(n, ast.Attribute)}
            if names & CHOICE_FLAGS:
                lines.append(test.lineno)
    return lines


def test_only_open_source_branches_on_the_sample_flag():
    found = {
        module: lines
        for module, tree in _modules().items()
        if (lines := _flag_tests(tree)) and module != "generect_reports/fetch/source.py"
    }
    assert found == {}
    assert _flag_tests(_modules()["generect_reports/fetch/source.py"])  # it does choose


def test_loaders_are_reached_only_through_a_source():
    outside = {
        (module, name)
        for module, tree in _modules().items()
        if not module.startswith("generect_reports/fetch/")
        and module != "generect_reports/__init__.py"  # the public face's lazy names
        for where, name in _imports(tree, module)
        if name in LOADERS
    }
    assert outside == set()


def test_fetch_never_imports_analysis_nor_anything_above_it():
    above = ("analysis", "reports", "outputs", "notebook", "cli")
    wrong = {
        (module, where)
        for module, tree in _modules().items()
        if module.startswith("generect_reports/fetch/")
        for where, _ in _imports(tree, module)
        if where.split(".")[:2] in [["generect_reports", layer] for layer in above]
    }
    assert wrong == set()


def test_analysis_is_pure_it_imports_no_fetch_theme_nor_anything_above_it():
    # The analysis works on frames and dataclasses it is given: no source, no look, no output.
    banned = ("fetch", "theme", "reports", "render", "deliver", "notebook", "cli")
    wrong = {
        (module, where)
        for module, tree in _modules().items()
        if module.startswith("generect_reports/analysis/")
        for where, _ in _imports(tree, module)
        if where.split(".")[:2] in [["generect_reports", layer] for layer in banned]
    }
    assert wrong == set()


def test_reports_build_models_they_import_nothing_that_renders_or_delivers():
    # A report says what a document shows; how it is drawn or sent sits above it.
    banned = ("render", "deliver", "notebook", "cli")
    wrong = {
        (module, where)
        for module, tree in _modules().items()
        if module.startswith("generect_reports/reports/")
        for where, _ in _imports(tree, module)
        if where.split(".")[:2] in [["generect_reports", layer] for layer in banned]
    }
    assert wrong == set()


def test_the_command_line_and_the_notebooks_ask_the_source_seam_only():
    for module, tree in _modules().items():
        if module.startswith(("generect_reports/cli/", "generect_reports/notebook/")):
            fetched = {
                w for w, _ in _imports(tree, module) if w.startswith("generect_reports.fetch")
            }
            assert fetched <= {"generect_reports.fetch.source"}, (module, fetched)


# --- the sample is one moment, whichever command looks at it ------------------------------------


def test_every_command_sees_the_samples_one_instant(tmp_path):
    from generect_reports.fetch.source import open_source

    now = open_source(sample=True).now()
    assert now == pd.Timestamp("2026-11-01T00:00:00+02:00")
    runner = CliRunner()

    status = runner.invoke(cli, ["status", "--sample", "--format", "json"])
    assert status.exit_code == 0, status.output
    status_doc = json.loads(status.stdout)
    assert pd.Timestamp(status_doc["account"]["fetched_at"]) == now
    assert status_doc["start"] == "2026-11-01"  # the month that instant is in

    tied = runner.invoke(cli, ["reconcile", "--sample", "--month", "2026-10", "--format", "json"])
    assert tied.exit_code == 0, tied.output
    assert pd.Timestamp(json.loads(tied.stdout)["reconciliation"]["anchor_at"]) == now
    # ... and the balance /me/ had then is the status's balance
    anchor = json.loads(tied.stdout)["reconciliation"]["anchor_balance"]
    assert anchor == status_doc["account"]["balance"]

    split = runner.invoke(cli, ["chargeback", "--sample", "--month", "2026-10", "--format", "json"])
    assert split.exit_code == 0 and json.loads(split.stdout)["complete"] is True

    usage = runner.invoke(
        cli,
        ["usage", "--sample", "--start", "2026-10-30", "--end", "2026-11-05", "--format", "csv"],
    )
    assert (
        usage.exit_code == 0 and "2026-10-31" in usage.stdout and "2026-11-01" not in usage.stdout
    )

    target = tmp_path / "r.xlsx"
    report = runner.invoke(cli, ["report", "--sample", "--quiet", "--xlsx", str(target)])
    assert report.exit_code == 0, report.output
    with zipfile.ZipFile(target) as book:
        core = book.read("docProps/core.xml").decode()
    created = core.split("<dcterms:created", 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert pd.Timestamp(created) == now  # the report's as-of time
