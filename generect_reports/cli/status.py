"""``status``: plan, balance and this month against the limit and budgets; alerts for cron."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from .._text import terminal_text
from ..errors import InputError
from .logs import redact
from .options import FiscalOptions, common_options, fiscal_options, output_options
from .run import Run, check_output, run_command

if TYPE_CHECKING:
    from ..config import Config
    from ..reports.assemble import StatusReport

__all__ = ["command", "STATUS_FORMATS"]


def _table(status: StatusReport) -> str:
    from generect_reports.render.budget import render_status_table

    return render_status_table(
        status.frame,
        status.account,
        timezone=status.timezone,
        forecast=status.forecast,
        topups=status.topups,
        runway_topups=status.runway_topups,
        money=status.money,
        periods=status.periods,
    )


def _json(status: StatusReport) -> str:
    from generect_reports.render.budget import status_document
    from generect_reports.render.records.export import dumps_document

    return dumps_document(status_document(status))


#: Every format of the status and its renderer: the one list --help and validation read.
RENDERERS: dict[str, Callable[[StatusReport], str]] = {"table": _table, "json": _json}
STATUS_FORMATS = tuple(RENDERERS)


def _notify_settings(config: Config) -> list[Any]:
    """``[notify] urls`` from the config file, accepted only when no one else can read the file."""
    from ..config import check_private
    from ..errors import ConfigError

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


@click.command("status")
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
@click.option(
    "--notify-test",
    is_flag=True,
    help="Post one test message to every webhook and exit 0, whatever the thresholds "
    "(nothing else is read or sent).",
)
@click.option(
    "--digest",
    is_flag=True,
    help="Post the month so far (figures, projection with its interval, exceptions) to the "
    "webhooks, when something changed since the last digest or --digest-every hours passed.",
)
@click.option(
    "--digest-every",
    default=24.0,
    show_default=True,
    type=float,
    metavar="HOURS",
    help="With --digest: post an unchanged digest again after HOURS.",
)
@fiscal_options
@output_options(STATUS_FORMATS)
@common_options
@run_command
def command(
    run: Run,
    fiscal: FiscalOptions,
    warn_at: float,
    fail_at: float | None,
    min_runway_days: float | None,
    notify_urls: tuple[str, ...],
    notify_test: bool,
    digest: bool,
    digest_every: float,
    fmt: str,
    output: str | None,
) -> None:
    """Plan, balance, month to date against the plan limit and budgets, projection, runway.

    One screen: the plan and balance, credits used this month against the current plan limit
    and every [budget] line, the projected month end (weekday-aware run rate, an estimate), the
    day each line will be reached and how long the balance lasts. used_this_month is the API's
    own month, named in the output. For cron: --warn-at only warns; --fail-at and
    --min-runway-days exit 5 when crossed, after printing the status in full.

    The projection carries its 80% and 95% intervals and its accuracy, measured by replaying
    the months before; the quarter and the fiscal year (--fiscal-year-start or [calendar])
    are projected to their ends the same way, from the past quarters and years. --notify
    speaks once: a crossing is posted once, an escalation (warn to fail) again, a recovery as
    a short all-clear, and a new month re-arms; what was posted is kept in the user state
    folder (GENERECT_REPORTS_STATE_DIR overrides it).
    """
    from generect_reports.deliver import webhook as N

    from ..errors import CheckFailed
    from ..reports.assemble import ReportSettings, account_status

    check_output(fmt, output)
    for name, value in (
        ("--warn-at", warn_at),
        ("--fail-at", fail_at),
        ("--min-runway-days", min_runway_days),
    ):
        if value is not None and not 0 <= value < float("inf"):
            raise InputError(f"{name} must be zero or more, not {value}")
    if not 0 <= digest_every < float("inf"):
        raise InputError(f"--digest-every must be zero or more hours, not {digest_every}")
    settings = ReportSettings(
        budgets=run.budgets(), money=run.money(), calendar=run.fiscal_calendar(fiscal)
    )
    hooks = N.webhook_urls(notify_urls, _notify_settings(run.config))
    if digest and not hooks:
        raise InputError(
            "--digest needs a webhook: --notify URL, GENERECT_NOTIFY_URL or [notify] urls"
        )
    if notify_test:
        if not hooks:
            raise InputError(
                "--notify-test needs a webhook: --notify URL, GENERECT_NOTIFY_URL or [notify] urls"
            )
        sent = N.notify(
            hooks,
            "Generect reports: test message",
            ["status --notify-test: threshold alerts from generect-reports will be posted here"],
        )
        run.say(f"posted a test message to {sent} webhook(s)")
        return
    if run.multiple:
        _across(
            run,
            settings,
            hooks,
            warn_at=warn_at,
            fail_at=fail_at,
            min_runway_days=min_runway_days,
            digest=digest,
            digest_every=digest_every,
            fmt=fmt,
            output=output,
        )
        return
    status = account_status(
        run.source, settings, warn_at=warn_at, fail_at=fail_at, min_runway_days=min_runway_days
    )
    run.emit(RENDERERS[fmt](status), output, table=fmt == "table")
    for check in status.checks:
        if check.level == "warn":
            run.say(f"warning: {check.text}")
    delivery_error = None
    if hooks:
        from generect_reports.deliver.alerts import alert_once

        outcome = alert_once(hooks, status)
        if outcome.rebuilt:
            run.say("warning: the alert state was corrupt or unreadable: rebuilt")
        if outcome.sent:
            run.say(f"posted the alert to {outcome.sent} webhook(s)")
        delivery_error = outcome.error
        if digest:
            from generect_reports.deliver.alerts import digest_once

            told = digest_once(hooks, status, every=digest_every)
            if told.sent:
                run.say(f"posted the digest to {told.sent} webhook(s)")
            delivery_error = delivery_error or told.error
    if status.failed:
        if delivery_error is not None:
            click.echo(f"error: {terminal_text(redact(str(delivery_error)))}", err=True)
        raise CheckFailed("check failed: " + "; ".join(c.text for c in status.failed))
    if delivery_error is not None:
        raise delivery_error


def _across(
    run: Run,
    settings: Any,
    hooks: list[Any],
    *,
    warn_at: float,
    fail_at: float | None,
    min_runway_days: float | None,
    digest: bool,
    digest_every: float,
    fmt: str,
    output: str | None,
) -> None:
    """``status`` across accounts: one table (or document) with a row per account, one alert
    naming every account that crossed; then the exit code (README, "Many accounts")."""
    from generect_reports.render import accounts as A

    from ..errors import AccountsFailed, CheckFailed
    from ..reports.accounts import statuses

    by_account = run.settings_by_account(settings)
    across = statuses(
        run.sources,
        by_account.__getitem__,
        warn_at=warn_at,
        fail_at=fail_at,
        min_runway_days=min_runway_days,
        labels=run.account_labels(),
    )
    text = A.status_table(across) if fmt == "table" else A.status_json(across)
    run.emit(text, output, table=fmt == "table")
    for name, status in across.results.items():
        for check in status.checks:
            if check.level == "warn":
                run.say(f"warning: {name}: {check.text}")
    delivery_error = None
    if hooks and across.results:
        from generect_reports.deliver.alerts import alert_once_across, digest_once_across

        outcome = alert_once_across(hooks, across)
        if outcome.rebuilt:
            run.say("warning: the alert state was corrupt or unreadable: rebuilt")
        if outcome.sent:
            run.say(f"posted the alert to {outcome.sent} webhook(s)")
        delivery_error = outcome.error
        if digest:  # one digest naming every account, said once per change (or period)
            told = digest_once_across(hooks, across, every=digest_every)
            if told.sent:
                run.say(f"posted the digest to {told.sent} webhook(s)")
            delivery_error = delivery_error or told.error
    crossed = across.crossings()
    failure = (
        CheckFailed(
            "check failed: "
            + "; ".join(f"{name}: {c.text}" for name, cs in crossed.items() for c in cs)
        )
        if crossed
        else None
    )
    if across.failed:
        # A failed account outranks a crossing: its own thresholds could not be checked.
        if failure is not None:
            click.echo(f"error: {terminal_text(str(failure))}", err=True)
        if delivery_error is not None:
            click.echo(f"error: {terminal_text(redact(str(delivery_error)))}", err=True)
        raise AccountsFailed([dict(f) for f in across.failed])
    if failure is not None:
        if delivery_error is not None:
            click.echo(f"error: {terminal_text(redact(str(delivery_error)))}", err=True)
        raise failure
    if delivery_error is not None:
        raise delivery_error
