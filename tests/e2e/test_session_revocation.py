"""A logout ends the session everywhere, at once: its access token, its refresh token
and its cookies are refused by /me, /token and the admin API, on this host and on a
second host process sharing the same Azurite (its own caches, its own memory).

And a log-out link on another site changes nothing: it gets a page with a button.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from shared.sessions.refresh import parse_refresh_token
from shared.tenants.model import OAuth2Config
from tests.support.funchost import command_line
from tests.support.signin import TENANT, SignInSystem, set_cookies
from tests.support.snapshots import audit_actions, partition_snapshot
from tests.support.system import tables_prefix_of


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str

    @property
    def cookie_jar(self) -> str:
        return f"__Host-eb_session={self.access_token}; __Host-eb_refresh={self.refresh_token}"


@pytest.fixture
def second_host(
    signin_system: SignInSystem,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """`python -m devtools.funchost` in its own process, on this test's tables."""
    settings = signin_system.services.settings
    env = {
        "PUBLIC_BASE_URL": settings.public_base_url,
        "KEY_VAULT_URI": fake_keyvault.base_url,
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "AZURE_CREDENTIAL_MODE": "offline",
        "PLATFORM_ADMIN_KEY": "test-platform-admin-key-0123456789",
        "ENTRA_AUTHORITY_HOST": settings.entra_authority_host,
        "GRAPH_BASE_URL": settings.graph_base_url,
        "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
    }
    arguments = ("--settings", "/nonexistent/local.settings.json")
    prefix = ("--tables-prefix", tables_prefix_of(request))
    with command_line(*arguments, *prefix, env=env) as (url, _):
        yield url


def sign_in(system: SignInSystem, user_key: str = "several_groups") -> Session:
    cookies = set_cookies(system.browser_sign_in(user_key))
    return Session(cookies["__Host-eb_session"], cookies["__Host-eb_refresh"])


def answers(http: requests.Session, base: str, session: Session) -> dict[str, int]:
    """What each way of using the session gets: status per route and credential."""
    auth = f"{base}/api/auth/{TENANT}"
    bearer = {"Authorization": f"Bearer {session.access_token}"}
    return {
        "me by token": http.get(f"{auth}/me", headers=bearer).status_code,
        "me by cookie": http.get(
            f"{auth}/me", headers={"Cookie": f"__Host-eb_session={session.access_token}"}
        ).status_code,
        "admin users": http.get(
            f"{base}/api/admin/tenants/{TENANT}/users", headers=bearer
        ).status_code,
        "login page": 200
        if "Signed in" in http.get(f"{auth}/login", headers={"Cookie": session.cookie_jar}).text
        else 401,
    }


def refresh_by_cookie(http: requests.Session, base: str, session: Session) -> requests.Response:
    return http.post(
        f"{base}/api/auth/{TENANT}/token",
        data={"grant_type": "refresh_token"},
        headers={"Cookie": f"__Host-eb_refresh={session.refresh_token}"},
    )


# What a browser sends with a fetch or form post from the app's own pages.
SAME_ORIGIN = {"Origin": "https://127.0.0.1:7071", "Sec-Fetch-Site": "same-origin"}
ALL_ACCEPTED = {"me by token": 200, "me by cookie": 200, "admin users": 200, "login page": 200}
ALL_REFUSED = {"me by token": 401, "me by cookie": 401, "admin users": 401, "login page": 401}


