"""A password user's pages in Chromium: the invite link's page to choose a password,
then the login page's email and password form. Each page is checked with axe and
kept as a screenshot."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from devtools.mailbox import start_mailbox
from functions.pages import MESSAGES
from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.passwords.mail import Mailer
from shared.secret import Secret
from tests.browser.test_hosted_pages import SESSION, assert_accessible
from tests.support.browser import BrowserSystem
from tests.support.signin import TENANT

PHRASE = "a phrase only she knows well"
DISPLAY_NAME = "Contoso"


def invite(system: BrowserSystem) -> str:
    operator = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
    body = {"email": "grace@partner.example", "name": "Grace Hopper", "provider": "password"}
    _, url = system.services.user_creation.create(operator, TENANT, body, ip=None)
    assert url is not None
    return url


def invited_by_mail(system: BrowserSystem, folder: Path) -> str:
    """The invite as the person gets it: mailed through a real SMTP server (the local
    mailbox `make dev` runs), the link read from the message."""
    mailbox = start_mailbox(folder)
    try:
        system.services.passwords.mailer = Mailer(
            Secret(mailbox.smtp_url), "entrabridge@contoso.example"
        )
        answered = invite(system)
        [message] = mailbox.wait_for(1)
    finally:
        mailbox.stop()
    assert message["To"] == "grace@partner.example"
    [link] = re.findall(r"https://\S+", message.get_content())
    assert link == answered  # the same link the admin got
    return str(link)


def test_an_invited_person_chooses_a_password_and_later_signs_in_with_it(
    browser_system: BrowserSystem, tmp_path: Path
) -> None:
    system = browser_system
    page = system.page
    page.goto(invited_by_mail(system, tmp_path / "mail"))
    assert page.get_by_text("grace@partner.example").is_visible()
    assert_accessible(system, "set-password")

    page.get_by_label("New password").fill("Password1234")
    page.get_by_role("button", name="Set password and sign in").click()
    assert "too common" in page.locator("p.error").inner_text()
    assert_accessible(system, "set-password-refused")

    page.get_by_label("New password").fill(PHRASE)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert page.get_by_role("heading", name="Signed in").is_visible()
    assert page.get_by_text("grace@partner.example").is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert system.cookie(SESSION) is None
    assert page.locator("p.org").inner_text() == DISPLAY_NAME  # whose sign-in this is

    page.get_by_label("Email", exact=True).fill("grace@partner.example")
    page.get_by_label("Password", exact=True).fill("not her phrase at all")
    with page.expect_response(f"**/api/auth/{TENANT}/password") as answer:
        page.get_by_role("button", name="Sign in", exact=True).click()
    assert answer.value.status == 401
    assert "email or password is not correct" in page.locator("p.error").inner_text()
    assert_accessible(system, "login-invalid-credentials")
    # Her email is kept; the password is never sent back.
    assert page.get_by_label("Email", exact=True).input_value() == "grace@partner.example"
    assert page.get_by_label("Password", exact=True).input_value() == ""

    page.get_by_label("Password", exact=True).fill(PHRASE)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert page.get_by_role("heading", name="Signed in").is_visible()
    assert system.cookie(SESSION)


@pytest.mark.parametrize("email", ["grace@bücher.example", "jörg@partner.example"])
def test_a_person_whose_email_is_not_ascii_signs_in_with_the_form(
    browser_system: BrowserSystem, email: str
) -> None:
    # Accounts may have such addresses (the admin API takes them); the browser must send
    # them as typed (an email input would send the domain as punycode, or refuse).
    system = browser_system
    operator = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
    body = {"email": email, "name": "Grace Hopper", "provider": "password"}
    _, url = system.services.user_creation.create(operator, TENANT, body, ip=None)
    assert url is not None
    token = url.split("token=", 1)[1]
    system.services.passwords.set_password(TENANT, token, Secret(PHRASE), ip=None)
    page = system.page
    page.goto(system.url(f"/api/auth/{TENANT}/login"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PHRASE)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert page.get_by_role("heading", name="Signed in").is_visible()
    assert page.get_by_text(email).is_visible()
    assert system.cookie(SESSION)


def test_the_login_page_keeps_where_the_person_was_going_through_a_wrong_password(
    browser_system: BrowserSystem,
) -> None:
    system = browser_system
    system.services.passwords.set_password(
        TENANT, invite(system).split("token=", 1)[1], Secret(PHRASE), ip=None
    )
    page = system.page
    page.goto(system.url(f"/api/auth/{TENANT}/login?return_to=/api/auth/{TENANT}/me"))
    page.get_by_label("Email", exact=True).fill("grace@partner.example")
    page.get_by_label("Password", exact=True).fill("not her phrase at all")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert "email or password is not correct" in page.locator("p.error").inner_text()
    page.get_by_label("Password", exact=True).fill(PHRASE)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"**/api/auth/{TENANT}/me")
    assert "grace@partner.example" in page.content()


def test_a_return_to_the_tenant_does_not_allow_is_dropped_from_the_login_page(
    browser_system: BrowserSystem,
) -> None:
    system = browser_system
    page = system.page
    for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        page.goto(system.url(f"/api/auth/{TENANT}/login") + "?return_to=" + quote(elsewhere))
        assert page.locator("input[name=return_to]").count() == 0
        button = page.get_by_role("link", name="Login with Microsoft")
        assert "return_to" not in (button.get_attribute("href") or "")


@contextmanager
def application_homepage() -> Iterator[str]:
    """The SaaS application's own homepage, on another origin than this service (as in
    production): a bare HTTP server answering every GET."""

    class Home(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Home</title><h1>The application</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Home)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/home"
    finally:
        server.shutdown()
        server.server_close()


def test_both_password_forms_land_on_a_homepage_on_another_origin(
    browser_system: BrowserSystem,
) -> None:
    # Browsers check the redirect that answers a form post against the page's CSP
    # form-action: the tenant's homepage (another origin) must be allowed there, or
    # Chromium stays on the form with a signed-in session it never shows.
    system = browser_system
    page = system.page
    with application_homepage() as home:
        record = system.services.configs.get_tenant(TENANT)
        assert record is not None
        moved = dataclasses.replace(record.config, homepage_url=home)
        system.services.configs.put_tenant(TENANT, record.display_name, moved)

        page.goto(invite(system))
        page.get_by_label("New password").fill(PHRASE)
        page.get_by_role("button", name="Set password and sign in").click()
        page.wait_for_url(home)
        assert page.get_by_role("heading", name="The application").is_visible()

        page.context.clear_cookies()
        page.goto(system.url(f"/api/auth/{TENANT}/login"))
        page.get_by_label("Email", exact=True).fill("grace@partner.example")
        page.get_by_label("Password", exact=True).fill(PHRASE)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(home)
        assert page.get_by_role("heading", name="The application").is_visible()
        assert system.cookie(SESSION)


def test_a_used_invite_link_says_what_to_do(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    link = invite(system)
    page.goto(link)
    page.get_by_label("New password").fill(PHRASE)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    answer = page.goto(link)
    assert answer is not None and answer.status == 400
    assert "Ask your administrator for a new invitation" in page.locator("p.error").inner_text()
    assert_accessible(system, "invite-link-used")


def test_enforce_sso_leaves_only_the_microsoft_button(browser_system: BrowserSystem) -> None:
    system = browser_system
    record = system.services.configs.get_tenant(TENANT)
    assert record is not None
    enforced = dataclasses.replace(record.config, enforce_sso=True)
    system.services.configs.put_tenant(TENANT, record.display_name, enforced)
    page = system.page
    page.goto(system.url(f"/api/auth/{TENANT}/login"))
    assert page.get_by_role("link", name="Login with Microsoft").is_visible()
    assert page.get_by_label("Email", exact=True).count() == 0
    assert page.get_by_text("Forgot password?").count() == 0
    assert_accessible(system, "login-enforce-sso")


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_each_sign_in_error_shows_its_message(browser_system: BrowserSystem, code: str) -> None:
    page = browser_system.page
    page.goto(browser_system.url(f"/api/auth/{TENANT}/login?sso_error={code}"))
    assert page.get_by_role("alert").inner_text() == MESSAGES[code]
