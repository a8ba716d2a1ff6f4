"""Money a controller can book, end to end: the sample's invoices valued month by month, the
dollar roll-forward in ``reconcile``, a missing invoice named with exit 5, and a FIFO valuation
against the local API computed by hand."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakeapi import TOKEN, make_ledger
from support import ROOT, run_cli

from generect_reports.fetch.ledger import load_sample_ledger
from generect_reports.fetch.sample import SampleSource
from generect_reports.render.records.contract import validate_document
from generect_reports.reports.valuation import load_money, value_months

KYIV = ZoneInfo("Europe/Kyiv")
SAMPLE_PURCHASES = ROOT / "data" / "sample_purchases.csv"


@pytest.fixture(scope="module")
def sample_valuation():
    return value_months(SampleSource(), "2026-10", load_money(None))


def test_sample_months_close_to_the_cent(sample_valuation):
    months = {m.month: m for m in sample_valuation.months}
    wanted = [
        f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13) if f"{y}-{m:02d}" <= "2026-10"
    ]
    assert set(wanted) <= set(months)
    previous = months["2024-12"]
    for label in wanted:
        m = months[label]
        assert m.opening_cents == previous.closing_cents
        assert m.opening_cents + m.purchases_cents - m.consumed_cents == m.closing_cents
        assert sum(m.by_operation.values()) == m.consumed_cents
        assert m.ties, label
        previous = m
    # The volume discount: a credit cost $0.025 in 2025 and $0.02 by late 2026.
    rate = {k: m.consumed_cents / m.consumed_hundredths for k, m in months.items() if k > "2024-12"}
    assert rate["2025-03"] == pytest.approx(0.025, abs=1e-6)  # cents per hundredth = $ per credit
    assert rate["2026-09"] == pytest.approx(0.02, abs=1e-6)
    # October: 178.71 credits pending at month end, accrued at the $0.02 lot: $3.57.
    oct_ = months["2026-10"]
    assert oct_.pending_hundredths == 17871 and oct_.pending_accrual_cents == 357
    assert oct_.booked_cents == oct_.consumed_cents + 357
    # Reversed charges cost nothing: the 418.33 reversed credits are not consumed.
    assert oct_.reversed_hundredths == 41833


@pytest.mark.parametrize("month", ["2025-06", "2026-02", "2026-10"])
def test_sample_credit_rollforward_is_the_ledgers(sample_valuation, month):
    inputs = load_sample_ledger(month)
    assert sample_valuation.month(month).closing_hundredths == round(inputs.closing_balance * 100)


def test_reconcile_json_carries_the_money_object():
    out = run_cli("reconcile", "--sample", "--month", "2026-10", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc, "reconcile")
    money = doc["money"]
    assert money["currency"] == "USD"
    assert round(
        (money["opening_prepaid"] + money["purchases"] - money["consumed"]) * 100
    ) == round(money["closing_prepaid"] * 100)
    assert money["purchases"] == 700.0 and money["pending_accrual"] == 3.57
    assert round(sum(r["consumed"] for r in money["by_operation"]) * 100) == round(
        money["consumed"] * 100
    )
    assert money["top_ups"] == [
        {
            "id": money["top_ups"][0]["id"],
            "at": "2026-10-01T09:00:00+03:00",
            "credits": 35000.0,
            "invoice": "GEN-202609-023",
            "invoice_date": "2026-09-29",
            "amount": 700.0,
        }
    ]
    assert money["credits"]["closing_prepaid"] == doc["reconciliation"]["closing_balance"]
    table = run_cli("reconcile", "--sample", "--month", "2026-10")
    assert "prepaid credits in USD:" in table.stdout
    assert "booked cost (consumed + accrual)" in table.stdout


def _write_config(folder: Path, rows: list[list[str]], extra: str = "") -> Path:
    with (folder / "purchases.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", "invoice", "credits", "amount", "currency"])
        writer.writerows(rows)
    config = folder / "generect-reports.toml"
    config.write_text(f'[money]\npurchases = "purchases.csv"\n{extra}', encoding="utf-8")
    return config


def test_a_missing_invoice_is_named_and_exits_5(tmp_path):
    with SAMPLE_PURCHASES.open(encoding="utf-8") as fh:
        rows = [r[:5] for r in csv.reader(fh)][1:]
    config = _write_config(tmp_path, [r for r in rows if r[1] != "GEN-202609-023"])
    out = run_cli("reconcile", "--sample", "--month", "2026-10", "--config", str(config))
    assert out.returncode == 5, out.stderr
    assert "has no invoice" in out.stderr and "35,000.00 credits on 2026-10-01" in out.stderr
    # September still ties: its own top-up has its invoice.
    sep = run_cli("reconcile", "--sample", "--month", "2026-09", "--config", str(config))
    assert sep.returncode == 0, sep.stderr


def test_an_invoice_without_a_top_up_is_named(tmp_path):
    with SAMPLE_PURCHASES.open(encoding="utf-8") as fh:
        rows = [r[:5] for r in csv.reader(fh)][1:]
    config = _write_config(tmp_path, [*rows, ["2026-10-15", "EXTRA-1", "1000", "20.00", "USD"]])
    out = run_cli("reconcile", "--sample", "--month", "2026-10", "--config", str(config))
    assert out.returncode == 5
    assert "invoice EXTRA-1 of 1,000.00 credits on 2026-10-15 matches no top-up" in out.stderr


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[money]\npolicy = "lifo"\nrate = 0.02\n', "policy must be fifo or average"),
        ('[money]\npurchases = "nowhere.csv"\n', "nowhere.csv"),
        ("[money]\nrate = 0.02\nsurprise = 1\n", "unknown setting 'surprise' in [money]"),
    ],
)
def test_bad_money_settings_exit_2_naming_the_key(tmp_path, body, needle):
    config = tmp_path / "c.toml"
    config.write_text(body, encoding="utf-8")
    out = run_cli("reconcile", "--sample", "--month", "2026-10", "--config", str(config))
    assert out.returncode == 2, out.stdout
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1


# --- against the local API ------------------------------------------------------------------


@pytest.fixture
def books_api(api):
    """The fixture server with a ledger from 2026-01 on: a 500-credit top-up at 08:00 on each
    1st (Kyiv), then 10 + 2.5 credits a day, settled."""
    api.add_transactions(
        make_ledger(
            dt.date(2026, 1, 1),
            dt.date(2026, 3, 31),
            {"search_database": 10.0, "email_find": 2.5},
            timezone="Europe/Kyiv",
            top_up=500.0,
        )
    )
    return api


def test_fifo_against_the_api_equals_the_hand_computation(books_api, tmp_path):
    config = _write_config(
        tmp_path,
        [
            ["2025-12-31", "A-1", "500", "10.00", "USD"],
            ["2026-02-02", "A-2", "500", "9.00", "USD"],
            ["2026-03-01", "A-3", "500", "8.00", "USD"],
        ],
    )
    env = {
        "GENERECT_API_TOKEN": TOKEN,
        "GENERECT_API_URL": books_api.url,
        "GENERECT_REPORTS_CACHE_DIR": str(tmp_path / "cache"),
    }
    args = ["--timezone", "Europe/Kyiv", "--config", str(config), "--format", "json"]
    out = run_cli("reconcile", "--month", "2026-02", *args, env=env)
    assert out.returncode == 0, out.stderr
    money = json.loads(out.stdout)["money"]
    # By hand. January: 387.50 credits of lot A-1 (500 for $10): $7.75; 112.50 left, $2.25.
    # February: those 112.50 ($2.25), then 237.50 of A-2 (500 for $9): $4.275 -> $4.28 (half
    # up); $6.53 consumed, 262.50 credits of A-2 left for $4.72.
    assert money["opening_prepaid"] == 2.25
    assert money["purchases"] == 9.00
    assert money["consumed"] == 6.53
    assert money["closing_prepaid"] == 4.72
    assert money["pending_accrual"] == 0.0
    # 280 credits of search_database, 70 of email_find: $6.53 split 4:1 by largest remainder.
    assert money["by_operation"] == [
        {"operation": "email_find", "consumed": 1.31},
        {"operation": "search_database", "consumed": 5.22},
    ]
    assert [t["invoice"] for t in money["top_ups"]] == ["A-2"]
    out = run_cli("reconcile", "--month", "2026-03", *args, env=env)
    money = json.loads(out.stdout)["money"]
    # March: 262.50 of A-2 ($4.72) and 125 of A-3 (500 for $8): $2.00 -> $6.72; $6.00 left.
    assert (money["consumed"], money["closing_prepaid"]) == (6.72, 6.00)
    assert TOKEN not in out.stdout + out.stderr


def test_status_carries_the_booked_cost():
    out = run_cli("status", "--sample", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc, "status")
    assert doc["currency"] == "USD" and doc["booked_cost"] == 0.0  # nothing used yet in November
    # Every credit still held was bought at $0.02 (the volume tier): the projection is the
    # projected credits at that rate, rounded half up once.
    projected = doc["totals"]["projected_credits"]
    assert projected == 31631.25
    assert doc["projected_booked_cost"] == 632.63  # 31,631.25 x 0.02 = 632.625
    assert doc["prepaid_balance"] == 1880.82
    table = run_cli("status", "--sample")
    assert "booked cost      0.00 USD month to date, 632.63 projected at month end" in table.stdout


def test_booked_cost_reads_the_same_in_pdf_workbook_email_and_json(tmp_path):
    import io as _io

    import openpyxl
    from pdfcheck import pdftotext

    from generect_reports.render.email import message as mail
    from generect_reports.render.pdf.document import render_pdf
    from generect_reports.render.xlsx.workbook import render_workbook
    from generect_reports.reports.assemble import ReportSettings, monthly_report

    rep = monthly_report(
        SampleSource(), "2026-10", ReportSettings(reconcile=False, chargeback=False)
    )
    assert rep.booked is not None
    assert (rep.booked.booked_cost, rep.booked.consumed, rep.booked.pending_accrual) == (
        660.45,
        656.88,
        3.57,
    )
    assert rep.booked.list_value == rep.estimated_cost
    assert round(sum(rep.booked.by_operation.values()), 2) == rep.booked.consumed
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_pdf(rep))
    msg = mail.build_message(rep, to=["a@example.com"], sender="r@example.com")
    wb = openpyxl.load_workbook(_io.BytesIO(render_workbook(rep)))
    summary = {row[0].value: row[1].value for row in wb["Summary"].iter_rows() if row[0].value}
    shown = rep.formats.money(660.45)
    assert shown == "$660.45"
    for text in (
        pdftotext(pdf),
        msg.get_body(("plain",)).get_content(),
        msg.get_body(("html",)).get_content(),
    ):
        assert "Booked cost" in text and shown in text
        assert "list-price value " + rep.formats.money(rep.estimated_cost) in text
    assert msg["Subject"].endswith("booked cost $660.45")
    assert summary["Booked cost"] == 660.45
    assert "List-price value (secondary)" in summary
    rec = json.loads(
        run_cli("reconcile", "--sample", "--month", "2026-10", "--format", "json").stdout
    )
    journal = json.loads(
        run_cli("journal", "--sample", "--month", "2026-10", "--format", "json").stdout
    )
    assert rec["money"]["booked_cost"] == journal["journal"]["booked_cost"] == 660.45


def test_status_overage_in_credits_and_money(tmp_path):
    doc = json.loads(run_cli("status", "--sample", "--format", "json").stdout)
    # 31,631.25 projected against the 30,000 limit: the last 1,631.25 credits, at $0.02.
    assert doc["projected_overage"] == {
        "credits": 1631.25,
        "cost": 32.63,
        "valued_at": "the rate of the prepaid lots they will consume",
    }
    config = tmp_path / "c.toml"
    config.write_text("[money]\noverage_rate = 0.03\n", encoding="utf-8")
    out = run_cli("status", "--sample", "--format", "json", "--config", str(config))
    doc = json.loads(out.stdout)
    validate_document(doc, "status")
    assert doc["projected_overage"]["cost"] == 48.94  # 1,631.25 x 0.03 = 48.9375
    assert doc["projected_overage"]["valued_at"] == "contract overage rate 0.03 per credit"
    assert doc["projected_booked_cost"] == 632.63  # the overage rate prices the overage only


def test_quarter_booked_cost_is_its_months(sample_valuation, tmp_path):
    import openpyxl

    from generect_reports.render.xlsx.quarter import render_quarter_workbook
    from generect_reports.reports.assemble import ReportSettings, quarter_report

    rep = quarter_report(SampleSource(), "2026-Q3", ReportSettings()).report
    months = ["2026-07", "2026-08", "2026-09"]
    assert list(rep.booked_by_month or {}) == months
    cents = sum(sample_valuation.month(m).booked_cents for m in months)
    assert rep.booked_cost == cents / 100
    path = tmp_path / "q.xlsx"
    render_quarter_workbook(rep, path)
    summary = openpyxl.load_workbook(path)["Summary"]
    assert summary["A10"].value == "Booked cost (consumed + accrual)"
    assert summary["B10"].value == cents / 100


def test_focus_costs_come_from_the_booked_values():
    import io as _io

    import pandas as pd

    out = run_cli(
        "usage", "--sample", "--start", "2026-09-01", "--end", "2026-10-31", "--format", "focus"
    )
    assert out.returncode == 0, out.stderr
    focus = pd.read_csv(_io.StringIO(out.stdout))
    focus["month"] = focus["x_UsageDate"].str[:7]
    cents = (focus.groupby("month")["EffectiveCost"].sum() * 100).round().astype(int)
    assert cents.to_dict() == {"2026-09": 59044, "2026-10": 66045}  # consumed + accrual
    assert (focus["BilledCost"] == focus["EffectiveCost"]).all()
    assert round(focus.loc[focus["month"] == "2026-10", "ListCost"].sum(), 2) == 816.15
    assert not focus["x_CostIsEstimate"].any()


def test_chargeback_booked_cost_by_customer_adds_up_to_the_month():
    out = run_cli("chargeback", "--sample", "--month", "2026-10", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    validate_document(doc, "chargeback")
    booked = doc["booked_cost"]
    assert booked["currency"] == "USD" and booked["total"] == 660.45
    cents = {c["customer"]: round(c["booked_cost"] * 100) for c in booked["customers"]}
    assert sum(cents.values()) == 66045 and "unallocated" in cents
    one = json.loads(
        run_cli(
            "chargeback",
            "--sample",
            "--month",
            "2026-10",
            "--format",
            "json",
            "--customer",
            "hooli",
        ).stdout
    )
    assert one["booked_cost"]["customers"] == [
        {"customer": "hooli", "booked_cost": cents["hooli"] / 100}
    ]
