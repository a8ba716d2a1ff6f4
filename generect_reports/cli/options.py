"""Options shared by several commands, defined once, and the values they become.

The common options (``--sample``, ``--timezone``, ``--api-url``, ``--no-cache``, ``--config``,
``-v``, ``-q``) are not passed to commands one by one: they are kept on the click context and
become one :class:`~generect_reports.cli.run.Run`. Option groups (the report's, the fiscal
calendar's, SMTP's) reach a command as one value each. A month is a
:class:`~generect_reports.periods.Month` from the moment it is read; a format is checked against
the list its renderer defines.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ..errors import GenerectError
from ..periods import Month

__all__ = [
    "MONTH",
    "MonthType",
    "FormatType",
    "FormatOption",
    "ReportOptions",
    "FiscalOptions",
    "SmtpOptions",
    "common_options",
    "output_options",
    "fiscal_options",
    "report_options",
    "smtp_options",
    "quarter_option",
    "COMMON_KEY",
    "CONFIG_KEY",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Where the common options and the configuration are kept on the click context.
COMMON_KEY = "generect.common"
CONFIG_KEY = "generect.config"

#: Which config table fills which command's option defaults (so a cron line stays short).
CONFIG_DEFAULTS: dict[str, tuple[str, ...]] = {"email": ("report", "email"), "report": ("report",)}


class MonthType(click.ParamType):
    """``YYYY-MM`` read into a :class:`Month` (exit 2 with one line otherwise)."""

    name = "month"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return Month.parse(value)
        except GenerectError as exc:
            self.fail(str(exc), param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "YYYY-MM"


MONTH = MonthType()


class FormatType(click.ParamType):
    """A ``--format`` whose choices are the ones its renderer defines: a tuple, or the dotted
    ``module:NAME`` of the renderer's constant, read on first use (so the group's ``--help``
    imports no renderer)."""

    name = "format"

    def __init__(self, formats: tuple[str, ...] | str) -> None:
        self._formats = formats

    @property
    def formats(self) -> tuple[str, ...]:
        if isinstance(self._formats, str):
            module, _, name = self._formats.partition(":")
            self._formats = tuple(getattr(importlib.import_module(module), name))
        return self._formats

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        fmt = str(value).lower()
        if fmt not in self.formats:
            *head, last = self.formats
            self.fail(f"unknown format {value!r}: use {', '.join(head)} or {last}", param, ctx)
        return fmt

    def describe(self) -> str:
        *head, last = self.formats
        return f"{', '.join(head)} or {last}."


class FormatOption(click.Option):
    """``--format``, its help text the list of its type's formats (built when help is shown)."""

    @property
    def help(self) -> str | None:
        return self.type.describe() if isinstance(self.type, FormatType) else None

    @help.setter
    def help(self, value: str | None) -> None:
        pass  # always the type's list


def _apply(fn: F, options: list[Callable[[F], F]]) -> F:
    for option in reversed(options):
        fn = option(fn)
    return fn


def _grouped(cls: type, name: str) -> Callable[[F], F]:
    """Pass the options named by ``cls``'s fields to the command as one ``cls`` called ``name``."""
    fields = [f.name for f in dataclasses.fields(cls)]

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = cls(**{f: kwargs.pop(f) for f in fields})
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# --- the common options: kept on the context, read once into a Run ---------------------------


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(COMMON_KEY, {})[param.name] = value
    return value


