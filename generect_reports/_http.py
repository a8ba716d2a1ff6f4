"""HTTP policy shared by the read side (``fetch``) and the write side (``deliver``): whether to
retry, how long to wait, and which hosts are this machine."""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Callable

from .errors import InputError

__all__ = ["RETRY_STATUSES", "should_retry", "retry_delay", "is_loopback", "env_number"]

#: Statuses worth another attempt: rate limited, or a server-side failure.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def should_retry(status: int | None, attempt: int, max_attempts: int) -> bool:
    """Transient failures (429, 5xx, connection trouble as ``status=None``) are retried."""
    if attempt >= max_attempts:
        return False
    return status is None or status in RETRY_STATUSES


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = 0.5,
    cap: float = 8.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``Retry-After`` if given, else full-jitter
    exponential backoff (AWS style) so parallel workers don't retry in lockstep."""
    if retry_after is not None:
        return max(0.0, min(retry_after, cap * 4))
    return rng() * min(cap, base * (2 ** (attempt - 1)))


def is_loopback(host: str | None) -> bool:
    """``host`` is this machine by its address (``127.0.0.0/8``, ``::1``) or is exactly
    ``localhost``. Other names, ``*.localhost`` included, are not trusted: whether they reach
    this machine depends on a DNS answer, and plain http would then carry a secret off it."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def env_number(name: str, default: float, low: float, high: float) -> float:
    """A bound (a deadline, a cap) from the environment variable ``name``, or ``default``; a
    value that is not a number within ``[low, high]`` is bad input (exit 2) naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise InputError(f"{name} must be between {low:g} and {high:g}")
    return value
