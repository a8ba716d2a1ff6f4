"""The account from /me/ (faults included), the month boundary, and the ``status`` command's
output and exit-code contract, against the local API server."""

import calendar
import datetime as dt
import json
import os

import pandas as pd
import pytest
from fakeapi import TOKEN, simple_daily
from support import run_cli

from generect_reports.analysis.budget import budget_status
from generect_reports.errors import (
    AuthenticationError,
    MalformedResponseError,
    PermissionDeniedError,
    ServerError,
)
from generect_reports.fetch.account import fetch_account, load_sample_account, parse_account
from generect_reports.render.budget import render_status_table

PERSONAL = ("finance@example.com", "Example Ltd")


def test_me_is_parsed_without_personal_data(api, client):
    account = fetch_account(client)
    assert (
        account.plan,
        account.balance,
        account.used_this_month,
        account.monthly_limit,
        account.preview_tier,
    ) == ("Pro", 5000.0, 1234.0, 10000.0, False)
    assert account.api_month == pd.Timestamp.now(tz="UTC").strftime("%Y-%m")
    assert account.label is None
    text = repr(account) + json.dumps(account.to_dict(), default=str)
    assert not any(p in text for p in PERSONAL)
    labelled = fetch_account(client, label=True)
    assert labelled.label == "Example Ltd" and "Example Ltd" not in repr(labelled)


@pytest.mark.parametrize("limit", [None, 0])
def test_missing_or_zero_limit_means_no_limit(api, client, limit):
    api.me["monthly_limit"] = limit
    account = fetch_account(client)
    assert account.monthly_limit is None and account.limit_share is None


def test_me_retries_transient_faults(api, client):
    api.fail("429", times=1)
    api.fail("500", times=1)
    assert fetch_account(client).plan == "Pro"
    assert len(client.waits) == 2
    assert len([r for r in api.requests if r.path == "/api/v1/accounts/me/"]) == 3


@pytest.mark.parametrize("kind, error", [("503", ServerError), ("403", PermissionDeniedError)])
def test_me_errors(api, client, kind, error):
    api.fail(kind, times=-1)
    with pytest.raises(error):
        fetch_account(client)


def test_me_wrong_token(api):
    from generect_reports import GenerectClient

    with (
        GenerectClient("wrong-token", api.url, sleep=lambda s: None) as c,
        pytest.raises(AuthenticationError),
    ):
        fetch_account(c)


@pytest.mark.parametrize(
    "kind", ["invalid_json", "no_data", "non_numeric", "nan", "credits_list", "total_missing"]
)
def test_me_malformed_bodies(api, client, kind):
    api.fail(kind, times=-1)
    with pytest.raises(MalformedResponseError) as info:
        fetch_account(client)
    assert not any(p in str(info.value) for p in PERSONAL)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"credits": {"balance": 1, "used_this_month": 1}}, "'plan'"),
        ({"plan": "Pro", "credits": {"balance": True, "used_this_month": 1}}, "credits.balance"),
        ({"plan": "Pro", "credits": {"balance": 1, "used_this_month": -1}}, "negative"),
        (
            {"plan": "Pro", "credits": {"balance": 1, "used_this_month": 1, "monthly_limit": -5}},
            "negative",
        ),
        (
            {"plan": "Pro", "credits": {"balance": 1, "used_this_month": 1}, "preview_tier": "yes"},
            "preview_tier",
        ),
    ],
)
def test_account_parser_is_strict(data, fragment):
    data = {**data, "email": "finance@example.com", "name": "Example Ltd"}
    with pytest.raises(MalformedResponseError) as info:
        parse_account(data)
    assert fragment in str(info.value) and not any(p in str(info.value) for p in PERSONAL)


def test_negative_balance_is_kept():
    account = parse_account({"plan": "Pro", "credits": {"balance": -12.5, "used_this_month": 3}})
    assert (
        account.balance == -12.5 and account.monthly_limit is None and account.preview_tier is None
    )


