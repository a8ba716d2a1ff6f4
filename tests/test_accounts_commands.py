"""``status``, ``reconcile``, ``chargeback`` and ``email`` across ten accounts, each on its own
local API server with its own token, three of them failing in different ways: one answers 401,
one hangs past its deadline, one sends malformed JSON. The others' figures are all there, every
output says it is partial, and the exit code is the worst failure's, after the output is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
import json
import subprocess
from email import policy

import openpyxl
import pytest
import tokendata as T
from fakeapi import TOKEN, FakeGenerect, make_ledger, simple_daily
from support import run_cli
from test_mail import Inbox, free_port
from test_notify import Receiver

from generect_reports.render.records.contract import validate_document

# Slow (ten local API servers per test, every command end to end): the full suite runs it,
# not the fast core.
pytestmark = pytest.mark.slow

SECRET = "gk_live_5e4d3c2b1a09f8e7d6c5"
MONTH = "2026-10"
FAILED = {"acct2": 3, "acct5": 4, "acct7": 4}
GOOD = [f"acct{k}" for k in range(10) if f"acct{k}" not in FAILED]


def _ops(k: int) -> dict[str, float]:
    return {"search_database": 10.0 + k, "email_find": 0.25 * k}


def _month_credits(k: int) -> float:
    return 31 * sum(_ops(k).values())


@pytest.fixture
def fleet(tmp_path):
    """Ten accounts: usage from August to well past today, October's ledger matching it, the
    customers' token analytics; each a server of its own with its own token."""
    today = dt.datetime.now(dt.UTC).date()
    servers: dict[str, FakeGenerect] = {}
    env: dict[str, str] = {}
    lines = []
    for k in range(10):
        name = f"acct{k}"
        fake = FakeGenerect(
            token=f"{TOKEN}-{k}",
            daily=simple_daily(dt.date(2026, 8, 1), today + dt.timedelta(days=40), _ops(k)),
            ledger=make_ledger(dt.date(2026, 10, 1), dt.date(2026, 10, 31), _ops(k), top_up=1000.0),
        )
        T.install(fake)
        fake.start()
        servers[name] = fake
        env[f"TOKEN_{k}"] = fake.token
        lines.append(
            f'[accounts.{name}]\ntoken_env = "TOKEN_{k}"\napi_url = "{fake.url}"\n'
            f'label = "Client {k}"\ntags = ["{"even" if k % 2 == 0 else "odd"}"]\n'
        )
    config = tmp_path / "accounts.toml"
    config.write_text("\n".join(lines))
    yield servers, env, config
    for fake in servers.values():
        fake.stop()


def _break(servers, env):
    """acct2 answers 401, acct5 never answers, acct7 sends malformed JSON."""
    servers["acct5"].fail("never", times=-1, arg=30)
    servers["acct7"].fail("invalid_json", times=-1)
    return {**env, "TOKEN_2": "wrong-" + SECRET}


def _cli(config, env, *args, timeout=240):
    return run_cli(
        *args,
        "--config",
        str(config),
        env={**env, "GENERECT_API_TIMEOUT": "1", "GENERECT_API_DEADLINE": "2"},
        timeout=timeout,
    )


def _no_secret(*texts):
    for text in texts:
        assert SECRET not in text and TOKEN not in text


# --- status -----------------------------------------------------------------------------------


