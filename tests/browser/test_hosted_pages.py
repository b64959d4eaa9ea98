"""The hosted login page as a person uses it, in Chromium: sign in through the Entra
stand-in's page, see who is signed in, log out with the button, and find the session
over (even a copy of the old cookie no longer signs the page in). A log-out link on
another site only shows a confirmation page. Each page is checked with axe and kept
as a screenshot.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import BrowserSystem
from tests.support.signin import TENANT

SESSION = "__Host-eb_session"


def assert_accessible(system: BrowserSystem, name: str) -> None:
    system.shoot(name)
    results = Axe().run(system.page)
    violations = [
        (v["id"], v["impact"]) for v in results.response["violations"] if v["impact"] != "minor"
    ]
    assert violations == [], results.generate_report()


def sign_in_as(system: BrowserSystem, name: str) -> None:
    page = system.page
    page.goto(system.url(f"/api/auth/{TENANT}/login"))
    assert_accessible(system, "login-anonymous")
    page.get_by_role("link", name="Login with Microsoft").click()
    page.get_by_role("button", name=name).click()  # the stand-in's account picker
    page.wait_for_url(f"**/api/auth/{TENANT}/login")


def test_sign_in_see_who_is_signed_in_and_log_out(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    assert page.get_by_role("heading", name="Signed in").is_visible()
    assert page.get_by_text("sam@contoso.example").is_visible()
    assert_accessible(system, "login-signed-in")
    old_session = system.cookie(SESSION)
    assert old_session

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert page.get_by_role("link", name="Login with Microsoft").is_visible()
    assert system.cookie(SESSION) is None
    system.shoot("login-after-logout")

    # Someone kept a copy of the cookie: it no longer signs anyone in.
    system.context.add_cookies([{"name": SESSION, "value": old_session, "url": system.host.url}])
    page.reload()
    assert page.get_by_role("link", name="Login with Microsoft").is_visible()
    assert not page.get_by_role("heading", name="Signed in").is_visible()


def test_a_logout_link_on_another_site_asks_first(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Oscar One")
    logout = system.url(f"/api/auth/{TENANT}/logout")
    # Another origin (the Entra stand-in's, another port: same-site, not same-origin)
    # links to our logout.
    page.goto(f"{system.entra.base_url}/_control/faults")
    page.set_content(f"<!doctype html><title>elsewhere</title><a href='{logout}'>free prize</a>")
    with page.expect_navigation():
        page.get_by_role("link", name="free prize").click()
    assert page.url == logout
    assert page.get_by_role("heading", name="Log out?").is_visible()
    assert_accessible(system, "logout-confirmation")
    assert system.cookie(SESSION)  # nothing happened yet

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/login")
    assert page.get_by_role("link", name="Login with Microsoft").is_visible()
    assert system.cookie(SESSION) is None


def test_a_refused_sign_in_says_why_and_when_to_try_again(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    page.goto(
        system.url(f"/api/auth/{TENANT}/login?sso_error=too_many_attempts&sso_retry_after=30")
    )
    notice = page.locator("p.error")
    assert notice.inner_text() == (
        "Too many sign-in attempts from your network. Please wait a minute. "
        "Try again in 30 seconds."
    )
    assert page.get_by_role("link", name="Login with Microsoft").is_visible()
    assert_accessible(system, "login-too-many-attempts")