@pytest.mark.parametrize(
    "fetched_at, timezone, local, api_month",
    [
        # 05:00 on 1 December in Kiritimati (UTC+14) is still 30 November in UTC
        ("2026-11-30T15:00:00Z", "Pacific/Kiritimati", "2026-12", "2026-11"),
        # 19:00 on 30 November in Los Angeles is already December in UTC
        ("2026-12-01T03:00:00Z", "America/Los_Angeles", "2026-11", "2026-12"),
    ],
)
def test_month_boundary_in_a_non_utc_timezone(fetched_at, timezone, local, api_month):
    account = parse_account(
        {"plan": "Pro", "credits": {"balance": 100, "used_this_month": 40, "monthly_limit": 1000}},
        fetched_at=fetched_at,
    )
    as_of = account.fetched_at.tz_convert(timezone)
    rows = [(d.date().isoformat(), "a", 1.0) for d in pd.date_range("2026-10-20", as_of.date())]
    from helpers import frame

    usage = frame(rows, tz=timezone)
    status = budget_status(usage, f"{as_of:%Y-%m}", limit=1000, balance=100, as_of=as_of)
    assert status.attrs["month"] == local and account.api_month == api_month
    text = render_status_table(status, account, timezone=timezone)
    assert f"API month {api_month} (UTC), not {local} of {timezone}" in text


def test_status_sample_screen():
    out = run_cli("status", "--sample")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # The sample's one instant: local midnight after its last day, when the month just began
    # in Kyiv and UTC's (the API's) month is still October.
    assert lines[0] == "Generect account status · 2026-11-01 00:00 Europe/Kyiv · sample data"
    assert "plan             Business" in out.stdout
    assert (
        "balance          93,862.27 credits · runway 87.8 days (runs out 2027-01-27; "
        "80% range 2027-01-19 to 2027-01-30)" in out.stdout
    )
    # The sample tops up on the 1st of every month, more than a month's burn.
    assert (
        "with top-ups     34,000 credits every month (detected in the ledger): "
        "the balance never runs out at this burn" in out.stdout
    )
    assert (
        "33,441 credits of 30,000 (111.5%) · API month 2026-10 (UTC), not 2026-11 of Europe/Kyiv"
        in out.stdout
    )
    assert "2026-11 (0 of 30 days complete; projection is an estimate)" in out.stdout
    assert "31,631 projected at month end (80% interval 30,604–34,825)" in out.stdout
    assert (
        "projection: median error 1.8% at day 7, 0.8% at day 14, 0.3% at day 21 over the last "
        "12 month(s); the 80% interval held the actual 86% of the time" in out.stdout
    )
    assert (
        "plan limit  30,000     0    0.0%     31,631  105.4%     2026-11-29  "
        "2026-11-26 to 2026-11-30" in out.stdout
    )
    # The quarter and the fiscal year to their ends, one line each.
    assert (
        "2026-Q4 (quarter, 31 of 92 days): 33,441 used, 99,045 projected by 31 Dec 2026 "
        "(80% interval 97,690–105,003); median error 1.6% halfway in over 6 past quarter(s)"
        in out.stdout
    )
    assert "2026 (fiscal year, 304 of 365 days): 272,328 used" in out.stdout
    assert "error not measured yet (no past fiscal year), so the interval is wide" in out.stdout
    assert out.stderr.startswith("warning: plan limit projected at 105.4%")
    assert len(lines) <= 15  # one screen, the money lines included


