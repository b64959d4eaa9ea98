"""Complete sign-ins over HTTP: the local host, the Entra stand-in (MSAL, HTTPS, real
signatures), Azurite and the Key Vault stand-in. Nothing is mocked."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.signin import (
    CUSTOMER_ID,
    PROFILE_BULK,
    PROFILE_ENGINEERS,
    PROFILE_SUPPORT,
    TENANT,
    SignInSystem,
    set_cookies,
)


def me(system: SignInSystem, access_token: str) -> dict[str, object]:
    response = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"),
        headers={"Authorization": f"Bearer {access_token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def users_in_store(system: SignInSystem) -> int:
    return len(system.services.users.list(TENANT, limit=1000, cursor=None)[0])


def test_first_sign_in_creates_the_user_with_profiles_and_admin_role(
    signin_system: SignInSystem,
) -> None:
    answer = signin_system.browser_sign_in("several_groups", return_to="/app/home")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/app/home"
    cookies = set_cookies(answer)
    assert {"__Host-eb_session", "__Host-eb_refresh"} <= set(cookies)
    raw_headers = " ".join(answer.raw.headers.getlist("Set-Cookie")).lower()
    assert "httponly" in raw_headers and "secure" in raw_headers and "samesite=lax" in raw_headers
    user = me(signin_system, cookies["__Host-eb_session"])
    assert user["email"] == "sam@contoso.example"
    assert user["provider"] == "microsoft"
    assert user["customer_id"] == CUSTOMER_ID
    assert user["profiles"] == sorted([PROFILE_ENGINEERS, PROFILE_SUPPORT])
    assert user["roles"] == ["tenant_admin"]
    assert users_in_store(signin_system) == 1


def test_a_returning_user_keeps_their_id_and_follows_group_changes(
    signin_system: SignInSystem,
) -> None:
    first = me(
        signin_system, set_cookies(signin_system.browser_sign_in("one_group"))["__Host-eb_session"]
    )
    assert first["profiles"] == [PROFILE_ENGINEERS]
    directory = signin_system.directory
    signin_system.entra.update_user(
        directory.tenant_id, directory.users["one_group"].oid, groups=[directory.support]
    )
    second = me(
        signin_system, set_cookies(signin_system.browser_sign_in("one_group"))["__Host-eb_session"]
    )
    assert second["id"] == first["id"]
    assert second["profiles"] == [PROFILE_SUPPORT]
    assert users_in_store(signin_system) == 1


def test_sign_ins_redeem_their_codes_over_one_kept_alive_connection_to_entra(
    signin_system: SignInSystem,
) -> None:
    # A new TLS connection per redemption would cost a handshake each sign-in; the
    # stand-in keeps connections open as Entra does, so reuse shows here.
    token_path = "/oauth2/v2.0/token"
    before = len(signin_system.entra.connections_seen(token_path))
    for user_key in ("one_group", "several_groups", "one_group"):
        answer = signin_system.browser_sign_in(user_key)
        assert answer.status_code == 302 and "sso_error" not in answer.headers["Location"]
    redemptions = signin_system.entra.connections_seen(token_path)[before:]
    assert len(redemptions) == 3
    assert len(set(redemptions)) == 1, redemptions


def test_groups_overage_is_resolved_through_graph(signin_system: SignInSystem) -> None:
    answer = signin_system.browser_sign_in("many_groups")
    user = me(signin_system, set_cookies(answer)["__Host-eb_session"])
    assert user["profiles"] == [PROFILE_BULK]


def test_graph_failing_on_overage_is_sso_unavailable_and_creates_nobody(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.set_faults(graph_status=503)
    answer = signin_system.browser_sign_in("many_groups")
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["sso_error"] == ["sso_unavailable"]
    assert users_in_store(signin_system) == 0


def test_a_user_without_email_signs_in_with_an_email_shaped_username(
    signin_system: SignInSystem,
) -> None:
    user = me(
        signin_system, set_cookies(signin_system.browser_sign_in("no_email"))["__Host-eb_session"]
    )
    assert user["email"] == "ned@contoso.example"


def test_no_usable_email_claim_is_refused_and_creates_nobody(signin_system: SignInSystem) -> None:
    signin_system.entra.set_faults(
        drop_claims=["email"], override_claims={"preferred_username": "CONTOSO\\ned"}
    )
    answer = signin_system.browser_sign_in("no_email")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["sso_error"] == ["sso_no_email_claim"]
    assert users_in_store(signin_system) == 0


@pytest.mark.parametrize(
    ("fault", "value"),
    [
        ("alg_none", True),
        ("hs256_public_key", True),
        ("wrong_issuer", True),
        ("wrong_audience", True),
        ("extra_audience", True),
        ("wrong_tenant", True),
        ("other_directory_issuer", True),
        ("v1_token", True),
        ("expired", True),
        ("not_yet_valid", True),
        ("future_iat", True),
        ("missing_nonce", True),
        ("wrong_nonce", True),
        ("unknown_key", True),
    ],
)
def test_every_token_attack_is_refused_and_creates_nobody(
    signin_system: SignInSystem, fault: str, value: object
) -> None:
    signin_system.entra.set_faults(**{fault: value})
    answer = signin_system.browser_sign_in("one_group")
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["sso_error"] == ["invalid_id_token"]
    assert users_in_store(signin_system) == 0


def test_a_state_cannot_be_replayed_nor_used_from_another_browser(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    binding, callback = system.to_entra_and_back("one_group")

    def callback_with(cookie: str) -> str:
        answer = system.callback(callback, cookie=cookie)
        return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", ["none"])[0]

    assert callback_with("__Host-eb_browser=another-browser") == "invalid_state"
    assert callback_with("") == "invalid_state"
    assert callback_with(f"__Host-eb_browser={binding}") == "none"
    assert callback_with(f"__Host-eb_browser={binding}") == "invalid_state"


def test_an_open_redirect_return_to_falls_back_to_the_homepage(signin_system: SignInSystem) -> None:
    answer = signin_system.browser_sign_in("one_group", return_to="//evil.example/x")
    # contoso has no homepage of its own: the hosted page shows who signed in.
    assert answer.headers["Location"] == f"https://127.0.0.1:7071/api/auth/{TENANT}/login"


@pytest.mark.parametrize(
    ("homepage", "lands_on"),
    [
        ("https://app.contoso.example/", "https://app.contoso.example/"),
        ("/", "https://127.0.0.1:7071/"),  # "/" is a homepage like any other now
        ("/app/home", "https://127.0.0.1:7071/app/home"),
        (None, f"https://127.0.0.1:7071/api/auth/{TENANT}/login"),
    ],
)
def test_a_tenant_homepage_is_where_a_sign_in_without_return_to_lands(
    signin_system: SignInSystem, homepage: str | None, lands_on: str
) -> None:
    url = signin_system.url(f"/api/admin/tenants/{TENANT}/oauth2")
    key = {"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"}
    current = signin_system.http.get(url, headers=key)
    changed = signin_system.http.put(
        url,
        json=current.json() | {"homepage_url": homepage},
        headers=key | {"If-Match": current.headers["ETag"]},
    )
    assert changed.status_code == 200 and changed.json()["homepage_url"] == homepage
    binding, back = signin_system.to_entra_and_back("one_group")
    answer = signin_system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert answer.headers["Location"] == lands_on


def test_without_a_homepage_the_signed_in_page_shows_the_user_and_logs_out(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.update_user(
        signin_system.directory.tenant_id,
        signin_system.directory.users["several_groups"].oid,
        name="Sam <b>Several</b>",
    )
    binding, back = signin_system.to_entra_and_back("several_groups")
    answer = signin_system.callback(back, cookie=f"__Host-eb_browser={binding}")
    login_page = f"https://127.0.0.1:7071/api/auth/{TENANT}/login"
    assert answer.headers["Location"] == login_page
    cookies = set_cookies(answer)
    session = f"__Host-eb_session={cookies['__Host-eb_session']}"
    page = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/login"), headers={"Cookie": session}
    )
    assert page.status_code == 200
    assert "Signed in" in page.text and "sam@contoso.example" in page.text
    assert "Sam &lt;b&gt;Several&lt;/b&gt;" in page.text and "<b>Several" not in page.text
    assert PROFILE_ENGINEERS in page.text and PROFILE_SUPPORT in page.text
    assert "tenant_admin" in page.text
    assert f"<form method=post action='/api/auth/{TENANT}/logout'>" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    both = f"{session}; __Host-eb_refresh={cookies['__Host-eb_refresh']}"
    # The button posts the form, as a browser navigation.
    out = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/logout"),
        headers={"Cookie": both, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["Location"] == login_page
    assert set_cookies(out)["__Host-eb_session"] == ""
    # The session is over: even the old cookie, kept, no longer signs the page in.
    for jar in ("", session):
        after = signin_system.http.get(
            signin_system.url(f"/api/auth/{TENANT}/login"), headers={"Cookie": jar}
        )
        assert "Login with Microsoft" in after.text and "Signed in" not in after.text


def test_an_invalid_session_cookie_shows_the_sign_in_page(signin_system: SignInSystem) -> None:
    page = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/login"),
        headers={"Cookie": "__Host-eb_session=eyJhbGciOiJub25lIn0.e30."},
    )
    assert page.status_code == 200
    assert "Login with Microsoft" in page.text and "Signed in" not in page.text


def test_status_and_unknown_tenant(signin_system: SignInSystem) -> None:
    status = signin_system.http.get(signin_system.url(f"/api/auth/{TENANT}/status")).json()
    assert status["sso_enabled"] is True and status["provider"] == "microsoft"
    unknown = signin_system.http.get(signin_system.url("/api/auth/nobody-here/status"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_tenant"


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(
    signin_system: SignInSystem,
) -> None:
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    token_url = signin_system.url(f"/api/auth/{TENANT}/token")
    old = cookies["__Host-eb_refresh"]
    rotated = signin_system.http.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": old}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["refresh_token"]
    assert new != old
    reused = signin_system.http.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": old}
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    after = signin_system.http.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": new}
    )
    assert after.status_code == 400  # the whole family was revoked


def test_logout_ends_the_session(signin_system: SignInSystem) -> None:
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    out = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/logout"),
        json={"refresh_token": cookies["__Host-eb_refresh"]},
    )
    assert out.json() == {"status": "signed_out"}
    again = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    )
    assert again.status_code == 400


def test_twenty_parallel_first_sign_ins_of_one_person_make_one_user(
    signin_system: SignInSystem,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def sign_in(_: int) -> str:
        with requests.Session() as http:
            browser = SignInSystem(
                signin_system.host,
                signin_system.services,
                signin_system.entra,
                signin_system.directory,
                http,
            )
            answer = browser.browser_sign_in("several_groups")
            return set_cookies(answer)["__Host-eb_session"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        tokens = list(pool.map(sign_in, range(20)))
    ids = {me(signin_system, token)["id"] for token in tokens}
    assert len(ids) == 1
    assert users_in_store(signin_system) == 1


def test_with_the_secure_cookie_prefix_a_browser_signs_in_and_out(
    signin_system: SignInSystem,
) -> None:
    services = signin_system.services
    services.settings = dataclasses.replace(services.settings, cookie_prefix="__Secure-")
    binding, back = signin_system.to_entra_and_back(
        "one_group", browser_cookie="__Secure-eb_browser"
    )
    answer = signin_system.callback(back, cookie=f"__Secure-eb_browser={binding}")
    cookies = set_cookies(answer)
    assert "sso_error" not in answer.headers["Location"]
    assert {"__Secure-eb_session", "__Secure-eb_refresh"} <= set(cookies)
    assert not any(name.startswith("__Host-") for name in cookies)
    session = f"__Secure-eb_session={cookies['__Secure-eb_session']}"
    me = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"), headers={"Cookie": session}
    )
    assert me.status_code == 200 and me.json()["email"] == "oscar@contoso.example"
    # A cookie under the other prefix is not ours.
    other = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"),
        headers={"Cookie": f"__Host-eb_session={cookies['__Secure-eb_session']}"},
    )
    assert other.status_code == 401


def test_a_made_up_refresh_token_naming_a_real_session_neither_works_nor_ends_it(
    signin_system: SignInSystem,
) -> None:
    # The session id is the access token's `sid` (readable by anyone who sees the
    # token), so a token built around it must not be a way to sign someone out.
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    real = cookies["__Host-eb_refresh"]
    forged = real.rsplit(".", 1)[0] + "." + "A" * 43
    token_url = signin_system.url(f"/api/auth/{TENANT}/token")
    refused = signin_system.http.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": forged}
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/logout"), json={"refresh_token": forged}
    )
    still = signin_system.http.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": real}
    )
    assert still.status_code == 200, still.text


@pytest.mark.parametrize("token", ["\ud800", "a.b.c", "x" * 5000, ""])
def test_a_malformed_refresh_token_is_invalid_grant_not_a_crash(
    signin_system: SignInSystem, token: str
) -> None:
    answer = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        json={"grant_type": "refresh_token", "refresh_token": token},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] in ("invalid_grant", "invalid_request")


def test_a_sign_in_whose_transaction_is_refused_issues_nothing_and_writes_nothing(
    signin_system: SignInSystem,
) -> None:
    # Table Storage refuses a whole transaction when any of its operations fails. One
    # extra operation that must fail (creating a row that exists) is added to the
    # sign-in's transaction, so the real Azurite refuses the real transaction.
    from shared.store.rows import Op
    from shared.store.tables import TableStore

    tables = signin_system.services.tables
    tables.insert("users", {"PartitionKey": TENANT, "RowKey": "audit:occupied"})
    original = TableStore.apply

    def with_a_failing_operation(self: TableStore, table: str, ops: list[Op]) -> list[str | None]:
        poison = Op("create", {"PartitionKey": TENANT, "RowKey": "audit:occupied"})
        return original(self, table, [*ops, poison])

    tables.apply = with_a_failing_operation.__get__(tables)  # type: ignore[method-assign]
    try:
        answer = signin_system.browser_sign_in("one_group")
    finally:
        del tables.apply
    assert "sso_unavailable" in answer.headers.get("Location", "")
    assert "__Host-eb_session" not in set_cookies(answer)
    assert users_in_store(signin_system) == 0
    rows = tables.query("users", partition_key=TENANT, row_key_prefix="session:").rows
    assert rows == []
    events, _ = signin_system.services.audit.list(TENANT, limit=100, cursor=None)
    assert "sign_in" not in [e["action"] for e in events]
    assert "sign_in_refused" in [e["action"] for e in events]
