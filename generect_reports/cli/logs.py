"""Log lines and error text for the terminal: one format, every known secret redacted."""

from __future__ import annotations

import logging
import os
import sys

from .._text import terminal_text

__all__ = ["SECRET_ENV", "redact", "setup_logging"]

#: Variables whose values must never reach the terminal, whatever prints them.
SECRET_ENV = ("GENERECT_API_TOKEN", "GENERECT_SMTP_PASSWORD", "GENERECT_NOTIFY_URL")


def redact(text: str) -> str:
    """Replace every secret we know of in ``text`` (a last line of defence for output)."""
    for name in SECRET_ENV:
        secret = os.environ.get(name, "").strip()
        if secret.lower().startswith("token "):
            secret = secret[6:].strip()
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Log lines carry server text (a plan name, a ledger type): no escape sequence passes.
        return terminal_text(redact(super().format(record)), keep_lines=True)


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr at the level ``-v``/``-q`` ask for, warnings included, secrets redacted."""
    import warnings

    from ..errors import GenerectWarning

    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # GenerectWarning is also logged where it is raised; show it once, as a log line.
    warnings.simplefilter("ignore", GenerectWarning)
    # Library warnings (matplotlib's "Glyph missing", pandas) become log lines: one format,
    # redacted, and silent with -q.
    logging.captureWarnings(True)
    # The PDF font subsetter logs every table at INFO: not what -v is for.
    logging.getLogger("fontTools").setLevel(max(level, logging.WARNING))
