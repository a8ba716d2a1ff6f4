"""Every document in one visual system, exceptions first: the monthly PDF's pages read back with
poppler and pypdf (titles, type sizes, number formats, axes, legends), and the exceptions block
built once from the report's figures."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from pdfcheck import font_sizes, overlaps, pdftotext, words

import generect_reports as g
from generect_reports.fetch.source import open_source
from generect_reports.render.pdf.document import bridge_limits, render_pdf
from generect_reports.reports import assemble
from generect_reports.reports.exceptions import (
    NOTHING_TO_REPORT,
    exception_lines,
    report_exceptions,
)


@pytest.fixture(scope="module")
def october(tmp_path_factory):
    """The sample's October 2026 with every section, and its PDF."""
    rep = assemble.monthly_report(open_source(sample=True), "2026-10")
    path = tmp_path_factory.mktemp("docs") / "october.pdf"
    path.write_bytes(render_pdf(rep))
    return rep, path


def _pages(path):
    return [" ".join(page.split()) for page in pdftotext(path).split("\f") if page.strip()]


def test_every_page_opens_with_the_same_title_and_subtitle(october):
    rep, path = october
    sizes = font_sizes(path)
    assert len(sizes) == 6
    subtitles = (
        "Monthly usage report: ",
        "Operations: ",
        "The month day by day",
        "Plan limit and budgets: ",
        "Reconciliation: ",
        "By customer: ",
    )
    for number, (shown, subtitle) in enumerate(zip(sizes, subtitles), start=1):
        titles = [text for size, text in shown if abs(size - 16) < 0.01]
        assert titles == ["Generect credit usage · October 2026"], number
        assert any(abs(size - 10) < 0.01 and text.startswith(subtitle) for size, text in shown)
    for page in _pages(path):
        assert "· 2026-10" not in page and "Reconciliation: October" not in page


def test_one_number_format_on_every_page(october):
    """Whole credits without decimals, the theme's currency symbol, no API paths in notes."""
    _, path = october
    text = " ".join(_pages(path))
    assert "33,441.00" not in text and " USD" not in text and "/me/" not in text
    assert "$816.15" in text
    for number, page in enumerate(words(path), start=1):
        bare = [w.text for w in page if re.fullmatch(r"\d{4,}", w.text)]
        assert all(2000 <= int(b) <= 2099 for b in bare), (number, bare)


def test_section_pages_use_the_table_and_block_styles_of_pages_one_to_three(october):
    _, path = october
    sizes = font_sizes(path)
    for number in (4, 5, 6):
        shown = dict((text, size) for size, text in sizes[number - 1])
        block_titles = [t for t, s in shown.items() if abs(s - 10.5) < 0.01]
        assert block_titles, number
        assert all(size >= 8 - 1e-6 for size, _ in sizes[number - 1])
    reconciliation = _pages(path)[4]
    assert "Reversed (ledger status error) 418.33" in reconciliation
    assert "reversed (ledger status error) -161.08 charged, then reversed" in reconciliation
    for number, page in enumerate(words(path), start=1):
        assert not overlaps(page), number


def test_bridge_axis_starts_at_zero_or_marks_its_break(october):
    rep, path = october
    start, end = bridge_limits(rep.bridge)
    assert 0 < start <= 29_874 and end > 33_441
    assert "the axis starts at 27,000 (broken)" in _pages(path)[1]
    big_steps = pd.DataFrame(
        {
            "label": ["before", "a", "after"],
            "kind": ["start", "step", "end"],
            "value": [1_000.0, 2_000.0, 3_000.0],
            "bottom": [0.0, 1_000.0, 0.0],
            "top": [1_000.0, 3_000.0, 3_000.0],
        }
    )
    assert bridge_limits(big_steps)[0] == 0


