"""File output that never damages what a path points at.

A regular file (or a symlink to one) is written atomically: a temporary file beside the real
target, renamed into place, so a failure leaves the old file untouched and nothing behind. A
FIFO, a device, ``/dev/stdout`` or ``/proc/self/fd/N`` is streamed into instead (``-o
/dev/stdout`` and ``-o >(gzip > x)`` work, and ``-o /dev/null`` stays the system's). A
write-protected file is refused. Every failure is one :class:`OutputError` (exit 2: the path) or
:class:`WriteFailed` (exit 4: the device), with no temporary file left.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import GenerectError, OutputError, WriteFailed

__all__ = [
    "atomic_path",
    "check_distinct_outputs",
    "check_output_path",
    "write_bytes_atomic",
    "private_folder",
    "private_file",
]

#: errno values that mean the device, not the path, is at fault (exit 4).
_DEVICE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})
#: A temporary name is ``.<name>.<8 random>.tmp``: keep it within NAME_MAX (255) however long
#: the target's own name is.
_TMP_NAME_ROOM = 200


_STREAM_ROOTS = ("/dev/", "/proc/")


def _is_stream(target: Path) -> bool:
    """A target to stream into: a FIFO, socket or device once links are followed, or a path
    under /dev or /proc (``/dev/stdout`` redirected to a file is still the caller's stream), or a
    link to one (``out -> /proc/self/fd/1``)."""
    if not os.path.lexists(target):
        return False
    hop = str(target)
    for _ in range(40):  # the kernel's own limit on a chain of links
        if os.path.abspath(hop).startswith(_STREAM_ROOTS):
            return True
        try:
            link = os.readlink(hop)
        except OSError:
            break
        hop = os.path.join(os.path.dirname(hop), link)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Validate an output path before any work is done; raise :class:`OutputError`."""
    target = Path(path)
    if len(os.fsencode(target.name)) > 255:
        raise OutputError(f"output file name is too long ({len(target.name)} characters)")
    try:
        return _checked(target)
    except OSError as exc:  # a path the file system refuses to even look at
        raise _failure(target, exc) from None


def _checked(target: Path) -> Path:
    if target.is_dir():
        raise OutputError(f"output path {target} is a directory")
    if _is_stream(target):
        return target
    real = Path(os.path.realpath(target))
    if real.is_file() and not real.stat().st_mode & 0o222:
        # Root may write anyway; a file its owner protected is not ours to replace.
        raise OutputError(f"output file {target} is write-protected: remove it or choose another")
    parent = real.parent if str(real.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {target.parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {target.parent} is not writable")
    return target


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (a writer may wrap it in its own exception)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _remove_temporaries(tmp: Path) -> None:
    """Remove ``tmp`` and the helper files a writer named after it (``<tmp stem>.*.tmp``, as the
    usage workbook's layout file): a signal can stop the writer before its own clean-up."""
    for path in [tmp, *tmp.parent.glob(glob.escape(tmp.stem) + ".*.tmp")]:
        with contextlib.suppress(OSError):
            path.unlink()


def _failure(target: Path, exc: OSError) -> OutputError | WriteFailed:
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "I/O error")
    if exc.errno in _DEVICE_ERRORS:
        return WriteFailed(f"cannot write {target}: {reason}")
    return OutputError(f"cannot write {target}: {reason}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success its bytes reach ``path`` (module doc)."""
    target = check_output_path(path)
    stream = _is_stream(target)
    # A stream's folder (/dev, /proc) is no place for a temporary file.
    real = target if stream else Path(os.path.realpath(target))
    folder = None if stream else real.parent
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=folder, prefix=f".{real.name[:_TMP_NAME_ROOM]}.", suffix=".tmp"
        )
    except OSError as exc:
        raise _failure(target, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if stream:
            with open(tmp, "rb") as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        else:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            mode = os.stat(real).st_mode & 0o777 if real.exists() else _umask_mode()
            os.chmod(tmp, mode)
            os.replace(tmp, real)
    except BaseException as exc:
        _remove_temporaries(tmp)
        cause = _os_error(exc) if isinstance(exc, Exception) else None
        if cause is not None and not isinstance(exc, GenerectError):
            raise _failure(target, cause) from None
        raise
    else:
        _remove_temporaries(tmp)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two output paths would land in the same file.

    Existing files are compared by identity (symlinks and hard links included); otherwise the
    resolved folders are compared by identity and the names case-insensitively, because on the
    default file systems of macOS and Windows ``Report.pdf`` and ``report.pdf`` are one file.
    """
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    if os.path.normcase(str(ra)) == os.path.normcase(str(rb)):
        return True
    if ra.name.casefold() != rb.name.casefold():
        return False
    try:
        return os.path.samefile(ra.parent, rb.parent)
    except OSError:
        return os.path.normcase(str(ra.parent)) == os.path.normcase(str(rb.parent))


def check_distinct_outputs(paths: dict[str, str | os.PathLike[str] | None]) -> None:
    """Refuse (``OutputError``) two outputs of one command that resolve to the same file.

    ``paths`` maps an option name (for the message) to its path; ``None`` entries are skipped.
    Call it before any work, so nothing is written.
    """
    given = [(name, Path(p)) for name, p in paths.items() if p]
    for i, (name_a, a) in enumerate(given):
        for name_b, b in given[i + 1 :]:
            if _same_file(a, b):
                raise OutputError(
                    f"{name_a} {a} and {name_b} {b} are the same file: "
                    "give each output its own path"
                )


def private_folder(folder: Path, *, tighten: bool = True) -> None:
    """Create ``folder`` readable by its owner only (0700): the ledger, balances and customers
    kept in the cache are nobody else's business. ``tighten`` also narrows an existing folder
    that an older version left open."""
    missing = []
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        missing.append(ancestor)
        ancestor = ancestor.parent
    for each in reversed(missing):  # every folder made here is private, not only the last
        each.mkdir(mode=0o700, exist_ok=True)
    if tighten:
        with contextlib.suppress(OSError):
            if folder.stat().st_mode & 0o077:
                folder.chmod(0o700)


def private_file(path: Path) -> None:
    """Make an existing file readable and writable by its owner only (0600)."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
