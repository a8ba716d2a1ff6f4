"""The monthly Excel workbook (live formulas with stored values, native charts) and the
streamed tidy export.

The report workbook is written with XlsxWriter, which stores each formula's computed value next
to the formula, so previews and readers that do not recalculate show the figures. Text that
comes from the API is always written as text (``write_string``, with the quote prefix when it
starts like a formula); the tidy export is laid out by openpyxl and streamed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from generect_reports._atomic import atomic_path, check_output_path
from generect_reports._text import xlsx_text, xlsxwriter_text
from generect_reports.analysis.usage import ANOMALY_RULE
from generect_reports.render.records.export import FORMULA_PREFIXES
from generect_reports.reports.narrative import anomaly_formats, projection_detail

if TYPE_CHECKING:
    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "write_excel_report",
    "write_report_workbook",
    "render_workbook",
    "write_usage_xlsx",
    "safe_text",
    "EXCEL_MAX_ROWS",
    "SHEETS",
]

EXCEL_MAX_ROWS = 1_048_576


def safe_text(cell: Any, text: str) -> None:
    """Store ``text`` as a string cell, never a formula (OWASP formula injection).

    Code points XML cannot hold are stored in Excel's ``_xHHHH_`` form
    (:func:`generect_reports._text.xlsx_text`): Excel and LibreOffice show the original text.
    """
    cell.value = xlsx_text(text)
    cell.data_type = "s"
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _col(index: int) -> str:
    """1-based column number → letters."""
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(index - 1)


def _quote(sheet: str) -> str:
    from xlsxwriter.utility import quote_sheetname

    return quote_sheetname(sheet)


def _hf(text: str) -> str:
    """Text for a print header or footer: '&' starts a control code there."""
    return text.replace("&", "&&")


def _lines(text: str, width_chars: float) -> int:
    """Lines a wrapped cell needs, so its row height can be set (LibreOffice and Excel do not
    grow rows for wrapped text that was written by a program)."""
    import math

    per_line = max(int(width_chars * 1.05), 10)
    return sum(max(1, math.ceil(len(part) / per_line)) for part in str(text).split("\n"))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


class _Book:
    """An XlsxWriter workbook with the theme's look and cached cell formats.

    Strings are never turned into formulas, numbers or links (``strings_to_*`` off), and every
    text from the API is written with ``write_string`` and, when it starts like a formula, the
    quote prefix (OWASP formula injection).
    """

    def __init__(self, rep: MonthlyReport, buffer: Any) -> None:
        import xlsxwriter

        self.rep = rep
        self.wb = xlsxwriter.Workbook(
            buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        t = rep.theme
        c = t.colors
        self.font = {
            "font_name": t.fonts.get("excel_family", "Calibri"),
            "font_size": float(t.fonts.get("size", 10)) + 1,
        }
        self.primary = "#" + str(c.get("primary", "1F3A5F"))
        self.muted = "#" + str(c.get("muted", "6B7280"))
        self.header_fill = "#" + str(c.get("header_fill", "1F3A5F"))
        self.header_font = "#" + str(c.get("header_font", "FFFFFF"))
        self.increase = "#" + str(c.get("increase", "C0392B"))
        self.decrease = "#" + str(c.get("decrease", "1E8449"))
        self.anomaly = "#" + str(c.get("anomaly_fill", "FDEBD0"))
        self.accent = "#" + str(c.get("accent", "2E86AB"))
        self.grid = "#" + str(c.get("grid", "D1D5DB"))
        self.weekend = "#" + str(c.get("weekend", "EEF1F5"))
        self.title_size = float(t.fonts.get("title_size", 16))
        f = rep.formats
        self.n = {
            "credits": f.excel_credits,
            "change": f.excel_change,
            "projection": f.excel_projection,
            "money": f.excel_money,
            "money_change": f.excel_money_change,
            "pct": f.excel_pct,
            "signed_pct": f.excel_signed_pct,
            "date": t.formats.get("date", "yyyy-mm-dd"),
            "price": "$#,##0.000" if rep.currency == "USD" else '"' + rep.currency + ' "#,##0.000',
            "score": "0.00",
            "multiplier": "0.00##",
        }
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}
        self.paper = 9 if t.paper == "a4" else 1  # XlsxWriter paper codes: 9 A4, 1 Letter
        self.bridge_chart: tuple[int, int, str, str, float] = (5, 5, "", "", 0.0)
        self.red_font = self.fmt(font_color=self.increase)
        self.green_font = self.fmt(font_color=self.decrease)

    def fmt(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self._cache:
            self._cache[key] = self.wb.add_format({**self.font, **props})
        return self._cache[key]

    # --- cells ---------------------------------------------------------------------------
    def text(self, ws: Any, cell: str, text: str, **props: Any) -> None:
        text = xlsxwriter_text(str(text))
        if text.startswith(FORMULA_PREFIXES):
            props["quote_prefix"] = True
        ws.write_string(cell, text, self.fmt(**props))

    def number(
        self, ws: Any, cell: str, value: float | None, num: str | None = None, **props: Any
    ) -> None:
        if num:
            props["num_format"] = self.n.get(num, num)
        if _missing(value):
            ws.write_blank(cell, None, self.fmt(**props))
        else:
            ws.write_number(cell, float(value), self.fmt(**props))  # type: ignore[arg-type]

    def formula(
        self, ws: Any, cell: str, formula: str, value: Any, num: str | None = None, **props: Any
    ) -> None:
        """A live formula with its computed value stored, for readers that do not recalculate."""
        if num:
            props["num_format"] = self.n.get(num, num)
        if _missing(value):
            value = "n/a"
        elif not isinstance(value, str):
            value = float(value)
        ws.write_formula(cell, formula, self.fmt(**props), value)

    def header(self, ws: Any, row: int, titles: list[str], height: float = 32) -> None:
        head = self.fmt(
            bold=True,
            font_color=self.header_font,
            bg_color=self.header_fill,
            align="center",
            valign="vcenter",
            text_wrap=True,
            border=1,
            border_color=self.grid,
        )
        quoted = self.fmt(
            bold=True,
            font_color=self.header_font,
            bg_color=self.header_fill,
            align="center",
            valign="vcenter",
            text_wrap=True,
            border=1,
            border_color=self.grid,
            quote_prefix=True,
        )
        for i, title in enumerate(titles, start=1):  # operation names head the Monthly sheet
            ws.write_string(
                f"{_col(i)}{row}",
                xlsxwriter_text(title),
                quoted if title.startswith(FORMULA_PREFIXES) else head,
            )
        ws.set_row(row - 1, height)

    def title(self, ws: Any, text: str, sub: str) -> None:
        ws.write_string(
            "A1",
            xlsxwriter_text(text),
            self.fmt(bold=True, font_size=self.title_size, font_color=self.primary),
        )
        self.text(
            ws, "A2", sub, italic=True, font_color=self.muted, font_size=self.font["font_size"] - 1
        )
        ws.set_row(0, self.title_size * 1.6)

    def page(self, ws: Any, *, landscape: bool = True, header_row: int | None = None) -> None:
        """Paper, fit to one page wide, and the header and footer every printed page carries."""
        rep = self.rep
        if landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.set_paper(self.paper)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
        if header_row:
            ws.repeat_rows(header_row - 1)
        title = rep.theme.text.get("title", "Generect credit usage")
        ws.set_header(f'&L&"-,Bold"{_hf(title)} · {_hf(rep.month_name)}&R&F · &A', {"margin": 0.3})
        ws.set_footer(
            f"&L{_hf(rep.account)[:60]} · {_hf(rep.timezone)}&CPage &P of &N"
            f"&RData as of {rep.as_of:%Y-%m-%d %H:%M}",
            {"margin": 0.3},
        )

    def section_formats(self) -> dict[str, Any]:
        """The styles a section sheet's module takes: title, table header, notes and text."""
        header = self.fmt(
            bold=True,
            font_color=self.header_font,
            bg_color=self.header_fill,
            text_wrap=True,
            valign="vcenter",
            border=1,
            border_color=self.grid,
        )
        muted = self.fmt(italic=True, font_color=self.muted)
        return {
            "title": self.fmt(bold=True, font_size=self.title_size, font_color=self.primary),
            "header": header,
            "note": muted,
            "muted": muted,
            "text": self.fmt(),
            "bold": self.fmt(bold=True),
            "wrap": self.fmt(text_wrap=True, valign="top"),
            # Dates as the report's pages and email write them: 28 Oct 2026.
            "date": self.fmt(num_format="d mmm yyyy"),
        }

    def signed_colours(self, ws: Any, rng: str) -> None:
        """Increases red, decreases green (a cost report), on numbers only."""
        ws.conditional_format(
            rng, {"type": "cell", "criteria": ">", "value": 0, "format": self.red_font}
        )
        ws.conditional_format(
            rng, {"type": "cell", "criteria": "<", "value": 0, "format": self.green_font}
        )


