"""Mail to password users (invites, password resets) over SMTP: STARTTLS whenever
the server offers it (smtps:// is TLS from the start). When SMTP_URL names a user,
the password is the URL's, else Key Vault's secret `smtp-password`; it is only
ever sent over TLS: a server that offers none gets no mail from us, rather than
the credentials in clear (a man in the middle can strip STARTTLS from the offer).

Sending never fails the request that asked for it: an invite's link is in the
admin's answer anyway, and "forgot password" answers the same whatever happens.
A failure is logged with the error's class only (never the address or the link).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from shared.secret import Secret
from shared.settings import Settings

log = logging.getLogger("entrabridge.mail")
TIMEOUT = 10
SMTP_PASSWORD_SECRET = "smtp-password"  # noqa: S105 (a Key Vault secret's name)


class _NotSent(Exception):
    """Why a message was not sent (safe to log: no address, link or credential)."""


def _no_password() -> Secret | None:
    return None


class Mailer:
    def __init__(
        self,
        smtp_url: Secret,
        sender: str,
        *,
        stored_password: Callable[[], Secret | None] = _no_password,
    ) -> None:
        self._url = smtp_url
        self._sender = sender
        self._stored_password = stored_password  # Key Vault's smtp-password

    def send(self, to: str, subject: str, text: str) -> bool:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, to, subject
        message.set_content(text)
        parts = urlsplit(self._url.reveal())
        host = parts.hostname or "localhost"
        try:
            if parts.scheme == "smtps":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, parts.port or 465, timeout=TIMEOUT, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(host, parts.port or 25, timeout=TIMEOUT)
            with client:
                client.ehlo()
                encrypted = parts.scheme == "smtps"
                if parts.scheme == "smtp" and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                    encrypted = True
                if parts.username:
                    if not encrypted:
                        raise _NotSent("the server offers no TLS; credentials go over TLS only")
                    client.login(unquote(parts.username), self._password(parts.password))
                client.send_message(message)
        except _NotSent as refused:
            log.warning("mail not sent: %s", refused)
            return False
        except Exception as error:  # no exception text: it may quote the password
            log.warning("mail not sent: %s", type(error).__name__)
            return False
        return True

    def _password(self, in_url: str | None) -> str:
        if in_url:
            return unquote(in_url)
        try:
            stored = self._stored_password()
        except Exception as error:  # Key Vault failing: this mail only
            raise _NotSent(f"Key Vault's {SMTP_PASSWORD_SECRET} unreadable") from error
        if stored is None:
            raise _NotSent(f"SMTP_URL names a user and Key Vault has no {SMTP_PASSWORD_SECRET}")
        return stored.reveal()


def mailer(
    settings: Settings, *, stored_password: Callable[[], Secret | None] = _no_password
) -> Mailer | None:
    """The mailer SMTP_URL and MAIL_FROM describe; None when mail is not configured.
    `stored_password` reads Key Vault's smtp-password (only when a message is sent)."""
    if settings.smtp_url is None or settings.mail_from is None:
        return None
    return Mailer(settings.smtp_url, settings.mail_from, stored_password=stored_password)


def invite_text(name: str, organisation: str, link: str) -> tuple[str, str]:
    return (
        f"Your account at {organisation}",
        f"Hello {name},\n\nAn account was created for you at {organisation}. Choose your "
        f"password here (the link works once, for 72 hours):\n\n{link}\n",
    )


def reset_text(name: str, organisation: str, link: str) -> tuple[str, str]:
    return (
        f"Reset your password at {organisation}",
        f"Hello {name},\n\nSomeone asked to reset your password at {organisation}. If it "
        f"was you, choose a new one here (the link works once, for one hour):\n\n{link}\n\n"
        "If it was not you, ignore this message: your password has not changed.\n",
    )
