"""Threshold alerts posted to chat webhooks (the messages are ``render.chat``'s).

Slack's ``{"text": ...}`` body is also accepted by Mattermost and Rocket.Chat. A Microsoft Teams
Workflows URL (``*.logic.azure.com``, ``*.powerplatform.com``, ``*.webhook.office.com``) gets a
message with one Adaptive Card instead.

A webhook URL is a secret: whoever has it can post to the channel. It is never logged, echoed,
cached, written to a file or put in an exception; webhooks are named by position ("webhook 2 of
3") and kind. Posts use the API client's bounded retries (:func:`should_retry`,
:func:`retry_delay`) and go over https only, except to this machine.

Every wait is wall clock and holds while a receiver trickles its headers or its body: one
attempt gets at most ``GENERECT_WEBHOOK_TIMEOUT`` seconds (default 10), and one webhook, every
retry and wait included, at most ``GENERECT_WEBHOOK_DEADLINE`` (default 30). A signal ends a
post at once, the connection closed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from generect_reports._http import env_number, is_loopback, retry_delay, should_retry
from generect_reports.deliver._watch import SocketWatch
from generect_reports.errors import DeliveryError, InputError
from generect_reports.render.chat import slack_payload, teams_payload

__all__ = [
    "NOTIFY_ENV",
    "WEBHOOK_TIMEOUT_ENV",
    "WEBHOOK_DEADLINE_ENV",
    "Webhook",
    "check_webhook_url",
    "is_teams_url",
    "post_webhook",
    "notify",
    "post_all",
    "webhook_urls",
]

log = logging.getLogger(__name__)

NOTIFY_ENV = "GENERECT_NOTIFY_URL"
#: Wall-clock seconds one post may take, connecting and the whole answer included.
WEBHOOK_TIMEOUT_ENV = "GENERECT_WEBHOOK_TIMEOUT"
#: Wall-clock seconds one webhook may take, every attempt and wait included.
WEBHOOK_DEADLINE_ENV = "GENERECT_WEBHOOK_DEADLINE"
_TEAMS_HOSTS = (".logic.azure.com", ".powerplatform.com", ".webhook.office.com")
_TEAMS_PATH = re.compile(r"/workflows/[^/]+/triggers/[^/]+/paths/invoke/?$")


@dataclass(frozen=True)
class Webhook:
    """A validated webhook; ``repr`` and ``str`` never show the URL."""

    url: str
    position: int
    count: int

    @property
    def kind(self) -> str:
        return "teams" if is_teams_url(self.url) else "slack"

    @property
    def name(self) -> str:
        return f"webhook {self.position} of {self.count} ({self.kind})"

    def __repr__(self) -> str:
        return f"Webhook({self.name}, url=***)"

    __str__ = __repr__


def is_teams_url(url: str) -> bool:
    """True for a Microsoft Teams Workflows (Power Automate) or Office connector webhook: by its
    host, or by the Workflows trigger path (``/workflows/<id>/triggers/<name>/paths/invoke``),
    which also holds behind a relay or on a test server."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return any(host.endswith(suffix) for suffix in _TEAMS_HOSTS) or bool(
        _TEAMS_PATH.search(parts.path)
    )


def check_webhook_url(url: str, where: str) -> str:
    """Validate one webhook URL; errors name ``where`` (e.g. '--notify 2'), never the URL."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise InputError(f"{where}: not a valid URL") from None  # the cause quotes the URL
    if parts.scheme not in ("https", "http") or not host:
        raise InputError(f"{where}: not a valid https:// webhook URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise InputError(f"{where}: webhook URLs must use https (plain http only to this machine)")
    if parts.username or parts.password:
        raise InputError(f"{where}: credentials in a webhook URL are not supported")
    if any(c in text for c in "\r\n\t ") or not text.isprintable():
        raise InputError(f"{where}: the webhook URL contains whitespace or control characters")
    return text


def webhook_urls(
    options: Sequence[str] = (), config_urls: Sequence[Any] = (), env: str | None = None
) -> list[Webhook]:
    """Every webhook to post to, validated, in order: ``--notify``, ``$GENERECT_NOTIFY_URL``,
    ``[notify] urls``; duplicates are posted to once."""
    env_value = os.environ.get(NOTIFY_ENV, "") if env is None else env
    found: list[tuple[str, str]] = []
    for i, url in enumerate(options, 1):
        found.append((str(url), f"--notify {i}"))
    if env_value.strip():
        found.append((env_value, NOTIFY_ENV))
    for i, url in enumerate(config_urls, 1):
        if not isinstance(url, str):
            raise InputError(f"[notify] urls entry {i} must be a string")
        found.append((url, f"[notify] urls entry {i}"))
    unique: list[str] = []
    for url, where in found:
        checked = check_webhook_url(url, where)
        if checked not in unique:
            unique.append(checked)
    return [Webhook(url, i, len(unique)) for i, url in enumerate(unique, 1)]


class _HideURLs(logging.Filter):
    """urllib3 logs request lines (``POST /services/T0/B0/secret``) at debug level: drop them
    while a webhook is being posted to, so ``-vv`` cannot print a webhook path."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "requests",
)


#: The watch of the attempt being made in this thread: connections opened for it join it.
_WATCH: contextvars.ContextVar[SocketWatch | None] = contextvars.ContextVar(
    "generect_webhook_watch", default=None
)


