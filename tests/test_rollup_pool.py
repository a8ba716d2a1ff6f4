"""The roll-up's reports built in worker processes: the same figures as in one process, one
failing account still never sinks the others, a killed worker costs nothing but time.

The accounts' servers run in a process of their own (as in the benchmark): a process serving
them on its own threads could not fork its workers safely, and builds every report itself."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

from generect_reports.accounts import AccountSpec
from generect_reports.fetch.multi import open_accounts
from generect_reports.reports.assemble import ReportSettings, monthly_report
from generect_reports.reports.rollup import rollup_report
from generect_reports.reports.rollup_pool import (
    MAX_REPORT_WORKERS,
    PARALLEL_MIN_ACCOUNTS,
    ReportPool,
    report_workers,
)

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
from fleetapi import OPS, Fleet  # noqa: E402

ACCOUNTS = PARALLEL_MIN_ACCOUNTS
MONTH = "2026-10"
SETTINGS = ReportSettings(history=6)


@pytest.fixture(scope="module")
def servers():
    with Fleet(ACCOUNTS, latency=0.0, rate=None) as fleet:
        yield fleet


def _open(fleet: Fleet, *, wrong: int | None = None):
    specs, environ = [], {}
    for k, (url, token) in enumerate(fleet.accounts):
        specs.append(AccountSpec(name=f"acct{k}", token_env=f"T_{k}", api_url=url))
        environ[f"T_{k}"] = "not-the-token" if k == wrong else token
    return open_accounts(specs, timezone="UTC", environ=environ)


def _same(left, right, *, but: tuple[str, ...] = ()) -> None:
    """Every field of two reports equal (frames cell by cell, NaN equal to NaN) but ``but``."""
    for f in dataclasses.fields(left):
        if f.name in but:
            continue
        a, b = getattr(left, f.name), getattr(right, f.name)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        elif dataclasses.is_dataclass(a) and not isinstance(a, type):
            _same(a, b)
        elif isinstance(a, float) and math.isnan(a):
            assert isinstance(b, float) and math.isnan(b), f.name
        else:
            assert a == b, f.name


def test_workers_are_one_per_core_for_many_accounts_and_bounded():
    assert report_workers(ACCOUNTS - 1, cores=4) == 0  # too few accounts to be worth a fork
    assert report_workers(200, cores=1) == 0
    assert report_workers(200, cores=2) == 2
    assert report_workers(ACCOUNTS, cores=64) == min(ACCOUNTS, MAX_REPORT_WORKERS)
    assert report_workers(200, cores=64) == MAX_REPORT_WORKERS


def test_the_rollup_built_in_workers_equals_the_one_built_here(servers, forkable, monkeypatch):
    with ReportPool(2) as pool:
        assert pool.workers == 2  # this process can fork: the roll-up below uses workers
    with _open(servers) as multi:
        forked = rollup_report(multi, MONTH, lambda _: SETTINGS)
    monkeypatch.setenv("GENERECT_REPORTS_NO_FORK", "1")
    with ReportPool(2) as pool:
        assert pool.workers == 0
    with _open(servers) as multi:
        here = rollup_report(multi, MONTH, lambda _: SETTINGS)
    assert forked.complete and here.complete
    for name in ("accounts", "operations", "trend"):
        pd.testing.assert_frame_equal(getattr(forked, name), getattr(here, name), check_exact=True)
    assert (forked.total, forked.cost) == (here.total, here.cost)
    assert list(forked.reports) == list(here.reports) == [f"acct{k}" for k in range(ACCOUNTS)]
    for name in here.reports:
        # Fetched a few seconds apart: when the data was read is all that differs.
        _same(forked.reports[name], here.reports[name], but=("as_of",))
    # Every account's figure is its own: 31 days of its scaled operations.
    credits = dict(zip(forked.accounts["account"], forked.accounts["credits"]))
    assert [credits[f"acct{k}"] for k in range(ACCOUNTS)] == [
        round(31 * sum(OPS.values()) * (1 + k % 17), 2) for k in range(ACCOUNTS)
    ]


def test_a_failing_account_among_workers_is_listed_and_the_others_complete(servers, forkable):
    with _open(servers, wrong=3) as multi:
        rep = rollup_report(multi, MONTH, lambda _: SETTINGS)
    assert not rep.complete
    assert [(f["account"], f["exit_code"]) for f in rep.failed] == [("acct3", 3)]
    assert "acct3" not in rep.reports and len(rep.reports) == ACCOUNTS - 1
    assert "partial: 1 of 8 accounts failed" in rep.title


def test_a_killed_worker_leaves_the_report_built_here(servers, forkable):
    with _open(servers) as multi:
        source = multi.sources["acct5"]
        expected = monthly_report(source, MONTH, SETTINGS)
        with ReportPool(2) as pool:
            assert pool.workers == 2
            for pid in list(pool._pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            got = pool.report(source, MONTH, SETTINGS)
    _same(got, expected, but=("as_of",))  # read a moment apart


def test_report_all_accounts_builds_in_workers_and_adds_up_to_the_packs(servers, tmp_path):
    import openpyxl
    from support import run_cli

    lines, env = [], {"GENERECT_REPORTS_CACHE_DIR": str(tmp_path / "cache")}
    for k, (url, token) in enumerate(servers.accounts):
        lines.append(f'[accounts.acct{k}]\ntoken_env = "T_{k}"\napi_url = "{url}"\n')
        env[f"T_{k}"] = token
    config = tmp_path / "accounts.toml"
    config.write_text("\n".join(lines))
    out = run_cli(
        *("report", "--config", str(config), "--all-accounts", "--month", MONTH),
        *("--history", "6", "--xlsx", str(tmp_path / "roll.xlsx"), "-v"),
        *("--each", str(tmp_path / "packs")),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    workers = report_workers(ACCOUNTS)  # one per core: 2 on the machines this runs on
    said = f"building the accounts' reports in {workers} worker processes" in out.stderr
    assert said == (workers > 0)
    sheet = openpyxl.load_workbook(tmp_path / "roll.xlsx", data_only=True)["Accounts"]
    rows = {sheet.cell(r, 1).value: sheet.cell(r, 3).value for r in range(6, 6 + ACCOUNTS)}
    assert rows == {
        f"acct{k}": round(31 * sum(OPS.values()) * (1 + k % 17), 2) for k in range(ACCOUNTS)
    }
    assert sheet.cell(6 + ACCOUNTS, 3).value == sum(rows.values())
    for name, credits in rows.items():
        pack = openpyxl.load_workbook(
            tmp_path / "packs" / name / "generect-usage-2026-10.xlsx", data_only=True
        )
        summary = [v for row in pack["Summary"].iter_rows(values_only=True) for v in row]
        assert credits in summary  # each account's own pack shows its roll-up figure
