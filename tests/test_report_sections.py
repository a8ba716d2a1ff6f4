"""The monthly report's optional sections, end to end through the CLI: plan limit and budgets,
the ledger tie-out and credits by customer in the workbook, the PDF and the email."""

from __future__ import annotations

import email
import email.policy

import openpyxl
import pytest
from pdfcheck import font_sizes, overlaps, pdftotext, render_pages, words
from support import run_cli, soffice_recalculate

SECTION_SHEETS = ["Budget", "Reconciliation", "Ledger", "By customer"]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sections")
    out = run_cli(
        "report",
        "--sample",
        "--month",
        "2026-10",
        "--xlsx",
        str(folder / "r.xlsx"),
        "--pdf",
        str(folder / "r.pdf"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    return folder


def test_sample_workbook_has_every_section_with_stored_values(sample_report):
    wb = openpyxl.load_workbook(sample_report / "r.xlsx", data_only=True)
    assert wb.sheetnames == [
        "Summary",
        "Budget",
        "By operation",
        "Cost",
        "Drivers",
        "Monthly",
        "Reconciliation",
        "By customer",
        "Anomalies",
        "Daily",
        "Ledger",
        "Prices",
        "About",
    ]
    formulas = openpyxl.load_workbook(sample_report / "r.xlsx")
    for name in SECTION_SHEETS:
        for row_f, row_v in zip(formulas[name].iter_rows(), wb[name].iter_rows()):
            for cf, cv in zip(row_f, row_v):
                # (a formula whose answer is the empty string reads back as None)
                if isinstance(cf.value, str) and cf.value.startswith("=") and '""' not in cf.value:
                    assert cv.value is not None, (
                        f"{name}!{cf.coordinate} {cf.value} has no stored value"
                    )


@pytest.mark.libreoffice
def test_sections_recalculate_to_their_stored_values(sample_report, tmp_path):
    stored = openpyxl.load_workbook(sample_report / "r.xlsx", data_only=True)
    again = openpyxl.load_workbook(
        soffice_recalculate(sample_report / "r.xlsx", tmp_path), data_only=True
    )
    for name in ("Budget", "Reconciliation", "By customer"):
        for a_row, b_row in zip(stored[name].iter_rows(), again[name].iter_rows()):
            for a, b in zip(a_row, b_row):
                if isinstance(a.value, (int, float)) and not isinstance(a.value, bool):
                    assert b.value == pytest.approx(a.value, abs=1e-6), f"{name}!{a.coordinate}"
                elif isinstance(a.value, str) and a.value in ("OK", "FAIL"):
                    assert b.value == a.value, f"{name}!{a.coordinate}"


def test_pdf_has_a_page_per_section_with_the_footer(sample_report, tmp_path):
    from pypdf import PdfReader

    path = sample_report / "r.pdf"
    assert len(PdfReader(path).pages) == 6
    text = " ".join(pdftotext(path).split())
    for heading in (
        "Plan limit and budgets: complete month",
        "Reconciliation: usage against the ledger",
        "By customer: credits split",
        "ties to the ledger",
        "page 6 of 6",
    ):
        assert heading in text
    sizes = font_sizes(path)
    assert all(size >= 8.0 - 1e-6 for page in sizes for size, _ in page)
    bad = [(n + 1, a.text, b.text) for n, page in enumerate(words(path)) for a, b in overlaps(page)]
    if bad:
        render_pages(path, tmp_path)
        pytest.fail(f"overlapping words {bad[:8]}; pages rendered in {tmp_path}")


def _cells(ws, label):
    """The row of ``ws`` whose first cell is ``label``."""
    return next(row for row in ws.iter_rows() if row[0].value == label)


def test_section_figures_use_the_report_number_formats(sample_report):
    """October's 33,441 credits read 33,441 on the section pages and sheets as on pages 1-3
    (not 33,441.00), money has the theme's symbol ($816.15, not 816.15 USD), and a ledger or
    allocated amount keeps the cents it has."""
    pages = pdftotext(sample_report / "r.pdf").split("\f")
    sections = " ".join(" ".join(page.split()) for page in pages[3:6])
    assert "33,441.00" not in sections and " USD" not in sections
    assert "Plan limit used" in sections and "111.5%" in sections
    assert "33,441 of 30,000 credits" in sections
    assert "settled charges 32,843.96 against usage 33,441 credits" in sections
    assert "Usage 33,441 " in sections and "Opening balance 91,884.94" in sections
    assert "Credits this month Estimated cost Unallocated Customers 33,441 $816.15 550" in sections
    assert "credits, 1.7% of the month" in sections and "20,612.75 (61.6%)" in sections
    wb = openpyxl.load_workbook(sample_report / "r.xlsx")
    whole, cents, money = "#,##0", "#,##0.00", "$#,##0.00;-$#,##0.00"
    assert wb["Budget"]["D7"].number_format == whole  # used: 33,441
    assert wb["Budget"]["C7"].number_format == whole  # the limit: 30,000
    rec = wb["Reconciliation"]
    assert _cells(rec, "Usage")[1].number_format == whole
    assert _cells(rec, "Settled charges")[1].number_format == cents
    customers = wb["By customer"]
    total = _cells(customers, "Total")
    assert total[6].value.startswith("=SUM(") and total[6].number_format == whole
    assert total[8].number_format == money
    assert _cells(customers, "acme-corp")[6].number_format == cents  # 20,612.75


def test_a_past_month_states_no_live_snapshot(tmp_path):
    """March 2026 had nothing pending: its reconciliation note gives the ledger's figures at the
    end of March, not today's /me/ balance and what it reserves (178.71, October's pending)."""
    out = run_cli(
        "report",
        "--sample",
        "--month",
        "2026-03",
        "--xlsx",
        str(tmp_path / "r.xlsx"),
        "--pdf",
        str(tmp_path / "r.pdf"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    page = " ".join(pdftotext(tmp_path / "r.pdf").split("\f")[4].split())
    note = openpyxl.load_workbook(tmp_path / "r.xlsx")["Reconciliation"]["A2"].value
    for text in (page, note):
        assert "178.71" not in text and "/me/" not in text and "reserved" not in text
        assert "at the end of March 2026" in text and "nothing was pending at month end" in text


def test_sections_can_be_left_out(tmp_path):
    out = run_cli(
        "report",
        "--sample",
        "--month",
        "2026-10",
        "--no-reconcile",
        "--no-chargeback",
        "--xlsx",
        str(tmp_path / "r.xlsx"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    names = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert "Budget" in names and "Reconciliation" not in names and "By customer" not in names


def test_config_report_table_turns_sections_off(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[report]\nreconcile = false\nchargeback = false\n")
    out = run_cli(
        "report",
        "--sample",
        "--month",
        "2026-09",
        "--config",
        str(cfg),
        "--xlsx",
        str(tmp_path / "r.xlsx"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    names = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert "Reconciliation" not in names and "By customer" not in names


def test_email_subject_flag_and_section_lines(tmp_path):
    eml = tmp_path / "m.eml"
    out = run_cli(
        "email",
        "--sample",
        "--month",
        "2026-10",
        "--to",
        "finance@example.com",
        "--from",
        "reports@example.com",
        "--dry-run",
        str(eml),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("[over limit] Generect usage October 2026")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Plan limit, ledger and customers" in part
        assert "ties to the ledger" in part
        assert "hooli" in part  # the integration-health flag of the sample
        # the report's number formats: whole credits whole, money with the theme's symbol
        assert "usage was 33,441 credits, 111.5% of the plan limit of 30,000 credits" in part
        assert "settled charges 32,843.96 against usage 33,441 credits" in part
        assert "20,612.75 credits (61.6%), an estimated $516.73." in part
        assert "33,441.00" not in part and " USD" not in part


def test_a_month_under_its_limit_has_no_flag(tmp_path):
    eml = tmp_path / "m.eml"
    out = run_cli(
        "email",
        "--sample",
        "--month",
        "2026-09",
        "--to",
        "finance@example.com",
        "--from",
        "reports@example.com",
        "--dry-run",
        str(eml),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("Generect usage September 2026")


def test_api_report_leaves_the_ledger_and_customers_out_unless_asked(token_env, tmp_path):
    out = run_cli(
        "report",
        "--api-url",
        token_env.url,
        "--month",
        "2026-05",
        "--timezone",
        "Europe/Kyiv",
        "--xlsx",
        str(tmp_path / "r.xlsx"),
        "-q",
    )
    assert out.returncode == 0, out.stderr
    names = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert "Budget" in names and "Reconciliation" not in names and "By customer" not in names
    assert any(r.path == "/api/v1/accounts/me/" for r in token_env.requests)
    assert not any(r.path == "/api/v1/accounts/transactions/" for r in token_env.requests)


def test_a_month_that_does_not_tie_keeps_the_layout(tmp_path):
    path = tmp_path / "r.pdf"
    out = run_cli("report", "--sample", "--month", "2026-02", "--pdf", str(path), "-q")
    assert out.returncode == 0, out.stderr  # report shows the result; only reconcile exits 5
    text = " ".join(pdftotext(path).split())
    assert "does not tie to the ledger" in text and "email_verify_bulk" in text
    assert all(size >= 8.0 - 1e-6 for page in font_sizes(path) for size, _ in page)
    bad = [(n + 1, a.text, b.text) for n, page in enumerate(words(path)) for a, b in overlaps(page)]
    if bad:
        render_pages(path, tmp_path)
        pytest.fail(f"overlapping words {bad[:8]}; pages rendered in {tmp_path}")
