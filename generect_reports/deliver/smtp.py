"""Sending a message: SMTP (STARTTLS, SSL or plain) or an exact ``.eml`` file for a dry run.

The SMTP password is read only from ``GENERECT_SMTP_PASSWORD`` and never written anywhere: it is
kept out of the settings' repr and scrubbed from every error.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

from generect_reports._atomic import write_bytes_atomic
from generect_reports.errors import DeliveryError, InputError

__all__ = [
    "SECURITY",
    "DEFAULT_PORTS",
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

    @classmethod
    def from_options(
        cls,
        *,
        host: str | None,
        port: int | None,
        security: str = "starttls",
        user: str | None = None,
        need_host: bool = True,
        timeout: float = 30.0,
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
            timeout=timeout,
        )


def write_eml(message: EmailMessage, path: str | os.PathLike[str]) -> None:
    """Write the exact message bytes to ``path`` atomically (for ``--dry-run``)."""
    from email import policy

    write_bytes_atomic(path, message.as_bytes(policy=policy.SMTP))


def _redact(text: str, settings: SmtpSettings) -> str:
    if settings.password:
        text = text.replace(settings.password, "***")
    return text


def send_message(message: EmailMessage, settings: SmtpSettings) -> None:
    """Deliver ``message``; any failure raises :class:`DeliveryError` (nothing is reported as
    sent unless every recipient was accepted)."""
    context = ssl.create_default_context(cafile=settings.cafile)
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
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
            refused = smtp.send_message(message)
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"SMTP login as {settings.user!r} was refused by {where} ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"SMTP server {where} refused every recipient: "
            f"{', '.join(sorted(exc.recipients))}; nothing was sent"
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(
            f"SMTP server {where} refused the sender {exc.sender!r} ({exc.smtp_code}); "
            "nothing was sent"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(f"SMTP server {where}: {_redact(str(exc), settings)}") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(
            f"SMTP error from {where}: {_redact(str(exc), settings)[:200]}; "
            "the message may not have been sent"
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"TLS with {where} failed ({exc.reason or type(exc).__name__})"
        ) from None
    except TimeoutError:
        raise DeliveryError(f"SMTP server {where} timed out") from None
    except OSError as exc:
        raise DeliveryError(
            f"cannot reach SMTP server {where} ({exc.strerror or type(exc).__name__})"
        ) from None
    if refused:
        raise DeliveryError(
            "SMTP server refused some recipients: "
            + ", ".join(sorted(refused))
            + "; the others received the message"
        )
