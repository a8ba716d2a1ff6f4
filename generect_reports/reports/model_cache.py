"""Monthly reports kept between runs, reused when everything they are built from is unchanged.

A roll-up of many accounts builds every account's full monthly report: about a tenth of a second
of one core each. When an account's data have not changed since the last run (a closed month,
read from the usage cache), building it again gives the same report, so the report built then
is read back instead.

The key is a SHA-256 over everything the report is built from:

- the code: the bytes of every file of this package, its bundled templates and data (hashed
  once per process), and the versions of Python, pandas and NumPy;
- the report's template folder, file by file, when the settings name one;
- the settings (every field), the month, the source's timezone and kind;
- the account's plan limit and the API's month (what the budget section reads of ``/me/``),
  its limit history and purchases;
- the report's daily and monthly usage: values (``pandas.util.hash_pandas_object``), index,
  columns, dtypes and ``attrs``.

The time the data were read (``attrs["fetched_at"]``) is left out only where the report does not
depend on it: a month already over at that time, from days inside it (then the only use of that
time is the stamp "data as of", which a reused report takes from this run's data). A month still
running, or one seen at a look-back time (``ReportSettings.as_of``: then that time is in the
key), is keyed on it or not kept. A report whose source asks more than its usage (a local
source, a ledger to value, tie out or split) is not kept, nor is one with any input that cannot
be hashed exactly (the key then says nothing, and the report is built).

Entries are files in ``reports-v1/`` of the usage cache's folder
(:func:`~generect_reports.fetch.cache.default_cache_dir`), private to the user (0600 in a 0700
folder), each written to a temporary file and renamed into place. An entry holds the key, a
SHA-256 of its payload and the payload (the pickled report); one that is torn, corrupt or
unreadable is ignored, and the report built again overwrites it. An entry is unpickled only
when it is the user's own file and no one else may write it. The folder is bounded
(:data:`DEFAULT_MAX_BYTES`): beyond it the entries used least recently are removed. Nothing in an
entry is secret: the report holds no token and no webhook address.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import functools
import hashlib
import logging
import os
import pickle
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from generect_reports.fetch.account import AccountStatus
    from generect_reports.fetch.plan import ReportUsage
    from generect_reports.periods import Month
    from generect_reports.reports.assemble import ReportSettings
    from generect_reports.reports.monthly import MonthlyReport

log = logging.getLogger("generect_reports")

__all__ = ["ReportCache", "code_fingerprint", "DEFAULT_MAX_BYTES", "FOLDER"]

#: The folder of the entries, inside the usage cache's folder (the version is the format's).
FOLDER = "reports-v1"
#: The most bytes the entries may take (about 22 kB each: some 3,000 reports).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: A template folder larger than this is not hashed: its reports are not kept.
MAX_TEMPLATE_BYTES = 16 * 1024 * 1024

_MAGIC = b"GRRC1\n"
#: ``attrs`` that say how the data were read, not what they are: never in a key. (The time they
#: were read is handled on its own: see the module.)
_READ_ATTRS = frozenset({"requests"})


class _Unhashable(Exception):
    """An input that cannot be hashed exactly: its report is not kept."""


def _tree_files(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        yield path.relative_to(root).as_posix(), path


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of this package's files, its bundled templates and data, and the versions of
    Python, pandas and NumPy: what the reports' figures are computed by (once per process)."""
    from generect_reports._resources import data_file, templates_dir

    package = Path(__file__).resolve().parent.parent
    roots = {"package": package, "templates": templates_dir()}
    data = Path(str(data_file("sample_usage.csv"))).parent
    if data.is_dir():
        roots["data"] = data
    h = hashlib.sha256()
    for version in (sys.version, pd.__version__, np.__version__):
        _put(h, b"v", version.encode())
    for name, root in roots.items():
        for rel, path in _tree_files(root):
            _put(h, b"f", f"{name}/{rel}".encode())
            _put(h, b"b", path.read_bytes())
    return h.hexdigest()


