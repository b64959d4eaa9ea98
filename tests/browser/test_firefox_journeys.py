"""The Chromium journeys again in a second engine, Firefox ESR (Debian's package,
driven over WebDriver BiDi: tests/support/firefox.py), with the local Functions host
writing `domain=` on every cookie as Azure does: an SSO user signs in through the
Entra stand-in's page and logs out; a password user follows the invite link, chooses
a password, logs out and signs in again with the login page's form.

That the `__Host-` cookies work at all here is the point: Firefox stores a cookie
whose Domain is empty as host-only (checked below on what Firefox kept), so the
sign-in's browser binding and the session survive Azure's `domain=`.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import EntraBridgeError
from tests.browser.test_hosted_pages import SESSION
from tests.support.firefox import FirefoxSystem, css, label, role
from tests.support.signin import TENANT

PHRASE = "a phrase only she knows well"


def assert_host_only(cookie: dict[str, Any] | None, system: FirefoxSystem) -> None:
    """As `__Host-` demands: kept for this host alone, Secure, Path=/."""
    assert cookie is not None
    host = system.host.url.split("//", 1)[1].rsplit(":", 1)[0]
    assert cookie["domain"] == host, cookie  # no leading dot: host-only
    assert cookie["secure"] is True and cookie["path"] == "/", cookie
    assert cookie["httpOnly"] is True, cookie


def signed_in_as(system: FirefoxSystem, email: str) -> str:
    """The page says who is signed in; the session cookie Firefox keeps is that
    person's live session. Its value."""
    page = system.page
    assert page.url == system.url(f"/api/auth/{TENANT}/login")
    assert page.is_visible(role("heading", "Signed in"))
    assert email in (page.text(css("main")) or "")
    session = page.cookie(SESSION)
    assert_host_only(session, system)
    assert session is not None
    assert system.services.sessions.current_user(TENANT, session["value"]).email == email
    return str(session["value"])


def log_out(system: FirefoxSystem, old_session: str) -> None:
    """The Log out button: back on the login page, the cookie gone from Firefox, the
    session over on the server."""
    page = system.page
    assert page.click_and_wait(role("button", "Log out")) == 200
    assert page.url == system.url(f"/api/auth/{TENANT}/login")
    assert page.is_visible(role("button", "Sign in"))
    assert page.cookie(SESSION) is None
    with pytest.raises(EntraBridgeError):
        system.services.sessions.current_user(TENANT, old_session)


def test_sso_sign_in_through_the_entra_page_and_log_out(firefox_system: FirefoxSystem) -> None:
    system = firefox_system
    page = system.page
    assert page.goto(system.url(f"/api/auth/{TENANT}/login")) == 200
    page.shoot("login-anonymous")

    assert page.click_and_wait(role("link", "Login with Microsoft")) == 200
    # The stand-in's account picker; the browser binding cookie was set on the way.
    assert_host_only(page.cookie("__Host-eb_browser"), system)
    page.shoot("entra-account-picker")
    assert page.click_and_wait(css("button", text="Sam Several")) == 200
    session = signed_in_as(system, "sam@contoso.example")
    page.shoot("login-signed-in-sso")

    log_out(system, session)
    assert page.is_visible(role("link", "Login with Microsoft"))
    page.shoot("login-after-logout")


def test_password_user_sets_a_password_from_the_invite_then_signs_in_with_it(
    firefox_system: FirefoxSystem,
) -> None:
    system = firefox_system
    page = system.page
    operator = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
    body = {"email": "grace@partner.example", "name": "Grace Hopper", "provider": "password"}
    _, invite_url = system.services.user_creation.create(operator, TENANT, body, ip=None)
    assert invite_url is not None

    assert page.goto(invite_url) == 200
    assert page.is_visible(role("heading", "Choose your password"))
    page.shoot("set-password")
    page.fill(label("New password"), PHRASE)
    assert page.click_and_wait(role("button", "Set password and sign in")) == 200
    session = signed_in_as(system, "grace@partner.example")
    page.shoot("login-signed-in-password")

    log_out(system, session)
    page.fill(label("Email"), "grace@partner.example")
    page.fill(label("Password"), "not her phrase at all")
    assert page.click_and_wait(role("button", "Sign in")) == 401
    assert "email or password is not correct" in (page.text(css("p.error")) or "")
    assert page.cookie(SESSION) is None

    page.fill(label("Email"), "grace@partner.example")
    page.fill(label("Password"), PHRASE)
    assert page.click_and_wait(role("button", "Sign in")) == 200
    signed_in_as(system, "grace@partner.example")
    page.shoot("login-signed-in-with-password-form")