@pytest.mark.parametrize(
    "how",
    ["POST with cookies", "GET with cookies (same origin)", "POST with Bearer", "POST refresh"],
)
def test_after_logout_nothing_of_the_session_is_accepted_on_any_host(
    signin_system: SignInSystem, second_host: str, how: str
) -> None:
    system = signin_system
    session = sign_in(system)
    other = sign_in(system)  # the same person in another browser: not signed out
    for base in (system.host.url, second_host):
        assert answers(system.http, base, session) == ALL_ACCEPTED  # caches warm on both

    logout = system.url(f"/api/auth/{TENANT}/logout")
    if how == "POST with cookies":
        out = system.http.post(logout, headers={"Cookie": session.cookie_jar, **SAME_ORIGIN})
        assert out.status_code == 200 and out.json() == {"status": "signed_out"}
        cleared = set_cookies(out)
        assert cleared["__Host-eb_session"] == "" and cleared["__Host-eb_refresh"] == ""
    elif how == "GET with cookies (same origin)":
        out = system.http.get(
            logout,
            headers={"Cookie": session.cookie_jar, "Sec-Fetch-Site": "same-origin"},
            allow_redirects=False,
        )
        assert out.status_code == 302 and set_cookies(out)["__Host-eb_session"] == ""
    elif how == "POST with Bearer":
        out = system.http.post(logout, headers={"Authorization": f"Bearer {session.access_token}"})
        assert out.json() == {"status": "signed_out"} and "Set-Cookie" not in out.headers
    else:
        out = system.http.post(logout, json={"refresh_token": session.refresh_token})
        assert out.json() == {"status": "signed_out"}

    for base in (system.host.url, second_host):
        assert answers(system.http, base, session) == ALL_REFUSED, base
        by_body = system.http.post(
            f"{base}/api/auth/{TENANT}/token",
            data={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
        )
        assert by_body.status_code == 400 and by_body.json()["error"] == "invalid_grant"
        assert refresh_by_cookie(system.http, base, session).status_code == 400
        assert answers(system.http, base, other) == ALL_ACCEPTED  # the other session lives

    token_id = parse_refresh_token(session.refresh_token)
    assert token_id is not None
    found = system.services.sessions.refresh_tokens.get(TENANT, token_id)
    assert found is not None and found[0].revoked
    assert audit_actions(system.services.tables)[0] == ("sign_out", None)


def test_a_revoked_session_stays_refused_and_logging_out_again_writes_nothing(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    session = sign_in(system)
    logout = system.url(f"/api/auth/{TENANT}/logout")
    system.http.post(logout, headers={"Cookie": session.cookie_jar, **SAME_ORIGIN})
    assert answers(system.http, system.host.url, session) == ALL_REFUSED
    before = partition_snapshot(system.services.tables, TENANT)
    again = system.http.post(logout, headers={"Cookie": session.cookie_jar, **SAME_ORIGIN})
    assert again.status_code == 200 and again.json() == {"status": "signed_out"}
    assert partition_snapshot(system.services.tables, TENANT) == before  # no second audit row


def test_reuse_detection_ends_the_access_token_too(signin_system: SignInSystem) -> None:
    system = signin_system
    session = sign_in(system)
    token = system.url(f"/api/auth/{TENANT}/token")
    grant = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
    assert system.http.post(token, data=grant).status_code == 200
    replayed = system.http.post(token, data=grant)  # a stolen copy used after the owner
    assert replayed.status_code == 400
    assert answers(system.http, system.host.url, session) == ALL_REFUSED


def test_disabling_a_user_ends_their_access_token_at_once(signin_system: SignInSystem) -> None:
    system = signin_system
    session = sign_in(system, "one_group")
    me = system.url(f"/api/auth/{TENANT}/me")
    bearer = {"Authorization": f"Bearer {session.access_token}"}
    assert system.http.get(me, headers=bearer).status_code == 200
    (user,) = system.services.users.list(TENANT, limit=10, cursor=None)[0]
    disabled = system.http.patch(
        system.url(f"/api/admin/tenants/{TENANT}/users/{user.id}"),
        json={"disabled": True},
        headers={"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"},
    )
    assert disabled.status_code == 200, disabled.text
    assert system.http.get(me, headers=bearer).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},  # a sibling app
        {"Referer": "https://evil.example/page"},
        {"Origin": "https://evil.example"},
        {"Origin": "null", "Sec-Fetch-Mode": "navigate"},  # an opaque origin (sandbox)
        {},  # an older browser following a link that hides its Referer: not acted on
    ],
    ids=["cross-site", "same-site", "referer", "origin", "opaque", "nothing"],
)
def test_a_logout_link_on_another_site_changes_nothing(
    signin_system: SignInSystem, headers: dict[str, str]
) -> None:
    system = signin_system
    session = sign_in(system)
    before = partition_snapshot(system.services.tables, TENANT)
    answer = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout"),
        headers={"Cookie": session.cookie_jar, **headers},
        allow_redirects=False,
    )
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert f"<form method=post action='/api/auth/{TENANT}/logout'>" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert partition_snapshot(system.services.tables, TENANT) == before
    assert answers(system.http, system.host.url, session) == ALL_ACCEPTED


