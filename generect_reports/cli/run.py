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
    from ..accounts import AccountSpec
    from ..analysis.budget import Budgets
    from ..analysis.calendar import FiscalCalendar
    from ..analysis.valuation import JournalAccounts, MoneySettings
    from ..config import Config
    from ..fetch.source import MultiSource, Source
    from ..reports.assemble import ReportSettings
    from ..reports.statements import StatementSettings

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
    accounts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    all_accounts: bool = False
    _source: Source | None = field(default=None, repr=False)
    _multi: MultiSource | None = field(default=None, repr=False)

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
            accounts=tuple(common.get("accounts") or ()),
            tags=tuple(common.get("tags") or ()),
            all_accounts=bool(common.get("all_accounts")),
        )

    # --- the data --------------------------------------------------------------------------

    @property
    def multiple(self) -> bool:
        """True when the run covers several accounts at once (``--all-accounts``, ``--tag``, or
        ``--account`` more than once): frames then carry an ``account`` column. One
        ``--account`` is that account alone, exactly as a single token."""
        return bool(self.all_accounts or self.tags or len(self.accounts) > 1)

    def raise_partial(self, result: Any) -> None:
        """After everything is written: the worst failed account's error (exit 3 or 4), saying
        the output is partial. ``result`` is a frame (``attrs["accounts_failed"]``) or a model
        with ``failed``."""
        failed = getattr(result, "attrs", {}).get("accounts_failed") or list(
            getattr(result, "failed", ()) or ()
        )
        if failed:
            from ..errors import AccountsFailed

            raise AccountsFailed(failed)

    @property
    def many(self) -> bool:
        """True when ``--account``, ``--tag`` or ``--all-accounts`` chose accounts."""
        return bool(self.accounts or self.tags or self.all_accounts)

    def selected_accounts(self) -> list[AccountSpec]:
        """The configured accounts the options choose (exit 2 for an unknown name or tag)."""
        from ..accounts import parse_accounts, select_accounts

        accounts = parse_accounts(self.config.table("accounts"), where=self.config.where)
        return select_accounts(
            accounts, names=self.accounts, tags=self.tags, all_accounts=self.all_accounts
        )

    @property
    def source(self) -> Source:
        """The sample, the API, or the one configured account chosen (through
        :func:`open_source`)."""
        if self._source is None:
            from ..accounts import account_token
            from ..fetch.source import open_source

            chosen = self.selected_accounts() if self.many else []
            if len(chosen) > 1:
                names = ", ".join(spec.name for spec in chosen)
                raise InputError(
                    f"this command reads one account at a time, and {len(chosen)} are chosen "
                    f"({names}): pick one with --account NAME"
                )
            spec = chosen[0] if chosen else None
            self._source = open_source(
                sample=self.sample,
                api_url=self.api_url or (spec.api_url if spec else None),
                timezone=self.timezone_option or (spec.timezone if spec else None),
                no_cache=self.no_cache,
                progress=False if self.quiet else None,
                token=account_token(spec) if spec else None,
                account=spec.name if spec else None,
            )
        return self._source

    @property
    def sources(self) -> MultiSource:
        """Every chosen account as one :class:`MultiSource` (through :func:`open_sources`)."""
        if self._multi is None:
            from ..fetch.source import open_sources

            chosen = self.selected_accounts()
            self._multi = open_sources(
                chosen,
                sample=self.sample,
                api_url=self.api_url,
                timezone=self.timezone_option,
                no_cache=self.no_cache,
                progress=False if self.quiet else None,
                history=self.config.table("history").get("path"),
            )
        return self._multi

    @property
    def label(self) -> str | None:
        """The one chosen account's label (or name), for titles."""
        if not self.many:
            return None
        chosen = self.selected_accounts()
        return chosen[0].title if len(chosen) == 1 else None

    @property
    def timezone(self) -> str:
        return self.source.timezone

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._multi is not None:
            self._multi.close()

    # --- settings from options and the configuration ----------------------------------------

    def _one_account(self) -> AccountSpec | None:
        """The configured account a run of one ``--account`` covers (None otherwise)."""
        if not self.many or self.multiple:
            return None
        chosen = self.selected_accounts()
        return chosen[0] if len(chosen) == 1 else None

    def budgets(self) -> Budgets:
        """The ``[budget]`` table, parsed; one ``--account``'s own when it has one."""
        from ..analysis.budget import parse_budget_table

        spec = self._one_account()
        if spec is not None and "budget" in spec.overrides:
            where = f"[accounts.{spec.name}.budget] of {self.config.where}"
            return parse_budget_table(dict(spec.overrides["budget"]), where=where)
        where = f"[budget] of {self.config.where}"
        return parse_budget_table(self.config.table("budget"), where=where)

    def money(self) -> MoneySettings:
        """The ``[money]`` table with its purchases file read; one ``--account``'s own when it
        has one."""
        from ..reports.valuation import load_money

        spec = self._one_account()
        if spec is not None and "money" in spec.overrides:
            return load_money(
                dict(spec.overrides["money"]),
                config_path=self.config.path,
                where=f"[accounts.{spec.name}.money] of {self.config.where}",
            )
        return load_money(
            self.config.table("money"),
            config_path=self.config.path,
            where=f"[money] of {self.config.where}",
        )

    def statement_settings(self) -> StatementSettings:
        """The ``[chargeback]`` table: issuer, bill-to and cost centres, number prefix, the
        allocation's tolerance."""
        from ..reports.statements import parse_chargeback_table

        chosen = self.selected_accounts() if self.many else []
        if len(chosen) == 1 and "chargeback" in chosen[0].overrides:
            # One account chosen with its own [accounts.NAME.chargeback]: it replaces the file's.
            return parse_chargeback_table(
                dict(chosen[0].overrides["chargeback"]),
                where=f"[accounts.{chosen[0].name}.chargeback] of {self.config.where}",
            )
        return parse_chargeback_table(
            self.config.table("chargeback"), where=f"[chargeback] of {self.config.where}"
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
            account=report.label or self.label,
            budgets=self.budgets(),
            calendar=self.fiscal_calendar(fiscal or FiscalOptions()),
            reconcile=report.reconcile,
            chargeback=report.chargeback,
            **{"money": self.money(), "tolerance": self.statement_settings().tolerance, **extra},
        )

    def account_settings(self, spec: AccountSpec, base: ReportSettings) -> ReportSettings:
        """``base`` for one account: its label in titles, its own ``[budget]`` and ``[money]``
        when it has them (:func:`~generect_reports.reports.rollup.account_settings`)."""
        from ..reports.rollup import account_settings

        return account_settings(spec, base, where=self.config.where, config_path=self.config.path)

    def settings_by_account(self, base: ReportSettings) -> dict[str, ReportSettings]:
        """Every chosen account's settings (:meth:`account_settings`), all read now, so an
        account's bad ``[budget]`` or ``[money]`` is exit 2 before any request."""
        return {spec.name: self.account_settings(spec, base) for spec in self.selected_accounts()}

    def account_labels(self) -> dict[str, str]:
        """What documents call each chosen account: its label, else its name."""
        return {spec.name: spec.title for spec in self.selected_accounts()}

    # --- output ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A progress line on stderr (``wrote PATH``), silent with ``--quiet``."""
        if not self.quiet:
            from .._text import terminal_text

            click.echo(terminal_text(text), err=True)

    def emit(self, text: str, output: str | None, *, table: bool = False) -> None:
        emit(text, output, table=table)


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


def emit(text: str, output: str | None, *, table: bool = False) -> None:
    """Print ``text``, or write it atomically to ``output``. A ``table`` (text for a terminal,
    holding server text) has every control and escape sequence shown escaped."""
    if table:
        from .._text import terminal_text

        text = terminal_text(text, keep_lines=True)
    if output:
        from .._atomic import write_bytes_atomic

        write_bytes_atomic(output, text.encode("utf-8"))
        return
    if sys.stdout is None:
        # Started with stdout closed (`>&-`): the output would vanish with exit 0.
        from ..errors import OutputError

        raise OutputError("standard output is closed: nothing can be printed; use --output PATH")
    click.echo(text, nl=not text.endswith("\n"))