def _template_fingerprint(template: str | os.PathLike[str]) -> str:
    """SHA-256 of a template folder's files (or of one file), names and bytes."""
    root = Path(template)
    files = [("", root)] if root.is_file() else list(_tree_files(root))
    if not root.exists() or sum(p.stat().st_size for _, p in files) > MAX_TEMPLATE_BYTES:
        raise _Unhashable(f"template {template}")
    h = hashlib.sha256()
    for rel, path in files:
        _put(h, b"f", rel.encode())
        _put(h, b"b", path.read_bytes())
    return h.hexdigest()


def _put(h: Any, tag: bytes, data: bytes) -> None:
    """One tagged, length-prefixed item: no two different inputs give the same bytes."""
    h.update(tag)
    h.update(struct.pack("<Q", len(data)))
    h.update(data)


def _frame(h: Any, frame: pd.DataFrame, *, skip_attrs: frozenset[str]) -> None:
    _put(h, b"F", str(frame.shape).encode())
    _value(h, [str(c) for c in frame.columns])
    _value(h, [str(t) for t in frame.dtypes])
    _value(h, [str(frame.index.dtype), frame.index.name])
    try:
        values = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    except TypeError as exc:  # a cell that pandas cannot hash (a list, say)
        raise _Unhashable("frame values") from exc
    _put(h, b"h", values.tobytes())
    _value(h, {k: v for k, v in frame.attrs.items() if k not in skip_attrs})


def _value(h: Any, value: Any) -> None:
    """Feed ``value`` to ``h`` exactly, or raise :class:`_Unhashable`."""
    if value is None:
        _put(h, b"N", b"")
    elif isinstance(value, bool | np.bool_):
        _put(h, b"?", b"1" if value else b"0")
    elif isinstance(value, int | np.integer) and not isinstance(value, enum.Enum):
        _put(h, b"i", str(int(value)).encode())
    elif isinstance(value, float | np.floating):
        _put(h, b"d", float(value).hex().encode())
    elif isinstance(value, str):
        _put(h, b"s", value.encode())
    elif isinstance(value, bytes):
        _put(h, b"y", value)
    elif isinstance(value, decimal.Decimal):
        _put(h, b"D", str(value).encode())
    elif value is pd.NaT:
        _put(h, b"T", b"NaT")
    elif isinstance(value, pd.Timestamp):
        _put(h, b"T", f"{value.isoformat()}|{value.tz}".encode())
    elif isinstance(value, dt.datetime | dt.date | dt.time):
        zone = getattr(value, "tzinfo", None)
        _put(h, b"t", f"{type(value).__name__}|{value.isoformat()}|{zone}".encode())
    elif isinstance(value, pd.Timedelta | dt.timedelta):
        _put(h, b"e", str(pd.Timedelta(value).value).encode())
    elif isinstance(value, os.PathLike):
        _put(h, b"p", os.fspath(value).encode())
    elif isinstance(value, enum.Enum):
        _put(h, b"E", f"{type(value).__qualname__}.{value.name}".encode())
        _value(h, value.value)
    elif isinstance(value, pd.DataFrame):
        _frame(h, value, skip_attrs=frozenset())
    elif isinstance(value, pd.Series):
        _frame(h, value.to_frame(), skip_attrs=frozenset())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _put(h, b"C", f"{type(value).__module__}.{type(value).__qualname__}".encode())
        for f in dataclasses.fields(value):
            _put(h, b"k", f.name.encode())
            _value(h, getattr(value, f.name))
    elif isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            sub = hashlib.sha256()
            _value(sub, k)
            _value(sub, v)
            items.append(sub.digest())
        _put(h, b"M", b"".join(sorted(items)))
    elif isinstance(value, list | tuple):
        _put(h, b"L" if isinstance(value, list) else b"U", str(len(value)).encode())
        for item in value:
            _value(h, item)
    elif isinstance(value, set | frozenset):
        parts = []
        for item in value:
            sub = hashlib.sha256()
            _value(sub, item)
            parts.append(sub.digest())
        _put(h, b"S", b"".join(sorted(parts)))
    else:
        raise _Unhashable(type(value).__qualname__)