def test_status_sample_json_document():
    out = run_cli("status", "--sample", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["command"] == "status" and doc["schema_version"] and doc["source"] == "sample"
    assert (doc["start"], doc["end"], doc["complete"], doc["period"]) == (
        "2026-11-01",
        "2026-11-30",
        False,
        "month",
    )
    assert [r["line"] for r in doc["rows"]] == ["plan limit"]
    assert (
        doc["rows"][0]["crossing_day"] == "2026-11-29" and doc["rows"][0]["projected_over"] is True
    )
    assert doc["account"]["used_this_month_refers_to"] == "2026-10"
    assert doc["account"]["balance"] == 93862.27 and doc["runway_days"] == 87.85
    assert doc["run_out_date"] == "2027-01-27"
    row = doc["rows"][0]
    assert row["interval_80"] == [30603.57, 34824.63] and row["interval_95"] == [28538.33, 36980.46]
    assert row["crossing_range"] == ["2026-11-26", "2026-11-30"]
    projection = doc["projection"]
    assert projection["projected"] == 31631.25 and projection["interval_80"] == row["interval_80"]
    assert projection["accuracy"] == {
        "months": 12,
        "mape_day7": 0.0175,
        "mape_day14": 0.0082,
        "mape_day21": 0.0034,
        "coverage_80": 0.8611,
    }
    assert (projection["history_months"], projection["short_history"]) == (12, False)
    # October's flagged anomaly, shown with and without it.
    assert projection["anomaly_months"] == ["2026-10"]
    assert projection["accuracy_without_anomalies"]["mape_day21"] == 0.002
    assert doc["runway"] == {
        "days": 87.85,
        "run_out_date": "2027-01-27",
        "range_days": [79.79, 90.8],
        "run_out_range": ["2027-01-19", "2027-01-30"],
        "topups": {"every": "month", "credits": 34000.0, "day": 1, "from": "ledger"},
        "with_topups": {"days": None, "unlimited": True, "run_out_date": None},
    }
    assert doc["checks"] == [
        {"level": "warn", "line": "plan limit", "text": doc["checks"][0]["text"]}
    ]


@pytest.mark.parametrize(
    "args, code, named",
    [
        (
            ["--fail-at", "100"],
            5,
            "plan limit projected at 105.4% of 30,000 credits (--fail-at 100%)",
        ),
        (["--fail-at", "105.4"], 5, "--fail-at 105.4%"),
        (["--fail-at", "106"], 0, None),
        (
            ["--min-runway-days", "120"],
            5,
            "balance runway 87.8 days (runs out 2027-01-27) is below --min-runway-days 120",
        ),
        (["--min-runway-days", "20"], 0, None),
        (["--warn-at", "50"], 0, None),
    ],
)
def test_status_exit_codes_on_sample(args, code, named):
    out = run_cli("status", "--sample", *args)
    assert out.returncode == code, out.stderr
    assert "plan limit  30,000" in out.stdout  # the full status is printed either way
    if named:
        assert named in out.stderr and out.stderr.count("error:") == 1


def _current_month_limit(days_in_month: int) -> float:
    return 12.5 * days_in_month


@pytest.fixture
def live(token_env):
    """Usage of 12.5 credits every day around today: the projection is 12.5 × days in month."""
    today = dt.datetime.now(dt.UTC).date()
    token_env.daily = simple_daily(
        today - dt.timedelta(days=70),
        today + dt.timedelta(days=40),
        {"search_database": 10.0, "email_find": 2.5},
    )
    return token_env


def test_fail_at_100_exits_5_exactly_when_the_projection_reaches_the_limit(live):
    today = dt.datetime.now(dt.UTC).date()
    projected = _current_month_limit(calendar.monthrange(today.year, today.month)[1])
    live.me["monthly_limit"] = projected
    at = run_cli("status", "--fail-at", "100")
    assert at.returncode == 5, at.stderr
    assert "plan limit projected at 100.0%" in at.stderr and "plan limit" in at.stdout
    live.me["monthly_limit"] = projected + 0.01
    below = run_cli("status", "--fail-at", "100")
    assert below.returncode == 0, below.stderr
    assert "warning: plan limit projected at 100.0%" in below.stderr
    quiet = run_cli("status", "--fail-at", "100", "--warn-at", "100.1", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_status_against_the_api_without_limit(live):
    live.me["monthly_limit"] = 0
    out = run_cli("status", "--fail-at", "100", "--timezone", "Pacific/Kiritimati")
    assert out.returncode == 0, out.stderr
    assert (
        "(no monthly limit)" in out.stdout and "no plan limit and no [budget] lines" in out.stdout
    )
    assert f"API month {dt.datetime.now(dt.UTC):%Y-%m} (UTC)" in out.stdout


def test_status_budgets_from_config(live, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[budget]\nmonthly_credits = 100\nmonthly_money = 1000\n"
        '[budget.operations]\nemail_find = 20\n[budget.limit_from]\n"2026-01" = 30000\n'
    )
    out = run_cli("status", "--config", str(cfg), "--format", "json", "--fail-at", "100")
    assert out.stdout, out.stderr
    doc = json.loads(out.stdout)
    assert [r["line"] for r in doc["rows"]] == [
        "plan limit",
        "total budget",
        "budget: email_find",
        "money budget",
    ]
    assert out.returncode == 5  # 12.5 a day crosses a 100-credit budget
    assert "total budget projected at" in out.stderr


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[budget]\nmonthly_credits = -1\n", "more than zero"),
        ("[budget]\nmontly_credits = 1\n", "unknown setting 'montly_credits'"),
        ('[notify]\nchannel = "x"\n', "unknown setting 'channel' in [notify]"),
    ],
)
def test_bad_config_exits_2_before_any_request(live, tmp_path, text, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    os.chmod(cfg, 0o600)
    out = run_cli("status", "--config", str(cfg))
    assert out.returncode == 2 and fragment in out.stderr and len(out.stderr.splitlines()) == 1
    assert live.requests == []


@pytest.mark.parametrize("kind, code", [("403", 3), ("invalid_json", 4), ("500", 4)])
def test_status_api_faults(live, kind, code):
    live.fail(kind, times=-1, when=lambda params: not params)  # /me/ only (no query)
    out = run_cli("status", env={"GENERECT_API_MAX_ATTEMPTS": "2"})
    assert out.returncode == code and out.stdout == "" and "/api/v1/accounts/me/" in out.stderr


def test_personal_data_and_token_never_reach_output(live, tmp_path):
    live.me["monthly_limit"] = 100
    target = tmp_path / "status.json"
    out = run_cli("status", "-vv", "--format", "json", "--output", str(target))
    assert out.returncode == 0, out.stderr
    written = target.read_text()
    for text in (out.stdout, out.stderr, written):
        assert TOKEN not in text and not any(p in text for p in PERSONAL)
    assert json.loads(written)["account"]["plan"] == "Pro"


def test_sample_account_is_at_the_samples_instant():
    account = load_sample_account()
    assert account.source == "sample" and account.monthly_limit == 30000
    # The sample's as-of time, local midnight after its last day: still October in UTC.
    assert str(account.fetched_at) == "2026-11-01 00:00:00+02:00" and account.api_month == "2026-10"


def test_status_help_warns_about_ps():
    from click.testing import CliRunner

    from generect_reports.cli import cli

    result = CliRunner().invoke(cli, ["status", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "visible to other users in 'ps'" in text and "GENERECT_NOTIFY_URL" in text
    assert "--fail-at" in text and "--min-runway-days" in text and "--sample" in text


def test_status_bad_options_exit_2():
    for args in (["--format", "csv"], ["--fail-at", "-1"], ["--timezone", "Mars/Base"]):
        out = run_cli("status", "--sample", *args)
        assert out.returncode == 2 and out.stdout == "" and len(out.stderr.splitlines()) == 1, args


def test_status_json_projects_the_quarter_and_the_fiscal_year_with_intervals():
    from generect_reports import load_sample
    from generect_reports.analysis.calendar import FiscalCalendar
    from generect_reports.analysis.forecast import period_forecasts

    out = run_cli("status", "--sample", "--format", "json", "--fiscal-year-start", "4")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["schema_version"] == "1.2" and doc["period_projection_rule"]
    periods = doc["period_projections"]
    assert [(p["period"], p["label"], p["start"], p["end"]) for p in periods] == [
        ("quarter", "FY2027-Q3", "2026-10-01", "2026-12-31"),
        ("fiscal_year", "FY2027", "2026-04-01", "2027-03-31"),
        ("year", "2026", "2026-01-01", "2026-12-31"),
    ]
    usage = load_sample("2024-09-01", "2026-10-31")
    local = usage["period_start"].dt.tz_localize(None)
    # The quarter so far is October; the fiscal year to date runs from April.
    assert periods[0]["used"] == doc["account"]["used_this_month"] == 33441
    assert periods[1]["used"] == usage.loc[local >= "2026-04-01", "credits"].sum()
    assert periods[2]["used"] == usage.loc[local >= "2026-01-01", "credits"].sum()
    for p in periods:
        low80, high80 = p["interval_80"]
        low95, high95 = p["interval_95"]
        assert low95 <= low80 <= p["projected"] <= high80 <= high95
        assert p["used"] <= low80
        assert [a["share_elapsed"] for a in p["accuracy"]["mape_at"]] == [0.25, 0.5, 0.75]
    # Six past quarters stand behind the quarter; one fiscal year (from April 2025), so its
    # interval is the wide band, and says so.
    assert (periods[0]["history_periods"], periods[0]["short_history"]) == (6, False)
    assert (periods[1]["history_periods"], periods[1]["short_history"]) == (1, True)
    # The same figures as the library's, from the same days.
    direct = period_forecasts(
        usage, calendar=FiscalCalendar.create(4), as_of=pd.Timestamp(doc["as_of"])
    )
    assert periods == [p.to_dict() for p in direct]
    # The calendar year is the fiscal year without a fiscal calendar: two periods.
    plain = json.loads(run_cli("status", "--sample", "--format", "json").stdout)
    assert [p["label"] for p in plain["period_projections"]] == ["2026-Q4", "2026"]
    assert plain["period_projections"][1]["projected"] == periods[2]["projected"]


def test_status_fiscal_year_from_the_config_and_a_bad_start_exits_2(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[calendar]\nfiscal_year_start = 7\n")
    out = run_cli("status", "--sample", "--config", str(cfg), "--format", "json")
    assert out.returncode == 0, out.stderr
    labels = [p["label"] for p in json.loads(out.stdout)["period_projections"]]
    assert labels == ["FY2027-Q2", "FY2027", "2026"]
    bad = run_cli("status", "--sample", "--fiscal-year-start", "13")
    assert bad.returncode == 2 and bad.stdout == ""


def test_status_with_configured_topups_and_short_history(live, tmp_path):
    """The API account has 70 days of history: the interval is the wide band, and says so; the
    runway counts the top-ups the config names (the live ledger is not read for them)."""
    live.me.update(monthly_limit=100000, balance=1000)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[budget]\ntopups = {every = "month", credits = 50}\n')
    out = run_cli("status", "--config", str(cfg), "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    projection = doc["projection"]
    assert projection["short_history"] is True and projection["history_months"] <= 2
    low, high = projection["interval_80"]
    assert low < projection["projected"] < high
    assert doc["rows"][0]["interval_95"][0] <= low and doc["rows"][0]["interval_95"][1] >= high
    assert doc["runway"]["topups"] == {
        "every": "month",
        "credits": 50.0,
        "day": 1,
        "from": "[budget] topups",
    }
    # 12.5 a day burns 1,000 in 80 days; 50 a month delays it by a few days only.
    with_topups = doc["runway"]["with_topups"]
    assert doc["runway"]["days"] == 80.0 and 80 < with_topups["days"] < 95
    assert not any(r.path.startswith("/api/v1/accounts/transactions") for r in live.requests)
    # Seventy days: no past quarter or year to measure; their intervals are the wide band.
    for period in doc["period_projections"]:
        assert period["short_history"] is True and period["accuracy"]["periods"] == 0
        assert period["interval_80"][0] <= period["projected"] <= period["interval_80"][1]
    text = run_cli("status", "--config", str(cfg))
    assert "so the interval is wide" in text.stdout
    assert "with top-ups     50 credits every month ([budget] topups): runway" in text.stdout


def test_the_replayed_history_is_read_once_then_from_the_cache(token_env):
    first = run_cli("status", "--format", "json")
    assert first.returncode == 0, first.stderr
    cold = len(token_env.usage_requests())
    # 24 months and 28 days of daily buckets, one request each, the first time only.
    assert cold > 24 * 28
    doc = json.loads(first.stdout)
    assert doc["projection"]["history_months"] == 12
    assert doc["projection"]["accuracy"]["months"] == 12
    again = run_cli("status", "--format", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["projection"] == doc["projection"]
    assert len(token_env.usage_requests()) - cold <= 5  # the days not closed yet


def test_topups_detected_in_the_live_ledger_when_asked(token_env, tmp_path):
    """`topups = "ledger"`: the last three months' ledger shows 400 credits on every 1st."""
    from fakeapi import make_ledger

    today = dt.datetime.now(dt.UTC).date()
    first = (pd.Timestamp(today).to_period("M") - 4).start_time.date()
    token_env.add_transactions(
        make_ledger(first, today - dt.timedelta(days=1), {"search_database": 10.0}, top_up=400.0)
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text('[budget]\ntopups = "ledger"\n')
    out = run_cli("status", "--config", str(cfg), "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    runway = doc["runway"]
    assert runway["topups"] == {"every": "month", "credits": 400.0, "day": 1, "from": "ledger"}
    # 12.5 a day is about 380 a month: 400 on every 1st covers it.
    assert runway["with_topups"] == {"days": None, "unlimited": True, "run_out_date": None}
    assert runway["days"] == round(doc["account"]["balance"] / doc["daily_burn"], 2)
