"""``generect-reports``: a thin shell over the library.

Each command parses options, calls library functions and turns :class:`GenerectError` into a
one-line message and the documented exit code. Heavy libraries are imported inside the
commands so ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from typing import Any, Callable

import click

from ._version import __version__
from .errors import EXIT_BAD_INPUT, EXIT_UNEXPECTED, GenerectError, InputError

__all__ = ["cli", "main"]

log = logging.getLogger("generect_reports")

SECRET_ENV = ("GENERECT_API_TOKEN", "GENERECT_SMTP_PASSWORD", "GENERECT_NOTIFY_URL")
USAGE_FORMATS = ("table", "csv", "json", "xlsx")


def redact(text: str) -> str:
    """Replace every secret we know of in ``text`` (a last line of defence for output)."""
    for name in SECRET_ENV:
        secret = os.environ.get(name, "").strip()
        if secret.lower().startswith("token "):
            secret = secret[6:].strip()
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _setup_logging(verbose: int, quiet: bool) -> None:
    import warnings

    from .errors import GenerectWarning

    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # GenerectWarning is also logged where it is raised; show it once, as a log line.
    warnings.simplefilter("ignore", GenerectWarning)


#: Which config table fills which command's option defaults (so a cron line stays short).
CONFIG_DEFAULTS: dict[str, tuple[str, ...]] = {"email": ("report", "email"), "report": ("report",)}


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Read the config file once, keep it on the context, and fill option defaults from the
    tables named in :data:`CONFIG_DEFAULTS`."""
    from .config import load_config

    try:
        config = load_config(value)
    except GenerectError as exc:
        raise click.BadParameter(str(exc)) from None
    ctx.meta["generect.config"] = config
    known = {p.name for p in ctx.command.params}
    aliases = {"from": "sender"}
    defaults: dict[str, Any] = {}
    for table in CONFIG_DEFAULTS.get(ctx.command.name or "", ()):
        for key, val in config.table(table).items():
            name = aliases.get(str(key), str(key).replace("-", "_"))
            if name not in known:
                raise click.BadParameter(f"unknown setting {key!r} in [{table}] of {config.where}")
            defaults[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def command_config(ctx: click.Context | None = None) -> Any:
    """The :class:`~generect_reports.config.Config` the current command was given."""
    from .config import Config

    ctx = ctx or click.get_current_context()
    return ctx.meta.get("generect.config") or Config()


def output_options(*formats: str, default: str = "table") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` and ``--output`` for commands that print a table or write a file."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option("--output", "-o", default=None, metavar="PATH",
                          help="Write to PATH (atomically) instead of stdout.")(fn)
        fn = click.option("--format", "fmt", default=default, show_default=True, metavar="FORMAT",
                          help=f"{', '.join(formats[:-1])} or {formats[-1]}.")(fn)
        return fn

    return decorate


def check_output(fmt: str, output: str | None, formats: tuple[str, ...],
                 file_only: tuple[str, ...] = ("xlsx", "parquet")) -> str:
    """Validate ``--format``/``--output`` before any network: the format, and a writable path."""
    fmt = fmt.lower()
    if fmt not in formats:
        raise InputError(f"unknown format {fmt!r}: use {', '.join(formats[:-1])} or {formats[-1]}")
    if fmt in file_only and not output:
        raise InputError(f"--format {fmt} needs --output PATH")
    if output:
        from ._atomic import check_output_path

        check_output_path(output)
    return fmt


def emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it atomically to ``output``."""
    if output:
        from ._atomic import write_bytes_atomic

        write_bytes_atomic(output, text.encode("utf-8"))
    else:
        click.echo(text, nl=not text.endswith("\n"))


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command takes, defined once."""
    options = [
        click.option("--config", default=None, metavar="FILE", is_eager=True, expose_value=False,
                     callback=_load_config,
                     help="TOML file with [email], [budget], [notify], [calendar] and [report] tables "
                          "($GENERECT_REPORTS_CONFIG)."),
        click.option("--sample", is_flag=True, help="Use the bundled sample data: no token, no network."),
        click.option("--timezone", "timezone", default=None, metavar="TZ",
                     help="IANA timezone for day/week/month buckets [default: UTC; Europe/Kyiv with --sample]."),
        click.option("--api-url", default=None, metavar="URL", help="API base URL [default: $GENERECT_API_URL or https://api.generect.com]."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache of closed periods."),
        click.option("-v", "--verbose", count=True, help="Log requests and retries (-vv for debug); tracebacks on errors."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the monthly report, shared by ``report`` and ``email``."""
    options = [
        click.option("--month", default=None, metavar="YYYY-MM", help="Report month [default: the last full month]."),
        click.option("--history", default=24, show_default=True, type=int, help="Months in the history chart and Monthly sheet (year-over-year is fetched whatever this is)."),
        click.option("--template", default=None, metavar="DIR", help="Folder with theme.toml, prices.toml, report.mplstyle and email templates."),
        click.option("--account", default=None, help="Account name shown in titles."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command, turning errors into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = kwargs.get("verbose", 0)
        _setup_logging(verbose, kwargs.get("quiet", False))
        try:
            return fn(*args, **kwargs)
        except GenerectError as exc:
            if verbose:
                click.echo(redact(traceback.format_exc()), err=True)
            click.echo(f"error: {redact(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # the documented exit 1: anything unexpected
            if verbose:
                click.echo(redact(traceback.format_exc()), err=True)
            hint = "" if verbose else " (run with --verbose for details)"
            click.echo(f"error: unexpected {type(exc).__name__}: {redact(str(exc))}{hint}", err=True)
            sys.exit(EXIT_UNEXPECTED)

    return wrapper


def _client(api_url: str | None) -> Any:
    from .fetch.client import GenerectClient

    return GenerectClient(base_url=api_url)


def _timezone(timezone: str | None, sample: bool) -> str:
    from .periods import SAMPLE_TIMEZONE, get_timezone

    tz = timezone or (SAMPLE_TIMEZONE if sample else "UTC")
    get_timezone(tz)
    return tz


def _load(start: Any, end: Any, *, period: str, timezone: str, sample: bool, api_url: str | None,
          no_cache: bool, quiet: bool) -> Any:
    """Usage from the sample or the API: the only place the CLI chooses a source."""
    if sample:
        from .fetch.usage import load_sample

        return load_sample(start, end, period=period, timezone=timezone)
    from .fetch.usage import fetch_usage

    with _client(api_url) as client:
        return fetch_usage(start, end, period=period, timezone=timezone, client=client,
                           cache=not no_cache, progress=False if quiet else None)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="generect-reports")
def cli() -> None:
    """Generect API credit usage: tidy tables, monthly Excel and PDF reports, and email.

    Set GENERECT_API_TOKEN for the live API, or add --sample to any command to use the
    bundled sample account. Exit codes: 0 ok, 2 bad input, 3 authentication or permission,
    4 API, network or SMTP failure, 5 a check failed, 1 anything unexpected.
    """


@cli.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First local date (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last local date (inclusive).")
@click.option("--period", default="day", show_default=True, help="Bucket size: day, week (ISO) or month.")
@output_options(*USAGE_FORMATS)
@common_options
@handle_errors
def usage(start: str, end: str, period: str, fmt: str, output: str | None, sample: bool,
          timezone: str | None, api_url: str | None, no_cache: bool, verbose: int, quiet: bool) -> None:
    """Credits per period and operation, as a tidy table.

    Columns: period_start, period, operation, credits. A period's rows add up to the API's
    total; the difference to the per-operation breakdown is the 'unattributed' row.
    """
    from . import periods

    fmt = check_output(fmt, output, USAGE_FORMATS)
    tz = _timezone(timezone, sample)
    periods.buckets(start, end, period)  # validate before any token or network is needed
    frame = _load(start, end, period=period, timezone=tz, sample=sample, api_url=api_url,
                  no_cache=no_cache, quiet=quiet)
    from .outputs import export

    if fmt == "xlsx":
        from .outputs.excel import write_usage_xlsx

        write_usage_xlsx(frame, output)  # type: ignore[arg-type]
        return
    emit(export.render(frame, fmt), output)


def _report_data(month: str | None, history: int, sample: bool, timezone: str | None,
                 api_url: str | None, no_cache: bool, quiet: bool, template: str | None,
                 account: str | None) -> Any:
    from .periods import parse_month
    from .outputs.report import build_report, last_full_month, report_window
    from .theme import load_theme

    if history < 1:
        raise InputError(f"--history must be at least 1, not {history}")
    if month is not None:
        parse_month(month)
    tz = _timezone(timezone, sample)
    theme = load_theme(template)
    if month is None:
        if sample:
            from .fetch.usage import load_sample

            month = last_full_month(load_sample(period="day"))
        else:
            month = last_full_month(timezone=tz)
    first, last = report_window(month, history)
    frame = _load(first, last, period="day", timezone=tz, sample=sample, api_url=api_url,
                  no_cache=no_cache, quiet=quiet)
    return build_report(frame, month, history=history, theme=theme, account=account)


@cli.command()
@report_options
@click.option("--xlsx", "xlsx_path", default=None, metavar="PATH", help="Write the Excel workbook here.")
@click.option("--pdf", "pdf_path", default=None, metavar="PATH", help="Write the PDF report here.")
@common_options
@handle_errors
def report(month: str | None, history: int, template: str | None, account: str | None,
           xlsx_path: str | None, pdf_path: str | None, sample: bool, timezone: str | None,
           api_url: str | None, no_cache: bool, verbose: int, quiet: bool) -> None:
    """The monthly finance report as an Excel workbook and a PDF.

    With neither --xlsx nor --pdf, both are written to the current folder as
    generect-usage-YYYY-MM.xlsx and .pdf. A month that is not over is compared like for like
    and gets a month-end projection.
    """
    from ._atomic import check_output_path

    for path in (xlsx_path, pdf_path):
        if path:
            check_output_path(path)
    rep = _report_data(month, history, sample, timezone, api_url, no_cache, quiet, template, account)
    if not xlsx_path and not pdf_path:
        xlsx_path = f"generect-usage-{rep.month}.xlsx"
        pdf_path = f"generect-usage-{rep.month}.pdf"
    if xlsx_path:
        from .outputs.excel import write_report_workbook

        write_report_workbook(rep, xlsx_path)
        if not quiet:
            click.echo(f"wrote {xlsx_path}", err=True)
    if pdf_path:
        from .outputs.pdf import write_report_pdf

        write_report_pdf(rep, pdf_path)
        if not quiet:
            click.echo(f"wrote {pdf_path}", err=True)
    for line in rep.warnings:
        log.warning(line)


@cli.command()
@report_options
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Recipient (repeatable).")
@click.option("--cc", "cc", multiple=True, metavar="ADDR", help="Copy recipient (repeatable).")
@click.option("--from", "sender", default=None, metavar="ADDR", help="Sender address.")
@click.option("--smtp-host", default=None, metavar="HOST", help="SMTP server.")
@click.option("--smtp-port", default=None, type=int, metavar="PORT", help="SMTP port [default: 587 starttls, 465 ssl, 25 none].")
@click.option("--smtp-security", default="starttls", show_default=True, help="starttls, ssl or none.")
@click.option("--smtp-user", default=None, metavar="USER", help="SMTP login; the password comes only from GENERECT_SMTP_PASSWORD.")
@click.option("--max-attachment-mb", default=10.0, show_default=True, type=float, help="Refuse to send attachments larger than this in total.")
@click.option("--dry-run", "dry_run", default=None, metavar="FILE.eml", help="Write the exact message to FILE.eml instead of sending it.")
@common_options
@handle_errors
def email(month: str | None, history: int, template: str | None, account: str | None,
          to: tuple[str, ...], cc: tuple[str, ...], sender: str | None, smtp_host: str | None,
          smtp_port: int | None, smtp_security: str, smtp_user: str | None, max_attachment_mb: float,
          dry_run: str | None, sample: bool, timezone: str | None, api_url: str | None,
          no_cache: bool, verbose: int, quiet: bool) -> None:
    """Email the monthly report (workbook and PDF attached) to the finance inbox."""
    from .outputs import mail

    settings = mail.SmtpSettings.from_options(
        host=smtp_host, port=smtp_port, security=smtp_security, user=smtp_user,
        need_host=dry_run is None)
    recipients = mail.validate_addresses(to, "--to", required=True)
    copies = mail.validate_addresses(cc, "--cc")
    from_addr = mail.validate_addresses([sender] if sender else [], "--from", required=True)[0]
    if dry_run:
        from ._atomic import check_output_path

        check_output_path(dry_run)
    rep = _report_data(month, history, sample, timezone, api_url, no_cache, quiet, template, account)
    message = mail.build_message(rep, to=recipients, cc=copies, sender=from_addr,
                                 max_attachment_bytes=int(max_attachment_mb * 1024 * 1024))
    if dry_run:
        mail.write_eml(message, dry_run)
        if not quiet:
            click.echo(f"wrote {dry_run} (not sent)", err=True)
        return
    mail.send_message(message, settings)
    if not quiet:
        click.echo(f"sent {message['Subject']!s} to {len(recipients) + len(copies)} recipient(s)", err=True)


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into an exception so atomic writes remove their temporary files.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: click with one-line usage errors (exit 2) instead of a usage dump."""
    import signal

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="generect-reports", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(EXIT_UNEXPECTED)
    except click.ClickException as exc:
        click.echo(f"error: {redact(exc.format_message())}", err=True)
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