def _closed(month: Month, usage: ReportUsage) -> bool:
    """True when ``month`` was over at the time its data were read and no day of the data lies
    after it: the report is then the same whenever after the month it is built."""
    fetched = usage.daily.attrs.get("fetched_at")
    timezone = usage.daily.attrs.get("timezone") or "UTC"
    if fetched is None or not len(usage.daily):
        return False
    at = pd.Timestamp(fetched)
    at = at.tz_localize(timezone) if at.tzinfo is None else at.tz_convert(timezone)
    last_row = usage.daily["period_start"].max()
    return bool(at.date() > month.last_day and pd.Timestamp(last_row).date() <= month.last_day)


def report_key(
    *,
    month: Month,
    settings: ReportSettings,
    timezone: str,
    kind: str,
    account: AccountStatus,
    limits: Mapping[str, float] | None,
    purchases: list[dict[str, str]] | None,
    usage: ReportUsage,
) -> str | None:
    """The key of the report built from these inputs (see the module), or None when it must
    not be kept: a month still running at the time its data were read, or an input that cannot
    be hashed exactly."""
    look_back = settings.as_of is not None
    if not look_back and not _closed(month, usage):
        return None
    # The read time is the report's only as a stamp for a closed month (restamped on reuse);
    # at a look-back time the frames carry that time, which is in the settings too.
    skip = _READ_ATTRS if look_back else _READ_ATTRS | {"fetched_at"}
    h = hashlib.sha256()
    try:
        _put(h, b"code", code_fingerprint().encode())
        if settings.template is not None:
            _put(h, b"template", _template_fingerprint(settings.template).encode())
        _value(h, settings)
        _value(h, [str(month), timezone, kind, account.monthly_limit, account.api_month])
        _value(h, [dict(limits) if limits is not None else None, purchases])
        _frame(h, usage.daily, skip_attrs=skip)
        # The monthly frame's read time is never read by the report (its days are the daily
        # frame's, as of that frame's time).
        _frame(h, usage.monthly, skip_attrs=_READ_ATTRS | {"fetched_at"})
    except (_Unhashable, OSError) as exc:
        log.debug("report of %s not kept: %s cannot be hashed", month, exc)
        return None
    except Exception as exc:  # the cache may make a run faster, never make it fail
        log.debug("report of %s not kept: %s", month, type(exc).__name__)
        return None
    return h.hexdigest()


def _restamp(value: Any, old: pd.Timestamp, new: pd.Timestamp, requests: Any) -> Any:
    """``value`` with every instant equal to ``old`` (the time the cached report's data were
    read) replaced by ``new``: the report fields and the frames' ``attrs``."""
    if isinstance(value, pd.Timestamp) and value is not pd.NaT:
        return new if value == old and str(value.tz) == str(old.tz) else value
    if isinstance(value, pd.DataFrame):
        if value.attrs:
            out = value.copy(deep=False)
            out.attrs = {k: _restamp(v, old, new, requests) for k, v in value.attrs.items()}
            if "requests" in out.attrs:
                out.attrs["requests"] = requests
            return out
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            was = getattr(value, f.name)
            now = _restamp(was, old, new, requests)
            if now is not was:
                changes[f.name] = now
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, dict):
        out_dict = {k: _restamp(v, old, new, requests) for k, v in value.items()}
        same = all(out_dict[k] is value[k] for k in value)
        return value if same else out_dict
    return value


