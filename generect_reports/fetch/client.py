"""HTTP client for the Generect account endpoints.

Owns the wire: the ``Authorization: Token`` header, trailing slashes, timeouts, bounded retries
with backoff, and mapping the error envelope to :mod:`generect_reports.errors`. It knows nothing
about pandas.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit

from .._http import env_number, is_loopback, retry_delay, should_retry
from .._text import mask_secret, replace_secrets
from .._version import __version__
from ..errors import (
    APIConnectionError,
    APIError,
    InputError,
    InsecureTransportError,
    MalformedResponseError,
    MissingTokenError,
    error_for_status,
)
from .throttle import AdaptiveLimiter, ConnectionCap, Slot

if TYPE_CHECKING:
    import requests

__all__ = ["GenerectClient", "DEFAULT_BASE_URL", "should_retry", "retry_delay", "resolve_token"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.generect.com"
USAGE_PATH = "/api/v1/accounts/usage/"
ME_PATH = "/api/v1/accounts/me/"
TRANSACTIONS_PATH = "/api/v1/accounts/transactions/"
TOKENS_PATH = "/api/v1/accounts/tokens/analytics/"

_MAX_DETAIL = 200
_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
#: A usage answer is a few kB; a body past this is not the API talking.
_MAX_BODY = 64 * 2**20


class _DeadlineExceeded(Exception):
    """The attempt's wall-clock deadline passed (turned into APIConnectionError)."""


def _final(error: APIError) -> APIError:
    """Mark an error that no retry can fix (a redirect loop, a redirect to another host)."""
    error._final = True  # type: ignore[attr-defined]
    return error


def _wrapped_status(body: Any) -> int | None:
    """The HTTP status an error envelope carries inside a 2xx answer, else None."""
    if not isinstance(body, dict) or "data" in body:
        return None
    code = body.get("status_code")
    if body.get("status") == "error" or (code is not None and "detail" in body):
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
            return code
        raise MalformedResponseError(
            "malformed response: an error envelope without a valid status_code"
        )
    return None


def resolve_token(token: str | None = None) -> str:
    """The token from the argument or ``GENERECT_API_TOKEN``; a leading ``Token `` is dropped."""
    raw = token if token is not None else os.environ.get("GENERECT_API_TOKEN", "")
    raw = raw.strip()
    if raw[:6].lower() == "token ":
        raw = raw[6:].strip()
    if not raw:
        raise MissingTokenError()
    if any(c in raw for c in "\r\n\t ") or not raw.isprintable():
        raise InputError("GENERECT_API_TOKEN contains whitespace or control characters")
    if not raw.isascii():
        # An HTTP header holds Latin-1 at most, and real tokens are ASCII: a token with other
        # characters is a copy-and-paste accident (a typographic quote, a Cyrillic look-alike).
        raise InputError("GENERECT_API_TOKEN contains non-ASCII characters")
    return raw


def _check_base_url(url: str) -> str:
    """Validate the API base URL once, before any request: a typo is bad input, not a network
    fault to retry."""
    if not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
        raise InputError(
            f"invalid API URL {url!r}: it contains whitespace, control or non-ASCII characters"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise InputError(f"invalid API URL {url!r}: {exc}") from None
    if port == 0:
        raise InputError(f"invalid API URL {url!r}: port 0")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"invalid API URL {url!r}: expected https://host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InputError("invalid API URL: credentials, query and fragment are not allowed in it")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureTransportError(
            f"refusing to send the API token over plain http to {parts.hostname}: use https"
        )
    return url.rstrip("/")


