"""``report``: the monthly (or quarter) finance report as an Excel workbook and a PDF."""

from __future__ import annotations

import logging

import click

from ..errors import InputError
from .options import (
    FiscalOptions,
    ReportOptions,
    common_options,
    fiscal_options,
    quarter_option,
    report_options,
)
from .run import Run, run_command

__all__ = ["command", "check_quarter"]

log = logging.getLogger("generect_reports")


def check_quarter(run: Run, quarter: str, report: ReportOptions, fiscal: FiscalOptions) -> str:
    """The quarter label read against the fiscal calendar, before any request."""
    if report.month is not None:
        raise InputError("give either --month or --quarter, not both")
    from generect_reports.reports.quarterly import quarter_window

    quarter_window(quarter, run.fiscal_calendar(fiscal))
    return quarter


@click.command("report")
@report_options
@quarter_option("A quarter report")
@fiscal_options
@click.option(
    "--xlsx", "xlsx_path", default=None, metavar="PATH", help="Write the Excel workbook here."
)
@click.option("--pdf", "pdf_path", default=None, metavar="PATH", help="Write the PDF report here.")
@click.option(
    "--each",
    "each_dir",
    default=None,
    metavar="DIR",
    help="Across accounts: also write every account's own pack into DIR/NAME/.",
)
@common_options
@run_command
def command(
    run: Run,
    report: ReportOptions,
    quarter: str | None,
    fiscal: FiscalOptions,
    xlsx_path: str | None,
    pdf_path: str | None,
    each_dir: str | None,
) -> None:
    """The monthly finance report as an Excel workbook and a PDF.

    With neither --xlsx nor --pdf, both are written to the current folder as
    generect-usage-YYYY-MM.xlsx and .pdf. A month that is not over is compared like for like
    and gets a month-end projection. --quarter writes the quarter report instead
    (generect-usage-<QUARTER>.xlsx and a one-page .pdf by default): its months side by side,
    the quarter against the previous quarter and the same quarter last year, and the drivers.
    Across accounts (--all-accounts, --tag, --account more than once) it writes one roll-up
    workbook and PDF (generect-usage-accounts-YYYY-MM.*): the accounts ranked, the operations
    across them, each account's trend and exceptions; --each DIR adds every account's own pack.
    An account that fails makes every total say "partial", and the exit code says it too.
    """
    from .._atomic import check_distinct_outputs, check_output_path

    for path in (xlsx_path, pdf_path):
        if path:
            check_output_path(path)
    check_distinct_outputs({"--xlsx": xlsx_path, "--pdf": pdf_path})
    if each_dir is not None and not run.multiple:
        raise InputError("--each writes every account's pack: use it with --all-accounts or --tag")
    if run.multiple:
        if quarter is not None:
            raise InputError("--quarter across accounts is not available: use --month")
        _rollup(run, report, fiscal, xlsx_path, pdf_path, each_dir)
        return
    if quarter is not None:
        _quarter(
            run, check_quarter(run, quarter, report, fiscal), report, fiscal, xlsx_path, pdf_path
        )
        return
    from generect_reports.deliver.parallel import start_pdf_worker, write_report_files

    from ..reports import assemble

    settings = run.settings(report, fiscal)
    # The PDF's child is forked before the data is loaded, so it imports matplotlib meanwhile;
    # the workbook and the PDF are then rendered side by side where the platform allows.
    with start_pdf_worker(enabled=bool(pdf_path or not xlsx_path)) as worker:
        rep = assemble.monthly_report(run.source, report.month, settings)
        if not xlsx_path and not pdf_path:
            xlsx_path = f"generect-usage-{rep.month}.xlsx"
            pdf_path = f"generect-usage-{rep.month}.pdf"
        write_report_files(
            rep, xlsx_path, pdf_path, on_written=lambda p: run.say(f"wrote {p}"), worker=worker
        )
    for line in rep.warnings:
        log.warning(line)


def _quarter(
    run: Run,
    quarter: str,
    report: ReportOptions,
    fiscal: FiscalOptions,
    xlsx_path: str | None,
    pdf_path: str | None,
) -> None:
    """``report --quarter``: the quarter report's workbook and PDF."""
    from generect_reports.render.pdf.quarter import write_quarter_pdf
    from generect_reports.render.xlsx.quarter import write_quarter_workbook

    from ..reports import assemble

    result = assemble.quarter_report(run.source, quarter, run.settings(report, fiscal))
    if not xlsx_path and not pdf_path:
        xlsx_path = f"generect-usage-{result.report.label}.xlsx"
        pdf_path = f"generect-usage-{result.report.label}.pdf"
    if xlsx_path:
        write_quarter_workbook(result.report, xlsx_path, paper=result.theme.paper)
    if pdf_path:
        write_quarter_pdf(result.report, pdf_path, colors=result.colors, theme=result.theme)
    for path in (xlsx_path, pdf_path):
        if path:
            run.say(f"wrote {path}")


def _rollup(
    run: Run,
    report: ReportOptions,
    fiscal: FiscalOptions,
    xlsx_path: str | None,
    pdf_path: str | None,
    each_dir: str | None,
) -> None:
    """``report`` across accounts: the roll-up workbook and PDF, and each pack with ``--each``."""
    from pathlib import Path

    from generect_reports.render.pdf.rollup import write_rollup_pdf
    from generect_reports.render.xlsx.rollup import write_rollup_workbook

    from ..reports.rollup import rollup_report

    by_account = run.settings_by_account(run.settings(report, fiscal))
    rep = rollup_report(
        run.sources, report.month, by_account.__getitem__, labels=run.account_labels()
    )
    if not xlsx_path and not pdf_path:
        xlsx_path = f"generect-usage-accounts-{rep.month}.xlsx"
        pdf_path = f"generect-usage-accounts-{rep.month}.pdf"
    if xlsx_path:
        write_rollup_workbook(rep, xlsx_path)
        run.say(f"wrote {xlsx_path}")
    if pdf_path:
        write_rollup_pdf(rep, pdf_path)
        run.say(f"wrote {pdf_path}")
    if each_dir is not None:
        from generect_reports.deliver.parallel import write_report_files

        for name, one in rep.reports.items():
            folder = Path(each_dir) / name
            folder.mkdir(parents=True, exist_ok=True)
            write_report_files(
                one,
                str(folder / f"generect-usage-{one.month}.xlsx"),
                str(folder / f"generect-usage-{one.month}.pdf"),
                on_written=lambda p: run.say(f"wrote {p}"),
            )
    run.raise_partial(rep)
