"""Journal entries: every sample month balances and moves the prepaid account by its
roll-forward; the generic, Xero and QuickBooks layouts; the JSON and xlsx; closing a month and
booking a later restatement as an adjustment in the first open month."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from support import ROOT, run_cli

from generect_reports.analysis.valuation import JournalAccounts
from generect_reports.fetch.sample import SampleSource
from generect_reports.render.journal import QUICKBOOKS_COLUMNS, XERO_COLUMNS
from generect_reports.render.records.contract import validate_document
from generect_reports.reports.journal import build_journal, restatements
from generect_reports.reports.valuation import load_money, value_months

SAMPLE_PURCHASES = ROOT / "data" / "sample_purchases.csv"
ACCOUNTS = JournalAccounts(expense="6100", prepaid="1400", accrued="2100", payable="2000")


@pytest.fixture(scope="module")
def sample_months():
    return value_months(SampleSource(), "2026-10", load_money(None)).months


def test_every_sample_month_balances_and_moves_prepaid_by_the_rollforward(sample_months):
    months = [m for m in sample_months if "2025-01" <= m.month <= "2026-12"]
    assert len(months) == 22
    for m in months:
        for split in ("none", "operation"):
            journal = build_journal(m, ACCOUNTS, currency="USD", purchases=True, split=split)
            assert journal.balanced, m.month
            assert journal.prepaid_movement == m.closing_cents - m.opening_cents
            expense = journal.movement("6100")
            assert expense == m.consumed_cents  # the accrual is reversed within the journal
            consumption = journal.entries[f"GR{m.month[2:4]}{m.month[5:]}-C"]
            assert sum(x.debit for x in consumption) == m.consumed_cents
        without = build_journal(m, ACCOUNTS, currency="USD")
        assert without.prepaid_movement == -m.consumed_cents
        assert without.movement("2100") == 0 and without.movement("2000") == 0


def _entries_balance(rows: list[dict[str, str]], key: str, amount) -> None:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        sums[r[key]] += amount(r)
    assert sums and all(v == 0 for v in sums.values()), sums


def test_layouts():
    base = ["journal", "--sample", "--month", "2026-10", "--format", "csv", "--purchases"]
    generic = run_cli(*base, "--split", "operation")
    assert generic.returncode == 0, generic.stderr
    rows = list(csv.DictReader(io.StringIO(generic.stdout)))
    assert list(rows[0]) == [
        "date",
        "entry",
        "kind",
        "account",
        "debit",
        "credit",
        "memo",
        "operation",
    ]
    _entries_balance(rows, "entry", lambda r: Decimal(r["debit"]) - Decimal(r["credit"]))
    consumed = [r for r in rows if r["kind"] == "consumption" and r["operation"]]
    assert sum(Decimal(r["debit"]) for r in consumed) == Decimal("656.88")

    xero = run_cli(*base, "--layout", "xero", "--split", "operation")
    assert xero.returncode == 0, xero.stderr
    xrows = list(csv.DictReader(io.StringIO(xero.stdout)))
    assert list(xrows[0]) == XERO_COLUMNS
    _entries_balance(xrows, "*Narration", lambda r: Decimal(r["*Amount"]))
    assert {r["*Date"] for r in xrows} == {"31/10/2026", "01/11/2026", "01/10/2026"}
    assert {r["TrackingOption1"] for r in xrows} >= {"search_database", ""}

    qbo = run_cli(*base, "--layout", "quickbooks")
    qrows = list(csv.DictReader(io.StringIO(qbo.stdout)))
    assert list(qrows[0]) == QUICKBOOKS_COLUMNS
    _entries_balance(
        qrows,
        "Journal No",
        lambda r: Decimal(r["Debits"] or 0) - Decimal(r["Credits"] or 0),
    )
    assert all(len(r["Journal No"]) <= 21 for r in qrows)
    assert {r["Journal Date"] for r in qrows} == {"10/31/2026", "11/01/2026", "10/01/2026"}
    assert [r["Credits"] for r in qrows if r["Journal No"] == "GR2610-C"] == ["", "656.88"]

    wrong = run_cli("journal", "--sample", "--month", "2026-10", "--layout", "xero")
    assert wrong.returncode == 2 and "--format csv" in wrong.stderr


def test_json_and_xlsx(tmp_path):
    out = run_cli("journal", "--sample", "--month", "2026-10", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc, "journal")
    j = doc["journal"]
    assert j["balanced"] and j["consumed"] == 656.88 and j["pending_accrual"] == 3.57
    assert j["booked_cost"] == 660.45
    assert doc["totals"]["debit"] == doc["totals"]["credit"]
    path = tmp_path / "journal.xlsx"
    out = run_cli(
        "journal", "--sample", "--month", "2026-10", "--format", "xlsx", "--output", str(path)
    )
    assert out.returncode == 0, out.stderr
    sheet = openpyxl.load_workbook(path)["Journal"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("date", "entry", "kind", "account")
    debit = sum(r[4] for r in values[1:-1])
    credit = sum(r[5] for r in values[1:-1])
    assert round(debit, 2) == round(credit, 2) == round(656.88 + 3.57 + 3.57, 2)
    assert str(values[-1][4]).startswith("=SUM(E2:")


def _config(folder: Path, corrected: bool = False) -> Path:
    with SAMPLE_PURCHASES.open(encoding="utf-8") as fh:
        rows = [r[:5] for r in csv.reader(fh)]
    if corrected:  # every invoice before September a dollar more: its lots cost more
        rows = [
            [*r[:3], f"{Decimal(r[3]) + 1:.2f}", r[4]] if "2" <= r[0] < "2026-08-30" else r
            for r in rows
        ]
    with (folder / "purchases.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    config = folder / "books.toml"
    config.write_text(
        '[money]\npurchases = "purchases.csv"\n'
        '[journal]\nexpense = "6100"\nprepaid = "1400"\naccrued = "2100"\npayable = "2000"\n'
        'register = "close-register.json"\n',
        encoding="utf-8",
    )
    return config


def test_a_closed_month_stays_closed_and_a_restatement_is_adjusted_in_the_next(tmp_path):
    config = _config(tmp_path)
    args = ["journal", "--sample", "--config", str(config), "--format", "json"]
    closed = run_cli(*args, "--month", "2026-09", "--close")
    assert closed.returncode == 0, closed.stderr
    register = json.loads((tmp_path / "close-register.json").read_text())
    assert register["version"] == 1 and list(register["months"]) == ["2026-09"]
    before = json.loads(closed.stdout)["journal"]
    assert register["months"]["2026-09"]["consumed"] == round(before["consumed"] * 100)
    again = run_cli(*args, "--month", "2026-09", "--close")
    assert again.returncode == 2 and "already closed" in again.stderr

    # The invoices behind September's consumption are corrected afterwards.
    _config(tmp_path, corrected=True)
    sep = json.loads(run_cli(*args, "--month", "2026-09").stdout)
    assert sep["journal"]["closed"] is True
    assert sep["journal"]["consumed"] == before["consumed"]  # not rewritten
    out = run_cli(*args, "--month", "2026-10")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc, "journal")
    (adj,) = doc["adjustments"]
    assert adj["month"] == "2026-09" and adj["change"] > 0
    assert round((adj["after"] - adj["before"]) * 100) == round(adj["change"] * 100)
    rows = [r for r in doc["rows"] if r["kind"] == "adjustment"]
    assert [r["entry"] for r in rows] == ["GR2610-ADJ2609", "GR2610-ADJ2609"]
    assert rows[0]["memo"].startswith("Adjustment: 2026-09 (closed) restated")
    assert any("2026-09 was closed" in n for n in doc["notes"])
    assert doc["journal"]["balanced"]


def test_restatements_wait_for_the_first_open_month(sample_months):
    by_month = {m.month: m for m in sample_months}
    register = {"2026-08": {"consumed": by_month["2026-08"].consumed_cents - 5}}
    assert restatements(register, by_month, "2026-09") == [
        {
            "month": "2026-08",
            "before": by_month["2026-08"].consumed_cents - 5,
            "after": by_month["2026-08"].consumed_cents,
            "change": 5,
        }
    ]
    # 2026-09 is open: October is not the first open month after August.
    assert restatements(register, by_month, "2026-10") == []
    # Once the adjustment is booked (and its month closed) nothing is adjusted again.
    booked = {
        **register,
        "2026-09": {
            "consumed": by_month["2026-09"].consumed_cents,
            "adjustments": [{"month": "2026-08", "change": 5}],
        },
    }
    assert restatements(booked, by_month, "2026-10") == []


def test_two_closes_at_once_close_the_month_once(tmp_path):
    """Two cron jobs closing the same month: the register's lock runs them one after the other,
    so one closes it and the other finds it closed; the register holds one record."""
    from concurrent.futures import ThreadPoolExecutor

    config = _config(tmp_path)
    args = ["journal", "--sample", "--config", str(config), "--month", "2026-08", "--close"]
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: run_cli(*args), range(2)))
    codes = sorted(o.returncode for o in outs)
    assert codes == [0, 2], [o.stderr for o in outs]
    assert any("already closed" in o.stderr for o in outs)
    register = json.loads((tmp_path / "close-register.json").read_text())
    assert list(register["months"]) == ["2026-08"]


def test_a_held_register_lock_is_a_one_line_error_after_its_timeout(tmp_path):
    from filelock import FileLock

    from generect_reports.errors import ConfigError
    from generect_reports.register import register_lock

    path = tmp_path / "close-register.json"
    with FileLock(f"{path}.lock"):
        with pytest.raises(ConfigError, match="locked by another run for more than 0.2s"):
            with register_lock(path, timeout=0.2):
                pass
    with register_lock(path, timeout=0.2):  # free again once the other run lets go
        pass


def test_close_needs_a_register(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[money]\nrate = 0.02\n", encoding="utf-8")
    out = run_cli("journal", "--sample", "--month", "2026-09", "--close", "--config", str(config))
    assert out.returncode == 2 and "[journal] register" in out.stderr


def test_split_by_customer_cost_centre():
    out = run_cli(
        "journal", "--sample", "--month", "2026-10", "--format", "csv", "--split", "customer"
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0])[-1] == "customer"
    consumed = [r for r in rows if r["kind"] == "consumption" and r["debit"] != "0.00"]
    assert sum(Decimal(r["debit"]) for r in consumed) == Decimal("656.88")
    who = [r["customer"] for r in consumed]
    assert len(who) > 2 and who[-1] == "unallocated" and len(set(who)) == len(who)
    _entries_balance(rows, "entry", lambda r: Decimal(r["debit"]) - Decimal(r["credit"]))


def test_split_by_customer_follows_each_operations_credits():
    import pandas as pd

    from generect_reports.reports.journal import split_by_customer

    lines = pd.DataFrame(
        {
            "customer": ["a", "b", "unallocated", "a"],
            "operation": ["x", "x", "x", "y"],
            "credits_hundredths": [100, 200, 0, 50],
        }
    )
    assert split_by_customer({"x": 100, "y": 7, "z": 3}, lines) == {
        "a": 33 + 7,
        "b": 67,
        "unallocated": 3,
    }
