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

    text = render_status_table(
        status.frame,
        status.account,
        timezone=status.timezone,
        forecast=status.forecast,
        topups=status.topups,
        runway_topups=status.runway_topups,
        periods=status.periods,
    )
    m = status.money
    if m is None:
        return text
    projected = (
        ""
        if m.projected_booked_cost is None
        else f", {m.projected_booked_cost / 100:,.2f} projected at month end"
    )
    return text.rstrip("\n") + (
        f"\n  booked cost      {m.booked_cost / 100:,.2f} {m.currency} month to date{projected}"
        f"\n  prepaid balance  {m.prepaid_balance / 100:,.2f} {m.currency} ({m.basis})\n"
        + (
            f"  overage          {m.overage_hundredths / 100:,.2f} credits above the plan limit "
            f"projected, {m.overage_cost / 100:,.2f} {m.currency} at {m.overage_basis}\n"
            if m.overage_hundredths and m.overage_cost is not None
            else ""
        )
    )


def _json(status: StatusReport) -> str:
    from generect_reports.render import budget as B
    from generect_reports.render.records.export import dumps_document, json_document

    frame = status.frame
    first = status.today.replace(day=1)
    doc = json_document(
        "status",
        B.status_rows(frame),
        source=status.account.source,
        timezone=status.timezone,
        period="month",
        start=first,
        end=first.replace(day=frame.attrs["days_in_month"]),
        complete=bool(frame.attrs["complete"]),
        totals={
            "used_credits": frame.attrs["used_credits"],
            "projected_credits": frame.attrs["projected_credits"],
        },
        fields={
            **B.status_fields(
                frame,
                status.account,
                status.checks,
                forecast=status.forecast,
                topups=status.topups,
                runway_topups=status.runway_topups,
                periods=status.periods,
            ),
            **_money_fields(status),
        },
    )
    return dumps_document(doc)


def _money_fields(status: StatusReport) -> dict[str, Any]:
    """``booked_cost`` (month to date) and ``projected_booked_cost``, with their currency."""
    m = status.money
    if m is None:
        return {}
    return {
        "currency": m.currency,
        "booked_cost": m.booked_cost / 100,
        "projected_booked_cost": (
            None if m.projected_booked_cost is None else m.projected_booked_cost / 100
        ),
        "prepaid_balance": m.prepaid_balance / 100,
        "valuation": m.basis,
        "projected_overage": {
            "credits": m.overage_hundredths / 100,
            "cost": None if m.overage_cost is None else m.overage_cost / 100,
            "valued_at": m.overage_basis,
        },
    }


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