def test_burnup_legend_sits_below_the_plot(october):
    _, path = october
    page = words(path)[3]
    legend = next(w for w in page if w.text == "(actual)")
    title = next(w for w in page if w.text == "Burn-up:")
    ticks = [w for w in page if w.text == "Oct" and title.y1 < w.y0 < legend.y0 + 1]
    assert len(ticks) >= 5
    assert all(t.y1 <= legend.y0 for t in ticks)
    limit = next(w for w in page if w.text == "30,000" and w.y0 > title.y1)
    assert limit.y0 >= legend.y0 - 1  # the limit's legend entry, not a label on the line


def test_exceptions_open_page_one(october):
    rep, path = october
    first = _pages(path)[0]
    block = first.index("Exceptions and actions")
    assert block < first.index("October 2026 used 33,441 credits")
    for line in exception_lines(rep):
        assert " ".join(line.split()[:6]) in first


def test_exceptions_cover_limit_customer_fees_and_reversals(october):
    rep, _ = october
    found = report_exceptions(rep)
    assert [e.kind for e in found] == ["limit", "customer", "reversed", "new_charge"]
    assert [e.alert for e in found] == [True, True, False, False]
    assert found[0].text == (
        "Over the plan limit: 33,441 credits used against 30,000 credits (111.5%), "
        "reached on 28 Oct 2026."
    )
    assert found[1].text.startswith("Failing customer integration, hooli: 92% of requests failed")
    # billed what its requests prove (533 of 3,500 estimated email_find successes), not 2,539.69
    assert "billed its proven lower bound, 2,288.05 credits under review" in found[1].text
    assert "251.64 credits are allocated to it" in found[1].text
    assert found[2].text.startswith("418.33 credits reversed (ledger status error)")
    assert "unattributed), 550 credits; none in September 2026" in found[3].text


def test_a_quiet_month_says_so_in_one_line():
    rep = g.build_report(g.load_sample(), "2026-03")
    assert report_exceptions(rep) == []
    assert exception_lines(rep) == [NOTHING_TO_REPORT]


def test_a_running_month_projected_over_the_limit_is_an_exception():
    rep = assemble.monthly_report(
        open_source(sample=True),
        "2026-10",
        assemble.ReportSettings(as_of="2026-10-20 12:00", reconcile=False, chargeback=False),
    )
    limit = [e for e in report_exceptions(rep) if e.kind == "limit"]
    assert len(limit) == 1 and limit[0].alert
    assert limit[0].text.startswith("Projected over the plan limit: ")
    assert "an estimate" in limit[0].text


# --------------------------------------------------------------------------- the workbook


@pytest.fixture(scope="module")
def october_book(october, tmp_path_factory):
    from generect_reports.render.xlsx.workbook import render_workbook

    rep, _ = october
    path = tmp_path_factory.mktemp("book") / "october.xlsx"
    path.write_bytes(render_workbook(rep))
    return path


def test_sheets_in_reading_order_and_every_sheet_set_up_for_print(october_book):
    import openpyxl

    wb = openpyxl.load_workbook(october_book)
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
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.paperSize == 9, ws.title  # the theme's A4 everywhere
        assert setup.orientation in ("portrait", "landscape"), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert setup.fitToWidth in (None, 1), ws.title  # one page wide
        assert "Page &P of &N" in ws.oddFooter.center.text, ws.title
        assert ws.oddHeader.left.text, ws.title
    assert wb["Ledger"].print_title_rows == "$1:$1"
    for appendix in ("Daily", "Ledger"):  # in the book, not in its default print
        assert wb[appendix].print_area == f"'{appendix}'!$XFD$1"