def _credits_formula(name: str, cell: str) -> str:
    """This operation's credits from the Daily table.

    SUMIFS reads its criterion as a pattern (``*``, ``?``, ``~``) and an operator (``=``,
    ``<``...), so names that are not plain identifiers, which come from the API, are matched by
    exact comparison instead.
    """
    if _PLAIN_NAME.fullmatch(name):
        return f"SUMIFS(DailyCredits,DailyOperation,{cell})"
    return f"SUMPRODUCT((DailyOperation={cell})*DailyCredits)"


class _OpsLayout:
    """Where the By operation sheet keeps each figure (so other sheets can refer to it)."""

    def __init__(self, rep: MonthlyReport) -> None:
        prev = (
            rep.previous_month_name
            if rep.complete
            else f"{rep.previous_month_name}, days 1–{rep.elapsed_days}"
        )
        titles = [
            "Operation",
            "Credits" if rep.complete else "Credits so far",
            "Share",
            f"Previous: {prev}",
        ]
        if not rep.complete:
            titles.append(f"Credits, days 1–{rep.elapsed_days}")
        titles += ["Change", "Change %"]
        if rep.yoy_available:
            yoy = (
                rep.yoy_month_name
                if rep.complete
                else f"{rep.yoy_month_name}, days 1–{rep.elapsed_days}"
            )
            titles += [f"Year ago: {yoy}", "Change vs year ago %"]
        titles += ["Price per credit (est.)", "Estimated cost", "Cost change"]
        self.titles = titles
        letters = [_col(i) for i in range(1, len(titles) + 1)]
        keys = (
            ["op", "credits", "share", "prev"]
            + (["cmp"] if not rep.complete else [])
            + ["chg", "pct"]
        )
        keys += (["yoy", "yoy_pct"] if rep.yoy_available else []) + ["price", "cost", "cost_chg"]
        self.col = dict(zip(keys, letters))
        if rep.complete:
            self.col["cmp"] = self.col["credits"]
        self.head = 4
        self.first = 5
        self.last = 4 + len(rep.operations)
        self.total = self.last + 1
        self.sheet = "By operation"

    def ref(self, key: str, row: int, absolute: bool = True) -> str:
        c = self.col[key]
        cell = f"${c}${row}" if absolute else f"{c}{row}"
        return f"{_quote(self.sheet)}!{cell}"


def _prices_sheet(b: _Book, rep: MonthlyReport) -> dict[str, int]:
    """Assumptions: a list price per operation and the tier multiplier, which every cost formula
    refers to, so editing a price recalculates the costs."""
    ws = b.wb.get_worksheet_by_name("Prices")
    b.title(
        ws,
        "Prices (assumptions)",
        "List prices in "
        + rep.currency
        + " per credit; edit a price or the multiplier and the costs recalculate.",
    )
    b.header(ws, 4, ["Operation", f"List price ({rep.currency} per credit)", "Note"])
    rows: dict[str, int] = {}
    ops = list(rep.operations["operation"])
    extra = sorted(set(rep.prices) - set(ops))
    for r, op in enumerate(ops + extra, start=5):
        rows[op] = r
        b.text(ws, f"A{r}", op)
        if op in rep.prices:
            b.number(ws, f"B{r}", rep.prices[op], "price", bg_color="#FFF9E6")
            b.text(ws, f"C{r}", "not used this month" if op in extra else "", font_color=b.muted)
        else:
            b.number(ws, f"B{r}", None, "price", bg_color="#FFF9E6")
            b.text(
                ws,
                f"C{r}",
                "unpriced: no list price, left out of the estimate (enter one to include it)",
                font_color=b.increase,
            )
    m = 5 + len(ops) + len(extra) + 1
    b.text(ws, f"A{m}", "Tier multiplier", bold=True)
    b.number(ws, f"B{m}", rep.tier_multiplier, "multiplier", bg_color="#FFF9E6")
    b.text(ws, f"C{m}", "applied to every list price", font_color=b.muted)
    b.wb.define_name("TierMultiplier", f"=Prices!$B${m}")
    note = rep.theme.text.get("estimate_note", "Estimated cost is an estimate, not an invoice.")
    b.text(ws, f"A{m + 2}", note, italic=True, font_color=b.muted)
    ws.set_column("A:A", 26)
    ws.set_column("B:B", 22)
    ws.set_column("C:C", 60)
    ws.freeze_panes(4, 1)
    b.page(ws, landscape=False, header_row=4)
    return rows


