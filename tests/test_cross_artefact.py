"""Every displayed figure is the same in the recalculated workbook, the PDF and the email.

For the sample's October 2026, March 2026 and a running October 2026: the workbook is
recalculated by LibreOffice and each cell is displayed through its own number format; the PDF's
operations table is read back with ``pdftotext``; the email's text part and HTML table are read
back as sent. Each operation's row must read the same everywhere it is shown.
"""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pdfcheck import pdftotext
from support import soffice_recalculate

import generect_reports as g
from generect_reports.outputs import mail
from generect_reports.outputs import presentation as P
from generect_reports.outputs.excel import render_workbook
from generect_reports.outputs.formats import format_number
from generect_reports.outputs.pdf import render_pdf

CASES = {
    "2026-10": dict(month="2026-10"),
    "2026-03": dict(month="2026-03"),
    "running-2026-10": dict(month="2026-10", as_of="2026-10-11 09:30"),
}
#: The PDF table's columns, as keys of presentation.operation_rows.
PDF_KEYS = [
    "credits",
    "share",
    "previous",
    "change",
    "change_pct",
    "yoy",
    "yoy_pct",
    "cost",
    "cost_share",
]


# Every case recalculates its workbook in LibreOffice.
pytestmark = pytest.mark.libreoffice


@pytest.fixture(scope="module", params=sorted(CASES))
def artefacts(request, tmp_path_factory):
    kw = dict(CASES[request.param])
    rep = g.build_report(g.load_sample(), kw.pop("month"), **kw)
    folder = tmp_path_factory.mktemp(f"cross-{request.param}")
    pdf = folder / "report.pdf"
    pdf.write_bytes(render_pdf(rep))
    xlsx = folder / "report.xlsx"
    xlsx.write_bytes(render_workbook(rep))
    recalculated = soffice_recalculate(xlsx, folder)
    msg = mail.build_message(rep, to=["a@example.com"], sender="r@example.com")
    return {
        "rep": rep,
        "pdf": pdftotext(pdf),
        "xlsx": recalculated,
        "text": msg.get_body(("plain",)).get_content(),
        "html": msg.get_body(("html",)).get_content(),
        "subject": msg["Subject"],
    }


# ---------------------------------------------------------------------- the workbook, as displayed


def _decimals(section: str) -> int:
    m = re.search(r"\.(0+)", section)
    return len(m.group(1)) if m else 0


def excel_display(value, number_format: str) -> str:
    """A cell's value as a spreadsheet shows it under its number format (the formats the
    report uses: credits, signed changes, percentages, money)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    v = float(value)
    # LibreOffice re-saves literals escaped or quoted (\+0.0%, "-$"#,##0.00): read them plain.
    number_format = number_format.replace("\\", "").replace('"', "")
    sections = number_format.split(";")
    section = sections[0] if v >= 0 or len(sections) == 1 else sections[1]
    signed = number_format.startswith("+")
    d = _decimals(section)
    if "%" in section:
        return format_number(v * 100, d, sign=signed, grouping=False) + "%"
    if "$" in section:
        body = format_number(abs(v), d)
        return ("-" if v < 0 else "+" if signed and v > 0 else "") + "$" + body
    return format_number(v, d, sign=signed)


def workbook_rows(path: Path, sheet: str, header_row: int) -> dict[str, dict[str, str]]:
    """{operation or 'Total': {header: displayed text}} of a sheet's table."""
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    headers = [c.value for c in ws[header_row]]
    op_col = headers.index("Operation")
    out: dict[str, dict[str, str]] = {}
    for row in ws.iter_rows(min_row=header_row + 1):
        name = row[op_col].value
        if name is None:
            break
        out[str(name)] = {
            str(h): excel_display(c.value, c.number_format) for h, c in zip(headers, row) if h
        }
    return out


def _column(headers, *prefixes: str) -> str:
    for prefix in prefixes:
        for h in headers:
            if h == prefix or h.startswith(prefix):
                return h
    raise AssertionError(f"no column {prefixes} in {list(headers)}")


# ---------------------------------------------------------------------- PDF and email, as read back

_FIGURE = re.compile(r"^([+-]?\$?[\d,]+(\.\d+)?%?|n/a|unpriced|-)$")


def pdf_rows(text: str, names: list[str]) -> dict[str, list[str]]:
    """The cells of the PDF's operations table: the line starting with each name and followed
    by a full row of figures (the narrative and chart labels name operations too)."""
    rows = {}
    for line in text.splitlines():
        tokens = line.split()
        if (
            tokens
            and tokens[0] in names
            and tokens[0] not in rows
            and len(tokens) >= 8
            and all(_FIGURE.match(t) for t in tokens[1:])
        ):
            rows[tokens[0]] = tokens[1:]
    return rows


def text_rows(text: str, names: list[str], width: int) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        tokens = line.split()
        if tokens and tokens[0] in names and len(tokens) == width + 1:
            rows.setdefault(tokens[0], []).append(tokens[1:])
    return rows


