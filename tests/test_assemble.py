"""reports.assemble: the complete models the CLI, the notebooks and the dashboard render."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from generect_reports.analysis.budget import Budgets
from generect_reports.errors import ConfigError, InputError
from generect_reports.fetch import plan as FP
from generect_reports.fetch.source import open_source
from generect_reports.periods import Month
from generect_reports.reports import assemble as R
from generect_reports.reports.monthly import DEFAULT_HISTORY, build_report


@pytest.fixture(scope="module")
def source():
    return open_source(sample=True)


def test_the_default_history_is_the_reports():
    assert R.ReportSettings().history == R.DEFAULT_HISTORY == DEFAULT_HISTORY


@pytest.mark.parametrize(
    "kwargs",
    [{"history": 0}, {"history": R.MAX_HISTORY + 1}, {"history": 2.5}, {"failed_threshold": 2}],
)
def test_settings_refuse_what_no_report_can_be(kwargs):
    with pytest.raises(InputError):
        R.ReportSettings(**kwargs)


def test_settings_parse_a_budget_table_once():
    settings = R.ReportSettings(budgets={"monthly_credits": 1000})
    assert settings.budgets == Budgets(monthly_credits=1000.0)
    with pytest.raises(ConfigError):
        R.ReportSettings(budgets={"montly_credits": 1000})


def test_the_monthly_report_is_build_report_with_its_sections(source):
    rep = R.monthly_report(source, None)
    assert rep.month == "2026-10" and rep.complete and rep.history == DEFAULT_HISTORY
    planned = source.report_usage(Month(2026, 10), DEFAULT_HISTORY)
    bare = build_report(planned.daily, "2026-10", monthly=planned.monthly)
    assert rep.checksum == bare.checksum and rep.narrative == bare.narrative
    pd.testing.assert_frame_equal(rep.operations, bare.operations)
    # The sample answers locally, so every section is on by default.
    sections = rep.sections
    assert sections.budget is not None and sections.burnup is not None
    assert sections.reconciliation is not None and sections.reconciliation.month == "2026-10"
    assert sections.allocation is not None and sections.allocation.month == "2026-10"
    assert not bare.sections  # build_report alone has none: the assembly adds them, once


def test_sections_follow_the_settings(source):
    rep = R.monthly_report(source, "2026-09", R.ReportSettings(reconcile=False, chargeback=False))
    assert rep.sections.budget is not None
    assert rep.sections.reconciliation is None and rep.sections.allocation is None


def test_a_look_back_sees_only_the_days_complete_then(source):
    settings = R.ReportSettings(as_of="2026-10-15 09:00")
    rep = R.monthly_report(source, None, settings)
    assert rep.month == "2026-09"  # the last full month as of then
    rep = R.monthly_report(source, "2026-10", settings)
    assert not rep.complete and rep.elapsed_days == 14 and rep.projection is not None
    assert rep.as_of == pd.Timestamp("2026-10-15 09:00", tz="Europe/Kyiv")
    # The ledger and the token analytics describe the present: left out unless asked for.
    assert rep.sections.reconciliation is None and rep.sections.allocation is None
    budget = rep.sections.budget
    assert budget is not None and budget.attrs["balance"] is None  # today's balance is not then's


def test_the_quarter_report_from_its_plan_equals_the_one_from_every_day(source):
    from generect_reports.reports.quarterly import build_quarter_report

    got = R.quarter_report(source, "2026-Q3")
    every_day = build_quarter_report(source.usage("2025-01-01", "2026-10-31"), "2026-Q3")
    pd.testing.assert_frame_equal(got.report.comparison, every_day.comparison)
    assert got.report.total == every_day.total and got.report.complete
    assert set(got.colors) == set(got.report.by_month["operation"])


def test_reconciliation_and_chargeback_of_the_sample(source):
    tied = R.reconciliation(source, "2026-10")
    assert tied.result.month == "2026-10" and tied.result.restatements == []
    assert len(tied.ledger) and tied.ledger is tied.inputs.ledger
    with pytest.raises(InputError, match="needs the API and the cache"):
        R.reconciliation(source, "2026-10", refresh=True)
    split = R.chargeback(source, Month(2026, 10))
    assert split.complete and split.allocation.month == "2026-10"
    assert not R.chargeback(source, "2026-10", R.ReportSettings()).allocation.customers.empty


def test_account_status_of_the_sample(source):
    status = R.account_status(source, fail_at=100)
    assert status.today.isoformat() == "2026-11-01" and status.account.balance == 93862.27
    assert status.frame.attrs["month"] == "2026-11"
    assert [c.level for c in status.checks] == ["fail"] and status.failed == status.checks


def test_the_monthly_report_asks_the_api_its_plan_and_me_once(token_env):
    with open_source(sample=False, timezone="UTC", progress=False) as api_source:
        rep = R.monthly_report(api_source, "2026-05", R.ReportSettings(history=12))
        plan = FP.report_plan("2026-05", 12, today=api_source.today())
    assert rep.sections.budget is not None and rep.sections.reconciliation is None
    assert len(token_env.usage_requests()) == len(plan.requests) == 72
    assert [r.path for r in token_env.requests].count("/api/v1/accounts/me/") == 1
    assert dataclasses.replace(rep).sections is rep.sections
