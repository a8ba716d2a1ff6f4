"""The dashboard page: header, account picker, month picker and key figures, the view's controls,
its chart, totals, comparison and drill-down, the downloads, and the one-line failure.

Every component is a function of the frozen page model it is given; text is escaped here and
nowhere else. No script is needed: the controls are a native GET form with a "Show" button, and
a few lines submit it when a control changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html import escape
from urllib.parse import quote

from .charts import CHART_SIZES

__all__ = [
    "Table",
    "ComparePart",
    "DrillPart",
    "ExplorerPart",
    "SectionPart",
    "DashboardPage",
    "render_page",
    "render_page_start",
    "render_page_end",
    "render_failure",
    "PAGE_CSS",
]

#: One key figure: label, value, note.
Kpi = tuple[str, str, str]


@dataclass(frozen=True)
class Table:
    """A table as shown: caption, column headers, rows of text (the first column is a label);
    ``total`` marks the last row as the total."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: bool = False
    css: str = ""


@dataclass(frozen=True)
class ComparePart:
    mode: str
    a_from: str
    a_to: str
    #: One line: why there is no comparison (refused) or a caveat; "" for none.
    message: str
    refused: bool
    table: Table | None
    chart_alt: str


@dataclass(frozen=True)
class DrillPart:
    operation: str
    chart_alt: str
    note: str
    table: Table | None


@dataclass(frozen=True)
class ExplorerPart:
    first: str
    last: str
    data_first: str
    data_last: str
    timezone: str
    timezones: tuple[str, ...]
    #: Why the timezone cannot change ("" when it can).
    timezone_note: str
    operations: tuple[str, ...]
    selected: frozenset[str]
    granularity: str
    unit: str
    tab: str
    #: A one-line reason the range cannot be shown (then nothing below the controls is).
    invalid: str
    chart_alt: str
    totals: Table | None
    partial_note: str
    compare: ComparePart | None
    drill: DrillPart | None
    export_name: str
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectionPart:
    """A tab showing one section of the month's report (customers, reconciliation): its
    tables, the sentences around them and its downloads, or ``missing``, the one line saying
    the report has no such section."""

    kind: str
    title: str
    missing: str = ""
    tables: tuple[Table, ...] = ()
    lines: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DashboardPage:
    title: str
    subtitle: str
    #: The view's query without the token: chart and download links repeat it.
    query: str
    accounts: tuple[tuple[str, str], ...] = ()
    account: str = ""
    months: tuple[tuple[str, str], ...] = ()
    month: str = ""
    kpis: tuple[Kpi, ...] = ()
    extra_kpis: tuple[Kpi, ...] = ()
    #: The roll-up across accounts, already as HTML (the same the notebooks show).
    rollup_html: str = ""
    explorer: ExplorerPart | None = None
    report_files: tuple[tuple[str, str], ...] = ()
    failure: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The views: (label, link, current); the page shows the explorer or one report section.
    tabs: tuple[tuple[str, str, bool], ...] = ()
    #: The report section shown instead of the explorer (filled in when the report is in).
    section: SectionPart | None = None
    #: The view is a report section: the explorer's chart and tables are left out.
    section_tab: bool = False


PAGE_CSS = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#1f2933;background:#fff;margin:0;
  font-size:15px;line-height:1.4}