class ReportCache:
    """Monthly reports on disk, keyed by everything they are built from (see the module).

    ``ReportCache(directory)`` keeps them in ``directory/reports-v1`` (default: the usage
    cache's folder). ``hits`` counts the reports read back, ``stored`` those written.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        from generect_reports.fetch.cache import default_cache_dir

        base = Path(directory) if directory is not None else default_cache_dir()
        self.directory = base / FOLDER
        self._base = base
        self.max_bytes = max_bytes
        self.hits = 0
        self.stored = 0
        self._usable: bool | None = None
        self._bytes: int | None = None
        self._lock = threading.Lock()  # the roll-up asks from its fetching threads

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.report"

    def get(self, key: str, usage: ReportUsage, settings: ReportSettings) -> MonthlyReport | None:
        """The report kept under ``key``, stamped with the time ``usage`` was read; None when
        there is none, or it cannot be read (it is then rebuilt and rewritten)."""
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                # Only an entry this user wrote and nobody else may change is unpickled.
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    log.debug("report cache entry %s is not this user's own: ignored", path.name)
                    return None
                blob = fh.read()
        except OSError:
            return None
        rep = self._decode(key, blob)
        if rep is None:
            log.debug("report cache entry %s is unreadable: rebuilding it", path.name)
            return None
        try:
            os.utime(path)  # used now: the last to be pruned
        except OSError:
            pass
        if settings.as_of is None:
            from generect_reports.analysis.usage import _as_of

            try:
                new = _as_of(usage.daily, None)
                rep = _restamp(rep, rep.as_of, new, usage.daily.attrs.get("requests"))
            except Exception as exc:  # built again instead
                log.debug("report cache entry %s not restamped: %s", path.name, exc)
                return None
        with self._lock:
            self.hits += 1
        return rep

    @staticmethod
    def _decode(key: str, blob: bytes) -> MonthlyReport | None:
        from generect_reports.reports.monthly import MonthlyReport

        head = _MAGIC + key.encode() + b"\n"
        if not blob.startswith(head) or len(blob) < len(head) + 65:
            return None
        digest, payload = blob[len(head) : len(head) + 64], blob[len(head) + 65 :]
        if hashlib.sha256(payload).hexdigest().encode() != digest:
            return None
        try:
            rep = pickle.loads(payload)
        except Exception:  # a payload that unpickles badly is rebuilt, whatever it raises
            return None
        return rep if isinstance(rep, MonthlyReport) else None

    def put(self, key: str, rep: MonthlyReport) -> None:
        """Keep ``rep`` under ``key``; a folder that cannot be written is skipped."""
        if self._usable is False:
            return
        try:
            payload = pickle.dumps(rep, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # not kept, never a failure of the run
            log.debug("report of %s not kept: %s", rep.month, type(exc).__name__)
            return
        blob = (
            _MAGIC
            + key.encode()
            + b"\n"
            + hashlib.sha256(payload).hexdigest().encode()
            + b"\n"
            + payload
        )
        with self._lock:
            self._write(key, blob)

    def _write(self, key: str, blob: bytes) -> None:
        from generect_reports._atomic import private_folder
        from generect_reports.fetch.cache import _platform_cache_dir

        if self._usable is False:
            return
        try:
            if self._usable is None:
                # The platform's folder is ours to tighten; one named in the environment is the
                # user's to set, so only what is made inside it is private.
                private_folder(self._base, tighten=self._base == _platform_cache_dir())
                private_folder(self.directory)
                self._usable = True
            # mkstemp makes the file 0600; renamed into place whole. No fsync: an entry torn
            # by a crash fails its checksum and is rebuilt.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(blob)
                os.replace(tmp, self._path(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            self._usable = False
            log.info("report cache at %s is not writable (%s): reports are not kept",
                     self.directory, type(exc).__name__)  # fmt: skip
            return
        self.stored += 1
        if self._bytes is None:
            self._bytes = self._size()
        else:
            self._bytes += len(blob)
        if self._bytes > self.max_bytes:
            self.prune()

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        try:
            paths = list(self.directory.glob("*.report"))
        except OSError:
            return []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((st.st_mtime, st.st_size, path))
        return out

    def _size(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def prune(self) -> None:
        """Remove the entries used least recently until they take at most three quarters of
        :attr:`max_bytes`."""
        entries = sorted(self._entries(), key=lambda e: (e[0], e[2].name))
        total = sum(size for _, size, _ in entries)
        goal = self.max_bytes * 3 // 4
        for _, size, path in entries:
            if total <= goal:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
        self._bytes = total
