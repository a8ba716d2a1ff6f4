"""Sending a message: SMTP (STARTTLS, SSL or plain) or an exact ``.eml`` file for a dry run.

The SMTP password is read only from ``GENERECT_SMTP_PASSWORD`` and never written anywhere: it is
kept out of the settings' repr and scrubbed from every error.

A session is one attempt (a retried DATA could deliver the message twice) bounded twice: each
read by ``GENERECT_SMTP_TIMEOUT`` (default 30 s), and the whole session, connecting, TLS, login
and the reply after DATA included, by the wall-clock ``GENERECT_SMTP_DEADLINE`` (default 120 s),
which holds however slowly the server trickles its replies. A signal ends the session at once:
the socket is closed without ``QUIT``.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from generect_reports._atomic import write_bytes_atomic
from generect_reports._http import env_number
from generect_reports.deliver._watch import SocketWatch
from generect_reports.errors import DeliveryError, InputError

__all__ = [
    "SECURITY",
    "DEFAULT_PORTS",
    "SMTP_TIMEOUT_ENV",
    "SMTP_DEADLINE_ENV",
    "validate_addresses",
    "SmtpSettings",
    "write_eml",
    "send_message",
]


_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
#: Seconds one read from the SMTP server may wait (default 30).
SMTP_TIMEOUT_ENV = "GENERECT_SMTP_TIMEOUT"
#: Wall-clock seconds a whole SMTP session may take (default 120).
SMTP_DEADLINE_ENV = "GENERECT_SMTP_DEADLINE"


def validate_addresses(values: Iterable[str], option: str, *, required: bool = False) -> list[str]:
    """Check plain ``user@domain`` addresses (no display names, no header injection)."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            address = part.strip()
            if not address:
                continue
            if len(address) > 254 or not _ADDRESS.match(address):
                raise InputError(f"invalid email address for {option}: {address!r}")
            out.append(address)
    if required and not out:
        raise InputError(f"{option} needs at least one email address")
    return out


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``password`` is kept out of the repr."""

    host: str
    port: int
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    cafile: str | None = None
    deadline: float = 120.0

    @classmethod
    def from_options(
        cls,
        *,
        host: str | None,
        port: int | None,
        security: str = "starttls",
        user: str | None = None,
        need_host: bool = True,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> SmtpSettings:
        security = (security or "starttls").lower()
        if security not in SECURITY:
            raise InputError(f"unknown --smtp-security {security!r}: use starttls, ssl or none")
        if need_host and not host:
            raise InputError("--smtp-host is required to send (or use --dry-run FILE.eml)")
        if port is not None and not (0 < port < 65536):
            raise InputError(f"invalid --smtp-port {port}")
        password = os.environ.get("GENERECT_SMTP_PASSWORD") or None
        if user and not password and need_host:
            raise InputError("--smtp-user is set but GENERECT_SMTP_PASSWORD is not")
        return cls(
            host=host or "",
            port=port or DEFAULT_PORTS[security],
            security=security,
            user=user or None,
            password=password if user else None,
            timeout=timeout
            if timeout is not None
            else env_number(SMTP_TIMEOUT_ENV, 30.0, 0.1, 600),
            deadline=(
                deadline
                if deadline is not None
                else env_number(SMTP_DEADLINE_ENV, 120.0, 0.1, 3600)
            ),
        )


def write_eml(message: EmailMessage, path: str | os.PathLike[str]) -> None:
    """Write the exact message bytes to ``path`` atomically (for ``--dry-run``)."""
    from email import policy

    write_bytes_atomic(path, message.as_bytes(policy=policy.SMTP))


def _redact(text: str, settings: SmtpSettings) -> str:
    if settings.password:
        text = text.replace(settings.password, "***")
    return text


class _WatchedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` whose socket is handed to a :class:`SocketWatch` before the banner."""

    watch: SocketWatch

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection(
            (host, port), min(timeout, self.watch.left()), self.source_address
        )
        self.watch.add(sock)
        return sock


