"""``sync``: closed months of usage, ledger and token analytics into the Parquet history store."""

from __future__ import annotations

import click

from ..errors import InputError
from ..periods import Month
from .options import MONTH, common_options
from .run import Run, run_command

__all__ = ["command"]

#: The months a sync covers unless told: the last twelve closed ones.
DEFAULT_MONTHS = 12


@click.command("sync")
@click.option(
    "--to",
    "to",
    default=None,
    metavar="DIR",
    help="The store's folder [default: [history] path of the config file].",
)
@click.option("--since", type=MONTH, default=None, help="First month [default: a year back].")
@click.option("--until", type=MONTH, default=None, help="Last month [default: the last closed].")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Choice(["usage", "ledger", "tokens"]),
    help="Only these datasets (repeatable) [default: all three].",
)
@common_options
@run_command
def command(
    run: Run,
    to: str | None,
    since: Month | None,
    until: Month | None,
    datasets: tuple[str, ...],
) -> None:
    """Closed months of usage, ledger and token analytics into the history store.

    A Parquet dataset partitioned dataset=…/account=…/month=…, each partition replaced
    atomically, with a manifest of checksums: re-running it rewrites nothing that did not change.
    Read it with DuckDB (generect_reports.open_history) or Spark and Trino as it is.
    With --all-accounts, --tag or --account, every chosen account has its own partitions.
    """
    from ..deliver.history import DATASETS, sync_history

    folder = to or run.config.table("history").get("path")
    if not folder:
        raise InputError("sync needs a folder: --to DIR, or [history] path in the config file")
    if run.multiple:
        sources = dict(run.sources.sources)
    else:
        chosen = run.selected_accounts() if run.many else []
        sources = {chosen[0].name if chosen else "default": run.source}
    first_source = next(iter(sources.values()))
    last = until or Month.of(first_source.today()).shift(-1)
    first = since or last.shift(-(DEFAULT_MONTHS - 1))
    if first.first_day > last.first_day:
        raise InputError(f"--since {first} is after --until {last}")
    months = []
    month = first
    while month.first_day <= last.first_day:
        months.append(month)
        month = month.shift(1)
    result = sync_history(
        sources,
        str(folder),
        months,
        datasets=datasets or DATASETS,
        on_account=lambda name: run.say(f"syncing {name}"),
    )
    run.say(
        f"{len(result.written)} partition(s) written, {len(result.unchanged)} unchanged, "
        f"{len(result.months)} month(s) from {result.months[0]} to {result.months[-1]}, "
        f"in {result.root}"
    )
    if result.failed:
        from ..errors import AccountsFailed

        raise AccountsFailed(result.failed)
