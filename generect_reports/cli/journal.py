"""``journal``: the month's journal entries, balanced to the cent, and the month close."""

from __future__ import annotations

import click

from ..errors import ConfigError, InputError
from ..periods import Month
from .options import MONTH, common_options, output_options
from .run import Run, check_output, run_command

__all__ = ["command"]


@click.command("journal")
@click.option("--month", required=True, type=MONTH, help="The month to book.")
@click.option(
    "--purchases", is_flag=True, help="Book the month's top-ups too (Dr prepaid, Cr payable)."
)
@click.option(
    "--layout",
    type=click.Choice(["generic", "xero", "quickbooks"]),
    default="generic",
    show_default=True,
    help="CSV columns: generic, a Xero manual journal import, a QuickBooks Online import.",
)
@click.option(
    "--split",
    type=click.Choice(["none", "operation", "customer"]),
    default="none",
    show_default=True,
    help="One expense line per operation, or per customer cost centre (from the chargeback).",
)
@click.option(
    "--close",
    is_flag=True,
    help="Record the month's booked figures in the close register ([journal] register); a "
    "later change to a closed month is booked as an adjustment in the first open month.",
)
@click.option(
    "--template",
    default=None,
    metavar="DIR",
    help="Folder with ledger_mapping.toml (transaction type -> operation).",
)
@output_options("generect_reports.render.journal:FORMATS")
@common_options
@run_command
def command(
    run: Run,
    month: Month,
    purchases: bool,
    layout: str,
    split: str,
    close: bool,
    template: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """The month's journal entries for the credits, every entry balanced to the cent.

    Consumption (Dr expense, Cr prepaid credits) valued from the purchases ([money]), the
    accrual for charges pending at month end (Dr expense, Cr accrued, reversed on the 1st of
    the next month), and with --purchases the top-ups (Dr prepaid, Cr payable). Account codes
    come from [journal] in the configuration.
    """
    import contextlib

    from ..register import read_register, register_lock, resolve_register, write_register
    from ..reports.journal import month_journal, register_record

    check_output(fmt, output)
    if layout != "generic" and fmt != "csv":
        raise InputError(f"--layout {layout} is a CSV import layout: add --format csv")
    accounts = run.journal_accounts()
    register_path = None
    if accounts.register:
        register_path = resolve_register(accounts.register, run.config.path)
    if close and register_path is None:
        raise ConfigError('--close needs [journal] register = "close-register.json"')
    # A close holds the register's lock from reading it to writing it: a second close of the
    # same month waits, then finds it closed.
    locked = register_lock(register_path) if close and register_path else contextlib.nullcontext()
    with locked:
        register = read_register(register_path) if register_path else {}
        if close and str(month) in register:
            raise InputError(f"{month} is already closed in {register_path}")
        if close and not run.source.settled(month.first_day, month.last_day):
            raise InputError(f"{month} is not over yet: only a finished month can be closed")
        journal, current = month_journal(
            run.source,
            month,
            run.money(),
            accounts,
            register=register,
            purchases=purchases,
            split=split,
            template=template,
        )
        from generect_reports.render import journal as R

        if fmt == "xlsx":
            R.write_xlsx(journal, output)  # type: ignore[arg-type]
            run.say(f"wrote {output}")
        elif fmt == "json":
            run.emit(R.render_json(journal), output)
        elif fmt == "csv":
            run.emit(R.render_csv(journal, layout), output)
        else:
            run.emit(R.render_table(journal), output)
        if close and register_path is not None:
            import pandas as pd

            record = register_record(current)
            record["closed_at"] = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
            record["adjustments"] = [dict(a) for a in journal.adjustments]
            write_register(register_path, {**register, str(month): record})
            run.say(f"closed {month} in {register_path}")
