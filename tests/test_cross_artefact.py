"""The release check: every displayed figure reads the same in every artefact.

For the four sample reports (October 2026, March 2026, October 2026 running as of the 11th and
2026-Q3; see ``reportcases.py``) each figure is read back from the workbook recalculated by
LibreOffice (each cell through its own number format), the PDF's text, the email's text and
HTML parts, the commands' JSON documents and the dashboard (its key figures, and its own PDF;
its files are the report's to the byte), and all readings must be identical.

A figure is a name and, per artefact, one small reader returning ``{row: text as shown}`` (an
operation, a customer, a label) or None where that artefact does not show the figure for this
report. Readers find figures by their labels (column headers, row names, a line's label), so a
new layout keeps them working. To add a figure, add an entry to :data:`MONTH_FIGURES` or
:data:`QUARTER_FIGURES` with a reader for each artefact that shows it. A reader marked
:func:`partial` shows only some rows (the email's top three customers); every other reader must
show every row the figure has.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from figures import (
    excel_display,
    html_pairs,
    html_table,
    html_texts,
    sheet_labels,
    sheet_records,
    sheet_table,
    text_records,
    text_table,
    tiles,
    value_below,
)
from reportcases import CASES, Artefacts

pytestmark = pytest.mark.libreoffice

Shown = dict[str, str]
Reader = Callable[[Artefacts, Any], "Shown | None"]


@dataclass(frozen=True)
class Partial:
    """A reader of an artefact that shows only some of the figure's rows."""

    read: Reader

    def __call__(self, art: Artefacts, rep: Any) -> Shown | None:
        return self.read(art, rep)


def partial(read: Reader) -> Partial:
    return Partial(read)


# ----------------------------------------------------------------------------- labels and rows


def operations(rep: Any) -> list[str]:
    return [str(o) for o in rep.operations["operation"]]


def op_rows(rep: Any) -> list[str]:
    return [*operations(rep), "Total"]


def previous_label(rep: Any) -> str:
    """The previous period's column: the month, or its like-for-like days."""
    name = rep.previous_month_name
    return name if rep.complete else f"{name[:3]} 1-{rep.elapsed_days}"


def yoy_label(rep: Any) -> str:
    name = rep.yoy_month_name
    return name if rep.complete else f"{name[:3]} {rep.yoy_month[:4]} 1-{rep.elapsed_days}"


def _column(table: dict[str, dict[str, str]], label: str) -> Shown:
    return {row: cells[label] for row, cells in table.items() if label in cells}


# ----------------------------------------------------------------------------- the operations


PDF_OPS = ["Operation", "Credits", "Share", "Change", "Change %", "Est. cost", "Cost share"]
TEXT_OPS = ["Operation", "Credits", "Share", "Change"]
COST_OPS = ["Operation", "Est. cost", "Cost share", "Credit share"]
SHEET_OPS = ["Operation", "Credits", "Share", "Previous", "Change", "Change %", "Estimated cost"]
SHEET_COST = ["Operation", "Estimated cost", "Share of credits", "Credits"]


def _pdf_ops(text: str, rep: Any, *extra: str) -> dict[str, dict[str, str]]:
    return text_table(text, [*PDF_OPS, *extra], op_rows(rep))


def pdf_op(label: str | Callable[[Any], str]) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        name = label(rep) if callable(label) else label
        return _column(_pdf_ops(art.pdf_text, rep, name), name)

    return read


def dashboard_pdf_op(label: str | Callable[[Any], str]) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        name = label(rep) if callable(label) else label
        return _column(_pdf_ops(art.dashboard_pdf_text, rep, name), name)

    return read


def text_op(label: str, labels: list[str] = TEXT_OPS) -> Reader:
    return lambda art, rep: _column(text_table(art.text, [*labels, label], op_rows(rep)), label)


def html_op(label: str, labels: list[str] = TEXT_OPS) -> Reader:
    return lambda art, rep: _column(html_table(art.html, [*labels, label], op_rows(rep)), label)


def sheet_op(label: str, sheet: str = "By operation", labels: list[str] = SHEET_OPS) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        return _column(sheet_table(art.recalculated, sheet, [*labels, label], op_rows(rep)), label)

    return read


def usage_credits(art: Artefacts, rep: Any) -> Shown | None:
    """The ``usage`` document of the report's days: each operation's and the total credits."""
    if "usage" not in art.case.documents:
        return None
    totals = art.document("usage")["totals"]
    shown = {op: rep.formats.credits(v) for op, v in totals["by_operation"].items()}
    shown["Total"] = rep.formats.credits(totals["credits"])
    # An operation of the report without a row used nothing in these days.
    return {op: shown.get(op, rep.formats.credits(0)) for op in op_rows(rep)}


def chargeback_costs(art: Artefacts, rep: Any) -> Shown | None:
    """The ``chargeback`` document's cost per priced operation (its book is the report's)."""
    if "chargeback" not in art.case.documents:
        return None
    doc = art.document("chargeback")
    shown = {
        r["operation"]: rep.formats.money(r["estimated_cost"])
        for r in doc["operations"]
        if r["price"]
    }
    shown["Total"] = rep.formats.money(doc["totals"]["estimated_cost"])
    return shown


def when(present: Callable[[Any], bool], read: Reader) -> Reader:
    """``read`` where the report has the figure (``present(rep)``), else None; a partial
    reader stays partial."""

    def guarded(art: Artefacts, rep: Any) -> Shown | None:
        return read(art, rep) if present(rep) else None

    return Partial(guarded) if isinstance(read, Partial) else guarded


