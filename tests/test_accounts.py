"""Many accounts: ``[accounts.NAME]`` tables read and checked once, the selection options, and
``usage`` across accounts against ten local API servers, three of them failing in different ways.
A failing account never sinks the others, and the combined output always says it is partial."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest
from fakeapi import TOKEN, FakeGenerect, simple_daily
from support import run_cli

from generect_reports.accounts import account_token, parse_accounts, select_accounts
from generect_reports.errors import AccountsFailed, ConfigError, InputError
from generect_reports.render.records.contract import load_schema

SECRET = "gk_live_9f8e7d6c5b4a39281706"


# --- the table ------------------------------------------------------------------------------


def test_accounts_parse_in_file_order_with_their_settings():
    accounts = parse_accounts(
        {
            "acme": {"token_env": "ACME_TOKEN", "label": "Acme Ltd", "tags": ["eu", "retail"]},
            "zeta": {
                "token_env": "ZETA_TOKEN",
                "timezone": "America/New_York",
                "api_url": "https://api.example.test",
                "budget": {"monthly_credits": 1000},
            },
        }
    )
    assert list(accounts) == ["acme", "zeta"]
    assert accounts["acme"].title == "Acme Ltd" and accounts["acme"].tags == ("eu", "retail")
    assert accounts["zeta"].title == "zeta" and accounts["zeta"].timezone == "America/New_York"
    assert accounts["zeta"].overrides == {"budget": {"monthly_credits": 1000}}


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"token": SECRET}, "a token is never written in the config file"),
        ({"api_token": SECRET, "token_env": "X"}, "a token is never written"),
        ({"token_env": SECRET.replace("_", "-")}, "must name an environment variable"),
        ({"token_env": "Token " + SECRET}, "must name an environment variable"),
        ({"label": "x"}, "needs token_env"),
        ({"token_env": "A", "colour": "red"}, "unknown setting 'colour'"),
        ({"token_env": "A", "tags": "eu"}, "tags in [accounts.a]"),
        ({"token_env": "A", "timezone": "Mars/Base"}, "timezone in [accounts.a]"),
        ({"token_env": "A", "api_url": "ftp://x"}, "api_url in [accounts.a]"),
        ({"token_env": "A", "budget": 5}, "budget in [accounts.a]"),
    ],
)
def test_a_bad_account_table_names_the_key_and_never_echoes_a_token(table, needle):
    with pytest.raises(ConfigError) as err:
        parse_accounts({"a": table}, where="cfg.toml")
    assert needle in str(err.value) and err.value.exit_code == 2
    assert SECRET not in str(err.value) and SECRET.replace("_", "-") not in str(err.value)


def test_selection_by_name_tag_or_all_in_file_order():
    accounts = parse_accounts(
        {
            "a": {"token_env": "A", "tags": ["eu"]},
            "b": {"token_env": "B", "tags": ["us"]},
            "c": {"token_env": "C", "tags": ["eu", "us"]},
        }
    )
    names = lambda chosen: [s.name for s in chosen]  # noqa: E731
    assert names(select_accounts(accounts, names=["c", "a"])) == ["a", "c"]
    assert names(select_accounts(accounts, tags=["us"])) == ["b", "c"]
    assert names(select_accounts(accounts, names=["a"], tags=["us"])) == ["a", "b", "c"]
    assert names(select_accounts(accounts, all_accounts=True)) == ["a", "b", "c"]
    with pytest.raises(InputError, match="unknown account 'd'"):
        select_accounts(accounts, names=["d"])
    with pytest.raises(InputError, match="no account is tagged 'apac'"):
        select_accounts(accounts, tags=["apac"])
    with pytest.raises(InputError, match="no accounts are configured"):
        select_accounts({}, all_accounts=True)


def test_a_missing_token_variable_is_named_never_a_value():
    (spec,) = parse_accounts({"a": {"token_env": "A_TOKEN"}}).values()
    with pytest.raises(InputError, match="A_TOKEN is not set") as err:
        account_token(spec, {"OTHER": SECRET})
    assert SECRET not in str(err.value)
    assert account_token(spec, {"A_TOKEN": SECRET}) == SECRET


def test_the_worst_failure_gives_the_exit_code():
    auth = {"account": "a", "error": "401", "exit_code": 3}
    api = {"account": "b", "error": "500", "exit_code": 4}
    assert AccountsFailed([api, auth]).exit_code == 3
    assert AccountsFailed([api]).exit_code == 4
    assert str(AccountsFailed([api, auth])).startswith("partial: 2 account(s) failed (b, a)")


# --- usage across ten accounts ------------------------------------------------------------------


@pytest.fixture
def fleet(tmp_path):
    """Ten local API servers, one per account, each with its own token and daily usage."""
    servers: dict[str, FakeGenerect] = {}
    env: dict[str, str] = {}
    lines = []
    for k in range(10):
        name = f"acct{k}"
        fake = FakeGenerect(
            token=f"{TOKEN}-{k}",
            daily=simple_daily(
                dt.date(2026, 4, 1), dt.date(2026, 6, 30), {"search_database": 10.0 + k}
            ),
        ).start()
        servers[name] = fake
        env[f"TOKEN_{k}"] = fake.token
        tags = '["even"]' if k % 2 == 0 else '["odd"]'
        lines.append(
            f'[accounts.{name}]\ntoken_env = "TOKEN_{k}"\napi_url = "{fake.url}"\ntags = {tags}\n'
        )
    config = tmp_path / "accounts.toml"
    config.write_text("\n".join(lines))
    yield servers, env, config
    for fake in servers.values():
        fake.stop()


def _usage(config, env, *args, extra_env=None):
    return run_cli(
        "usage",
        "--start",
        "2026-05-01",
        "--end",
        "2026-05-31",
        "--period",
        "month",
        "--config",
        str(config),
        *args,
        env={
            **env,
            "GENERECT_API_TIMEOUT": "1",
            "GENERECT_API_DEADLINE": "2",
            **(extra_env or {}),
        },
    )


def test_usage_across_all_accounts_stacks_them_with_an_account_column(fleet, tmp_path):
    servers, env, config = fleet
    out = _usage(config, env, "--all-accounts", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, load_schema("usage"))
    assert doc["complete"] is True and doc["accounts_failed"] == []
    assert doc["accounts"] == [f"acct{k}" for k in range(10)]
    by_account = {row["account"]: row["credits"] for row in doc["rows"]}
    # May has 31 days at 10 + k credits a day.
    assert by_account == {f"acct{k}": 31 * (10.0 + k) for k in range(10)}
    assert doc["totals"]["by_account"] == by_account
    assert doc["totals"]["credits"] == sum(by_account.values()) == 31 * 145.0
    for k, fake in enumerate(servers.values()):  # each account asked with its own token only
        assert {r.authorization for r in fake.requests} == {f"Token {TOKEN}-{k}"}


def test_a_tag_chooses_its_accounts(fleet):
    servers, env, config = fleet
    out = _usage(config, env, "--tag", "odd", "--format", "csv")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.startswith('"account","period_start"')
    assert [r.split(",")[0].strip('"') for r in rows] == [
        "acct1",
        "acct3",
        "acct5",
        "acct7",
        "acct9",
    ]
    assert all(not fake.requests for k, fake in enumerate(servers.values()) if k % 2 == 0)


def test_one_account_alone_is_exactly_a_single_token_run(fleet):
    servers, env, config = fleet
    out = _usage(config, env, "--account", "acct4", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert "accounts" not in doc and "account" not in doc["rows"][0]
    assert doc["totals"]["credits"] == 31 * 14.0
    assert sum(len(f.requests) for f in servers.values()) == len(servers["acct4"].requests) > 0


def test_failing_accounts_leave_the_others_complete_and_the_output_partial(fleet, tmp_path):
    servers, env, config = fleet
    env = {**env, "TOKEN_2": "wrong-" + SECRET}  # answers 401
    servers["acct5"].fail("never", times=-1, arg=30)  # hangs past its deadline
    servers["acct7"].fail("invalid_json", times=-1)  # malformed answers
    target = tmp_path / "usage.json"
    out = _usage(config, env, "--all-accounts", "--format", "json", "--output", str(target))
    # Written first, then the worst failure's exit code: a token to fix (3) outranks the rest.
    assert out.returncode == 3, out.stderr
    doc = json.loads(target.read_text())
    jsonschema.validate(doc, load_schema("usage"))
    assert doc["complete"] is False
    failed = {f["account"]: f["exit_code"] for f in doc["accounts_failed"]}
    assert failed == {"acct2": 3, "acct5": 4, "acct7": 4}
    answered = {row["account"] for row in doc["rows"]}
    assert answered == {f"acct{k}" for k in range(10)} - set(failed)
    assert set(doc["totals"]["by_account"]) == answered
    assert out.stderr.splitlines()[-1].startswith("error: partial: 3 account(s) failed")
    for text in (out.stderr, target.read_text()):
        assert SECRET not in text and TOKEN not in text


def test_the_table_of_a_partial_run_says_partial(fleet):
    servers, env, config = fleet
    servers["acct0"].fail("500", times=-1)
    out = _usage(config, env, "--all-accounts", extra_env={"GENERECT_API_DEADLINE": "1"})
    assert out.returncode == 4
    assert "(partial: 1 account(s) failed: acct0)" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--account", "nope"], "unknown account 'nope'"),
        (["--tag", "apac"], "no account is tagged 'apac'"),
        (["--all-accounts", "--sample"], "--sample is one account"),
    ],
)
def test_a_bad_selection_is_exit_2_before_any_request(fleet, args, needle):
    servers, env, config = fleet
    out = _usage(config, env, *args)
    assert out.returncode == 2 and needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not any(f.requests for f in servers.values())


def test_a_missing_variable_is_exit_2_before_any_request(fleet):
    servers, env, config = fleet
    env = {k: v for k, v in env.items() if k != "TOKEN_6"}
    out = _usage(config, env, "--all-accounts")
    assert out.returncode == 2 and "TOKEN_6 is not set" in out.stderr
    assert not any(f.requests for f in servers.values())


def test_a_command_of_one_account_refuses_several(fleet):
    servers, env, config = fleet
    out = run_cli(
        "journal",
        "--month",
        "2026-05",
        "--config",
        str(config),
        "--account",
        "acct1",
        "--account",
        "acct2",
        env=env,
    )
    assert out.returncode == 2 and "one account at a time" in out.stderr
    assert not any(f.requests for f in servers.values())


def test_the_report_label_is_now_label_and_the_old_config_key_still_works(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[report]\naccount = "Old Key Ltd"\nhistory = 3\n')
    out = run_cli(
        "email",
        "--sample",
        "--config",
        str(config),
        "--to",
        "a@example.com",
        "--from",
        "b@example.com",
        "--smtp-host",
        "localhost",
        "--dry-run",
        str(tmp_path / "m.eml"),
    )
    assert out.returncode == 0, out.stderr
    assert "Old Key Ltd" in (tmp_path / "m.eml").read_text()


# --- the roll-up report -----------------------------------------------------------------------


@pytest.fixture
def trio(tmp_path):
    """Three accounts with a year of different usage each, on their own local servers."""
    servers = {}
    env = {}
    lines = []
    for name, ops in {
        "north": {"search_database": 40.0, "email_find": 2.5},
        "south": {"search_database": 12.0, "enrich_database": 7.25},
        "west": {"preview": 30.0},
    }.items():
        fake = FakeGenerect(
            token=f"{TOKEN}-{name}",
            daily=simple_daily(dt.date(2025, 9, 1), dt.date(2026, 11, 30), ops),
        ).start()
        servers[name] = fake
        env[f"TOKEN_{name.upper()}"] = fake.token
        lines.append(
            f'[accounts.{name}]\ntoken_env = "TOKEN_{name.upper()}"\napi_url = "{fake.url}"\n'
            f'label = "{name.title()} Region"\ntags = ["all"]\n'
        )
    config = tmp_path / "accounts.toml"
    config.write_text("\n".join(lines))
    yield servers, env, config
    for fake in servers.values():
        fake.stop()


def _report(config, env, tmp_path, *args):
    return run_cli(
        "report",
        "--config",
        str(config),
        "--month",
        "2026-10",
        "--history",
        "6",
        "--xlsx",
        str(tmp_path / "roll.xlsx"),
        "--pdf",
        str(tmp_path / "roll.pdf"),
        *args,
        env={**env, "GENERECT_API_TIMEOUT": "1", "GENERECT_API_DEADLINE": "2"},
    )


def test_the_rollup_adds_up_to_every_accounts_own_pack(trio, tmp_path):
    import openpyxl

    servers, env, config = trio
    out = _report(config, env, tmp_path, "--all-accounts", "--each", str(tmp_path / "packs"))
    assert out.returncode == 0, out.stderr
    book = openpyxl.load_workbook(tmp_path / "roll.xlsx", data_only=True)
    sheet = book["Accounts"]
    rows = {
        sheet.cell(r, 1).value: [sheet.cell(r, c).value for c in range(1, 14)] for r in range(6, 9)
    }
    # October has 31 days: each account's usage times 31, ranked largest first.
    assert [sheet.cell(r, 1).value for r in range(6, 9)] == ["north", "west", "south"]
    assert rows["north"][2] == 31 * 42.5 and rows["south"][2] == 31 * 19.25
    assert rows["west"][1] == "West Region" and rows["west"][2] == 31 * 30.0
    assert sheet.cell(9, 1).value == "Total" and sheet.cell(9, 3).value == 31 * 91.75
    # Each account's own pack, written by --each, shows the figure its roll-up row shows.
    for name in servers:
        pack = openpyxl.load_workbook(
            tmp_path / "packs" / name / "generect-usage-2026-10.xlsx", data_only=True
        )
        summary = [
            v for row in pack["Summary"].iter_rows(values_only=True) for v in row if v is not None
        ]
        assert rows[name][2] in summary
    ops = book["Operations"]
    names = [ops.cell(r, 1).value for r in range(5, 10)]
    assert names == ["search_database", "preview", "enrich_database", "email_find", "Total"]
    shares = [ops.cell(r, 3).value for r in range(5, 9)]
    assert round(sum(shares), 6) == 1.0 == round(ops.cell(9, 3).value, 6)  # as displayed
    assert "partial" not in (tmp_path / "roll.pdf").read_bytes().decode("latin-1").lower()


def test_a_failed_account_makes_the_rollup_partial_everywhere(trio, tmp_path):
    import subprocess

    import openpyxl

    servers, env, config = trio
    env = {**env, "TOKEN_SOUTH": "wrong-" + SECRET}
    out = _report(config, env, tmp_path, "--tag", "all")
    assert out.returncode == 3, out.stderr
    assert "partial: 1 account(s) failed (south)" in out.stderr
    book = openpyxl.load_workbook(tmp_path / "roll.xlsx", data_only=True)
    sheet = book["Accounts"]
    assert "partial" in sheet.cell(1, 1).value and "PARTIAL" in sheet.cell(3, 1).value
    assert sheet.cell(8, 1).value == "Total (partial)" and sheet.cell(8, 3).value == 31 * 72.5
    assert book["Failed"].cell(4, 1).value == "south" and book["Failed"].cell(4, 2).value == 3
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "roll.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "(partial: 1 of 3 accounts failed)" in text and "Total (partial)" in text
    assert "south" in text and SECRET not in text + out.stderr


def test_each_needs_several_accounts(trio, tmp_path):
    servers, env, config = trio
    out = _report(config, env, tmp_path, "--account", "north", "--each", str(tmp_path / "p"))
    assert out.returncode == 2 and "--each" in out.stderr
    assert not any(f.requests for f in servers.values())