def _gave_up_throttled(error: APIError, tries: int, throttled: int) -> APIError:
    """``error`` saying how many attempts were made and how many of them the rate limit took."""
    error.args = (
        f"{error.args[0]} (gave up after {tries} attempts, {throttled} of them rate limited)",
    )
    return error


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _strict_json(text: str) -> Any:
    """Parse JSON, refusing duplicate keys and NaN/Infinity, which would hide wrong figures."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise ValueError(f"non-finite number {name}")

    try:
        body = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        raise ValueError("nesting too deep") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_JSON_DEPTH} levels")
    _check_values(body)
    return body


#: No answer of the API nests deeper than a few levels; far deeper is a broken or hostile server.
MAX_JSON_DEPTH = 32
#: No figure of an answer comes near this (a trillion credits or requests); beyond it a number
#: is a broken or hostile server's, and past 2^53 it could not even be counted exactly.
MAX_API_NUMBER = 10**12
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Unholdable(ValueError):
    """A value no file can hold or no figure can be: the same answer again would not help."""


def _check_values(body: Any) -> None:
    """Refuse what no file can hold or no figure can be: a lone surrogate in any string or key
    (valid JSON text, not UTF-8), and a number beyond :data:`MAX_API_NUMBER`. The error names
    where (``data.breakdown`` key), never the value."""
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                inner = f"{where}.{key}" if where else str(key)
                stack.append((key, f"{where or 'the answer'} key"))
                stack.append((value, _SURROGATE.sub("?", inner)[:80]))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, str):
            bad = _SURROGATE.search(node)
            if bad:
                raise _Unholdable(
                    f"a lone surrogate (U+{ord(bad.group()):04X}) in {where or 'the answer'}, "
                    "which no file encoding can store"
                )
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if not abs(node) <= MAX_API_NUMBER:
                raise _Unholdable(
                    f"number out of range in {where or 'the answer'} (beyond {MAX_API_NUMBER:.0e})"
                )


def _depth(value: Any) -> int:
    """How deep containers nest in parsed JSON (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1) for child in node)
    return deepest


