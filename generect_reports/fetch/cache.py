"""On-disk store of closed buckets, so re-running a report for past months asks the API nothing.

SQLite in the user cache folder (``GENERECT_REPORTS_CACHE_DIR`` overrides). Rows are keyed by a
hash of token and base URL plus the query; the token itself is never stored. A cache that is
corrupt is rebuilt, one that cannot be written is skipped with a warning: the cache may make a
run faster, never make it fail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import warnings
from pathlib import Path
from typing import Any

from .._atomic import private_file, private_folder
from ..errors import GenerectWarning

__all__ = ["UsageCache", "default_cache_dir"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL
)
"""


def default_cache_dir() -> Path:
    """``GENERECT_REPORTS_CACHE_DIR`` or the platform's user cache folder."""
    override = os.environ.get("GENERECT_REPORTS_CACHE_DIR")
    if override:
        return Path(override)
    return _platform_cache_dir()


def _platform_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("generect-reports", appauthor=False))


def _key(account_key: str, query: dict[str, str]) -> str:
    text = account_key + "\0" + json.dumps(query, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class UsageCache:
    """A small key-value store of API ``data`` objects for closed buckets."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / "usage-v1.sqlite3"
        self._conn: sqlite3.Connection | None = None
        self._disabled = False
        self.hits = 0
        self.misses = 0

    def _warn(self, message: str) -> None:
        warnings.warn(message, GenerectWarning, stacklevel=3)
        log.warning(message)

    def _connect(self) -> sqlite3.Connection | None:
        if self._disabled:
            return None
        if self._conn is not None:
            return self._conn
        for attempt in (1, 2):
            try:
                # The platform's folder is ours to tighten; one named in the environment is the
                # user's to set, so only the files inside it are made private.
                private_folder(self.directory, tighten=self.directory == _platform_cache_dir())
                conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
                # SQLite gives its -wal and -shm files the database's mode: 0600 for all three.
                for suffix in ("", "-wal", "-shm"):
                    private_file(Path(str(self.path) + suffix))
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                conn.execute("SELECT count(*) FROM buckets").fetchone()
                self._conn = conn
                return conn
            except sqlite3.DatabaseError as exc:
                if attempt == 1 and self._is_corrupt(exc):
                    self._warn(f"usage cache {self.path} was unreadable and has been rebuilt")
                    self._discard()
                    continue
                self._disable(exc)
                return None
            except OSError as exc:
                self._disable(exc)
                return None
        return None

    @staticmethod
    def _is_corrupt(exc: Exception) -> bool:
        text = str(exc).lower()
        return "not a database" in text or "malformed" in text or "corrupt" in text

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            try:
                Path(str(self.path) + suffix).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass

    def _disable(self, exc: Exception) -> None:
        self._disabled = True
        self._warn(
            f"usage cache at {self.directory} is not usable ({type(exc).__name__}); "
            "continuing without it"
        )

    def get(self, account_key: str, query: dict[str, str]) -> dict[str, Any] | None:
        """The stored ``data`` for this query, or None."""
        conn = self._connect()
        if conn is None:
            self.misses += 1
            return None
        try:
            row = conn.execute(
                "SELECT payload FROM buckets WHERE key = ?", (_key(account_key, query),)
            ).fetchone()
            value = json.loads(row[0]) if row else None
        except (sqlite3.DatabaseError, ValueError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and self._is_corrupt(exc):
                self.close()
                self._discard()
                self._warn(f"usage cache {self.path} was unreadable and has been rebuilt")
            value = None
        if isinstance(value, dict):
            self.hits += 1
            return value
        self.misses += 1
        return None

    def get_many(
        self, account_key: str, queries: list[dict[str, str]]
    ) -> list[dict[str, Any] | None]:
        """The stored ``data`` of each query (None where absent), in one statement per 500."""
        conn = self._connect()
        if conn is None or not queries:
            return [None] * len(queries)
        keys = [_key(account_key, q) for q in queries]
        found: dict[str, Any] = {}
        try:
            for lo in range(0, len(keys), 500):
                chunk = keys[lo : lo + 500]
                marks = ",".join("?" * len(chunk))
                for key, payload in conn.execute(
                    f"SELECT key, payload FROM buckets WHERE key IN ({marks})", chunk
                ):
                    found[key] = payload
        except sqlite3.DatabaseError:
            return [self.get(account_key, q) for q in queries]  # get() handles the repair
        out: list[dict[str, Any] | None] = []
        for key in keys:
            try:
                value = json.loads(found[key]) if key in found else None
            except ValueError:
                value = None
            out.append(value if isinstance(value, dict) else None)
        return out

    def put(self, account_key: str, query: dict[str, str], data: dict[str, Any]) -> None:
        """Store ``data`` for a closed bucket; failures only warn."""
        conn = self._connect()
        if conn is None:
            return
        try:
            conn.execute(
                "INSERT OR REPLACE INTO buckets (key, payload) VALUES (?, ?)",
                (_key(account_key, query), json.dumps(data, sort_keys=True)),
            )
        except sqlite3.DatabaseError as exc:
            self.close()
            self._disable(exc)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
