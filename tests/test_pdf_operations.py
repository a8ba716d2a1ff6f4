"""An account with many operations: the PDF's fixed-size pages list the largest ones and one
"Other" line that adds up, and still lay out (no type under 8 pt, no overlapping words); the
workbook keeps every operation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from pdfcheck import font_sizes, overlaps, pdftotext, words

import generect_reports as g
from generect_reports.render.pdf.document import MIN_FONT_PT, render_pdf
from generect_reports.reports.presentation import PAGE_OPERATIONS, fold_operations

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from benchutil import synthetic_daily  # noqa: E402


@pytest.fixture(scope="module")
def october(sample):
    return g.build_report(sample, "2026-10")


def test_other_line_adds_up_to_what_it_holds(october):
    folded = fold_operations(october, keep=4)
    ops, full = folded.operations, october.operations
    assert list(ops["operation"][:3]) == list(full["operation"][:3])
    other = ops.iloc[-1]
    assert other["operation"] == f"Other ({len(full) - 3} operations)"
    for column in ("credits", "previous_credits", "compared_credits", "yoy_credits"):
        assert ops[column].sum() == pytest.approx(full[column].sum(), abs=1e-9)
    # shown figures add up as shown: shares to 100.0, cost lines to the total in cents
    assert round(ops["share_display"].sum(), 1) == 100.0
    assert round(ops["estimated_cost"].sum() * 100) == round(october.estimated_cost * 100)
    priced = ops[ops["priced"].astype(bool)]
    assert round(priced["cost_share_display"].sum(), 1) == 100.0
    assert folded.monthly.to_numpy().sum() == pytest.approx(october.monthly.to_numpy().sum())
    assert np.allclose(folded.daily_matrix.sum(axis=1), october.daily_matrix.sum(axis=1))
    assert (folded.total, folded.estimated_cost, folded.narrative) == (
        october.total,
        october.estimated_cost,
        october.narrative,
    )
    assert "The workbook lists every operation." in folded.notes[-1]


def test_a_report_within_the_page_is_unchanged(october):
    assert len(october.operations) <= PAGE_OPERATIONS and fold_operations(october) is october


@pytest.fixture(scope="module")
def fifty(tmp_path_factory):
    rep = g.build_report(synthetic_daily(2, 50), "2026-10")
    path = tmp_path_factory.mktemp("fifty") / "fifty.pdf"
    path.write_bytes(render_pdf(rep))
    return rep, path


def test_fifty_operations_lay_out(fifty):
    rep, path = fifty
    text = pdftotext(path)
    assert f"Other ({len(rep.operations) - PAGE_OPERATIONS + 1} operations)" in text
    assert rep.formats.credits(rep.total) in text
    for op in rep.operations["operation"][: PAGE_OPERATIONS - 1]:
        assert op in text
    sizes = font_sizes(path)
    assert min(size for page in sizes for size, _ in page) >= MIN_FONT_PT - 1e-6
    pages = words(path)
    bad = [(n + 1, a.text, b.text) for n, page in enumerate(pages) for a, b in overlaps(page)]
    assert not bad, bad[:10]
    # nothing runs into the margin (A4 landscape is 842 points wide)
    outside = [
        (n + 1, w.text) for n, page in enumerate(pages) for w in page if w.x0 < 20 or w.x1 > 822
    ]
    assert not outside, outside[:10]


def test_fifty_operations_workbook_lists_every_one(fifty, tmp_path):
    from openpyxl import load_workbook

    rep, _ = fifty
    path = tmp_path / "fifty.xlsx"
    from generect_reports.render.xlsx.workbook import write_report_workbook

    write_report_workbook(rep, path)
    sheet = load_workbook(path, read_only=True)["By operation"]
    names = {row[0] for row in sheet.iter_rows(values_only=True)}
    assert set(rep.operations["operation"]) <= names
