"""The Entra ID stand-in driven by MSAL and by hand: the authorization-code flow over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
import requests

from devtools.fake_entra import FakeEntra, User
from tests.support.entra import (
    EntraTestDirectory,
    follow_authorize,
    msal_client,
    parse_form,
    read_authorize_answer,
    sign_in,
    start_flow,
    verified_claims,
)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def pkce_pair() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(b"v" * 48).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def authorize_url(entra: FakeEntra, directory: EntraTestDirectory, **overrides: str) -> str:
    _, challenge = pkce_pair()
    params = {
        "client_id": directory.client_id,
        "response_type": "code",
        "redirect_uri": directory.redirect_uri,
        "scope": "openid profile email offline_access User.Read",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": directory.users["one_group"].upn,
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v != ""}
    return f"{entra.authorize_endpoint(directory.tenant_id)}?{urlencode(params)}"


def code_for(http: requests.Session, entra: FakeEntra, directory: EntraTestDirectory) -> str:
    answer = follow_authorize(http, authorize_url(entra, directory))
    assert answer.status == 302, answer.html
    return answer.params["code"]


def redeem(
    http: requests.Session,
    entra: FakeEntra,
    directory: EntraTestDirectory,
    code: str,
    **overrides: str,
) -> requests.Response:
    verifier, _ = pkce_pair()
    data = {
        "grant_type": "authorization_code",
        "client_id": directory.client_id,
        "client_secret": directory.client_secret,
        "code": code,
        "redirect_uri": directory.redirect_uri,
        "code_verifier": verifier,
        "scope": "openid profile email offline_access User.Read",
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v != ""}
    return http.post(entra.token_endpoint(directory.tenant_id), data=data, timeout=10)


def aadsts(response: requests.Response) -> tuple[str, list[int]]:
    body = response.json()
    return body["error"], body["error_codes"]


# --- MSAL end to end -------------------------------------------------------------------


def test_msal_code_flow_over_https_yields_a_signed_entra_v2_id_token(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["several_groups"]
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=user.upn)
    answer = follow_authorize(http, flow["auth_uri"])
    assert answer.status == 200 and answer.target == entra_directory.redirect_uri  # form_post
    assert answer.params["state"] == flow["state"]

    before = int(time.time())
    result = client.acquire_token_by_auth_code_flow(flow, answer.params)

    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    assert result["access_token"] and result["refresh_token"]
    assert "https://graph.microsoft.com/User.Read" in result["scope"].split()
    header = jwt.get_unverified_header(result["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    claims = verified_claims(fake_entra, http, result["id_token"])
    tid = entra_directory.tenant_id
    assert claims["iss"] == f"{fake_entra.base_url}/{tid}/v2.0"
    assert claims["aud"] == entra_directory.client_id
    assert claims["tid"] == tid and claims["ver"] == "2.0"
    assert claims["oid"] == user.oid
    assert claims["preferred_username"] == user.upn and claims["name"] == user.name
    assert claims["email"] == user.email
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    assert set(claims["groups"]) == user.security_groups  # nested group in, M365 group out
    assert entra_directory.all_company not in claims["groups"]
    assert "_claim_names" not in claims
    assert before - 5 <= claims["iat"] == claims["nbf"] <= before + 5
    assert claims["exp"] - claims["iat"] == 3600
    assert len(claims["sub"]) == 43


def test_msal_asks_for_nothing_but_discovery_authorize_and_token(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    sign_in(fake_entra, http, entra_directory.users["one_group"])

    tid = entra_directory.tenant_id
    assert fake_entra.requests_seen() == [
        ("GET", f"/{tid}/v2.0/.well-known/openid-configuration"),
        ("GET", f"/{tid}/oauth2/v2.0/authorize"),
        ("POST", f"/{tid}/oauth2/v2.0/token"),
    ]


def test_query_response_mode_redirects_with_code_and_state(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    client = msal_client(fake_entra, http)
    with pytest.warns(UserWarning, match="form_post"):  # MSAL 1.39 nags about query mode
        flow = start_flow(client, login_hint=user.upn, response_mode="query")

    response = http.get(flow["auth_uri"], allow_redirects=False, timeout=10)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == entra_directory.redirect_uri
    answer = read_authorize_answer(response)
    assert answer.params["state"] == flow["state"] and answer.params["code"]
    result = client.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["id_token_claims"]["oid"] == user.oid


def test_discovery_document_has_entra_v2_paths_and_issuer(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    tid = entra_directory.tenant_id
    document = http.get(fake_entra.discovery_url(tid), timeout=10).json()

    base = f"{fake_entra.base_url}/{tid}"
    assert document["issuer"] == f"{base}/v2.0"
    assert document["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert document["end_session_endpoint"] == f"{base}/oauth2/v2.0/logout"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "form_post" in document["response_modes_supported"]


def test_unknown_tenant_discovery_answers_aadsts90002(
    fake_entra: FakeEntra, http: requests.Session
) -> None:
    response = http.get(
        fake_entra.discovery_url("00000000-0000-0000-0000-00000000dead"), timeout=10
    )
    assert response.status_code == 400
    assert aadsts(response) == ("invalid_tenant", [90002])


def test_user_without_email_gets_no_email_claim(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    result = sign_in(fake_entra, http, entra_directory.users["no_email"])
    claims = result["id_token_claims"]
    assert "email" not in claims
    assert claims["preferred_username"] == entra_directory.users["no_email"].upn


def test_user_without_groups_gets_no_groups_claim(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    claims = sign_in(fake_entra, http, entra_directory.users["no_groups"])["id_token_claims"]
    assert "groups" not in claims and "_claim_names" not in claims


def test_sub_is_stable_per_user_and_app_and_differs_between_apps(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    first = sign_in(fake_entra, http, user)["id_token_claims"]
    second = sign_in(fake_entra, http, user)["id_token_claims"]
    other_app = msal_client(
        fake_entra,
        http,
        client_id=entra_directory.second_client_id,
        secret=entra_directory.second_client_secret,
    )
    third = sign_in(fake_entra, http, user, client=other_app)["id_token_claims"]

    assert first["sub"] == second["sub"]
    assert third["sub"] != first["sub"] and third["oid"] == first["oid"]


def test_group_changes_show_at_the_next_sign_in(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    fake_entra.update_user(entra_directory.tenant_id, user.oid, groups=[entra_directory.support])
    claims = sign_in(fake_entra, http, user)["id_token_claims"]
    assert claims["groups"] == [entra_directory.support]


# --- token endpoint --------------------------------------------------------------------


def test_client_secret_basic_redeems_a_code(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    code = code_for(http, fake_entra, entra_directory)
    verifier, _ = pkce_pair()
    response = http.post(
        fake_entra.token_endpoint(entra_directory.tenant_id),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": entra_directory.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(entra_directory.client_id, entra_directory.client_secret),
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    assert claims["aud"] == entra_directory.client_id
    assert claims["nonce"] == "nonce-456"


def test_a_code_is_redeemed_once_and_then_answers_aadsts54005(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    code = code_for(http, fake_entra, entra_directory)
    assert redeem(http, fake_entra, entra_directory, code).status_code == 200

    again = redeem(http, fake_entra, entra_directory, code)

    assert again.status_code == 400
    assert aadsts(again) == ("invalid_grant", [54005])
    body = again.json()
    assert body["error_description"].startswith("AADSTS54005: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def test_msal_reports_a_second_redemption_of_the_same_flow_as_invalid_grant(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=entra_directory.users["one_group"].upn)
    answer = follow_authorize(http, flow["auth_uri"])
    assert "id_token" in client.acquire_token_by_auth_code_flow(dict(flow), answer.params)

    replay = client.acquire_token_by_auth_code_flow(dict(flow), answer.params)

    assert replay["error"] == "invalid_grant"
    assert "AADSTS54005" in replay["error_description"]


def test_an_expired_code_answers_aadsts70008(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.code_lifetime = 0
    code = code_for(http, fake_entra, entra_directory)
    response = redeem(http, fake_entra, entra_directory, code)
    assert aadsts(response) == ("invalid_grant", [70008])


def test_the_redirect_uri_must_match_the_authorize_request(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    code = code_for(http, fake_entra, entra_directory)
    response = redeem(
        http, fake_entra, entra_directory, code, redirect_uri="https://127.0.0.1:9/elsewhere"
    )
    assert aadsts(response) == ("invalid_grant", [500112])
    # A refused attempt does not burn the code.
    assert redeem(http, fake_entra, entra_directory, code).status_code == 200


@pytest.mark.parametrize(
    ("verifier", "expected_code"),
    [("", 501481), ("a-verifier-that-was-never-hashed-into-the-challenge-xyz", 50148)],
)
def test_the_pkce_verifier_must_match_the_challenge(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    verifier: str,
    expected_code: int,
) -> None:
    code = code_for(http, fake_entra, entra_directory)
    response = redeem(http, fake_entra, entra_directory, code, code_verifier=verifier)
    assert aadsts(response) == ("invalid_grant", [expected_code])


@pytest.mark.parametrize(
    ("secret_attr", "expected_code"),
    [("wrong", 7000215), ("expired_secret", 7000222), ("", 7000218)],
)
def test_a_wrong_missing_or_expired_secret_is_invalid_client(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    secret_attr: str,
    expected_code: int,
) -> None:
    secret = getattr(entra_directory, secret_attr, "not-the-secret") if secret_attr else ""
    code = code_for(http, fake_entra, entra_directory)
    response = redeem(http, fake_entra, entra_directory, code, client_secret=secret)
    assert response.status_code == 401
    assert aadsts(response) == ("invalid_client", [expected_code])


def test_msal_gets_aadsts7000215_for_a_wrong_secret(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = msal_client(fake_entra, http, secret="not-the-secret")
    flow = start_flow(client, login_hint=entra_directory.users["one_group"].upn)
    answer = follow_authorize(http, flow["auth_uri"])
    result = client.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215:")


def test_a_code_issued_to_another_app_is_refused(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    code = code_for(http, fake_entra, entra_directory)
    response = redeem(
        http,
        fake_entra,
        entra_directory,
        code,
        client_id=entra_directory.second_client_id,
        client_secret=entra_directory.second_client_secret,
    )
    assert aadsts(response) == ("invalid_grant", [70000])


def test_refresh_token_grant_returns_fresh_tokens_until_sessions_are_revoked(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    first = sign_in(fake_entra, http, user)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": entra_directory.client_id,
        "client_secret": entra_directory.client_secret,
        "scope": "openid profile email offline_access User.Read",
    }
    url = fake_entra.token_endpoint(entra_directory.tenant_id)

    refreshed = http.post(url, data=data, timeout=10)

    assert refreshed.status_code == 200
    body = refreshed.json()
    claims = verified_claims(fake_entra, http, body["id_token"])
    assert claims["oid"] == user.oid and "nonce" not in claims
    assert body["refresh_token"] != first["refresh_token"]
    fake_entra.revoke_sign_in_sessions(entra_directory.tenant_id, user.oid)
    assert aadsts(http.post(url, data=data, timeout=10)) == ("invalid_grant", [50173])


# --- authorize endpoint ----------------------------------------------------------------


def test_unknown_client_id_gets_an_aadsts700016_page_and_no_redirect(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    url = authorize_url(
        fake_entra, entra_directory, client_id="11111111-2222-3333-4444-555555555555"
    )
    response = http.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "AADSTS700016" in response.text


def test_unregistered_redirect_uri_gets_an_escaped_aadsts50011_page_and_no_redirect(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    evil = "https://evil.example/cb?<script>alert(1)</script>"
    response = http.get(
        authorize_url(fake_entra, entra_directory, redirect_uri=evil),
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "AADSTS50011" in response.text
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)" in response.text
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_redirect_uri_differing_only_by_a_trailing_slash_is_refused(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    slashed = entra_directory.redirect_uri + "/"
    url = authorize_url(fake_entra, entra_directory, redirect_uri=slashed)
    response = http.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "AADSTS50011" in response.text


def test_a_redirect_uri_added_at_runtime_is_accepted(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    uri = "https://127.0.0.1:40001/api/auth/contoso/callback"
    fake_entra.add_redirect_uri(entra_directory.tenant_id, entra_directory.client_id, uri)
    answer = follow_authorize(http, authorize_url(fake_entra, entra_directory, redirect_uri=uri))
    assert answer.status == 302 and answer.target == uri and answer.params["code"]


@pytest.mark.parametrize(
    ("overrides", "error", "code"),
    [
        ({"code_challenge": ""}, "invalid_request", 9002325),
        ({"code_challenge_method": "plain"}, "invalid_request", 9002325),
        ({"code_challenge": "short"}, "invalid_request", 501491),
        ({"response_type": "token"}, "unsupported_response_type", 700054),
        ({"response_type": ""}, "invalid_request", 900144),
        ({"scope": ""}, "invalid_request", 900144),
    ],
)
def test_bad_authorize_requests_go_back_to_the_app_with_an_error_and_the_state(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    overrides: dict[str, str],
    error: str,
    code: int,
) -> None:
    answer = follow_authorize(http, authorize_url(fake_entra, entra_directory, **overrides))
    assert answer.status == 302 and answer.target == entra_directory.redirect_uri
    assert answer.params["error"] == error
    assert answer.params["error_description"].startswith(f"AADSTS{code}:")
    assert answer.params["state"] == "state-123"
    assert "code" not in answer.params


def test_a_disabled_user_is_sent_back_with_access_denied(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    url = authorize_url(
        fake_entra, entra_directory, login_hint=entra_directory.users["disabled"].upn
    )
    answer = follow_authorize(http, url)
    assert answer.params["error"] == "access_denied"
    assert answer.params["error_description"].startswith("AADSTS50057:")


def test_a_user_not_assigned_to_the_app_is_sent_back_with_aadsts50105(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=entra_directory.users["unassigned"].upn)
    answer = follow_authorize(http, flow["auth_uri"])

    assert answer.params["error"] == "access_denied"
    assert answer.params["error_description"].startswith("AADSTS50105:")
    result = client.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["error"] == "access_denied"  # MSAL hands the redirect's error back


def test_a_per_user_sign_in_error_can_be_set_at_runtime(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    fake_entra.update_user(
        entra_directory.tenant_id,
        user.oid,
        sign_in_error=("interaction_required", "AADSTS50076: MFA is required."),
    )
    answer = follow_authorize(http, authorize_url(fake_entra, entra_directory))
    assert answer.params["error"] == "interaction_required"
    assert answer.params["error_description"] == "AADSTS50076: MFA is required."


def test_prompt_none_without_a_known_user_answers_login_required(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    answer = follow_authorize(
        http, authorize_url(fake_entra, entra_directory, login_hint="", prompt="none")
    )
    assert answer.params["error"] == "login_required"
    assert answer.params["error_description"].startswith("AADSTS50058:")


def test_fragment_response_mode_puts_the_code_in_the_fragment(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    url = authorize_url(fake_entra, entra_directory, response_mode="fragment")
    response = http.get(url, allow_redirects=False, timeout=10)
    location = urlsplit(response.headers["Location"])
    assert (
        location.query == ""
        and "code=" in location.fragment
        and "state=state-123" in (location.fragment)
    )


# --- the page a person uses ------------------------------------------------------------


def test_a_person_signs_in_by_clicking_a_user_on_the_sign_in_page(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.add_user(
        entra_directory.tenant_id,
        User(
            oid="0f0f0f0f-0000-4000-8000-000000000001",
            upn="eve@contoso.example",
            name="<b>Eve</b> & co",
        ),
    )
    client = msal_client(fake_entra, http)
    flow = start_flow(client)  # no login_hint: a person has to choose

    page = http.get(flow["auth_uri"], allow_redirects=False, timeout=10)

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for user in entra_directory.users.values():
        assert user.upn in page.text and user.name in page.text
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in page.text and "<b>Eve</b>" not in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    action, fields, buttons = parse_form(page.text)
    assert action == urlsplit(fake_entra.authorize_endpoint(entra_directory.tenant_id)).path
    chosen = entra_directory.users["several_groups"]
    button = next(b for b in buttons if b[1] == chosen.oid)

    clicked = http.post(
        fake_entra.base_url + action,
        data={**fields, button[0]: button[1]},
        allow_redirects=False,
        timeout=10,
    )

    answer = read_authorize_answer(clicked)
    assert answer.target == entra_directory.redirect_uri and answer.params["code"]
    result = client.acquire_token_by_auth_code_flow(flow, answer.params)
    assert result["id_token_claims"]["oid"] == chosen.oid


def test_the_form_post_page_posts_itself_to_the_redirect_uri_with_escaped_fields(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    url = authorize_url(
        fake_entra, entra_directory, response_mode="form_post", state='"><script>x</script>'
    )
    page = http.get(url, allow_redirects=False, timeout=10)

    assert page.status_code == 200
    assert "<script>x</script>" not in page.text
    action, fields, _ = parse_form(page.text)
    assert action == entra_directory.redirect_uri
    assert fields["state"] == '"><script>x</script>' and fields["code"]
    assert "document.forms[0].submit()" in page.text


# --- sign-out --------------------------------------------------------------------------


def test_sign_out_runs_front_channel_logout_then_returns_to_a_registered_uri(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    result = sign_in(fake_entra, http, entra_directory.users["one_group"])
    sid = result["id_token_claims"]["sid"]
    params: dict[str, Any] = {
        "id_token_hint": result["id_token"],
        "post_logout_redirect_uri": entra_directory.redirect_uri,
        "state": "bye",
    }
    response = http.get(
        fake_entra.logout_endpoint(entra_directory.tenant_id),
        params=params,
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200
    assert f"https://127.0.0.1:7071/api/auth/contoso/logout?sid={sid}" in response.text
    assert f"{entra_directory.redirect_uri}?state=bye" in response.text

    again = http.get(
        fake_entra.logout_endpoint(entra_directory.tenant_id),
        params={**params, "post_logout_redirect_uri": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 200 and "evil.example" not in again.text


def test_an_oversized_request_is_refused_and_the_connection_stays_usable(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    url = fake_entra.token_endpoint(entra_directory.tenant_id)
    too_big = http.post(url, data={"code": "x" * (2 * 1024 * 1024)}, timeout=10)
    assert too_big.status_code == 413
    follow_up = http.get(fake_entra.discovery_url(entra_directory.tenant_id), timeout=10)
    assert follow_up.status_code == 200
