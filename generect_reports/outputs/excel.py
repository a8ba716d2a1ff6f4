"""The monthly Excel workbook (live formulas, native charts) and the streamed tidy export.

Text that comes from the API is always written as text: openpyxl would store a string that
starts with ``=`` as a live formula, so such cells get the string type and the quote prefix.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from typing import TYPE_CHECKING, Any, Iterator

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, DoughnutChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.series import SeriesLabel
from openpyxl.formatting.rule import CellIsRule, DataBarRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from .._atomic import atomic_path, check_output_path
from ..analysis.usage import ANOMALY_RULE
from .export import FORMULA_PREFIXES

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from .report import MonthlyReport

__all__ = ["write_excel_report", "write_report_workbook", "write_usage_xlsx", "safe_text",
           "EXCEL_MAX_ROWS"]

EXCEL_MAX_ROWS = 1_048_576


def safe_text(cell: Any, text: str) -> None:
    """Store ``text`` as a string cell, never a formula (OWASP formula injection)."""
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True


class _Style:
    """Fonts, fills and number formats from the theme."""

    def __init__(self, rep: "MonthlyReport") -> None:
        t = rep.theme
        family = t.fonts.get("excel_family", "Calibri")
        size = float(t.fonts.get("size", 10)) + 1
        c = t.colors
        self.font = Font(name=family, size=size)
        self.bold = Font(name=family, size=size, bold=True)
        self.title = Font(name=family, size=float(t.fonts.get("title_size", 16)), bold=True, color=c.get("primary"))
        self.muted = Font(name=family, size=size - 1, italic=True, color=c.get("muted"))
        self.header_font = Font(name=family, size=size, bold=True, color=c.get("header_font", "FFFFFF"))
        self.header_fill = PatternFill("solid", fgColor=c.get("header_fill", "1F3A5F"))
        self.anomaly_fill = PatternFill("solid", fgColor=c.get("anomaly_fill", "FDEBD0"))
        self.increase = Font(name=family, size=size, color=c.get("increase", "C0392B"))
        self.decrease = Font(name=family, size=size, color=c.get("decrease", "1E8449"))
        self.total_border = Border(top=Side(style="thin"), bottom=Side(style="double"))
        f = t.formats
        self.credits = f.get("credits", "#,##0.00")
        self.percent = f.get("percent", "0.0%")
        self.currency = f.get("currency", "$#,##0.00")
        self.date = f.get("date", "yyyy-mm-dd")
        self.accent = c.get("accent", "2E86AB")
        self.paper = 9 if t.paper == "a4" else 1  # openpyxl PAPERSIZE_A4 / PAPERSIZE_LETTER


def _header(ws: "Worksheet", row: int, titles: list[str], st: _Style) -> None:
    for col, title in enumerate(titles, start=1):
        cell = ws.cell(row=row, column=col)
        safe_text(cell, title)
        cell.font = st.header_font
        cell.fill = st.header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _title(ws: "Worksheet", text: str, sub: str, st: _Style) -> None:
    safe_text(ws.cell(row=1, column=1), text)
    ws.cell(row=1, column=1).font = st.title
    safe_text(ws.cell(row=2, column=1), sub)
    ws.cell(row=2, column=1).font = st.muted


def _print_setup(ws: "Worksheet", st: _Style, header_row: int | None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = st.paper
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"


def _widths(ws: "Worksheet", widths: dict[str, float]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[col].width = width


def _define(wb: Workbook, name: str, sheet: str, ref: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(sheet)}!{ref}")


def _by_operation(wb: Workbook, rep: "MonthlyReport", st: _Style) -> dict[str, str]:
    ws = wb.create_sheet("By operation")
    basis = rep.comparison_basis
    _title(ws, f"Credits by operation — {rep.month_name}", f"Change basis: {basis}. Cost is an estimate.", st)
    head = 4
    prev_title = "Previous" if rep.complete else f"Previous (days 1–{rep.elapsed_days})"
    titles = ["Operation", "Credits", "Share", prev_title, "Change", "Change %", "Price (est.)", "Estimated cost"]
    if not rep.complete:
        titles.insert(3, f"Credits (days 1–{rep.elapsed_days})")
    _header(ws, head, titles, st)
    table = rep.operations
    first = head + 1
    last = head + len(table)
    total_row = last + 1
    cols = {t: get_column_letter(i) for i, t in enumerate(titles, start=1)}
    B, C = cols["Credits"], cols["Share"]
    D = cols[prev_title]
    cmp_col = cols.get(f"Credits (days 1–{rep.elapsed_days})", B) if not rep.complete else B
    E, F, G, H = cols["Change"], cols["Change %"], cols["Price (est.)"], cols["Estimated cost"]
    for i, row in enumerate(table.itertuples(index=False), start=first):
        safe_text(ws[f"A{i}"], str(row.operation))
        ws[f"{B}{i}"] = float(row.credits)
        ws[f"{C}{i}"] = f'=IF(${B}${total_row}=0,"",{B}{i}/${B}${total_row})'
        if not rep.complete:
            ws[f"{cmp_col}{i}"] = float(row.compared_credits)
        ws[f"{D}{i}"] = float(row.previous_credits)
        ws[f"{E}{i}"] = f"={cmp_col}{i}-{D}{i}"
        ws[f"{F}{i}"] = f'=IF({D}{i}=0,"",{E}{i}/{D}{i})'
        ws[f"{G}{i}"] = float(row.price)
        ws[f"{H}{i}"] = f"=ROUND({B}{i}*{G}{i},2)"
    safe_text(ws[f"A{total_row}"], "Total")
    for col in [B, C, D, E, H] + ([cmp_col] if not rep.complete else []):
        ws[f"{col}{total_row}"] = f"=SUM({col}{first}:{col}{last})" if last >= first else 0
    ws[f"{F}{total_row}"] = f'=IF({D}{total_row}=0,"",{E}{total_row}/{D}{total_row})'
    for col in cols.values():
        ws[f"{col}{total_row}"].font = st.bold
        ws[f"{col}{total_row}"].border = st.total_border
    for r in range(first, total_row + 1):
        for col in (B, D, E) + ((cmp_col,) if not rep.complete else ()):
            ws[f"{col}{r}"].number_format = st.credits
        ws[f"{C}{r}"].number_format = st.percent
        ws[f"{F}{r}"].number_format = st.percent
        ws[f"{G}{r}"].number_format = "$#,##0.000"
        ws[f"{H}{r}"].number_format = st.currency
    if last >= first:
        ws.conditional_formatting.add(f"{E}{first}:{F}{total_row}", CellIsRule(operator="greaterThan", formula=["0"], font=st.increase))
        ws.conditional_formatting.add(f"{E}{first}:{F}{total_row}", CellIsRule(operator="lessThan", formula=["0"], font=st.decrease))
        ws.conditional_formatting.add(f"{C}{first}:{C}{last}", DataBarRule(start_type="num", start_value=0, end_type="num", end_value=1, color=st.accent))
    ws.freeze_panes = f"B{first}"
    _widths(ws, {"A": 26, **{c: 16 for c in list(cols.values())[1:]}})
    _print_setup(ws, st, head)
    sheet = "By operation"
    refs = {"MonthTotal": f"${B}${total_row}", "PreviousTotal": f"${D}${total_row}",
            "ChangeCredits": f"${E}${total_row}", "ChangePct": f"${F}${total_row}",
            "EstimatedCost": f"${H}${total_row}"}
    for name, ref in refs.items():
        _define(wb, name, sheet, ref)
    ws.row_dimensions[head].height = 30
    return {"ops_first": str(first), "ops_last": str(last), "B": B, "total_row": str(total_row)}


def _monthly(wb: Workbook, rep: "MonthlyReport", st: _Style) -> tuple[Any, int, int, int]:
    ws = wb.create_sheet("Monthly")
    months = list(rep.monthly.columns)
    _title(ws, f"Credits by month — last {len(months)} months to {rep.month_name}",
           "Operations × months; totals and month-over-month change are formulas.", st)
    head = 4
    _header(ws, head, ["Operation", *months, "Total"], st)
    first = head + 1
    last = head + len(rep.monthly)
    total_col = get_column_letter(len(months) + 2)
    for i, (op, values) in enumerate(rep.monthly.iterrows(), start=first):
        safe_text(ws.cell(row=i, column=1), str(op))
        for j, value in enumerate(values, start=2):
            ws.cell(row=i, column=j, value=float(value)).number_format = st.credits
        ws[f"{total_col}{i}"] = f"=SUM(B{i}:{get_column_letter(len(months) + 1)}{i})"
        ws[f"{total_col}{i}"].number_format = st.credits
        ws[f"{total_col}{i}"].font = st.bold
    tot, chg, pct = last + 1, last + 2, last + 3
    safe_text(ws[f"A{tot}"], "Total")
    safe_text(ws[f"A{chg}"], "Change vs previous month")
    safe_text(ws[f"A{pct}"], "Change %")
    for j in range(2, len(months) + 3):
        col = get_column_letter(j)
        ws[f"{col}{tot}"] = f"=SUM({col}{first}:{col}{last})"
        ws[f"{col}{tot}"].number_format = st.credits
        ws[f"{col}{tot}"].font = st.bold
        ws[f"{col}{tot}"].border = st.total_border
        if 3 <= j <= len(months) + 1:
            prev = get_column_letter(j - 1)
            ws[f"{col}{chg}"] = f"={col}{tot}-{prev}{tot}"
            ws[f"{col}{pct}"] = f'=IF({prev}{tot}=0,"",{col}{chg}/{prev}{tot})'
            ws[f"{col}{chg}"].number_format = st.credits
            ws[f"{col}{pct}"].number_format = st.percent
    if len(months) >= 2:
        rng = f"C{chg}:{get_column_letter(len(months) + 1)}{pct}"
        ws.conditional_formatting.add(rng, CellIsRule(operator="greaterThan", formula=["0"], font=st.increase))
        ws.conditional_formatting.add(rng, CellIsRule(operator="lessThan", formula=["0"], font=st.decrease))
    ws.freeze_panes = f"B{first}"
    _widths(ws, {"A": 26, **{get_column_letter(j): 12 for j in range(2, len(months) + 3)}})
    _print_setup(ws, st, head)
    return ws, head, first, last


def _daily(wb: Workbook, rep: "MonthlyReport", st: _Style) -> None:
    ws = wb.create_sheet("Daily")
    head = 1
    _header(ws, head, ["Date", "Period", "Operation", "Credits"], st)
    daily = rep.daily
    dates = daily["period_start"].dt.tz_localize(None).dt.normalize()
    for i, (day, period, op, credits) in enumerate(zip(dates, daily["period"], daily["operation"], daily["credits"]), start=2):
        ws.cell(row=i, column=1, value=day.to_pydatetime()).number_format = st.date
        safe_text(ws.cell(row=i, column=2), str(period))
        safe_text(ws.cell(row=i, column=3), str(op))
        ws.cell(row=i, column=4, value=float(credits)).number_format = st.credits
    last = max(len(daily) + 1, 2)
    if len(daily):
        table = Table(displayName="DailyUsage", ref=f"A1:D{last}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(table)
    ws.freeze_panes = "A2"
    _widths(ws, {"A": 12, "B": 12, "C": 26, "D": 14})
    _print_setup(ws, st, head)


def _anomalies(wb: Workbook, rep: "MonthlyReport", st: _Style) -> None:
    ws = wb.create_sheet("Anomalies")
    _title(ws, f"Anomalies — {rep.month_name}",
           ANOMALY_RULE[0].upper() + ANOMALY_RULE[1:] + ".", st)
    head = 4
    _header(ws, head, ["Day", "Operation", "Credits", "Baseline (median)", "Score (× MAD)"], st)
    if rep.anomalies.empty:
        safe_text(ws.cell(row=head + 1, column=1), "No anomalies flagged this month.")
    for i, row in enumerate(rep.anomalies.itertuples(index=False), start=head + 1):
        ws.cell(row=i, column=1, value=dt.datetime.combine(row.day, dt.time())).number_format = st.date
        safe_text(ws.cell(row=i, column=2), str(row.operation))
        ws.cell(row=i, column=3, value=float(row.credits)).number_format = st.credits
        ws.cell(row=i, column=4, value=float(row.baseline)).number_format = st.credits
        ws.cell(row=i, column=5, value=round(float(row.score), 2)).number_format = "0.00"
        for col in range(1, 6):
            ws.cell(row=i, column=col).fill = st.anomaly_fill
    ws.freeze_panes = f"A{head + 1}"
    _widths(ws, {"A": 12, "B": 26, "C": 14, "D": 18, "E": 14})
    _print_setup(ws, st, head)


def _about(wb: Workbook, rep: "MonthlyReport", st: _Style) -> None:
    from .report import fmt_credits

    ws = wb.create_sheet("About")
    _title(ws, "About this workbook", "How the figures were made.", st)
    rows = [
        ("Account", rep.account),
        ("Month", f"{rep.month_name} ({rep.month})"),
        ("Month complete", "yes" if rep.complete else f"no: {rep.elapsed_days} of {rep.days_in_month} days complete"),
        ("Source", rep.source_label),
        ("Timezone", rep.timezone),
        ("Data as of", rep.as_of.strftime("%Y-%m-%d %H:%M %Z")),
        ("Periods", "Days are local calendar days in the timezone above; months are calendar months; "
                    "weeks are ISO weeks (Monday to Sunday)."),
        ("Comparison", rep.comparison_basis),
        ("Like-for-like rule", rep.rule),
        ("unattributed", "The API's total credits minus its per-operation breakdown."),
        ("Estimated cost", rep.theme.text.get("estimate_note", "An estimate, not an invoice.") +
         f" Tier multiplier {rep.theme.tier_multiplier:g}."),
        ("Anomalies", ANOMALY_RULE[0].upper() + ANOMALY_RULE[1:] + "."),
        ("Negative credits", "none" if not (rep.daily["credits"] < 0).any() else
         f"yes: {int((rep.daily['credits'] < 0).sum())} row(s) with negative credits (refunds), kept as reported"),
        ("Month total", fmt_credits(rep.total)),
        ("Input checksum (SHA-256)", rep.checksum),
        ("Tool", f"generect-reports {rep.version}"),
    ]
    rows += [("Warning", w) for w in rep.warnings] + [("Note", n) for n in rep.notes]
    for i, (key, value) in enumerate(rows, start=4):
        safe_text(ws.cell(row=i, column=1), key)
        ws.cell(row=i, column=1).font = st.bold
        safe_text(ws.cell(row=i, column=2), str(value))
        ws.cell(row=i, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(row=i, column=1).alignment = Alignment(vertical="top")
    _widths(ws, {"A": 26, "B": 100})
    _print_setup(ws, st, None)


def _summary(wb: Workbook, rep: "MonthlyReport", st: _Style, ops: dict[str, str],
             monthly: tuple[Any, int, int, int]) -> None:
    ws = wb.active
    ws.title = "Summary"
    t = rep.theme.text
    _title(ws, f"{t.get('title', 'Generect credit usage')} — {rep.month_name}",
           f"{rep.account} · timezone {rep.timezone} · data as of {rep.as_of:%Y-%m-%d %H:%M}", st)
    B, first, last = ops["B"], ops["ops_first"], ops["ops_last"]
    sheet = quote_sheetname("By operation")
    kpis: list[tuple[str, Any, str | None]] = [
        ("Account", rep.account, None),
        ("Month", rep.month, None),
        ("Timezone", rep.timezone, None),
        ("Credits this month", "=MonthTotal", st.credits),
        ("Previous month" if rep.complete else f"Previous month, days 1–{rep.elapsed_days}", "=PreviousTotal", st.credits),
        ("Change", "=ChangeCredits", st.credits),
        ("Change %", "=ChangePct", st.percent),
        ("Top operation", f'=IF(MonthTotal=0,"",INDEX({sheet}!$A${first}:$A${last},MATCH(MAX({sheet}!${B}${first}:${B}${last}),{sheet}!${B}${first}:${B}${last},0)))', None),
        ("Estimated cost (estimate)", "=EstimatedCost", st.currency),
        ("Comparison", rep.comparison_basis, None),
    ]
    if not rep.complete:
        kpis.append(("Month-end projection (estimate)", round(float(rep.projection or 0.0), 2), st.credits))
        kpis.append(("Projection, weekday-aware (estimate)", round(float(rep.projection_weekday or 0.0), 2), st.credits))
        kpis.append(("Rule", rep.rule, None))
    for i, (label, value, fmt) in enumerate(kpis, start=4):
        safe_text(ws.cell(row=i, column=1), label)
        ws.cell(row=i, column=1).font = st.bold
        cell = ws.cell(row=i, column=2)
        if isinstance(value, str) and not value.startswith("="):
            safe_text(cell, value)
        else:
            cell.value = value  # our own formulas and numbers
        if fmt:
            cell.number_format = fmt
        cell.alignment = Alignment(horizontal="left")
    for w_i, text in enumerate(rep.warnings, start=4 + len(kpis) + 1):
        safe_text(ws.cell(row=w_i, column=1), "⚠ " + text)
        ws.cell(row=w_i, column=1).font = st.increase
    _widths(ws, {"A": 36, "B": 30})
    _define(wb, "TopOperation", "Summary", "$B$11")
    _print_setup(ws, st, None)

    mws, head, mfirst, mlast = monthly
    n_months = len(rep.monthly.columns)
    if mlast >= mfirst and n_months:
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "stacked"
        chart.overlap = 100
        chart.title = f"Credits by month and operation (last {n_months} months)"
        chart.y_axis.title = "Credits"
        chart.y_axis.numFmt = "#,##0"
        chart.y_axis.delete = False
        chart.x_axis.delete = False
        data = Reference(mws, min_col=1, max_col=n_months + 1, min_row=mfirst, max_row=mlast)
        chart.add_data(data, from_rows=True, titles_from_data=True)
        chart.set_categories(Reference(mws, min_col=2, max_col=n_months + 1, min_row=head, max_row=head))
        for series, op in zip(chart.series, rep.monthly.index):
            series.graphicalProperties.solidFill = rep.colors.get(str(op), "7F7F7F")
            series.graphicalProperties.line.solidFill = rep.colors.get(str(op), "7F7F7F")
        chart.width, chart.height = 22, 10
        ws.add_chart(chart, "D3")
    if int(last) >= int(first) and rep.total > 0:
        ows = wb["By operation"]
        pie = DoughnutChart()
        pie.title = f"Share of credits, {rep.month_name}"
        pie.add_data(Reference(ows, min_col=2, min_row=int(first) - 1, max_row=int(last)), titles_from_data=True)
        pie.set_categories(Reference(ows, min_col=1, min_row=int(first), max_row=int(last)))
        pie.holeSize = 50
        from openpyxl.chart.marker import DataPoint

        for idx, op in enumerate(rep.operations["operation"]):
            point = DataPoint(idx=idx)
            point.graphicalProperties.solidFill = rep.colors.get(str(op), "7F7F7F")
            pie.series[0].dPt.append(point)
        # Percent only: spreadsheet programs otherwise stack name, category and value too.
        pie.dataLabels = DataLabelList(showPercent=True, showVal=False, showCatName=False,
                                       showSerName=False, showLegendKey=False, showLeaderLines=False)
        pie.series[0].tx = SeriesLabel(v="Credits")
        pie.width, pie.height = 14, 10
        ws.add_chart(pie, "D24")


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _stamp_of(value: Any) -> dt.datetime:
    """A fixed document time (UTC, whole seconds) from the data's as-of time."""
    if value is None:
        return dt.datetime(1980, 1, 1)
    ts = pd.Timestamp(value)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    return max(ts.to_pydatetime().replace(microsecond=0), dt.datetime(1980, 1, 1))


