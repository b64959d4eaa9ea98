"""The tenant admin's settings page over HTTP: who may open it, a save that goes
through the admin API's rules, a bad field, a lost update, and forged posts."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from shared.sessions.types import SessionTokens
from shared.users import ROLE_TENANT_ADMIN
from tests.support.admin import (
    ADMIN_TENANT,
    GROUP_A,
    PROFILE_A,
    AdminSystem,
    complete_config,
)

PROFILE_C = "e0000000-0000-4000-8000-00000000000c"
GROUP_C = "f0000000-0000-4000-8000-00000000000c"
CLIENT_C = "550e8400-e29b-41d4-a716-4466554400cc"


def page_url(system: AdminSystem) -> str:
    return f"{system.host.url}/api/auth/{ADMIN_TENANT}/settings"


def as_admin(system: AdminSystem, *, roles: tuple[str, ...] = (ROLE_TENANT_ADMIN,)) -> str:
    user = system.add_user(roles=roles, email=f"boss{len(roles)}@acme.example")
    return f"__Host-eb_session={system.admin_token(user=user)}"


def is_login(location: str) -> bool:
    return urlsplit(location).path == f"/api/auth/{ADMIN_TENANT}/login"


def hidden(page: str, name: str) -> str:
    found = re.search(rf"name={name} value='([^']*)'", page)
    assert found, name
    return found.group(1)


def form_of(page: str) -> dict[str, str]:
    """What the browser would send back unchanged (inputs and textareas)."""
    fields = dict(re.findall(r"<input[^>]*? name=(\w+) value='([^']*)'", page))
    fields |= dict(re.findall(r"<input[^>]* name=(\w+)[^>]*? value='([^']*)'", page))
    fields |= {
        name: text for name, text in re.findall(r"<textarea id=\w+ name=(\w+)[^>]*>([^<]*)<", page)
    }
    for name in re.findall(r"<input type=checkbox name=(\w+) checked>", page):
        fields[name] = "on"
    return {name: html.unescape(value) for name, value in fields.items()}


def opened(system: AdminSystem, cookie: str) -> requests.Response:
    """The settings page as the signed-in admin's browser gets it."""
    return system.http.get(page_url(system), headers={"Cookie": cookie})


def save(
    system: AdminSystem, cookie: str, form: dict[str, str], **headers: str
) -> requests.Response:
    sent = {"Cookie": cookie, "Origin": system.services.settings.public_base_url} | headers
    return system.http.post(page_url(system), data=form, headers=sent, allow_redirects=False)


def configured(system: AdminSystem) -> None:
    system.create_tenant()
    assert system.configure(**complete_config()).status_code == 200


def test_without_a_session_it_sends_you_to_sign_in_and_a_non_admin_gets_403(
    admin_system: AdminSystem,
) -> None:
    configured(admin_system)
    anonymous = admin_system.http.get(page_url(admin_system), allow_redirects=False)
    assert anonymous.status_code == 303
    # The hosted login page, which brings the admin back here once signed in.
    assert anonymous.headers["Location"].endswith(
        f"/api/auth/{ADMIN_TENANT}/login?return_to=%2Fapi%2Fauth%2F{ADMIN_TENANT}%2Fsettings"
    )
    member = admin_system.http.get(
        page_url(admin_system), headers={"Cookie": as_admin(admin_system, roles=())}
    )
    assert member.status_code == 403 and "Tenant admins only" in member.text


