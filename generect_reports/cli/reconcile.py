"""``reconcile``: a month's usage tied to the ledger and the balance."""

from __future__ import annotations

import logging
from typing import Any

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

    Across accounts (--all-accounts, --tag, --account more than once) each account is tied
    with its own [money]: one row per account and the total, then each account's tie-out (an
    account column in CSV and JSON, a sheet per account in xlsx). An account that fails makes
    the output say "partial" and the exit code its (3 or 4), which outranks a month that does
    not tie (5).
    """
    from ..reports.assemble import ReportSettings, reconciliation

    check_output(fmt, output)
    settings = ReportSettings(template=template, money=run.money())
    if run.multiple:
        _across(run, month, settings, refresh=refresh, fmt=fmt, output=output)
        return
    if refresh and not run.source.refreshable:
        raise InputError("--refresh re-fetches cached months: it needs the API and the cache")
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


def _across(
    run: Run, month: Month, settings: Any, *, refresh: bool, fmt: str, output: str | None
) -> None:
    """``reconcile`` across accounts: every account's tie-out, then the exit code."""
    from generect_reports.render import accounts as A
    from generect_reports.render.reconcile import reconciliation_summary, restatement_lines

    from ..errors import AccountsFailed
    from ..reports.accounts import reconciliations

    by_account = run.settings_by_account(settings)
    across = reconciliations(
        run.sources, month, by_account.__getitem__, refresh=refresh, labels=run.account_labels()
    )
    if fmt == "xlsx":
        A.write_workbook(A.reconcile_workbook(across), output)  # type: ignore[arg-type]
        run.say(f"wrote {output}")
    elif fmt == "json":
        run.emit(A.reconcile_json(across), output)
    elif fmt == "csv":
        run.emit(A.reconcile_csv(across), output)
    else:
        run.emit(A.reconcile_table(across), output, table=True)
    for name, tied in across.results.items():
        for line in restatement_lines(tied.result.restatements):
            log.warning("%s: %s", name, line)
    untied = [
        f"{name}: {reconciliation_summary(across.results[name].result)[0]}"
        for name in across.untied()
    ]
    if across.failed:
        # A failed account outranks a month that does not tie: it was not tied at all.
        for line in untied:
            click.echo(f"error: {line}", err=True)
        raise AccountsFailed([dict(f) for f in across.failed])
    if untied:
        raise CheckFailed("; ".join(untied))