def _by_operation(
    b: _Book, rep: MonthlyReport, lay: _OpsLayout, price_rows: dict[str, int]
) -> None:
    ws = b.wb.get_worksheet_by_name(lay.sheet)
    b.title(
        ws,
        f"Credits by operation — {rep.month_name}",
        f"Change basis: {rep.comparison_basis}. Credits come from the Daily sheet; "
        "cost is an estimate from the Prices sheet.",
    )
    b.header(ws, lay.head, lay.titles, height=45)
    c = lay.col
    ops = rep.operations
    f_num = {"align": "right"}
    for r, row in enumerate(ops.itertuples(index=False), start=lay.first):
        op = str(row.operation)
        b.text(ws, f"A{r}", op)
        b.formula(
            ws, f"{c['credits']}{r}", "=" + _credits_formula(op, f"A{r}"), row.credits, "credits"
        )
        b.number(
            ws,
            f"{c['share']}{r}",
            None if _missing(row.share_display) else row.share_display / 100,
            "pct",
        )
        b.number(ws, f"{c['prev']}{r}", row.previous_credits, "credits")
        if not rep.complete:
            b.number(ws, f"{c['cmp']}{r}", row.compared_credits, "credits")
        b.formula(ws, f"{c['chg']}{r}", f"={c['cmp']}{r}-{c['prev']}{r}", row.change, "change")
        b.formula(
            ws,
            f"{c['pct']}{r}",
            f'=IF({c["prev"]}{r}=0,"n/a",{c["chg"]}{r}/{c["prev"]}{r})',
            row.change_pct,
            "signed_pct",
            **f_num,
        )
        if rep.yoy_available:
            b.number(ws, f"{c['yoy']}{r}", row.yoy_credits, "credits")
            b.formula(
                ws,
                f"{c['yoy_pct']}{r}",
                f'=IF({c["yoy"]}{r}=0,"n/a",({c["cmp"]}{r}-{c["yoy"]}{r})/{c["yoy"]}{r})',
                row.yoy_change_pct,
                "signed_pct",
                **f_num,
            )
        price = f"Prices!$B${price_rows[op]}"
        priced = bool(row.priced)
        b.formula(
            ws,
            f"{c['price']}{r}",
            f'=IF(ISNUMBER({price}),{price}*TierMultiplier,"unpriced")',
            row.price if priced else "unpriced",
            "price",
            **f_num,
        )
        b.formula(
            ws,
            f"{c['cost']}{r}",
            f'=IF(ISNUMBER({price}),ROUND({c["credits"]}{r}*{price}*TierMultiplier,2),"unpriced")',
            row.estimated_cost if priced else "unpriced",
            "money",
            **f_num,
        )
        b.formula(
            ws,
            f"{c['cost_chg']}{r}",
            f"=IF(ISNUMBER({price}),ROUND(ROUND({c['cmp']}{r}*{price}*TierMultiplier,2)"
            f'-ROUND({c["prev"]}{r}*{price}*TierMultiplier,2),2),"unpriced")',
            row.cost_change if priced else "unpriced",
            "money_change",
            **f_num,
        )
    t, lo, hi = lay.total, lay.first, lay.last
    tot = {"bold": True, "top": 1, "bottom": 6}
    b.text(ws, f"A{t}", "Total", **tot)

    def col_sum(key: str, value: float, num: str) -> None:
        k = c[key]
        b.formula(ws, f"{k}{t}", f"=SUM({k}{lo}:{k}{hi})" if hi >= lo else "=0", value, num, **tot)

    col_sum("credits", rep.total, "credits")
    col_sum("share", float(ops["share_display"].sum()) / 100 if rep.total else 0.0, "pct")
    col_sum("prev", rep.previous_total, "credits")
    if not rep.complete:
        col_sum("cmp", rep.compared_total, "credits")
    col_sum("chg", rep.change, "change")
    b.formula(
        ws,
        f"{c['pct']}{t}",
        f'=IF({c["prev"]}{t}=0,"n/a",{c["chg"]}{t}/{c["prev"]}{t})',
        rep.change_pct if rep.previous_total else "n/a",
        "signed_pct",
        align="right",
        **tot,
    )
    if rep.yoy_available:
        col_sum("yoy", rep.yoy_total or 0.0, "credits")
        b.formula(
            ws,
            f"{c['yoy_pct']}{t}",
            f'=IF({c["yoy"]}{t}=0,"n/a",({c["cmp"]}{t}-{c["yoy"]}{t})/{c["yoy"]}{t})',
            rep.yoy_change_pct if rep.yoy_total else "n/a",
            "signed_pct",
            align="right",
            **tot,
        )
    ws.write_blank(f"{c['price']}{t}", None, b.fmt(**tot))
    col_sum("cost", rep.estimated_cost, "money")
    col_sum("cost_chg", rep.cost_change, "money_change")
    if rep.unpriced:
        b.text(
            ws,
            f"A{t + 2}",
            "Unpriced (no list price, not in the estimated cost): "
            + ", ".join(rep.unpriced)
            + ". Add a price on the Prices sheet to include them.",
            font_color=b.increase,
        )
    if hi >= lo:
        b.signed_colours(ws, f"{c['chg']}{lo}:{c['pct']}{t}")
        b.signed_colours(ws, f"{c['cost_chg']}{lo}:{c['cost_chg']}{t}")
        if rep.yoy_available:
            b.signed_colours(ws, f"{c['yoy_pct']}{lo}:{c['yoy_pct']}{t}")
        ws.conditional_format(
            f"{c['share']}{lo}:{c['share']}{hi}",
            {
                "type": "data_bar",
                "bar_color": b.accent,
                "min_type": "num",
                "min_value": 0,
                "max_type": "num",
                "max_value": 1,
                "bar_solid": True,
            },
        )
    ws.freeze_panes(lay.head, 1)
    ws.set_column("A:A", 24)
    ws.set_column(f"B:{_col(len(lay.titles))}", 14)
    b.page(ws, landscape=True, header_row=lay.head)
    names = {
        "MonthTotal": "credits",
        "PreviousTotal": "prev",
        "ComparedTotal": "cmp",
        "ChangeCredits": "chg",
        "ChangePct": "pct",
        "EstimatedCost": "cost",
        "CostChange": "cost_chg",
    }
    if rep.yoy_available:
        names.update({"YearAgoTotal": "yoy", "YearAgoChangePct": "yoy_pct"})
    for name, key in names.items():
        b.wb.define_name(name, "=" + lay.ref(key, t))
    # Share of credits as a doughnut beside the table, in the operations' colours.
    positive = ops[ops["credits"] > 0]
    if len(positive) and rep.total > 0:
        chart = b.wb.add_chart({"type": "doughnut"})
        chart.add_series(
            {
                "name": "Credits",
                "categories": [lay.sheet, lo - 1, 0, hi - 1, 0],
                "values": [lay.sheet, lo - 1, 1, hi - 1, 1],
                "points": [
                    {"fill": {"color": "#" + rep.colors.get(str(op), "7F7F7F")}}
                    for op in ops["operation"]
                ],
                # The agreed one-decimal shares (the chart's own percentages would be exact and
                # disagree with the table, the PDF and the email); slivers get no label.
                "data_labels": {
                    "value": True,
                    "position": "outside_end",
                    "custom": [
                        {"value": rep.formats.share(sd)} if sd >= 3 else {"delete": True}
                        for sd in ops["share_display"].fillna(0.0)
                    ],
                },
            }
        )
        chart.set_title({"name": f"Share of credits, {rep.month_name}", "name_font": {"size": 11}})
        chart.set_hole_size(50)
        chart.set_size({"width": 520, "height": 330})
        ws.insert_chart(f"A{t + 4}", chart)


def _cost(b: _Book, rep: MonthlyReport, lay: _OpsLayout) -> dict[str, str]:
    """The cost-first view: operations ranked by estimated cost."""
    ws = b.wb.get_worksheet_by_name("Cost")
    b.title(
        ws,
        f"Estimated cost by operation, ranked — {rep.month_name}",
        "Estimate at list prices (Prices sheet); "
        "operations without a list price are named as unpriced.",
    )
    titles = [
        "Rank",
        "Operation",
        "Estimated cost",
        "Share of cost",
        "Credits",
        "Share of credits",
        f"Cost change vs {rep.previous_month_name}"
        if rep.complete
        else "Cost change, like for like",
    ]
    b.header(ws, 4, titles, height=36)
    row_of = {str(op): r for r, op in enumerate(rep.operations["operation"], start=lay.first)}
    costs = rep.cost_by_operation
    for r, row in enumerate(costs.itertuples(index=False), start=5):
        src = row_of[str(row.operation)]
        if row.priced:
            b.number(ws, f"A{r}", r - 4, "0", align="center")
        else:
            b.text(ws, f"A{r}", "–", align="center")
        b.text(ws, f"B{r}", str(row.operation))
        priced = bool(row.priced)
        b.formula(
            ws,
            f"C{r}",
            "=" + lay.ref("cost", src),
            row.estimated_cost if priced else "unpriced",
            "money",
            align="right",
        )
        if priced:
            b.number(
                ws,
                f"D{r}",
                None if _missing(row.cost_share_display) else row.cost_share_display / 100,
                "pct",
            )
        else:
            b.text(ws, f"D{r}", "unpriced", align="right", font_color=b.increase)
        b.formula(ws, f"E{r}", "=" + lay.ref("credits", src), row.credits, "credits")
        b.number(
            ws, f"F{r}", None if _missing(row.share_display) else row.share_display / 100, "pct"
        )
        op_row = rep.operations.set_index("operation").loc[row.operation]
        b.formula(
            ws,
            f"G{r}",
            "=" + lay.ref("cost_chg", src),
            op_row["cost_change"] if priced else "unpriced",
            "money_change",
            align="right",
        )
    t = 5 + len(costs)
    tot = {"bold": True, "top": 1, "bottom": 6}
    b.text(ws, f"B{t}", "Total", **tot)
    for col in ("A", "D", "F"):
        ws.write_blank(f"{col}{t}", None, b.fmt(**tot))
    b.formula(ws, f"C{t}", f"=SUM(C5:C{t - 1})", rep.estimated_cost, "money", **tot)
    b.formula(ws, f"E{t}", f"=SUM(E5:E{t - 1})", rep.total, "credits", **tot)
    b.formula(ws, f"G{t}", f"=SUM(G5:G{t - 1})", rep.cost_change, "money_change", **tot)
    if len(costs):
        b.signed_colours(ws, f"G5:G{t}")
        ws.conditional_format(
            f"D5:D{t - 1}",
            {
                "type": "data_bar",
                "bar_color": b.accent,
                "min_type": "num",
                "min_value": 0,
                "max_type": "num",
                "max_value": 1,
                "bar_solid": True,
            },
        )
        priced = costs[costs["priced"]]
        if len(priced):
            chart = b.wb.add_chart({"type": "bar"})
            chart.add_series(
                {
                    "name": "Estimated cost",
                    "categories": ["Cost", 4, 1, 3 + len(priced), 1],
                    "values": ["Cost", 4, 2, 3 + len(priced), 2],
                    "points": [
                        {"fill": {"color": "#" + rep.colors.get(str(op), "7F7F7F")}}
                        for op in priced["operation"]
                    ],
                    "data_labels": {"value": True, "num_format": b.n["money"]},
                }
            )
            chart.set_title({"name": "Estimated cost by operation", "name_font": {"size": 11}})
            chart.set_legend({"none": True})
            chart.set_y_axis({"reverse": True})
            chart.set_x_axis(
                {
                    "num_format": "$#,##0" if rep.currency == "USD" else "#,##0",
                    "major_gridlines": {"visible": True, "line": {"color": b.grid}},
                }
            )
            chart.set_size({"width": 620, "height": 40 + 28 * len(priced) + 60})
            ws.insert_chart(f"A{t + 3}", chart)
    ws.set_column("A:A", 7)
    ws.set_column("B:B", 24)
    ws.set_column("C:G", 15)
    ws.freeze_panes(4, 2)
    b.page(ws, landscape=False, header_row=4)
    return {"first_cost": "'Cost'!$C$5"}


