"""The report as an email message: a text and HTML body from templates, an inline chart, the
workbook and PDF attached. Sending it, or writing it as ``.eml``, is ``deliver.smtp``'s.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from generect_reports._text import display_text, escape_invisible
from generect_reports._version import __version__
from generect_reports.errors import InputError

if TYPE_CHECKING:
    from markupsafe import Markup

    from generect_reports.reports.monthly import MonthlyReport
    from generect_reports.reports.rollup import RollupReport

__all__ = [
    "build_message",
    "build_quarter_message",
    "build_rollup_message",
    "rollup_subject",
    "quarter_subject",
    "subject_for",
]

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def subject_for(rep: MonthlyReport) -> str:
    """E.g. ``Generect usage May 2026: 9,470 credits (+4.1% vs April)``, in the body's precision."""
    f = rep.formats
    prev = rep.previous_month_name.split(" ")[0]
    basis = f"vs {prev}" if rep.complete else f"vs {prev}, first {rep.elapsed_days} days"
    subject = (
        f"Generect usage {rep.month_name}: {f.credits(rep.total)} credits "
        f"({f.signed_pct(rep.change_pct)} {basis})"
    )
    if rep.booked is not None:
        subject += f", booked cost {f.money(rep.booked.booked_cost)}"
    if not rep.complete:
        subject = "[partial month] " + subject
    elif rep.warnings:
        subject = "[incomplete data] " + subject
    from generect_reports.render.email.sections import subject_flag

    flag = subject_flag(rep)
    return f"{flag} {subject}" if flag else subject


#: The width the email lays the chart out at, in CSS pixels; the PNG has twice as many.
CHART_WIDTH_PX = 640
#: The chart's drawing size in inches (its type sizes are set for this width).
CHART_INCHES = 4.8


def _context(
    rep: MonthlyReport, chart_cid: str, xlsx_name: str, pdf_name: str
) -> dict[str, object]:
    from generect_reports.render.email.sections import email_section_lines
    from generect_reports.reports import presentation as P
    from generect_reports.reports.exceptions import NOTHING_TO_REPORT, report_exceptions
    from generect_reports.reports.exceptions import TITLE as EXCEPTIONS_TITLE

    f = rep.formats
    return {
        "r": rep,
        "title": rep.theme.text.get("title", "Generect credit usage"),
        "kpis": P.kpis(rep),
        "narrative": list(rep.narrative),
        "rows": _shown(P.operation_rows(rep)),
        "total_row": P.total_row(rep),
        "cost_rows": _shown(P.cost_rows(rep)),
        "sections": email_section_lines(rep),
        "preheader": P.preheader(rep),
        "exceptions": report_exceptions(rep),
        "exceptions_title": EXCEPTIONS_TITLE,
        "nothing_to_report": NOTHING_TO_REPORT,
        "drivers": P.driver_lines(rep),
        "anomalies": P.anomaly_lines(rep),
        "basis": P.change_basis(rep),
        "yoy_basis": (
            f"against {rep.yoy_month_name}"
            + ("" if rep.complete else f" days 1-{rep.elapsed_days}")
        )
        if rep.yoy_available
        else "",
        "cost": f.money(rep.estimated_cost),
        "as_of": f"{rep.as_of:%Y-%m-%d %H:%M}",
        "warnings": rep.warnings,
        "notes": rep.notes,
        "chart_cid": chart_cid,
        "chart_width": CHART_WIDTH_PX,
        "xlsx_name": xlsx_name,
        "pdf_name": pdf_name,
        "colors": rep.theme.colors,
        "font": rep.theme.fonts.get("family", "DejaVu Sans"),
    }


def _shown_text(value: object) -> object:
    """Every value a template prints: invisible and control characters in a name that reaches a
    sentence (the narrative, drivers, anomalies) are shown as escapes, never sent raw."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return escape_invisible(value)
    return value


def _shown(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Operation names with invisible and control characters shown as escapes."""
    return [{**row, "operation": display_text(row["operation"])} for row in rows]


def _breakable(name: object) -> Markup:
    """An operation name, escaped, that may wrap after its underscores on a narrow screen."""
    from markupsafe import Markup, escape

    return escape(str(name)).replace("_", Markup("_<wbr>"))


def _render(rep: MonthlyReport, context: dict[str, object]) -> tuple[str, str]:
    from jinja2 import TemplateError as JinjaError

    from generect_reports.errors import TemplateError
    from generect_reports.render.email.templates import template_environment
    from generect_reports.theme import bundled_template_dir

    env = template_environment(
        [str(rep.theme.folder), str(bundled_template_dir())], finalize=_shown_text
    )
    env.filters["breakable"] = _breakable
    try:
        text = env.get_template("email.txt.j2").render(context)
        html = env.get_template("email.html.j2").render(context)
    except JinjaError as exc:
        raise TemplateError(f"email template error: {exc}") from None
    return text, html


