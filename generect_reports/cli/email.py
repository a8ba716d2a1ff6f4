"""``email``: the monthly (or quarter) report by email, or the exact message as a file."""

from __future__ import annotations

import math

import click

from ..errors import InputError
from .options import (
    FiscalOptions,
    ReportOptions,
    SmtpOptions,
    common_options,
    fiscal_options,
    quarter_option,
    report_options,
    smtp_options,
)
from .report import check_quarter
from .run import Run, run_command

__all__ = ["command"]


#: Beyond any mail server's limit; keeps the byte count an integer.
_MAX_ATTACHMENT_MB = 1_000_000


@click.command("email")
@report_options
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Recipient (repeatable).")
@click.option("--cc", "cc", multiple=True, metavar="ADDR", help="Copy recipient (repeatable).")
@click.option("--from", "sender", default=None, metavar="ADDR", help="Sender address.")
@smtp_options
@click.option(
    "--max-attachment-mb",
    default=10.0,
    show_default=True,
    type=float,
    help="Refuse to send attachments larger than this in total.",
)
@click.option(
    "--dry-run",
    "dry_run",
    default=None,
    metavar="FILE.eml",
    help="Write the exact message to FILE.eml instead of sending it.",
)
@quarter_option("Email the quarter report")
@fiscal_options
@common_options
@run_command
def command(
    run: Run,
    report: ReportOptions,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    sender: str | None,
    smtp: SmtpOptions,
    max_attachment_mb: float,
    dry_run: str | None,
    quarter: str | None,
    fiscal: FiscalOptions,
) -> None:
    """Email the monthly report (workbook and PDF attached) to the finance inbox.

    Across accounts (--all-accounts, --tag, --account more than once) it sends the roll-up
    pack, the workbook and PDF that report --all-accounts writes. An account that fails leaves
    the others in the pack, the subject ends in "(partial)", and after the message is sent the
    exit code is the failed account's (3 or 4).
    """
    from generect_reports.deliver import smtp as sending
    from generect_reports.render.email import message as mail

    if not (math.isfinite(max_attachment_mb) and 0 < max_attachment_mb <= _MAX_ATTACHMENT_MB):
        raise InputError(
            f"--max-attachment-mb must be a positive number up to {_MAX_ATTACHMENT_MB:,}, "
            f"not {max_attachment_mb:g}"
        )
    delivery = sending.SmtpSettings.from_options(
        host=smtp.smtp_host,
        port=smtp.smtp_port,
        security=smtp.smtp_security,
        user=smtp.smtp_user,
        need_host=dry_run is None,
    )
    recipients = sending.validate_addresses(to, "--to", required=True)
    copies = sending.validate_addresses(cc, "--cc")
    from_addr = sending.validate_addresses([sender] if sender else [], "--from", required=True)[0]
    if dry_run:
        from .._atomic import check_output_path

        check_output_path(dry_run)
    limit = int(max_attachment_mb * 1024 * 1024)
    from ..reports import assemble

    if run.multiple:
        if quarter is not None:
            raise InputError("--quarter across accounts is not available: use --month")
        from ..reports.rollup import rollup_report

        by_account = run.settings_by_account(run.settings(report, fiscal))
        rollup = rollup_report(
            run.sources, report.month, by_account.__getitem__, labels=run.account_labels()
        )
        message = mail.build_rollup_message(
            rollup, to=recipients, cc=copies, sender=from_addr, max_attachment_bytes=limit
        )
    elif quarter is not None:
        checked = check_quarter(run, quarter, report, fiscal)
        result = assemble.quarter_report(run.source, checked, run.settings(report, fiscal))
        message = mail.build_quarter_message(
            result.report,
            to=recipients,
            cc=copies,
            sender=from_addr,
            max_attachment_bytes=limit,
            colors=result.colors,
            theme=result.theme,
        )
    else:
        from generect_reports.deliver.parallel import start_pdf_worker

        settings = run.settings(report, fiscal)
        # As for `report`: the PDF's child imports matplotlib while the data loads.
        with start_pdf_worker() as worker:
            rep = assemble.monthly_report(run.source, report.month, settings)
            message = mail.build_message(
                rep,
                to=recipients,
                cc=copies,
                sender=from_addr,
                max_attachment_bytes=limit,
                worker=worker,
            )
    if dry_run:
        sending.write_eml(message, dry_run)
        run.say(f"wrote {dry_run} (not sent)")
    else:
        sending.send_message(message, delivery)
        run.say(f"sent {message['Subject']!s} to {len(recipients) + len(copies)} recipient(s)")
    if run.multiple:
        run.raise_partial(rollup)
