"""The monthly report's workbook and PDF, rendered on two cores where the platform allows.

Both files come from one built :class:`~generect_reports.reports.monthly.MonthlyReport`, and
neither depends on the other, so on POSIX a forked child draws the PDF while this process
renders the workbook (and, for the email, the chart). The PDF goes to the child because it is
the longer task, and because the child leaves without tearing matplotlib and the drawn pages
down. A child can also be forked before the report is built (:func:`start_pdf_worker`), so it
imports matplotlib while this process loads the data.

The child only computes bytes and hands them back through a pipe: every file is written here,
atomically, so an interruption removes temporary files exactly as in one process, and the child
is stopped. A failure in the child is raised here as the same exception (the same exit code, one
line). Where ``fork`` is unavailable or unsafe (another thread is running), or only one file is
wanted, everything runs in this process; the bytes are the same either way.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from generect_reports._atomic import write_bytes_atomic
from generect_reports._fork import can_fork
from generect_reports.errors import EXIT_UNEXPECTED, GenerectError

if TYPE_CHECKING:
    from generect_reports.reports.monthly import MonthlyReport

__all__ = [
    "render_report_files",
    "render_email_files",
    "write_report_files",
    "start_pdf_worker",
    "PdfWorker",
    "ChildFailed",
]

_Task = Callable[["MonthlyReport"], bytes]
#: A task's bytes, or the exception it raised.
_Result = tuple[bytes | None, BaseException | None]


class ChildFailed(GenerectError, RuntimeError):
    """The PDF child ended without an answer (killed, say by the out-of-memory killer), or with
    an error that could not be sent as itself; exit 1, one line ("PDF renderer stopped
    (signal 9)")."""

    exit_code: int = EXIT_UNEXPECTED


def _how(status: int) -> str:
    """A child's wait status in words: ``signal 9`` or ``exit status 1``."""
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _render_xlsx(rep: MonthlyReport) -> bytes:
    from generect_reports.render.xlsx.workbook import render_workbook

    return render_workbook(rep)


def _render_pdf(rep: MonthlyReport) -> bytes:
    from generect_reports.render.pdf.document import render_pdf

    return render_pdf(rep)


# The render child and the roll-up's workers fork on the same terms.
_can_fork = can_fork


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


def _attempt(task: _Task, rep: MonthlyReport) -> _Result:
    try:
        return task(rep), None
    except Exception as exc:
        return None, exc


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held back inside the block and raised when it ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a held signal is raised here


def _fork() -> int:
    """``os.fork``, to be called with :func:`_signals_held`.

    A signal that arrives while the interpreter runs its at-fork hooks is swallowed there
    ("Exception ignored"), so the run would go on; and one raised before the parent has taken
    charge of the child would leave it running. Held back, it is raised once the parent owns
    the child, which is then stopped. The child ignores Ctrl-C (it reaches the whole process
    group; the parent decides) and dies of SIGTERM and SIGHUP.
    """
    for stream in (sys.stdout, sys.stderr):  # or the child writes buffered output again
        if stream is not None:
            stream.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
    return pid


def _answer(fd: int, task: _Task, rep: MonthlyReport) -> None:
    """In the child: render, send ``(ok, bytes or exception)`` and leave without the clean-up
    handlers (they belong to the parent)."""
    code = 0
    try:
        data, exc = _attempt(task, rep)
        if exc is None:
            message = pickle.dumps((True, data), protocol=pickle.HIGHEST_PROTOCOL)
        else:
            code = 1
            try:
                message = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                pickle.loads(message)
            except Exception:  # an exception that does not survive pickling: its text and code
                stand_in = (
                    GenerectError(str(exc))
                    if isinstance(exc, GenerectError)
                    else ChildFailed(f"{type(exc).__name__}: {exc}")
                )
                stand_in.exit_code = getattr(exc, "exit_code", EXIT_UNEXPECTED)
                message = pickle.dumps((False, stand_in), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(message)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _worker_main(inbox: int, outbox: int) -> None:  # pragma: no cover - runs in the child
    """The child: import the renderer, wait for the report, draw it, send it, leave."""
    try:
        gc.disable()  # the child leaves through os._exit: nothing to collect for
        with contextlib.suppress(Exception):  # an import error is reported by the render
            importlib.import_module(".pdf", __package__)
        with os.fdopen(inbox, "rb") as pipe:
            data = pipe.read()
        if not data:  # the parent is done without a PDF (an error, or nothing to draw)
            os._exit(0)
        rep = pickle.loads(data)
    except BaseException:
        os._exit(1)
    _answer(outbox, _render_pdf, rep)


class PdfWorker:
    """A forked child that draws the report's PDF.

    Made by :func:`start_pdf_worker`. Started before the report is built, it imports matplotlib
    and the PDF module (about a third of a second) while this process fetches and computes; it
    then waits for the report, sent pickled (a few dozen KiB), and draws it.
    """

    def __init__(self, pid: int, outbox: int, inbox: int) -> None:
        self.pid = pid
        self._outbox: int | None = outbox
        self._inbox: int | None = inbox

    def send(self, rep: MonthlyReport) -> None:
        """Hand the built report to the child, which starts drawing at once."""
        if self._outbox is None:
            raise RuntimeError("a PDF worker draws one report")
        data = pickle.dumps(rep, protocol=pickle.HIGHEST_PROTOCOL)
        fd, self._outbox = self._outbox, None
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as exc:  # EPIPE: the child is gone (killed before it read the report)
            raise self._stopped() from exc

    def _stopped(self) -> ChildFailed:
        """The error for a child that ended without an answer, once it is reaped."""
        pid, self.pid = self.pid, 0
        how = "no answer"
        if pid:
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(pid, 0)
                how = _how(status)
        return ChildFailed(f"PDF renderer stopped ({how})")

    def receive(self) -> _Result:
        """The PDF's bytes or its error; waits for the child and reaps it."""
        if self._inbox is None or not self.pid:
            raise RuntimeError("receive once, after send")
        fd, self._inbox = self._inbox, None
        with os.fdopen(fd, "rb") as pipe:
            data = pipe.read()
        try:
            ok, payload = pickle.loads(data)
        except Exception:
            return None, self._stopped()
        pid, self.pid = self.pid, 0
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        return (payload, None) if ok else (None, payload)

    def close(self) -> None:
        """Close the pipes and stop the child if it is still there."""
        for name in ("_outbox", "_inbox"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                with contextlib.suppress(OSError):
                    os.close(fd)
        pid, self.pid = self.pid, 0
        if pid:
            _stop(pid)


@contextlib.contextmanager
def start_pdf_worker(enabled: bool = True) -> Iterator[PdfWorker | None]:
    """A :class:`PdfWorker` for a report about to be built, or ``None`` where the process does
    not fork (or ``enabled`` is false). Leaving the context stops a child still running (an
    error, Ctrl-C, or a run that needed no PDF)."""
    if not (enabled and _can_fork()):
        yield None
        return
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    worker: PdfWorker | None = None
    try:
        with _signals_held():
            pid = _fork()
            if pid == 0:  # pragma: no cover - the child leaves through os._exit
                os.close(from_parent)
                os.close(to_parent)
                _worker_main(to_child, from_child)
            worker = PdfWorker(pid, outbox=from_parent, inbox=to_parent)
            os.close(to_child)
            os.close(from_child)
        yield worker
    except BaseException:
        if worker is None:  # the fork failed
            for fd in (to_child, from_parent, to_parent, from_child):
                with contextlib.suppress(OSError):
                    os.close(fd)
        raise
    finally:
        if worker is not None:
            worker.close()


def _render(
    rep: MonthlyReport, here: list[_Task], worker: PdfWorker | None = None
) -> list[_Result]:
    """The results of the tasks ``here`` (in this process, in order) and then the PDF's: drawn
    by ``worker``, else by a child forked now where possible, else here."""
    with _collector_paused():
        if worker is None:
            with start_pdf_worker() as worker:
                if worker is None:
                    return [_attempt(task, rep) for task in (*here, _render_pdf)]
                return _render(rep, here, worker)
        worker.send(rep)
        try:
            mine = [_attempt(task, rep) for task in here]
            return [*mine, worker.receive()]
        except BaseException:  # Ctrl-C, SIGTERM: the child must not outlive us
            worker.close()
            raise


def _raise_first(results: list[_Result]) -> None:
    for _, error in results:
        if error is not None:
            raise error


def render_report_files(
    rep: MonthlyReport, want_xlsx: bool = True, want_pdf: bool = True
) -> tuple[bytes | None, bytes | None]:
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
            return (
                _render_xlsx(rep) if want_xlsx else None,
                _render_pdf(rep) if want_pdf else None,
            )
    results = _render(rep, [_render_xlsx])
    _raise_first(results)
    (xlsx, _), (pdf, _) = results
    return xlsx, pdf


def render_email_files(
    rep: MonthlyReport, chart: _Task, worker: PdfWorker | None = None
) -> tuple[bytes, bytes, bytes]:
    """The workbook, the PDF and ``chart(rep)`` (the email's inline image), the PDF drawn in a
    child (``worker`` if given) while this process renders the other two."""
    results = _render(rep, [_render_xlsx, chart], worker)
    _raise_first(results)
    xlsx, image, pdf = (data for data, _ in results)
    assert xlsx is not None and pdf is not None and image is not None
    return xlsx, pdf, image


def write_report_files(
    rep: MonthlyReport,
    xlsx_path: str | os.PathLike[str] | None,
    pdf_path: str | os.PathLike[str] | None,
    on_written: Callable[[str | os.PathLike[str]], None] | None = None,
    worker: PdfWorker | None = None,
) -> None:
    """Render and write the workbook and the PDF of ``rep``, each atomically.

    Parameters
    ----------
    rep
        The built report.
    xlsx_path, pdf_path
        Where to write each file; ``None`` skips it.
    on_written
        Called with each path once its file is in place (the CLI says ``wrote PATH``).
    worker
        A :class:`PdfWorker` started before the report was built, to draw the PDF.

    As in one process, the workbook is written first: if it fails nothing is written, and a
    workbook that rendered is written even when the PDF then fails.
    """
    if pdf_path and (xlsx_path or worker is not None):
        results = _render(rep, [_render_xlsx] if xlsx_path else [], worker)
        if not xlsx_path:
            results.insert(0, (None, None))
    else:
        with _collector_paused():
            results = [
                _attempt(_render_xlsx, rep) if xlsx_path else (None, None),
                _attempt(_render_pdf, rep) if pdf_path else (None, None),
            ]
    for path, (data, error) in zip((xlsx_path, pdf_path), results):
        if error is not None:
            raise error
        if path and data is not None:
            write_bytes_atomic(path, data)
            if on_written is not None:
                on_written(path)
