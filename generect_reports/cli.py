"""``generect-reports``: a thin shell over the library.

Each command parses options, calls library functions and turns :class:`GenerectError` into a
one-line message and the documented exit code. Heavy libraries are imported inside the
commands so ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import click

from ._version import __version__
from .errors import EXIT_BAD_INPUT, EXIT_UNEXPECTED, GenerectError, InputError

__all__ = ["cli", "main"]

log = logging.getLogger("generect_reports")

SECRET_ENV = ("GENERECT_API_TOKEN", "GENERECT_SMTP_PASSWORD", "GENERECT_NOTIFY_URL")
USAGE_FORMATS = ("table", "csv", "json", "ndjson", "parquet", "focus", "xlsx")
#: Longest --history accepted (100 years): beyond it the window leaves the calendar.
MAX_HISTORY = 1200


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

    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # GenerectWarning is also logged where it is raised; show it once, as a log line.
    warnings.simplefilter("ignore", GenerectWarning)
    # Library warnings (matplotlib's "Glyph missing", pandas) become log lines: one format,
    # redacted, and silent with -q.
    logging.captureWarnings(True)
    # The PDF font subsetter logs every table at INFO: not what -v is for.
    logging.getLogger("fontTools").setLevel(max(level, logging.WARNING))


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


def output_options(
    *formats: str, default: str = "table"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` and ``--output`` for commands that print a table or write a file."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option(
            "--output",
            "-o",
            default=None,
            metavar="PATH",
            help="Write to PATH (atomically) instead of stdout.",
        )(fn)
        fn = click.option(
            "--format",
            "fmt",
            default=default,
            show_default=True,
            metavar="FORMAT",
            help=f"{', '.join(formats[:-1])} or {formats[-1]}.",
        )(fn)
        return fn

    return decorate


def check_output(
    fmt: str,
    output: str | None,
    formats: tuple[str, ...],
    file_only: tuple[str, ...] = ("xlsx", "parquet"),
) -> str:
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
        if sys.stdout is None:
            # Started with stdout closed (`>&-`): the output would vanish with exit 0.
            from .errors import OutputError

            raise OutputError(
                "standard output is closed: nothing can be printed; use --output PATH"
            )
        click.echo(text, nl=not text.endswith("\n"))


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command takes, defined once."""
    options = [
        click.option(
            "--config",
            default=None,
            metavar="FILE",
            is_eager=True,
            expose_value=False,
            callback=_load_config,
            help="TOML file with [email], [budget], [notify], [calendar] and [report] tables "
            "($GENERECT_REPORTS_CONFIG).",
        ),
        click.option(
            "--sample", is_flag=True, help="Use the bundled sample data: no token, no network."
        ),
        click.option(
            "--timezone",
            "timezone",
            default=None,
            metavar="TZ",
            help=(
                "IANA timezone for day/week/month buckets "
                "[default: UTC; Europe/Kyiv with --sample]."
            ),
        ),
        click.option(
            "--api-url",
            default=None,
            metavar="URL",
            help="API base URL [default: $GENERECT_API_URL or https://api.generect.com].",
        ),
        click.option(
            "--no-cache", is_flag=True, help="Neither read nor write the cache of closed periods."
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            help="Log requests and retries (-vv for debug); tracebacks on errors.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr; no progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def fiscal_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The fiscal calendar: start month and how fiscal years are named ([calendar] table)."""
    options = [
        click.option(
            "--fiscal-year-start",
            type=click.IntRange(1, 12),
            default=None,
            metavar="MONTH",
            help=(
                "First month of the fiscal year, 1-12 [default: [calendar] fiscal_year_start or 1]."
            ),
        ),
        click.option(
            "--fiscal-year-naming",
            "fy_naming",
            type=click.Choice(["end", "start"]),
            default=None,
            help="Name a fiscal year by the calendar year it ends in (FY2027 = Apr 2026-Mar 2027) "
            "or starts in [default: end].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the monthly report, shared by ``report`` and ``email``."""
    options = [
        click.option(
            "--month",
            default=None,
            metavar="YYYY-MM",
            help="Report month [default: the last full month].",
        ),
        click.option(
            "--history",
            default=24,
            show_default=True,
            type=int,
            help=(
                "Months in the history chart and Monthly sheet "
                "(year-over-year is fetched whatever this is)."
            ),
        ),
        click.option(
            "--template",
            default=None,
            metavar="DIR",
            help="Folder with theme.toml, prices.toml, report.mplstyle and email templates.",
        ),
        click.option("--account", default=None, help="Account name shown in titles."),
        click.option(
            "--reconcile/--no-reconcile",
            "reconcile",
            default=None,
            help="Tie the month to the ledger in the report [default: on with --sample; "
            "on the API only when asked, as a busy ledger is large].",
        ),
        click.option(
            "--chargeback/--no-chargeback",
            "chargeback",
            default=None,
            help="Add credits by customer from the token analytics [default: on with "
            "--sample; on the API only when asked].",
        ),
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
        except KeyboardInterrupt as exc:
            code = _interrupt_code(exc)
            click.echo(
                "error: terminated" if code == EXIT_SIGTERM else "error: interrupted", err=True
            )
            sys.exit(code)
        except BrokenPipeError:
            # The reader went away (`usage ... | head`): stop quietly, like any Unix filter.
            _quiet_broken_pipe()
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # the documented exit 1: anything unexpected
            if verbose:
                click.echo(redact(traceback.format_exc()), err=True)
            hint = "" if verbose else " (run with --verbose for details)"
            click.echo(
                f"error: unexpected {type(exc).__name__}: {redact(str(exc))}{hint}", err=True
            )
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


def _load(
    start: Any,
    end: Any,
    *,
    period: str,
    timezone: str,
    sample: bool,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
) -> Any:
    """Usage from the sample or the API: the only place the CLI chooses a source."""
    if sample:
        from .fetch.usage import load_sample

        return load_sample(start, end, period=period, timezone=timezone)
    from .fetch.usage import fetch_usage

    with _client(api_url) as client:
        frame = fetch_usage(
            start,
            end,
            period=period,
            timezone=timezone,
            client=client,
            cache=not no_cache,
            progress=False if quiet else None,
        )
    for tie in frame.attrs.get("tie_outs", []):
        log.warning(
            "the API's figure for %s (%.2f credits) differs from the sum of its days (%.2f, "
            "a difference of %+.2f): the figure shown is the API's",
            tie.label,
            tie.bucket_total,
            tie.days_total,
            tie.difference,
        )
    return frame


def _load_plan(
    plan: Any, *, timezone: str, sample: bool, api_url: str | None, no_cache: bool, quiet: bool
) -> Any:
    """A fetch plan's daily and monthly usage from the sample or the API (with :func:`_load`,
    the only places the CLI chooses a source)."""
    from .fetch import plan as FP

    if sample:
        return FP.load_sample_plan_usage(plan, timezone=timezone)
    with _client(api_url) as client:
        usage = FP.fetch_plan_usage(
            plan,
            timezone=timezone,
            client=client,
            cache=not no_cache,
            progress=False if quiet else None,
        )
    log.info(
        "usage: %d day(s), %d month(s), %d request(s) sent",
        usage.daily["period"].nunique(),
        usage.monthly["period"].nunique(),
        usage.daily.attrs.get("requests", 0),
    )
    return usage


def _plan_today(timezone: str, sample: bool) -> Any:
    """Today's local date, or the sample's: the first day its data does not cover."""
    from .periods import get_timezone, local_today

    if sample:
        from .fetch.usage import sample_as_of

        return sample_as_of().date()
    return local_today(get_timezone(timezone))


def _load_report_usage(
    month: str,
    history: int,
    *,
    timezone: str,
    sample: bool,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
) -> Any:
    """A report's daily and monthly usage, by its fetch plan."""
    from .fetch.plan import report_plan

    plan = report_plan(month, history, today=_plan_today(timezone, sample))
    return _load_plan(
        plan, timezone=timezone, sample=sample, api_url=api_url, no_cache=no_cache, quiet=quiet
    )


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
@click.option(
    "--period",
    default="day",
    show_default=True,
    help="Bucket size: day, week (ISO), month, or fiscal quarter or year (from months).",
)
@fiscal_options
@output_options(*USAGE_FORMATS)
@common_options
@handle_errors
def usage(
    start: str,
    end: str,
    period: str,
    fiscal_year_start: int | None,
    fy_naming: str | None,
    fmt: str,
    output: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Credits per period and operation, as a tidy table.

    Columns: period_start, period, operation, credits. A period's rows add up to the API's
    total; the difference to the per-operation breakdown is the 'unattributed' row.
    --format json is the versioned document (schema in the package), ndjson one row per line,
    parquet a typed file, focus FinOps FOCUS 1.2 rows (CSV, or Parquet for a .parquet output).
    """
    from . import periods

    fmt = check_output(fmt, output, USAGE_FORMATS)
    if fmt == "parquet" or (fmt == "focus" and str(output or "").lower().endswith(".parquet")):
        from generect_reports.render.records.export import require_pyarrow

        require_pyarrow()
    tz = _timezone(timezone, sample)
    fiscal = _fiscal_calendar(fiscal_year_start, fy_naming)
    fetch_period = "month" if period in ("quarter", "year") else period
    periods.buckets(start, end, fetch_period)  # validate before any token or network is needed
    if fmt == "focus" and period != "day":
        raise InputError("--format focus writes one row per day and operation: use --period day")
    frame = _load(
        start,
        end,
        period=fetch_period,
        timezone=tz,
        sample=sample,
        api_url=api_url,
        no_cache=no_cache,
        quiet=quiet,
    )
    if period in ("quarter", "year"):
        from .analysis.calendar import to_fiscal_periods

        frame = to_fiscal_periods(frame, period, fiscal)
    _write_usage(frame, fmt, output)


def _write_usage(frame: Any, fmt: str, output: str | None) -> None:
    """Write the usage frame in ``fmt`` (already validated by :func:`check_output`)."""
    from generect_reports.render.records import export

    if fmt == "xlsx":
        from generect_reports.render.xlsx.workbook import write_usage_xlsx

        write_usage_xlsx(frame, output)  # type: ignore[arg-type]
    elif fmt == "parquet":
        export.write_usage_parquet(frame, output)
    elif fmt == "focus":
        from generect_reports.render.records.focus import write_focus

        text = write_focus(frame, output)
        if text is not None:
            emit(text, None)
    elif fmt == "ndjson" and not output:
        for line in export.iter_ndjson(frame):  # streamed: large ranges need no second copy
            click.echo(line, nl=False)
    else:
        emit(export.render(frame, fmt), output)


def _fiscal_calendar(start_month: int | None, naming: str | None) -> Any:
    """The fiscal calendar from the options, else the ``[calendar]`` table, else January."""
    from .analysis.calendar import FiscalCalendar

    table = command_config().table("calendar")
    unknown = set(table) - {"fiscal_year_start", "fiscal_year_naming"}
    if unknown:
        from .errors import ConfigError

        raise ConfigError(
            f"unknown setting {sorted(unknown)[0]!r} in [calendar]: use "
            "fiscal_year_start or fiscal_year_naming"
        )
    month = start_month if start_month is not None else table.get("fiscal_year_start", 1)
    name = naming if naming is not None else table.get("fiscal_year_naming", "end")
    return FiscalCalendar.create(month, name)


def _report_data(
    month: str | None,
    history: int,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
    template: str | None,
    account: str | None,
    *,
    reconcile: bool | None = None,
    chargeback: bool | None = None,
) -> Any:
    from generect_reports.reports.monthly import build_report, last_full_month

    from .periods import parse_month
    from .theme import load_theme

    if history < 1:
        raise InputError(f"--history must be at least 1, not {history}")
    if history > MAX_HISTORY:
        raise InputError(f"--history must be at most {MAX_HISTORY} months, not {history}")
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
    frame, monthly = _load_report_usage(
        month, history, timezone=tz, sample=sample, api_url=api_url, no_cache=no_cache, quiet=quiet
    )
    rep = build_report(frame, month, monthly=monthly, history=history, theme=theme, account=account)
    rep.sections = _report_sections(
        rep,
        frame,
        sample=sample,
        timezone=tz,
        api_url=api_url,
        no_cache=no_cache,
        quiet=quiet,
        template=template,
        reconcile=sample if reconcile is None else reconcile,
        chargeback=sample if chargeback is None else chargeback,
    )
    return rep


def _report_sections(
    rep: Any,
    frame: Any,
    *,
    sample: bool,
    timezone: str,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
    template: str | None,
    reconcile: bool,
    chargeback: bool,
) -> Any:
    """The report's optional sections: the plan limit and budgets always (one ``/me/``
    request), the ledger tie-out and the customer split when asked (always on the sample)."""
    from generect_reports.reports.monthly import ReportSections

    from .analysis.budget import report_budget

    config = command_config()
    sections = ReportSections()
    if sample:
        from .fetch.account import load_sample_account, sample_limit_history

        account, history = load_sample_account(), sample_limit_history()
    else:
        from .fetch.account import fetch_account

        with _client(api_url) as client:
            account, history = fetch_account(client), None
    # The balance runway only means something for the month that is still running.
    sections.budget, sections.burnup = report_budget(
        frame,
        rep.month,
        current_limit=account.monthly_limit,
        current_month=account.api_month,
        budgets=config.table("budget"),
        limit_from=history,
        as_of=rep.as_of,
        prices=rep.price_book,
        balance=None if rep.complete else account.balance,
    )
    if reconcile:
        result, inputs = _reconcile_data(
            rep.month,
            timezone=timezone,
            sample=sample,
            api_url=api_url,
            no_cache=no_cache,
            refresh=False,
            quiet=quiet,
            template=template,
        )
        sections.reconciliation, sections.ledger = result, inputs.ledger
    if chargeback:
        sections.allocation = _chargeback_data(
            rep.month,
            sample=sample,
            timezone=timezone,
            api_url=api_url,
            no_cache=no_cache,
            quiet=quiet,
            template=template,
            threshold=0.20,
        )
    return sections


@cli.command()
@report_options
@click.option(
    "--quarter",
    default=None,
    metavar="QUARTER",
    help="A quarter report instead of a month: 2026-Q3 (calendar) or FY2027-Q1 (fiscal).",
)
@fiscal_options
@click.option(
    "--xlsx", "xlsx_path", default=None, metavar="PATH", help="Write the Excel workbook here."
)
@click.option("--pdf", "pdf_path", default=None, metavar="PATH", help="Write the PDF report here.")
@common_options
@handle_errors
def report(
    month: str | None,
    history: int,
    template: str | None,
    account: str | None,
    reconcile: bool | None,
    chargeback: bool | None,
    quarter: str | None,
    fiscal_year_start: int | None,
    fy_naming: str | None,
    xlsx_path: str | None,
    pdf_path: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """The monthly finance report as an Excel workbook and a PDF.

    With neither --xlsx nor --pdf, both are written to the current folder as
    generect-usage-YYYY-MM.xlsx and .pdf. A month that is not over is compared like for like
    and gets a month-end projection. --quarter writes the quarter report instead
    (generect-usage-<QUARTER>.xlsx and a one-page .pdf by default): its months side by side,
    the quarter against the previous quarter and the same quarter last year, and the drivers.
    """
    from ._atomic import check_distinct_outputs, check_output_path

    for path in (xlsx_path, pdf_path):
        if path:
            check_output_path(path)
    check_distinct_outputs({"--xlsx": xlsx_path, "--pdf": pdf_path})
    if quarter is not None:
        _quarter_report(
            quarter,
            month,
            fiscal_year_start,
            fy_naming,
            xlsx_path,
            pdf_path,
            sample,
            timezone,
            api_url,
            no_cache,
            quiet,
            template,
            account,
        )
        return
    from generect_reports.deliver.parallel import start_pdf_worker, write_report_files

    def wrote(path: Any) -> None:
        if not quiet:
            click.echo(f"wrote {path}", err=True)

    # The PDF's child is forked before the data is loaded, so it imports matplotlib meanwhile;
    # the workbook and the PDF are then rendered side by side where the platform allows.
    with start_pdf_worker(enabled=bool(pdf_path or not xlsx_path)) as worker:
        rep = _report_data(
            month,
            history,
            sample,
            timezone,
            api_url,
            no_cache,
            quiet,
            template,
            account,
            reconcile=reconcile,
            chargeback=chargeback,
        )
        if not xlsx_path and not pdf_path:
            xlsx_path = f"generect-usage-{rep.month}.xlsx"
            pdf_path = f"generect-usage-{rep.month}.pdf"
        write_report_files(rep, xlsx_path, pdf_path, on_written=wrote, worker=worker)
    for line in rep.warnings:
        log.warning(line)


@cli.command()
@report_options
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Recipient (repeatable).")
@click.option("--cc", "cc", multiple=True, metavar="ADDR", help="Copy recipient (repeatable).")
@click.option("--from", "sender", default=None, metavar="ADDR", help="Sender address.")
@click.option("--smtp-host", default=None, metavar="HOST", help="SMTP server.")
@click.option(
    "--smtp-port",
    default=None,
    type=int,
    metavar="PORT",
    help="SMTP port [default: 587 starttls, 465 ssl, 25 none].",
)
@click.option(
    "--smtp-security", default="starttls", show_default=True, help="starttls, ssl or none."
)
@click.option(
    "--smtp-user",
    default=None,
    metavar="USER",
    help="SMTP login; the password comes only from GENERECT_SMTP_PASSWORD.",
)
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
@click.option(
    "--quarter",
    default=None,
    metavar="QUARTER",
    help="Email the quarter report instead of a month: 2026-Q3 (calendar) or FY2027-Q1 (fiscal).",
)
@fiscal_options
@common_options
@handle_errors
def email(
    month: str | None,
    history: int,
    template: str | None,
    account: str | None,
    reconcile: bool | None,
    chargeback: bool | None,
    quarter: str | None,
    fiscal_year_start: int | None,
    fy_naming: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    sender: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str,
    smtp_user: str | None,
    max_attachment_mb: float,
    dry_run: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Email the monthly report (workbook and PDF attached) to the finance inbox."""
    import math

    from generect_reports.render.email import message as mail

    if not (math.isfinite(max_attachment_mb) and max_attachment_mb > 0):
        raise InputError(
            f"--max-attachment-mb must be a positive number, not {max_attachment_mb:g}"
        )

    settings = mail.SmtpSettings.from_options(
        host=smtp_host,
        port=smtp_port,
        security=smtp_security,
        user=smtp_user,
        need_host=dry_run is None,
    )
    recipients = mail.validate_addresses(to, "--to", required=True)
    copies = mail.validate_addresses(cc, "--cc")
    from_addr = mail.validate_addresses([sender] if sender else [], "--from", required=True)[0]
    if dry_run:
        from ._atomic import check_output_path

        check_output_path(dry_run)
    limit = int(max_attachment_mb * 1024 * 1024)
    if quarter is not None:
        qrep, theme = _quarter_data(
            quarter,
            month,
            fiscal_year_start,
            fy_naming,
            sample,
            timezone,
            api_url,
            no_cache,
            quiet,
            template,
            account,
        )
        message = mail.build_quarter_message(
            qrep,
            to=recipients,
            cc=copies,
            sender=from_addr,
            max_attachment_bytes=limit,
            colors=theme.operation_colors(list(qrep.by_month["operation"])),
            theme=theme,
        )
    else:
        from generect_reports.deliver.parallel import start_pdf_worker

        # As for `report`: the PDF's child imports matplotlib while the data loads.
        with start_pdf_worker() as worker:
            rep = _report_data(
                month,
                history,
                sample,
                timezone,
                api_url,
                no_cache,
                quiet,
                template,
                account,
                reconcile=reconcile,
                chargeback=chargeback,
            )
            message = mail.build_message(
                rep,
                to=recipients,
                cc=copies,
                sender=from_addr,
                max_attachment_bytes=limit,
                worker=worker,
            )
    if dry_run:
        mail.write_eml(message, dry_run)
        if not quiet:
            click.echo(f"wrote {dry_run} (not sent)", err=True)
        return
    mail.send_message(message, settings)
    if not quiet:
        click.echo(
            f"sent {message['Subject']!s} to {len(recipients) + len(copies)} recipient(s)", err=True
        )


RECONCILE_FORMATS = ("table", "csv", "json", "xlsx")


def _reconcile_data(
    month: str,
    *,
    timezone: str,
    sample: bool,
    api_url: str | None,
    no_cache: bool,
    refresh: bool,
    quiet: bool,
    template: str | None,
) -> Any:
    """Usage and ledger of ``month`` (sample or API) tied out; restatements recorded."""
    from .analysis.reconcile import load_ledger_mapping, reconcile, reported_figures
    from .fetch import ledger as L
    from .periods import month_bounds, parse_month

    mapping = load_ledger_mapping(template)
    first, last = month_bounds(*parse_month(month))
    if sample:
        from .fetch.usage import load_sample

        usage = load_sample(first, last, period="month", timezone=timezone)
        inputs = L.load_sample_ledger(month, timezone=timezone)
    else:
        from .fetch.usage import fetch_usage

        with _client(api_url) as client:
            inputs = L.ledger_for_month(
                month,
                timezone=timezone,
                client=client,
                cache=not no_cache,
                refresh=refresh,
                progress=False if quiet else None,
            )
            usage_cache: Any = (L.RefreshCache() if refresh else True) if not no_cache else False
            try:
                usage = fetch_usage(
                    first,
                    last,
                    period="month",
                    timezone=timezone,
                    client=client,
                    cache=usage_cache,
                    progress=False if quiet else None,
                )
            finally:
                if not isinstance(usage_cache, bool):
                    usage_cache.close()
            account = client.account_key
    anchor = inputs.anchor
    result = reconcile(
        usage,
        inputs.ledger,
        month=month,
        closing_balance=inputs.closing_balance,
        anchor_at=anchor.at if anchor else None,
        in_flight=anchor.in_flight if anchor else 0.0,
        hypothesis=inputs.hypothesis,
        mapping=mapping,
        timezone=timezone,
    )
    if anchor is not None:
        result.anchor_balance = anchor.balance
    result.restatements = list(inputs.restatements)
    if not sample and not no_cache:
        from .periods import Bucket, get_timezone, is_closed

        closed = (
            is_closed(Bucket(first, last, month), get_timezone(timezone)) and not result.pending
        )
        result.restatements += L.restate_reported(
            True,
            account,
            month,
            timezone,
            reported_figures(usage, inputs.ledger, month=month, timezone=timezone),
            refresh=refresh,
            closed=closed,
        )
    return result, inputs


@cli.command("reconcile")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to tie out.")
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
@output_options(*RECONCILE_FORMATS)
@common_options
@handle_errors
def reconcile_command(
    month: str,
    refresh: bool,
    template: str | None,
    fmt: str,
    output: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Tie a month's usage to the ledger and the balance, with a reason for every difference.

    Prints opening balance, top-ups, settled charges, pending, reversed and closing balance
    (derived from /me/'s balance walked back through the ledger), and settled charges against
    usage per operation. Exits 5 when the month does not tie: an unexplained difference, a
    timezone-boundary charge or an unmapped transaction type.
    """
    from .errors import CheckFailed
    from .periods import parse_month

    fmt = check_output(fmt, output, RECONCILE_FORMATS)
    parse_month(month)
    tz = _timezone(timezone, sample)
    if refresh and (sample or no_cache):
        raise InputError("--refresh re-fetches cached months: it needs the API and the cache")
    result, inputs = _reconcile_data(
        month,
        timezone=tz,
        sample=sample,
        api_url=api_url,
        no_cache=no_cache,
        refresh=refresh,
        quiet=quiet,
        template=template,
    )
    from generect_reports.render import reconcile as R

    if fmt == "xlsx":
        R.write_reconciliation_xlsx(result, inputs.ledger, output)  # type: ignore[arg-type]
    elif fmt == "json":
        emit(R.render_json(result, complete=not result.pending), output)
    elif fmt == "csv":
        emit(R.render_csv(result), output)
    else:
        emit(R.render_table(result), output)
    for line in R.restatement_lines(result.restatements):
        log.warning(line)
    if not result.ties:
        raise CheckFailed(R.reconciliation_summary(result)[0])


STATUS_FORMATS = ("table", "json")


def _notify_settings(config: Any) -> list[Any]:
    """``[notify] urls`` from the config file, accepted only when no one else can read the file."""
    from .config import check_private
    from .errors import ConfigError

    table = config.table("notify")
    unknown = sorted(set(map(str, table)) - {"urls"})
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in [notify] of {config.where} (settings: urls)"
        )
    urls = table.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list):
        raise ConfigError(f"[notify] urls in {config.where} must be a list of webhook URLs")
    if urls and config.path is not None:
        check_private(config.path, "webhook URLs")
    return urls


@cli.command()
@click.option(
    "--warn-at",
    default=80.0,
    show_default=True,
    type=float,
    metavar="PCT",
    help="Warn (stderr and --notify, exit 0) when a line's projected share reaches PCT %.",
)
@click.option(
    "--fail-at",
    default=None,
    type=float,
    metavar="PCT",
    help="Exit 5 when a line's projected share of the limit or a budget reaches PCT % "
    "(the full status is printed first).",
)
@click.option(
    "--min-runway-days",
    default=None,
    type=float,
    metavar="N",
    help="Exit 5 when the balance lasts fewer than N days at the projected daily burn.",
)
@click.option(
    "--notify",
    "notify_urls",
    multiple=True,
    metavar="URL",
    help="Chat webhook (Slack, Mattermost, Rocket.Chat or Teams Workflows) to post to when "
    "a threshold is crossed; repeatable. A URL given here is visible to other users "
    "in 'ps': prefer GENERECT_NOTIFY_URL or [notify] urls in a config file only you "
    "can read.",
)
@output_options(*STATUS_FORMATS)
@common_options
@handle_errors
def status(
    warn_at: float,
    fail_at: float | None,
    min_runway_days: float | None,
    notify_urls: tuple[str, ...],
    fmt: str,
    output: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Plan, balance, month to date against the plan limit and budgets, projection, runway.

    One screen: the plan and balance, credits used this month against the current plan limit
    and every [budget] line, the projected month end (weekday-aware run rate, an estimate), the
    day each line will be reached and how long the balance lasts. used_this_month is the API's
    own month, named in the output. For cron: --warn-at only warns; --fail-at and
    --min-runway-days exit 5 when crossed, after printing the status in full.
    """
    import datetime as dt

    from generect_reports.deliver import webhook as N
    from generect_reports.render import budget as B

    from .analysis.budget import budget_status, check_thresholds, parse_budget_table

    fmt = check_output(fmt, output, STATUS_FORMATS)
    for name, value in (
        ("--warn-at", warn_at),
        ("--fail-at", fail_at),
        ("--min-runway-days", min_runway_days),
    ):
        if value is not None and not 0 <= value < float("inf"):
            raise InputError(f"{name} must be zero or more, not {value}")
    config = command_config()
    settings = parse_budget_table(config.table("budget"), where=f"[budget] of {config.where}")
    hooks = N.webhook_urls(notify_urls, _notify_settings(config))
    tz = _timezone(timezone, sample)
    if sample:
        from .fetch.account import load_sample_account
        from .fetch.usage import load_sample

        account = load_sample_account()
        as_of = account.fetched_at.tz_convert(tz)
        today = as_of.date()
        usage = load_sample(
            min(today.replace(day=1), today - dt.timedelta(days=28)),
            today - dt.timedelta(days=1),
            period="day",
            timezone=tz,
        )
    else:
        from .fetch.account import fetch_account
        from .fetch.usage import fetch_usage

        with _client(api_url) as client:
            account = fetch_account(client)
            as_of = account.fetched_at.tz_convert(tz)
            today = as_of.date()
            usage = fetch_usage(
                min(today.replace(day=1), today - dt.timedelta(days=28)),
                today,
                period="day",
                timezone=tz,
                client=client,
                cache=not no_cache,
                progress=False if quiet else None,
            )
    frame = budget_status(
        usage,
        f"{today:%Y-%m}",
        limit=account.monthly_limit,
        budgets=settings,
        balance=account.balance,
        as_of=as_of,
    )
    checks = check_thresholds(
        frame, warn_at=warn_at, fail_at=fail_at, min_runway_days=min_runway_days
    )
    if fmt == "json":
        from generect_reports.render.records.export import dumps_document, json_document

        first = today.replace(day=1)
        doc = json_document(
            "status",
            B.status_rows(frame),
            source=account.source,
            timezone=tz,
            period="month",
            start=first,
            end=first.replace(day=frame.attrs["days_in_month"]),
            complete=bool(frame.attrs["complete"]),
            totals={
                "used_credits": frame.attrs["used_credits"],
                "projected_credits": frame.attrs["projected_credits"],
            },
            fields=B.status_fields(frame, account, checks),
        )
        emit(dumps_document(doc), output)
    else:
        emit(B.render_status_table(frame, account, timezone=tz), output)
    failed = [c for c in checks if c.level == "fail"]
    if not quiet:
        for check in checks:
            if check.level == "warn":
                click.echo(f"warning: {check.text}", err=True)
    delivery_error = None
    if checks and hooks:
        title, lines = B.alert_message(frame, account, checks)
        try:
            sent = N.notify(hooks, title, lines)
            if not quiet:
                click.echo(f"posted the alert to {sent} webhook(s)", err=True)
        except GenerectError as exc:
            delivery_error = exc
    if failed:
        if delivery_error is not None:
            click.echo(f"error: {redact(str(delivery_error))}", err=True)
        from .errors import CheckFailed

        raise CheckFailed("check failed: " + "; ".join(c.text for c in failed))
    if delivery_error is not None:
        raise delivery_error


def _chargeback_data(
    month: str,
    *,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
    template: str | None,
    threshold: float,
) -> Any:
    """The month's :class:`~generect_reports.analysis.chargeback.Allocation` from the sample or
    the API (usage of the month, token analytics of the month and the one before)."""
    from .periods import month_bounds, parse_month, shift_month

    year, mon = parse_month(month)
    tz = _timezone(timezone, sample)
    from .analysis.chargeback import allocate_credits, load_endpoint_mapping
    from .theme import load_theme

    theme = load_theme(template)
    mapping = load_endpoint_mapping(template)
    first, last = month_bounds(year, mon)
    prev_first = month_bounds(*shift_month(year, mon, -1))[0]
    if sample:
        from .fetch.tokens import load_sample_tokens
        from .fetch.usage import load_sample

        usage_frame = load_sample(first, last, period="month", timezone=tz)
        tokens = load_sample_tokens(prev_first, last, timezone=tz)
    else:
        from .fetch.tokens import fetch_token_usage
        from .fetch.usage import fetch_usage

        with _client(api_url) as client:
            usage_frame = fetch_usage(
                first,
                last,
                period="month",
                timezone=tz,
                client=client,
                cache=not no_cache,
                progress=False if quiet else None,
            )
            tokens = fetch_token_usage(
                prev_first,
                last,
                timezone=tz,
                client=client,
                cache=not no_cache,
                progress=False if quiet else None,
            )
    return allocate_credits(
        usage_frame,
        tokens,
        month=month,
        mapping=mapping,
        prices=theme.prices,
        multiplier=theme.tier_multiplier,
        currency=theme.currency,
        threshold=threshold,
    )


@cli.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to charge back.")
@click.option(
    "--customer",
    default=None,
    metavar="ID",
    help=(
        "Show one customer only (its client_id, name or token hint); "
        "filtered here, never sent to the API."
    ),
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
@output_options(*USAGE_FORMATS)
@common_options
@handle_errors
def chargeback(
    month: str,
    customer: str | None,
    failed_threshold: float,
    template: str | None,
    fmt: str,
    output: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Credits and estimated cost per customer token, tied to the account's usage.

    Each operation's credits are split across customers in proportion to their estimated
    successful requests on the endpoints mapping to it (endpoint_mapping.toml); the rest is
    'unallocated'. Estimates: the token's 2xx ratio is applied per endpoint, and the API prices
    results, not requests. Flags customers with many failed requests.
    """
    fmt = check_output(fmt, output, USAGE_FORMATS)
    if not 0 <= failed_threshold <= 100:
        raise InputError(f"--failed-threshold must be between 0 and 100, not {failed_threshold:g}")
    alloc = _chargeback_data(
        month,
        sample=sample,
        timezone=timezone,
        api_url=api_url,
        no_cache=no_cache,
        quiet=quiet,
        template=template,
        threshold=failed_threshold / 100,
    )
    if customer is not None:
        alloc = alloc.for_customer(customer)
    from generect_reports.render.chargeback import render_chargeback, write_chargeback_workbook

    from .fetch.usage import sample_as_of

    if fmt == "xlsx":
        write_chargeback_workbook(alloc, output)  # type: ignore[arg-type]
        if not quiet:
            click.echo(f"wrote {output}", err=True)
        return
    import datetime as dt

    from .periods import Bucket, get_timezone, is_closed, month_bounds, parse_month

    first, last = month_bounds(*parse_month(month))
    now = sample_as_of().to_pydatetime() if sample else dt.datetime.now(dt.UTC)
    complete = is_closed(Bucket(first, last, month), get_timezone(alloc.timezone), now) or (
        sample and last < now.date()
    )
    emit(render_chargeback(alloc, fmt, complete=complete), output)
    if fmt == "csv" and not quiet:  # table and JSON carry the assumptions; a CSV has no room
        click.echo("note: customer figures are estimates. " + " ".join(alloc.assumptions), err=True)


def _quarter_data(
    quarter: str,
    month: str | None,
    fiscal_year_start: int | None,
    fy_naming: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
    template: str | None,
    account: str | None,
) -> Any:
    """The quarter's :class:`~generect_reports.reports.quarterly.QuarterReport` and theme."""
    if month is not None:
        raise InputError("give either --month or --quarter, not both")
    from generect_reports.reports.quarterly import build_quarter_report, quarter_window

    from .theme import load_theme

    fiscal = _fiscal_calendar(fiscal_year_start, fy_naming)
    quarter_window(quarter, fiscal)  # validates the label before any network
    tz = _timezone(timezone, sample)
    theme = load_theme(template)
    frame, monthly = _load_quarter_usage(
        quarter, fiscal, timezone=tz, sample=sample, api_url=api_url, no_cache=no_cache, quiet=quiet
    )
    rep = build_quarter_report(
        frame, quarter, monthly=monthly, calendar=fiscal, theme=theme, account=account
    )
    return rep, theme


def _load_quarter_usage(
    quarter: str,
    fiscal: Any,
    *,
    timezone: str,
    sample: bool,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
) -> Any:
    """A quarter report's usage by its fetch plan: whole months as monthly buckets, days only
    for a month a like-for-like window cuts short."""
    import datetime as dt

    from generect_reports.reports.quarterly import quarter_windows

    from .fetch.plan import windows_plan

    today = _plan_today(timezone, sample)
    if sample:
        # The sample is complete up to its as-of midnight: its last day is the last one planned.
        today -= dt.timedelta(days=1)
    plan = windows_plan(quarter_windows(quarter, fiscal, today=today), today=today, label=quarter)
    return _load_plan(
        plan, timezone=timezone, sample=sample, api_url=api_url, no_cache=no_cache, quiet=quiet
    )


def _quarter_report(
    quarter: str,
    month: str | None,
    fiscal_year_start: int | None,
    fy_naming: str | None,
    xlsx_path: str | None,
    pdf_path: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    quiet: bool,
    template: str | None,
    account: str | None,
) -> None:
    """``report --quarter``: the quarter report's workbook and PDF."""
    from generect_reports.reports.quarterly import write_quarter_pdf, write_quarter_workbook

    rep, theme = _quarter_data(
        quarter,
        month,
        fiscal_year_start,
        fy_naming,
        sample,
        timezone,
        api_url,
        no_cache,
        quiet,
        template,
        account,
    )
    if not xlsx_path and not pdf_path:
        xlsx_path = f"generect-usage-{rep.label}.xlsx"
        pdf_path = f"generect-usage-{rep.label}.pdf"
    if xlsx_path:
        write_quarter_workbook(rep, xlsx_path)
    if pdf_path:
        write_quarter_pdf(
            rep, pdf_path, colors=theme.operation_colors(list(rep.by_month["operation"]))
        )
    if not quiet:
        for path in (xlsx_path, pdf_path):
            if path:
                click.echo(f"wrote {path}", err=True)


@cli.command()
@click.option(
    "--port",
    default=8866,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--month",
    default=None,
    metavar="YYYY-MM",
    help="Month of the key figures and report files [default: the last full month].",
)
@common_options
@handle_errors
def dashboard(
    port: int,
    month: str | None,
    sample: bool,
    timezone: str | None,
    api_url: str | None,
    no_cache: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Serve the usage dashboard in the browser (Voila) on 127.0.0.1.

    The month's key figures, the usage explorer and the report downloads, without code.
    Exports and report files are written to the current folder. Needs the 'dashboard' extra.
    """
    from .notebook.serve import serve_dashboard

    serve_dashboard(
        port=port,
        month=month,
        sample=sample,
        timezone=_timezone(timezone, sample),
        api_url=api_url,
        quiet=quiet,
    )


#: Exit statuses of a run stopped by a signal (128 + the signal number, as shells report it).
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_SIGPIPE = 141


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so the same clean-up runs."""


def _terminate(signum: int, frame: Any) -> None:
    # Turn SIGTERM into an exception so atomic writes remove their temporary files.
    raise Terminated


def _interrupt_code(exc: BaseException | None) -> int:
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


def _quiet_broken_pipe() -> None:
    """Exit 141 without a word: point stdout at /dev/null so the final flush cannot fail."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_SIGPIPE)


def _exit_now(code: int) -> None:
    """Leave at once: request threads still blocked on a dead server must not hold the exit
    (the thread pool joins its workers at interpreter exit). Files were cleaned up already."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: click with one-line usage errors (exit 2) instead of a usage dump;
    Ctrl-C exits 130 and SIGTERM 143 within about a second, whatever requests are in flight."""
    import signal

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="generect-reports", standalone_mode=False)
        if sys.stdout is not None:
            sys.stdout.flush()
    except SystemExit as exc:
        if exc.code in (EXIT_SIGINT, EXIT_SIGTERM):
            _exit_now(int(exc.code))
        raise
    except KeyboardInterrupt as exc:  # outside a command (while parsing options)
        click.echo("error: interrupted", err=True)
        _exit_now(_interrupt_code(exc))
    except BrokenPipeError:
        _quiet_broken_pipe()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("error: interrupted", err=True)
            _exit_now(_interrupt_code(exc.__cause__))
        click.echo("error: aborted", err=True)
        sys.exit(EXIT_UNEXPECTED)
    except click.ClickException as exc:
        click.echo(f"error: {redact(exc.format_message())}", err=True)
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    if argv is None:
        # A command-line run that succeeded: leave without tearing the interpreter down (freeing
        # pandas', matplotlib's and the report's objects takes about a tenth of a second). Every
        # file is written and closed by now, temporary ones are gone, no thread is left to
        # join; the log handlers and the standard streams are flushed first. Called with argv
        # (from Python), main raises SystemExit as before.
        logging.shutdown()
        _exit_now(0)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
