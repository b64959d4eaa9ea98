"""Security headers as a browser sees them, and the public keys that verify
entrabridge's access tokens, over HTTP.

The issue asks for CSP, frame-ancestors except on the logout route (Entra frames
it for front-channel logout, so only the Entra authority may), nosniff, and
no-store on auth responses."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from devtools.azurite import Azurite
from shared.store.tables import TableStore
from tests.support.signin import TENANT, SignInSystem, set_cookies


def directives(response: requests.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy's directives: name -> its sources."""
    policy = response.headers.get("Content-Security-Policy", "")
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), words[1:])
    return found


def assert_private(response: requests.Response) -> None:
    """Not kept by any cache, not content-sniffed."""
    assert response.headers.get("X-Content-Type-Options") == "nosniff", response.headers
    cache = [d.strip().lower() for d in response.headers.get("Cache-Control", "").split(",")]
    assert "no-store" in cache, response.headers


def assert_unframeable(response: requests.Response) -> None:
    assert directives(response).get("frame-ancestors") == ["'none'"], response.headers


@pytest.fixture
def signed_in(signin_system: SignInSystem) -> Iterator[dict[str, str]]:
    """The session and refresh cookies of a browser sign-in of Oscar."""
    answer = signin_system.browser_sign_in("one_group")
    assert answer.status_code == 302 and "sso_error" not in answer.headers["Location"]
    yield set_cookies(answer)


def test_every_auth_response_is_no_store_and_nosniff(
    signin_system: SignInSystem, signed_in: dict[str, str]
) -> None:
    system = signin_system
    upn = system.directory.users["one_group"].upn
    authorize = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"),
        params={"login_hint": upn},
        allow_redirects=False,
    )
    assert authorize.status_code == 302
    assert_private(authorize)
    json_authorize = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"), params={"mode": "json", "login_hint": upn}
    )
    assert json_authorize.status_code == 200
    assert_private(json_authorize)

    binding, back = system.to_entra_and_back("one_group")
    success = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert success.status_code == 302 and set_cookies(success)["__Host-eb_session"]
    assert_private(success)
    failure = system.callback(back, cookie=f"__Host-eb_browser={binding}")  # replayed
    assert "sso_error=invalid_state" in failure.headers["Location"]
    assert_private(failure)

    at_entra = system.http.get(json_authorize.json()["authorization_url"], allow_redirects=False)
    code = parse_qs(urlsplit(at_entra.headers["Location"]).query)["code"][0]
    spa = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"),
        json={"code": code, "state": json_authorize.json()["state"]},
    )
    assert spa.status_code == 200 and spa.json()["access_token"]
    assert_private(spa)

    refreshed = system.http.post(
        system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": signed_in["__Host-eb_refresh"]},
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"]
    assert_private(refreshed)
    refused = system.http.post(
        system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": signed_in["__Host-eb_refresh"]},
    )
    assert refused.status_code == 400
    assert_private(refused)

    # (The replay above revoked the browser's session: /me asks with the SPA's.)
    me = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"),
        headers={"Authorization": f"Bearer {spa.json()['access_token']}"},
    )
    assert me.status_code == 200 and me.json()["email"] == upn
    assert_private(me)
    anonymous = system.http.get(system.url(f"/api/auth/{TENANT}/me"))
    assert anonymous.status_code == 401
    assert_private(anonymous)


def test_the_login_page_and_the_callback_cannot_be_framed(
    signin_system: SignInSystem, signed_in: dict[str, str]
) -> None:
    system = signin_system
    login = system.url(f"/api/auth/{TENANT}/login")
    anonymous = system.http.get(login)
    assert "Login with Microsoft" in anonymous.text
    assert_unframeable(anonymous)
    with_error = system.http.get(login, params={"sso_error": "idp_error"})
    assert "did not complete the sign-in" in with_error.text
    assert_unframeable(with_error)
    signed_in_page = system.http.get(
        login, headers={"Cookie": f"__Host-eb_session={signed_in['__Host-eb_session']}"}
    )
    assert "Signed in" in signed_in_page.text
    assert_unframeable(signed_in_page)

    binding, back = system.to_entra_and_back("one_group")
    success = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert set_cookies(success)["__Host-eb_session"]
    assert_unframeable(success)
    failure = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert "sso_error=invalid_state" in failure.headers["Location"]
    assert_unframeable(failure)
    unknown = system.callback(back.replace(f"/{TENANT}/", "/nosuch/"), cookie="")
    assert unknown.status_code == 404 and "not known here" in unknown.text
    assert_unframeable(unknown)