def _monthly(b: _Book, rep: MonthlyReport) -> dict[str, Any]:
    """Months down, operations across (so 24 months print on one page wide), with the total,
    month-over-month and year-over-year changes as formulas."""
    ws = b.wb.get_worksheet_by_name("Monthly")
    monthly = rep.monthly
    months = [str(m) for m in monthly.columns]
    ops = [str(o) for o in monthly.index]
    b.title(
        ws,
        f"Credits by month — {len(months)} months to {rep.month_name}",
        "Months × operations; totals, month-over-month and year-over-year changes are formulas.",
    )
    head, first = 4, 5
    last = 4 + len(months)
    n_ops = len(ops)
    tot_c, chg_c, pct_c, yoy_c = (
        _col(n_ops + 2),
        _col(n_ops + 3),
        _col(n_ops + 4),
        _col(n_ops + 5),
    )
    b.header(
        ws,
        head,
        [
            "Month",
            *ops,
            "Total",
            "Change vs previous month",
            "Change %",
            "Change vs same month last year %",
        ],
        height=45,
    )
    values = monthly.to_numpy(dtype="float64").T  # months × operations
    totals = values.sum(axis=1) if n_ops else [0.0] * len(months)
    for m, (month, row) in enumerate(zip(months, values)):
        r = first + m
        b.text(ws, f"A{r}", month, bold=month == rep.month)
        for j, v in enumerate(row, start=2):
            b.number(ws, f"{_col(j)}{r}", v, "credits")
        now = float(totals[m])
        b.formula(
            ws,
            f"{tot_c}{r}",
            f"=SUM(B{r}:{_col(n_ops + 1)}{r})" if n_ops else "=0",
            now,
            "credits",
            bold=True,
        )
        if m >= 1:
            before = float(totals[m - 1])
            b.formula(ws, f"{chg_c}{r}", f"={tot_c}{r}-{tot_c}{r - 1}", now - before, "change")
            b.formula(
                ws,
                f"{pct_c}{r}",
                f'=IF({tot_c}{r - 1}=0,"n/a",{chg_c}{r}/{tot_c}{r - 1})',
                (now - before) / before if before else "n/a",
                "signed_pct",
                align="right",
            )
        if m >= 12:
            ago = float(totals[m - 12])
            b.formula(
                ws,
                f"{yoy_c}{r}",
                f'=IF({tot_c}{r - 12}=0,"n/a",{tot_c}{r}/{tot_c}{r - 12}-1)',
                now / ago - 1 if ago else "n/a",
                "signed_pct",
                align="right",
            )
    if last >= first:
        b.signed_colours(ws, f"{chg_c}{first}:{yoy_c}{last}")
    ws.freeze_panes(head, 1)
    ws.set_column("A:A", 10)
    ws.set_column(
        f"B:{_col(n_ops + 1)}", max(12, min(18, max((len(o) for o in ops), default=8) * 0.9))
    )
    ws.set_column(f"{tot_c}:{yoy_c}", 13)
    b.page(ws, landscape=True, header_row=head)
    month_row = first + months.index(rep.month) if rep.month in months else None
    yoy_row = first + months.index(rep.yoy_month) if rep.yoy_month in months else None
    return {
        "head": head,
        "first": first,
        "last": last,
        "ops": ops,
        "month_row": month_row,
        "yoy_row": yoy_row,
        "tot_col": tot_c,
    }


def _daily(b: _Book, rep: MonthlyReport) -> None:
    ws = b.wb.get_worksheet_by_name("Daily")
    daily = rep.daily
    n = len(daily)
    days = daily["period_start"].dt.tz_localize(None).dt.normalize()
    date_fmt = b.fmt(num_format=b.n["date"], align="left")
    num_fmt = b.fmt(num_format=b.n["credits"])
    for i, (day, op, credits) in enumerate(
        zip(days, daily["operation"], daily["credits"]), start=2
    ):
        ws.write_datetime(f"A{i}", day.to_pydatetime(), date_fmt)
        b.text(ws, f"B{i}", str(op))
        ws.write_number(f"C{i}", float(credits), num_fmt)
    last = max(n + 1, 2)
    head = b.fmt(bold=True, font_color=b.header_font, bg_color=b.header_fill)
    ws.add_table(
        f"A1:C{last}",
        {
            "name": "DailyUsage",
            "style": "Table Style Medium 2",
            "columns": [
                {"header": h, "header_format": head} for h in ("Date", "Operation", "Credits")
            ],
        },
    )
    b.wb.define_name("DailyDate", f"=Daily!$A$2:$A${last}")
    b.wb.define_name("DailyOperation", f"=Daily!$B$2:$B${last}")
    b.wb.define_name("DailyCredits", f"=Daily!$C$2:$C${last}")
    if len(rep.anomalies) and n:
        for a in rep.anomalies.itertuples(index=False):
            hit = (days.dt.date == a.day) & (daily["operation"] == a.operation)
            for i in hit[hit].index + 2:
                ws.conditional_format(
                    f"A{i}:C{i}", {"type": "no_blanks", "format": b.fmt(bg_color=b.anomaly)}
                )
    ws.freeze_panes(1, 0)
    ws.set_column("A:A", 12)
    ws.set_column("B:B", 26)
    ws.set_column("C:C", 14)
    b.page(ws, landscape=False, header_row=1)