def _chart_png(rep: MonthlyReport) -> bytes:
    from generect_reports.render.pdf.document import history_chart_png

    # Drawn at twice the pixels it is laid out at, so it stays sharp on high-density screens.
    return history_chart_png(rep, width=CHART_INCHES, dpi=round(2 * CHART_WIDTH_PX / CHART_INCHES))


def build_message(
    rep: MonthlyReport,
    *,
    to: list[str],
    sender: str,
    cc: list[str] | None = None,
    max_attachment_bytes: int = 10 * 1024 * 1024,
    worker: Any = None,
) -> EmailMessage:
    """The complete message: subject, text and HTML bodies, inline chart, xlsx and pdf attached.

    ``worker`` is a :class:`~generect_reports.deliver.parallel.PdfWorker` started before the
    report was built, to draw the PDF. Raises :class:`InputError` when the attachments exceed
    ``max_attachment_bytes``.
    """
    from generect_reports.deliver.parallel import render_email_files

    xlsx_name = f"generect-usage-{rep.month}.xlsx"
    pdf_name = f"generect-usage-{rep.month}.pdf"
    # The same two files the report command writes, the PDF drawn side by side where possible.
    xlsx, pdf, chart = render_email_files(rep, _chart_png, worker=worker)
    size = len(xlsx) + len(pdf)
    if size > max_attachment_bytes:
        raise InputError(
            f"attachments are {size / 1e6:.1f} MB, "
            f"over the {max_attachment_bytes / 1e6:.1f} MB limit (raise --max-attachment-mb)"
        )
    domain = sender.rsplit("@", 1)[-1]
    chart_cid = make_msgid(idstring="chart", domain=domain)
    text, html = _render(rep, _context(rep, chart_cid[1:-1], xlsx_name, pdf_name))
    return _assemble(
        subject_for(rep),
        text,
        html,
        to=to,
        cc=cc,
        sender=sender,
        version=rep.version,
        inline=(chart, chart_cid, "usage-history.png"),
        attachments=[(xlsx, XLSX_TYPE, xlsx_name), (pdf, ("application", "pdf"), pdf_name)],
    )


def _assemble(
    subject: str,
    text: str,
    html: str,
    *,
    to: list[str],
    cc: list[str] | None,
    sender: str,
    version: str,
    attachments: list[tuple[bytes, tuple[str, str], str]],
    inline: tuple[bytes, str, str] | None = None,
) -> EmailMessage:
    """Headers, the text and HTML alternatives, an inline image (PNG) and the attachments."""
    domain = sender.rsplit("@", 1)[-1]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring="report", domain=domain)
    msg["X-Mailer"] = f"generect-reports {version}"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if inline is not None:
        html_part = msg.get_body(preferencelist=("html",))
        assert html_part is not None  # added just above
        data, cid, filename = inline
        html_part.add_related(
            data, maintype="image", subtype="png", cid=cid, filename=filename, disposition="inline"
        )
    for data, (maintype, subtype), filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def quarter_subject(rep: Any) -> str:
    """E.g. ``Generect usage FY2027-Q1: 98,765 credits (+5.2% vs FY2026-Q4)``."""
    from generect_reports.reports.quarterly import _signed_pct

    change = rep.total - rep.previous_total
    pct = change / rep.previous_total if rep.previous_total else float("nan")
    subject = (
        f"Generect usage {rep.label}: {rep.total:,.0f} credits "
        f"({_signed_pct(pct)} vs {rep.previous_label})"
    )
    return subject if rep.complete else "[partial quarter] " + subject


def build_quarter_message(
    rep: Any,
    *,
    to: list[str],
    sender: str,
    cc: list[str] | None = None,
    max_attachment_bytes: int = 10 * 1024 * 1024,
    colors: dict[str, str] | None = None,
    theme: Any = None,
) -> EmailMessage:
    """The quarter report by email: the quarter's sentences in a text and an HTML part, its
    workbook and one-page PDF attached. Raises :class:`InputError` over the size limit."""
    import tempfile

    from generect_reports.render.email.templates import template_environment
    from generect_reports.render.pdf.quarter import render_quarter_pdf
    from generect_reports.render.xlsx.quarter import write_quarter_workbook
    from generect_reports.reports.quarterly import quarter_summary

    with tempfile.TemporaryDirectory(prefix="generect-quarter-") as folder:
        path = os.path.join(folder, "q.xlsx")
        write_quarter_workbook(rep, path)
        with open(path, "rb") as fh:
            xlsx = fh.read()
    pdf = render_quarter_pdf(rep, colors=colors)
    size = len(xlsx) + len(pdf)
    if size > max_attachment_bytes:
        raise InputError(
            f"attachments are {size / 1e6:.1f} MB, "
            f"over the {max_attachment_bytes / 1e6:.1f} MB limit (raise --max-attachment-mb)"
        )
    from generect_reports.theme import bundled_template_dir, load_theme

    theme = theme or load_theme()
    folders = [str(theme.folder), str(bundled_template_dir())]
    env = template_environment(folders, finalize=_shown_text, strict=False)
    xlsx_name, pdf_name = f"generect-usage-{rep.label}.xlsx", f"generect-usage-{rep.label}.pdf"
    context = {
        "r": rep,
        "lines": quarter_summary(rep),
        "xlsx_name": xlsx_name,
        "pdf_name": pdf_name,
        "title": theme.text.get("title", "Generect credit usage"),
        "colors": theme.colors,
        "version": __version__,
    }
    from jinja2 import TemplateError as JinjaError

    from generect_reports.errors import TemplateError

    try:
        text = env.get_template("email_quarter.txt.j2").render(context)
        html = env.get_template("email_quarter.html.j2").render(context)
    except JinjaError as exc:
        raise TemplateError(f"email template error: {exc}") from None
    return _assemble(
        quarter_subject(rep),
        text,
        html,
        to=to,
        cc=cc,
        sender=sender,
        version=__version__,
        attachments=[(xlsx, XLSX_TYPE, xlsx_name), (pdf, ("application", "pdf"), pdf_name)],
    )


