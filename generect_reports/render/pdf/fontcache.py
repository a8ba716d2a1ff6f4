"""TrueType font subsets for the PDF, kept across runs in the user cache folder.

Embedding a font in a PDF means subsetting it with fontTools, a full pass over the font's tables
(about 0.1 s for DejaVu Sans) for every font of every report, although a monthly report keeps
using the same few dozen glyphs. While :func:`cached_font_subsets` is active, matplotlib's
subsetting answers from a cache keyed by the font file's content, the glyph set and the library
versions, so the same input still gives the same bytes. An entry carries a checksum and is
ignored if it does not match; a cache that cannot be read or written is skipped: it may make a
run faster, never make it fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from generect_reports._atomic import private_folder

__all__ = ["cached_font_subsets", "subset_cache_dir", "defer_subsetter_import", "MAX_ENTRIES"]

log = logging.getLogger(__name__)

#: Entries kept; the oldest are removed past this (a subset is some 20 to 60 KiB).
MAX_ENTRIES = 200
_MAGIC = b"GRFS1\n"

_lock = threading.Lock()
_threads: dict[int, Path] = {}  # thread id -> cache folder, while active
_originals: dict[str, Callable[..., Any]] = {}
_digests: dict[tuple[str, int, int], str] = {}


def defer_subsetter_import() -> None:
    """Have ``fontTools.subset`` loaded when it is first used rather than when matplotlib's
    PDF backend is imported.

    The backend imports the subsetter at once (about 70 ms: every OpenType table class), but
    with the subsets in this cache a warm report never calls it. Call this before importing
    the backend; the module is then a stand-in (the standard library's ``LazyLoader``) that
    runs the real import on its first attribute access, from the first subset not cached.
    """
    if "fontTools.subset" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("fontTools.subset")
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fontTools.subset"] = module
    loader.exec_module(module)
    sys.modules["fontTools"].subset = module  # type: ignore[attr-defined]


def _load_subsetter() -> None:
    # The first use of a deferred subsetter runs its import; done here under the lock so two
    # threads never run it at once (LazyLoader is not thread-safe before Python 3.12).
    module = sys.modules.get("fontTools.subset")
    if module is not None:
        with _lock:
            getattr(module, "Options", None)


def subset_cache_dir() -> Path:
    """The folder of cached subsets: ``font-subsets`` in the user cache folder
    (``GENERECT_REPORTS_CACHE_DIR`` overrides the latter)."""
    from generect_reports.fetch.cache import default_cache_dir

    return default_cache_dir() / "font-subsets"


class _Blob:
    """A subset already serialised: what ``font_as_file`` would have written."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Subset(NamedTuple):
    font: Any
    glyph_index_map: dict[int, int]


def _font_digest(path: str) -> str:
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    digest = _digests.get(key)
    if digest is None:
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        _digests[key] = digest
    return digest


def _entry_key(fontfile: Any, glyphs: Iterable[int]) -> str:
    import fontTools
    import matplotlib

    path = os.fspath(getattr(fontfile, "path", fontfile))
    face = int(getattr(fontfile, "face_index", 0) or 0)
    # The versions are part of the key: another fontTools may subset differently.
    text = json.dumps(
        [
            _MAGIC.decode().strip(),
            matplotlib.__version__,
            fontTools.version,
            _font_digest(path),
            face,
            sorted(int(g) for g in glyphs),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _read(path: Path) -> _Subset | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    if len(raw) < head + 4 or not raw.startswith(_MAGIC):
        return None
    body = raw[head:]
    if hashlib.sha256(body).digest() != raw[len(_MAGIC) : head]:
        log.debug("font subset cache entry %s is corrupt; ignored", path.name)
        return None
    try:
        size = int.from_bytes(body[:4], "big")
        pairs = json.loads(body[4 : 4 + size])
        gim = {int(a): int(b) for a, b in pairs}
    except (ValueError, TypeError):
        return None
    return _Subset(_Blob(body[4 + size :]), gim)


def _write(folder: Path, path: Path, entry: _Subset) -> None:
    meta = json.dumps(sorted(entry.glyph_index_map.items())).encode()
    body = len(meta).to_bytes(4, "big") + meta + entry.font.data
    try:
        private_folder(folder)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".subset.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + hashlib.sha256(body).digest() + body)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(folder)
    except OSError as exc:
        log.debug("font subset cache not written: %s", exc)


def _prune(folder: Path) -> None:
    entries = [(p.stat().st_mtime_ns, p) for p in folder.glob("*.bin")]
    for _, old in sorted(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
        with contextlib.suppress(OSError):
            old.unlink()


def _cached_get_glyphs_subset(fontfile: Any, glyphs: Any) -> Any:
    original = _originals["get_glyphs_subset"]
    folder = _threads.get(threading.get_ident())
    if folder is None:  # another thread's PDF or PostScript: matplotlib's own path
        _load_subsetter()
        return original(fontfile, glyphs)
    glyphs = set(glyphs)
    path = folder / f"{_entry_key(fontfile, glyphs)}.bin"
    entry = _read(path)
    if entry is None:
        _load_subsetter()
        with original(fontfile, glyphs) as fresh:
            data = _originals["font_as_file"](fresh.font).getvalue()
            entry = _Subset(_Blob(data), {int(k): int(v) for k, v in fresh.glyph_index_map.items()})
        _write(folder, path, entry)
    return contextlib.nullcontext(entry)


def _cached_font_as_file(font: Any) -> io.BytesIO:
    if isinstance(font, _Blob):
        return io.BytesIO(font.data)
    return _originals["font_as_file"](font)


@contextlib.contextmanager
def cached_font_subsets(folder: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Serve matplotlib's TrueType subsetting from the cache in this thread while active.

    Only the two module functions matplotlib's PDF backend calls are replaced, and only for
    the thread that entered the context; if this matplotlib does not have them, nothing is
    cached.
    """
    from matplotlib.backends import _backend_pdf_ps as pdf_ps

    if not (
        callable(getattr(pdf_ps, "get_glyphs_subset", None))
        and callable(getattr(pdf_ps, "font_as_file", None))
    ):
        yield
        return
    me = threading.get_ident()
    with _lock:
        if me in _threads:  # nested: the outer context serves
            nested = True
        else:
            nested = False
            _threads[me] = Path(folder) if folder is not None else subset_cache_dir()
            if pdf_ps.get_glyphs_subset is not _cached_get_glyphs_subset:
                # Kept after the context ends: a thread still inside a call needs them.
                _originals["get_glyphs_subset"] = pdf_ps.get_glyphs_subset
                _originals["font_as_file"] = pdf_ps.font_as_file
                pdf_ps.get_glyphs_subset = _cached_get_glyphs_subset
                pdf_ps.font_as_file = _cached_font_as_file
    try:
        yield
    finally:
        if not nested:
            with _lock:
                del _threads[me]
                if not _threads:
                    pdf_ps.get_glyphs_subset = _originals["get_glyphs_subset"]
                    pdf_ps.font_as_file = _originals["font_as_file"]
