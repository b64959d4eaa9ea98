"""Each fault and attack switch of the Entra ID stand-in takes effect, from Python and HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from devtools.fake_entra import ENDPOINT_FAULTS, ID_TOKEN_ATTACKS, FakeEntra, Faults
from tests.support.entra import (
    EntraTestDirectory,
    follow_authorize,
    msal_client,
    sign_in,
    start_flow,
)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def issued_id_token(
    entra: FakeEntra, http: requests.Session, directory: EntraTestDirectory, **faults: Any
) -> str:
    """Sign in through MSAL with these switches on; the raw ID token it received."""
    entra.set_faults(**faults)
    result = sign_in(entra, http, directory.users["one_group"])
    token: str = result["id_token"]
    return token


def jwks_key(entra: FakeEntra, http: requests.Session, tenant_id: str, kid: str) -> Any:
    keys = http.get(entra.jwks_uri(tenant_id), timeout=10).json()["keys"]
    return jwt.PyJWK(next(k for k in keys if k["kid"] == kid)).key


def strict_decode(
    entra: FakeEntra, http: requests.Session, directory: EntraTestDirectory, token: str
) -> dict[str, Any]:
    """What a careful validator does (pitfalls.md): pinned alg, iss, aud, required claims."""
    key = jwks_key(entra, http, directory.tenant_id, jwt.get_unverified_header(token)["kid"])
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=["RS256"],
        audience=directory.client_id,
        issuer=entra.issuer(directory.tenant_id),
        leeway=300,
        options={
            "require": ["exp", "iat", "nbf", "iss", "aud", "sub", "oid", "tid", "nonce", "ver"],
            "strict_aud": True,
        },
    )
    return claims


def signed_claims(
    entra: FakeEntra, http: requests.Session, directory: EntraTestDirectory, token: str
) -> dict[str, Any]:
    """The claims of a token whose RS256 signature a published key verifies (nothing else)."""
    key = jwks_key(entra, http, directory.tenant_id, jwt.get_unverified_header(token)["kid"])
    claims: dict[str, Any] = jwt.decode(
        token,
        key=key,
        algorithms=["RS256"],
        options={
            "verify_aud": False,
            "verify_iat": False,
            "verify_exp": False,
            "verify_nbf": False,
        },
    )
    return claims


# --- ID token attacks ------------------------------------------------------------------


def test_without_switches_the_strict_validation_passes(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory)
    assert strict_decode(fake_entra, http, entra_directory, token)["ver"] == "2.0"


def test_unknown_key_signs_with_a_kid_the_jwks_does_not_list(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, unknown_key=True)
    keys = http.get(fake_entra.jwks_uri(entra_directory.tenant_id), timeout=10).json()["keys"]
    assert jwt.get_unverified_header(token)["kid"] not in {k["kid"] for k in keys}


def test_alg_none_sends_an_unsigned_token(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, alg_none=True)
    assert jwt.get_unverified_header(token)["alg"] == "none"
    assert token.endswith(".")
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, key="", algorithms=["RS256"], options={"verify_aud": False})


def test_hs256_public_key_is_an_hmac_keyed_with_the_published_public_key(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, hs256_public_key=True)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    public = jwks_key(fake_entra, http, entra_directory.tenant_id, header["kid"])
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected


@pytest.mark.parametrize(
    ("switch", "refusal"),
    [
        ("wrong_issuer", jwt.InvalidIssuerError),
        ("wrong_audience", jwt.InvalidAudienceError),
        ("extra_audience", jwt.InvalidAudienceError),
        ("expired", jwt.ExpiredSignatureError),
        ("not_yet_valid", jwt.ImmatureSignatureError),
        ("future_iat", jwt.ImmatureSignatureError),
    ],
)
def test_claim_attacks_are_validly_signed_but_fail_strict_validation(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    switch: str,
    refusal: type[Exception],
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, **{switch: True})
    assert signed_claims(fake_entra, http, entra_directory, token)["oid"]
    with pytest.raises(refusal):
        strict_decode(fake_entra, http, entra_directory, token)


def test_time_attacks_move_the_times_by_an_hour(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    now = time.time()
    claims: dict[str, dict[str, Any]] = {}
    for switch in ("expired", "not_yet_valid", "future_iat"):
        token = issued_id_token(fake_entra, http, entra_directory, **{switch: True})
        claims[switch] = jwt.decode(token, options={"verify_signature": False})
        fake_entra.clear_faults()
    assert claims["expired"]["exp"] < now - 3000
    assert claims["not_yet_valid"]["nbf"] > now + 3000
    assert claims["future_iat"]["iat"] > now + 3000


def test_wrong_tenant_changes_tid_but_not_iss(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, wrong_tenant=True)
    claims = strict_decode(fake_entra, http, entra_directory, token)  # iss and aud still pass
    assert claims["tid"] != entra_directory.tenant_id


def test_other_directory_issuer_is_a_valid_token_from_another_hosted_tenant(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, other_directory_issuer=True)
    claims = signed_claims(fake_entra, http, entra_directory, token)
    assert claims["iss"] == fake_entra.issuer(entra_directory.other_tenant_id)
    assert claims["tid"] == entra_directory.other_tenant_id
    with pytest.raises(jwt.InvalidIssuerError):
        strict_decode(fake_entra, http, entra_directory, token)


def test_v1_token_carries_the_v1_issuer_and_version(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, v1_token=True)
    claims = signed_claims(fake_entra, http, entra_directory, token)
    assert claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{entra_directory.tenant_id}/"


@pytest.mark.parametrize("switch", ["missing_nonce", "wrong_nonce"])
def test_nonce_attacks_make_msal_refuse_the_response(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session, switch: str
) -> None:
    fake_entra.set_faults(**{switch: True})
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=entra_directory.users["one_group"].upn)
    answer = follow_authorize(http, flow["auth_uri"])
    with pytest.raises(RuntimeError, match="nonce"):  # MSAL's own nonce comparison
        client.acquire_token_by_auth_code_flow(flow, answer.params)


def test_missing_email_drops_the_claim_of_a_user_who_has_one(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(fake_entra, http, entra_directory, missing_email=True)
    claims = strict_decode(fake_entra, http, entra_directory, token)
    assert entra_directory.users["one_group"].email and "email" not in claims


def test_claims_can_be_dropped_or_overridden_and_headers_added(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = issued_id_token(
        fake_entra,
        http,
        entra_directory,
        drop_claims=["oid"],
        override_claims={"name": "Mallory"},
        extra_headers={"jku": "https://keys.attacker.invalid/jwks"},
    )
    assert jwt.get_unverified_header(token)["jku"] == "https://keys.attacker.invalid/jwks"
    claims = signed_claims(fake_entra, http, entra_directory, token)
    assert "oid" not in claims and claims["name"] == "Mallory"
    with pytest.raises(jwt.MissingRequiredClaimError):
        strict_decode(fake_entra, http, entra_directory, token)


def test_issue_id_token_mints_without_a_flow_and_honours_given_faults(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    token = fake_entra.issue_id_token(
        entra_directory.tenant_id, user.oid, entra_directory.client_id, nonce="abc"
    )
    assert strict_decode(fake_entra, http, entra_directory, token)["nonce"] == "abc"
    expired = fake_entra.issue_id_token(
        entra_directory.tenant_id,
        user.oid,
        entra_directory.client_id,
        nonce="abc",
        faults=Faults(expired=True),
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        strict_decode(fake_entra, http, entra_directory, expired)


# --- endpoint faults -------------------------------------------------------------------


def test_a_token_endpoint_500_makes_msal_raise_a_service_error(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=entra_directory.users["one_group"].upn)
    answer = follow_authorize(http, flow["auth_uri"])
    fake_entra.set_faults(token_status=500)
    with pytest.raises(msal.exceptions.MsalServiceError):
        client.acquire_token_by_auth_code_flow(flow, answer.params)


def test_a_token_endpoint_503_answers_temporarily_unavailable(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.set_faults(token_status=503)
    response = http.post(
        fake_entra.token_endpoint(entra_directory.tenant_id),
        data={"grant_type": "authorization_code"},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


def test_a_slow_token_endpoint_outlasts_a_client_timeout(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.set_faults(token_delay=30)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(
            fake_entra.token_endpoint(entra_directory.tenant_id),
            data={"grant_type": "authorization_code"},
            timeout=0.3,
        )
    assert time.monotonic() - started < 5


def test_a_short_token_delay_still_answers(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.set_faults(token_delay=0.4)
    started = time.monotonic()
    result = sign_in(fake_entra, http, entra_directory.users["one_group"])
    assert "id_token" in result and time.monotonic() - started >= 0.4


def test_jwks_down_answers_503(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.set_faults(jwks_down=True)
    response = http.get(fake_entra.jwks_uri(entra_directory.tenant_id), timeout=10)
    assert response.status_code == 503


@pytest.mark.parametrize("status", [500, 503])
def test_a_discovery_fault_stops_msal_from_building_a_client(
    fake_entra: FakeEntra, http: requests.Session, status: int
) -> None:
    fake_entra.set_faults(discovery_status=status)
    with pytest.raises(msal.exceptions.MsalServiceError):
        msal_client(fake_entra, http)


def test_authorize_error_sends_every_sign_in_back_with_that_error(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    fake_entra.set_faults(
        authorize_error=["access_denied", "AADSTS50105: The user is not assigned."]
    )
    client = msal_client(fake_entra, http)
    flow = start_flow(client, login_hint=entra_directory.users["one_group"].upn)
    answer = follow_authorize(http, flow["auth_uri"])
    assert answer.params == {
        "error": "access_denied",
        "error_description": "AADSTS50105: The user is not assigned.",
        "state": flow["state"],
    }


# --- the switchboard itself ------------------------------------------------------------


def test_every_switch_is_documented_and_off_by_default() -> None:
    names = {name for name in Faults.__dataclass_fields__}
    assert names == set(ENDPOINT_FAULTS) | set(ID_TOKEN_ATTACKS)
    assert Faults().active() == {}


def test_unknown_or_mistyped_switches_are_refused(fake_entra: FakeEntra) -> None:
    with pytest.raises(ValueError, match="Unknown fault"):
        fake_entra.set_faults(jwks_dwon=True)
    with pytest.raises(ValueError, match="token_status"):
        fake_entra.set_faults(token_status="500")
    assert fake_entra.faults == Faults()


def test_reset_turns_every_switch_off_and_restores_the_directory(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory
) -> None:
    fake_entra.set_faults(jwks_down=True, alg_none=True, token_status=500)
    fake_entra.groups_limit = 1
    user = entra_directory.users["one_group"]
    fake_entra.update_user(entra_directory.tenant_id, user.oid, enabled=False)

    fake_entra.reset()

    assert fake_entra.faults.active() == {}
    assert fake_entra.groups_limit == 200
    directory = fake_entra.directory(entra_directory.tenant_id)
    assert directory is not None and directory.users[user.oid].enabled


# --- the HTTP control route ------------------------------------------------------------


@pytest.fixture
def control(fake_entra: FakeEntra, http: requests.Session) -> Callable[..., requests.Response]:
    def call(method: str, path: str, body: Any = None) -> requests.Response:
        return http.request(method, f"{fake_entra.base_url}/_control/{path}", json=body, timeout=10)

    return call


def test_faults_can_be_switched_over_http(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    control: Callable[..., requests.Response],
) -> None:
    jwks = fake_entra.jwks_uri(entra_directory.tenant_id)
    on = control("POST", "faults", {"jwks_down": True, "token_delay": 0.1})
    assert on.json() == {"faults": {"jwks_down": True, "token_delay": 0.1}}
    assert http.get(jwks, timeout=10).status_code == 503
    assert control("GET", "faults").json() == on.json()

    assert control("DELETE", "faults").json() == {"faults": {}}
    assert http.get(jwks, timeout=10).status_code == 200


def test_bad_control_requests_answer_400_or_404(
    control: Callable[..., requests.Response],
) -> None:
    unknown = control("POST", "faults", {"no_such_fault": True})
    assert unknown.status_code == 400 and "jwks_down" in unknown.json()["error"]
    assert control("POST", "faults", ["not", "an", "object"]).status_code == 400
    assert control("POST", "settings", {"groups_limit": "many"}).status_code == 400
    assert control("POST", "nowhere").status_code == 404


def test_keys_settings_users_and_reset_over_http(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    control: Callable[..., requests.Response],
) -> None:
    kid = control("POST", "keys/rotate", {"drop_old": True}).json()["kid"]
    assert control("GET", "keys").json()["active"] == kid
    staged = control("POST", "keys/add", {"publish": False}).json()["kid"]
    assert staged not in control("GET", "keys").json()["published"]
    assert staged in control("POST", f"keys/{staged}/publish").json()["published"]

    assert control("POST", "settings", {"groups_limit": 3}).json()["groups_limit"] == 3
    assert fake_entra.groups_limit == 3

    uri = "https://127.0.0.1:41000/api/auth/contoso/callback"
    body = {
        "tenant_id": entra_directory.tenant_id,
        "client_id": entra_directory.client_id,
        "uri": uri,
    }
    assert control("POST", "redirect-uris", body).status_code == 200
    user = entra_directory.users["one_group"]
    changed = control("POST", f"users/{entra_directory.tenant_id}/{user.oid}", {"enabled": False})
    assert changed.json()["enabled"] is False

    assert control("POST", "reset").status_code == 200
    assert fake_entra.groups_limit == 200 and fake_entra.keys.active.kid != kid
    directory = fake_entra.directory(entra_directory.tenant_id)
    assert directory is not None and directory.users[user.oid].enabled
    assert uri not in directory.apps[entra_directory.client_id].redirect_uris
