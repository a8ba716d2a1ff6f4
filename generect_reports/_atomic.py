"""Atomic file output: write a temporary file beside the target, then rename it into place.

A failure at any point leaves an existing file untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputError

__all__ = ["atomic_path", "check_distinct_outputs", "check_output_path", "write_bytes_atomic"]


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Validate an output path before any work is done; raise :class:`OutputError`."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"output path {target} is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {parent} is not writable")
    return target


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``."""
    target = check_output_path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        mode = os.stat(target).st_mode & 0o777 if target.exists() else _umask_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, PermissionError):
            raise OutputError(f"cannot write {target}: permission denied") from None
        raise


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
