"""One exception hierarchy for everything the toolkit can fail at.

Every class carries the CLI exit code it maps to, so the CLI needs no table of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "GenerectError",
    "GenerectWarning",
    "InputError",
    "InvalidDateRange",
    "InvalidTimezone",
    "MissingTokenError",
    "InsecureTransportError",
    "TemplateError",
    "OutputError",
    "ConfigError",
    "CheckFailed",
    "APIError",
    "AuthenticationError",
    "PermissionDeniedError",
    "InsufficientFundsError",
    "NotFoundError",
    "ValidationError",
    "RateLimitError",
    "ServerError",
    "MalformedResponseError",
    "APIConnectionError",
    "IgnoredFilterError",
    "PagingLimitError",
    "DeliveryError",
    "AccountsFailed",
    "WriteFailed",
    "error_for_status",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_INPUT = 2
EXIT_AUTH = 3
EXIT_API = 4
EXIT_CHECK = 5


class GenerectError(Exception):
    """Root of every error raised by generect_reports."""

    exit_code: int = EXIT_UNEXPECTED


class GenerectWarning(UserWarning):
    """Something worth a look that does not stop the run (a skipped cache, negative credits)."""


# --- bad input: the caller must change what they asked for (exit 2) -------------------------


class InputError(GenerectError, ValueError):
    """The request cannot be carried out as given."""

    exit_code = EXIT_BAD_INPUT


class InvalidDateRange(InputError):
    """A date that does not exist, or a start after the end."""


class InvalidTimezone(InputError):
    """A timezone name that the IANA database does not know."""


class MissingTokenError(InputError):
    """No API token was given."""

    def __init__(
        self, message: str = "no API token: set GENERECT_API_TOKEN or use --sample"
    ) -> None:
        super().__init__(message)


class InsecureTransportError(InputError):
    """The token would travel over plain http to a host that is not this machine."""


class TemplateError(InputError):
    """A template folder or theme file is missing or invalid."""


class OutputError(InputError):
    """An output path that cannot be written."""


class ConfigError(InputError):
    """A configuration file that cannot be read, or holds an unknown or invalid setting."""


class WriteFailed(GenerectError, OSError):
    """The device refused the bytes (disk full, I/O error): nothing was replaced (exit 4)."""

    exit_code = EXIT_API


# --- a check the caller asked for did not pass (exit 5) ------------------------------------


class CheckFailed(GenerectError):
    """A threshold was crossed or a month does not tie; the full output was written first."""

    exit_code = EXIT_CHECK


# --- API and network (exit 3 for auth, 4 for everything else) ------------------------------


class APIError(GenerectError):
    """The API answered with an error, or could not be reached, after any retries.

    ``status_code`` is the HTTP status (None for connection failures); ``detail`` the
    envelope's detail (a string, or a ``{field: [messages]}`` map for validation errors).
    """

    exit_code = EXIT_API

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: Any = None,
        period: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.period = period

    def for_period(self, period: str) -> APIError:
        """Return a copy of this error whose message names the period that failed."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.args = (f"period {period}: {self.args[0]}",)
        new.period = period
        return new


class AuthenticationError(APIError):
    """401: the token is missing, wrong or revoked."""

    exit_code = EXIT_AUTH


class PermissionDeniedError(APIError):
    """403: the account or plan may not use this endpoint."""

    exit_code = EXIT_AUTH


class InsufficientFundsError(APIError):
    """402: the account has no credits left for this call."""


class NotFoundError(APIError):
    """404: the path does not exist (a missing trailing slash gives this too)."""


class ValidationError(APIError):
    """400: the API refused the parameters; ``fields`` maps each field to its messages."""

    @property
    def fields(self) -> dict[str, list[str]]:
        if isinstance(self.detail, Mapping):
            return {
                str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in self.detail.items()
            }
        return {}


class RateLimitError(APIError):
    """429 that outlasted every retry."""


class ServerError(APIError):
    """5xx that outlasted every retry."""


class MalformedResponseError(APIError):
    """A body that is not the documented shape (truncated, not JSON, wrong types)."""


class APIConnectionError(APIError):
    """The server could not be reached, dropped the connection or timed out."""


class IgnoredFilterError(MalformedResponseError):
    """The server answered rows outside a filter we sent: it dropped the filter (exit 4)."""


class PagingLimitError(APIError):
    """Paging a window went on past its cap of pages or seconds: a server that keeps answering
    new rows would otherwise be paged forever (exit 4, naming the window)."""


class DeliveryError(GenerectError):
    """The SMTP server was unreachable, refused the login or a recipient; or a chat webhook
    failed after its retries (named by position, never by its URL)."""

    exit_code = EXIT_API


class AccountsFailed(GenerectError):
    """Some accounts of a run across accounts failed; the others' output was written, marked
    partial. The exit code is the worst failure's (3 before 4 before 1: a token to fix outranks
    an outage)."""

    exit_code = EXIT_API

    def __init__(self, failed: list[dict[str, Any]]) -> None:
        self.failed = [dict(f) for f in failed]
        codes = {int(f["exit_code"]) for f in self.failed}
        self.exit_code = next(
            (c for c in (EXIT_AUTH, EXIT_API, EXIT_UNEXPECTED, EXIT_BAD_INPUT) if c in codes),
            EXIT_API,
        )
        names = ", ".join(str(f["account"]) for f in self.failed)
        first = self.failed[0]
        super().__init__(
            f"partial: {len(self.failed)} account(s) failed ({names}); "
            f"{first['account']}: {first['error']}"
        )


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientFundsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_for_status(status: int, detail: Any, *, what: str) -> APIError:
    """Map an HTTP status and envelope detail to the matching exception (one place)."""
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    if isinstance(detail, Mapping):
        text = "; ".join(
            f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in detail.items()
        )
    else:
        text = str(detail) if detail not in (None, "") else "no detail given"
    return cls(f"{what} failed with HTTP {status}: {text}", status_code=status, detail=detail)