def test_every_sheet_title_and_table_header_in_the_theme_style(october, october_book):
    import openpyxl

    rep, _ = october
    primary = "FF" + rep.theme.colors["primary"]
    size = float(rep.theme.fonts["title_size"])
    wb = openpyxl.load_workbook(october_book)
    for ws in wb.worksheets:
        if ws.title in ("Daily", "Ledger"):  # appendices: a table from the first row
            continue
        title = ws["A1"]
        assert title.font.b and title.font.sz == size, ws.title
        assert title.font.color.rgb == primary, ws.title
        assert title.value.endswith(("October 2026", ")", "workbook")), ws.title
        assert "· 2026-10" not in title.value, ws.title
    fill = "FF" + rep.theme.colors["header_fill"]
    for name, label in (("Budget", "Line"), ("Reconciliation", "Operation")):
        ws = wb[name]
        cell = next(c for row in ws.iter_rows() for c in row if c.value == label)
        assert cell.fill.fgColor.rgb == fill, name


def test_summary_opens_with_the_exceptions_and_its_check_has_one_live_result(october, october_book):
    import openpyxl

    rep, _ = october
    ws = openpyxl.load_workbook(october_book)["Summary"]
    column = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    block = column.index("Exceptions and actions")
    assert block < column.index("In brief")
    lines = [text.removeprefix("• ") for text in column[block + 1 : block + 5]]
    assert lines == exception_lines(rep)
    row = column.index("Check: the sheets agree") + 1
    assert ws.cell(row, 2).value.text.startswith("=IF(AND(")
    detail = ws.cell(row, 3).value
    assert detail.startswith(f'=IF(B{row}="OK",') and "FAIL" not in detail


@pytest.mark.libreoffice
def test_monthly_workbook_prints_in_at_most_twelve_pages(october_book, tmp_path):
    from pypdf import PdfReader
    from support import soffice_recalculate

    printed = soffice_recalculate(october_book, tmp_path, to="pdf")
    assert len(PdfReader(printed).pages) <= 12
    text = pdftotext(printed)
    assert "Ledger transactions" not in text and "txn_" not in text  # the appendix stays out
    assert "Page 1 of " in text


# --------------------------------------------------------------------------- the email


def test_email_opens_with_preheader_exceptions_then_figures(october):
    from html.parser import HTMLParser

    from generect_reports.render.email.message import build_message

    rep, _ = october
    msg = build_message(rep, to=["a@example.com"], sender="r@example.com")
    html = msg.get_body(("html",)).get_content()

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.hidden_text: list[str] = []
            self.order: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.stack.append(attrs.get("style") or "")
            if attrs.get("id"):
                self.order.append(attrs["id"])

        def handle_endtag(self, tag):
            if self.stack:
                self.stack.pop()

        def handle_data(self, data):
            if data.strip() and any("display:none" in s for s in self.stack):
                self.hidden_text.append(data.strip())

    reader = Reader()
    reader.feed(html)
    preview = " ".join(reader.hidden_text)
    assert preview.startswith("33,441 credits (+11.9% vs September), estimated cost $816.15")
    assert "2 exceptions need action." in preview
    assert reader.order[:2] == ["exceptions", "kpis"]
    assert html.index('id="kpis"') < html.index("October 2026 used 33,441 credits")
    assert html.index("Over the plan limit") < html.index('id="kpis"')
    # the method moves to the PDF: one pointer, not the paragraph
    assert "Successful requests per endpoint are estimated" not in html
    assert "How they are made is explained in the PDF." in html
    text = msg.get_body(("plain",)).get_content()
    assert text.index("Exceptions and actions") < text.index("Credits this month:")
    assert text.index("Credits this month:") < text.index("October 2026 used 33,441 credits")


# --------------------------------------------------------------------------- the quarter pack


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    from generect_reports.render.pdf.quarter import render_quarter_pdf
    from generect_reports.render.xlsx.quarter import write_quarter_workbook

    result = assemble.quarter_report(open_source(sample=True), "2026-Q3")
    folder = tmp_path_factory.mktemp("quarter")
    (folder / "q.pdf").write_bytes(render_quarter_pdf(result.report, colors=result.colors))
    write_quarter_workbook(result.report, folder / "q.xlsx")
    return result.report, folder