def _anomalies(b: _Book, rep: MonthlyReport) -> None:
    ws = b.wb.get_worksheet_by_name("Anomalies")
    b.title(ws, f"Anomalies — {rep.month_name}", ANOMALY_RULE[0].upper() + ANOMALY_RULE[1:] + ".")
    head = 4
    b.header(
        ws,
        head,
        [
            "Day",
            "Operation",
            "Credits",
            "Baseline (median)",
            "Above baseline",
            "Share of the month's change",
            "Score (× MAD)",
        ],
        height=36,
    )
    if rep.anomalies.empty:
        b.text(ws, f"A{head + 1}", "No anomalies flagged this month.")
    # Each figure with the decimals it needs, so credits − baseline = excess as displayed.
    fc, fb = anomaly_formats(rep)
    fill = {"bg_color": b.anomaly}
    for i, row in enumerate(rep.anomalies.itertuples(index=False), start=head + 1):
        ws.write_datetime(
            f"A{i}",
            dt.datetime.combine(row.day, dt.time()),
            b.fmt(num_format=b.n["date"], align="left", **fill),
        )
        b.text(ws, f"B{i}", str(row.operation), **fill)
        b.number(ws, f"C{i}", row.credits, fc.excel_credits, **fill)
        b.number(ws, f"D{i}", row.baseline, fb.excel_credits, **fill)
        b.formula(ws, f"E{i}", f"=C{i}-D{i}", row.excess, fb.excel_credits, **fill)
        b.formula(
            ws,
            f"F{i}",
            f'=IF(OR(PreviousTotal=0,ChangeCredits=0),"n/a",E{i}/ChangeCredits)',
            row.share_of_change,
            "pct",
            align="right",
            **fill,
        )
        b.number(ws, f"G{i}", round(float(row.score), 2), "score", **fill)
    ws.freeze_panes(head, 0)
    ws.set_column("A:A", 12)
    ws.set_column("B:B", 24)
    ws.set_column("C:G", 15)
    b.page(ws, landscape=False, header_row=head)


def _bridge_chart(b: _Book) -> Any:
    """The waterfall as a native chart over the Drivers table: an invisible base series carries
    each step to its height; totals, increases and decreases stack on it."""
    first, last, start, end, floor = b.bridge_chart
    chart = b.wb.add_chart({"type": "column", "subtype": "stacked"})
    cats = ["Drivers", first - 1, 0, last - 1, 0]
    for idx, (name, fill) in enumerate(
        [("Base", None), ("Total", b.primary), ("Increase", b.increase), ("Decrease", b.decrease)]
    ):
        spec: dict[str, Any] = {
            "name": name,
            "categories": cats,
            "values": ["Drivers", first - 1, 4 + idx, last - 1, 4 + idx],
        }
        spec["fill"] = {"none": True} if fill is None else {"color": fill}
        if fill is None:
            spec["border"] = {"none": True}
        if idx == 1:
            spec["gap"] = 50
        chart.add_series(spec)
    chart.set_title({"name": f"What drove the change: {start} to {end}", "name_font": {"size": 11}})
    chart.set_y_axis(
        {
            "min": floor,
            "num_format": "#,##0",
            "major_gridlines": {"visible": True, "line": {"color": b.grid}},
        }
    )
    chart.set_x_axis({"num_font": {"rotation": -30}})
    chart.set_legend({"position": "bottom", "delete_series": [0, 1]})
    chart.set_size({"width": 700, "height": 340})
    return chart


def _drivers(b: _Book, rep: MonthlyReport, lay: _OpsLayout) -> None:
    """The bridge from the comparison base to this month as a table and a native waterfall."""
    ws = b.wb.get_worksheet_by_name("Drivers")
    bridge = rep.bridge
    start, end = bridge["label"].iloc[0], bridge["label"].iloc[-1]
    b.title(
        ws,
        f"What drove the change — {start} to {end}",
        "One bar per operation's change, largest first; small ones grouped as other. "
        "Anomalies are on the Anomalies sheet with their share of the change.",
    )
    head = 4
    b.header(
        ws,
        head,
        [
            "Step",
            "Credits",
            "Running total",
            "Operations",
            "Bar base",
            "Total bar",
            "Increase",
            "Decrease",
        ],
        height=30,
    )
    row_of = {str(op): r for r, op in enumerate(rep.operations["operation"], start=lay.first)}
    first = head + 1
    helper = {"font_color": b.muted}
    for i, row in enumerate(bridge.itertuples(index=False), start=first):
        b.text(ws, f"A{i}", str(row.label), bold=row.kind in ("start", "end"))
        if row.kind == "start":
            b.formula(ws, f"B{i}", "=PreviousTotal", row.value, "credits", bold=True)
            b.formula(ws, f"C{i}", f"=B{i}", row.top, "credits")
        elif row.kind == "end":
            b.formula(ws, f"B{i}", "=ComparedTotal", row.value, "credits", bold=True)
            b.formula(ws, f"C{i}", f"=B{i}", row.top, "credits")
        else:
            refs = [lay.ref("chg", row_of[op]) for op in str(row.operations).split(", ")]
            b.formula(ws, f"B{i}", "=" + "+".join(refs), row.value, "change")
            b.formula(ws, f"C{i}", f"=C{i - 1}+B{i}", row.top, "credits")
        b.text(ws, f"D{i}", str(row.operations) if row.kind == "other" else "", font_color=b.muted)
        is_step = row.kind in ("operation", "other")
        base = min(row.bottom, row.top) if is_step else 0.0
        b.formula(
            ws, f"E{i}", f"=MIN(C{i - 1},C{i})" if is_step else "=0", base, "credits", **helper
        )
        b.formula(
            ws,
            f"F{i}",
            "=0" if is_step else f"=B{i}",
            0.0 if is_step else row.value,
            "credits",
            **helper,
        )
        b.formula(
            ws,
            f"G{i}",
            f"=MAX(B{i},0)" if is_step else "=0",
            max(row.value, 0.0) if is_step else 0.0,
            "credits",
            **helper,
        )
        b.formula(
            ws,
            f"H{i}",
            f"=MAX(-B{i},0)" if is_step else "=0",
            max(-row.value, 0.0) if is_step else 0.0,
            "credits",
            **helper,
        )
    last = first + len(bridge) - 1
    if len(bridge) > 2:
        b.signed_colours(ws, f"B{first + 1}:B{last - 1}")
    chk = last + 2
    b.text(ws, f"A{chk}", "Steps add up to the total", bold=True)
    ok = "OK"
    b.formula(
        ws,
        f"B{chk}",
        f'=IF(ABS(C{last - 1}-B{last})<0.005,"OK","FAIL")',
        ok,
        None,
        bold=True,
        align="right",
    )
    ws.conditional_format(
        f"B{chk}",
        {
            "type": "cell",
            "criteria": "==",
            "value": '"FAIL"',
            "format": b.fmt(bold=True, font_color=b.increase),
        },
    )
    lows = [
        min(r.bottom, r.top)
        for r in bridge.itertuples(index=False)
        if r.kind in ("operation", "other")
    ]
    lows += [float(bridge["value"].iloc[0]), float(bridge["value"].iloc[-1])]
    floor = _axis_floor(min(lows), max(float(bridge["top"].max()), 1.0))
    b.bridge_chart = (first, last, start, end, floor)
    chart = _bridge_chart(b)
    ws.insert_chart(f"A{chk + 2}", chart)
    ws.set_column("A:A", 30)
    ws.set_column("B:C", 14)
    ws.set_column("D:D", 36)
    ws.set_column("E:H", 11)
    b.page(ws, landscape=True, header_row=head)


def _axis_floor(low: float, high: float) -> float:
    """Where the bridge's value axis starts: below the lowest bar by a round step, so the steps
    are visible instead of thin slivers on top of two tall totals."""
    import math

    if low <= 0:
        return 0.0
    span = max(high - low, 1.0)
    step = 10 ** math.floor(math.log10(span))
    floor = math.floor((low - span * 0.5) / step) * step
    return max(floor, 0.0)