def html_tables(html: str) -> list[list[list[str]]]:
    """Every data table of the HTML part as rows of cell texts."""
    tables = []
    for body in re.findall(r"<table width=\"100%\".*?</table>", html, flags=re.S):
        rows = []
        for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
            cells = [
                htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, flags=re.S)
            ]
            rows.append(cells)
        tables.append(rows)
    return tables


# --------------------------------------------------------------------------- the comparisons


def test_operations_read_the_same_in_workbook_pdf_and_email(artefacts):
    rep = artefacts["rep"]
    names = [*rep.operations["operation"].astype(str), "Total"]
    shown = {r["operation"]: r for r in [*P.operation_rows(rep), P.total_row(rep)]}

    # The workbook, recalculated and displayed through its number formats.
    wb = workbook_rows(artefacts["xlsx"], "By operation", 4)
    headers = next(iter(wb.values())).keys()
    cols = {
        "credits": _column(headers, "Credits so far", "Credits"),
        "share": "Share",
        "previous": _column(headers, "Previous"),
        "change": "Change",
        "change_pct": "Change %",
        "cost": "Estimated cost",
    }
    if rep.yoy_available:
        cols.update(
            {"yoy": _column(headers, "Year ago"), "yoy_pct": _column(headers, "Change vs year ago")}
        )
    assert set(wb) == set(names)
    for name in names:
        for key, header in cols.items():
            assert wb[name][header] == shown[name][key], (
                name,
                key,
                wb[name][header],
                shown[name][key],
            )

    # The PDF's operations table: every cell, in order.
    keys = [k for k in PDF_KEYS if rep.yoy_available or not k.startswith("yoy")]
    pdf = pdf_rows(artefacts["pdf"], names)
    assert set(pdf) == set(names)
    for name in names:
        assert pdf[name] == [shown[name][k] for k in keys], name

    # The email: the text part's table and the HTML table.
    email_keys = ["credits", "share", "change_pct"] + (["yoy_pct"] if rep.yoy_available else [])
    text = text_rows(artefacts["text"], names, len(email_keys))
    tables = html_tables(artefacts["html"])
    ops_table = next(t for t in tables if t[0][:3] == ["Operation", "Credits", "Share"])
    html_rows = {row[0]: row[1:] for row in ops_table[1:]}
    for name in names:
        expected = [shown[name][k] for k in email_keys]
        assert expected in text[name], (name, text.get(name))
        assert html_rows[name] == expected, name


def test_costs_read_the_same_in_workbook_pdf_and_email(artefacts):
    rep = artefacts["rep"]
    names = [str(o) for o in rep.cost_by_operation["operation"]]
    wb = workbook_rows(artefacts["xlsx"], "Cost", 4)
    rows = {r["operation"]: r for r in P.cost_rows(rep)}
    tables = html_tables(artefacts["html"])
    cost_table = next(t for t in tables if t[0][:2] == ["Operation", "Est. cost"])
    html_rows = {row[0]: row[1:] for row in cost_table[1:]}
    text = text_rows(artefacts["text"], names, 3)
    for name in names:
        expected = [rows[name]["cost"], rows[name]["cost_share"], rows[name]["credit_share"]]
        assert wb[name]["Estimated cost"] == expected[0]
        if rows[name]["priced"]:
            assert wb[name]["Share of cost"] == expected[1]
        assert wb[name]["Share of credits"] == expected[2]
        assert html_rows[name] == expected, name
        assert expected in text[name], name
    assert wb["Total"]["Estimated cost"] == rep.formats.money(rep.estimated_cost)
    # Shown costs add up, to the cent, to the total shown.
    cents = sum(
        Decimal(r["cost"].lstrip("$").replace(",", "")) for r in rows.values() if r["priced"]
    )
    assert f"${cents:,.2f}" == rep.formats.money(rep.estimated_cost)
    # Shown shares add up to 100.0 %.
    shares = sum(
        Decimal(P.operation_rows(rep)[i]["share"].rstrip("%")) for i in range(len(rep.operations))
    )
    assert shares == Decimal("100.0")


def test_headline_figures_agree(artefacts):
    rep = artefacts["rep"]
    f = rep.formats
    wb = openpyxl.load_workbook(artefacts["xlsx"], data_only=True)
    total = wb.defined_names["MonthTotal"]
    sheet, cell = next(iter(total.destinations))
    c = wb[sheet][cell.replace("$", "")]
    assert excel_display(c.value, c.number_format) == f.credits(rep.total)
    for where in ("pdf", "text", "html", "subject"):
        assert f.credits(rep.total) in artefacts[where], where
        assert f.signed_pct(rep.change_pct) in artefacts[where], where
    for where in ("pdf", "text", "html"):
        assert f.money(rep.estimated_cost) in artefacts[where], where
        if rep.yoy_available:
            assert f.signed_pct(rep.yoy_change_pct) in artefacts[where], where
        if rep.projection is not None:
            assert f.projection(rep.projection) in artefacts[where], where
