"""The PDF as a reader sees it: page count, type no smaller than 8 pt (read from the text
operators), no two words overlapping (poppler's word boxes), a footer on every page, every figure
as the report formats it, and the charts drawn as agreed.

When a visual check fails, the rendered pages are left as PNG in the test's tmp folder and the
folder is named in the failure message.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from helpers import frame
from pdfcheck import font_sizes, overlaps, pdftotext, render_pages, words

import generect_reports as g
from generect_reports.render.pdf import document as pdf
from generect_reports.render.pdf.document import MIN_FONT_PT, render_pdf

CASES = {
    "2026-10": dict(month="2026-10"),
    "2026-03": dict(month="2026-03"),
    "running-2026-10": dict(month="2026-10", as_of="2026-10-11 09:30"),
    "letter-2026-10": dict(month="2026-10", paper="Letter"),
}
#: Landscape page sizes in points.
PAGE_POINTS = {"A4": (842, 595), "Letter": (792, 612)}


@pytest.fixture(scope="module")
def sample():
    return g.load_sample()


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, sample, tmp_path_factory):
    """(report, path of its PDF) for each sample case."""
    kw = dict(CASES[request.param])
    folder = tmp_path_factory.mktemp(f"pdf-{request.param}")
    paper = kw.pop("paper", None)
    if paper:
        (folder / "theme.toml").write_text(f'[page]\nsize = "{paper}"\n')
        kw["template"] = folder
    rep = g.build_report(sample, kw.pop("month"), **kw)
    path = folder / f"report-{request.param}.pdf"
    path.write_bytes(render_pdf(rep))
    return rep, path


def _flat(text: str) -> str:
    return " ".join(text.split())


def _fail_with_pages(path, tmp_path, message: str) -> None:
    pages = render_pages(path, tmp_path)
    print(f"rendered pages: {tmp_path} ({len(pages)} PNG)")
    pytest.fail(f"{message}\nrendered pages left in {tmp_path}")


def test_two_or_three_landscape_pages(case):
    from pypdf import PdfReader

    rep, path = case
    reader = PdfReader(path)
    assert 2 <= len(reader.pages) <= 3
    for page in reader.pages:
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == PAGE_POINTS[
            rep.theme.page["size"]
        ]


def test_no_type_below_8pt(case, tmp_path):
    _, path = case
    sizes = font_sizes(path)
    assert all(sizes), "every page has text"
    small = [
        (n + 1, round(size, 2), text)
        for n, page in enumerate(sizes)
        for size, text in page
        if size < MIN_FONT_PT - 1e-6
    ]
    if small:
        _fail_with_pages(path, tmp_path, f"text below {MIN_FONT_PT} pt: {small[:10]}")
    assert min(size for page in sizes for size, _ in page) >= MIN_FONT_PT


def test_no_two_words_overlap(case, tmp_path):
    _, path = case
    pages = words(path)
    assert pages and all(len(p) > 50 for p in pages)
    bad = [(n + 1, a.text, b.text) for n, page in enumerate(pages) for a, b in overlaps(page)]
    if bad:
        _fail_with_pages(path, tmp_path, f"overlapping words (page, word, word): {bad[:10]}")


def test_footer_on_every_page(case):
    rep, path = case
    from pypdf import PdfReader

    n = len(PdfReader(path).pages)
    for number in range(1, n + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), "-layout", str(path), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        footer = _flat(text.strip().splitlines()[-1])
        for part in (
            rep.account,
            rep.month_name,
            rep.timezone,
            f"data as of {rep.as_of:%Y-%m-%d %H:%M}",
            f"page {number} of {n}",
        ):
            assert part in footer, (number, part, footer)


def test_every_figure_as_the_report_formats_it(case):
    rep, path = case
    f = rep.formats
    text = pdftotext(path)
    flat = _flat(pdftotext(path, layout=False))
    for row in rep.operations.itertuples(index=False):
        for shown in (
            row.operation,
            f.credits(row.credits),
            f.share(row.share_display),
            f.credits(row.previous_credits),
            f.change(row.change),
            f.signed_pct(row.change_pct),
            f.credits(row.yoy_credits),
            f.signed_pct(row.yoy_change_pct),
        ):
            assert shown in text, (row.operation, shown)
        assert (f.money(row.estimated_cost) if row.priced else "unpriced") in text
    for shown in (
        f.credits(rep.total),
        f.change(rep.change),
        f.signed_pct(rep.change_pct),
        f.money(rep.estimated_cost),
        f.signed_pct(rep.yoy_change_pct),
        f.credits(rep.yoy_total),
        f.money(rep.largest_cost),
        "100.0%",
    ):
        assert shown in text, shown
    for bar in rep.bridge.itertuples(index=False):
        assert (
            f.credits(bar.value) if bar.kind in ("start", "end") else f.change(bar.value)
        ) in text
    for sentence in rep.narrative:
        assert _flat(sentence) in flat, sentence
    if not rep.complete:
        assert "Projected month end" in text and f.projection(rep.projection) in text
    # Whole credits in the sample: no false precision anywhere.
    assert f.credit_decimals == 0 and f"{rep.total:,.2f}" not in text


def test_each_note_once(case):
    rep, path = case
    flat = _flat(pdftotext(path, layout=False))
    expected = 1 if "unattributed" in set(rep.operations["operation"]) else 0
    assert flat.count("'unattributed' is the API's total minus") == expected
    for note in rep.notes:
        assert flat.count(_flat(note)) == 1, note


def test_importing_the_module_leaves_the_backend_alone():
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import generect_reports.render.pdf.document, generect_reports.render.email.message\n"
        "import generect_reports as g\n"
        "from generect_reports.render.pdf.document import render_pdf\n"
        "render_pdf(g.build_report(g.load_sample(), '2026-10'))\n"
        "print(matplotlib.get_backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
    from pathlib import Path

    source = Path(pdf.__file__).read_text(encoding="utf-8")
    assert "matplotlib.use(" not in source
    assert "import pyplot" not in source and "matplotlib.pyplot" not in source


def _summary_figure(rep):
    with matplotlib.rc_context(pdf._rc(rep)):
        page = pdf._page_summary(rep)
        page.canvas.draw()
    return page


def test_history_legend_in_stacking_order_and_labels_below_the_top(sample):
    rep = g.build_report(sample, "2026-03")
    page = _summary_figure(rep)
    (ax,) = [a for a in page.fig.axes if a.get_legend() is not None]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [str(op) for op in rep.monthly.index][::-1]  # top entry = top segment
    renderer = page.renderer
    top = ax.get_window_extent(renderer).y1
    totals = [t for t in ax.texts]
    assert len(totals) == len(rep.monthly.columns)
    boxes = [t.get_window_extent(renderer) for t in totals]
    assert all(b.y1 < top for b in boxes)  # headroom: no label reaches the title above the axes
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_daily_chart_marks_the_anomaly_on_its_own_segment(sample):
    from matplotlib.patches import Rectangle

    rep = g.build_report(sample, "2026-10")
    with matplotlib.rc_context(pdf._rc(rep)):
        page = pdf._page_days(rep)
    (ax,) = [a for a in page.fig.axes if a.get_legend() is not None]
    bars = [p for c in ax.containers for p in c.patches]
    assert len(ax.containers) == rep.daily_matrix.shape[1]
    assert len(bars) == rep.daily_matrix.size  # stacked bars, one per day and operation
    marks = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    (anomaly,) = rep.anomalies.itertuples(index=False)
    (mark,) = marks
    mat = rep.daily_matrix
    day = list(mat.index.date).index(anomaly.day)
    ops = list(mat.columns)
    below = float(np.clip(mat.iloc[day, : ops.index(anomaly.operation)], 0, None).sum())
    assert mark.get_y() == pytest.approx(below)
    assert mark.get_height() == pytest.approx(anomaly.credits)
    assert mark.get_x() + mark.get_width() / 2 == pytest.approx(day)


def test_edge_months_keep_the_layout(tmp_path):
    """A first month (nothing to compare), a short partial month and odd operation names."""
    rows = [(f"2026-05-{d:02d}", "cost$x$y", 3.25) for d in range(1, 11)] + [
        ("2026-05-03", "=1+1", 1.0)
    ]
    rep = g.build_report(frame(rows, fetched_at="2026-05-11 09:30"), "2026-05")
    path = tmp_path / "edge.pdf"
    path.write_bytes(render_pdf(rep))
    sizes = font_sizes(path)
    assert min(s for page in sizes for s, _ in page) >= MIN_FONT_PT
    bad = [(a.text, b.text) for page in words(path) for a, b in overlaps(page)]
    if bad:
        _fail_with_pages(path, tmp_path, f"overlapping words: {bad[:10]}")
    text = pdftotext(path)
    assert "cost$x$y" in text and "=1+1" in text and "n/a" in text
    assert (
        rep.formats.credits(rep.total) == "33.50" and "33.50" in text
    )  # fractional credits: two decimals
