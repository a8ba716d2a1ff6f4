"""The tie-out: reasons on tiny hand-built frames, the sample months, the CLI, and the report
sections (Reconciliation sheet recalculated by LibreOffice, Ledger table, PDF page, email line)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from support import run_cli, soffice_recalculate

from generect_reports.analysis.reconcile import load_ledger_mapping, map_types, reconcile
from generect_reports.fetch import ledger as L
from generect_reports.fetch.usage import load_sample
from generect_reports.periods import month_bounds, parse_month
from generect_reports.render import reconcile as R

TZ = "Europe/Kyiv"


def usage(rows: list[tuple[str, str, float]], tz: str = TZ) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "period_start": pd.DatetimeIndex([pd.Timestamp(d, tz=tz) for d, _, _ in rows]),
            "period": [d for d, _, _ in rows],
            "operation": [o for _, o, _ in rows],
            "credits": [float(c) for _, _, c in rows],
        }
    )
    frame.attrs.update(timezone=tz, period="day", source="api")
    return frame


def ledger(rows: list[tuple[str, str, str, float, str]], tz: str = TZ) -> pd.DataFrame:
    """(id, local time, type, credits, status)"""
    raw = [[i, pd.Timestamp(t, tz=tz).isoformat(), ty, c, s, "credits"] for i, t, ty, c, s in rows]
    return L.ledger_frame(
        raw, timezone=tz, source="api", fetched_at=pd.Timestamp("2026-07-01", tz=tz)
    )


def test_pending_and_reversed_explain_the_difference_exactly():
    # 0.1 + 0.2 style amounts: the comparison is in integer hundredths, so it is exact.
    u = usage([("2026-05-03", "search_database", 0.3), ("2026-05-04", "email_find", 10.0)])
    g = ledger(
        [
            ("a", "2026-05-03 10:00", "search_database_leads", -0.1, "success"),
            ("b", "2026-05-03 11:00", "search_database_companies", -0.2, "pending"),
            ("c", "2026-05-04 09:00", "email_find", -7.35, "success"),
            ("d", "2026-05-04 10:00", "email_find", -2.65, "error"),
            ("t", "2026-05-01 09:00", "top_up", 100.0, "success"),
        ]
    )
    r = reconcile(u, g, month="2026-05", closing_balance=92.55)
    assert r.ties
    assert (r.top_ups, r.charges, r.pending, r.reversed, r.usage) == (100.0, 7.45, 0.2, 2.65, 10.3)
    assert r.difference == -2.85 and r.opening == 0.0 and r.closing == 92.55
    assert list(r.reasons["reason"]) == ["pending at month end", "reversed"]
    assert r.reasons["credits"].sum() == pytest.approx(r.difference)
    assert R.reconciliation_summary(r)[0].startswith("May 2026 ties to the ledger")


def test_usage_that_leaves_reversed_charges_out_still_ties_with_a_note():
    u = usage([("2026-05-04", "email_find", 7.35)])
    g = ledger(
        [
            ("c", "2026-05-04 09:00", "email_find", -7.35, "success"),
            ("d", "2026-05-04 10:00", "email_find", -2.65, "error"),
        ]
    )
    r = reconcile(u, g, month="2026-05")
    assert r.ties and r.reasons.empty and r.reversed == 2.65
    assert r.notes == ["email_find: usage leaves out its reversed charges"]


def test_unmapped_type_is_listed_and_the_month_does_not_tie():
    u = usage([("2026-05-04", "email_validation", 12.0)])
    g = ledger([("x", "2026-05-04 12:00", "email_verify_bulk", -12.0, "success")])
    r = reconcile(u, g, month="2026-05")
    assert not r.ties and r.unmapped_types == ["email_verify_bulk"]
    assert set(r.operations["operation"]) == {"email_validation", "unmapped:email_verify_bulk"}
    assert list(r.reasons["reason"]) == ["unmapped type", "unmapped type"]
    assert r.difference == 0.0  # the total ties; the per-operation tie does not
    assert "does not tie" in R.reconciliation_summary(r)[0]


def test_unexplained_difference_does_not_tie():
    u = usage([("2026-05-04", "email_find", 10.0)])
    g = ledger([("c", "2026-05-04 09:00", "email_find", -9.99, "success")])
    r = reconcile(u, g, month="2026-05")
    assert not r.ties
    assert r.failures.to_dict("records")[0]["reason"] == "unexplained"
    assert r.failures["credits"].tolist() == [-0.01]


def test_a_charge_on_the_other_side_of_the_month_edge_is_named():
    """The ledger books a charge at 00:30 on 1 June in Kyiv (still 31 May in UTC) that usage
    counted in May: a timezone-boundary charge, and the month does not tie."""
    u = usage([("2026-05-31", "search_database", 15.0)])
    g = ledger(
        [
            ("a", "2026-05-31 12:00", "search_database", -10.0, "success"),
            ("edge", "2026-06-01 00:30", "search_database", -5.0, "success"),
        ]
    )
    r = reconcile(u, g, month="2026-05")
    assert not r.ties
    row = r.failures.iloc[0]
    assert row["reason"] == "timezone-boundary charge" and row["credits"] == -5.0
    assert "edge at 2026-06-01T00:30:00+03:00" in row["detail"]


def test_balance_walked_back_from_the_anchor_under_each_pending_reading():
    u = usage([("2026-05-04", "email_find", 10.0)])
    g = ledger(
        [
            ("c", "2026-05-04 09:00", "email_find", -10.0, "success"),
            ("t", "2026-06-01 09:00", "top_up", 50.0, "success"),
            ("j", "2026-06-02 09:00", "email_find", -4.0, "success"),
            ("p", "2026-06-03 09:00", "email_find", -6.0, "pending"),
        ]
    )
    settled = reconcile(u, g, month="2026-05", balance_now=146.0, pending_in_balance=False)
    net = reconcile(u, g, month="2026-05", balance_now=140.0, pending_in_balance=True)
    assert settled.closing == net.closing == 100.0
    assert settled.opening == 110.0 and settled.balance_ties


def test_mapping_explicit_table_then_longest_prefix(tmp_path):
    mapping = load_ledger_mapping()
    types = pd.Series(
        ["platform", "search_database_leads", "email_validation", "made_up", "top_up"]
    )
    assert list(map_types(types, mapping)) == [
        "unattributed",
        "search_database",
        "email_validation",
        "unmapped:made_up",
        "unmapped:top_up",
    ]
    (tmp_path / "ledger_mapping.toml").write_text(
        '[types]\nemail_verify_bulk = "email_validation"\n[prefixes]\nsearch = "search_any"\n'
        'search_database = "search_database"\n'
    )
    own = load_ledger_mapping(tmp_path)
    assert list(
        map_types(pd.Series(["email_verify_bulk", "search_database_x", "search_rt"]), own)
    ) == ["email_validation", "search_database", "search_any"]


def test_type_named_after_a_usage_operation_maps_without_configuration():
    empty: dict[str, dict[str, str]] = {"types": {"platform": "unattributed"}, "prefixes": {}}
    types = pd.Series(["lookalike", "lookalike_bulk", "lookalikes", "platform", "scan_deep"])
    assert list(map_types(types, empty, ["lookalike", "scan", "scan_deep"])) == [
        "lookalike",
        "lookalike",
        "unmapped:lookalikes",
        "unattributed",
        "scan_deep",
    ]
    # A reconciliation maps a new operation's charges by the usage's own names.
    tz = "UTC"
    u = pd.DataFrame(
        {
            "period_start": [pd.Timestamp("2026-05-01", tz=tz)],
            "period": ["2026-05"],
            "operation": ["lookalike"],
            "credits": [7.5],
        }
    )
    u.attrs["timezone"] = tz
    g = pd.DataFrame(
        {
            "id": ["a", "b"],
            "created_at": pd.to_datetime(["2026-05-02", "2026-05-03"]).tz_localize(tz),
            "type": ["lookalike", "lookalike_bulk"],
            "credits": [-5.0, -2.5],
            "status": ["success", "success"],
            "balance_type": ["credits", "credits"],
        }
    )
    result = reconcile(u, g, month="2026-05", mapping=empty, timezone=tz)
    assert result.ties and not result.unmapped_types


def _sample_result(month: str):
    inputs = L.load_sample_ledger(month)
    first, last = month_bounds(*parse_month(month))
    u = load_sample(first, last, period="month")
    anchor = inputs.anchor
    return reconcile(
        u,
        inputs.ledger,
        month=month,
        closing_balance=inputs.closing_balance,
        hypothesis=inputs.hypothesis,
        anchor_at=anchor.at if anchor else None,
    ), inputs


def test_every_sample_month_ties_but_the_documented_one():
    months = [
        f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13) if f"{y}-{m:02d}" <= "2026-10"
    ]
    verdicts = {}
    closings = {}
    for month in months:
        result, _ = _sample_result(month)
        verdicts[month] = result.ties
        closings[month] = (result.opening, result.closing)
        assert result.balance_ties
        assert "already subtracts pending" in result.hypothesis
    assert [m for m, ok in verdicts.items() if not ok] == ["2026-02"]
    # The chain: each month opens where the previous one closed.
    for prev, cur in zip(months, months[1:]):
        assert closings[cur][0] == pytest.approx(closings[prev][1], abs=0.001)
    assert closings["2025-01"][0] == 20000.0  # the account's first top-up, in December 2024


def test_cli_sample_json_and_exit_5_on_the_documented_month():
    ok = run_cli("reconcile", "--sample", "--month", "2026-10", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["command"] == "reconcile" and doc["schema_version"]
    assert doc["reconciliation"]["ties"] is True and doc["reconciliation"]["pending"] == 178.71
    assert {r["reason"] for r in doc["rows"]} == {"pending at month end", "reversed"}
    assert doc["totals"]["not_explained"] == 0.0
    bad = run_cli("reconcile", "--sample", "--month", "2026-02")
    assert bad.returncode == 5
    assert "unmapped type" in bad.stdout and "email_verify_bulk" in bad.stdout
    assert bad.stderr.strip().startswith("error: February 2026 does not tie to the ledger")


def test_cli_bad_input_before_anything_runs(tmp_path):
    out = run_cli("reconcile", "--sample", "--month", "2026-13")
    assert out.returncode == 2 and "invalid month" in out.stderr
    out = run_cli("reconcile", "--sample", "--month", "2026-05", "--format", "xml")
    assert out.returncode == 2 and "unknown format" in out.stderr
    out = run_cli("reconcile", "--sample", "--month", "2026-05", "--format", "xlsx")
    assert out.returncode == 2 and "--output" in out.stderr
    out = run_cli("reconcile", "--month", "2026-05")
    assert out.returncode == 2 and "GENERECT_API_TOKEN" in out.stderr


def test_csv_is_formula_safe_and_lists_reasons():
    result, _ = _sample_result("2026-02")
    text = R.render_csv(result)
    assert text.splitlines()[0] == '"month","operation","reason","credits","transactions","detail"'
    assert '"unmapped:email_verify_bulk","unmapped type",121.0,1' in text


@pytest.mark.libreoffice
@pytest.mark.parametrize("month", ["2026-02", "2026-10"])
def test_reconciliation_sheet_recalculated_by_libreoffice(tmp_path, month):
    import openpyxl

    result, inputs = _sample_result(month)
    path = tmp_path / f"rec-{month}.xlsx"
    R.write_reconciliation_xlsx(result, inputs.ledger, path)
    calc = soffice_recalculate(path, tmp_path)
    ws = openpyxl.load_workbook(calc, data_only=True)["Reconciliation"]
    formulas = openpyxl.load_workbook(path)["Reconciliation"]
    assert formulas["B8"].value == "=B4+B5-B6" and formulas["B12"].value == "=B6-B11"
    assert ws["B4"].value == pytest.approx(result.opening)
    assert round(ws["B8"].value, 2) == result.closing  # opening + top-ups - charges, recomputed
    assert round(ws["B12"].value, 2) == result.difference
    assert ws["B9"].value == "OK"
    assert ws["B16"].value == "OK"  # the reason rows add up to the difference
    assert round(ws["B15"].value, 2) == round(-(result.pending + result.reversed), 2)
    assert ws["B17"].value == ("OK" if result.ties else "FAIL")
    checks = [ws.cell(row=r, column=8).value for r in range(21, 21 + len(result.operations))]
    assert ("FAIL" in checks) is (not result.ties)
    diffs = [
        round(ws.cell(row=r, column=6).value, 2) for r in range(21, 21 + len(result.operations))
    ]
    assert diffs == [round(v, 2) for v in result.operations["difference"]]


def test_ledger_sheet_is_an_excel_table(tmp_path):
    import openpyxl

    result, inputs = _sample_result("2026-06")
    path = tmp_path / "rec.xlsx"
    R.write_reconciliation_xlsx(result, inputs.ledger, path)
    ws = openpyxl.load_workbook(path)["Ledger"]
    assert list(ws.tables) == ["Ledger"]
    assert ws.tables["Ledger"].ref == f"A1:F{len(inputs.ledger) + 1}"
    assert ws["B1"].value == "created_at (Europe/Kyiv)"
    total = sum(ws.cell(row=r, column=4).value for r in range(2, len(inputs.ledger) + 2))
    assert round(total, 2) == round(
        result.top_ups - result.charges - result.pending - result.reversed, 2
    )


def test_reconciliation_page_text(tmp_path):
    result, _ = _sample_result("2026-02")
    fig = R.reconciliation_page(result)
    path = tmp_path / "page.pdf"
    fig.savefig(path)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Reconciliation: February 2026" in text
    assert "does not tie to the ledger" in text and "email_verify_bulk" in text
    assert "Closing balance" in text


def _page_text(fig, tmp_path) -> str:
    path = tmp_path / "page.pdf"
    fig.savefig(path)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(out.split())


def _sheet_note(result, tmp_path) -> str:
    import openpyxl

    path = tmp_path / "rec.xlsx"
    R.write_reconciliation_xlsx(result, ledger([]), path)
    return openpyxl.load_workbook(path)["Reconciliation"]["A2"].value


def test_a_closed_month_states_only_its_own_figures(tmp_path):
    """March 2026 had nothing pending: its documents do not state today's /me/ snapshot (178.71
    reserved now, in November), only the ledger's figures at the end of March."""
    result, inputs = _sample_result("2026-03")
    result.anchor_balance = inputs.anchor.balance
    assert not result.running and result.pending == 0.0
    note = R.balance_note(result)
    assert note == (
        "Balances are the ledger's at the end of March 2026 (transactions before "
        "2026-04-01 00:00 Europe/Kyiv); nothing was pending at month end."
    )
    for text in (
        _page_text(R.reconciliation_page(result), tmp_path),
        _sheet_note(result, tmp_path),
    ):
        assert note in text and "178.71" not in text and "/me/" not in text
    october, _ = _sample_result("2026-10")
    assert R.balance_note(october).endswith("178.71 credits were pending at month end.")


