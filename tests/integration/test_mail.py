"""Mail over real SMTP (the aiosmtpd mailbox `make dev` uses): an invite and a reset
arrive with their links, and a dead server fails nothing but the mail."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from devtools.localca import ensure_local_ca
from devtools.mailbox import KeepMessages, Mailbox, start_mailbox
from shared.passwords.mail import SMTP_PASSWORD_SECRET, Mailer, invite_text
from shared.secret import Secret
from shared.settings import Settings, SettingsError
from tests.support.memory_vault import MemoryVault


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


class _Credentials:
    """An aiosmtpd authenticator that accepts anything and keeps what it was sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        login = auth.login.decode() if isinstance(auth.login, bytes) else str(auth.login)
        password = auth.password.decode() if isinstance(auth.password, bytes) else auth.password
        self.seen.append((login, str(password)))
        return AuthResult(success=True)


@contextmanager
def smtp_server(folder: Path, *, tls: bool) -> Iterator[tuple[int, _Credentials]]:
    """A real SMTP server that asks for AUTH; with `tls`, it offers STARTTLS with the
    local CA's loopback certificate (and takes AUTH only after it)."""
    credentials = _Credentials()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    options: dict[str, Any] = {"authenticator": credentials, "auth_require_tls": tls}
    if tls:
        ca = ensure_local_ca()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(ca.server_cert, ca.server_key)
        options["tls_context"] = context
    controller = Controller(KeepMessages(folder), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, credentials
    finally:
        controller.stop()


def test_credentials_never_go_to_a_server_that_offers_no_tls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # STARTTLS missing from the server's offer (or stripped by a man in the middle):
    # no AUTH is sent, and no mail.
    with smtp_server(tmp_path, tls=False) as (port, credentials):
        mailer = Mailer(Secret(f"smtp://mailer:S3cretPw@127.0.0.1:{port}"), "eb@example.com")
        assert mailer.send("grace@partner.example", "s", "body") is False
    assert credentials.seen == []
    assert list(tmp_path.glob("*.eml")) == []
    assert "offers no TLS" in caplog.text and "S3cretPw" not in caplog.text


def test_the_password_comes_from_key_vault_when_the_url_names_only_a_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the contract says: SMTP_URL names the user, Key Vault's smtp-password is the
    # password; both travel only after STARTTLS (the local CA signs the server).
    monkeypatch.setenv("SSL_CERT_FILE", str(ensure_local_ca().bundle))
    vault = MemoryVault()
    vault.set_secret(SMTP_PASSWORD_SECRET, "from-key-vault")

    def stored() -> Secret | None:
        found = vault.get_secret(SMTP_PASSWORD_SECRET)
        return found.value if found is not None else None

    with smtp_server(tmp_path, tls=True) as (port, credentials):
        mailer = Mailer(
            Secret(f"smtp://mailer@127.0.0.1:{port}"), "eb@example.com", stored_password=stored
        )
        assert mailer.send("grace@partner.example", "s", "body") is True
    assert credentials.seen == [("mailer", "from-key-vault")]
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_password_smtp_cannot_carry_fails_the_mail_without_quoting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    # smtplib sends AUTH in ASCII: a stored "€" raised a UnicodeEncodeError whose text
    # names the character and its place, and nothing caught it in the mail thread.
    monkeypatch.setenv("SSL_CERT_FILE", str(ensure_local_ca().bundle))
    with smtp_server(tmp_path, tls=True) as (port, credentials):
        mailer = Mailer(
            Secret(f"smtp://mailer@127.0.0.1:{port}"),
            "eb@example.com",
            stored_password=lambda: Secret("Sommer2024€Geheim"),
        )
        assert mailer.send("grace@partner.example", "s", "body") is False
    assert credentials.seen == []
    written = caplog.text + capsys.readouterr().err
    assert "mail not sent: UnicodeEncodeError" in written
    assert "€" not in written and "\\u20ac" not in written and "Geheim" not in written


def test_an_smtp_url_whose_password_is_not_encoded_is_refused_without_quoting_it() -> None:
    base = {
        "PUBLIC_BASE_URL": "https://auth.example.com",
        "KEY_VAULT_URI": "https://vault.example.net",
        "TABLES_ENDPOINT": "https://acct.table.core.windows.net",
        "MAIL_FROM": "eb@example.com",
    }
    for url in (
        "smtps://mailer:Pr1v#te-Pw@smtp.example.com:465",
        "smtps://mailer:1234#te-Pw@smtp.example.com:465",
        "smtps://mailer:Pr1v/te-Pw@smtp.example.com:465",
        "smtp://mailer:99?x-Pw@smtp.example.com:587",
    ):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env(base | {"SMTP_URL": url})
        assert "Pw" not in str(refused.value) and "Pr1v" not in str(refused.value), url
        assert "SMTP_URL" in str(refused.value)
    encoded = Settings.from_env(base | {"SMTP_URL": "smtps://mailer:Pr1v%23te@smtp.example.com"})
    assert encoded.smtp_url is not None
