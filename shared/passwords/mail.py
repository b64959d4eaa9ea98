"""Mail to password users (invites, password resets) over SMTP: STARTTLS whenever
the server offers it (smtps:// is TLS from the start), credentials from SMTP_URL.

Sending never fails the request that asked for it: an invite's link is in the
admin's answer anyway, and "forgot password" answers the same whatever happens.
A failure is logged with the error's class only (never the address or the link).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from shared.secret import Secret
from shared.settings import Settings

log = logging.getLogger("entrabridge.mail")
TIMEOUT = 10


class Mailer:
    def __init__(self, smtp_url: Secret, sender: str) -> None:
        self._url = smtp_url
        self._sender = sender

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
                if parts.scheme == "smtp" and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if parts.username:
                    client.login(unquote(parts.username), unquote(parts.password or ""))
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("mail not sent: %s", type(error).__name__)
            return False
        return True


def mailer(settings: Settings) -> Mailer | None:
    """The mailer SMTP_URL and MAIL_FROM describe; None when mail is not configured."""
    if settings.smtp_url is None or settings.mail_from is None:
        return None
    return Mailer(settings.smtp_url, settings.mail_from)


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