def _entry(name: str, stamp: dt.datetime) -> Any:
    import zipfile

    entry = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry


def _entry_bytes(name: str, body: bytes, stamp: dt.datetime) -> bytes:
    # openpyxl stamps "modified" with the wall clock: the same data must give the same file.
    if name == "docProps/core.xml":
        iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        body = _MODIFIED.sub(rb"\g<1>" + iso + rb"\g<2>", body)
    return body


def _reproducible(data: bytes, stamp: dt.datetime) -> bytes:
    """Re-pack an openpyxl file with fixed entry times and document dates."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(_entry(info.filename, stamp), _entry_bytes(info.filename, src.read(info.filename), stamp))
    return out.getvalue()


def render_workbook(rep: "MonthlyReport") -> bytes:
    """The workbook of an already built :class:`MonthlyReport` as bytes; the same report always
    gives the same bytes."""
    import io

    st = _Style(rep)
    wb = Workbook()
    wb.properties.creator = "generect-reports"
    wb.properties.title = f"Generect usage {rep.month}"
    ops = _by_operation(wb, rep, st)
    monthly = _monthly(wb, rep, st)
    _summary(wb, rep, st, ops, monthly)
    _daily(wb, rep, st)
    _anomalies(wb, rep, st)
    _about(wb, rep, st)
    stamp = _stamp_of(rep.as_of)
    wb.properties.created = stamp
    wb.calculation.fullCalcOnLoad = True
    buffer = io.BytesIO()
    wb.save(buffer)
    return _reproducible(buffer.getvalue(), stamp)


def write_report_workbook(rep: "MonthlyReport", path: str | os.PathLike[str]) -> None:
    """Write the workbook for an already built :class:`MonthlyReport`, atomically."""
    check_output_path(path)
    data = render_workbook(rep)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_excel_report(usage: pd.DataFrame, path: str | os.PathLike[str], *, month: str | None = None,
                       history: int = 12, template: Any = None, account: str | None = None) -> None:
    """Write the monthly workbook for ``month`` from daily tidy usage.

    Parameters
    ----------
    usage
        Daily usage covering the month (and ideally ``history`` months before it).
    path
        Target ``.xlsx``; written atomically.
    month
        'YYYY-MM'; default the last full month of the data.
    history
        Months in the history chart and the Monthly sheet.
    template
        Folder with a user's ``theme.toml`` / ``prices.toml``.
    """
    from .report import build_report

    write_report_workbook(build_report(usage, month, history=history, template=template, account=account), path)


# Characters XML 1.0 cannot hold get Excel's _xHHHH_ form; a carriage return is kept as a
# character reference (a raw one would be read back as a line feed).
_ILLEGAL_XML = {c: f"_x{c:04X}_" for c in [*range(0, 9), 11, 12, *range(14, 32)]}
_ILLEGAL_XML[13] = "&#13;"


def _xml_text(text: str) -> str:
    """Escape text for an inline string (see ``_ILLEGAL_XML``)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.translate(_ILLEGAL_XML)


