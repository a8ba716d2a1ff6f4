"""The purchases file: the one place the CSV of credit purchases is opened.

The file is named relative to the configuration file (``[money] purchases = "purchases.csv"``
beside ``generect-reports.toml``); the bundled sample has its own,
``sample_purchases.csv`` (one invoice per sample top-up). The rows are validated by
:func:`generect_reports.analysis.valuation.parse_purchases`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import ConfigError

__all__ = ["read_purchases", "read_purchases_file", "read_sample_purchases", "SAMPLE_PURCHASES"]

SAMPLE_PURCHASES = "sample_purchases.csv"
_COLUMNS = ("date", "invoice", "credits", "amount", "currency")


def read_purchases(text: str, *, where: str) -> list[dict[str, str]]:
    """The rows of a purchases CSV (header ``date,invoice,credits,amount,currency``, optional
    ``tax``); a missing column is a :class:`ConfigError` naming it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise ConfigError(
            f"{where} must have the header {','.join(_COLUMNS)} (optional tax); "
            f"missing {', '.join(missing)}"
        )
    return [
        {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in reader
    ]


def read_purchases_file(
    name: str, *, config_path: Path | None = None, where: str = "[money] purchases"
) -> tuple[list[dict[str, str]], str]:
    """The rows of the purchases file ``name`` (relative to ``config_path``'s folder) and the
    file's name for messages."""
    path = Path(name).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = config_path.resolve().parent / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: {path} is not UTF-8 text") from None
    return read_purchases(text, where=str(path)), path.name


def read_sample_purchases() -> list[dict[str, str]]:
    """The rows of the bundled sample's purchases file."""
    from .._resources import data_file

    text = data_file(SAMPLE_PURCHASES).read_text(encoding="utf-8")
    return read_purchases(text, where=SAMPLE_PURCHASES)
