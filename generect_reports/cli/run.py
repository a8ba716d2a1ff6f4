"""The context of one command run, built once from the common options: where the data comes from
(the source, opened on first use), the configuration, the settings the documents read, and
where output goes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from ..errors import InputError
from .options import COMMON_KEY, CONFIG_KEY, FiscalOptions, ReportOptions

if TYPE_CHECKING:
    from ..analysis.budget import Budgets
    from ..analysis.calendar import FiscalCalendar
    from ..analysis.valuation import JournalAccounts, MoneySettings
    from ..config import Config
    from ..fetch.source import Source
    from ..reports.assemble import ReportSettings

__all__ = ["Run", "run_command", "check_output", "emit"]


@dataclass
class Run:
    """One command's run: the common options, read once.

    ``source`` is opened on first use, so everything a command checks before it needs data
    (formats, paths, addresses) is said before a token is asked for or a request is sent.
    """

    sample: bool = False
    timezone_option: str | None = None
    api_url: str | None = None
    no_cache: bool = False
    verbose: int = 0
    quiet: bool = False
    config: Config = field(default_factory=lambda: _empty_config())
    _source: Source | None = field(default=None, repr=False)

    @classmethod
    def from_context(cls, ctx: click.Context) -> Run:
        common = ctx.meta.get(COMMON_KEY, {})
        return cls(
            sample=bool(common.get("sample")),
            timezone_option=common.get("timezone"),
            api_url=common.get("api_url"),
            no_cache=bool(common.get("no_cache")),
            verbose=int(common.get("verbose") or 0),
            quiet=bool(common.get("quiet")),
            config=ctx.meta.get(CONFIG_KEY) or _empty_config(),
        )

    # --- the data --------------------------------------------------------------------------

    @property
    def source(self) -> Source:
        """The sample or the API, as ``--sample`` says (through :func:`open_source`)."""
        if self._source is None:
            from ..fetch.source import open_source

            self._source = open_source(
                sample=self.sample,
                api_url=self.api_url,
                timezone=self.timezone_option,
                no_cache=self.no_cache,
                progress=False if self.quiet else None,
            )
        return self._source

    @property
    def timezone(self) -> str:
        return self.source.timezone

    def close(self) -> None:
        if self._source is not None:
            self._source.close()

    # --- settings from options and the configuration ----------------------------------------

    def budgets(self) -> Budgets:
        """The ``[budget]`` table, parsed."""
        from ..analysis.budget import parse_budget_table

        where = f"[budget] of {self.config.where}"
        return parse_budget_table(self.config.table("budget"), where=where)

    def money(self) -> MoneySettings:
        """The ``[money]`` table with its purchases file read."""
        from ..reports.valuation import load_money

        return load_money(
            self.config.table("money"),
            config_path=self.config.path,
            where=f"[money] of {self.config.where}",
        )

    def journal_accounts(self) -> JournalAccounts:
        """The ``[journal]`` table: account codes and the close register."""
        from ..analysis.valuation import parse_journal_table

        return parse_journal_table(
            self.config.table("journal"), where=f"[journal] of {self.config.where}"
        )

    def fiscal_calendar(self, options: FiscalOptions) -> FiscalCalendar:
        """The fiscal calendar from the options, else the ``[calendar]`` table, else January."""
        from ..analysis.calendar import FiscalCalendar
        from ..errors import ConfigError

        table = self.config.table("calendar")
        unknown = set(table) - {"fiscal_year_start", "fiscal_year_naming"}
        if unknown:
            raise ConfigError(
                f"unknown setting {sorted(unknown)[0]!r} in [calendar]: use "
                "fiscal_year_start or fiscal_year_naming"
            )
        start = options.fiscal_year_start
        naming = options.fy_naming
        return FiscalCalendar.create(
            start if start is not None else table.get("fiscal_year_start", 1),
            naming if naming is not None else table.get("fiscal_year_naming", "end"),
        )

    def settings(
        self,
        report: ReportOptions | None = None,
        fiscal: FiscalOptions | None = None,
        **extra: Any,
    ) -> ReportSettings:
        """The :class:`ReportSettings` of this run: report options, fiscal calendar, budgets."""
        from ..reports.assemble import ReportSettings

        report = report or ReportOptions()
        return ReportSettings(
            history=report.history,
            template=report.template,
            account=report.account,
            budgets=self.budgets(),
            calendar=self.fiscal_calendar(fiscal or FiscalOptions()),
            reconcile=report.reconcile,
            chargeback=report.chargeback,
            **{"money": self.money(), **extra},
        )

    # --- output ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A progress line on stderr (``wrote PATH``), silent with ``--quiet``."""
        if not self.quiet:
            click.echo(text, err=True)

    def emit(self, text: str, output: str | None) -> None:
        emit(text, output)


def _empty_config() -> Config:
    from ..config import Config

    return Config()


def run_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command its :class:`Run` as the first argument, closed when it returns."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = Run.from_context(click.get_current_context())
        try:
            return fn(run, *args, **kwargs)
        finally:
            run.close()

    return wrapper


def check_output(
    fmt: str, output: str | None, file_only: tuple[str, ...] = ("xlsx", "parquet")
) -> None:
    """Check ``--output`` before any network: a format that makes a file needs one, and the path
    must be writable."""
    if fmt in file_only and not output:
        raise InputError(f"--format {fmt} needs --output PATH")
    if output:
        from .._atomic import check_output_path

        check_output_path(output)


def emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it atomically to ``output``."""
    if output:
        from .._atomic import write_bytes_atomic

        write_bytes_atomic(output, text.encode("utf-8"))
        return
    if sys.stdout is None:
        # Started with stdout closed (`>&-`): the output would vanish with exit 0.
        from ..errors import OutputError

        raise OutputError("standard output is closed: nothing can be printed; use --output PATH")
    click.echo(text, nl=not text.endswith("\n"))