def _about(b: _Book, rep: MonthlyReport) -> None:
    ws = b.wb.get_worksheet_by_name("About")
    b.title(ws, "About this workbook", "How the figures were made.")
    width = 100
    negatives = int((rep.daily["credits"] < 0).sum())
    rows: list[tuple[str, Any, str | None]] = [
        ("Account", rep.account, None),
        ("Month", f"{rep.month_name} ({rep.month})", None),
        (
            "Month complete",
            "yes"
            if rep.complete
            else f"no: {rep.elapsed_days} of {rep.days_in_month} days complete",
            None,
        ),
        ("Source", rep.source_label, None),
        ("Timezone", rep.timezone, None),
        ("Data as of", rep.as_of.strftime("%Y-%m-%d %H:%M %Z"), None),
        (
            "Periods",
            "Days are local calendar days in the timezone above; months are calendar months; "
            "weeks are ISO weeks (Monday to Sunday).",
            None,
        ),
        ("Comparison", rep.comparison_basis, None),
        ("Like-for-like rule", rep.rule, None),
        (
            "Year over year",
            f"Against {rep.yoy_month_name}"
            + ("" if rep.complete else f", days 1–{rep.elapsed_days}")
            if rep.yoy_available
            else f"Not available: the data does not reach back to {rep.yoy_month_name}.",
            None,
        ),
        ("unattributed", "The API's total credits minus its per-operation breakdown.", None),
        (
            "Estimated cost",
            rep.theme.text.get("estimate_note", "An estimate, not an invoice.")
            + " Each cost line is rounded half up to the cent once; "
            "the total is the sum of the lines. "
            "Prices and the tier multiplier are on the Prices sheet.",
            None,
        ),
        ("Tier multiplier", rep.tier_multiplier, "multiplier"),
        (
            "Shares",
            "Shares are shown to one decimal, rounded by largest remainder so they add up to "
            "100.0% (the same figures as the PDF and the email).",
            None,
        ),
        ("Anomalies", ANOMALY_RULE[0].upper() + ANOMALY_RULE[1:] + ".", None),
        (
            "Negative credits",
            "none"
            if not negatives
            else f"yes: {negatives} row(s) with negative credits (refunds), kept as reported",
            None,
        ),
        ("Month total", rep.total, "credits"),
        ("Estimated cost, total", rep.estimated_cost, "money"),
    ]
    if rep.projection is not None:
        rows.append(("Month-end projection (estimate)", rep.projection, "projection"))
        if rep.forecast is not None and rep.forecast.interval_80 is not None:
            rows.append(
                ("Month-end projection, interval and accuracy", projection_detail(rep), None)
            )
    rows += [
        ("Input checksum (SHA-256)", rep.checksum, None),
        ("Tool", f"generect-reports {rep.version}", None),
    ]
    rows += [("Warning", w, None) for w in rep.warnings] + [("Note", n, None) for n in rep.notes]
    key_fmt = {"bold": True, "valign": "top"}
    for i, (key, value, num) in enumerate(rows, start=4):
        b.text(ws, f"A{i}", key, **key_fmt)
        if num:
            b.number(ws, f"B{i}", value, num, align="left", valign="top")
        else:
            b.text(ws, f"B{i}", str(value), text_wrap=True, valign="top")
            lines = _lines(str(value), width)
            if lines > 1:
                ws.set_row(i - 1, 15 * lines)
    ws.set_column("A:A", 30)
    ws.set_column("B:B", width)
    b.page(ws, landscape=True)


def _exceptions_block(b: _Book, ws: Any, rep: MonthlyReport, row: int, width: float) -> int:
    """The report's exceptions and actions under a ruled heading, alerts in the theme's
    increase colour; returns the row after the block."""
    from generect_reports.reports.exceptions import NOTHING_TO_REPORT, TITLE, report_exceptions

    ws.write_string(f"A{row}", TITLE, b.fmt(bold=True, font_color=b.primary, bottom=1))
    ws.write_blank(f"B{row}", None, b.fmt(bottom=1))
    ws.write_blank(f"C{row}", None, b.fmt(bottom=1))
    row += 1
    found = report_exceptions(rep)
    lines = [(("• " + e.text), e.alert) for e in found] or [(NOTHING_TO_REPORT, False)]
    wrap = b.fmt(text_wrap=True, valign="top")
    for text, alert in lines:
        ws.merge_range(f"A{row}:C{row}", "", wrap)
        props: dict[str, Any] = {"text_wrap": True, "valign": "top"}
        if alert:
            props.update(font_color=b.increase, bold=True)
        b.text(ws, f"A{row}", text, **props)
        ws.set_row(row - 1, 15 * _lines(text, width))
        row += 1
    return row