def if_yoy(read: Reader) -> Reader:
    return when(lambda rep: rep.yoy_available, read)


# ------------------------------------------------------------------------------ the headline

#: The workbook Summary's labels of the headline figures.
SUMMARY = {
    "credits": ("Credits this month", "Credits so far"),
    "change": ("Change vs previous month",),
    "change %": ("Change %",),
    "year over year %": ("Change vs same month last year %",),
    "estimated cost": ("Estimated cost (estimate)",),
    "cost change": ("Cost change vs previous month", "Cost change, like for like"),
    "largest cost line": ("Largest cost line, estimated cost",),
    "month-end projection": ("Month-end projection (estimate)",),
}
#: The key-figure tiles' labels (PDF page 1, both email parts), by their beginning.
TILES = {
    "credits": ("Credits this month", "Credits so far"),
    "change %": ("Change vs",),
    "year over year %": ("Year over year",),
    "estimated cost": ("Estimated cost",),
    "largest cost line": ("Largest cost line",),
    "month-end projection": ("Projected month end",),
}
#: The dashboard's tiles.
DASHBOARD_TILES = {
    "credits": ("Credits, ",),
    "change %": ("Change",),
    "estimated cost": ("Estimated cost",),
    "month-end projection": ("Month-end projection",),
}


def _by_label(pairs: dict[str, str], labels: dict[str, tuple[str, ...]], exact: bool) -> Shown:
    out = {}
    for figure, names in labels.items():
        for label, value in pairs.items():
            if any(label == n if exact else label.startswith(n) for n in names):
                out.setdefault(figure, value)
    return out


def summary_headline(art: Artefacts, rep: Any) -> Shown:
    return _by_label(sheet_labels(art.recalculated, "Summary"), SUMMARY, exact=True)


def _tile_labels() -> list[str]:
    return [n for names in TILES.values() for n in names]


def pdf_headline(art: Artefacts, rep: Any) -> Shown:
    return _by_label(tiles(art.pdf_text, _tile_labels()), TILES, exact=False)


def dashboard_pdf_headline(art: Artefacts, rep: Any) -> Shown:
    return _by_label(tiles(art.dashboard_pdf_text, _tile_labels()), TILES, exact=False)


def text_headline(art: Artefacts, rep: Any) -> Shown:
    pairs = dict(re.findall(r"(?m)^([A-Z][^:\n]{2,40}):\s{2,}(\S+)", art.text))
    return _by_label(pairs, TILES, exact=False)


def html_headline(art: Artefacts, rep: Any) -> Shown:
    return _by_label(html_pairs(art.html), TILES, exact=False)


def dashboard_tiles(art: Artefacts) -> dict[str, str]:
    """``{label: value}`` of the dashboard's key-figure tiles."""
    html = (art.dashboard / "kpis.html").read_text(encoding="utf-8")
    out = {}
    for block in html.split("class='generect-kpi'")[1:]:
        texts = re.findall(r"<div[^>]*>([^<]*)</div>", block)
        if len(texts) >= 2:
            out[texts[0]] = texts[1]
    return out


def dashboard_headline(art: Artefacts, rep: Any) -> Shown:
    shown = _by_label(dashboard_tiles(art), DASHBOARD_TILES, exact=False)
    # The dashboard's "Change" tile is the change in percent; its credits tile names the month.
    return shown


def subject_headline(art: Artefacts, rep: Any) -> Shown:
    m = re.search(r": (\S+) credits \((\S+) vs", art.subject)
    assert m, art.subject
    return {"credits": m.group(1), "change %": m.group(2)}


# -------------------------------------------------------------------------------- the sections


def _has(section: str) -> Callable[[Any], bool]:
    return lambda rep: getattr(rep.sections, section) is not None


TIE_OUT = {
    # figure: (workbook label, PDF label, reconcile document field)
    "opening balance": ("Opening balance", "Opening balance", "opening_balance"),
    "top-ups": ("Top-ups", "+ Top-ups", "top_ups"),
    "settled charges": ("Settled charges", "− Settled charges", "settled_charges"),
    "closing balance": (
        "Closing balance (derived from /me/)",
        "= Closing balance",
        "closing_balance",
    ),
    "usage": ("Usage", "Usage", "usage"),
    "difference": ("Difference (charges − usage)", "Difference (charges − usage)", "difference"),
    "pending": ("Pending at month end", "Pending at month end", "pending"),
    "reversed": ("Reversed", "Reversed", "reversed"),
}


def sheet_tie_out(art: Artefacts, rep: Any) -> Shown:
    pairs = sheet_labels(art.recalculated, "Reconciliation")
    return {k: pairs[sheet] for k, (sheet, _p, _j) in TIE_OUT.items() if sheet in pairs}


def pdf_tie_out(art: Artefacts, rep: Any) -> Shown:
    out = {}
    for key, (_s, label, _j) in TIE_OUT.items():
        m = re.search(r"(?m)^\s*" + re.escape(label) + r"\s{2,}(-?[\d,]+(?:\.\d+)?)", art.pdf_text)
        if m:
            out[key] = m.group(1)
    return out


def json_tie_out(art: Artefacts, rep: Any) -> Shown | None:
    if "reconcile" not in art.case.documents:
        return None
    figures = art.document("reconcile")["reconciliation"]
    f = rep.formats
    return {k: f.exact_credits(figures[field]) for k, (_s, _p, field) in TIE_OUT.items()}