def test_quarter_columns_say_what_they_compare(quarter):
    rep, folder = quarter
    layout = pdftotext(folder / "q.pdf")
    head = next(line for line in layout.splitlines() if line.split()[:1] == ["Operation"])
    assert head.split()[1:] == [
        "2026-Q3",
        "2026-Q2",
        "vs",
        "2026-Q2",
        "2025-Q3",
        "vs",
        "2025-Q3",
    ] + [
        "Est.",
        "cost",
    ]
    text = " ".join(layout.split())
    assert "page 1 of 1" in text and "data as of" in text
    assert "unattributed 0 500 -100.0% 0 n/a unpriced" in text  # as the monthly report says
    titles = [t for size, t in font_sizes(folder / "q.pdf")[0] if abs(size - 16) < 0.01]
    assert titles == ["Generect credit usage · 2026-Q3"]
    import openpyxl

    wb = openpyxl.load_workbook(folder / "q.xlsx")
    heads = [c.value for c in wb["Comparison"][1]]
    assert "Change vs 2026-Q2" in heads and "Change % vs 2025-Q3" in heads
    assert len(set(heads)) == len(heads)
    assert wb["Comparison"]["B2"].number_format == "#,##0"  # whole credits, no decimals
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert "Page &P of &N" in ws.oddFooter.center.text, ws.title


def test_a_running_quarter_is_labelled_like_for_like():
    from generect_reports.reports.quarterly import quarter_headings

    result = assemble.quarter_report(
        open_source(sample=True), "2026-Q3", assemble.ReportSettings(as_of="2026-08-15 12:00")
    )
    rep = result.report
    assert not rep.complete
    previous, last_year = quarter_headings(rep)
    assert previous == f"2026-Q2 days 1-{rep.elapsed_days}"
    assert last_year == f"2025-Q3 days 1-{rep.elapsed_days}"


@pytest.mark.libreoffice
def test_quarter_workbook_prints_on_few_pages(quarter, tmp_path):
    from pypdf import PdfReader
    from support import soffice_recalculate

    _, folder = quarter
    printed = soffice_recalculate(folder / "q.xlsx", tmp_path, to="pdf")
    assert len(PdfReader(printed).pages) <= 4


# --------------------------------------------------------------------------- other workbooks


def _set_up_for_print(path):
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert "Page &P of &N" in ws.oddFooter.center.text, ws.title
        assert "October 2026" in ws.oddHeader.left.text, ws.title
    return wb


def test_reconciliation_and_chargeback_workbooks_are_set_up_for_print(tmp_path):
    from generect_reports.render.chargeback import render_chargeback_workbook
    from generect_reports.render.reconcile import render_xlsx

    source = open_source(sample=True)
    tied = assemble.reconciliation(source, "2026-10")
    (tmp_path / "r.xlsx").write_bytes(render_xlsx(tied.result, tied.ledger))
    wb = _set_up_for_print(tmp_path / "r.xlsx")
    assert wb["Ledger"].print_title_rows == "$1:$1"
    alloc = assemble.chargeback(source, "2026-10").allocation
    (tmp_path / "c.xlsx").write_bytes(render_chargeback_workbook(alloc))
    wb = _set_up_for_print(tmp_path / "c.xlsx")
    statement = wb["acme-corp"]
    facts = {row[0].value: row[1].value for row in statement.iter_rows(max_col=2)}
    assert facts["Period"] == "1–31 October 2026"
    assert "Window" not in facts


@pytest.mark.libreoffice
def test_the_crossing_date_follows_the_limit(october_book, tmp_path):
    """The Budget sheet's "Reaches it on" is a formula over the daily table: lowering the limit
    to 20,000 moves it from 28 Oct to 19 Oct (20,607 credits by then)."""
    import datetime as dt

    import openpyxl
    from support import soffice_recalculate

    wb = openpyxl.load_workbook(october_book)
    assert wb["Budget"]["J7"].value.startswith("=IFERROR(INDEX(")
    same = openpyxl.load_workbook(soffice_recalculate(october_book, tmp_path), data_only=True)
    assert same["Budget"]["J7"].value == dt.datetime(2026, 10, 28)
    wb["Budget"]["C7"].value = 20_000
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    again = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)
    assert again["Budget"]["J7"].value == dt.datetime(2026, 10, 19)