def test_status_across_accounts_one_table_partial_and_the_worst_exit_code(fleet, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    servers["acct1"].me["monthly_limit"] = 100  # crosses --fail-at 100
    target = tmp_path / "status.json"
    out = _cli(
        config,
        env,
        "status",
        "--all-accounts",
        "--fail-at",
        "100",
        "--format",
        "json",
        "--output",
        str(target),
    )
    # Written first; a failed account (a token to fix: 3) outranks a crossing (5).
    assert out.returncode == 3, out.stderr
    doc = json.loads(target.read_text())
    validate_document(doc)
    assert doc["complete"] is False and doc["accounts"] == [f"acct{k}" for k in range(10)]
    assert {f["account"]: f["exit_code"] for f in doc["accounts_failed"]} == FAILED
    assert list(doc["by_account"]) == GOOD
    for name, one in doc["by_account"].items():
        validate_document(one)
        assert one["account"]["balance"] == 1000.0 - _month_credits(int(name[-1]))
    used = {n: d["totals"]["used_credits"] for n, d in doc["by_account"].items()}
    assert doc["totals"]["used_credits"] == round(sum(used.values()), 2)
    assert {r["account"] for r in doc["rows"]} == set(GOOD)
    assert "check failed: acct1: plan limit" in out.stderr
    assert out.stderr.splitlines()[-1].startswith("error: partial: 3 account(s) failed")
    _no_secret(out.stderr, target.read_text())


def test_status_table_has_a_row_per_account_and_says_partial(fleet):
    servers, env, config = fleet
    env = _break(servers, env)
    out = _cli(config, env, "status", "--all-accounts")
    assert out.returncode == 3, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Status across accounts") and "(partial: 3 of 10" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[3:] if line.startswith("acct")}
    assert list(rows) == GOOD
    for name, cells in rows.items():
        assert cells[2] == f"{1000.0 - _month_credits(int(name[-1])):,.2f}"  # the balance
    total = next(line for line in lines if line.startswith("Total (partial)"))
    balances = sum(round((1000.0 - _month_credits(int(n[-1]))) * 100) for n in GOOD) / 100
    assert f"{balances:,.2f}" in total
    assert "acct2: " in out.stdout and "(exit 3)" in out.stdout and "(exit 4)" in out.stdout


def test_status_sends_one_alert_naming_every_account_crossed_and_speaks_once(fleet, tmp_path):
    servers, env, config = fleet
    servers["acct1"].me["monthly_limit"] = 100
    servers["acct3"].me["monthly_limit"] = 50
    receiver = Receiver()
    try:
        env = {**env, "GENERECT_REPORTS_STATE_DIR": str(tmp_path / "state")}
        args = ("status", "--tag", "odd", "--fail-at", "100", "--notify", receiver.url())
        first = _cli(config, env, *args)
        assert first.returncode == 5, first.stderr
        assert len(receiver.posts) == 1
        text = receiver.posts[0]["body"]["text"]
        assert "2 account(s) to look at (Client 1, Client 3)" in text
        assert "Client 1: plan limit" in text and "Client 3: plan limit" in text
        assert "Client 5" not in text
        again = _cli(config, env, *args)
        assert again.returncode == 5 and len(receiver.posts) == 1  # said once
        servers["acct5"].me["monthly_limit"] = 10  # a new account crosses: only it is said
        third = _cli(config, env, *args)
        assert third.returncode == 5 and len(receiver.posts) == 2
        text = receiver.posts[1]["body"]["text"]
        assert "1 account(s) to look at (Client 5)" in text and "Client 1" not in text
    finally:
        receiver.stop()


def test_status_digest_across_accounts_is_one_message_said_once(fleet, tmp_path):
    servers, env, config = fleet
    receiver = Receiver()
    try:
        env = {**env, "GENERECT_REPORTS_STATE_DIR": str(tmp_path / "state")}
        args = ("status", "--tag", "odd", "--digest", "--notify", receiver.url())
        first = _cli(config, env, *args)
        assert first.returncode == 0, first.stderr
        assert len(receiver.posts) == 1 and "posted the digest to 1 webhook(s)" in first.stderr
        body = receiver.posts[0]["body"]
        head = body["blocks"][0]["text"]["text"]
        assert head.startswith("Generect credits ") and head.endswith("so far: 5 account(s)")
        fields = [f["text"] for block in body["blocks"][1:-1] for f in block["fields"]]
        assert [f.split("\n")[0] for f in fields] == [f"*Client {k}*" for k in (1, 3, 5, 7, 9)]
        for k, field in zip((1, 3, 5, 7, 9), fields):
            # The month's complete days at the account's daily usage, and its balance.
            text = field.split("\n")[1]
            days = int(text.split(" credits (")[1].split(" of ")[0])
            used = days * sum(_ops(k).values())
            assert text.startswith(
                f"{used:,.0f} credits (" if used.is_integer() else f"{used:,.2f}"
            )
            assert text.endswith(f", balance {1000.0 - _month_credits(k):,.2f} credits")
        assert body["blocks"][-1]["text"]["text"] == "• no threshold crossed"
        # Nothing new for any account: the repeated run is silent.
        again = _cli(config, env, *args)
        assert again.returncode == 0 and len(receiver.posts) == 1
        # One account crosses and another cannot be read: one alert, then one digest that
        # names the crossing and the failure, the total marked partial.
        servers["acct3"].me["monthly_limit"] = 50
        servers["acct7"].fail("invalid_json", times=-1)
        third = _cli(config, env, *args)
        assert third.returncode == 4, third.stderr
        digests = [p["body"] for p in receiver.posts if "blocks" in p["body"]]
        assert len(receiver.posts) == 3 and len(digests) == 2
        head = digests[1]["blocks"][0]["text"]["text"]
        assert "so far: 4 account(s) [partial: 1 of 5 accounts failed (acct7)]" in head
        body_text = digests[1]["blocks"][-1]["text"]["text"]
        assert "• Client 3: plan limit" in body_text
        assert "• Client 7: could not be read" in body_text
        assert "Client 1:" not in body_text
    finally:
        receiver.stop()


def test_status_per_account_budget_overrides_the_file(fleet, tmp_path):
    servers, env, config = fleet
    text = config.read_text().replace(
        "[accounts.acct4]\n", "[accounts.acct4.budget]\nmonthly_credits = 10\n[accounts.acct4]\n"
    )
    text = "[budget]\nmonthly_credits = 1000000\n" + text
    config.write_text(text)
    out = _cli(
        config, env, "status", "--account", "acct3", "--account", "acct4", "--format", "json"
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    budgets = {
        n: [r["threshold"] for r in d["rows"] if r["kind"] == "budget"]
        for n, d in doc["by_account"].items()
    }
    assert budgets == {"acct3": [1000000.0], "acct4": [10.0]}
    alone = _cli(config, env, "status", "--account", "acct4", "--format", "json")
    assert alone.returncode == 0, alone.stderr
    rows = json.loads(alone.stdout)["rows"]
    assert [r["threshold"] for r in rows if r["kind"] == "budget"] == [10.0]


# --- reconcile --------------------------------------------------------------------------------


def test_reconcile_across_accounts_stacks_every_tie_out(fleet, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    target = tmp_path / "rec.json"
    out = _cli(
        config,
        env,
        "reconcile",
        "--all-accounts",
        "--month",
        MONTH,
        "--format",
        "json",
        "--output",
        str(target),
    )
    assert out.returncode == 3, out.stderr
    doc = json.loads(target.read_text())
    validate_document(doc)
    assert doc["complete"] is False
    assert {f["account"]: f["exit_code"] for f in doc["accounts_failed"]} == FAILED
    for name, one in doc["by_account"].items():
        figures = one["reconciliation"]
        assert figures["usage"] == _month_credits(int(name[-1]))
        assert figures["settled_charges"] == figures["usage"]
    assert doc["totals"]["difference"] == 0.0
    table = _cli(config, env, "reconcile", "--all-accounts", "--month", MONTH)
    assert table.returncode == 3
    head = table.stdout.splitlines()[0]
    assert (
        head == f"Reconciliation across accounts, {MONTH} (partial: 3 of 10 accounts failed "
        "(acct2, acct5, acct7))"
    )
    total = next(x for x in table.stdout.splitlines() if x.startswith("Total (partial)"))
    usage = sum(_month_credits(int(n[-1])) for n in GOOD)
    assert f"{usage:,.2f}" in total and total.rstrip().endswith("OK")
    _no_secret(out.stderr, target.read_text(), table.stdout)


def test_a_month_that_does_not_tie_is_exit_5_unless_an_account_failed(fleet):
    servers, env, config = fleet
    servers["acct4"].add_transactions(
        [
            {
                "id": "x-fee-1",
                "ts": dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC),
                "type": "mystery_fee",
                "credits": -5.0,
                "status": "success",
                "balance_type": "credits",
            }
        ]
    )
    even = _cli(config, env, "reconcile", "--tag", "even", "--month", MONTH)
    assert even.returncode == 5, even.stderr
    rows = {x.split()[0]: x.split()[-1] for x in even.stdout.splitlines()[3:8]}
    assert rows == {"acct0": "OK", "acct2": "OK", "acct4": "FAIL", "acct6": "OK", "acct8": "OK"}
    assert even.stderr.splitlines()[-1].startswith("error: acct4: ")
    broken = _cli(config, _break(servers, env), "reconcile", "--all-accounts", "--month", MONTH)
    # The failed accounts were never tied: their exit code (3) outranks acct4's 5.
    assert broken.returncode == 3, broken.stderr
    assert "error: acct4: " in broken.stderr
    assert broken.stderr.splitlines()[-1].startswith("error: partial: 3 account(s) failed")


def test_reconcile_workbook_has_a_summary_and_a_sheet_per_account(fleet, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    target = tmp_path / "rec.xlsx"
    out = _cli(
        config,
        env,
        "reconcile",
        "--all-accounts",
        "--month",
        MONTH,
        "--format",
        "xlsx",
        "--output",
        str(target),
    )
    assert out.returncode == 3, out.stderr
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Summary", *GOOD]
    summary = book["Summary"]
    assert "partial" in summary["A1"].value and summary["A2"].value.startswith("PARTIAL")
    names = [summary.cell(r, 1).value for r in range(5, 5 + len(GOOD))]
    assert names == GOOD
    total_row = 5 + len(GOOD)
    assert summary.cell(total_row, 1).value == "Total (partial)"
    assert summary.cell(total_row, 8).value == f"=SUM(H5:H{total_row - 1})"
    failed = {
        summary.cell(r, 1).value: summary.cell(r, 2).value
        for r in range(total_row + 4, total_row + 7)
    }
    assert failed == FAILED


# --- chargeback -------------------------------------------------------------------------------


def test_chargeback_across_accounts_in_csv_json_and_table(fleet, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    out = _cli(config, env, "chargeback", "--all-accounts", "--month", MONTH, "--format", "json")
    assert out.returncode == 3, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc)
    assert doc["complete"] is False
    assert {f["account"]: f["exit_code"] for f in doc["accounts_failed"]} == FAILED
    credits = {n: d["totals"]["credits"] for n, d in doc["by_account"].items()}
    assert credits == {n: _month_credits(int(n[-1])) for n in GOOD}
    assert doc["totals"]["credits"] == round(sum(credits.values()), 2)
    cents = sum(round(d["totals"]["estimated_cost"] * 100) for d in doc["by_account"].values())
    assert round(doc["totals"]["estimated_cost"] * 100) == cents
    for row in doc["rows"]:
        assert row["account"] in GOOD
    csv_out = _cli(config, env, "chargeback", "--all-accounts", "--month", MONTH, "--format", "csv")
    assert csv_out.returncode == 3
    header, *rows = csv_out.stdout.splitlines()
    assert header.startswith('"account","month","customer"')
    assert {r.split(",")[0].strip('"') for r in rows} == set(GOOD)
    by_account: dict[str, float] = {}
    for r in rows:
        cells = r.split(",")
        by_account[cells[0].strip('"')] = by_account.get(cells[0].strip('"'), 0) + float(cells[-4])
    allocated = {
        n: d["totals"]["credits"] - d["totals"]["unallocated_credits"]
        for n, d in doc["by_account"].items()
    }
    assert {n: round(v, 2) for n, v in by_account.items()} == {
        n: round(v, 2) for n, v in allocated.items()
    }
    table = _cli(config, env, "chargeback", "--all-accounts", "--month", MONTH)
    assert table.returncode == 3
    lines = table.stdout.splitlines()
    assert "(partial: 3 of 10 accounts failed" in lines[0]
    assert lines[1] == "money: an estimate at list prices (no [money] in the config)"
    # One account's columns, the account first; every customer and the parties held back.
    head = lines[3]
    assert head.split() == [
        *("account", "customer", "token", "requests", "failed", "credits", "share"),
        *("est.", "cost", "USD", "health"),
    ]
    stacked = lines[4 : lines.index("", 4)]
    total = stacked.pop()
    assert total.startswith("Total (partial: 3 of 10 accounts failed (acct2, acct5, acct7))")
    customers = {
        n: {c["customer"]: c for c in d["customers"]} for n, d in doc["by_account"].items()
    }
    end = head.index("credits") + len("credits")
    cost_end = head.index("est. cost USD") + len("est. cost USD")
    seen = {n: set() for n in GOOD}
    for line in stacked:
        name = line.split()[0]
        who = line[head.index("customer") : head.index("token")].strip()
        mine = customers[name][who]
        assert line[:end].split()[-1] == f"{mine['credits']:,.2f}"
        assert line[:cost_end].split()[-1] == f"{mine['estimated_cost']:,.2f}"
        seen[name].add(who)
    assert seen == {n: set(customers[n]) for n in GOOD}
    assert "unallocated, under review" in seen[GOOD[0]]
    assert total[:end].split()[-1] == f"{doc['totals']['credits']:,.2f}"
    cents = sum(round(d["totals"]["estimated_cost"] * 100) for d in doc["by_account"].values())
    assert total[:cost_end].split()[-1] == f"{cents / 100:,.2f}"
    # Then one row per account, with what each split holds under review.
    at = lines.index("by account:")
    assert lines[at + 1].split()[:6] == [
        "account",
        "credits",
        "unallocated",
        "under",
        "review",
        "est.",
    ]
    assert lines[at + 2 + len(GOOD)].startswith("Total (partial)")
    _no_secret(out.stdout, csv_out.stdout, table.stdout, out.stderr)


def test_chargeback_workbook_across_accounts(fleet, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    target = tmp_path / "cb.xlsx"
    out = _cli(
        config,
        env,
        "chargeback",
        "--all-accounts",
        "--month",
        MONTH,
        "--format",
        "xlsx",
        "--output",
        str(target),
    )
    assert out.returncode == 3, out.stderr
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Summary", "Customers", *GOOD]
    summary = book["Summary"]
    assert summary["A2"].value.startswith("PARTIAL: partial: 3 of 10 accounts failed")
    assert [summary.cell(4, c).value for c in range(1, 8)] == [
        *("account", "credits", "unallocated credits", "under review credits"),
        *("estimated cost", "booked cost", "flagged"),
    ]
    assert [summary.cell(r, 2).value for r in range(5, 5 + len(GOOD))] == [
        _month_credits(int(n[-1])) for n in GOOD
    ]
    doc = json.loads(
        _cli(
            config, env, "chargeback", "--all-accounts", "--month", MONTH, "--format", "json"
        ).stdout
    )
    held = [doc["by_account"][n]["totals"]["under_review_credits"] for n in GOOD]
    assert [summary.cell(r, 4).value for r in range(5, 5 + len(GOOD))] == held
    assert [summary.cell(r, 6).value for r in range(5, 5 + len(GOOD))] == [None] * len(GOOD)
    # Every account's customers with one account's columns, the total labelled partial.
    ws = book["Customers"]
    assert [ws.cell(4, c).value for c in range(1, 10)] == [
        *("Account", "Customer", "Token", "Requests", "Failed share", "Credits", "Share"),
        *("Estimated cost (USD, list prices)", "Integration health"),
    ]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5)]
    total = next(r for r in rows if str(r[0]).startswith("Total"))
    assert total[0] == "Total (partial: 3 of 10 accounts failed (acct2, acct5, acct7))"
    body = rows[: rows.index(total)]
    assert {r[0] for r in body} == set(GOOD)
    assert total[5] == f"=SUM(F5:F{4 + len(body)})"
    for name in GOOD:
        mine = sum(round(r[5] * 100) for r in body if r[0] == name)
        assert mine == round(_month_credits(int(name[-1])) * 100)
    values = openpyxl.load_workbook(target, data_only=True)["Customers"]
    assert values.cell(5 + len(body), 6).value == doc["totals"]["credits"]


def test_chargeback_values_each_account_with_its_own_money(fleet):
    servers, env, config = fleet
    config.write_text(config.read_text() + "\n[accounts.acct1.money]\nrate = 0.5\n")
    out = _cli(
        config,
        env,
        "chargeback",
        "--account",
        "acct0",
        "--account",
        "acct1",
        "--month",
        MONTH,
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc)
    assert doc["complete"] is True and doc["accounts_failed"] == []
    assert "booked_cost" not in doc["by_account"]["acct0"]
    booked = doc["by_account"]["acct1"]["booked_cost"]
    # October's settled charges are acct1's usage, every credit valued at the account's rate.
    assert round(booked["total"] * 100) == round(_month_credits(1) * 0.5 * 100)
    assert round(booked["total"] * 100) == sum(
        round(c["booked_cost"] * 100) for c in booked["customers"]
    )
    assert doc["totals"]["booked_cost"] is None  # acct0 has no [money]: no sum to give
    assert doc["totals"]["by_account"]["acct1"]["booked_cost"] == booked["total"]
    by_rows: dict[str, int] = {}
    for r in doc["rows"]:
        if r["account"] == "acct1":
            by_rows[r["customer"]] = by_rows.get(r["customer"], 0) + round(r["booked_cost"] * 100)
        else:
            assert "booked_cost" not in r
    cents = {c["customer"]: round(c["booked_cost"] * 100) for c in booked["customers"]}
    assert by_rows == {k: v for k, v in cents.items() if k in by_rows}
    # The table and the CSV: acct1's booked cost (the rate its statements bill), acct0's
    # labelled list-price estimate, each in its own column.
    args = ("chargeback", "--account", "acct0", "--account", "acct1", "--month", MONTH)
    table = _cli(config, env, *args)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1].startswith("money: the booked cost ([money]")
    assert lines[2] == "money: an estimate at list prices (no [money] in the config)"
    head = lines[4]
    assert "booked USD" in head and "est. cost USD" in head
    booked_end = head.index("booked USD") + len("booked USD")
    cost_end = head.index("est. cost USD") + len("est. cost USD")
    stacked = lines[5 : lines.index("", 5)]
    for line in stacked[:-1]:
        who = line[head.index("customer") : head.index("token")].strip()
        if line.startswith("acct1"):
            assert line[:booked_end].split()[-1] == f"{cents.get(who, 0) / 100:,.2f}"
            assert line[booked_end:cost_end].strip() == "-"
        else:
            assert line[:booked_end].split()[-1] == "-"
    assert stacked[-1].startswith("Total ") and stacked[-1][:booked_end].split()[-1] == (
        f"{booked['total']:,.2f}"
    )
    rows = list(csv.DictReader(io.StringIO(_cli(config, env, *args, "--format", "csv").stdout)))
    per = {}
    for r in rows:
        if r["account"] == "acct0":
            assert r["booked_cost"] == r["booked_currency"] == ""
        else:
            assert r["booked_currency"] == "USD"
            per[r["customer"]] = per.get(r["customer"], 0) + round(float(r["booked_cost"]) * 100)
    assert per == by_rows


def test_chargeback_customer_needs_one_account(fleet):
    servers, env, config = fleet
    out = _cli(config, env, "chargeback", "--all-accounts", "--month", MONTH, "--customer", "x")
    assert out.returncode == 2 and "--customer reads one account" in out.stderr
    assert not any(f.requests for f in servers.values())


# --- email ------------------------------------------------------------------------------------


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


def test_email_across_accounts_sends_the_partial_rollup_pack(fleet, smtp, tmp_path):
    servers, env, config = fleet
    env = _break(servers, env)
    out = _cli(
        config,
        env,
        "email",
        "--all-accounts",
        "--month",
        MONTH,
        "--history",
        "3",
        "--to",
        "finance@example.com",
        "--from",
        "reports@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
    )
    # Sent first, then the worst failure's exit code.
    assert out.returncode == 3, out.stderr
    assert len(smtp.messages) == 1
    msg = email.message_from_bytes(smtp.messages[0][2], policy=policy.default)
    subject = str(msg["Subject"])
    assert subject.startswith("Generect usage across accounts, October 2026: ")
    assert subject.endswith("(partial)") and "10 accounts" in subject
    total = sum(_month_credits(int(n[-1])) for n in GOOD)
    assert f"{total:,.0f} credits" in subject or f"{total:,.2f} credits" in subject
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "PARTIAL: 3 account(s) could not be read" in text
    for name in FAILED:
        assert f"  {name}: " in text
    files = {part.get_filename(): part.get_content() for part in msg.iter_attachments()}
    assert set(files) == {
        f"generect-usage-accounts-{MONTH}.xlsx",
        f"generect-usage-accounts-{MONTH}.pdf",
    }
    book_path = tmp_path / "roll.xlsx"
    book_path.write_bytes(files[f"generect-usage-accounts-{MONTH}.xlsx"])
    sheet = openpyxl.load_workbook(book_path, data_only=True)["Accounts"]
    assert "partial" in sheet.cell(1, 1).value and "PARTIAL" in sheet.cell(3, 1).value
    rows = {sheet.cell(r, 1).value: sheet.cell(r, 3).value for r in range(6, 6 + len(GOOD))}
    assert rows == {n: _month_credits(int(n[-1])) for n in GOOD}
    pdf_path = tmp_path / "roll.pdf"
    pdf_path.write_bytes(files[f"generect-usage-accounts-{MONTH}.pdf"])
    pdf_text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "(partial: 3 of 10 accounts failed)" in pdf_text
    _no_secret(out.stderr, smtp.messages[0][2].decode("utf-8", "replace"), pdf_text)


def test_email_across_accounts_that_all_answer_is_not_partial(fleet, tmp_path):
    servers, env, config = fleet
    target = tmp_path / "m.eml"
    out = _cli(
        config,
        env,
        "email",
        "--tag",
        "even",
        "--month",
        MONTH,
        "--history",
        "3",
        "--to",
        "finance@example.com",
        "--from",
        "reports@example.com",
        "--dry-run",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes(target.read_bytes(), policy=policy.default)
    total = sum(_month_credits(k) for k in (0, 2, 4, 6, 8))
    assert "partial" not in str(msg["Subject"]).lower()
    assert f"{total:,.2f}" in str(msg["Subject"]) or f"{total:,.0f}" in str(msg["Subject"])


# --- every account failed -------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "reconcile", "chargeback"])
def test_when_every_account_fails_each_output_is_still_whole_and_partial(command, tmp_path):
    from generect_reports.render import accounts as A
    from generect_reports.reports.accounts import AcrossAccounts

    failed = (
        {"account": "north", "error": "HTTP 401: Invalid token.", "exit_code": 3},
        {"account": "south", "error": "not JSON", "exit_code": 4},
    )
    month = "" if command == "status" else MONTH
    across = AcrossAccounts(command, {}, ("north", "south"), failed, month=month)
    table = getattr(A, f"{command}_table")(across)
    assert "(partial: 2 of 2 accounts failed (north, south))" in table.splitlines()[0]
    assert "Total (partial)" in table and "north: HTTP 401: Invalid token. (exit 3)" in table
    doc = json.loads(getattr(A, f"{command}_json")(across))
    validate_document(doc)
    assert doc["complete"] is False and doc["rows"] == [] and doc["by_account"] == {}
    assert [f["account"] for f in doc["accounts_failed"]] == ["north", "south"]
    if command != "status":
        assert getattr(A, f"{command}_csv")(across).startswith('"account","month",')
        path = tmp_path / "x.xlsx"
        A.write_workbook(getattr(A, f"{command}_workbook")(across), path)
        summary = openpyxl.load_workbook(path)["Summary"]
        assert summary["A2"].value.startswith("PARTIAL: partial: 2 of 2 accounts failed")
        assert summary["A5"].value == "Total (partial)"
        assert [summary.cell(r, 1).value for r in (9, 10)] == ["north", "south"]