def _summary(b: _Book, rep: MonthlyReport, lay: _OpsLayout, monthly: dict[str, Any]) -> None:
    ws = b.wb.get_worksheet_by_name("Summary")
    t = rep.theme.text
    b.title(
        ws,
        f"{t.get('title', 'Generect credit usage')} — {rep.month_name}",
        f"{rep.account} · timezone {rep.timezone} · data as of {rep.as_of:%Y-%m-%d %H:%M}",
    )
    widths = {"A": 38, "B": 16, "C": 46}
    for col, w in widths.items():
        ws.set_column(f"{col}:{col}", w)
    row = 4
    wrap = b.fmt(text_wrap=True, valign="top")
    row = _exceptions_block(b, ws, rep, row, sum(widths.values())) + 1
    ws.write_string(f"A{row}", "In brief", b.fmt(bold=True, font_color=b.primary, bottom=1))
    ws.write_blank(f"B{row}", None, b.fmt(bottom=1))
    ws.write_blank(f"C{row}", None, b.fmt(bottom=1))
    row += 1
    for sentence in rep.narrative:
        ws.merge_range(f"A{row}:C{row}", "", wrap)
        b.text(ws, f"A{row}", sentence, text_wrap=True, valign="top")
        ws.set_row(row - 1, 15 * _lines(sentence, sum(widths.values())))
        row += 1
    row += 1
    b.header(ws, row, ["Figure", "Value", "Detail"], height=20)
    row += 1
    f = rep.formats
    sheet = _quote(lay.sheet)
    B, lo, hi = lay.col["credits"], lay.first, lay.last
    prev_label = (
        f"Previous month ({rep.previous_month_name})"
        if rep.complete
        else f"{rep.previous_month_name}, days 1–{rep.elapsed_days}"
    )
    right = {"align": "right", "valign": "top"}
    kpis: list[tuple[str, str | None, Any, str | None, str]] = [
        (
            "Credits this month" if rep.complete else "Credits so far",
            "=MonthTotal",
            rep.total,
            "credits",
            "" if rep.complete else f"{rep.elapsed_days} of {rep.days_in_month} days complete",
        ),
    ]
    if not rep.complete:
        kpis.append(
            (
                f"Credits, days 1–{rep.elapsed_days}",
                "=ComparedTotal",
                rep.compared_total,
                "credits",
                "the like-for-like base of the change",
            )
        )
    kpis += [
        (prev_label, "=PreviousTotal", rep.previous_total, "credits", ""),
        ("Change vs previous month", "=ChangeCredits", rep.change, "change", rep.comparison_basis),
        (
            "Change %",
            "=ChangePct",
            rep.change_pct if rep.previous_total else "n/a",
            "signed_pct",
            "",
        ),
    ]
    if rep.yoy_available:
        kpis += [
            (
                f"Same month last year ({rep.yoy_month_name})"
                if rep.complete
                else f"{rep.yoy_month_name}, days 1–{rep.elapsed_days}",
                "=YearAgoTotal",
                rep.yoy_total,
                "credits",
                "",
            ),
            (
                "Change vs same month last year %",
                "=YearAgoChangePct",
                rep.yoy_change_pct if rep.yoy_total else "n/a",
                "signed_pct",
                "",
            ),
        ]
    kpis += [
        (
            "Top operation (credits)",
            f'=IF(MonthTotal<=0,"-",INDEX({sheet}!$A${lo}:$A${hi},MATCH(MAX({sheet}!${B}${lo}:${B}${hi}),{sheet}!${B}${lo}:${B}${hi},0)))'
            if hi >= lo
            else '="-"',
            rep.top_operation or "-",
            None,
            "",
        ),
        *(
            []
            if rep.booked is None
            else [
                (
                    "Booked cost",
                    None,
                    rep.booked.booked_cost,
                    "money",
                    f"consumed {f.money(rep.booked.consumed)} + accrual for pending charges "
                    f"{f.money(rep.booked.pending_accrual)} ({rep.booked.basis})",
                )
            ]
        ),
        (
            "Estimated cost (estimate)" if rep.booked is None else "List-price value (secondary)",
            "=EstimatedCost",
            rep.estimated_cost,
            "money",
            "at list prices; see Prices"
            + (f"; unpriced: {', '.join(rep.unpriced)}" if rep.unpriced else ""),
        ),
        (
            "Cost change vs previous month" if rep.complete else "Cost change, like for like",
            "=CostChange",
            rep.cost_change,
            "money_change",
            "",
        ),
    ]
    if rep.largest_cost_operation is not None:
        line = rep.cost_by_operation.iloc[0]
        kpis.append(("Largest cost line", None, rep.largest_cost_operation, None, ""))
        kpis.append(
            (
                "Largest cost line, estimated cost",
                "='Cost'!$C$5",
                rep.largest_cost,
                "money",
                f"{f.share(line['cost_share_display'])} of cost "
                f"for {f.share(line['share_display'])} of credits",
            )
        )
    if not rep.complete and rep.projection is not None:
        kpis.append(
            (
                "Month-end projection (estimate)",
                None,
                rep.projection,
                "projection",
                "credits so far plus each remaining day's mean for its weekday; "
                + projection_detail(rep),
            )
        )
        if rep.forecast is not None and rep.forecast.interval_80 is not None:
            low, high = rep.forecast.interval_80
            kpis.append(("Month-end projection, 80% low", None, low, "projection", ""))
            kpis.append(("Month-end projection, 80% high", None, high, "projection", ""))
    label = {"bold": True, "valign": "top"}
    change_rows: list[int] = []
    for name, formula, value, num, detail in kpis:
        b.text(ws, f"A{row}", name, **label)
        if formula is None and isinstance(value, str):
            b.text(ws, f"B{row}", value, **right)
        elif formula is None:
            b.number(ws, f"B{row}", value, num, **right)
        else:
            b.formula(ws, f"B{row}", formula, value, num, **right)
        if num in ("change", "signed_pct", "money_change"):
            change_rows.append(row)
        b.text(ws, f"C{row}", detail, font_color=b.muted, text_wrap=True, valign="top")
        if detail and _lines(detail, widths["C"]) > 1:
            ws.set_row(row - 1, 15 * _lines(detail, widths["C"]))
        if name.startswith("Top operation"):
            b.wb.define_name("TopOperation", f"=Summary!$B${row}")
        row += 1
    for r in change_rows:
        b.signed_colours(ws, f"B{r}")
    # The tie-out: Monthly (history), By operation (SUMIFS over Daily) and Daily agree.
    mrow = monthly["month_row"]
    parts = ["ABS(SUM(DailyCredits)-MonthTotal)<0.005"]
    if mrow is not None:
        parts.append(f"ABS(Monthly!${monthly['tot_col']}${mrow}-MonthTotal)<0.005")
    # The operations of By operation head the Monthly sheet's columns, in the same order.
    n_ops = hi - lo + 1
    check_ops = (
        mrow is not None
        and n_ops > 0
        and monthly["ops"][:n_ops] == [str(o) for o in rep.operations["operation"]]
    )
    if check_ops:
        parts.append(
            f"SUMPRODUCT(ABS({sheet}!${B}${lo}:${B}${hi}-TRANSPOSE(Monthly!$B${mrow}:"
            f"${_col(n_ops + 1)}${mrow})))<0.005"
        )
    # Year over year of a complete month: the year-ago column is that month on the Monthly sheet
    # (a running month compares the first days only, which the Monthly sheet does not hold).
    yrow = monthly["yoy_row"]
    if rep.yoy_available and rep.complete and yrow is not None:
        parts.append(f"ABS(Monthly!${monthly['tot_col']}${yrow}-YearAgoTotal)<0.005")
        if check_ops:
            Y = lay.col["yoy"]
            parts.append(
                f"SUMPRODUCT(ABS({sheet}!${Y}${lo}:${Y}${hi}-TRANSPOSE(Monthly!$B${yrow}:"
                f"${_col(n_ops + 1)}${yrow})))<0.005"
            )
    b.text(ws, f"A{row}", "Check: the sheets agree", **label)
    # An array formula: TRANSPOSE inside SUMPRODUCT needs array evaluation in older Excel.
    ws.write_array_formula(
        f"B{row}:B{row}",
        f'{{=IF(AND({",".join(parts)}),"OK","FAIL")}}',
        b.fmt(bold=True, **right),
        "OK",
    )
    # One live result: the detail follows the check cell, so it never contradicts it.
    b.formula(
        ws,
        f"C{row}",
        f'=IF(B{row}="OK","Monthly, By operation and Daily agree",'
        '"A figure was edited on one sheet only")',
        "Monthly, By operation and Daily agree",
        font_color=b.muted,
        text_wrap=True,
        valign="top",
    )
    ws.conditional_format(
        f"B{row}",
        {
            "type": "cell",
            "criteria": "==",
            "value": '"FAIL"',
            "format": b.fmt(bold=True, font_color="#FFFFFF", bg_color=b.increase),
        },
    )
    ws.conditional_format(
        f"B{row}",
        {
            "type": "cell",
            "criteria": "==",
            "value": '"OK"',
            "format": b.fmt(bold=True, font_color=b.decrease),
        },
    )
    b.wb.define_name("CheckTieOut", f"=Summary!$B${row}")
    row += 2
    for text in rep.warnings:
        ws.merge_range(f"A{row}:C{row}", "", wrap)
        b.text(ws, f"A{row}", "⚠ " + text, font_color=b.increase, text_wrap=True, valign="top")
        ws.set_row(row - 1, 15 * _lines("⚠ " + text, sum(widths.values())))
        row += 1
    for text in rep.notes:
        ws.merge_range(f"A{row}:C{row}", "", wrap)
        b.text(ws, f"A{row}", text, font_color=b.muted, text_wrap=True, valign="top")
        ws.set_row(row - 1, 15 * _lines(text, sum(widths.values())))
        row += 1
    b.page(ws, landscape=False)

    # History: stacked columns by operation, in the table's order (largest at the bottom).
    bridge = _bridge_chart(b)
    ws.insert_chart(f"A{row + 1}", bridge)
    row += 19
    ws.set_h_pagebreaks([row])
    months = list(rep.monthly.columns)
    if monthly["last"] >= monthly["first"] and monthly["ops"]:
        chart = b.wb.add_chart({"type": "column", "subtype": "stacked"})
        for j, op in enumerate(monthly["ops"], start=1):
            chart.add_series(
                {
                    "name": ["Monthly", monthly["head"] - 1, j],
                    "categories": ["Monthly", monthly["first"] - 1, 0, monthly["last"] - 1, 0],
                    "values": ["Monthly", monthly["first"] - 1, j, monthly["last"] - 1, j],
                    "gap": 40,
                    "fill": {"color": "#" + rep.colors.get(op, "7F7F7F")},
                }
            )
        chart.set_title(
            {
                "name": f"Credits by month and operation ({len(months)} months)",
                "name_font": {"size": 11},
            }
        )
        chart.set_y_axis(
            {"num_format": "#,##0", "major_gridlines": {"visible": True, "line": {"color": b.grid}}}
        )
        chart.set_x_axis({"num_font": {"rotation": -45}})
        chart.set_legend({"position": "right"})
        chart.set_size({"width": 700, "height": 340})
        ws.insert_chart(f"A{row + 1}", chart)
        row += 19
    ws.print_area(f"A1:C{row}")


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