@pytest.mark.libreoffice
def test_a_residual_check_fails_when_a_reason_is_edited(october_book, tmp_path):
    """Residuals are formulas over the reason rows: editing a pending amount leaves a residual,
    and that operation's check, and the month's, read FAIL after recalculation."""
    import openpyxl
    from support import soffice_recalculate

    wb = openpyxl.load_workbook(october_book)
    ws = wb["Reconciliation"]
    rows = {(ws.cell(r, 1).value, ws.cell(r, 2).value): r for r in range(1, ws.max_row + 1)}
    op_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "email_find")
    assert ws.cell(op_row, 7).value.startswith("=ROUND(F")
    reason = rows[("email_find", "pending at month end")]
    ws.cell(reason, 3).value = -4.0  # was -4.11
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    back = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)
    rec = back["Reconciliation"]
    assert rec.cell(op_row, 7).value == pytest.approx(-0.11)
    assert rec.cell(op_row, 8).value == "FAIL"
    tie = next(r for r in range(1, 20) if rec.cell(r, 1).value == "Month ties to the ledger")
    assert rec.cell(tie, 2).value == "FAIL"


def test_no_statement_for_a_customer_with_nothing_to_bill_unless_asked(tmp_path):
    import openpyxl
    from support import run_cli

    for extra, expected in (
        ((), ["acme-corp", "initech", "token ____e5f1", "hooli"]),
        (
            ("--include-empty",),
            ["acme-corp", "initech", "token ____e5f1", "hooli", "Staging", "globex"],
        ),
    ):
        path = tmp_path / f"c{len(extra)}.xlsx"
        out = run_cli(
            "chargeback", "--sample", "--month", "2026-10", "--format", "xlsx",
            "--output", str(path), "-q", *extra,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert openpyxl.load_workbook(path).sheetnames == expected


def test_customer_statements_share_the_reports_visual_system(tmp_path, october):
    """A statement PDF reads back like the report's pages: the theme's embedded TrueType font,
    its title size for the heading, no type size the report does not use, one number format,
    and no word over another."""
    import subprocess

    from generect_reports.render.pdf.statement import render_statement_pdf
    from generect_reports.theme import load_theme

    theme = load_theme()
    report_sizes = {round(size, 2) for page in font_sizes(october[1]) for size, _ in page}
    _, built = assemble.statements(open_source(sample=True), "2026-10")
    assert built.statements
    for st in built.statements:
        path = tmp_path / f"{st.number}.pdf"
        path.write_bytes(render_statement_pdf(st))
        fonts = subprocess.run(
            ["pdffonts", str(path)], check=True, capture_output=True, text=True
        ).stdout.splitlines()[2:]
        family = theme.fonts["family"].replace(" ", "")
        assert fonts and all("TrueType" in f and " yes " in f for f in fonts), fonts
        assert all(family in f.split()[0] for f in fonts if "Noto" not in f), fonts
        for number, shown in enumerate(font_sizes(path), start=1):
            sizes = {round(size, 2) for size, _ in shown}
            assert sizes <= report_sizes, (
                st.number,
                number,
                sizes,
            )
        first = font_sizes(path)[0]
        titles = [t for size, t in first if abs(size - float(theme.fonts["title_size"])) < 0.01]
        assert titles == ["Statement of API usage · October 2026"], (st.number, titles)
        text = " ".join(_pages(path))
        assert " USD" not in text and "$" in text, st.number
        for number, page in enumerate(words(path), start=1):
            assert not overlaps(page), (st.number, number)