def test_a_running_month_states_the_live_balance_with_its_time(tmp_path):
    u = usage([("2026-05-04", "email_find", 10.0)])
    g = ledger(
        [
            ("c", "2026-05-04 09:00", "email_find", -4.0, "success"),
            ("p", "2026-05-19 09:00", "email_find", -6.0, "pending"),
        ]
    )
    result = reconcile(
        u,
        g,
        month="2026-05",
        balance_now=146.0,
        pending_in_balance=False,
        anchor_at=pd.Timestamp("2026-05-20 10:15", tz=TZ),
        hypothesis="/me/'s balance does not subtract pending charges: it fits the ledger",
    )
    assert result.running
    note = R.balance_note(result)
    assert note == (
        "Account balance at 2026-05-20 10:15 Europe/Kyiv, while May 2026 is still running: "
        "146.00 credits, with 6.00 credits pending so far. The account balance does not "
        "subtract pending charges: it fits the ledger."
    )
    assert note in _page_text(R.reconciliation_page(result), tmp_path)
    assert _sheet_note(result, tmp_path) == note


def test_sample_anchor_is_consistent_with_the_ledger():
    anchor = L.SampleLedgerSource.anchor()
    table = L.SampleLedgerSource.table()
    settled = round(table.loc[table["status"] == "success", "credits"].sum(), 2)
    pending = round(table.loc[table["status"] == "pending", "credits"].sum(), 2)
    assert anchor["balance"] == pytest.approx(settled + pending)
    assert Path(L._sample_files()[0]).name == "sample_ledger.csv.gz"


def test_mapping_the_documented_type_makes_february_tie(tmp_path):
    bundled = Path(__file__).resolve().parent.parent / "report_templates" / "ledger_mapping.toml"
    text = bundled.read_text().replace(
        'platform = "unattributed"',
        'platform = "unattributed"\nemail_verify_bulk = "email_validation"',
    )
    (tmp_path / "ledger_mapping.toml").write_text(text)
    out = run_cli("reconcile", "--sample", "--month", "2026-02", "--template", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "February 2026 ties to the ledger" in out.stdout


def test_cli_xlsx_output_is_written_even_when_the_month_does_not_tie(tmp_path):
    import openpyxl

    path = tmp_path / "feb.xlsx"
    out = run_cli(
        "reconcile", "--sample", "--month", "2026-02", "--format", "xlsx", "--output", str(path)
    )
    assert out.returncode == 5
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Reconciliation", "Ledger"]
    assert wb["Reconciliation"]["B17"].value.startswith("=IF(AND(")
