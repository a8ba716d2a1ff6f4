"""``usage``: the tidy usage frame, in the format asked for."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

from ..errors import InputError
from .options import FiscalOptions, common_options, fiscal_options, output_options
from .run import Run, check_output, emit, run_command

__all__ = ["command", "USAGE_FORMATS"]

log = logging.getLogger("generect_reports")


def _text(fmt: str) -> Callable[[Any, str | None], None]:
    def write(frame: Any, output: str | None) -> None:
        from generect_reports.render.records import export

        emit(export.render(frame, fmt), output)

    return write


def _ndjson(frame: Any, output: str | None) -> None:
    from generect_reports.render.records import export

    if output:
        emit(export.to_ndjson(frame), output)
        return
    for line in export.iter_ndjson(frame):  # streamed: large ranges need no second copy
        click.echo(line, nl=False)


def _parquet(frame: Any, output: str | None) -> None:
    from generect_reports.render.records.export import write_usage_parquet

    write_usage_parquet(frame, output)


def _focus(frame: Any, output: str | None) -> None:
    from generect_reports.render.records.focus import write_focus

    text = write_focus(frame, output)
    if text is not None:
        emit(text, None)


def _xlsx(frame: Any, output: str | None) -> None:
    from generect_reports.render.xlsx.workbook import write_usage_xlsx

    write_usage_xlsx(frame, output)  # type: ignore[arg-type]  # check_output made it a path


#: Every format of the usage frame and its renderer: the one list --help and validation read.
WRITERS: dict[str, Callable[[Any, str | None], None]] = {
    "table": _text("table"),
    "csv": _text("csv"),
    "json": _text("json"),
    "ndjson": _ndjson,
    "parquet": _parquet,
    "focus": _focus,
    "xlsx": _xlsx,
}
USAGE_FORMATS = tuple(WRITERS)


@click.command("usage")
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First local date (inclusive).")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last local date (inclusive).")
@click.option(
    "--period",
    default="day",
    show_default=True,
    help="Bucket size: day, week (ISO), month, or fiscal quarter or year (from months).",
)
@fiscal_options
@output_options(USAGE_FORMATS)
@common_options
@run_command
def command(
    run: Run,
    start: str,
    end: str,
    period: str,
    fiscal: FiscalOptions,
    fmt: str,
    output: str | None,
) -> None:
    """Credits per period and operation, as a tidy table.

    Columns: period_start, period, operation, credits. A period's rows add up to the API's
    total; the difference to the per-operation breakdown is the 'unattributed' row.
    --format json is the versioned document (schema in the package), ndjson one row per line,
    parquet a typed file, focus FinOps FOCUS 1.2 rows (CSV, or Parquet for a .parquet output).
    Across accounts (--all-accounts, --tag, or --account more than once) every row starts with
    its account; an account that fails leaves the others complete, the output says "partial",
    and the exit code is the worst account's, after the output is written.
    """
    from .. import periods

    check_output(fmt, output)
    if fmt == "parquet" or (fmt == "focus" and str(output or "").lower().endswith(".parquet")):
        from generect_reports.render.records.export import require_pyarrow

        require_pyarrow()
    calendar = run.fiscal_calendar(fiscal)
    fetch_period = "month" if period in ("quarter", "year") else period
    periods.buckets(start, end, fetch_period)  # validate before any token or network is needed
    if fmt == "focus" and period != "day":
        raise InputError("--format focus writes one row per day and operation: use --period day")
    if run.multiple:
        frame = run.sources.usage(start, end, period=fetch_period)
    else:
        frame = run.source.usage(start, end, period=fetch_period)
    for tie in frame.attrs.get("tie_outs", []):
        log.warning(
            "the API's figure for %s (%.2f credits) differs from the sum of its days (%.2f, "
            "a difference of %+.2f): the figure shown is the API's",
            tie.label,
            tie.bucket_total,
            tie.days_total,
            tie.difference,
        )
    if period in ("quarter", "year"):
        from ..analysis.calendar import to_fiscal_periods

        frame = to_fiscal_periods(frame, period, calendar)
    WRITERS[fmt](frame, output)
    run.raise_partial(frame)
