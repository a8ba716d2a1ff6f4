"""The report look: ``theme.toml``, ``report.mplstyle`` and the email templates.

Loaded from the bundled ``report_templates/`` or from a user's copy (``--template DIR``); a file
missing from a user's folder falls back to the bundled one. Prices are not the look: they live in
the folder's :class:`~generect_reports.money.PriceBook` (``prices.toml``), which the theme
carries for the renderers that show them (``Theme.prices`` and friends read it).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._resources import read_toml
from .errors import TemplateError
from .money import OPERATION_ALIASES, PriceBook, expand_aliases, load_price_book
from .templates import bundled_template_dir

__all__ = [
    "Theme",
    "load_theme",
    "bundled_template_dir",
    "OPERATION_ALIASES",
    "expand_aliases",
    "font_chain",
    "FALLBACK_FONTS",
]

#: Tried in order after the theme's font for glyphs it lacks (Debian: fonts-dejavu-core,
#: fonts-noto-core; fonts-noto-cjk adds Chinese, Japanese and Korean).
FALLBACK_FONTS = (
    "DejaVu Sans",
    "Noto Sans",
    "Noto Sans Symbols",
    "Noto Sans Symbols 2",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
    "Noto Sans CJK JP",
    "Noto Sans Mono",
)


def font_chain(family: str | list[str] | None = None) -> list[str]:
    """The font family list for matplotlib: ``family`` first, then :data:`FALLBACK_FONTS`,
    keeping only fonts installed here (matplotlib warns about every missing family)."""
    from matplotlib import font_manager

    wanted = [family] if isinstance(family, str) else list(family or [])
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not {*wanted, *FALLBACK_FONTS} <= installed and _add_fonts_matplotlib_missed():
        installed = {f.name for f in font_manager.fontManager.ttflist}
    chain: list[str] = []
    for name in [*wanted, *FALLBACK_FONTS]:
        if name not in chain and (name in installed or name in wanted):
            chain.append(name)
    return chain or ["DejaVu Sans"]


@functools.cache
def _add_fonts_matplotlib_missed() -> int:
    """Add the system font files missing from matplotlib's font list; return how many.

    matplotlib builds its list once and keeps it in its cache folder, so fonts installed after a
    first run stay invisible to it for good. Rescanning costs about 15 ms, so it runs at most once
    a process and only when the chain names a font the list lacks; a list that gained fonts is
    written back, so later processes see them without rescanning.
    """
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {os.path.realpath(f.fname) for f in manager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts(fontext="ttf"):
        if os.path.realpath(path) in known:
            continue
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # unreadable or not a font after all
            continue
        added += 1
    if added:
        cache = Path(
            matplotlib.get_cachedir(), f"fontlist-v{font_manager.FontManager.__version__}.json"
        )
        try:
            font_manager.json_dump(manager, cache)
        except OSError:  # a read-only cache folder: this process still has the fonts
            pass
    return added


@dataclass(frozen=True)
class Theme:
    """Everything an exporter needs to know about the look."""

    folder: Path
    text: dict[str, str]
    fonts: dict[str, Any]
    colors: dict[str, Any]
    formats: dict[str, str]
    page: dict[str, str]
    #: The template folder's prices (``prices.toml``): every cost is computed from it.
    price_book: PriceBook = field(default_factory=PriceBook)

    # The price fields the theme used to hold, read from the price book for older callers.
    @property
    def prices(self) -> dict[str, float]:
        """List prices per credit by operation (floats, every alias spelling included)."""
        return self.price_book.prices

    @property
    def tier_multiplier(self) -> float:
        return float(self.price_book.multiplier)

    @property
    def currency(self) -> str:
        return self.price_book.currency

    @property
    def aliases(self) -> dict[str, str]:
        """Other spelling -> the name it stands for (see ``money.OPERATION_ALIASES``)."""
        return dict(self.price_book.aliases)

    def file(self, name: str) -> Path:
        """A template file from the user's folder, or the bundled one."""
        own = self.folder / name
        return own if own.is_file() else bundled_template_dir() / name

    def operation_colors(self, operations: list[str]) -> dict[str, str]:
        """A fixed colour per operation: named ones from the theme, others from the palette in
        sorted order, so the same operation has the same colour in every chart and file."""
        named: dict[str, str] = expand_aliases(
            dict(self.colors.get("operations", {})), {**OPERATION_ALIASES, **self.aliases}
        )
        palette = [c for c in self.colors.get("palette", []) if c not in named.values()] or [
            "7F7F7F"
        ]
        out: dict[str, str] = {}
        spare = 0
        for op in sorted(operations):
            if op in named:
                out[op] = named[op]
            else:
                out[op] = palette[spare % len(palette)]
                spare += 1
        return out

    @property
    def paper(self) -> str:
        size = str(self.page.get("size", "A4")).lower()
        if size not in ("a4", "letter"):
            raise TemplateError(f"theme page.size must be A4 or Letter, not {size!r}")
        return size


#: The one TOML reader (kept under its old name for the modules that import it from here).
_read_toml = read_toml


def load_theme(template: str | os.PathLike[str] | None = None) -> Theme:
    """Load the theme from ``template`` (a folder) or the bundled templates."""
    bundled = bundled_template_dir()
    folder = Path(template) if template is not None else bundled
    if not folder.is_dir():
        raise TemplateError(f"template folder {folder} does not exist")
    base = _read_toml(bundled / "theme.toml")
    own_theme = folder / "theme.toml"
    if own_theme.is_file() and folder != bundled:
        for section, values in _read_toml(own_theme).items():
            if isinstance(values, dict):
                base.setdefault(section, {}).update(values)
    theme = Theme(
        folder=folder,
        text=base.get("text", {}),
        fonts=base.get("fonts", {}),
        colors=base.get("colors", {}),
        formats=base.get("formats", {}),
        page=base.get("page", {}),
        price_book=load_price_book(folder),
    )
    # Read the property for its check only: a bad page.size raises TemplateError here, early.
    _ = theme.paper
    return theme