def _data_rows(usage: pd.DataFrame, lo: int, hi: int, first_row: int, styles: dict[str, int]) -> Iterator[str]:
    """The ``<row>`` elements of rows ``lo:hi`` of the tidy frame, as XML text.

    openpyxl spends ~10 µs on every cell; a million-row export is four million cells, so the
    data rows are written here as plain strings and spliced into the sheet openpyxl laid out.
    """
    import numpy as np

    epoch = np.datetime64("1899-12-30T00:00:00", "s")
    local = usage["period_start"].iloc[lo:hi].dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    serials = ((local - epoch).astype("int64") / 86400.0).tolist()
    periods = usage["period"].iloc[lo:hi].to_numpy(dtype=object)
    ops = usage["operation"].iloc[lo:hi].astype(str)
    # Operation names repeat: escape each distinct one once.
    cells = {}
    for op in pd.unique(ops):
        style = f' s="{styles["quote"]}"' if op.startswith(FORMULA_PREFIXES) else ""
        cells[op] = f'{style} t="inlineStr"><is><t xml:space="preserve">{_xml_text(op)}</t></is></c>'
    op_cells = ops.map(cells).to_numpy(dtype=object)
    credits = usage["credits"].iloc[lo:hi].to_numpy(dtype="float64")
    finite = np.isfinite(credits)
    values = [repr(v) for v in credits.tolist()]
    sa, sd = styles["date"], styles["credits"]
    for i, (serial, period, op_cell, value, ok) in enumerate(zip(serials, periods, op_cells, values, finite), start=first_row):
        credit = f'<c r="D{i}" s="{sd}"><v>{value}</v></c>' if ok else f'<c r="D{i}" s="{sd}"/>'
        yield (f'<row r="{i}"><c r="A{i}" s="{sa}"><v>{serial!r}</v></c>'
               f'<c r="B{i}" t="inlineStr"><is><t>{_xml_text(str(period))}</t></is></c>'
               f'<c r="C{i}"{op_cell}{credit}</row>')