def _tie_out_sentence(text: str) -> Shown:
    """``settled charges X against usage Y credits (P pending and R reversed credits …)``;
    pending or reversed are named only when there are any."""
    m = re.search(r"settled charges (\S+) against usage (\S+) credits(?: \(([^)]*)\))?", text)
    assert m, "no tie-out sentence"
    shown = {"settled charges": m.group(1), "usage": m.group(2)}
    for value, what in re.findall(r"(\S+) (pending|reversed)", m.group(3) or ""):
        shown[what] = value
    return shown


RECONCILE_OPS = ["Operation", "Usage", "Settled", "Difference"]


def _ledger_ops(rep: Any) -> list[str]:
    return [str(o) for o in rep.sections.reconciliation.operations["operation"]]


def reconcile_op(label: str) -> dict[str, Reader]:
    """One column of the per-operation tie-out, in the workbook, the PDF and the JSON."""
    field = label.lower()

    def sheet(art: Artefacts, rep: Any) -> Shown:
        table = sheet_table(art.recalculated, "Reconciliation", RECONCILE_OPS, _ledger_ops(rep))
        return _column(table, label)

    def pdf(art: Artefacts, rep: Any) -> Shown:
        return _column(text_table(art.pdf_text, RECONCILE_OPS, _ledger_ops(rep)), label)

    def doc(art: Artefacts, rep: Any) -> Shown | None:
        if "reconcile" not in art.case.documents:
            return None
        f = rep.formats
        rows = art.document("reconcile")["operations"]
        return {
            r["operation"]: f.exact_change(r[field])
            if field == "difference"
            else f.exact_credits(r[field])
            for r in rows
        }

    present = _has("reconciliation")
    return {"workbook": when(present, sheet), "pdf": when(present, pdf), "json": when(present, doc)}


def _reason_rows(records: list[dict[str, str]]) -> Shown:
    return {f"{r['Operation']} / {r['Reason']}": r["Credits"] for r in records if r["Operation"]}


def sheet_reasons(art: Artefacts, rep: Any) -> Shown:
    labels = ["Operation", "Reason", "Credits"]
    return _reason_rows(sheet_records(art.recalculated, "Reconciliation", labels))


def pdf_reasons(art: Artefacts, rep: Any) -> Shown:
    return _reason_rows(text_records(art.pdf_text, ["Operation", "Reason", "Credits", "Detail"]))


def json_reasons(art: Artefacts, rep: Any) -> Shown | None:
    if "reconcile" not in art.case.documents:
        return None
    f = rep.formats
    return {
        f"{r['operation']} / {r['reason']}": f.exact_change(r["credits"]).lstrip("+")
        for r in art.document("reconcile")["rows"]
    }


def _reasons(rep: Any) -> list[str]:
    reasons = rep.sections.reconciliation.reasons
    return [f"{o} / {r}" for o, r in zip(reasons["operation"], reasons["reason"])]


def sheet_customer_column(label: str) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        table = sheet_table(
            art.recalculated, "By customer", ["Customer", "Requests", label], _customers(rep)
        )
        return _column(table, label)

    return read


def json_customer_field(field: str) -> Reader:
    """Requests (whole numbers) or the failed share (a percentage) from ``chargeback``."""

    def read(art: Artefacts, rep: Any) -> Shown | None:
        if "chargeback" not in art.case.documents:
            return None
        shown = {}
        for r in art.document("chargeback")["customers"]:
            if r["customer"] not in _customers(rep) or r[field] is None:
                continue
            value = r[field]
            shown[r["customer"]] = f"{value:,}" if field == "requests" else rep.formats.pct(value)
        return shown

    return read


def _customers(rep: Any) -> list[str]:
    return [str(c) for c in rep.sections.allocation.customers["customer"]]


def sheet_customers(label: str) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        table = sheet_table(
            art.recalculated,
            "By customer",
            ["Customer", "Credits", "Share", label],
            _customers(rep),
        )
        return {c: v for c, v in _column(table, label).items()}

    return read


def _pdf_bars(text: str, names: list[str]) -> dict[str, tuple[str, str]]:
    """The customers page's bars: ``name   credits (share)``."""
    out = {}
    for name in names:
        m = re.search(
            r"(?m)^\s*" + re.escape(name) + r"\s{2,}(-?[\d,]+(?:\.\d+)?) \(([\d.]+%)\)", text
        )
        if m:
            out[name] = (m.group(1), m.group(2))
    return out


def pdf_customers(index: int) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        shown = {c: v[index] for c, v in _pdf_bars(art.pdf_text, _customers(rep)).items()}
        return shown

    return read


def json_customers(what: str) -> Reader:
    """The ``chargeback`` document's customers (with credits): credits or cost. (Its shares are
    exact fractions, not the shares displayed, so they are not compared.)"""

    def read(art: Artefacts, rep: Any) -> Shown | None:
        if "chargeback" not in art.case.documents:
            return None
        rows = [r for r in art.document("chargeback")["customers"] if r["credits"]]
        f = rep.formats
        if what == "cost":
            return {r["customer"]: f.money(r["estimated_cost"]) for r in rows}
        return {r["customer"]: f.exact_credits(r["credits"]) for r in rows}

    return read


