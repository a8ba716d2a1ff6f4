"""The monthly report's workbook and PDF, rendered on two cores where the platform allows.

Both files come from one built :class:`~generect_reports.outputs.report.MonthlyReport`, and
neither depends on the other, so on POSIX a forked child renders the workbook while this process
draws the PDF. The child only computes bytes and hands them back through a pipe: every file is
written here, atomically, so an interruption removes temporary files exactly as in one process.
A failure in the child is raised here as the same exception (the same exit code, one line);
where ``fork`` is unavailable, or only one file is wanted, everything runs in this process.
The bytes are the same either way.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable

from .._atomic import write_bytes_atomic
from ..errors import EXIT_UNEXPECTED, GenerectError

if TYPE_CHECKING:
    from .report import MonthlyReport

__all__ = ["render_report_files", "write_report_files", "ChildFailed"]


class ChildFailed(RuntimeError):
    """The rendering child ended without an answer (killed), or with an error that could not
    be sent as itself; an unexpected error (exit 1) for the CLI."""

    exit_code: int = EXIT_UNEXPECTED


def _render_xlsx(rep: "MonthlyReport") -> bytes:
    from .excel import render_workbook

    return render_workbook(rep)


def _render_pdf(rep: "MonthlyReport") -> bytes:
    from .pdf import render_pdf

    return render_pdf(rep)


def _can_fork() -> bool:
    # macOS may crash in a forked child that touches system frameworks; fork only on Linux-like
    # systems. GENERECT_REPORTS_NO_FORK=1 forces one process (debugging, profiling).
    return (hasattr(os, "fork") and sys.platform.startswith(("linux", "freebsd"))
            and not os.environ.get("GENERECT_REPORTS_NO_FORK"))


def _child(task: Callable[["MonthlyReport"], bytes], rep: "MonthlyReport", fd: int) -> None:
    """Run in the forked child: render, send ``(ok, payload)`` and leave without clean-up
    handlers (they belong to the parent)."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group; the parent decides and reaps the child.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            message = pickle.dumps((True, task(rep)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # sent to the parent, which raises it
            code = 1
            try:
                message = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                pickle.loads(message)
            except Exception:  # an exception that does not survive pickling: its text and code
                stand_in = GenerectError(str(exc)) if isinstance(exc, GenerectError) else \
                    ChildFailed(f"{type(exc).__name__}: {exc}")
                stand_in.exit_code = getattr(exc, "exit_code", EXIT_UNEXPECTED)
                message = pickle.dumps((False, stand_in), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(message)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _receive(pipe: Any, pid: int) -> tuple[bool, Any]:
    data = pipe.read()
    _, status = os.waitpid(pid, 0)
    try:
        return pickle.loads(data)
    except Exception:
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.waitstatus_to_exitcode(status)}")
        return False, ChildFailed(f"the workbook renderer stopped ({how}) without an answer")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


_Result = tuple["bytes | None", "BaseException | None"]


def _attempt(task: Callable[["MonthlyReport"], bytes], rep: "MonthlyReport") -> _Result:
    try:
        return task(rep), None
    except Exception as exc:
        return None, exc


def _render(rep: "MonthlyReport", want_xlsx: bool, want_pdf: bool) -> tuple[_Result, _Result]:
    """Each file's bytes or error, the workbook in a forked child when both are wanted."""
    if not (want_xlsx and want_pdf and _can_fork()):
        return (_attempt(_render_xlsx, rep) if want_xlsx else (None, None),
                _attempt(_render_pdf, rep) if want_pdf else (None, None))
    # Flushed now so the child does not write the parent's buffered output a second time.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves through os._exit
        os.close(read_fd)
        _child(_render_xlsx, rep, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        try:
            pdf = _attempt(_render_pdf, rep)
            ok, payload = _receive(pipe, pid)
        except BaseException:  # Ctrl-C, SIGTERM: the child must not outlive us
            _stop(pid)
            raise
    xlsx: _Result = (payload, None) if ok else (None, payload)
    return xlsx, pdf


def render_report_files(rep: "MonthlyReport", want_xlsx: bool = True,
                        want_pdf: bool = True) -> tuple[bytes | None, bytes | None]:
    """The workbook and the PDF of ``rep`` as bytes (``None`` for one not wanted).

    Parameters
    ----------
    rep
        The built report.
    want_xlsx, want_pdf
        Which files to render.

    Returns
    -------
    tuple
        ``(xlsx, pdf)``. An error is raised as it would be in one process; when both fail,
        the workbook's.
    """
    (xlsx, xlsx_error), (pdf, pdf_error) = _render(rep, want_xlsx, want_pdf)
    for error in (xlsx_error, pdf_error):
        if error is not None:
            raise error
    return xlsx, pdf


def write_report_files(rep: "MonthlyReport", xlsx_path: str | os.PathLike[str] | None,
                       pdf_path: str | os.PathLike[str] | None,
                       on_written: Callable[[str | os.PathLike[str]], None] | None = None) -> None:
    """Render and write the workbook and the PDF of ``rep``, each atomically.

    Parameters
    ----------
    rep
        The built report.
    xlsx_path, pdf_path
        Where to write each file; ``None`` skips it.
    on_written
        Called with each path once its file is in place (the CLI says ``wrote PATH``).

    As in one process, the workbook is written first: if it fails nothing is written, and a
    workbook that rendered is written even when the PDF then fails.
    """
    results = _render(rep, bool(xlsx_path), bool(pdf_path))
    for path, (data, error) in zip((xlsx_path, pdf_path), results):
        if error is not None:
            raise error
        if path and data is not None:
            write_bytes_atomic(path, data)
            if on_written is not None:
                on_written(path)