def rollup_subject(rep: RollupReport) -> str:
    """E.g. ``Generect usage across accounts, May 2026: 94,700 credits, 10 accounts``; a roll-up
    that lacks an account ends in ``(partial)``."""
    f = rep.formats
    count = len(rep.accounts) + len(rep.failed)
    subject = (
        f"Generect usage across accounts, {rep.month_name}: {f.credits(rep.total)} credits, "
        f"{count} accounts"
    )
    if not rep.month_complete:
        subject = "[partial month] " + subject
    return subject if rep.complete else subject + " (partial)"


def _rollup_lines(rep: RollupReport) -> list[str]:
    f = rep.formats
    lines = [rep.title, ""]
    if not rep.complete:
        lines += [
            f"PARTIAL: {len(rep.failed)} account(s) could not be read; every total below leaves "
            "them out.",
            *(f"  {x['account']}: {x['error']} (exit {x['exit_code']})" for x in rep.failed),
            "",
        ]
    total = "Total" if rep.complete else "Total (partial)"
    lines.append(
        f"{total}: {f.credits(rep.total)} credits ({f.signed_pct(rep.change_pct)} vs the month "
        f"before), cost {f.money(rep.cost)}"
    )
    lines += ["", "Accounts, largest first:"]
    for row in rep.accounts.itertuples():
        lines.append(
            f"  {row.label}: {f.credits(row.credits)} credits ({f.signed_pct(row.change_pct)}), "
            f"{row.status}" + (f"; {row.exceptions}" if row.exceptions else "")
        )
    return lines


def build_rollup_message(
    rep: RollupReport,
    *,
    to: list[str],
    sender: str,
    cc: list[str] | None = None,
    max_attachment_bytes: int = 10 * 1024 * 1024,
) -> EmailMessage:
    """The roll-up across accounts by email: the accounts in a text and an HTML part, the
    roll-up workbook and PDF (those ``report --all-accounts`` writes) attached. A roll-up that
    lacks an account says "partial" in the subject, the body and both attachments."""
    import html
    import tempfile

    from generect_reports.render.pdf.rollup import render_rollup_pdf
    from generect_reports.render.xlsx.rollup import render_rollup_workbook

    with tempfile.TemporaryDirectory(prefix="generect-rollup-") as folder:
        path = os.path.join(folder, "rollup.xlsx")
        render_rollup_workbook(rep, path)
        with open(path, "rb") as fh:
            xlsx = fh.read()
    pdf = render_rollup_pdf(rep)
    size = len(xlsx) + len(pdf)
    if size > max_attachment_bytes:
        raise InputError(
            f"attachments are {size / 1e6:.1f} MB, "
            f"over the {max_attachment_bytes / 1e6:.1f} MB limit (raise --max-attachment-mb)"
        )
    lines = [display_text(line) for line in _rollup_lines(rep)]
    xlsx_name = f"generect-usage-accounts-{rep.month}.xlsx"
    pdf_name = f"generect-usage-accounts-{rep.month}.pdf"
    text = "\n".join([*lines, "", f"Attached: {xlsx_name}, {pdf_name}"]) + "\n"
    body = "".join(
        f"<p><strong>{html.escape(line)}</strong></p>" if k == 0 else f"<p>{html.escape(line)}</p>"
        for k, line in enumerate(lines)
        if line
    )
    page = f"<!DOCTYPE html><html><body>{body}</body></html>"
    return _assemble(
        rollup_subject(rep),
        text,
        page,
        to=to,
        cc=cc,
        sender=sender,
        version=__version__,
        attachments=[(xlsx, XLSX_TYPE, xlsx_name), (pdf, ("application", "pdf"), pdf_name)],
    )