class GenerectClient:
    """A session with the Generect API.

    Parameters
    ----------
    token
        API token; defaults to ``GENERECT_API_TOKEN``. It is only ever put in the
        ``Authorization`` header.
    base_url
        Defaults to ``GENERECT_API_URL`` or ``https://api.generect.com``. Plain http is refused
        except for loopback hosts.
    timeout
        ``(connect, read)`` seconds per attempt; default ``(5, 15)``, the read timeout from
        ``GENERECT_API_TIMEOUT`` if set.
    max_attempts, max_retry_time
        Bound on attempts (default 5, or ``GENERECT_API_MAX_ATTEMPTS``, at most 10) and on the
        seconds one request may spend retrying (default 30, or ``GENERECT_API_DEADLINE``).
        A request never takes longer than
        the larger of ``max_retry_time`` and ``attempt_timeout``, every attempt and wait
        included, however slowly the server sends its body.
        Time a request spends held back by the rate limiter (queued for a slot, or waiting out
        the account's shared rate limit) is not counted: throttling must not make it fail.
    attempt_timeout
        Wall-clock deadline of one attempt, connecting and the whole body included (default:
        the read timeout).
    sleep
        Injected by tests to avoid real waits.
    max_workers
        Upper bound on parallel requests; sizes the connection pool and the limiter's window.
    adaptive
        Gate every attempt through an :class:`~generect_reports.fetch.throttle.AdaptiveLimiter`
        (default): the window of requests in flight halves on a 429 and grows back as they
        stop, and once several requests are rejected the client paces itself near the server's
        rate. ``False`` keeps a fixed window of ``max_workers``.
    max_throttled_attempts, max_throttle_time
        The separate, larger budget of a request for 429s of the account's shared rate limit
        (those the limiter absorbs, not charged to ``max_attempts``): at most this many such
        429s (default 20) and this many seconds waiting after them (default 120). A 429 that
        only one request keeps getting is charged to ``max_attempts`` like a 5xx.
    connections
        A :class:`~generect_reports.fetch.throttle.ConnectionCap` shared with other clients (one
        per account of a run): every attempt also waits for one of its connections, so the
        accounts together never have more requests in flight than its limit. Time waiting
        for it is not counted against any deadline.
    """

    def __init__(
        self,
        token: str | None = None,
        base_url: str | None = None,
        *,
        timeout: tuple[float, float] | None = None,
        max_attempts: int | None = None,
        max_retry_time: float | None = None,
        sleep: Callable[[float], object] | None = None,
        max_workers: int = 8,
        attempt_timeout: float | None = None,
        adaptive: bool = True,
        max_throttled_attempts: int = 20,
        max_throttle_time: float = 120.0,
        connections: ConnectionCap | None = None,
    ) -> None:
        self._token = resolve_token(token)
        self.base_url = _check_base_url(
            base_url or os.environ.get("GENERECT_API_URL") or DEFAULT_BASE_URL
        )
        self.timeout = timeout or (5.0, env_number("GENERECT_API_TIMEOUT", 15.0, 0.1, 120.0))
        self.max_attempts = int(
            max_attempts
            if max_attempts is not None
            else env_number("GENERECT_API_MAX_ATTEMPTS", 5, 1, 10)
        )
        self.max_attempts = max(1, self.max_attempts)
        self.max_retry_time = float(
            max_retry_time
            if max_retry_time is not None
            else env_number("GENERECT_API_DEADLINE", 30.0, 0.1, 600.0)
        )
        if not (math.isfinite(self.max_retry_time) and self.max_retry_time >= 0):
            raise InputError("max_retry_time must be a number of seconds, at least 0")
        # Wall clock for one attempt, from sending the request to the last byte of the body: the
        # read timeout alone restarts on every byte, so a trickling server would defeat it.
        self.attempt_timeout = float(
            attempt_timeout if attempt_timeout is not None else self.timeout[1]
        )
        self.max_workers = max(1, int(max_workers))
        self.max_throttled_attempts = max(0, int(max_throttled_attempts))
        self.max_throttle_time = float(max_throttle_time)
        if not (math.isfinite(self.max_throttle_time) and self.max_throttle_time >= 0):
            raise InputError("max_throttle_time must be a number of seconds, at least 0")
        # One limiter for everything this client sends (usage, ledger pages, tokens, /me/).
        self.limiter: AdaptiveLimiter | None = (
            AdaptiveLimiter(self.max_workers) if adaptive else None
        )
        # One event per run of requests: reset_cancel() replaces it, so workers of an interrupted
        # run (which hold the old event) never start retrying again.
        self._cancelled = threading.Event()
        self.connections = connections
        self._sleep_fn = sleep
        self.request_count = 0
        self._lock = threading.Lock()
        self._active: set[Any] = set()  # responses being read, so abort() can cut them off
        # The session (and the requests import) is made on first use: a run served from the
        # cache never needs it.
        self._session_obj: requests.Session | None = None

    # The token must not leak through a repr in a traceback or a notebook.
    def __repr__(self) -> str:
        return f"GenerectClient(base_url={self.base_url!r}, token=***)"

    def __getstate__(self) -> None:
        raise TypeError("GenerectClient cannot be pickled (it holds a secret)")

    @property
    def account_key(self) -> str:
        """A one-way hash of base URL and token, for cache keys; never the token itself."""
        import hashlib

        return hashlib.sha256(
            b"generect-reports-cache-v1\0" + self.base_url.encode() + b"\0" + self._token.encode()
        ).hexdigest()

    @property
    def _session(self) -> requests.Session:
        with self._lock:
            if self._session_obj is None:
                import requests
                from requests.adapters import HTTPAdapter

                session = requests.Session()
                session.trust_env = False  # a netrc file must not replace our Authorization header
                adapter = HTTPAdapter(
                    pool_connections=1, pool_maxsize=max(16, self.max_workers), max_retries=0
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                session.headers.update(
                    {"Accept": "application/json", "User-Agent": f"generect-reports/{__version__}"}
                )
                self._session_obj = session
            return self._session_obj

    def close(self) -> None:
        if self._session_obj is not None:
            self._session_obj.close()

    def abort(self) -> None:
        """Stop every request of the current run at once (on Ctrl-C or SIGTERM): no retry
        starts, bodies being read are cut off and the connections are closed."""
        self.cancel()
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> GenerectClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Make the requests of the current run give up (used when a sibling request failed):
        no retry starts, and bodies being read are cut off."""
        import socket

        self._cancelled.set()
        if self.limiter is not None:
            self.limiter.wake()  # requests queued for a slot give up now
        with self._lock:
            active = list(self._active)
        for response in active:
            sock = getattr(getattr(response.raw, "connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def reset_cancel(self) -> None:
        """Allow new requests after :meth:`cancel`; requests of the cancelled run stay cancelled."""
        if self._cancelled.is_set():
            self._cancelled = threading.Event()

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    # -- public endpoints -------------------------------------------------------------------

    def usage(
        self, start_date: str, end_date: str, *, timezone: str = "UTC", period: str = "day"
    ) -> dict[str, Any]:
        """``GET /api/v1/accounts/usage/``: the ``data`` object for one inclusive date range."""
        params = {
            "start_date": start_date,
            "end_date": end_date,
            "timezone": timezone,
            "period": period,
        }
        return self._data(self.get(USAGE_PATH, params))

    def me(self) -> dict[str, Any]:
        """``GET /api/v1/accounts/me/``: profile, balance and plan."""
        return self._data(self.get(ME_PATH))

    def transactions(self, *, limit: int = 100, offset: int = 0, **filters: str) -> dict[str, Any]:
        """``GET /api/v1/accounts/transactions/``: one page of the ledger, newest first.

        ``filters`` are sent as given (``created_at__gte``, ``status``, ...); the server drops
        values it cannot read, so callers re-check rows (see :mod:`generect_reports.fetch.ledger`).
        """
        params = {
            **{k: str(v) for k, v in filters.items()},
            "limit": str(int(limit)),
            "offset": str(int(offset)),
        }
        return self._data(self.get(TRANSACTIONS_PATH, params))

    def token_analytics(
        self, start: str, end: str, *, timezone: str = "UTC", client_id: str | None = None
    ) -> dict[str, Any]:
        """``GET /api/v1/accounts/tokens/analytics/``: per-token request counts in a window.

        ``start`` and ``end`` must be ISO instants with a UTC offset: ``timezone`` only renders
        the answer's ``period`` and a bare date means midnight. There is no ``token`` filter on
        purpose: a customer's token must never travel in a URL.
        """
        for value in (start, end):
            if "T" not in value or not (value.endswith("Z") or value[-6] in "+-"):
                raise InputError(f"token analytics needs instants with a UTC offset, not {value!r}")
        params = {"start_date": start, "end_date": end, "timezone": timezone}
        if client_id is not None:
            params["client_id"] = client_id
        return self._data(self.get(TOKENS_PATH, params))

    @staticmethod
    def _data(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise MalformedResponseError("malformed response: no 'data' object in the body")
        return body["data"]

    # -- the request loop -------------------------------------------------------------------

    def url_for(self, path: str, params: Mapping[str, str] | None = None) -> str:
        if not path.startswith("/"):
            path = "/" + path
        if not path.endswith("/"):
            path += "/"  # the API 404s without it
        url = self.base_url + path
        return url + ("?" + urlencode(sorted(params.items())) if params else "")

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``path`` and return the parsed JSON body, retrying transient failures.

        The whole call is bounded by ``max_retry_time`` of wall clock and each attempt by
        ``attempt_timeout``, body included; time held back by the rate limiter is not counted,
        and 429s of the shared rate limit have their own budget (see the class).
        """
        url = self.url_for(path, params)
        what = f"GET {urlsplit(url).path}"
        cancelled = self._cancelled  # this run's event (see reset_cancel)
        limiter = self.limiter
        key = object()  # this request, for the limiter (the same for all its attempts)
        started = time.monotonic()
        retry_until = started + self.max_retry_time
        # The hard deadline: a request never takes longer than this, however slow the server
        # (plus the time the limiter held it back).
        deadline = started + max(self.max_retry_time, self.attempt_timeout)
        held = 0.0  # seconds held back by the limiter: they move both deadlines
        attempt = 0  # attempts charged to max_attempts: all but 429s the limiter absorbed
        tries = 0
        throttled = 0  # 429s absorbed as the shared rate limit
        throttle_time = 0.0  # seconds they cost: round trips, pauses, queueing after them
        after_throttle = False
        served: float | None = None  # until when this request has waited out its pause
        error: APIError | None = None
        while True:
            if cancelled.is_set():
                raise APIConnectionError(f"{what} cancelled")
            slot: Slot | None = None
            if limiter is not None:
                queued = time.monotonic()
                budget = self.max_throttle_time - throttle_time if after_throttle else None
                slot = limiter.acquire(
                    key, retry=tries > 0, served_until=served, cancelled=cancelled, timeout=budget
                )
                waited = time.monotonic() - queued
                held += waited
                if after_throttle:
                    throttle_time += waited
                if slot is None:
                    if cancelled.is_set() or error is None:
                        raise APIConnectionError(f"{what} cancelled")
                    raise _gave_up_throttled(error, tries, throttled)
            if self.connections is not None:
                queued = time.monotonic()
                got = self.connections.acquire(cancelled)
                held += time.monotonic() - queued  # waiting for the run's cap is no one's fault
                if not got:
                    if limiter is not None and slot is not None:
                        limiter.release(slot)
                    raise APIConnectionError(f"{what} cancelled")
            tries += 1
            sent = time.monotonic()
            try:
                try:
                    body, _, _ = self._attempt(
                        url,
                        what,
                        min(deadline + held, time.monotonic() + self.attempt_timeout),
                        cancelled,
                    )
                finally:
                    if self.connections is not None:
                        self.connections.release()
            except APIError as exc:
                status = exc.status_code
                error = exc  # a truncated or unparseable body has no status: retried as transient
                retry_after = getattr(exc, "_retry_after", None)
                final = getattr(exc, "_final", False)
            except BaseException:
                if limiter is not None and slot is not None:
                    limiter.release(slot)
                raise
            else:
                if limiter is not None and slot is not None:
                    limiter.release(slot, ok=True)
                return body
            verdict = None
            if limiter is not None and slot is not None:
                verdict = limiter.release(slot, throttled=status == 429, retry_after=retry_after)
            after_throttle = False
            if verdict is not None and verdict.shared and status == 429 and not final:
                # The account's shared rate limit: the limiter paces everyone, so this 429 is
                # charged to the larger throttle budget, not to max_attempts.
                throttled += 1
                wait = verdict.pause
                spent = time.monotonic() - sent  # the rejected round trip is throttling too
                held += spent
                throttle_time += spent
                if (
                    cancelled.is_set()
                    or throttled > self.max_throttled_attempts
                    or throttle_time + wait > self.max_throttle_time
                ):
                    raise _gave_up_throttled(error, tries, throttled)
                log.info(
                    "%s: %s; rate limited, retry %d/%d in %.2fs",
                    what,
                    error.args[0],
                    throttled,
                    self.max_throttled_attempts,
                    wait,
                )
                throttle_time += wait
                after_throttle = True
            else:
                attempt += 1
                wait = retry_delay(attempt, retry_after)
                if (
                    final
                    or cancelled.is_set()
                    or not should_retry(status, attempt, self.max_attempts)
                    or time.monotonic() - held + wait >= retry_until
                ):
                    if tries > 1:
                        error.args = (f"{error.args[0]} (gave up after {tries} attempts)",)
                    raise error
                log.info(
                    "%s: %s; retry %d/%d in %.2fs",
                    what,
                    error.args[0],
                    attempt,
                    self.max_attempts - 1,
                    wait,
                )
            paused = time.monotonic()
            served = paused + wait
            if self._sleep_fn is not None:
                self._sleep_fn(wait)
            else:
                cancelled.wait(wait)  # ends early when the run is cancelled
            if after_throttle:
                held += time.monotonic() - paused

    def _attempt(
        self,
        url: str,
        what: str,
        deadline: float | None = None,
        cancelled: threading.Event | None = None,
    ) -> tuple[Any, int, float | None]:
        """One attempt, answered in full before ``deadline`` (monotonic seconds) or failed."""
        import requests

        if deadline is None:
            deadline = time.monotonic() + self.attempt_timeout
        cancelled = cancelled or self._cancelled
        session = self._session
        with self._lock:
            self.request_count += 1
        headers = {"Authorization": f"Token {self._token}"}

        def timeout() -> tuple[float, float]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _DeadlineExceeded
            return (min(self.timeout[0], left), min(self.timeout[1], left))

        response = None
        try:
            response = session.get(
                url, headers=headers, timeout=timeout(), allow_redirects=False, stream=True
            )
            hops = 0
            while response.is_redirect:
                hops += 1
                target = urljoin(response.url, response.headers.get("Location", ""))
                if urlsplit(target)[:2] != urlsplit(self.base_url)[:2]:
                    raise _final(
                        APIError(
                            f"{what} redirected to another host ({urlsplit(target).hostname}); "
                            "the token is not sent there",
                            status_code=response.status_code,
                        )
                    )
                if hops > _MAX_REDIRECTS:
                    raise _final(
                        APIError(
                            f"{what}: too many redirects (more than {_MAX_REDIRECTS})",
                            status_code=response.status_code,
                        )
                    )
                response.close()
                response = session.get(
                    target, headers=headers, timeout=timeout(), allow_redirects=False, stream=True
                )
            raw_body = self._read_body(response, deadline, cancelled, what)
        except _DeadlineExceeded:
            raise APIConnectionError(
                f"{what} timed out (no complete answer within {self.attempt_timeout:g} s)"
            ) from None
        except requests.Timeout as exc:
            raise APIConnectionError(f"{what} timed out") from exc
        except requests.exceptions.InvalidURL as exc:
            raise InputError(
                f"invalid API URL {self.base_url!r}: {self._redact(str(exc))[:_MAX_DETAIL]}"
            ) from None
        except requests.TooManyRedirects as exc:
            raise _final(APIError(f"{what}: too many redirects")) from exc
        except requests.ConnectionError as exc:
            if cancelled.is_set():
                raise APIConnectionError(f"{what} cancelled") from None
            raise APIConnectionError(
                f"{what}: connection failed ({type(exc.__cause__ or exc).__name__})"
            ) from exc
        except requests.RequestException as exc:
            raise APIConnectionError(f"{what}: {type(exc).__name__}") from exc
        finally:
            if response is not None:
                response.close()
        log.debug("%s -> HTTP %d, %d bytes", what, response.status_code, len(raw_body))
        status = response.status_code
        text = raw_body.decode("utf-8", errors="replace")  # an error page: for its words only
        if 200 <= status < 300:
            try:
                # Strictly UTF-8: a replaced byte would silently change a name ("caf\ufffd").
                body = _strict_json(raw_body.decode("utf-8"))
            except ValueError as exc:
                error = MalformedResponseError(
                    f"{what}: malformed response body ({self._redact(str(exc))[:_MAX_DETAIL]})"
                )
                raise (_final(error) if isinstance(exc, _Unholdable) else error) from None
            wrapped = _wrapped_status(body)
            if wrapped is None:
                # The account's token echoed anywhere in an answer goes no further than here.
                return replace_secrets(body, {self._token: mask_secret(self._token)}), status, None
            # A 200 that carries the error envelope is that error (a gateway that always says 200).
            status = wrapped
        detail = self._error_detail(text, response.headers.get("Content-Type", ""))
        err = error_for_status(status, detail, what=what)
        err._retry_after = _parse_retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        raise err

    def _read_body(
        self, response: Any, deadline: float, cancelled: threading.Event, what: str
    ) -> bytes:
        """The body, read as it arrives against the deadline: each read waits at most the time
        left, so a server sending a byte a second cannot stretch the attempt."""
        with self._lock:
            self._active.add(response)
        try:
            raw = response.raw
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            parts: list[bytes] = []
            size = 0
            while True:
                if cancelled.is_set():
                    raise APIConnectionError(f"{what} cancelled")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _DeadlineExceeded
                if sock is not None:
                    sock.settimeout(min(self.timeout[1], left))
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > _MAX_BODY:
                    raise _final(
                        MalformedResponseError(
                            f"{what}: response body larger than {_MAX_BODY // 2**20} MiB"
                        )
                    )
                parts.append(chunk)
            return b"".join(parts)
        except TimeoutError as exc:
            import requests

            raise requests.Timeout(exc) from exc
        except OSError as exc:
            import requests

            if cancelled.is_set():
                raise APIConnectionError(f"{what} cancelled") from None
            raise requests.ConnectionError(exc) from exc
        except Exception as exc:
            import requests
            import urllib3.exceptions as u3

            if isinstance(exc, (u3.ReadTimeoutError,)):
                raise requests.Timeout(exc) from exc
            if isinstance(exc, (u3.ProtocolError, u3.IncompleteRead, u3.DecodeError)):
                if cancelled.is_set():
                    raise APIConnectionError(f"{what} cancelled") from None
                raise requests.ConnectionError(exc) from exc
            raise
        finally:
            with self._lock:
                self._active.discard(response)

    def _error_detail(self, text: str, content_type: str) -> Any:
        """The envelope's detail, or a short description of whatever else came back."""
        try:
            body = json.loads(text)
        except ValueError:
            kind = (
                "an HTML page"
                if "html" in content_type.lower() or text.lstrip().startswith("<")
                else "a non-JSON body"
            )
            return f"the server sent {kind} instead of the error envelope"
        if isinstance(body, dict) and "detail" in body:
            detail = body["detail"]
            if isinstance(detail, dict):
                return {
                    self._redact(str(k))[:_MAX_DETAIL]: [
                        self._redact(str(m))[:_MAX_DETAIL]
                        for m in (v if isinstance(v, list) else [v])
                    ]
                    for k, v in detail.items()
                }
            return self._redact(str(detail))[:_MAX_DETAIL]
        return "the server sent JSON that is not the error envelope"