class _WatchedSMTPSSL(smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` whose socket is watched before the TLS handshake."""

    watch: SocketWatch
    context: ssl.SSLContext

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection(
            (host, port), min(timeout, self.watch.left()), self.source_address
        )
        self.watch.add(sock)
        return self.context.wrap_socket(sock, server_hostname=host)


def _session(
    smtp: smtplib.SMTP, settings: SmtpSettings, message: EmailMessage, context: ssl.SSLContext
) -> dict[str, Any]:
    where = f"{settings.host}:{settings.port}"
    # smtplib takes TLS's server name from the host given to the constructor, which connects
    # at once; connecting here (after the socket is watched) needs it set by hand.
    smtp._host = settings.host  # type: ignore[attr-defined]
    code, banner = smtp.connect(settings.host, settings.port)
    if code != 220:
        raise smtplib.SMTPConnectError(code, banner)
    smtp.ehlo()
    if settings.security == "starttls":
        if not smtp.has_extn("starttls"):
            raise DeliveryError(
                f"SMTP server {where} does not offer STARTTLS "
                "(use --smtp-security ssl, or none on a trusted network)"
            )
        smtp.starttls(context=context)
        smtp.ehlo()
    if settings.user:
        smtp.login(settings.user, settings.password or "")
    return smtp.send_message(message)


def send_message(message: EmailMessage, settings: SmtpSettings) -> None:
    """Deliver ``message``; any failure raises :class:`DeliveryError` (nothing is reported as
    sent unless every recipient was accepted). The session ends within ``settings.deadline``
    seconds of wall clock, and at once on a signal (the socket closed without ``QUIT``)."""
    context = ssl.create_default_context(cafile=settings.cafile)
    where = f"{settings.host}:{settings.port}"
    watch = SocketWatch(settings.deadline)
    try:
        with watch:
            smtp: _WatchedSMTP | _WatchedSMTPSSL
            if settings.security == "ssl":
                smtp = _WatchedSMTPSSL(timeout=settings.timeout, context=context)
            else:
                smtp = _WatchedSMTP(timeout=settings.timeout)
            smtp.watch = watch
            try:
                refused = _session(smtp, settings, message, context)
                if watch.expired:  # a reply cut short at the deadline is no reply
                    raise smtplib.SMTPServerDisconnected("deadline")
            except BaseException:
                # No QUIT: the server may be the slow one, and a signal must end the run now.
                watch.abort()
                smtp.close()
                raise
            try:  # the message is accepted: a goodbye that fails changes nothing
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        # from None: smtplib's messages may quote a server reply to the login.
        if not watch.expired:
            raise _delivery_error(exc, settings) from None
        raise DeliveryError(
            f"SMTP server {where} did not finish within {settings.deadline:g} s "
            f"({SMTP_DEADLINE_ENV}); the message may not have been sent"
        ) from None
    if refused:
        raise DeliveryError(
            "SMTP server refused some recipients: "
            + ", ".join(sorted(refused))
            + "; the others received the message"
        )


def _delivery_error(exc: BaseException, settings: SmtpSettings) -> DeliveryError:
    """``exc`` (from smtplib, ssl or the socket) as one line, the password scrubbed."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"SMTP login as {settings.user!r} was refused by {where} ({exc.smtp_code})"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return DeliveryError(
            f"SMTP server {where} refused every recipient: "
            f"{', '.join(sorted(exc.recipients))}; nothing was sent"
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"SMTP server {where} refused the sender {exc.sender!r} ({exc.smtp_code}); "
            "nothing was sent"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"SMTP server {where}: {_redact(str(exc), settings)}")
    if isinstance(exc, smtplib.SMTPException):
        return DeliveryError(
            f"SMTP error from {where}: {_redact(str(exc), settings)[:200]}; "
            "the message may not have been sent"
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"TLS with {where} failed ({exc.reason or type(exc).__name__})")
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"SMTP server {where} timed out")
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return DeliveryError(f"cannot reach SMTP server {where} ({strerror or type(exc).__name__})")