SHEETS = [
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


def _sections(b: _Book, rep: MonthlyReport) -> None:
    """The optional sections, each drawn by its own module: limit and budgets, the ledger
    tie-out and its transactions, credits by customer; their figures in the report's formats."""
    sec = rep.sections
    numbers = rep.formats
    # The book's own title, header, note and text styles, so the section sheets look like the rest.
    look = b.section_formats()
    if sec.budget is not None:
        from generect_reports.render.budget import add_budget_sheet

        add_budget_sheet(b.wb, sec.budget, sec.burnup, numbers=numbers, formats=look)
    if sec.reconciliation is not None:
        from generect_reports.render.reconcile import add_ledger_sheet, add_reconciliation_sheet

        add_reconciliation_sheet(b.wb, sec.reconciliation, numbers=numbers, formats=look)
        if sec.ledger is not None:
            add_ledger_sheet(b.wb, sec.ledger, numbers=numbers)
    if sec.allocation is not None:
        from generect_reports.render.chargeback import add_customers_sheet

        add_customers_sheet(b.wb, sec.allocation, numbers=numbers, formats=look)
    for name, heading, header_row in (
        ("Budget", "Plan limit and budgets", None),
        ("Reconciliation", "Reconciliation", None),
        ("Ledger", "Ledger transactions", 1),
        ("By customer", "By customer (estimate)", None),
    ):
        ws = b.wb.get_worksheet_by_name(name)
        if ws is None:
            continue
        if name != "Ledger":  # the ledger's first row is its table's header
            ws.write_string(
                "A1",
                xlsxwriter_text(f"{heading} — {rep.month_name}"),
                b.fmt(bold=True, font_size=b.title_size, font_color=b.primary),
            )
            ws.set_row(0, b.title_size * 1.6)
        b.page(ws, landscape=True, header_row=header_row)
    if sec.budget is not None:
        # The burn-up chart and its table on one page, never sliced.
        b.wb.get_worksheet_by_name("Budget").fit_to_pages(1, 1)


#: Reading order: the management sheets, then the appendices (Daily and Ledger are left out
#: of the default print, the reference sheets close the book).
READING_ORDER = [
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
#: Appendices: in the workbook, not in its default print (their print area is one empty cell,
#: which Excel and LibreOffice skip; clear the print area to print one).
APPENDICES = ("Daily", "Ledger")


def _in_reading_order(b: _Book) -> None:
    """Put the sheets in :data:`READING_ORDER` (any other sheet keeps its place at the end)."""
    sheets = b.wb.worksheets_objs
    rank = {name: i for i, name in enumerate(READING_ORDER)}
    sheets.sort(key=lambda ws: rank.get(ws.get_name(), len(rank)))
    for index, ws in enumerate(sheets):
        ws.index = index


def _appendix_print(b: _Book) -> None:
    for name in APPENDICES:
        ws = b.wb.get_worksheet_by_name(name)
        if ws is not None:
            ws.print_area("XFD1:XFD1")


def render_workbook(rep: MonthlyReport) -> bytes:
    """The workbook of an already built :class:`MonthlyReport` as bytes; the same report always
    gives the same bytes.

    Every formula cell carries its computed value, so previews and readers that do not
    recalculate (``openpyxl`` with ``data_only=True``, pandas) see the figures.
    """
    import io

    buffer = io.BytesIO()
    b = _Book(rep, buffer)
    for name in SHEETS:
        b.wb.add_worksheet(name)
    stamp = _stamp_of(rep.as_of)
    # XlsxWriter writes fixed zip entry times; the document dates come from the data's as-of.
    b.wb.set_properties(
        {"title": f"Generect usage {rep.month}", "author": "generect-reports", "created": stamp}
    )
    lay = _OpsLayout(rep)
    price_rows = _prices_sheet(b, rep)
    _by_operation(b, rep, lay, price_rows)
    _cost(b, rep, lay)
    _drivers(b, rep, lay)
    monthly = _monthly(b, rep)
    _daily(b, rep)
    _anomalies(b, rep)
    _about(b, rep)
    _summary(b, rep, lay, monthly)
    _sections(b, rep)
    _in_reading_order(b)
    _appendix_print(b)
    b.wb.get_worksheet_by_name("Summary").activate()
    b.wb.close()
    return buffer.getvalue()


def write_report_workbook(rep: MonthlyReport, path: str | os.PathLike[str]) -> None:
    """Write the workbook for an already built :class:`MonthlyReport`, atomically."""
    check_output_path(path)
    data = render_workbook(rep)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_excel_report(
    usage: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    month: str | None = None,
    history: int = 24,
    template: Any = None,
    account: str | None = None,
) -> None:
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
    from generect_reports.reports.monthly import build_report

    write_report_workbook(
        build_report(usage, month, history=history, template=template, account=account), path
    )


def _xml_text(text: str) -> str:
    """Escape text for an inline string: XML's three, then the code points XML 1.0 cannot hold
    in Excel's ``_xHHHH_`` form (:func:`generect_reports._text.xlsx_text`); a carriage return
    as a character reference (a raw one would be read back as a line feed)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return xlsx_text(text).replace("\r", "&#13;")


def _data_rows(
    usage: pd.DataFrame, lo: int, hi: int, first_row: int, styles: dict[str, int]
) -> Iterator[str]:
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
        cells[op] = (
            f'{style} t="inlineStr"><is><t xml:space="preserve">{_xml_text(op)}</t></is></c>'
        )
    op_cells = ops.map(cells).to_numpy(dtype=object)
    credits = usage["credits"].iloc[lo:hi].to_numpy(dtype="float64")
    finite = np.isfinite(credits)
    values = [repr(v) for v in credits.tolist()]
    sa, sd = styles["date"], styles["credits"]
    for i, (serial, period, op_cell, value, ok) in enumerate(
        zip(serials, periods, op_cells, values, finite), start=first_row
    ):
        credit = f'<c r="D{i}" s="{sd}"><v>{value}</v></c>' if ok else f'<c r="D{i}" s="{sd}"/>'
        yield (
            f'<row r="{i}"><c r="A{i}" s="{sa}"><v>{serial!r}</v></c>'
            f'<c r="B{i}" t="inlineStr"><is><t>{_xml_text(str(period))}</t></is></c>'
            f'<c r="C{i}"{op_cell}{credit}</row>'
        )


def write_usage_xlsx(
    usage: pd.DataFrame, path: str | os.PathLike[str], *, max_rows: int = EXCEL_MAX_ROWS
) -> None:
    """The tidy frame as formatted Excel Tables, streamed with small, constant memory.

    Past ``max_rows`` (Excel's limit) the rows continue on further sheets, each with a note
    saying which part it holds: never truncated silently. Operation names that a spreadsheet
    would read as formulas are stored as text with the quote prefix.
    """
    import zipfile

    # openpyxl is imported here only: the report workbook is XlsxWriter's, and the report
    # command should not pay for importing both.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.filters import AutoFilter
    from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

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
        note = (
            f"Rows {lo + 1:,}–{hi:,} of {n:,}"
            + (
                f" (part {part + 1} of {parts}: Excel holds at most {max_rows:,} rows a sheet)"
                if parts > 1
                else ""
            )
            + f"; period_start is local time in {tz}."
        )
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
            table.tableColumns = [
                TableColumn(id=j, name=name)
                for j, name in enumerate(
                    ("period_start", "period", "operation", "credits"), start=1
                )
            ]
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