def test_the_logout_route_may_be_framed_by_the_entra_authority_only(
    signin_system: SignInSystem, signed_in: dict[str, str]
) -> None:
    # Entra's front-channel logout loads this URL, with only `sid`, in an iframe of
    # its own sign-out page.
    system = signin_system
    entra_origin = system.services.settings.entra_authority_host
    assert entra_origin == system.entra.base_url
    from_entra = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout"),
        params={"sid": "00000000-0000-0000-0000-000000000000"},
        allow_redirects=False,
    )
    assert from_entra.status_code == 302
    assert directives(from_entra).get("frame-ancestors") == [entra_origin]
    from_browser = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout"),
        headers={
            "Cookie": f"__Host-eb_session={signed_in['__Host-eb_session']}",
            "Sec-Fetch-Site": "same-origin",
        },
        allow_redirects=False,
    )
    assert from_browser.status_code == 302
    assert set_cookies(from_browser)["__Host-eb_session"] == ""
    assert directives(from_browser).get("frame-ancestors") == [entra_origin]


def published_keys(system: SignInSystem) -> list[dict[str, str]]:
    """GET /api/.well-known/jwks.json, each key checked to be a public ES256 P-256 JWK."""
    answer = system.http.get(system.url("/api/.well-known/jwks.json"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    keys: list[dict[str, str]] = answer.json()["keys"]
    assert keys
    for key in keys:
        assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
        assert key["kid"] and key.get("use", "sig") == "sig"
        assert "d" not in key  # the private part
    assert len({key["kid"] for key in keys}) == len(keys)
    return keys


def verified(access_token: str, key: dict[str, str]) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        access_token,
        key=jwt.PyJWK(key).key,
        algorithms=["ES256"],
        # aud is a value entrabridge chose for itself; its presence is what is checked.
        options={"verify_aud": False, "require": ["iss", "aud", "sub", "exp", "iat", "jti"]},
    )
    return claims


def signing_key(access_token: str, keys: list[dict[str, str]]) -> dict[str, str]:
    header = jwt.get_unverified_header(access_token)
    assert header["alg"] == "ES256"
    (key,) = [key for key in keys if key["kid"] == header["kid"]]
    return key


def test_jwks_publishes_p256_public_keys_that_verify_a_signed_in_users_access_token(
    signin_system: SignInSystem, signed_in: dict[str, str]
) -> None:
    system = signin_system
    access_token = signed_in["__Host-eb_session"]
    claims = verified(access_token, signing_key(access_token, published_keys(system)))
    me = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"), headers={"Authorization": f"Bearer {access_token}"}
    ).json()
    assert claims["sub"] == me["id"] and claims["tenant"] == TENANT
    assert claims["email"] == "oscar@contoso.example"


def test_after_a_key_rotation_jwks_still_verifies_tokens_signed_before_it(
    signin_system: SignInSystem, signed_in: dict[str, str]
) -> None:
    system = signin_system
    before = signed_in["__Host-eb_session"]
    system.services.session_keys.rotate()
    answer = system.browser_sign_in("several_groups")
    after = set_cookies(answer)["__Host-eb_session"]
    keys = published_keys(system)
    old, new = signing_key(before, keys), signing_key(after, keys)
    assert old["kid"] != new["kid"]
    assert verified(before, old)["email"] == "oscar@contoso.example"
    assert verified(after, new)["email"] == "sam@contoso.example"
    with pytest.raises(jwt.InvalidSignatureError):
        verified(before, new)


def test_a_logout_failing_in_entras_frame_still_allows_only_entra_to_frame_it(
    signin_system: SignInSystem, private_azurite: Azurite
) -> None:
    # Storage down during a front-channel logout: the route answers an error page,
    # which Entra's iframe shows; the logout route's frame rule holds for it too.
    system = signin_system
    services = system.services
    rebuilt = ("configs", "users", "audit", "sessions", "signin")
    working = services.tables
    down = TableStore.from_connection_string(private_azurite.connection_string)
    private_azurite.stop()
    services.override("tables", down)
    services.rebuild(*rebuilt)
    try:
        answer = system.http.get(
            system.url(f"/api/auth/{TENANT}/logout"),
            params={"sid": "00000000-0000-0000-0000-000000000000"},
            allow_redirects=False,
        )
    finally:
        services.override("tables", working)
        services.rebuild(*rebuilt)
        down.close()
    assert answer.status_code == 503, answer.text
    assert "temporarily unavailable" in answer.text
    assert directives(answer).get("frame-ancestors") == [services.settings.entra_authority_host]
