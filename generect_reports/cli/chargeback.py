"""``chargeback``: credits and estimated cost per customer token, tied to the account's usage."""

from __future__ import annotations

import os
from typing import Any

import click

from ..errors import InputError
from ..periods import Month
from .options import MONTH, common_options, output_options
from .run import Run, check_output, run_command

__all__ = ["command", "FORMATS"]

#: The chargeback renderer's own list of formats (read there on first use).
FORMATS = "generect_reports.render.chargeback:CHARGEBACK_FORMATS"


@click.command("chargeback")
@click.option("--month", required=True, type=MONTH, help="The month to charge back.")
@click.option(
    "--customer",
    default=None,
    metavar="ID",
    help="Show one customer only (its client_id, name or token hint); filtered here, never "
    "sent to the API.",
)
@click.option(
    "--failed-threshold",
    default=20.0,
    show_default=True,
    type=float,
    metavar="PCT",
    help="Flag customers whose failed requests (4xx, 5xx) exceed this percentage.",
)
@click.option(
    "--template",
    default=None,
    metavar="DIR",
    help="Folder with prices.toml and endpoint_mapping.toml.",
)
@click.option(
    "--include-empty",
    is_flag=True,
    help="xlsx and --pdf: also make a statement for a customer with nothing to bill.",
)
@click.option(
    "--pdf",
    "pdf_dir",
    default=None,
    metavar="DIR",
    help="Write one PDF statement per customer into DIR (<customer>-<YYYY-MM>.pdf; issuer, "
    "bill-to and number prefix from [chargeback] in the config).",
)
@click.option(
    "--allocation",
    "allocation_path",
    default=None,
    metavar="FILE.xlsx",
    help="Write the internal allocation summary (cost centres from [chargeback], amounts, "
    "what is under review) to this workbook.",
)
@output_options(FORMATS)
@common_options
@run_command
def command(
    run: Run,
    month: Month,
    customer: str | None,
    failed_threshold: float,
    template: str | None,
    include_empty: bool,
    pdf_dir: str | None,
    allocation_path: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Credits and estimated cost per customer token, tied to the account's usage.

    Each operation's credits are split across customers in proportion to their estimated
    successful requests on the endpoints mapping to it (endpoint_mapping.toml); the rest is
    'unallocated'. Estimates: the token's 2xx ratio is applied per endpoint, and the API prices
    results, not requests. A customer whose estimate lies beyond what its requests prove (more
    than [chargeback] tolerance, default 5%, of its successful requests above the proven lower
    end) is billed that lower end; the rest is 'unallocated, under review'. Flags customers with
    many failed requests. With [money] the money column is the booked cost, the rate the
    statements bill; without it, the list-price estimate, labelled so. Statements: one per
    customer in the xlsx (nothing internal: the customers x operations split is in
    --allocation FILE.xlsx) and with --pdf DIR.

    Across accounts (--all-accounts, --tag, --account more than once) every account is split
    with its own [money]: every account's customers with one account's columns (the account
    first) and the total, one row per account, then each account's split (an account column in
    CSV and JSON; a Summary, a Customers and a sheet per account in xlsx). An account that
    fails makes the total say "partial", and the exit code is its (3 or 4), after the output is
    written.
    """
    from ..reports.assemble import ReportSettings, chargeback, statements

    check_output(fmt, output)
    if allocation_path is not None:
        check_output("xlsx", allocation_path)
    if pdf_dir is not None and os.path.exists(pdf_dir) and not os.path.isdir(pdf_dir):
        raise InputError(f"--pdf needs a folder, and {pdf_dir} is a file")
    if not 0 <= failed_threshold <= 100:
        raise InputError(f"--failed-threshold must be between 0 and 100, not {failed_threshold:g}")
    billing = run.statement_settings()
    settings = ReportSettings(
        template=template,
        failed_threshold=failed_threshold / 100,
        money=run.money(),
        tolerance=billing.tolerance,
    )
    if run.multiple:
        if customer is not None:
            raise InputError("--customer reads one account: choose it with --account NAME")
        if pdf_dir is not None or allocation_path is not None:
            raise InputError(
                "--pdf and --allocation make one account's statements: "
                "choose it with --account NAME"
            )
        _across(run, month, settings, fmt=fmt, output=output)
        return
    if fmt == "xlsx" or pdf_dir is not None or allocation_path is not None:
        split, built = statements(
            run.source, month, settings, billing, customer=customer, include_empty=include_empty
        )
    else:  # no statement to make: the month before is not read
        split, built = chargeback(run.source, month, settings, customer=customer), None
    from generect_reports.render.chargeback import (
        render_chargeback,
        write_allocation_workbook,
        write_chargeback_workbook,
    )

    if pdf_dir is not None and built is not None:
        from generect_reports.render.pdf.statement import write_statement_pdfs
        from generect_reports.theme import load_theme

        for path in write_statement_pdfs(built, pdf_dir, theme=load_theme(template)):
            run.say(f"wrote {path}")
    if allocation_path is not None and built is not None:
        write_allocation_workbook(split.allocation, built, allocation_path)
        run.say(f"wrote {allocation_path}")
    if fmt == "xlsx":
        write_chargeback_workbook(
            split.allocation,
            output,  # type: ignore[arg-type]
            include_empty=include_empty,
            statements=built,
        )
        run.say(f"wrote {output}")
        return
    run.emit(
        render_chargeback(
            split.allocation,
            fmt,
            complete=split.complete,
            booked=split.booked,
            booked_currency=split.booked_currency,
            booked_lines=split.booked_lines,
        ),
        output,
        table=fmt == "table",
    )
    if fmt == "csv":  # table and JSON carry the assumptions; a CSV has no room
        run.say("note: customer figures are estimates. " + " ".join(split.allocation.assumptions))


def _across(run: Run, month: Month, settings: Any, *, fmt: str, output: str | None) -> None:
    """``chargeback`` across accounts: every account's split, then the exit code."""
    from generect_reports.render import accounts as A

    from ..reports.accounts import chargebacks

    by_account = run.settings_by_account(settings)
    across = chargebacks(run.sources, month, by_account.__getitem__, labels=run.account_labels())
    if fmt == "xlsx":
        A.write_workbook(A.chargeback_workbook(across), output)  # type: ignore[arg-type]
        run.say(f"wrote {output}")
    elif fmt == "json":
        run.emit(A.chargeback_json(across), output)
    elif fmt == "csv":
        run.emit(A.chargeback_csv(across), output)
    else:
        run.emit(A.chargeback_table(across), output, table=True)
    run.raise_partial(across)
