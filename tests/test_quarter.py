"""The quarter report: figures tied to the daily data, like-for-like for a quarter in progress,
and its workbook recalculated by LibreOffice to the stored values."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import openpyxl
import pytest
from support import run_cli, soffice_recalculate

from generect_reports import load_sample
from generect_reports.analysis.calendar import FiscalCalendar
from generect_reports.analysis.pricing import load_prices, money_cents, to_hundredths
from generect_reports.errors import InputError
from generect_reports.render.xlsx.quarter import write_quarter_workbook
from generect_reports.reports.monthly import build_report
from generect_reports.reports.quarterly import build_quarter_report, quarter_window

APRIL = FiscalCalendar.create(4)


def _sum(frame, first, last, op=None):
    day = frame["period"]
    mask = (day >= first) & (day <= last)
    if op is not None:
        mask &= frame["operation"] == op
    return float(frame.loc[mask, "credits"].sum())


@pytest.fixture(scope="module")
def fy27q1():
    first, last = quarter_window("FY2027-Q1", APRIL)
    assert (first, last) == (dt.date(2025, 4, 1), dt.date(2026, 6, 30))
    return build_quarter_report(load_sample(first, last), "FY2027-Q1", calendar=APRIL)


def test_fiscal_april_quarter_figures(fy27q1, sample):
    rep = fy27q1
    assert (rep.label, rep.previous_label, rep.last_year_label) == (
        "FY2027-Q1",
        "FY2026-Q4",
        "FY2026-Q1",
    )
    assert rep.months == ["2026-04", "2026-05", "2026-06"] and rep.complete
    assert rep.total == _sum(sample, "2026-04-01", "2026-06-30")
    assert rep.previous_total == _sum(sample, "2026-01-01", "2026-03-31")
    assert rep.last_year_total == _sum(sample, "2025-04-01", "2025-06-30")
    # months side by side add up to the quarter, per operation and in total
    bm = rep.by_month.set_index("operation")
    assert (bm[rep.months].sum(axis=1) == bm["total"]).all()
    assert bm.loc["search_database", "2026-05"] == _sum(
        sample, "2026-05-01", "2026-05-31", "search_database"
    )
    assert to_hundredths([bm["total"].sum()])[0] == to_hundredths([rep.total])[0]
    # money: each line rounded once, the total is the sum of the lines
    prices = load_prices()
    cmp = rep.comparison.set_index("operation")
    assert (
        cmp.loc["phone_find", "estimated_cost"]
        == money_cents(cmp.loc["phone_find", "credits"] * prices["phone_find"]) / 100
    )
    assert money_cents(rep.estimated_cost) == sum(money_cents(c) for c in cmp["estimated_cost"])
    assert math.isclose(
        cmp.loc["preview", "yoy_change_pct"],
        cmp.loc["preview", "yoy_change"] / cmp.loc["preview", "last_year_credits"],
    )


def test_drivers_explain_the_change(fy27q1):
    drivers = fy27q1.drivers
    assert list(drivers["operation"])[0] == "search_database"
    assert (drivers["change"].abs().diff().dropna() <= 0).all()  # largest first
    total_change = fy27q1.total - fy27q1.previous_total
    assert np.allclose(drivers["share_of_change"], drivers["change"] / total_change)
    assert set(drivers["direction"]) <= {"up", "down", "flat"}


def test_quarter_in_progress_is_like_for_like(sample):
    rep = build_quarter_report(load_sample("2025-10-01", "2026-10-31"), "FY2027-Q3", calendar=APRIL)
    assert not rep.complete and rep.elapsed_days == 31 and rep.days_in_quarter == 92
    assert rep.total == _sum(sample, "2026-10-01", "2026-10-31")
    assert rep.previous_total == _sum(sample, "2026-07-01", "2026-07-31")
    assert rep.last_year_total == _sum(sample, "2025-10-01", "2025-10-31")
    assert "like for like" in rep.comparison_basis


def test_no_data_a_year_earlier_is_not_zero():
    rep = build_quarter_report(load_sample("2025-01-01", "2025-03-31"), "2025-Q1")
    assert math.isnan(rep.last_year_total) and math.isnan(rep.previous_total)
    assert rep.comparison["yoy_change_pct"].isna().all()
    assert any("no figures for 2024-Q4 or 2024-Q1" in n for n in rep.notes)
    with pytest.raises(InputError, match="no data yet"):
        build_quarter_report(load_sample("2026-01-01", "2026-03-31"), "FY2027-Q2", calendar=APRIL)


@pytest.mark.libreoffice
def test_workbook_recalculates_to_the_stored_values(fy27q1, tmp_path):
    path = tmp_path / "q.xlsx"
    write_quarter_workbook(fy27q1, path)
    stored = openpyxl.load_workbook(path, data_only=True)
    assert stored.sheetnames[0] == "Summary" and set(stored.sheetnames) == {
        "Summary",
        "Months",
        "Comparison",
        "Drivers",
    }
    recalculated = openpyxl.load_workbook(soffice_recalculate(path, tmp_path), data_only=True)
    formulas = openpyxl.load_workbook(path)
    checked = 0
    for name in ("Summary", "Months", "Comparison"):
        for row in formulas[name].iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    want = stored[name][cell.coordinate].value
                    got = recalculated[name][cell.coordinate].value
                    if isinstance(want, float) or isinstance(got, float):
                        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9), (
                            name,
                            cell.coordinate,
                        )
                    else:
                        assert got == want or (got in (None, "") and want in (None, "")), (
                            name,
                            cell.coordinate,
                        )
                    checked += 1
    assert checked > 60
    summary = stored["Summary"]
    assert summary["A1"].value == "Generect credit usage — FY2027-Q1"
    assert summary["B4"].value == fy27q1.total and summary["B5"].value == fy27q1.previous_total
    assert summary["B9"].value == fy27q1.estimated_cost


def test_report_quarter_cli(tmp_path):
    target = tmp_path / "q.xlsx"
    out = run_cli(
        "report",
        "--sample",
        "--quarter",
        "FY2027-Q1",
        "--fiscal-year-start",
        "4",
        "--xlsx",
        str(target),
    )
    assert out.returncode == 0, out.stderr
    assert openpyxl.load_workbook(target, data_only=True)["Summary"]["A1"].value.endswith(
        "FY2027-Q1"
    )
    default = run_cli("report", "--sample", "--quarter", "2026-Q2", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert (tmp_path / "generect-usage-2026-Q2.xlsx").is_file()
    assert "2026-Q2" in _pdf_text(tmp_path / "generect-usage-2026-Q2.pdf")
    for args, needle in (
        (["--quarter", "2026-Q5"], "invalid quarter"),
        (["--quarter", "2026-Q2", "--month", "2026-05"], "not both"),
        (["--quarter", "2026-Q3", "--fiscal-year-start", "2"], "does not line up"),
    ):
        bad = run_cli("report", "--sample", *args, cwd=tmp_path)
        assert bad.returncode == 2 and needle in bad.stderr, bad.stderr


def _pdf_text(path) -> str:
    import subprocess

    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_quarter_pdf_page(fy27q1, tmp_path):
    from generect_reports.render.pdf.quarter import render_quarter_pdf, write_quarter_pdf

    path = tmp_path / "q.pdf"
    write_quarter_pdf(fy27q1, path)
    text = _pdf_text(path)
    for needle in (
        "Generect credit usage · FY2027-Q1",
        "FY2026-Q4",
        "FY2026-Q1",
        "80,104",
        "71,004",
        "55,950",
        "$1,859.99",
        "2026-04",
        "2026-05",
        "2026-06",
        "search_database",
        "+12.8%",
        "+43.2%",
    ):
        assert needle in text, needle
    assert render_quarter_pdf(fy27q1) == path.read_bytes()  # reruns are byte-identical
    fonts = subprocess_fonts(path)
    assert "TrueType" in fonts and "Type 3" not in fonts


def subprocess_fonts(path) -> str:
    import subprocess

    return subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout


def test_quarter_page_text_is_at_least_8pt(fy27q1):
    from matplotlib.text import Text

    from generect_reports.render.pdf.quarter import quarter_page

    fig = quarter_page(fy27q1)
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert texts and min(t.get_fontsize() for t in texts) >= 8


def test_quarter_email_sentences(fy27q1):
    from generect_reports.reports.quarterly import quarter_summary

    lines = quarter_summary(fy27q1)
    assert lines[0].startswith("FY2027-Q1 (01 Apr 2026 to 30 Jun 2026): 80,104 credits")
    assert "Against FY2026-Q4: +9,100 credits (+12.8%)." in lines
    assert "Against FY2026-Q1: +24,154 credits (+43.2%)." in lines
    assert "Largest driver: search_database (+2,355 credits)." in lines
    progress = build_quarter_report(
        load_sample("2025-10-01", "2026-10-31"), "FY2027-Q3", calendar=APRIL
    )
    assert any("in progress" in line for line in quarter_summary(progress))


def test_email_sends_the_quarter_report(tmp_path):
    import email
    import email.policy
    import io

    import openpyxl
    from support import run_cli

    eml = tmp_path / "q.eml"
    out = run_cli(
        "email",
        "--sample",
        "--quarter",
        "FY2027-Q1",
        "--fiscal-year-start",
        "4",
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
    from generect_reports import build_quarter_report, load_sample
    from generect_reports.analysis.calendar import FiscalCalendar
    from generect_reports.reports.quarterly import quarter_summary

    rep = build_quarter_report(load_sample(), "FY2027-Q1", calendar=FiscalCalendar(start_month=4))
    assert msg["Subject"].startswith(f"Generect usage FY2027-Q1: {rep.total:,.0f} credits")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for line in quarter_summary(rep):
        assert line in text
        assert line.replace("&", "&amp;") in html
    assert 'name="viewport"' in html
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(files) == {"generect-usage-FY2027-Q1.xlsx", "generect-usage-FY2027-Q1.pdf"}
    wb = openpyxl.load_workbook(io.BytesIO(files["generect-usage-FY2027-Q1.xlsx"]), data_only=True)
    assert wb.sheetnames[0] == "Summary"
    assert files["generect-usage-FY2027-Q1.pdf"][:5] == b"%PDF-"


def test_email_refuses_month_and_quarter_together(tmp_path):
    from support import run_cli

    out = run_cli(
        "email",
        "--sample",
        "--quarter",
        "2026-Q3",
        "--month",
        "2026-09",
        "--to",
        "a@example.com",
        "--from",
        "b@example.com",
        "--dry-run",
        str(tmp_path / "q.eml"),
    )
    assert out.returncode == 2 and "either --month or --quarter" in out.stderr
    assert not (tmp_path / "q.eml").exists()


def test_quarter_cost_is_the_sum_of_its_months(tmp_path):
    """Money is booked by month: a quarter's line is its three monthly cost lines added, each
    rounded once as the monthly report rounds it (3 × $0.005 is 3 × $0.01 = $0.03, where
    rounding the quarter once said $0.02), so the quarter ties to its monthly reports."""
    from helpers import frame

    from generect_reports.theme import load_theme

    usage = frame(
        [("2026-07-01", "a", 1.0), ("2026-08-01", "a", 1.0), ("2026-09-30", "a", 1.0)],
        fetched_at="2026-10-01",
    )
    usage.attrs.update({"start": "2026-07-01", "end": "2026-09-30"})
    (tmp_path / "prices.toml").write_text("[prices]\na = 0.005\n")
    theme = load_theme(tmp_path)
    rep = build_quarter_report(usage, "2026-Q3", theme=theme)
    assert rep.estimated_cost == 0.03
    assert rep.comparison.set_index("operation").at["a", "estimated_cost"] == 0.03
    months = rep.cost_by_month.set_index("operation")
    assert months.loc["a", ["2026-07", "2026-08", "2026-09"]].tolist() == [0.01, 0.01, 0.01]
    assert months.loc["a", "total"] == 0.03
    for month in ("2026-07", "2026-08", "2026-09"):
        assert build_report(usage, month, theme=theme).estimated_cost == months.at["a", month]


def test_a_running_quarter_is_projected_to_its_end_in_every_artefact(tmp_path):
    from generect_reports.analysis.forecast import period_forecast
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.render.pdf.quarter import write_quarter_pdf
    from generect_reports.reports.assemble import ReportSettings, quarter_report
    from generect_reports.reports.formats import format_number

    rep = quarter_report(SampleSource(), "FY2027-Q3", ReportSettings(calendar=APRIL)).report
    forecast = rep.forecast
    assert not rep.complete and forecast is not None and forecast.label == rep.label
    # The quarter so far is the report's own total; the projection reads the same days.
    assert forecast.used == rep.total and forecast.elapsed_days == rep.elapsed_days
    usage = load_sample("2024-09-01", "2026-10-31")
    direct = period_forecast(usage, "quarter", calendar=APRIL, as_of="2026-11-01T00:00")
    assert forecast.to_dict() == direct.to_dict()
    low, high = forecast.interval_80
    assert rep.total <= low <= forecast.projected <= high
    shown = format_number(forecast.projected, 0)
    assert rep.notes[-1].startswith(
        f"Quarter-end projection {shown} credits on 31 Dec 2026, 80% interval "
        f"{format_number(low, 0)} to {format_number(high, 0)}"
    )
    assert "past quarter(s)" in rep.notes[-1]
    write_quarter_pdf(rep, tmp_path / "q.pdf")
    text = _pdf_text(tmp_path / "q.pdf")
    assert "Projected quarter end" in text and shown in text
    assert f"{format_number(low, 0)}–{format_number(high, 0)} at 80%" in text
    write_quarter_workbook(rep, tmp_path / "q.xlsx")
    summary = openpyxl.load_workbook(tmp_path / "q.xlsx")["Summary"]
    figures = {r[0]: r[1] for r in summary.iter_rows(values_only=True) if r[0]}
    # Numbers, stored to Excel's 15 significant digits.
    assert figures["Quarter-end projection (estimate)"] == pytest.approx(forecast.projected)
    assert figures["Quarter-end projection, 80% low"] == pytest.approx(low, rel=1e-14)
    assert figures["Quarter-end projection, 80% high"] == pytest.approx(high, rel=1e-14)
    assert rep.notes[-1] in figures  # the sentence with its measured accuracy


def test_a_closed_quarter_has_no_projection():
    from generect_reports.fetch.sample import SampleSource
    from generect_reports.reports.assemble import ReportSettings, quarter_report

    rep = quarter_report(SampleSource(), "FY2027-Q2", ReportSettings(calendar=APRIL)).report
    assert rep.complete and rep.forecast is None
    assert not any("projection" in n for n in rep.notes)