def _customer_sentences(text: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    m = re.search(
        r"By customer, (.+?) caused the most usage in .+?: (\S+) credits \((\S+)\), "
        r"an estimated (\S+?)\.(?:\s|$)",
        text,
    )
    if m:
        out[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    m = re.search(r"(\S+) credits \((\S+)\) stay unallocated", text)
    if m:
        out["unallocated"] = (m.group(1), m.group(2), "")
    return out


def email_customers(part: str, index: int) -> Partial:
    def read(art: Artefacts, rep: Any) -> Shown:
        text = art.text if part == "text" else re.sub(r"<[^>]+>", "", art.html)
        shown = {c: v[index] for c, v in _customer_sentences(text).items() if v[index]}
        if index == 1:
            top = re.search(r"Top customers by credits: (.+?)\.(?:\s|$)", text)
            assert top, "no top customers line"
            for name, share in re.findall(r"(\S+(?: \S+)?) ([\d.]+%)(?:,|$)", top.group(1)):
                shown[name.strip()] = share
        return shown

    return partial(read)


def _limit(rep: Any) -> bool:
    budget = rep.sections.budget
    return budget is not None and bool((budget["kind"] == "limit").any())


def sheet_limit(art: Artefacts, rep: Any) -> Shown:
    table = sheet_table(
        art.recalculated,
        "Budget",
        ["Line", "Limit / budget", "Used", "Share used", "Reaches it on"],
        ["plan limit"],
    )
    row = table["plan limit"]
    shown = {
        "limit": row["Limit / budget"],
        "used": row["Used"],
        "share used": row["Share used"],
        "reaches it on": row.get("Reaches it on", "-"),
    }
    if not rep.complete:
        more = sheet_table(
            art.recalculated,
            "Budget",
            ["Line", "Projected month end", "Projected share"],
            ["plan limit"],
        )["plan limit"]
        shown["projected"] = more["Projected month end"]
        shown["projected share"] = more["Projected share"]
    return shown


def pdf_limit(art: Artefacts, rep: Any) -> Shown:
    labels = ["Line", "Limit / budget", "Used", "Used %", "Projected", "Proj. %", "Reaches it on"]
    row = text_table(art.pdf_text, labels, ["plan limit"])["plan limit"]
    return {
        "limit": row["Limit / budget"],
        "used": row["Used"],
        "share used": row["Used %"],
        "reaches it on": row["Reaches it on"],
        "projected": row["Projected"],
        "projected share": row["Proj. %"],
    }


def email_limit(part: str) -> Partial:
    def read(art: Artefacts, rep: Any) -> Shown:
        text = art.text if part == "text" else re.sub(r"<[^>]+>", "", art.html)
        m = re.search(
            r"usage (?:was|so far is) (\S+) credits, (\S+) of the plan limit of (\S+) "
            r"credits",
            text,
        )
        assert m, "no plan-limit sentence"
        shown = {"used": m.group(1), "share used": m.group(2), "limit": m.group(3)}
        m = re.search(r"projected (\S+%) at month end[^,]*, reaching it on (\S+?)\.", text)
        if m:
            shown["projected share"], shown["reaches it on"] = m.groups()
        m = re.search(r"it was reached on (\S+?)\.", text)
        if m:
            shown["reaches it on"] = m.group(1)
        return shown

    return partial(read)


def dashboard_limit(art: Artefacts, rep: Any) -> Shown:
    shown = {"share used": dashboard_tiles(art)["Plan limit used"]}
    html = (art.dashboard / "kpis.html").read_text(encoding="utf-8")
    m = re.search(r"projected (\S+%) at month end", html)
    if m:
        shown["projected share"] = m.group(1)
    return shown


_ANOMALY = re.compile(
    r"(\d{1,2} \w{3}) (\S+): ([\d,.]+) credits, ([\d,.]+) above a baseline of ([\d,.]+)"
)


def _anomaly_lines(text: str, index: int) -> Shown:
    return {f"{d} {op}": m[index] for d, op, *m in _ANOMALY.findall(text)}


def sheet_anomalies(index: int) -> Reader:
    labels = ["Day", "Operation", "Credits", "Baseline (median)", "Above baseline"]

    def read(art: Artefacts, rep: Any) -> Shown:
        import openpyxl

        ws = openpyxl.load_workbook(art.recalculated, data_only=True)["Anomalies"]
        rows = list(ws.iter_rows(values_only=False))
        head = next(i for i, r in enumerate(rows) if [c.value for c in r[:5]] == labels)
        out = {}
        for r in rows[head + 1 :]:
            if r[0].value is None:
                break
            key = f"{r[0].value.day} {r[0].value:%b} {r[1].value}"
            cell = r[2 + index]
            out[key] = excel_display(cell.value, cell.number_format)
        return out

    return read


def _anomalies(rep: Any) -> bool:
    return len(rep.anomalies) > 0


def _step(name: str) -> str:
    return "other" if name.startswith("other (") else name


def sheet_drivers(art: Artefacts, rep: Any) -> Shown:
    pairs = sheet_labels(art.recalculated, "Drivers")
    table = sheet_table(art.recalculated, "Drivers", ["Step", "Credits"], list(pairs))
    return {_step(k): v["Credits"] for k, v in table.items() if "Credits" in v}


def text_drivers(art: Artefacts, rep: Any) -> Shown:
    block = art.text.split("What drove the change", 1)[1].split("\n\n", 1)[0]
    return {_step(k): v for k, v in re.findall(r"(?m)^\s+(.+?): (\S+)$", block)}


def html_drivers(art: Artefacts, rep: Any) -> Shown:
    texts = html_texts(art.html)
    out = {}
    for text in texts[texts.index("What drove the change") + 1 :]:
        m = re.fullmatch(r"(.+?): ([+-]?[\d,.]+)", text)
        if not m:
            break
        out[_step(m.group(1))] = m.group(2)
    return out


def pdf_drivers(art: Artefacts, rep: Any) -> Shown:
    """The bridge chart's labels: each step's name and figure on one line."""
    steps = [str(s) for s in rep.bridge["label"]]
    text = art.pdf_text.split("What drove the change", 1)[1]
    out = {}
    for name in steps:
        m = re.search(r"(?m)^\s*" + re.escape(str(name)) + r"\s{2,}([+-]?[\d,]+)\b", text)
        if m:
            out[_step(str(name))] = m.group(1)
    return out


# ------------------------------------------------------------------------ the figure registry

MONTH_FIGURES: dict[str, dict[str, Reader]] = {
    "operation credits": {
        "workbook By operation": sheet_op("Credits"),
        "workbook Cost": sheet_op("Credits", "Cost", SHEET_COST),
        "pdf": pdf_op("Credits"),
        "email text": text_op("Credits"),
        "email html": html_op("Credits"),
        "usage json": usage_credits,
        "dashboard pdf": dashboard_pdf_op("Credits"),
    },
    "operation share": {
        "workbook By operation": sheet_op("Share"),
        "workbook Cost": sheet_op("Share of credits", "Cost", SHEET_COST),
        "pdf": pdf_op("Share"),
        "email text": text_op("Share"),
        "email text, cost table": text_op("Credit share", COST_OPS),
        "email html": html_op("Share"),
        "email html, cost table": html_op("Credit share", COST_OPS),
        "dashboard pdf": dashboard_pdf_op("Share"),
    },
    "operation previous credits": {
        "workbook": sheet_op("Previous"),
        "pdf": pdf_op(previous_label),
        "dashboard pdf": dashboard_pdf_op(previous_label),
    },
    "operation change": {
        "workbook": sheet_op("Change"),
        "pdf": pdf_op("Change"),
        "dashboard pdf": dashboard_pdf_op("Change"),
    },
    "operation change %": {
        "workbook": sheet_op("Change %"),
        "pdf": pdf_op("Change %"),
        "email text": text_op("Change"),
        "email html": html_op("Change"),
        "dashboard pdf": dashboard_pdf_op("Change %"),
    },
    "operation year-ago credits": {
        "workbook": if_yoy(sheet_op("Year ago")),
        "pdf": if_yoy(pdf_op(yoy_label)),
        "dashboard pdf": if_yoy(dashboard_pdf_op(yoy_label)),
    },
    "operation year over year %": {
        "workbook": if_yoy(sheet_op("Change vs year ago %")),
        "pdf": if_yoy(pdf_op("YoY %")),
        "email text": if_yoy(text_op("YoY")),
        "email html": if_yoy(html_op("YoY")),
        "dashboard pdf": if_yoy(dashboard_pdf_op("YoY %")),
    },
    "operation cost": {
        "workbook By operation": sheet_op("Estimated cost"),
        "workbook Cost": sheet_op("Estimated cost", "Cost", SHEET_COST),
        "pdf": pdf_op("Est. cost"),
        "email text": text_op("Est. cost", COST_OPS),
        "email html": html_op("Est. cost", COST_OPS),
        "chargeback json": partial(chargeback_costs),  # priced operations with usage
        "dashboard pdf": dashboard_pdf_op("Est. cost"),
    },
    "operation cost share": {
        "workbook": sheet_op("Share of cost", "Cost", SHEET_COST),
        "pdf": pdf_op("Cost share"),
        "email text": text_op("Cost share", COST_OPS),
        "email html": html_op("Cost share", COST_OPS),
        "dashboard pdf": dashboard_pdf_op("Cost share"),
    },
    "headline": {
        "workbook Summary": summary_headline,
        "pdf": pdf_headline,
        "email text": text_headline,
        "email html": html_headline,
        "subject": partial(subject_headline),
        "dashboard": partial(dashboard_headline),
        "dashboard pdf": dashboard_pdf_headline,
    },
    "tie-out": {
        "workbook": when(_has("reconciliation"), sheet_tie_out),
        "pdf": when(_has("reconciliation"), pdf_tie_out),
        "reconcile json": when(_has("reconciliation"), json_tie_out),
        "email text": when(_has("reconciliation"), partial(lambda a, r: _tie_out_sentence(a.text))),
        "email html": when(
            _has("reconciliation"),
            partial(lambda a, r: _tie_out_sentence(re.sub(r"<[^>]+>", "", a.html))),
        ),
    },
    "ledger usage by operation": reconcile_op("Usage"),
    "ledger settled by operation": reconcile_op("Settled"),
    "ledger difference by operation": reconcile_op("Difference"),
    "ledger reasons": {
        "workbook": when(_has("reconciliation"), sheet_reasons),
        "pdf": when(_has("reconciliation"), pdf_reasons),
        "json": when(_has("reconciliation"), json_reasons),
    },
    "customer requests": {
        "workbook": when(_has("allocation"), sheet_customer_column("Requests")),
        "chargeback json": when(_has("allocation"), partial(json_customer_field("requests"))),
    },
    "customer failed share": {
        "workbook": when(_has("allocation"), sheet_customer_column("Failed share")),
        "chargeback json": when(_has("allocation"), partial(json_customer_field("failed_share"))),
    },
    "customer credits": {
        "workbook": when(_has("allocation"), sheet_customers("Credits")),
        "pdf": when(_has("allocation"), pdf_customers(0)),
        "chargeback json": when(_has("allocation"), json_customers("credits")),
        "email text": when(_has("allocation"), email_customers("text", 0)),
        "email html": when(_has("allocation"), email_customers("html", 0)),
    },
    "customer share": {
        "workbook": when(_has("allocation"), sheet_customers("Share")),
        "pdf": when(_has("allocation"), pdf_customers(1)),
        "email text": when(_has("allocation"), email_customers("text", 1)),
        "email html": when(_has("allocation"), email_customers("html", 1)),
    },
    "customer cost": {
        "workbook": when(_has("allocation"), sheet_customers("Estimated cost (USD)")),
        "chargeback json": when(_has("allocation"), json_customers("cost")),
        "email text": when(_has("allocation"), email_customers("text", 2)),
        "email html": when(_has("allocation"), email_customers("html", 2)),
    },
    "plan limit": {
        "workbook": when(_limit, sheet_limit),
        "pdf": when(_limit, pdf_limit),
        "email text": when(_limit, email_limit("text")),
        "email html": when(_limit, email_limit("html")),
        "dashboard": when(_limit, partial(dashboard_limit)),
    },
    "anomaly credits": {
        "workbook": when(_anomalies, sheet_anomalies(0)),
        "pdf": when(_anomalies, lambda a, r: _anomaly_lines(a.pdf_text, 0)),
        "email text": when(_anomalies, lambda a, r: _anomaly_lines(a.text, 0)),
        "email html": when(_anomalies, lambda a, r: _anomaly_lines(a.html, 0)),
    },
    "anomaly excess": {
        "workbook": when(_anomalies, sheet_anomalies(2)),
        "pdf": when(_anomalies, lambda a, r: _anomaly_lines(a.pdf_text, 1)),
        "email text": when(_anomalies, lambda a, r: _anomaly_lines(a.text, 1)),
        "email html": when(_anomalies, lambda a, r: _anomaly_lines(a.html, 1)),
    },
    "anomaly baseline": {
        "workbook": when(_anomalies, sheet_anomalies(1)),
        "pdf": when(_anomalies, lambda a, r: _anomaly_lines(a.pdf_text, 2)),
        "email text": when(_anomalies, lambda a, r: _anomaly_lines(a.text, 2)),
        "email html": when(_anomalies, lambda a, r: _anomaly_lines(a.html, 2)),
    },
    "drivers": {
        "workbook": sheet_drivers,
        "pdf": pdf_drivers,
        "email text": text_drivers,
        "email html": html_drivers,
    },
}


# ------------------------------------------------------------------------------- the quarter


def q_rows(rep: Any) -> list[str]:
    return [*(str(o) for o in rep.comparison["operation"]), "Total"]


def q_sheet(label: str, sheet: str = "Comparison") -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        return _column(
            sheet_table(art.recalculated, sheet, ["Operation", label], q_rows(rep)), label
        )

    return read


def q_pdf(label: str) -> Reader:
    def read(art: Artefacts, rep: Any) -> Shown:
        labels = ["Operation", rep.label, rep.previous_label, "change", "est. cost", label]
        return _column(text_table(art.pdf_text, labels, q_rows(rep)), label)

    return read


def q_usage(art: Artefacts, rep: Any) -> Shown:
    totals = art.document("usage")["totals"]
    shown = {op: f"{v:,.0f}" for op, v in totals["by_operation"].items()}
    shown["Total"] = f"{totals['credits']:,.0f}"
    # An operation without a row used nothing in the period.
    return {op: shown.get(op, "0") for op in q_rows(rep)}


def q_month(index: int) -> dict[str, Reader]:
    def sheet(art: Artefacts, rep: Any) -> Shown:
        return q_sheet(rep.months[index], "Months")(art, rep)

    def doc(art: Artefacts, rep: Any) -> Shown:
        month = rep.months[index]
        rows = [r for r in art.document("usage-months")["rows"] if r["period"] == month]
        shown = {r["operation"]: f"{r['credits']:,.0f}" for r in rows}
        shown["Total"] = f"{sum(r['credits'] for r in rows):,.0f}"
        return {op: shown.get(op, "0") for op in q_rows(rep)}

    return {"workbook Months": sheet, "usage json": doc}


def q_summary(art: Artefacts, rep: Any) -> Shown:
    """The quarter workbook's Summary: a label, its figure and (for a change) its percentage."""
    from figures import sheet_rows

    rows = sheet_rows(art.recalculated, "Summary")
    out = {}
    for key, label in (
        ("credits", "Credits"),
        ("previous quarter", rep.previous_label),
        ("same quarter last year", rep.last_year_label),
        ("estimated cost", "Estimated cost (list prices)"),
    ):
        if label in rows:
            out[key] = rows[label][0]
    for key, label in (
        ("previous", f"Change vs {rep.previous_label}"),
        ("last year", f"Change vs {rep.last_year_label}"),
    ):
        if label in rows:
            out[f"change vs {key}"], out[f"change % vs {key}"] = rows[label][:2]
    return out


def _q_sentences(text: str, rep: Any) -> Shown:
    out = {}
    m = re.search(r"\): (\S+) credits, estimated (\S+) at list prices", text)
    assert m, "no quarter sentence"
    out["credits"], out["estimated cost"] = m.groups()
    for key, label in (("previous", rep.previous_label), ("last year", rep.last_year_label)):
        m = re.search(r"Against " + re.escape(label) + r": (\S+) credits \((\S+)\)", text)
        if m:
            out[f"change vs {key}"], out[f"change % vs {key}"] = m.groups()
    return out


def q_pdf_totals(art: Artefacts, rep: Any) -> Shown:
    row = text_table(
        art.pdf_text,
        ["Operation", rep.label, rep.previous_label, rep.last_year_label, "change", "change#2"],
        ["Total"],
    )["Total"]
    shown = {
        "credits": row[rep.label],
        "previous quarter": row[rep.previous_label],
        "same quarter last year": row[rep.last_year_label],
        "change % vs previous": row["change"],
        "change % vs last year": row["change#2"],
    }
    cost = value_below(art.pdf_text, "Estimated cost", r"\$[\d,.]+")
    if cost is not None:
        shown["estimated cost"] = cost
    return shown


def q_subject(art: Artefacts, rep: Any) -> Shown:
    m = re.search(r": (\S+) credits \((\S+) vs ", art.subject)
    assert m, art.subject
    return {"credits": m.group(1), "change % vs previous": m.group(2)}


def q_sheet_drivers(art: Artefacts, rep: Any) -> Shown:
    label = f"Change vs {rep.previous_label}"
    names = [str(o) for o in rep.drivers["operation"]]
    return _column(sheet_table(art.recalculated, "Drivers", ["Operation", label], names), label)


def q_email_driver(part: str) -> Partial:
    def read(art: Artefacts, rep: Any) -> Shown:
        text = art.text if part == "text" else " ".join(html_texts(art.html))
        m = re.search(r"Largest driver: (\S+) \((\S+) credits\)", text)
        assert m, "no largest driver"
        return {m.group(1): m.group(2)}

    return partial(read)


QUARTER_FIGURES: dict[str, dict[str, Reader]] = {
    "drivers": {
        "workbook": q_sheet_drivers,
        "email text": q_email_driver("text"),
        "email html": q_email_driver("html"),
    },
    "headline": {
        "workbook Summary": q_summary,
        "pdf": q_pdf_totals,
        "email text": lambda a, r: _q_sentences(a.text, r),
        "email html": lambda a, r: _q_sentences(" ".join(html_texts(a.html)), r),
        "subject": partial(q_subject),
    },
    "quarter credits": {
        "workbook Comparison": lambda a, r: q_sheet(r.label)(a, r),
        "workbook Months": lambda a, r: q_sheet(f"{r.label} total", "Months")(a, r),
        "pdf": lambda a, r: q_pdf(r.label)(a, r),
        "usage json": q_usage,
    },
    "previous quarter credits": {
        "workbook": lambda a, r: q_sheet(r.previous_label)(a, r),
        "pdf": lambda a, r: q_pdf(r.previous_label)(a, r),
    },
    "change vs previous quarter %": {
        "workbook": q_sheet("Change %"),
        "pdf": q_pdf("change"),
    },
    "year-ago quarter credits": {
        "workbook": lambda a, r: q_sheet(r.last_year_label)(a, r),
        "pdf": lambda a, r: q_pdf(r.last_year_label)(a, r),
    },
    "change vs last year %": {
        "workbook": q_sheet("Change % vs last year"),
        "pdf": q_pdf("change#2"),
    },
    "operation cost": {
        "workbook": q_sheet("Estimated cost"),
        "pdf": q_pdf("est. cost"),
    },
    "first month": q_month(0),
    "second month": q_month(1),
    "third month": q_month(2),
}


def _headline_rows(rep: Any) -> list[str]:
    rows = ["credits", "change %", "estimated cost", "largest cost line"]
    if rep.yoy_available:
        rows.append("year over year %")
    if not rep.complete and rep.projection is not None:
        rows.append("month-end projection")
    return rows


def _customers_with_credits(rep: Any) -> list[str]:
    customers = rep.sections.allocation.customers
    return [str(c) for c in customers.loc[customers["credits"] != 0, "customer"]]


#: The rows every reader (but a partial one) must show, by figure; an operation figure needs
#: every operation and the total.
ROWS: dict[str, Callable[[Any], list[str]]] = {
    "headline": _headline_rows,
    "tie-out": lambda rep: ["settled charges", "usage"],
    "ledger reasons": _reasons,
    "customer requests": lambda rep: [
        c for c in _customers_with_credits(rep) if c != "unallocated"
    ],
    "customer failed share": lambda rep: [
        c for c in _customers_with_credits(rep) if c != "unallocated"
    ],
    "ledger usage by operation": _ledger_ops,
    "ledger settled by operation": _ledger_ops,
    "ledger difference by operation": _ledger_ops,
    "customer credits": _customers_with_credits,
    "customer share": _customers_with_credits,
    "customer cost": lambda rep: [c for c in _customers_with_credits(rep) if c != "unallocated"],
    "plan limit": lambda rep: (
        ["limit", "used", "share used"] + ([] if rep.complete else ["projected share"])
    ),
    "anomaly credits": lambda rep: [],
    "anomaly excess": lambda rep: [],
    "anomaly baseline": lambda rep: [],
    "drivers": lambda rep: [str(rep.bridge["label"].iloc[0]), str(rep.bridge["label"].iloc[-1])],
    "quarter drivers": lambda rep: [str(o) for o in rep.drivers["operation"]],
    "quarter headline": lambda rep: ["credits", "change % vs previous", "change % vs last year"],
}


def required_rows(figure: str, rep: Any) -> list[str]:
    if figure in ROWS:
        return ROWS[figure](rep)
    return op_rows(rep) if "quarter" not in figure else q_rows(rep)


#: Figures a report does not have, and why: the test of each checks the reason holds.
NOT_SHOWN: dict[str, dict[str, Callable[[Any], bool]]] = {
    "2026-03": {
        "anomaly credits": lambda rep: len(rep.anomalies) == 0,
        "anomaly excess": lambda rep: len(rep.anomalies) == 0,
        "anomaly baseline": lambda rep: len(rep.anomalies) == 0,
    },
    "running-2026-10": {
        # The ledger and the token analytics describe the present, not a look-back time.
        **dict.fromkeys(
            [
                "tie-out",
                "ledger usage by operation",
                "ledger settled by operation",
                "ledger difference by operation",
                "ledger reasons",
            ],
            lambda rep: rep.sections.reconciliation is None,
        ),
        **dict.fromkeys(
            [
                "customer credits",
                "customer share",
                "customer cost",
                "customer requests",
                "customer failed share",
            ],
            lambda rep: rep.sections.allocation is None,
        ),
        **dict.fromkeys(
            ["anomaly credits", "anomaly excess", "anomaly baseline"],
            lambda rep: len(rep.anomalies) == 0,
        ),
    },
}


def _cases(monthly: bool) -> list[str]:
    return [name for name, case in CASES.items() if case.monthly == monthly]


PARAMS = [
    *(
        (case, figure)
        for case in _cases(True)
        for figure in MONTH_FIGURES
        if figure not in NOT_SHOWN.get(case, {})
    ),
    *((case, figure) for case in _cases(False) for figure in QUARTER_FIGURES),
]


#: What a cell shows when there is no figure: the artefacts may word it differently.
NO_FIGURE = {"-", "–", "n/a", "unpriced"}


def _disagreements(readings: dict[str, Shown]) -> list[str]:
    rows: dict[str, dict[str, str]] = {}
    for where, shown in readings.items():
        for row, value in shown.items():
            if value == "":
                continue  # a blank cell: this artefact does not show the figure in that row
            rows.setdefault(row, {})[where] = "(no figure)" if value in NO_FIGURE else value
    return [
        f"{row}: " + ", ".join(f"{where} {value!r}" for where, value in seen.items())
        for row, seen in rows.items()
        if len(set(seen.values())) > 1
    ]


@pytest.mark.parametrize("case, figure", PARAMS)
def test_every_artefact_shows_the_same_figure(sample_reports, case, figure):
    art = sample_reports[case]
    rep = art.model
    readers = (MONTH_FIGURES if art.case.monthly else QUARTER_FIGURES)[figure]
    readings: dict[str, Shown] = {}
    complete: set[str] = set()
    for where, read in readers.items():
        shown = read(art, rep)
        if shown is None:
            continue  # not shown in this artefact for this report
        assert shown, f"{figure}: nothing read from the {where}"
        readings[where] = shown
        if not isinstance(read, Partial):
            complete.add(where)
    assert len(readings) >= 2, f"{case} {figure}: read from {list(readings)} only"
    # Every complete reading shows every row the figure has; all readings agree, row by row.
    rows = set(required_rows(figure if art.case.monthly else f"quarter {figure}", rep))
    missing = {w: sorted(rows - set(readings[w])) for w in complete if rows - set(readings[w])}
    assert not missing, f"{case} {figure}: rows missing from {missing}"
    problems = _disagreements(readings)
    assert not problems, f"{case} {figure} differs:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "case, figure", [(c, f) for c, figures in NOT_SHOWN.items() for f in figures]
)
def test_a_figure_left_out_is_absent_from_the_report(sample_reports, case, figure):
    """The case table leaves a figure out only where the report has none to show."""
    assert NOT_SHOWN[case][figure](sample_reports[case].model)


@pytest.mark.parametrize("case", _cases(True))
def test_dashboard_report_files_are_the_reports(sample_reports, case):
    """The dashboard's downloads are the report's files, byte for byte (so every figure read
    from the report's workbook and PDF is the dashboard's too)."""
    art = sample_reports[case]
    assert (art.dashboard / "report.xlsx").read_bytes() == art.xlsx.read_bytes()
    assert (art.dashboard / "report.pdf").read_bytes() == art.pdf.read_bytes()


@pytest.mark.parametrize("case", _cases(True))
def test_shown_costs_and_shares_add_up_as_displayed(sample_reports, case):
    """The cost lines read from the PDF add up, to the cent, to the total shown, and the
    shares shown add up to 100.0%."""
    art = sample_reports[case]
    rep = art.model
    costs = pdf_op("Est. cost")(art, rep)
    shares = pdf_op("Share")(art, rep)
    total = costs.pop("Total")
    cents = sum(Decimal(v.lstrip("$").replace(",", "")) for v in costs.values() if "$" in v)
    assert f"${cents:,.2f}" == total
    shares.pop("Total")
    assert sum(Decimal(v.rstrip("%")) for v in shares.values()) == Decimal("100.0")
