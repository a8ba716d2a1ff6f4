"""The report look: ``theme.toml``, ``prices.toml``, ``report.mplstyle`` and the email templates.

Loaded from the bundled ``report_templates/`` or from a user's copy (``--template DIR``); a file
missing from a user's folder falls back to the bundled one.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import TemplateError

__all__ = [
    "Theme",
    "load_theme",
    "bundled_template_dir",
    "OPERATION_ALIASES",
    "expand_aliases",
    "font_chain",
    "FALLBACK_FONTS",
]

_V = TypeVar("_V")

#: Spellings of one operation: the API names operations after their endpoints
#: (``/email/validate/`` gives ``email_validate``) while price lists say ``email_validation``.
#: Either spelling is priced and coloured as the other; ``[aliases]`` in ``prices.toml`` or
#: ``theme.toml`` adds more.
OPERATION_ALIASES: dict[str, str] = {"email_validate": "email_validation"}

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


def expand_aliases(table: Mapping[str, _V], aliases: Mapping[str, str]) -> dict[str, _V]:
    """``table`` (prices or colours by operation) with every alias spelling filled in both
    ways: an entry under either spelling serves the other; an explicit entry is never replaced."""
    out = dict(table)
    for alias, name in aliases.items():
        if name in table and alias not in table:
            out[alias] = table[name]
        elif alias in table and name not in table:
            out[name] = table[alias]
    return out


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


def bundled_template_dir() -> Path:
    """The bundled ``report_templates`` folder (source tree or installed package)."""
    from ._resources import templates_dir

    return templates_dir()


@dataclass(frozen=True)
class Theme:
    """Everything an exporter needs to know about the look."""

    folder: Path
    text: dict[str, str]
    fonts: dict[str, Any]
    colors: dict[str, Any]
    formats: dict[str, str]
    page: dict[str, str]
    prices: dict[str, float] = field(default_factory=dict)
    tier_multiplier: float = 1.0
    currency: str = "USD"
    #: Other spelling -> the name it stands for (see ``analysis.pricing.OPERATION_ALIASES``).
    aliases: dict[str, str] = field(default_factory=dict)

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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise TemplateError(f"cannot read template file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"invalid TOML in {path}: {exc}") from None


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
    prices_path = (
        folder / "prices.toml" if (folder / "prices.toml").is_file() else bundled / "prices.toml"
    )
    prices = _read_toml(prices_path)
    try:
        price_table = {str(k): float(v) for k, v in prices.get("prices", {}).items()}
        multiplier = float(prices.get("tier_multiplier", 1.0))
    except (TypeError, ValueError):
        raise TemplateError(f"prices in {prices_path} must be numbers") from None
    aliases = dict(OPERATION_ALIASES)
    for where, table in (
        (bundled / "theme.toml", base.get("aliases", {})),
        (prices_path, prices.get("aliases", {})),
    ):
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise TemplateError(f"[aliases] in {where} must map names to names")
        aliases.update({str(k): v for k, v in table.items()})
    price_table = expand_aliases(price_table, aliases)
    theme = Theme(
        folder=folder,
        text=base.get("text", {}),
        fonts=base.get("fonts", {}),
        colors=base.get("colors", {}),
        formats=base.get("formats", {}),
        page=base.get("page", {}),
        prices=price_table,
        tier_multiplier=multiplier,
        currency=str(prices.get("currency", "USD")),
        aliases=aliases,
    )
    # Read the property for its check only: a bad page.size raises TemplateError here, early.
    _ = theme.paper
    return theme