def _timezone(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A zone name checked where it is read (the default is the source's)."""
    if value is not None:
        from ..periods import get_timezone

        try:
            get_timezone(value)
        except GenerectError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return _keep(ctx, param, value)


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Read the config file once, keep it on the context, and fill option defaults from the
    tables named in :data:`CONFIG_DEFAULTS`."""
    from ..config import load_config

    try:
        config = load_config(value)
    except GenerectError as exc:
        raise click.BadParameter(str(exc)) from None
    ctx.meta[CONFIG_KEY] = config
    known = {p.name for p in ctx.command.params}
    # [report] account is the label's old name: the option became --label when --account came
    # to mean a configured account.
    aliases = {"from": "sender", "account": "label"}
    defaults: dict[str, Any] = {}
    for table in CONFIG_DEFAULTS.get(ctx.command.name or "", ()):
        for key, val in config.table(table).items():
            name = aliases.get(str(key), str(key).replace("-", "_"))
            if name not in known:
                raise click.BadParameter(f"unknown setting {key!r} in [{table}] of {config.where}")
            defaults[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def common_options(fn: F) -> F:
    """Options every command takes, defined once; they reach the command as its ``Run``."""
    kept: dict[str, Any] = {"expose_value": False, "callback": _keep}
    return _apply(
        fn,
        [
            click.option(
                "--config",
                default=None,
                metavar="FILE",
                is_eager=True,
                expose_value=False,
                callback=_load_config,
                help="TOML file with [email], [budget], [notify], [calendar] and [report] "
                "tables ($GENERECT_REPORTS_CONFIG).",
            ),
            click.option(
                "--sample",
                is_flag=True,
                help="Use the bundled sample data: no token, no network.",
                **kept,
            ),
            click.option(
                "--account",
                "accounts",
                multiple=True,
                metavar="NAME",
                help="A configured account ([accounts.NAME]); repeat for several.",
                **kept,
            ),
            click.option(
                "--tag",
                "tags",
                multiple=True,
                metavar="TAG",
                help="The configured accounts carrying TAG; repeatable.",
                **kept,
            ),
            click.option(
                "--all-accounts",
                is_flag=True,
                help="Every configured account.",
                **kept,
            ),
            click.option(
                "--timezone",
                "timezone",
                default=None,
                metavar="TZ",
                expose_value=False,
                callback=_timezone,
                help="IANA timezone for day/week/month buckets "
                "[default: UTC; Europe/Kyiv with --sample].",
            ),
            click.option(
                "--api-url",
                default=None,
                metavar="URL",
                help="API base URL [default: $GENERECT_API_URL or https://api.generect.com].",
                **kept,
            ),
            click.option(
                "--no-cache",
                is_flag=True,
                help="Neither read nor write the cache of closed periods.",
                **kept,
            ),
            click.option(
                "-v",
                "--verbose",
                count=True,
                help="Log requests and retries (-vv for debug); tracebacks on errors.",
                **kept,
            ),
            click.option(
                "-q",
                "--quiet",
                is_flag=True,
                help="Only errors on stderr; no progress bar.",
                **kept,
            ),
        ],
    )


def output_options(formats: tuple[str, ...] | str, default: str = "table") -> Callable[[F], F]:
    """``--format`` (choices from the renderer: see :class:`FormatType`) and ``--output``."""

    def decorate(fn: F) -> F:
        return _apply(
            fn,
            [
                click.option(
                    "--format",
                    "fmt",
                    cls=FormatOption,
                    type=FormatType(formats),
                    default=default,
                    show_default=True,
                    metavar="FORMAT",
                ),
                click.option(
                    "--output",
                    "-o",
                    default=None,
                    metavar="PATH",
                    help="Write to PATH (atomically) instead of stdout.",
                ),
            ],
        )

    return decorate


# --- option groups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FiscalOptions:
    """``--fiscal-year-start`` and ``--fiscal-year-naming`` as given (None: the config's)."""

    fiscal_year_start: int | None = None
    fy_naming: str | None = None


def fiscal_options(fn: F) -> F:
    """The fiscal calendar: start month and how fiscal years are named ([calendar] table)."""
    return _apply(
        _grouped(FiscalOptions, "fiscal")(fn),
        [
            click.option(
                "--fiscal-year-start",
                type=click.IntRange(1, 12),
                default=None,
                metavar="MONTH",
                help="First month of the fiscal year, 1-12 "
                "[default: [calendar] fiscal_year_start or 1].",
            ),
            click.option(
                "--fiscal-year-naming",
                "fy_naming",
                type=click.Choice(["end", "start"]),
                default=None,
                help="Name a fiscal year by the calendar year it ends in (FY2027 = Apr 2026-Mar "
                "2027) or starts in [default: end].",
            ),
        ],
    )


@dataclass(frozen=True)
class ReportOptions:
    """The monthly report's options, shared by ``report`` and ``email``."""

    month: Month | None = None
    history: int = 24
    template: str | None = None
    label: str | None = None
    reconcile: bool | None = None
    chargeback: bool | None = None


def report_options(fn: F) -> F:
    """``--month``, ``--history``, ``--template``, ``--label`` and the optional sections."""
    return _apply(
        _grouped(ReportOptions, "report")(fn),
        [
            click.option(
                "--month",
                type=MONTH,
                default=None,
                help="Report month [default: the last full month].",
            ),
            click.option(
                "--history",
                default=ReportOptions.history,
                show_default=True,
                type=int,
                help="Months in the history chart and Monthly sheet (year-over-year is fetched "
                "whatever this is).",
            ),
            click.option(
                "--template",
                default=None,
                metavar="DIR",
                help="Folder with theme.toml, prices.toml, report.mplstyle and email templates.",
            ),
            click.option(
                "--label",
                default=None,
                help="Account name shown in titles [default: the account's label].",
            ),
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
        ],
    )


def quarter_option(what: str) -> Callable[[F], F]:
    """``--quarter``: a quarter instead of a month."""
    return click.option(
        "--quarter",
        default=None,
        metavar="QUARTER",
        help=f"{what} instead of a month: 2026-Q3 (calendar) or FY2027-Q1 (fiscal).",
    )


@dataclass(frozen=True)
class SmtpOptions:
    """Where the email goes out: host, port, security and login (the password: only from
    ``GENERECT_SMTP_PASSWORD``)."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    smtp_user: str | None = None


def smtp_options(fn: F) -> F:
    """``--smtp-host``, ``--smtp-port``, ``--smtp-security`` and ``--smtp-user``."""
    return _apply(
        _grouped(SmtpOptions, "smtp")(fn),
        [
            click.option("--smtp-host", default=None, metavar="HOST", help="SMTP server."),
            click.option(
                "--smtp-port",
                default=None,
                type=int,
                metavar="PORT",
                help="SMTP port [default: 587 starttls, 465 ssl, 25 none].",
            ),
            click.option(
                "--smtp-security",
                default="starttls",
                show_default=True,
                help="starttls, ssl or none.",
            ),
            click.option(
                "--smtp-user",
                default=None,
                metavar="USER",
                help="SMTP login; the password comes only from GENERECT_SMTP_PASSWORD.",
            ),
        ],
    )