@cache
def _watched_adapter() -> type[Any]:
    """A requests adapter whose every new socket joins the current attempt's watch, before TLS
    and before the first byte is read (requests' timeouts apply to each read only)."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def _new_conn(base: Any, self: Any) -> socket.socket:
        sock: socket.socket = base._new_conn(self)
        watch = _WATCH.get()
        if watch is not None:
            watch.add(sock)
        return sock

    class Conn(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _new_conn(HTTPConnection, self)

    class SecureConn(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _new_conn(HTTPSConnection, self)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Conn

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConn

    pools = {"http": Pool, "https": SecurePool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = pools
            return manager

    return Adapter


def post_webhook(
    hook: Webhook,
    payload: dict[str, Any],
    *,
    timeout: tuple[float, float] = (5.0, 10.0),
    max_attempts: int = 4,
    sleep: Callable[[float], object] = time.sleep,
    max_retry_time: float | None = None,
    attempt_timeout: float | None = None,
) -> int:
    """POST ``payload`` as JSON to ``hook`` with bounded retries (429, 5xx, connection trouble).

    ``timeout`` bounds each connect and read; ``attempt_timeout`` (default
    ``GENERECT_WEBHOOK_TIMEOUT`` or 10 s) one attempt and ``max_retry_time`` (default
    ``GENERECT_WEBHOOK_DEADLINE`` or 30 s) all of them, in wall clock, however slowly the
    receiver answers. Returns the number of attempts. Raises :class:`DeliveryError` (exit 4)
    naming the webhook by position, never by URL. Redirects are not followed (a redirect could
    carry the body, and the URL's secret path, elsewhere).
    """
    import requests

    if attempt_timeout is None:
        attempt_timeout = env_number(WEBHOOK_TIMEOUT_ENV, 10.0, 0.1, 600.0)
    if max_retry_time is None:
        max_retry_time = env_number(WEBHOOK_DEADLINE_ENV, 30.0, 0.1, 3600.0)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    deadline = time.monotonic() + max_retry_time
    hide = _HideURLs()
    loggers = [logging.getLogger(name) for name in _URLLIB3_LOGGERS]
    for logger in loggers:
        logger.addFilter(hide)
    session = requests.Session()
    session.trust_env = True  # proxies from the environment may be needed to reach the chat
    adapter = _watched_adapter()(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    attempt = 0
    try:
        while True:
            attempt += 1
            status: int | None
            retry_after: float | None = None
            left = deadline - time.monotonic()
            watch = SocketWatch(max(0.001, min(attempt_timeout, left)))
            token = _WATCH.set(watch)
            try:
                with watch:
                    try:
                        response = session.post(
                            hook.url,
                            data=body,
                            timeout=(min(timeout[0], watch.left()), min(timeout[1], watch.left())),
                            allow_redirects=False,
                            headers={"Content-Type": "application/json; charset=utf-8"},
                        )
                    except BaseException:
                        watch.abort()  # a signal: the connection goes now, not at the deadline
                        raise
                    finally:
                        _WATCH.reset(token)
                    if watch.expired:  # an answer cut short at the deadline is no answer
                        response.close()
                        raise requests.Timeout("deadline")
                status = response.status_code
                response.close()
                if 200 <= status < 300:
                    log.info("posted the alert to %s", hook.name)
                    return attempt
                problem = f"HTTP {status}"
                ra = response.headers.get("Retry-After")
                retry_after = float(ra) if ra and ra.strip().replace(".", "", 1).isdigit() else None
            except requests.RequestException as exc:
                # requests' messages quote the URL, which is the secret: keep only the class name.
                status, problem = None, f"connection failed ({type(exc).__name__})"
                if watch.expired or isinstance(exc, requests.Timeout):
                    problem = (
                        f"no complete answer within {attempt_timeout:g} s"
                        if watch.seconds >= attempt_timeout
                        else f"no complete answer before the {max_retry_time:g} s deadline"
                    )
            except (ValueError, UnicodeError) as exc:
                # e.g. a host name that cannot be encoded; the message would quote the URL.
                raise DeliveryError(
                    f"{hook.name}: invalid webhook URL ({type(exc).__name__})"
                ) from None
            wait = retry_delay(attempt, retry_after)
            if (
                not should_retry(status, attempt, max_attempts)
                or time.monotonic() + wait > deadline
            ):
                raise DeliveryError(
                    f"{hook.name}: {problem}"
                    + (f" after {attempt} attempts" if attempt > 1 else "")
                ) from None
            log.info(
                "%s: %s; retry %d/%d in %.2fs", hook.name, problem, attempt, max_attempts - 1, wait
            )
            sleep(wait)
    finally:
        session.close()
        for logger in loggers:
            logger.removeFilter(hide)


def notify(hooks: Sequence[Webhook], title: str, lines: Sequence[str], **kwargs: Any) -> int:
    """Post one message (``title`` and ``lines``) to every webhook; return how many were posted.

    Every webhook is tried even when one fails; then the first failure is raised as
    :class:`DeliveryError`.
    """
    return post_all(
        hooks,
        lambda hook: (
            teams_payload(title, lines) if hook.kind == "teams" else slack_payload(title, lines)
        ),
        **kwargs,
    )


def post_all(
    hooks: Sequence[Webhook], payload_for: Callable[[Webhook], dict[str, Any]], **kwargs: Any
) -> int:
    """Post ``payload_for(hook)`` to every webhook (each tried even when one fails, then the
    first failure raised as :class:`DeliveryError`); return how many were posted."""
    failures: list[DeliveryError] = []
    sent = 0
    for hook in hooks:
        payload = payload_for(hook)
        try:
            post_webhook(hook, payload, **kwargs)
            sent += 1
        except DeliveryError as exc:
            log.error("%s", exc)
            failures.append(exc)
    if failures:
        raise DeliveryError(
            f"{len(failures)} of {len(hooks)} webhook(s) failed; first: {failures[0]}"
        ) from None  # no cause: it could hold a URL
    return sent
