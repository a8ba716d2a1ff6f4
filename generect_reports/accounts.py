"""The accounts of an agency or reseller: ``[accounts.NAME]`` tables, read and checked once.

Each account names the environment variable that holds its token (``token_env``), never the token
itself: the file may be shared, backed up or committed, the environment is not. Which accounts a
run covers is chosen by ``--account NAME`` (repeatable), ``--tag TAG`` or ``--all-accounts``; every
name, tag and variable is checked before any request is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, InputError

__all__ = [
    "AccountSpec",
    "parse_accounts",
    "select_accounts",
    "account_token",
    "ACCOUNT_KEYS",
    "OVERRIDE_TABLES",
]

#: Settings an ``[accounts.NAME]`` table may hold (besides the override tables).
ACCOUNT_KEYS = frozenset({"token_env", "label", "timezone", "api_url", "tags"})
#: Tables an account may override for itself.
OVERRIDE_TABLES = frozenset({"budget", "money", "chargeback"})

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")


@dataclass(frozen=True)
class AccountSpec:
    """One configured account.

    ``token_env`` is the name of the variable holding the token; ``overrides`` holds the
    account's own ``budget``, ``money`` and ``chargeback`` tables (they replace the file's).
    """

    name: str
    token_env: str
    label: str | None = None
    timezone: str | None = None
    api_url: str | None = None
    tags: tuple[str, ...] = ()
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """What the documents call the account: its label, else its name."""
        return self.label or self.name


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string")
    return value.strip()


def _spec(name: str, table: Any, where: str) -> AccountSpec:
    at = f"[accounts.{name}] of {where}"
    if not _NAME.match(name):
        raise ConfigError(
            f"account name {name!r} in {where}: use letters, digits, '_', '-' or '.' "
            "(at most 64, starting with a letter or digit)"
        )
    if not isinstance(table, Mapping):
        raise ConfigError(f"accounts.{name} in {where} must be a table")
    unknown = sorted(set(table) - ACCOUNT_KEYS - OVERRIDE_TABLES)
    if unknown:
        if unknown[0].lower() in {"token", "api_token", "password"}:
            raise ConfigError(
                f"{at}: a token is never written in the config file; set token_env to the "
                "name of the environment variable that holds it"
            )
        raise ConfigError(
            f"unknown setting {unknown[0]!r} in {at} "
            f"(settings: {', '.join(sorted(ACCOUNT_KEYS | OVERRIDE_TABLES))})"
        )
    if "token_env" not in table:
        raise ConfigError(f"{at} needs token_env, the name of the variable holding its token")
    variable = _text(table["token_env"], f"token_env in {at}")
    if not _VARIABLE.match(variable):
        # Not a variable name: most likely the token itself, pasted in. Never echo it.
        raise ConfigError(
            f"token_env in {at} must name an environment variable (letters, digits and '_'), "
            "not hold a token"
        )
    tags_raw = table.get("tags", [])
    if not isinstance(tags_raw, list) or not all(
        isinstance(t, str) and _NAME.match(t) for t in tags_raw
    ):
        raise ConfigError(f"tags in {at} must be a list of names")
    timezone = table.get("timezone")
    if timezone is not None:
        from .periods import get_timezone

        try:
            get_timezone(_text(timezone, f"timezone in {at}"))
        except InputError as exc:
            raise ConfigError(f"timezone in {at}: {exc}") from None
    api_url = table.get("api_url")
    if api_url is not None:
        api_url = _text(api_url, f"api_url in {at}")
        if not api_url.startswith(("https://", "http://")):
            raise ConfigError(f"api_url in {at} must start with https://")
    overrides: dict[str, Mapping[str, Any]] = {}
    for key in OVERRIDE_TABLES & set(table):
        if not isinstance(table[key], Mapping):
            raise ConfigError(f"{key} in {at} must be a table ([accounts.{name}.{key}])")
        overrides[key] = dict(table[key])
    label = table.get("label")
    return AccountSpec(
        name=name,
        token_env=variable,
        label=None if label is None else _text(label, f"label in {at}"),
        timezone=None if timezone is None else str(timezone).strip(),
        api_url=api_url,
        tags=tuple(dict.fromkeys(tags_raw)),
        overrides=overrides,
    )


def parse_accounts(
    table: Mapping[str, Any], *, where: str = "the configuration"
) -> dict[str, AccountSpec]:
    """The ``[accounts]`` table as ``{name: AccountSpec}``, in the file's order.

    Raises :class:`~generect_reports.errors.ConfigError` (exit 2) naming the key at fault.
    """
    return {str(name): _spec(str(name), value, where) for name, value in table.items()}


def select_accounts(
    accounts: Mapping[str, AccountSpec],
    *,
    names: Sequence[str] = (),
    tags: Sequence[str] = (),
    all_accounts: bool = False,
) -> list[AccountSpec]:
    """The accounts a run covers: those named, those carrying any of ``tags``, or all.

    An unknown name or tag, or a selection that matches nothing, is an
    :class:`~generect_reports.errors.InputError` (exit 2).
    """
    if not accounts and (names or tags or all_accounts):
        raise InputError(
            "no accounts are configured: add [accounts.NAME] tables with token_env to the "
            "config file"
        )
    for name in names:
        if name not in accounts:
            raise InputError(
                f"unknown account {name!r}: configured accounts are {', '.join(accounts)}"
            )
    known_tags = {t for spec in accounts.values() for t in spec.tags}
    for tag in tags:
        if tag not in known_tags:
            raise InputError(
                f"no account is tagged {tag!r}"
                + (f" (tags: {', '.join(sorted(known_tags))})" if known_tags else "")
            )
    if all_accounts:
        return list(accounts.values())
    chosen = [
        spec for spec in accounts.values() if spec.name in names or set(tags) & set(spec.tags)
    ]
    return chosen


def account_token(spec: AccountSpec, environ: Mapping[str, str] | None = None) -> str:
    """The token of ``spec`` from its variable; a missing or empty one is exit 2, naming the
    variable (never a value)."""
    env = os.environ if environ is None else environ
    value = env.get(spec.token_env, "")
    if not value.strip():
        raise InputError(
            f"account {spec.name!r}: the environment variable {spec.token_env} is not set "
            "(it holds the account's API token)"
        )
    return value
