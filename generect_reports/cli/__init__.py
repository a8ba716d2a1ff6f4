"""``generect-reports``: a thin shell over the library.

The group and :func:`main` live here, with what turns errors and signals into the documented
exit codes; each command is one module (``usage``, ``report``, ``email``, ``status``,
``reconcile``, ``chargeback``, ``dashboard``) that parses its options, makes one library call,
and renders and delivers the result. Heavy libraries are imported inside the commands, so
``--help`` and argument errors answer at once.
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

from .._version import __version__
from ..errors import EXIT_BAD_INPUT, EXIT_UNEXPECTED, GenerectError
from . import chargeback, dashboard, email, reconcile, report, status, sync, usage
from .logs import SECRET_ENV, redact
from .logs import setup_logging as _setup_logging
from .options import COMMON_KEY
from .status import STATUS_FORMATS
from .usage import USAGE_FORMATS

__all__ = ["cli", "main", "redact", "SECRET_ENV", "USAGE_FORMATS", "STATUS_FORMATS"]

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


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command, turning errors into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        common = click.get_current_context().meta.get(COMMON_KEY, {})
        verbose = int(common.get("verbose") or 0)
        _setup_logging(verbose, bool(common.get("quiet")))
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="generect-reports")
def cli() -> None:
    """Generect API credit usage: tidy tables, monthly Excel and PDF reports, and email.

    Set GENERECT_API_TOKEN for the live API, or add --sample to any command to use the
    bundled sample account. Exit codes: 0 ok, 2 bad input, 3 authentication or permission,
    4 API, network or SMTP failure, 5 a check failed, 1 anything unexpected.
    """


for _module in (usage, report, email, status, reconcile, chargeback, dashboard, sync):
    _command: click.Command = _module.command
    _command.callback = handle_errors(_command.callback)  # type: ignore[arg-type]
    cli.add_command(_command)


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