def test_a_client_that_is_no_browser_signs_out_with_the_cookies_as_the_contract_says(
    signin_system: SignInSystem,
) -> None:
    # A POST without Fetch Metadata, Origin or Referer: no browser sent it (every one
    # sends Origin on a POST), so no other site can have forged it.
    system = signin_system
    session = sign_in(system)
    answer = system.http.post(
        system.url(f"/api/auth/{TENANT}/logout"),
        headers={"Cookie": session.cookie_jar},
        allow_redirects=False,
    )
    assert answer.status_code == 200 and answer.json() == {"status": "signed_out"}
    cleared = answer.raw.headers.getlist("Set-Cookie")
    assert any(c.startswith("__Host-eb_session=;") for c in cleared), cleared
    assert answers(system.http, system.host.url, session) == ALL_REFUSED


def test_a_same_origin_referer_without_fetch_metadata_logs_out(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    session = sign_in(system)
    answer = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout"),
        headers={
            "Cookie": session.cookie_jar,
            "Referer": f"https://127.0.0.1:7071/api/auth/{TENANT}/login",
        },
        allow_redirects=False,
    )
    assert answer.status_code == 302
    assert answers(system.http, system.host.url, session) == ALL_REFUSED


def test_a_logout_link_with_a_made_up_sid_ends_nothing_the_cookies_name(
    signin_system: SignInSystem,
) -> None:
    # `sid` is Entra's front-channel logout; from elsewhere it ends that Entra sign-in
    # session only, never what the browser's cookies name.
    system = signin_system
    session = sign_in(system)
    answer = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout"),
        params={"sid": "anything"},
        headers={
            "Cookie": session.cookie_jar,
            "Sec-Fetch-Site": "cross-site",
            "Referer": "https://evil.example/",
        },
        allow_redirects=False,
    )
    assert answer.status_code == 302
    assert "Set-Cookie" not in answer.headers
    assert answers(system.http, system.host.url, session) == ALL_ACCEPTED


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
def test_a_logout_post_from_another_site_ignores_the_cookies(
    signin_system: SignInSystem, site: str
) -> None:
    system = signin_system
    session = sign_in(system)
    out = system.http.post(
        system.url(f"/api/auth/{TENANT}/logout"),
        headers={
            "Cookie": session.cookie_jar,
            "Sec-Fetch-Site": site,
            "Origin": "https://sibling.example",
        },
    )
    assert out.status_code == 200 and "Set-Cookie" not in out.headers
    assert answers(system.http, system.host.url, session) == ALL_ACCEPTED


def test_a_logout_sent_to_another_tenants_route_still_ends_the_session_it_clears(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    session = sign_in(system)
    system.services.configs.put_tenant("othertenant", "Other", OAuth2Config())
    out = system.http.post(
        system.url("/api/auth/othertenant/logout"),
        headers={"Cookie": session.cookie_jar, **SAME_ORIGIN},
    )
    assert out.status_code == 200 and set_cookies(out)["__Host-eb_session"] == ""
    assert answers(system.http, system.host.url, session) == ALL_REFUSED
    assert audit_actions(system.services.tables)[0] == ("sign_out", None)  # contoso's log
    assert partition_snapshot(system.services.tables, "othertenant") == {}
