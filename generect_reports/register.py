"""The close register: a JSON file the user names (``[journal] register``) holding each closed
month's booked figures. It is the books, not a cache: it is never rebuilt or rewritten behind
the user's back, an unreadable register is an error, and every write is atomic.

A base module: it imports only other base modules.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._atomic import write_bytes_atomic
from .errors import ConfigError

__all__ = [
    "REGISTER_VERSION",
    "read_register",
    "write_register",
    "resolve_register",
    "register_lock",
]

#: Seconds a close waits for another close of the same register before it gives up.
LOCK_TIMEOUT = 60.0

REGISTER_VERSION = 1


def resolve_register(name: str, config_path: Path | None) -> Path:
    """The register's path: ``name`` relative to the configuration file's folder."""
    path = Path(name).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = config_path.resolve().parent / path
    return path


def read_register(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The closed months (``{"YYYY-MM": record}``); a register not yet written is empty."""
    file = Path(path)
    if not file.exists():
        return {}
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the close register {file}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"the close register {file} is not valid JSON: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("version") != REGISTER_VERSION
        or not isinstance(doc.get("months"), dict)
    ):
        raise ConfigError(
            f"the close register {file} is not one this version writes "
            f"(version {REGISTER_VERSION} with a months table)"
        )
    return {str(k): dict(v) for k, v in doc["months"].items()}


def write_register(path: str | os.PathLike[str], months: dict[str, dict[str, Any]]) -> Path:
    """Write the register atomically (months in order)."""
    doc = {"version": REGISTER_VERSION, "months": dict(sorted(months.items()))}
    return write_bytes_atomic(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))


@contextlib.contextmanager
def register_lock(path: str | os.PathLike[str], timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the register's lock (``<register>.lock`` beside it) from reading it to writing it,
    so two closes run one after the other: the second sees the month closed."""
    from filelock import FileLock, Timeout

    lock = Path(f"{os.fspath(path)}.lock")
    try:
        with FileLock(str(lock), timeout=timeout):
            yield
    except Timeout:
        raise ConfigError(
            f"the close register {path} is locked by another run for more than {timeout:g}s"
        ) from None
