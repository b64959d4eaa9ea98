"""Mail over real SMTP (the aiosmtpd mailbox `make dev` uses): an invite and a reset
arrive with their links, and a dead server fails nothing but the mail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.mailbox import Mailbox, start_mailbox
from shared.passwords.mail import Mailer, invite_text
from shared.secret import Secret
from shared.settings import Settings, SettingsError


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    box = start_mailbox(tmp_path / "mail")
    yield box
    box.stop()


def test_a_message_arrives_with_its_sender_subject_and_link(mailbox: Mailbox) -> None:
    mailer = Mailer(Secret(mailbox.smtp_url), "entrabridge@example.com")
    subject, text = invite_text("Grace", "Contoso", "https://auth.example.com/x?token=t")
    assert mailer.send("grace@partner.example", subject, text)
    [message] = mailbox.wait_for(1)
    assert (message["From"], message["To"]) == ("entrabridge@example.com", "grace@partner.example")
    assert message["Subject"] == "Your account at Contoso"
    assert "https://auth.example.com/x?token=t" in message.get_content()
    # The local mailbox's page links to it, so a person can follow an invite.
    index = (mailbox.folder / "index.html").read_text()
    assert "<a href='https://auth.example.com/x?token=t'>" in index


def test_an_unreachable_server_fails_the_mail_only(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = Mailer(Secret(f"smtp://127.0.0.1:{port}"), "entrabridge@example.com")
    assert mailer.send("grace@partner.example", "s", "https://x.example/?token=secret") is False
    assert "secret" not in caplog.text and "grace@" not in caplog.text


def test_mail_settings_are_checked() -> None:
    base = {
        "PUBLIC_BASE_URL": "https://auth.example.com",
        "KEY_VAULT_URI": "https://vault.example.net",
        "TABLES_ENDPOINT": "https://acct.table.core.windows.net",
    }
    assert Settings.from_env(base).smtp_url is None
    for bad in ({"SMTP_URL": "http://mail.example.com"}, {"SMTP_URL": "smtp://mail.example.com"}):
        with pytest.raises(SettingsError):
            Settings.from_env(base | bad)
    ok = Settings.from_env(base | {"SMTP_URL": "smtp://m.example.com:587", "MAIL_FROM": "a@b.c"})
    assert ok.mail_from == "a@b.c" and "m.example.com" not in repr(ok.smtp_url)
