"""The one configuration file: a TOML file read by tables.

``--config FILE`` (or ``GENERECT_REPORTS_CONFIG``) names it; every command reads the tables it
needs. Secrets (the API token, the SMTP password) never come from it; webhook URLs may, but only
when the file is readable by its owner alone.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Config", "load_config", "CONFIG_ENV", "TABLES", "check_private"]

CONFIG_ENV = "GENERECT_REPORTS_CONFIG"

#: The tables a configuration file may hold, and what each is for.
TABLES: dict[str, str] = {
    "email": "defaults for the email command's options (recipients, sender, SMTP host)",
    "budget": "monthly credit budget, per-operation budgets, money budget, plan limit history",
    "notify": "chat webhooks for threshold alerts (only in a file no one else can read)",
    "calendar": "fiscal_year_start and the fiscal-year naming convention",
    "report": "report defaults: reconcile, chargeback, history, label, template",
    "history": "path: the folder of the Parquet history store that sync writes",
    "accounts": "[accounts.NAME] tables: token_env (the name of the token's variable), label, "
    "timezone, api_url, tags, and the account's own [budget], [money] and [chargeback]",
    "money": "what the credits cost: purchases file or rate, policy, opening, overage_rate",
    "journal": "account codes (expense, prepaid, accrued, payable) and the close register",
    "chargeback": "customer statements: issuer, number_prefix, payment_terms, tolerance, and "
    "[chargeback.customers.ID] tables with bill_to and cost_centre",
}

_SECRET_KEYS = {"password", "smtp_password", "token", "api_token"}


@dataclass(frozen=True)
class Config:
    """A parsed configuration file: one dict per table (empty when absent)."""

    path: Path | None = None
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, Any]:
        """The table ``name`` as a dict (empty when the file has no such table)."""
        if name not in TABLES:
            raise KeyError(name)
        return dict(self.tables.get(name, {}))

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "the configuration"


def check_private(path: Path, what: str) -> None:
    """Refuse ``path`` when group or others may read it: it holds ``what`` (a secret)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"config file {path} holds {what} but others can read it: run 'chmod 600 {path}'"
        )


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the configuration file ``path``, or ``$GENERECT_REPORTS_CONFIG``; none gives an empty
    one.

    Raises :class:`~generect_reports.errors.ConfigError` (exit 2) for an unreadable file, invalid
    TOML, a setting outside a table, an unknown table, or a secret written into the file.
    """
    name = os.fspath(path) if path is not None else os.environ.get(CONFIG_ENV, "")
    if not name:
        return Config()
    file = Path(name)
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in config file {file}: {exc}") from None
    tables: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"setting {key!r} in {file} must sit in a table such as [email] "
                f"(tables: {', '.join(TABLES)})"
            )
        if key not in TABLES:
            raise ConfigError(f"unknown table [{key}] in {file} (tables: {', '.join(TABLES)})")
        for inner in value:
            if str(inner).lower() in _SECRET_KEYS:
                raise ConfigError(
                    f"[{key}] {inner} in {file}: secrets come from the environment "
                    "(GENERECT_API_TOKEN, GENERECT_SMTP_PASSWORD), not the config file"
                )
        tables[key] = value
    return Config(path=file, tables=tables)
