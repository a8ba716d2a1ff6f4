"""The monthly report's workbook and PDF, rendered on two cores where the platform allows.

Both files come from one built :class:`~generect_reports.outputs.report.MonthlyReport`, and
neither depends on the other, so on POSIX a forked child draws the PDF while this process
renders the workbook (and, for the email, the chart). The PDF goes to the child because it is
the longer task and because the child leaves without tearing down matplotlib and the drawn
pages. The child only computes bytes and hands them back through a pipe: every file is written
here, atomically, so an interruption removes temporary files exactly as in one process. A
failure in the child is raised here as the same exception (the same exit code, one line). Where
``fork`` is unavailable, or only one file is wanted, everything runs in this process; the bytes
are the same either way.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Tuple

from .._atomic import write_bytes_atomic
from ..errors import EXIT_UNEXPECTED, GenerectError

if TYPE_CHECKING:
    from .report import MonthlyReport

__all__ = ["render_report_files", "render_email_files", "write_report_files", "ChildFailed"]

_Task = Callable[["MonthlyReport"], bytes]
#: A task's bytes, or the exception it raised.
_Result = Tuple[Optional[bytes], Optional[BaseException]]


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
    # macOS may crash in a forked child that touches system frameworks: fork only on Linux and
    # FreeBSD. GENERECT_REPORTS_NO_FORK=1 keeps everything in one process (profiling).
    return (hasattr(os, "fork") and sys.platform.startswith(("linux", "freebsd"))
            and not os.environ.get("GENERECT_REPORTS_NO_FORK"))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the files render.

    matplotlib's artists hold reference cycles, so the collector runs hundreds of times during
    a render, and every full pass walks the whole heap (pandas, matplotlib and their modules):
    about a tenth of a second for a report. The garbage of one render is collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _attempt(task: _Task, rep: "MonthlyReport") -> _Result:
    try:
        return task(rep), None
    except Exception as exc:
        return None, exc


def _child(task: _Task, rep: "MonthlyReport", fd: int) -> None:
    """Run in the forked child: render, send ``(ok, payload)`` and leave without clean-up
    handlers (they belong to the parent)."""
    code = 0
    try:
        # Ctrl-C reaches the whole process group; the parent decides and reaps the child.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        data, exc = _attempt(task, rep)
        if exc is None:
            message = pickle.dumps((True, data), protocol=pickle.HIGHEST_PROTOCOL)
        else:
            code = 1
            try:
                message = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                pickle.loads(message)
            except Exception:  # an exception that does not survive pickling: its text and code
                stand_in = (GenerectError(str(exc)) if isinstance(exc, GenerectError)
                            else ChildFailed(f"{type(exc).__name__}: {exc}"))
                stand_in.exit_code = getattr(exc, "exit_code", EXIT_UNEXPECTED)
                message = pickle.dumps((False, stand_in), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(message)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _receive(pipe: Any, pid: int) -> _Result:
    data = pipe.read()
    _, status = os.waitpid(pid, 0)
    try:
        ok, payload = pickle.loads(data)
    except Exception:
        how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exit status {os.waitstatus_to_exitcode(status)}")
        return None, ChildFailed(f"the PDF renderer stopped ({how}) without an answer")
    return (payload, None) if ok else (None, payload)


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _render(rep: "MonthlyReport", here: list[_Task], there: _Task) -> list[_Result]:
    """The results of ``here`` (in this process, in order) and then of ``there`` (in a forked
    child where possible)."""
    with _collector_paused():
        if not _can_fork():
            return [_attempt(task, rep) for task in (*here, there)]
        # Flushed now so the child does not write the parent's buffered output a second time.
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child leaves through os._exit
            os.close(read_fd)
            _child(there, rep, write_fd)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            try:
                mine = [_attempt(task, rep) for task in here]
                return [*mine, _receive(pipe, pid)]
            except BaseException:  # Ctrl-C, SIGTERM: the child must not outlive us
                _stop(pid)
                raise


def _raise_first(results: list[_Result]) -> None:
    for _, error in results:
        if error is not None:
            raise error


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
    if not (want_xlsx and want_pdf):
        with _collector_paused():
            return (_render_xlsx(rep) if want_xlsx else None,
                    _render_pdf(rep) if want_pdf else None)
    results = _render(rep, [_render_xlsx], _render_pdf)
    _raise_first(results)
    (xlsx, _), (pdf, _) = results
    return xlsx, pdf


def render_email_files(rep: "MonthlyReport", chart: _Task) -> tuple[bytes, bytes, bytes]:
    """The workbook, the PDF and ``chart(rep)`` (the email's inline image), the PDF drawn in
    a child while this process renders the other two."""
    results = _render(rep, [_render_xlsx, chart], _render_pdf)
    _raise_first(results)
    xlsx, image, pdf = (data for data, _ in results)
    assert xlsx is not None and pdf is not None and image is not None
    return xlsx, pdf, image


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
    if xlsx_path and pdf_path:
        results = _render(rep, [_render_xlsx], _render_pdf)
    else:
        with _collector_paused():
            results = [_attempt(_render_xlsx, rep) if xlsx_path else (None, None),
                       _attempt(_render_pdf, rep) if pdf_path else (None, None)]
    for path, (data, error) in zip((xlsx_path, pdf_path), results):
        if error is not None:
            raise error
        if path and data is not None:
            write_bytes_atomic(path, data)
            if on_written is not None:
                on_written(path)
