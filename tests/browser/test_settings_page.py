"""The settings page as a tenant admin uses it, in Chromium: open it after signing in,
add a profile row without JavaScript, save, see it saved; a member who is not an
admin gets the 403 page. Each screen is checked with axe and kept as a screenshot."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.browser.test_hosted_pages import assert_accessible, sign_in_as
from tests.support.browser import BrowserSystem
from tests.support.signin import PROFILE_ENGINEERS, TENANT

PROFILE = "e0000000-0000-4000-8000-00000000000c"
GROUP = "f0000000-0000-4000-8000-00000000000c"
NEW_ENGINEERS = "e0000000-0000-4000-8000-0000000000ee"


def test_an_admin_adds_a_profile_mapping_and_saves(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")  # in the tenant's admin group
    page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    assert page.get_by_role("heading", name="OAuth2 settings").is_visible()
    assert_accessible(system, "settings")
    # The read-only values for Entra each have a Copy button (the page's one script).
    system.context.grant_permissions(["clipboard-read", "clipboard-write"])
    redirect_uri = system.url(f"/api/auth/{TENANT}/callback")
    copy = page.get_by_role("button", name=f"Copy {redirect_uri}")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == redirect_uri

    rows_before = page.locator("tbody tr").count()
    page.get_by_role("button", name="+ Add profile").click()
    assert page.locator("tbody tr").count() == rows_before + 1
    page.get_by_label(f"Profile ID, row {rows_before + 1}").fill(PROFILE)
    page.get_by_label(f"Entra group ID, row {rows_before + 1}").fill(GROUP)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/settings?saved=1")
    assert page.get_by_role("status").inner_text().startswith("Saved.")
    assert_accessible(system, "settings-saved")
    mappings = system.services.admin.get_config(TENANT).body["profile_mappings"]
    assert {"profile_id": PROFILE, "group_id": GROUP} in mappings

    # Take the new row out again: gone from the table at once, from the store on Save.
    last = len(mappings)
    page.get_by_role("button", name=f"Remove row {last}").click()
    assert page.locator(f"input[value='{PROFILE}']").count() == 0
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/settings?saved=1")
    mappings = system.services.admin.get_config(TENANT).body["profile_mappings"]
    assert {"profile_id": PROFILE, "group_id": GROUP} not in mappings and len(mappings) == last - 1

    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Users").click()
    assert page.get_by_role("heading", name="Users").is_visible()
    assert page.get_by_role("cell", name="sam@contoso.example", exact=True).is_visible()
    assert_accessible(system, "settings-users")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit").click()
    assert page.get_by_role("cell", name="config_updated").first.is_visible()
    assert_accessible(system, "settings-audit")


def test_a_page_left_open_past_the_access_cookie_still_saves(
    browser_system: BrowserSystem,
) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    rows = page.locator("tbody tr").count()
    page.get_by_role("button", name="+ Add profile").click()
    page.get_by_label(f"Profile ID, row {rows + 1}").fill(PROFILE)
    page.get_by_label(f"Entra group ID, row {rows + 1}").fill(GROUP)
    # 15 minutes on, the browser drops the access cookie (its Max-Age); the refresh
    # cookie is left. Waiting that long is not a test: the cookie is taken out instead.
    session_cookie = re.compile(r".*eb_session$")
    system.context.clear_cookies(name=session_cookie)
    refresh_before = _cookie(system, "eb_refresh")

    page.get_by_role("button", name="Save").click()

    page.wait_for_url(f"**/api/auth/{TENANT}/settings?saved=1")
    assert page.get_by_role("status").inner_text().startswith("Saved.")
    mappings = system.services.admin.get_config(TENANT).body["profile_mappings"]
    assert {"profile_id": PROFILE, "group_id": GROUP} in mappings
    # The session was renewed on the way: a new access cookie and a rotated refresh one.
    assert _cookie(system, "eb_session") and _cookie(system, "eb_refresh") != refresh_before


def _cookie(system: BrowserSystem, suffix: str) -> str | None:
    for cookie in system.context.cookies():
        if cookie["name"].endswith(suffix):
            return cookie["value"]
    return None


def test_an_admin_without_a_session_signs_in_and_comes_back_to_the_settings(
    browser_system: BrowserSystem,
) -> None:
    system = browser_system
    page = system.page
    page.goto(system.url(f"/api/auth/{TENANT}/settings/audit"))
    page.wait_for_url(f"**/api/auth/{TENANT}/login?return_to=*")
    page.get_by_role("link", name="Login with Microsoft").click()
    page.get_by_role("button", name="Sam Several").click()  # the stand-in's account picker
    page.wait_for_url(f"**/api/auth/{TENANT}/settings/audit")
    assert page.get_by_role("heading", name="Audit").is_visible()


def test_a_member_who_is_not_an_admin_gets_the_403_page(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Oscar One")
    answer = page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    assert answer is not None and answer.status == 403
    assert page.get_by_role("heading", name="Tenant admins only").is_visible()
    assert_accessible(system, "settings-not-admin")


def test_a_mapping_saved_on_the_page_reaches_a_member_at_their_next_sign_in(
    browser_system: BrowserSystem, chromium: Browser
) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    row = page.locator(f"input[value='{PROFILE_ENGINEERS}']")
    row.fill(NEW_ENGINEERS)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/settings?saved=1")

    # Another person, in a browser of their own: a member of Engineering.
    other = chromium.new_context(ignore_https_errors=True)
    try:
        member = other.new_page()
        member.goto(system.url(f"/api/auth/{TENANT}/login"))
        member.get_by_role("link", name="Login with Microsoft").click()
        member.get_by_role("button", name="Oscar One").click()
        member.wait_for_url(f"**/api/auth/{TENANT}/login")
        assert member.get_by_text(NEW_ENGINEERS).is_visible()
        assert not member.get_by_text(PROFILE_ENGINEERS).is_visible()
    finally:
        other.close()


def test_a_bad_field_and_a_save_from_a_stale_tab_change_nothing(
    browser_system: BrowserSystem,
) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    settings = system.url(f"/api/auth/{TENANT}/settings")
    before = system.services.admin.get_config(TENANT)
    page.goto(settings)
    page.get_by_label("Client ID").fill("not-a-uuid")
    page.get_by_label("Client secret", exact=True).fill("a-new-secret-value")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#err-client_id").is_visible()
    assert page.get_by_label("Client ID").get_attribute("aria-invalid") == "true"
    # The secret is not shown back: the admin is told to type it again, at the field.
    secret = page.get_by_label("Client secret", exact=True)
    assert secret.input_value() == ""
    expect(secret).to_have_accessible_description(re.compile("type it again"))
    assert_accessible(system, "settings-bad-field")
    assert system.services.admin.get_config(TENANT) == before

    stale = system.context.new_page()  # a second tab, opened before the first saves
    stale.goto(settings)
    page.goto(settings)
    page.get_by_label("Button label").fill("Sign in with Contoso")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/settings?saved=1")
    stale.get_by_label("Homepage URL").fill("/portal")
    stale.get_by_role("button", name="Save").click()
    assert "Someone else saved" in stale.locator("p.error").inner_text()
    assert stale.get_by_label("Homepage URL").input_value() == "/portal"  # nothing lost
    body = system.services.admin.get_config(TENANT).body
    assert (body["button_label"], body["homepage_url"]) == ("Sign in with Contoso", None)


def test_a_bad_entry_in_a_list_or_a_row_is_shown_at_its_control(
    browser_system: BrowserSystem,
) -> None:
    # The configuration names list items (`admin_group_ids[1]`,
    # `profile_mappings[0].group_id`): each message must reach the control it is
    # about, announced with it, or the admin cannot tell what to fix.
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    before = system.services.admin.get_config(TENANT)
    page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    page.get_by_label("Admin group IDs (one per line)").fill(f"{GROUP}\nnot-a-group-id")
    rows = page.locator("input[name^=profile_id_]").count()
    page.get_by_label(f"Profile ID, row {rows}").fill(PROFILE)
    page.get_by_label(f"Entra group ID, row {rows}").fill("not-a-group-either")
    page.get_by_label("Client secret", exact=True).fill("ends with a space ")
    page.get_by_role("button", name="Save").click()

    admins = page.get_by_label("Admin group IDs (one per line)")
    expect(admins).to_have_attribute("aria-invalid", "true")
    expect(admins).to_have_accessible_description(re.compile("entry 2"))
    row = page.get_by_label(f"Entra group ID, row {rows}")
    expect(row).to_have_attribute("aria-invalid", "true")
    expect(row).to_have_accessible_description(re.compile(r"\S"))
    secret = page.get_by_label("Client secret", exact=True)
    expect(secret).to_have_attribute("aria-invalid", "true")
    # Its error and its hint, both announced (one aria-describedby naming the two).
    expect(secret).to_have_accessible_description(re.compile("Stored|None stored"))
    described = secret.get_attribute("aria-describedby") or ""
    assert described.split() == ["err-client_secret", "secret-hint"]
    assert_accessible(system, "settings-bad-list-entries")
    assert system.services.admin.get_config(TENANT) == before


def test_a_form_on_another_site_cannot_save_settings(browser_system: BrowserSystem) -> None:
    system = browser_system
    page = system.page
    sign_in_as(system, "Sam Several")
    before = system.services.admin.get_config(TENANT)
    target = system.url(f"/api/auth/{TENANT}/settings")
    # Another origin (the Entra stand-in's: another port) with a form aimed at the page.
    page.goto(f"{system.entra.base_url}/_control/faults")
    page.set_content(
        "<!doctype html><title>elsewhere</title>"
        f"<form method=post action='{target}'><input name=enabled value=on>"
        "<input name=client_id value=00000000-0000-4000-8000-000000000000>"
        "<button>win a prize</button></form>"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="win a prize").click()
    assert page.get_by_role("heading", name="Not saved").is_visible()
    assert system.services.admin.get_config(TENANT) == before


def test_a_user_provisioning_manages_has_no_switch_on_the_users_tab(
    browser_system: BrowserSystem,
) -> None:
    from shared.admin.auth import PLATFORM_ACTOR, AdminCaller

    system = browser_system
    page = system.page
    scim = system.services.scim
    scim.new_token(AdminCaller(actor=PLATFORM_ACTOR, platform=True), TENANT, ip=None)
    config = system.services.configs.get_config(TENANT)
    assert config is not None
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@contoso.example",
        "active": True,
        "displayName": "Grace Provisioned",
    }
    scim.users.create(TENANT, config, body)
    sign_in_as(system, "Sam Several")
    page.goto(system.url(f"/api/auth/{TENANT}/settings/users"))
    row = page.get_by_role("row").filter(has_text="grace@contoso.example")
    expect(row).to_contain_text("managed by provisioning from Microsoft Entra ID")
    expect(row.get_by_role("button")).to_have_count(0)
    sam = page.get_by_role("row").filter(has_text="sam@contoso.example")
    expect(sam.get_by_role("button", name="Disable sam@contoso.example")).to_be_visible()
    assert_accessible(system, "settings-users-scim")


def test_an_admin_connects_microsoft_with_the_button(browser_system: BrowserSystem) -> None:
    """One-click onboarding in Chromium: the settings page's button, Entra's consent
    screen (the stand-in's), back to the page connected; the next sign-in goes
    through the app the onboarding made."""
    import dataclasses

    from shared.onboarding.service import CREDENTIAL_SECRET
    from tests.support.entra import ENTRA_TEST_DIRECTORY as directory

    system = browser_system
    services = system.services
    services.settings = dataclasses.replace(
        services.settings, onboarding_client_id=directory.onboarding_client_id
    )
    services.rebuild("onboarding")
    services.secrets.set_secret(CREDENTIAL_SECRET, directory.onboarding_client_secret)
    system.entra.add_onboarding_redirect_uri(
        directory.onboarding_client_id, system.url("/api/onboarding/microsoft/callback")
    )
    before = services.admin.get_config(TENANT).body["client_id"]
    page = system.page
    sign_in_as(system, "Sam Several")
    page.goto(system.url(f"/api/auth/{TENANT}/settings"))
    connect = page.get_by_role("button", name="Connect Microsoft")
    expect(connect).to_be_visible()
    assert_accessible(system, "settings-connect")
    connect.click()
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    system.shoot("onboarding-consent")
    page.get_by_label("Organization").select_option(label="Contoso")
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"**/api/auth/{TENANT}/settings?onboarding=connected")
    expect(page.get_by_role("status")).to_have_text(
        "Microsoft is connected and sign-in is enabled."
    )
    assert_accessible(system, "settings-connected")
    after = services.admin.get_config(TENANT).body["client_id"]
    assert after != before
    (app,) = system.entra.onboarded_apps(directory.tenant_id)
    assert app["appId"] == after

    # A new sign-in goes through the new app registration.
    system.context.clear_cookies()
    sign_in_as(system, "Oscar One")
    expect(page.get_by_text("oscar@contoso.example")).to_be_visible()
