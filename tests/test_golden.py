"""Golden files of the four sample reports (October 2026, March 2026, October 2026 running as of
the 11th, and 2026-Q3): the JSON document of every command with ``--format json``, the email's
text part, the workbook's cell values after LibreOffice recalculated it, and the PDF's text page
by page. Each is compared byte for byte with ``tests/golden/reports/<case>/``; only the
generation time and the package version are normalised. ``pytest --update-golden`` rewrites
them (review the diff before committing)."""

from __future__ import annotations

import json

import pytest
from golden_files import assert_golden, pdf_pages, workbook_dump
from reportcases import CASES

DOCUMENTS = [(case, name) for case in CASES for name in CASES[case].documents]


def test_every_json_command_has_golden_documents():
    """A command that learns ``--format json`` gets a golden document: add it to a case in
    ``reportcases.py`` (and run ``pytest --update-golden``)."""
    from generect_reports.cli import cli

    with_json = set()
    for name, command in cli.commands.items():
        fmt = next((p for p in command.params if p.name == "fmt"), None)
        if fmt is not None and "json" in getattr(fmt.type, "formats", ()):
            with_json.add(name)
    covered = {args[0] for case in CASES.values() for args in case.documents.values()}
    assert "usage" in with_json
    assert with_json <= covered, f"no golden document for {sorted(with_json - covered)}"


@pytest.mark.parametrize("case, name", DOCUMENTS)
def test_golden_json_document(sample_reports, update_golden, case, name):
    art = sample_reports[case]
    text = art.read(name)
    doc = json.loads(text)
    from generect_reports.render.records.contract import validate_document

    validate_document(doc)
    assert doc["source"] == "sample"
    assert_golden(f"reports/{case}/{name}.json", text, update_golden)


@pytest.mark.parametrize("case", CASES)
def test_golden_email_text(sample_reports, update_golden, case):
    art = sample_reports[case]
    assert_golden(f"reports/{case}/email.txt", art.text, update_golden)


@pytest.mark.parametrize("case", CASES)
def test_golden_pdf_text(sample_reports, update_golden, case):
    art = sample_reports[case]
    text = pdf_pages(art.pdf_text)
    assert text.startswith("=== page 1 ===\n")
    assert_golden(f"reports/{case}/pdf.txt", text, update_golden)


@pytest.mark.libreoffice
@pytest.mark.parametrize("case", CASES)
def test_golden_workbook_values(sample_reports, update_golden, case):
    art = sample_reports[case]
    assert_golden(f"reports/{case}/workbook.txt", workbook_dump(art.recalculated), update_golden)


@pytest.mark.parametrize("case", ["2026-10", "2026-Q3"])
def test_golden_workbook_and_pdf_are_the_report_commands(sample_reports, case, tmp_path):
    """The workbook and PDF behind the golden files (the email's attachments) are the files
    ``report`` writes, byte for byte."""
    from click.testing import CliRunner

    from generect_reports.cli import cli

    art = sample_reports[case]
    period = ["--quarter", case] if not art.case.monthly else ["--month", case]
    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    args = ["report", "--sample", *period, "--xlsx", str(xlsx), "--pdf", str(pdf)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert xlsx.read_bytes() == art.xlsx.read_bytes()
    assert pdf.read_bytes() == art.pdf.read_bytes()
