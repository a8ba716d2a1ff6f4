"""The PDF report read back by poppler (pdftotext, pdffonts, pdftoppm) and pypdf."""

import shutil
import subprocess

import pytest
from helpers import frame
from pypdf import PdfReader
from support import run_cli

import generect_reports as g
from generect_reports.render.pdf.document import render_pdf
from generect_reports.reports.monthly import fmt_money, fmt_signed_pct


def pdftotext(path):
    exe = shutil.which("pdftotext")
    assert exe, "poppler-utils is required: apt-get install poppler-utils"
    return subprocess.run(
        [exe, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _flat(text):
    return " ".join(text.split())


@pytest.fixture(scope="module")
def sample_pdf(tmp_path_factory):
    rep = g.build_report(g.load_sample(), "2026-10")
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(render_pdf(rep))
    return rep, path


def test_pages_and_metadata(sample_pdf):
    rep, path = sample_pdf
    reader = PdfReader(path)
    assert len(reader.pages) == 3
    meta = reader.metadata
    assert (
        meta["/Creator"] == f"generect-reports {rep.version}"
        and meta["/Producer"] == "generect-reports"
    )
    assert meta["/CreationDate"].startswith("D:20261031220000")  # the data's as-of time, in UTC


def test_text_has_every_figure_and_operation(sample_pdf):
    rep, path = sample_pdf
    text = pdftotext(path)
    f = rep.formats
    for row in rep.operations.itertuples(index=False):
        assert row.operation in text
        assert f.credits(row.credits) in text
        assert f"{row.share_display:.1f}%" in text
        assert fmt_signed_pct(row.change_pct) in text
        assert (fmt_money(row.estimated_cost) if row.priced else "unpriced") in text
    assert f.credits(rep.total) in text and fmt_money(rep.estimated_cost) in text
    # the anomaly, its figures as they subtract: 1,212 - 97.50 = 1,114.50
    assert "14 Oct search_realtime: 1,212 credits, 1,114.50 above a baseline of 97.50" in _flat(
        text
    )
    assert "1,212 credits, 1,114.50 above baseline" in _flat(text)  # the daily chart's label
    assert "Europe/Kyiv" in text and rep.checksum in text
    assert "100.0%" in text


def test_fonts_embedded_truetype(sample_pdf):
    _, path = sample_pdf
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    fonts = out.strip().splitlines()[2:]
    assert fonts and all("TrueType" in f and " yes " in f for f in fonts)


def test_byte_identical_reruns(tmp_path):
    sample = g.load_sample()
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    g.write_pdf_report(sample, a, month="2026-10")
    g.write_pdf_report(sample, b, month="2026-10")
    assert a.read_bytes() == b.read_bytes()


def test_pages_render(sample_pdf, tmp_path):
    _, path = sample_pdf
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3 and all(p.stat().st_size > 5000 for p in pages)


def test_partial_month_and_first_appearance(tmp_path):
    rows = [(f"2026-04-{d:02d}", "a", 10.0) for d in range(1, 31)]
    rows += [(f"2026-05-{d:02d}", "a", 12.0) for d in range(1, 11)] + [
        ("2026-05-03", "brand_new", 7.0)
    ]
    rep = g.build_report(frame(rows, fetched_at="2026-05-11 09:30"), "2026-05")
    path = tmp_path / "partial.pdf"
    path.write_bytes(render_pdf(rep))
    text = pdftotext(path)
    assert "not over" in text and "like for like" in text and "Projected month end" in text
    assert rep.formats.projection(rep.projection) in text
    assert "First month with usage for: brand_new" in text


def test_dollar_in_operation_name_is_literal(tmp_path):
    rows = [
        ("2026-04-01", "cost$x$y", 5.0),
        ("2026-05-01", "cost$x$y", 6.0),
        ("2026-05-01", "=1+1", 1.0),
    ]
    rep = g.build_report(frame(rows, fetched_at="2026-06-01 00:00"), "2026-05")
    path = tmp_path / "d.pdf"
    path.write_bytes(render_pdf(rep))
    text = pdftotext(path)
    assert "cost$x$y" in text and "=1+1" in text


def test_cli_report_writes_both_by_default(tmp_path):
    out = run_cli("report", "--sample", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "generect-usage-2026-10.xlsx").is_file()
    assert (tmp_path / "generect-usage-2026-10.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_and_workbook_agree(tmp_path):
    import openpyxl

    sample = g.load_sample()
    g.write_excel_report(sample, tmp_path / "r.xlsx", month="2026-09")
    g.write_pdf_report(sample, tmp_path / "r.pdf", month="2026-09")
    text = pdftotext(tmp_path / "r.pdf")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx", data_only=True)["By operation"]
    f = g.build_report(sample, "2026-09").formats
    for op, credits, _, prev in ws.iter_rows(min_row=5, max_col=4, values_only=True):
        if op is None:
            break
        if op != "Total":
            assert op in text and f.credits(credits) in text and f.credits(prev) in text


def test_letter_paper_from_theme(tmp_path):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "theme.toml").write_text('[page]\nsize = "Letter"\n')
    path = tmp_path / "letter.pdf"
    g.write_pdf_report(g.load_sample(), path, month="2026-10", template=folder)
    box = PdfReader(path).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)  # landscape
    (folder / "theme.toml").write_text('[page]\nsize = "A3"\n')
    with pytest.raises(g.TemplateError, match="A4 or Letter"):
        g.write_pdf_report(g.load_sample(), path, month="2026-10", template=folder)
