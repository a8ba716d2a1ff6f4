"""``reconcile``: a month's usage tied to the ledger and the balance."""

from __future__ import annotations

import logging

import click

from ..errors import CheckFailed, InputError
from ..periods import Month
from .options import MONTH, common_options, output_options
from .run import Run, check_output, run_command

__all__ = ["command"]

log = logging.getLogger("generect_reports")


@click.command("reconcile")
@click.option("--month", required=True, type=MONTH, help="The month to tie out.")
@click.option(
    "--refresh",
    is_flag=True,
    help="Fetch cached closed months again (usage and ledger) and report any that changed.",
)
@click.option(
    "--template",
    default=None,
    metavar="DIR",
    help="Folder with ledger_mapping.toml (transaction type -> operation).",
)
@output_options("generect_reports.render.reconcile:FORMATS")
@common_options
@run_command
def command(
    run: Run, month: Month, refresh: bool, template: str | None, fmt: str, output: str | None
) -> None:
    """Tie a month's usage to the ledger and the balance, with a reason for every difference.

    Prints opening balance, top-ups, settled charges, pending, reversed and closing balance
    (derived from /me/'s balance walked back through the ledger), and settled charges against
    usage per operation. Exits 5 when the month does not tie: an unexplained difference, a
    timezone-boundary charge or an unmapped transaction type.
    """
    from ..reports.assemble import ReportSettings, reconciliation

    check_output(fmt, output)
    if refresh and not run.source.refreshable:
        raise InputError("--refresh re-fetches cached months: it needs the API and the cache")
    settings = ReportSettings(template=template, money=run.money())
    tied = reconciliation(run.source, month, settings, refresh=refresh)
    result = tied.result
    from generect_reports.render import reconcile as R

    if fmt == "xlsx":
        R.write_reconciliation_xlsx(result, tied.ledger, output)  # type: ignore[arg-type]
    elif fmt == "json":
        run.emit(R.render_json(result, complete=not result.pending), output)
    elif fmt == "csv":
        run.emit(R.render_csv(result), output)
    else:
        run.emit(R.render_table(result), output, table=True)
    for line in R.restatement_lines(result.restatements):
        log.warning(line)
    if not result.ties:
        raise CheckFailed(R.reconciliation_summary(result)[0])