main{max-width:1400px;margin:0 auto;padding:12px 20px 40px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:22px 0 6px}
h3{font-size:15px;margin:12px 0 4px}
.muted{color:#5b6670}.small{font-size:13px}
a{color:#1565c0;text-decoration:underline}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.generect-kpi{border:1px solid #c5cdd6;border-radius:6px;padding:8px 14px;min-width:150px;
  flex:1 1 170px;max-width:320px}
.generect-kpi .label{color:#5b6670;font-size:13px}.generect-kpi .value{font-size:22px;
  font-weight:600}.generect-kpi .note{color:#5b6670;font-size:12px}
form fieldset{border:1px solid #c5cdd6;border-radius:6px;margin:6px 0;padding:6px 10px;
  min-width:0}
legend{font-weight:600;padding:0 4px}
.row{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:flex-end}
.field{display:flex;flex-direction:column;min-width:0;max-width:100%}
.field label{font-size:13px;color:#3e4c59}
input[type=date],input[type=month],select{font:inherit;padding:4px 6px;border:1px solid #52606d;
  border-radius:4px;background:#fff;color:#1f2933;max-width:100%}
.choices{display:flex;flex-wrap:wrap;gap:4px 14px}
.choices label{white-space:nowrap;font-size:14px}
.ops label{min-width:180px}
button,.button{font:inherit;background:#1f3a5f;color:#fff;border:0;border-radius:4px;
  padding:6px 16px;cursor:pointer;text-decoration:none;display:inline-block}
.generect-chart{max-width:100%;height:auto;display:block}
figure{margin:8px 0}figcaption{font-size:12px;color:#5b6670;max-width:900px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:14px;font-variant-numeric:tabular-nums;margin:4px 0}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:3px 10px;border-bottom:1px solid #d9dee4}
thead th{background:#f4f6f8;text-align:left}td{text-align:right}
tr.total th,tr.total td{font-weight:700;border-top:2px solid #52606d}
.side{display:flex;flex-wrap:wrap;gap:12px 24px;align-items:flex-start}
.side>*{min-width:0;max-width:100%}
.generect-failure,.generect-invalid,.generect-refused{color:#8a1c1c;font-weight:600}
.downloads li{margin:4px 0}
.generect-tabs{display:flex;flex-wrap:wrap;gap:4px;list-style:none;padding:0;margin:14px 0 0;
  border-bottom:2px solid #1f3a5f}
.generect-tabs a{display:inline-block;padding:6px 14px;border:1px solid #c5cdd6;
  border-bottom:0;border-radius:4px 4px 0 0;color:#1565c0;background:#f4f6f8}
.generect-tabs a[aria-current=page]{background:#1f3a5f;color:#fff;text-decoration:none;
  font-weight:600}
@media (max-width:640px){
  main{padding:8px 10px 30px}h1{font-size:19px}
  .generect-kpi{max-width:none}
  .field,.field select,.field input{width:100%}
  .row{gap:6px}
}
@media print{
  form,.no-print,button{display:none !important}
  figure,table,.generect-kpi{break-inside:avoid}
  main{max-width:none;padding:0}
  a{color:#1f2933;text-decoration:none}
}
"""

_SCRIPT = """
document.querySelectorAll('form.generect-controls').forEach(function (form) {
  form.querySelectorAll('select, input').forEach(function (control) {
    control.addEventListener('change', function () {
      if (control.type !== 'date' || control.value) { form.requestSubmit(); }
    });
  });
});
"""

_MONTHS_WIDE = ("wide", "narrow")


def _q(query: str, **extra: str) -> str:
    parts = [query] if query else []
    parts += [f"{k}={quote(v, safe='')}" for k, v in extra.items()]
    return "?" + "&".join(parts)


def header(page: DashboardPage) -> str:
    return (
        f"<header><h1>{escape(page.title)}</h1>"
        f"<p class='muted small generect-subtitle'>{escape(page.subtitle)}</p></header>"
    )


def kpi_tiles(tiles: Sequence[Kpi], css: str) -> str:
    if not tiles:
        return ""
    items = "".join(
        "<div class='generect-kpi' role='group' aria-label='" + escape(label, quote=True) + "'>"
        f"<div class='label'>{escape(label)}</div><div class='value'>{escape(value)}</div>"
        f"<div class='note'>{escape(note)}</div></div>"
        for label, value, note in tiles
    )
    return f"<div class='kpis {css}'>{items}</div>"


def _select(name: str, label: str, options: Sequence[tuple[str, str]], value: str) -> str:
    opts = "".join(
        f"<option value='{escape(v, quote=True)}'{' selected' if v == value else ''}>"
        f"{escape(text)}</option>"
        for v, text in options
    )
    ident = f"c-{name}"
    return (
        f"<div class='field'><label for='{ident}'>{escape(label)}</label>"
        f"<select id='{ident}' name='{name}'>{opts}</select></div>"
    )


def _radios(name: str, legend: str, options: Sequence[tuple[str, str]], value: str) -> str:
    items = "".join(
        f"<label><input type='radio' name='{name}' value='{escape(v, quote=True)}'"
        f"{' checked' if v == value else ''}> {escape(text)}</label>"
        for v, text in options
    )
    return f"<fieldset class='generect-{name}'><legend>{escape(legend)}</legend>" + (
        f"<div class='choices'>{items}</div></fieldset>"
    )


def _date(name: str, label: str, value: str, lo: str, hi: str) -> str:
    return (
        f"<div class='field'><label for='c-{name}'>{escape(label)}</label>"
        f"<input type='date' id='c-{name}' name='{name}' value='{escape(value, quote=True)}' "
        f"min='{lo}' max='{hi}'></div>"
    )


def controls(page: DashboardPage) -> str:
    """The view's controls: one GET form, a "Show" button to submit it without script."""
    parts = []
    top = []
    if page.accounts:
        top.append(_select("account", "Account", page.accounts, page.account))
    if page.months:
        top.append(_select("month", "Month of the key figures", page.months, page.month))
    if top:
        parts.append("<div class='row generect-pickers'>" + "".join(top) + "</div>")
    ex = page.explorer
    if ex is not None and page.section_tab:
        # A report section has no explorer controls: the explorer's view rides along unseen,
        # so "Usage" reopens it after the month changes.
        from urllib.parse import parse_qsl

        kept = [
            (k, v)
            for k, v in parse_qsl(page.query, keep_blank_values=True)
            if k not in ("account", "month", "tab")
        ]
        parts.extend(
            f"<input type='hidden' name='{escape(k, quote=True)}' value='{escape(v, quote=True)}'>"
            for k, v in kept
        )
        parts.append(f"<input type='hidden' name='tab' value='{escape(ex.tab, quote=True)}'>")
    elif ex is not None:
        tz = _select("tz", "Timezone", [(z, z) for z in ex.timezones], ex.timezone)
        if ex.timezone_note:
            tz = tz.replace("<select ", "<select disabled aria-describedby='tz-note' ")
        parts.append(
            "<fieldset class='generect-range'><legend>Date range</legend><div class='row'>"
            + _date("from", "From", ex.first, ex.data_first, ex.data_last)
            + _date("to", "To", ex.last, ex.data_first, ex.data_last)
            + tz
            + "</div>"
            + (
                f"<p id='tz-note' class='muted small generect-tz-note'>{escape(ex.timezone_note)}"
                "</p>"
                if ex.timezone_note
                else ""
            )
            + "</fieldset>"
        )
        ops = "".join(
            f"<label><input type='checkbox' name='ops' value='{escape(op, quote=True)}'"
            f"{' checked' if op in ex.selected else ''}> {escape(op)}</label>"
            for op in ex.operations
        )
        parts.append(
            "<fieldset class='generect-operations'><legend>Operations</legend>"
            f"<div class='choices ops'>{ops}</div>"
            "<p class='muted small'>None ticked shows every operation.</p></fieldset>"
        )
        parts.append(
            "<div class='row'>"
            + _radios(
                "period", "Period", [(g, g) for g in ("day", "week", "month")], ex.granularity
            )
            + _radios("unit", "Unit", [("credits", "credits"), ("usd", "est. USD")], ex.unit)
            + "</div>"
        )
        modes = (
            ("previous", "previous period (same length)"),
            ("yoy", "same period a year before"),
            ("custom", "custom range"),
        )
        cmp = ex.compare
        if cmp is not None:
            parts.append(
                "<fieldset class='generect-compare-controls'><legend>Compare</legend>"
                "<div class='row'>"
                + _select("compare", "Period A", modes, cmp.mode)
                + _date("a_from", "A from", cmp.a_from, "", "")
                + _date("a_to", "A to", cmp.a_to, "", "")
                + "</div><p class='muted small'>A from and A to apply to a custom range.</p>"
                "</fieldset>"
            )
        if ex.drill is not None:
            parts.append(
                "<div class='row'>"
                + _select(
                    "op",
                    "Drill into operation",
                    [(o, o) for o in ex.operations],
                    ex.drill.operation,
                )
                + "</div>"
            )
        parts.append(f"<input type='hidden' name='tab' value='{escape(ex.tab, quote=True)}'>")
    parts.append("<p><button type='submit' class='generect-show'>Show</button></p>")
    return (
        "<form method='get' action='./' class='generect-controls' "
        "aria-label='View controls'>" + "".join(parts) + "</form>"
    )


def _picture(kind: str, query: str, alt: str, css: str) -> str:
    wide, narrow = CHART_SIZES["wide"], CHART_SIZES["narrow"]
    if kind == "drill":
        wide, narrow = (wide[0], int(wide[1] * 1.3)), (narrow[0], int(narrow[1] * 1.3))
    return (
        "<picture>"
        f"<source media='(max-width: 640px)' srcset='chart/{kind}.png"
        f"{escape(_q(query, layout='narrow'), quote=True)}' width='{narrow[0]}' "
        f"height='{narrow[1]}'>"
        f"<img class='{css}' src='chart/{kind}.png{escape(_q(query), quote=True)}' "
        f"alt='{escape(alt, quote=True)}' width='{wide[0]}' height='{wide[1]}'></picture>"
    )


def chart(page: DashboardPage, ex: ExplorerPart) -> str:
    return (
        "<figure class='generect-main-chart'>"
        + _picture("main", page.query, ex.chart_alt, "generect-chart")
        + f"<figcaption>{escape(ex.chart_alt)}</figcaption></figure>"
    )


def table(t: Table) -> str:
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h in t.header)
    body = []
    for i, row in enumerate(t.rows):
        css = " class='total'" if t.total and i == len(t.rows) - 1 else ""
        cells = f"<th scope='row'>{escape(row[0])}</th>" + "".join(
            f"<td>{escape(v)}</td>" for v in row[1:]
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return (
        f"<div class='scroll {t.css}' role='region' tabindex='0' "
        f"aria-label='{escape(t.caption, quote=True)}'><table><caption>{escape(t.caption)}"
        f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def totals(ex: ExplorerPart) -> str:
    if ex.totals is None:
        return "<p class='generect-empty'>No usage in this selection.</p>"
    note = f"<p class='muted small'>{escape(ex.partial_note)}</p>" if ex.partial_note else ""
    return table(ex.totals) + note


def compare(page: DashboardPage, cmp: ComparePart) -> str:
    if cmp.refused:
        return f"<p class='generect-refused' role='status'>{escape(cmp.message)}</p>"
    if cmp.table is None:
        return "<p class='generect-empty'>No usage in either period.</p>"
    note = f"<p class='muted small generect-compare-note'>{escape(cmp.message)}</p>"
    return (
        "<div class='side'><div class='generect-compare'>"
        + table(cmp.table)
        + (note if cmp.message else "")
        + "</div><figure>"
        + _picture("compare", page.query, cmp.chart_alt, "generect-compare-chart")
        + "</figure></div>"
    )


def drill(page: DashboardPage, part: DrillPart) -> str:
    out = (
        "<figure>"
        + _picture("drill", page.query, part.chart_alt, "generect-chart generect-drill-chart")
        + f"<figcaption>{escape(part.chart_alt)}</figcaption></figure>"
        f"<p>{escape(part.note)}</p>"
    )
    if part.table is not None:
        out += table(part.table)
    return out


def downloads(page: DashboardPage) -> str:
    items = [
        f"<li><a class='generect-download generect-report-file' href='{escape(href, quote=True)}'"
        f" download>{escape(text)}</a></li>"
        for text, href in page.report_files
    ]
    report = (
        "<h2 id='report-files'>Report files</h2><p>The report as the <code>report</code> "
        "command writes it, byte for byte (also saved in the export folder):</p>"
        f"<ul class='downloads'>{''.join(items)}</ul>"
        if items
        else ""
    )
    ex = page.explorer
    if ex is None or ex.invalid or page.section_tab:
        return report
    q = escape(_q(page.query), quote=True)
    view = (
        "<h2 id='export'>Download this view</h2><p>What is on screen, in the unit on screen, "
        "header in the first row, partial periods flagged:</p><ul class='downloads "
        "generect-export-links'>"
        f"<li><a class='generect-download' href='view.csv{q}' download>{escape(ex.export_name)}"
        ".csv</a></li>"
        f"<li><a class='generect-download' href='view.xlsx{q}' download>"
        f"{escape(ex.export_name)}.xlsx</a></li>"
        f"<li><a class='generect-download' href='view.pdf{q}' download>"
        f"{escape(ex.export_name)}.pdf</a> (the chart and the tables)</li></ul>"
        f"<p class='small'><a class='generect-share-link' href='./{q}'>Link to this view</a> "
        "<span class='muted'>(copy it to share; the dashboard's token is not in it)</span></p>"
    )
    return report + view


def explorer(page: DashboardPage, ex: ExplorerPart) -> str:
    parts = ["<section class='generect-explorer' aria-labelledby='explore'>"]
    parts.append("<h2 id='explore'>Explore usage</h2>")
    if ex.ignored:
        parts.append(
            "<p class='muted small' role='status'>Not applied from the link (they do not fit "
            f"this data): {escape(', '.join(ex.ignored))}.</p>"
        )
    if ex.invalid:
        parts.append(f"<p class='generect-invalid' role='alert'>{escape(ex.invalid)}</p>")
        parts.append("</section>")
        return "".join(parts)
    parts.append(chart(page, ex))
    parts.append("<h3 id='totals'>Totals</h3><div class='generect-totals'>" + totals(ex) + "</div>")
    if ex.compare is not None:
        parts.append("<h3 id='compare'>Compare</h3>" + compare(page, ex.compare))
    if ex.drill is not None:
        parts.append("<h3 id='drill'>Drill-down</h3>" + drill(page, ex.drill))
    parts.append("</section>")
    return "".join(parts)


def tabs(page: DashboardPage) -> str:
    """The views as links (each its own URL): the current one marked for screen readers."""
    if not page.tabs:
        return ""
    items = "".join(
        f"<li><a class='generect-tab' href='{escape(href, quote=True)}'"
        + (" aria-current='page'" if current else "")
        + f">{escape(label)}</a></li>"
        for label, href, current in page.tabs
    )
    return f"<nav aria-label='Views'><ul class='generect-tabs'>{items}</ul></nav>"


def section(part: SectionPart) -> str:
    """One report section as its tab shows it: a heading, its tables and lines, its files; or
    the one line saying the report has none."""
    ident = f"section-{part.kind}"
    out = [
        f"<section class='generect-section generect-{part.kind}' aria-labelledby='{ident}'>",
        f"<h2 id='{ident}'>{escape(part.title)}</h2>",
    ]
    if part.missing:
        out.append(f"<p class='generect-missing' role='status'>{escape(part.missing)}</p>")
        out.append("</section>")
        return "".join(out)
    for i, t in enumerate(part.tables):
        out.append(table(t))
        if i == 0:
            out.extend(
                f"<p class='generect-section-line'>{escape(line)}</p>" for line in part.lines
            )
    if not part.tables:
        out.extend(f"<p class='generect-section-line'>{escape(line)}</p>" for line in part.lines)
    if part.files:
        links = "".join(
            f"<li><a class='generect-download generect-section-file' "
            f"href='{escape(href, quote=True)}' download>{escape(text)}</a></li>"
            for text, href in part.files
        )
        out.append(
            "<p>This table as a file (credits and money, header in the first row, a "
            "partial_period column; also saved in the export folder):</p>"
            f"<ul class='downloads'>{links}</ul>"
        )
    out.append("</section>")
    return "".join(out)


def failure(text: str) -> str:
    return f"<p class='generect-failure' role='alert'>{escape(text)}</p>"


_MOVE = (
    "(function () { var slot = document.getElementById('generect-kpi-slot');"
    " var block = document.getElementById('generect-kpi-block');"
    " if (slot && block) { slot.replaceWith(block); } })();"
)


def _head(title: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head>"
        "<body><main class='generect-dashboard'>"
    )


def _foot() -> str:
    return f"</main><script>{_SCRIPT}</script></body></html>"


def render_page_start(page: DashboardPage) -> str:
    """The page down to the explorer: header, pickers, controls, a place for the key figures,
    and the explorer. Sent first, so the chart loads while the report is built."""
    parts = [_head(page.title), header(page)]
    if page.failure:
        parts.append(failure(page.failure))
    parts.append(controls(page))
    if page.rollup_html:
        parts.append(page.rollup_html)
    parts.append("<div id='generect-kpi-slot'></div>")
    parts.append(tabs(page))
    if page.explorer is not None and not page.section_tab:
        parts.append(explorer(page, page.explorer))
    return "".join(parts)


def render_page_end(page: DashboardPage) -> str:
    """The rest: the key figures (a line of script moves them to their place above the
    explorer; without script they follow it), or the line saying why they are missing, then
    the downloads."""
    block = [failure(page.failure)] if page.failure else []
    block.append(kpi_tiles(page.kpis, "generect-kpis"))
    block.append(kpi_tiles(page.extra_kpis, "generect-extra-kpis"))
    block.extend(f"<p class='muted small'>{escape(n)}</p>" for n in page.notes)
    return (
        "<div id='generect-kpi-block'>"
        + "".join(block)
        + f"</div><script>{_MOVE}</script>"
        + (section(page.section) if page.section is not None else "")
        + downloads(page)
        + _foot()
    )


def render_page(page: DashboardPage) -> str:
    """The whole page as HTML text: its start and its end, the failure line said once (at the
    top)."""
    return render_page_start(page) + render_page_end(replace(page, failure=""))


def render_failure(title: str, text: str) -> str:
    """A page with one line saying why (a refused request, a month without data)."""
    return _head(title) + f"<h1>{escape(title)}</h1>" + failure(text) + _foot()
