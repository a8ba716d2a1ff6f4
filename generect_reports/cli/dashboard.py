"""``dashboard``: the month's key figures, the explorer and the report downloads, in the browser."""

from __future__ import annotations

import click

from ..periods import Month
from .options import MONTH, common_options
from .run import Run, run_command

__all__ = ["command"]


@click.command("dashboard")
@click.option(
    "--port",
    default=8866,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0 picks a free one).",
)
@click.option(
    "--month",
    type=MONTH,
    default=None,
    help="Month of the key figures and report files [default: the last full month].",
)
@click.option(
    "--idle-timeout",
    default=45,
    show_default=True,
    type=click.IntRange(1, 86400),
    hidden=True,
    help="No longer needed (a page holds nothing on the server); accepted and ignored.",
)
@click.option(
    "--max-views",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1000),
    hidden=True,
    help="No longer needed (every view is served by the one process); accepted and ignored.",
)
@common_options
@run_command
def command(run: Run, port: int, month: Month | None, idle_timeout: int, max_views: int) -> None:
    """Serve the usage dashboard in the browser on 127.0.0.1.

    The month's key figures, the usage explorer and the report downloads, without code. One
    process serves every viewer; the view is in the page's URL, so a link reopens it. Exports
    and report files are also saved in the current folder. Needs the 'dashboard' extra.

    Every request needs the token in the printed URL (set GENERECT_DASHBOARD_TOKEN to choose
    it). --idle-timeout and --max-views are still accepted but no longer needed.

    With configured accounts (--all-accounts, --tag, --account) the page has an account picker:
    "All accounts" is the roll-up that 'report --all-accounts' writes (the accounts ranked, the
    operations across them, "partial" when an account cannot be read), and each account shows
    its own figures, explorer and report files.
    """
    from ..notebook.serve import serve_dashboard

    serve_dashboard(
        port=port,
        month=month,
        sample=run.sample,
        timezone=run.timezone_option,
        api_url=run.api_url,
        no_cache=run.no_cache,
        quiet=run.quiet,
        idle_timeout=idle_timeout,
        max_views=max_views,
        accounts=run.selected_accounts() if run.many else None,
        config=run.config.path,
        selection=(run.accounts, run.tags, run.all_accounts),
    )