def write_usage_xlsx(usage: pd.DataFrame, path: str | os.PathLike[str], *, max_rows: int = EXCEL_MAX_ROWS) -> None:
    """The tidy frame as formatted Excel Tables, streamed with small, constant memory.

    Past ``max_rows`` (Excel's limit) the rows continue on further sheets, each with a note
    saying which part it holds: never truncated silently. Operation names that a spreadsheet
    would read as formulas are stored as text with the quote prefix.
    """
    import zipfile

    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    stamp = _stamp_of(usage.attrs.get("fetched_at"))
    wb.properties.created = stamp
    per_sheet = max_rows - 2  # header and note rows
    n = len(usage)
    parts = max(1, -(-n // per_sheet))
    tz = usage.attrs.get("timezone", "")
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F3A5F")
    sheets: list[tuple[str, int, int]] = []
    styles: dict[str, int] = {}
    for part in range(parts):
        lo, hi = part * per_sheet, min(n, (part + 1) * per_sheet)
        ws = wb.create_sheet("Usage" if parts == 1 else f"Usage {part + 1}")
        if not styles:
            probe = {"date": "yyyy-mm-dd hh:mm", "credits": "#,##0.00"}
            for key, fmt in probe.items():
                cell = WriteOnlyCell(ws)
                cell.number_format = fmt
                styles[key] = cell.style_id
            quote = WriteOnlyCell(ws)
            quote.quotePrefix = True
            styles["quote"] = quote.style_id
        ws.freeze_panes = "A3"
        for col, width in zip("ABCD", (20, 12, 26, 14)):
            ws.column_dimensions[col].width = width
        note = f"Rows {lo + 1:,}–{hi:,} of {n:,}" + (f" (part {part + 1} of {parts}: Excel holds at most {max_rows:,} rows a sheet)" if parts > 1 else "") + f"; period_start is local time in {tz}."
        note_cell = WriteOnlyCell(ws)
        safe_text(note_cell, note)
        ws.append([note_cell])
        heads = []
        for title in ("period_start", "period", "operation", "credits"):
            c = WriteOnlyCell(ws, value=title)
            c.font, c.fill = header_font, header_fill
            heads.append(c)
        ws.append(heads)
        if hi > lo:
            table = Table(displayName=f"Usage{part + 1}", ref=f"A2:D{hi - lo + 2}")
            table.tableColumns = [TableColumn(id=j, name=name) for j, name in
                                  enumerate(("period_start", "period", "operation", "credits"), start=1)]
            table.autoFilter = AutoFilter(ref=table.ref)
            table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
            with warnings.catch_warnings():  # the columns were just added by hand, as it asks
                warnings.simplefilter("ignore", UserWarning)
                ws.add_table(table)
        sheets.append((f"xl/worksheets/sheet{part + 1}.xml", lo, hi))
    with atomic_path(path) as tmp:
        layout = tmp.with_name(tmp.stem + ".layout.tmp")
        try:
            wb.save(layout)
            by_name = {name: (lo, hi) for name, lo, hi in sheets}
            with zipfile.ZipFile(layout) as src, zipfile.ZipFile(tmp, "w") as dst:
                for info in src.infolist():
                    body = _entry_bytes(info.filename, src.read(info.filename), stamp)
                    if info.filename not in by_name:
                        dst.writestr(_entry(info.filename, stamp), body)
                        continue
                    lo, hi = by_name[info.filename]
                    head, tail = body.decode("utf-8").split("</sheetData>", 1)
                    with dst.open(_entry(info.filename, stamp), "w", force_zip64=True) as out:
                        out.write(head.encode("utf-8"))
                        chunk: list[str] = []
                        for row in _data_rows(usage, lo, hi, 3, styles):
                            chunk.append(row)
                            if len(chunk) >= 20_000:
                                out.write("".join(chunk).encode("utf-8"))
                                chunk = []
                        out.write("".join(chunk).encode("utf-8"))
                        out.write(("</sheetData>" + tail).encode("utf-8"))
        finally:
            if layout.exists():
                layout.unlink()
