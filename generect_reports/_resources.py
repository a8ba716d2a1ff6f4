"""Where the bundled data and templates live: the source tree, or the installed package."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["data_file", "read_toml", "templates_dir"]

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


def read_toml(path: Path, *, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """A template file's TOML as a dict; an unreadable or invalid file is a ``TemplateError``.

    ``parse_float=decimal.Decimal`` keeps prices exactly as written (``0.005``, not the binary
    float nearest to it).
    """
    from .errors import TemplateError

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh, parse_float=parse_float)
    except OSError as exc:
        raise TemplateError(f"cannot read template file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"invalid TOML in {path}: {exc}") from None
