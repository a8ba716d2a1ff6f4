"""Where the bundled data and templates live: the source tree, or the installed package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["data_file", "templates_dir"]

_ROOT = Path(__file__).resolve().parent.parent


def data_file(name: str) -> Any:
    """A file of the bundled sample (``data/`` in the source tree, ``_data`` when installed)."""
    local = _ROOT / "data" / name
    if local.is_file():
        return local
    return files("generect_reports._data").joinpath(name)


def templates_dir() -> Path:
    """The bundled ``report_templates`` folder (source tree or installed package)."""
    local = _ROOT / "report_templates"
    if (local / "theme.toml").is_file():
        return local
    return Path(str(files("generect_reports._templates")))