def test_an_admin_sees_the_settings_and_saves_a_new_mapping(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    page = opened(system, cookie)
    assert page.status_code == 200
    assert "s3c*****" in page.text and "s3cr3t~value" not in page.text  # only masked
    assert f"/api/auth/{ADMIN_TENANT}/callback" in page.text  # the redirect URI to copy
    form = form_of(page.text) | {"profile_id_2": PROFILE_C, "group_id_2": GROUP_C}

    saved = save(system, cookie, form)

    assert saved.status_code == 303 and saved.headers["Location"].endswith("?saved=1")
    document = system.services.admin.get_config(ADMIN_TENANT).body
    assert {"profile_id": PROFILE_C, "group_id": GROUP_C} in document["profile_mappings"]
    assert {"profile_id": PROFILE_A, "group_id": GROUP_A} in document["profile_mappings"]
    events, _ = system.services.audit.list(ADMIN_TENANT, limit=1, cursor=None)
    assert events[0]["action"] == "config_updated" and events[0]["fields"] == ["profile_mappings"]
    assert events[0]["actor"].startswith("user:")


def test_a_bad_field_is_shown_next_to_it_and_nothing_is_saved(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    before = system.services.admin.get_config(ADMIN_TENANT)
    page = opened(system, cookie)
    refused = save(system, cookie, form_of(page.text) | {"client_id": "not-a-uuid"})
    assert refused.status_code == 400
    assert "id=err-client_id" in refused.text and "value='not-a-uuid'" in refused.text
    assert system.services.admin.get_config(ADMIN_TENANT) == before


def test_a_save_over_someone_elses_newer_save_is_refused_and_loses_nothing(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    first_tab = form_of(opened(system, cookie).text)
    second_tab = dict(first_tab)
    assert (
        save(system, cookie, first_tab | {"button_label": "Sign in with Acme"}).status_code == 303
    )
    late = save(system, cookie, second_tab | {"homepage_url": "/portal"})
    assert late.status_code == 409 and "Someone else saved" in late.text
    assert "value='/portal'" in late.text  # what was typed is still there
    document = system.services.admin.get_config(ADMIN_TENANT).body
    assert (document["button_label"], document["homepage_url"]) == ("Sign in with Acme", None)


def test_forged_posts_are_refused(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    before = system.services.admin.get_config(ADMIN_TENANT)
    form = form_of(opened(system, cookie).text)
    form["enabled"] = ""
    for headers, changes in (
        ({"Origin": "https://attacker.example"}, {}),  # another site's form
        ({}, {"csrf": "0" * 32}),  # not this session's token
    ):
        refused = save(system, cookie, form | changes, **headers)
        assert refused.status_code == 403
    assert system.services.admin.get_config(ADMIN_TENANT) == before


def test_the_users_tab_finds_a_user_by_email_and_disables_them(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    member = system.add_user(email="ada@acme.example")
    session = system.services.sessions.start_session(member)
    tab = f"{page_url(system)}/users"
    found = system.http.get(tab, params={"email": "ADA@acme.example"}, headers={"Cookie": cookie})
    assert found.status_code == 200 and "ada@acme.example" in found.text
    form = {"csrf": hidden(found.text, "csrf"), "user_id": member.id, "disabled": "true"}
    origin = {"Origin": system.services.settings.public_base_url}
    switched = system.http.post(tab, data=form, headers={"Cookie": cookie} | origin)
    assert switched.status_code == 200 and "is disabled" in switched.text
    stored = system.services.users.get(ADMIN_TENANT, member.id)
    assert stored is not None and stored.disabled
    refresh = system.http.post(
        f"{system.host.url}/api/auth/{ADMIN_TENANT}/token",
        json={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
    )
    assert refresh.status_code in (400, 403)  # their session has ended
    evil = {"Origin": "https://evil.example"}  # another site's form, with the token even
    forged = system.http.post(
        tab, data=form | {"disabled": "false"}, headers={"Cookie": cookie} | evil
    )
    assert forged.status_code == 403
    stored = system.services.users.get(ADMIN_TENANT, member.id)
    assert stored is not None and stored.disabled


def test_a_user_scim_manages_shows_so_and_cannot_be_switched_here(
    admin_system: AdminSystem,
) -> None:
    from shared.admin.auth import PLATFORM_ACTOR, AdminCaller

    system = admin_system
    configured(system)
    cookie = as_admin(system)
    scim = system.services.scim
    scim.new_token(AdminCaller(actor=PLATFORM_ACTOR, platform=True), ADMIN_TENANT, ip=None)
    config = system.services.configs.get_config(ADMIN_TENANT)
    assert config is not None
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "grace@acme.example",
        "active": True,
        "displayName": "Grace Hopper",
    }
    user_id = scim.users.create(ADMIN_TENANT, config, body).body["id"]
    tab = f"{page_url(system)}/users"
    found = system.http.get(tab, params={"email": "grace@acme.example"}, headers={"Cookie": cookie})
    assert "managed by provisioning from Microsoft Entra ID" in found.text
    assert "aria-label='Disable grace@acme.example'" not in found.text
    # A crafted post (the page's token, from another row's form) is refused by the
    # admin API's rule, and the page says why.
    listed = system.http.get(tab, headers={"Cookie": cookie}).text
    form = {"csrf": hidden(listed, "csrf"), "user_id": user_id, "disabled": "true"}
    origin = {"Origin": system.services.settings.public_base_url}
    switched = system.http.post(tab, data=form, headers={"Cookie": cookie} | origin)
    assert switched.status_code == 409  # the refusal's own status, not a 200
    assert "managed by SCIM provisioning" in switched.text
    assert "grace@acme.example" in switched.text  # the list is still there
    stored = system.services.users.get(ADMIN_TENANT, user_id)
    assert stored is not None and not stored.disabled


def test_connect_microsoft_is_offered_only_when_set_up_and_its_outcome_is_shown(
    admin_system: AdminSystem,
) -> None:
    import dataclasses

    system = admin_system
    configured(system)
    cookie = as_admin(system)
    plain = opened(system, cookie)
    assert "Connect Microsoft" not in plain.text  # no ONBOARDING_CLIENT_ID
    system.services.settings = dataclasses.replace(
        system.services.settings, onboarding_client_id="4ad9371e-1697-507a-a22b-20902b8b0f96"
    )
    offered = opened(system, cookie)
    assert "<button type=submit>Connect Microsoft</button>" in offered.text
    assert (
        "form-action 'self' https://login.microsoftonline.com"
        in offered.headers["Content-Security-Policy"]
    )
    failed = system.http.get(
        page_url(system), params={"onboarding_error": "graph_failed"}, headers={"Cookie": cookie}
    )
    assert "could not set up the app registration" in failed.text
    assert "code: graph_failed" in failed.text
    missing = system.http.get(
        page_url(system),
        params={"onboarding": "connected", "onboarding_missing": "customer_id"},
        headers={"Cookie": cookie},
    )
    assert "fill in: customer_id" in missing.text


def test_the_audit_tab_lists_the_newest_events_and_filters_by_action(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    tab = f"{page_url(system)}/audit"
    everything = system.http.get(tab, headers={"Cookie": cookie})
    assert everything.status_code == 200
    assert "config_created" in everything.text and "tenant_created" in everything.text
    only = system.http.get(tab, params={"action": "tenant_created"}, headers={"Cookie": cookie})
    assert "tenant_created" in only.text and "<td>config_created</td>" not in only.text
    anonymous = system.http.get(tab, allow_redirects=False)
    assert anonymous.status_code == 303
    # A link to an older page that is no longer valid: the newest events, saying so.
    stale = system.http.get(tab, params={"cursor": "not-a-cursor"}, headers={"Cookie": cookie})
    assert stale.status_code == 400
    assert "could not be found" in stale.text and "config_created" in stale.text


def test_saving_the_page_keeps_every_mapping_the_api_allows(admin_system: AdminSystem) -> None:
    # 250 mappings set through the API; the page used to show and send back only 200.
    system = admin_system
    system.create_tenant()
    many = [{"profile_id": str(uuid.uuid4()), "group_id": str(uuid.uuid4())} for _ in range(250)]
    assert system.configure(**(complete_config() | {"profile_mappings": many})).status_code == 200
    cookie = as_admin(system)
    page = opened(system, cookie)
    saved = save(system, cookie, form_of(page.text))
    assert saved.status_code == 303
    kept = system.services.admin.get_config(ADMIN_TENANT).body["profile_mappings"]
    assert len(kept) == 250


def test_connect_with_a_body_that_is_no_form_is_a_page_not_a_500(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    cookie = as_admin(system)
    origin = system.services.settings.public_base_url
    too_large = b"csrf=" + b"a" * 70000
    for body, kind in (
        (b"[1]", "application/json"),
        (too_large, "application/x-www-form-urlencoded"),
    ):
        headers = {"Cookie": cookie, "Origin": origin, "Content-Type": kind}
        answer = system.http.post(
            page_url(system) + "/connect", data=body, headers=headers, allow_redirects=False
        )
        assert answer.status_code in (400, 413), answer.status_code
        assert answer.headers["Content-Type"].startswith("text/html")


# --- a page kept open past the access cookie's 15 minutes ---------------------------------


def _session_cookies(response: requests.Response) -> dict[str, str]:
    """name -> value of the session cookies the answer sets."""
    found: dict[str, str] = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name in ("__Host-eb_session", "__Host-eb_refresh"):
            found[name] = rest.split(";")[0]
    return found


def _session_of(
    system: AdminSystem, *, roles: tuple[str, ...] = (ROLE_TENANT_ADMIN,)
) -> SessionTokens:
    # In the admin group (or not): a refresh recomputes the roles from the groups.
    groups = (GROUP_A,) if ROLE_TENANT_ADMIN in roles else ()
    email = f"late-{uuid.uuid4().hex[:8]}@acme.example"
    user = system.add_user(roles=roles, email=email, group_ids=groups)
    return system.services.sessions.start_session(user)


def _refresh_only(system: AdminSystem, *, roles: tuple[str, ...] = (ROLE_TENANT_ADMIN,)) -> str:
    """The Cookie header of an admin's browser once the 15-minute access cookie has gone
    (its Max-Age is over): only the refresh cookie is left."""
    return f"__Host-eb_refresh={_session_of(system, roles=roles).refresh_token}"


def test_a_save_after_the_access_cookie_expired_renews_the_session_and_is_kept(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    session = _session_of(system)
    page = opened(system, f"__Host-eb_session={session.access_token}")
    form = form_of(page.text) | {"profile_id_2": PROFILE_C, "group_id_2": GROUP_C}
    # 20 minutes later the browser has only the refresh cookie left.
    late = f"__Host-eb_refresh={session.refresh_token}"

    saved = save(system, late, form)

    assert saved.status_code == 303 and saved.headers["Location"].endswith("?saved=1")
    mappings = system.services.admin.get_config(ADMIN_TENANT).body["profile_mappings"]
    assert {"profile_id": PROFILE_C, "group_id": GROUP_C} in mappings
    renewed = _session_cookies(saved)
    assert set(renewed) == {"__Host-eb_session", "__Host-eb_refresh"}
    assert renewed["__Host-eb_refresh"] != session.refresh_token
    for header in saved.raw.headers.getlist("Set-Cookie"):
        attributes = {part.strip().lower() for part in header.split(";")[1:]}
        # "domain=" (empty) is how the Functions worker writes none (README, known issue).
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes, header
        assert not any(a.startswith("domain=") and a != "domain=" for a in attributes), header
    # The new pair is the session from here on: the page opens with it alone.
    again = f"__Host-eb_session={renewed['__Host-eb_session']}"
    assert opened(system, again).status_code == 200


def test_a_forged_post_with_only_the_refresh_cookie_saves_nothing(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    session = _session_of(system)
    form = form_of(opened(system, f"__Host-eb_session={session.access_token}").text)
    before = system.services.admin.get_config(ADMIN_TENANT)
    late = f"__Host-eb_refresh={session.refresh_token}"
    forged = save(system, late, form | {"csrf": "0" * 32, "client_id": CLIENT_C})
    assert forged.status_code == 403
    assert system.services.admin.get_config(ADMIN_TENANT) == before


def test_renewing_on_the_page_rotates_the_refresh_token_like_the_token_endpoint(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    late = _refresh_only(system)
    own = {"Cookie": late, "Sec-Fetch-Site": "same-origin"}

    first = system.http.get(page_url(system), headers=own, allow_redirects=False)
    assert first.status_code == 200 and "OAuth2 settings" in first.text
    second_token = _session_cookies(first)["__Host-eb_refresh"]
    following = {"Cookie": f"__Host-eb_refresh={second_token}", "Sec-Fetch-Site": "none"}
    second = system.http.get(page_url(system), headers=following, allow_redirects=False)
    newest = _session_cookies(second)["__Host-eb_refresh"]
    assert len({late.split("=", 1)[1], second_token, newest}) == 3

    # The first token again, two renewals on: a copy someone holds. The family ends,
    # as at the token endpoint, and the page sends the person to sign in.
    replayed = system.http.get(page_url(system), headers=own, allow_redirects=False)
    assert replayed.status_code == 303 and is_login(replayed.headers["Location"])
    assert not _session_cookies(replayed)
    revoked = system.http.post(
        f"{system.host.url}/api/auth/{ADMIN_TENANT}/token",
        json={"grant_type": "refresh_token", "refresh_token": newest},
    )
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    assert "refresh_token_reused" in system.audit_actions()


def test_another_sites_link_does_not_spend_the_refresh_token(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    late = _refresh_only(system)
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "https://evil.example"},
        {},  # an older browser following a link that hides its Referer
    ):
        sent = {"Cookie": late} | headers
        answer = system.http.get(page_url(system), headers=sent, allow_redirects=False)
        assert answer.status_code == 303 and is_login(answer.headers["Location"])
        assert not _session_cookies(answer)
    # Still unused: the person's own next visit renews with it.
    own = {"Cookie": late, "Sec-Fetch-Site": "none"}
    assert system.http.get(page_url(system), headers=own).status_code == 200


def test_a_member_whose_session_renews_gets_the_403_page_and_keeps_their_session(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    late = _refresh_only(system, roles=())
    own = {"Cookie": late, "Sec-Fetch-Site": "none"}
    for tab in ("settings", "settings/users", "settings/audit"):
        answer = system.http.get(
            f"{system.host.url}/api/auth/{ADMIN_TENANT}/{tab}", headers=own, allow_redirects=False
        )
        assert answer.status_code == 403 and "Tenant admins only" in answer.text, tab
        # The refresh token this used is spent: the answer must hand on its successor.
        renewed = _session_cookies(answer)
        assert set(renewed) == {"__Host-eb_session", "__Host-eb_refresh"}, tab
        own["Cookie"] = f"__Host-eb_refresh={renewed['__Host-eb_refresh']}"
    assert "refresh_token_reused" not in system.audit_actions()


def test_the_users_and_audit_tabs_renew_the_session_too(admin_system: AdminSystem) -> None:
    system = admin_system
    configured(system)
    own = {"Cookie": _refresh_only(system), "Sec-Fetch-Site": "same-origin"}
    for tab, heading in (("settings/users", "Users"), ("settings/audit", "Audit")):
        answer = system.http.get(f"{system.host.url}/api/auth/{ADMIN_TENANT}/{tab}", headers=own)
        assert answer.status_code == 200 and heading in answer.text, tab
        own["Cookie"] = f"__Host-eb_refresh={_session_cookies(answer)['__Host-eb_refresh']}"


def test_a_refused_or_malformed_post_still_hands_on_the_renewed_session(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    session = _session_of(system)
    own = {"Origin": system.services.settings.public_base_url}
    cookie = f"__Host-eb_refresh={session.refresh_token}"
    users = f"{system.host.url}/api/auth/{ADMIN_TENANT}/settings/users"
    connect = f"{page_url(system)}/connect"
    plain = {"Content-Type": "text/plain"}
    posts: tuple[tuple[str, dict[str, Any], dict[str, str]], ...] = (
        (users, {"data": b"\xff\xfe not a form"}, plain),
        (users, {"json": [1]}, {}),
        (users, {"data": {"csrf": "0" * 32, "user_id": "x", "disabled": "true"}}, {}),
        (connect, {"data": {"csrf": "0" * 32}}, {}),
        (page_url(system), {"data": {"csrf": "0" * 32, "client_id": CLIENT_C}}, {}),
    )
    for url, body, extra in posts:
        headers = {"Cookie": cookie} | own | extra
        answer = system.http.post(url, headers=headers, allow_redirects=False, **body)
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
        renewed = _session_cookies(answer)
        assert set(renewed) == {"__Host-eb_session", "__Host-eb_refresh"}, url
        cookie = f"__Host-eb_refresh={renewed['__Host-eb_refresh']}"
    # Every spent token's successor reached the browser: the session lives on.
    assert "refresh_token_reused" not in system.audit_actions()
    last = {"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}
    assert system.http.get(page_url(system), headers=last).status_code == 200


def test_a_sibling_sites_request_or_another_tenants_cookie_renews_nothing(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    system.create_tenant("globex", "Globex")
    session = _session_of(system)
    cookie = f"__Host-eb_refresh={session.refresh_token}"
    # Lax cookies do reach a sibling subdomain's links: still not this site's page.
    sibling = system.http.get(
        page_url(system),
        headers={"Cookie": cookie, "Sec-Fetch-Site": "same-site"},
        allow_redirects=False,
    )
    assert sibling.status_code == 303 and not _session_cookies(sibling)
    # Acme's session at Globex's page: refused there, and still Acme's.
    elsewhere = system.http.get(
        f"{system.host.url}/api/auth/globex/settings",
        headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert elsewhere.status_code == 303 and not _session_cookies(elsewhere)
    still = system.http.post(
        f"{system.host.url}/api/auth/{ADMIN_TENANT}/token",
        json={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
    )
    assert still.status_code == 200


def test_a_disabled_admin_or_an_ended_session_is_sent_to_sign_in(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    ended = _session_of(system)
    system.services.sessions.sign_out(ADMIN_TENANT, refresh_tokens=[ended.refresh_token], ip=None)
    disabled = _session_of(system)
    user_id = system.services.sessions.verify(ADMIN_TENANT, disabled.access_token).sub
    system.services.users.set_disabled(ADMIN_TENANT, user_id, True)
    for tokens in (ended, disabled):
        answer = system.http.get(
            page_url(system),
            headers={
                "Cookie": f"__Host-eb_refresh={tokens.refresh_token}",
                "Sec-Fetch-Site": "none",
            },
            allow_redirects=False,
        )
        assert answer.status_code == 303 and is_login(answer.headers["Location"])
        assert not _session_cookies(answer)


def test_a_save_sent_twice_at_once_keeps_the_session(admin_system: AdminSystem) -> None:
    """A double click on Save with only the refresh cookie left: both requests bring
    the same refresh token at once; neither may read as a stolen copy."""
    from concurrent.futures import ThreadPoolExecutor

    system = admin_system
    configured(system)
    session = _session_of(system)
    form = form_of(opened(system, f"__Host-eb_session={session.access_token}").text)
    form |= {"profile_id_2": PROFILE_C, "group_id_2": GROUP_C}
    late = f"__Host-eb_refresh={session.refresh_token}"

    def submit(_: int) -> requests.Response:
        with requests.Session() as browser_tab:
            headers = {"Cookie": late, "Origin": system.services.settings.public_base_url}
            return browser_tab.post(page_url(system), data=form, headers=headers,
                                    allow_redirects=False)  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(submit, range(2)))

    # One saves; the other saves too or says someone saved first (the same ETag).
    assert sorted(a.status_code for a in answers) in ([303, 303], [303, 409])
    refreshed = {_session_cookies(a)["__Host-eb_refresh"] for a in answers}
    assert len(refreshed) == 1  # both answers hand on the same token
    assert "refresh_token_reused" not in system.audit_actions()
    still = {"Cookie": f"__Host-eb_refresh={refreshed.pop()}", "Sec-Fetch-Site": "none"}
    assert system.http.get(page_url(system), headers=still).status_code == 200


def test_connect_without_a_session_comes_back_to_the_settings_page(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    configured(system)
    answer = system.http.post(
        f"{page_url(system)}/connect",
        data={"csrf": "x"},
        headers={"Origin": system.services.settings.public_base_url},
        allow_redirects=False,
    )
    assert answer.status_code == 303 and is_login(answer.headers["Location"])
    back = parse_qs(urlsplit(answer.headers["Location"]).query)["return_to"]
    assert back == [f"/api/auth/{ADMIN_TENANT}/settings"]  # a page, where the button is


def test_a_page_opened_before_a_key_rotation_still_saves_and_an_unkeyed_token_does_not(
    admin_system: AdminSystem,
) -> None:
    import hashlib

    system = admin_system
    configured(system)
    session = _session_of(system)
    cookie = f"__Host-eb_session={session.access_token}"
    form = form_of(opened(system, cookie).text) | {"profile_id_2": PROFILE_C, "group_id_2": GROUP_C}
    # The session id is the access token's `sid`, which the application sees: a token
    # made from it alone (as before) is a forgery.
    unkeyed = hashlib.sha256(f"entrabridge-settings|{session.session_id}".encode()).hexdigest()
    assert save(system, cookie, form | {"csrf": unkeyed[:32]}).status_code == 403
    system.services.state_keys.rotate_key()  # the operator rotates the key meanwhile
    saved = save(system, cookie, form)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("?saved=1")
    fresh = form_of(opened(system, cookie).text)
    assert fresh["csrf"] != form["csrf"]  # new pages carry the new key's token
