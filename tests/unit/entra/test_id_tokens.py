"""ID token validation: every check refuses its own attack, and a good token passes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.warnings import InsecureKeyLengthWarning

from shared.entra.id_tokens import IdClaims, UnknownSigningKey, email_from_claims, validate_id_token
from shared.errors import InvalidIdToken
from tests.support.jwtkeys import (
    FIXED_NOW,
    EntraApp,
    TestKey,
    id_token_claims,
    nonce_hash,
    rsa_test_key,
    sign_token,
    unsigned_token,
)

APP = EntraApp()
TID = APP.tenant_id
OTHER_TID = "11111111-b3e2-4c8a-9f41-1e6a92d8f7bc"
OID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
NOW = FIXED_NOW


def key() -> TestKey:
    return rsa_test_key("k1")


def claims(**changes: Any) -> dict[str, Any]:
    return id_token_claims(APP, **changes)


def sign(payload: dict[str, Any], *, signer: TestKey | None = None, **headers: Any) -> str:
    return sign_token(payload, signer or key(), kid=headers.pop("kid", "k1"), **headers)


def validate(raw: str, **overrides: Any) -> IdClaims:
    arguments: dict[str, Any] = {
        "keys": {"k1": key().public_key},
        "issuer_host": APP.issuer_host,
        "tenant_id": TID,
        "client_id": APP.client_id,
        "nonce_hash": nonce_hash(),
        "now": NOW,
    }
    arguments.update(overrides)
    return validate_id_token(raw, **arguments)


def header_of(raw: str) -> dict[str, Any]:
    head = raw.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return header


# --- success ------------------------------------------------------------------------


def test_a_valid_entra_token_gives_the_identity() -> None:
    identity = validate(sign(claims(groups=["D1F7F0E2-0000-0000-0000-000000000001"])))
    assert (identity.oid, identity.tid, identity.name) == (OID, TID, "Ada Lovelace")
    assert identity.email == identity.preferred_username == "ada@contoso.example"
    assert identity.groups == ("d1f7f0e2-0000-0000-0000-000000000001",)
    assert identity.sid == "00000000-0000-0000-0000-000000000001"
    assert identity.nonce == nonce_hash()
    assert (identity.iat, identity.exp) == (NOW - 10, NOW + 3600)
    assert identity.claims["uti"] == "AbCdEfGhIjKlMnOpQrStUv"
    assert not identity.has_groups_overage


def test_the_validated_claims_are_read_only_and_kept_out_of_repr() -> None:
    identity = validate(sign(claims()))
    with pytest.raises(TypeError):
        identity.claims["oid"] = "changed"  # type: ignore[index]
    assert "uti" not in repr(identity)


def test_a_pyjwk_bound_to_rs256_works_as_the_key() -> None:
    pyjwk = jwt.PyJWK(key().jwk(), algorithm="RS256")
    assert validate(sign(claims()), keys={"k1": pyjwk}).oid == OID


def test_a_configured_tenant_id_in_capitals_and_a_trailing_slash_on_the_host_still_match() -> None:
    identity = validate(sign(claims()), tenant_id=TID.upper(), issuer_host=APP.issuer_host + "/")
    assert identity.tid == TID


def test_a_token_without_groups_has_none_rather_than_an_empty_list() -> None:
    assert validate(sign(claims())).groups is None


# --- signature and algorithm ---------------------------------------------------------


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="signature"):
        validate(sign(claims(), signer=rsa_test_key("intruder")))


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = unsigned_token({"alg": "RS256", "kid": "k1"}, claims(oid=OTHER_TID)).split(".")[1]
    with pytest.raises(InvalidIdToken, match="signature"):
        validate(f"{header}.{forged}.{signature}")


def test_a_stripped_signature_is_refused() -> None:
    header, payload, _ = sign(claims()).split(".")
    with pytest.raises(InvalidIdToken, match="signature"):
        validate(f"{header}.{payload}.")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None])
def test_an_unsigned_token_is_refused(alg: str | None) -> None:
    header = {"kid": "k1"} if alg is None else {"alg": alg, "kid": "k1"}
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(unsigned_token(header, claims()))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_an_hmac_token_keyed_with_the_public_key_pem_is_refused(alg: str) -> None:
    public_pem = key().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = unsigned_token({"alg": alg, "kid": "k1", "typ": "JWT"}, claims()).rsplit(".", 1)[0]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    mac = hmac.new(public_pem, body.encode(), digest).digest()
    token = unsigned_token({"alg": alg, "kid": "k1", "typ": "JWT"}, claims(), mac)
    # Also offered the PEM itself as the key: the algorithm is refused before any key use.
    for keys in ({"k1": key().public_key}, {"k1": public_pem.decode()}):
        with pytest.raises(InvalidIdToken, match="algorithm"):
            validate(token, keys=keys)


def test_an_es256_token_is_refused_even_with_a_matching_key() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(token, keys={"k1": ec_key.public_key()})


@pytest.mark.parametrize("alg", ["PS256", "RS384", "RS512"])
def test_other_rsa_algorithms_are_refused_with_the_directorys_own_key(alg: str) -> None:
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(sign_token(claims(), key(), kid="k1", algorithm=alg))


def test_a_key_that_is_not_an_rsa_public_key_is_refused_not_crashed_on() -> None:
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for wrong in (ec_public, pem.decode(), "", jwt.PyJWK(key().jwk(alg="RS512"))):
        with pytest.raises(InvalidIdToken, match="signing key"):
            validate(sign(claims()), keys={"k1": wrong})


def test_a_key_shorter_than_2048_bits_is_refused() -> None:
    weak = rsa_test_key("weak", bits=1024)
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT only warns when signing
        token = sign(claims(), signer=weak)
    with pytest.raises(InvalidIdToken, match="signing key"):
        validate(token, keys={"k1": weak.public_key})


# --- header ------------------------------------------------------------------------


def test_an_unknown_kid_is_reported_so_keys_can_be_refetched() -> None:
    with pytest.raises(UnknownSigningKey) as unknown:
        validate(sign(claims(), kid="rotated-key"))
    assert unknown.value.kid == "rotated-key"
    assert isinstance(unknown.value, InvalidIdToken)
    assert "rotated-key" not in unknown.value.description


@pytest.mark.parametrize("kid", ["", 7, None])
def test_a_missing_or_non_string_kid_is_refused(kid: Any) -> None:
    header: dict[str, Any] = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    with pytest.raises(InvalidIdToken, match="kid"):
        validate(unsigned_token(header, claims(), b"x" * 256))


@pytest.mark.parametrize(
    "headers",
    [
        {"jku": "https://evil.example/keys"},
        {"x5u": "https://evil.example/cert.pem"},
        {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"]},
        {"crit": ["b64"], "b64": True},  # an extension PyJWT itself would accept
    ],
)
def test_key_pointing_and_critical_headers_are_refused(headers: dict[str, Any]) -> None:
    # Signed by the directory's real key: refused for the header alone.
    token = sign(claims(), **headers)
    name = next(iter(headers))
    assert name in header_of(token)
    with pytest.raises(InvalidIdToken, match=name):
        validate(token)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not-a-token",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!!.e30.",
        "bnVsbA.e30.",  # header "null"
        "W10.e30.",  # header "[]"
        "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb.e30.",
        "ZXlK" * 600 + ".e30.",  # header too long
    ],
)
def test_malformed_tokens_are_refused(raw: str) -> None:
    with pytest.raises(InvalidIdToken, match="malformed"):
        validate(raw)


def test_a_deeply_nested_header_is_refused_without_a_crash() -> None:
    token = unsigned_token({}, claims()).replace("e30", _b64("[" * 1500), 1)
    with pytest.raises(InvalidIdToken, match="malformed"):
        validate(token)


def test_an_oversized_token_is_refused_before_parsing() -> None:
    token = sign(claims(padding="x" * 70_000))
    with pytest.raises(InvalidIdToken, match="malformed"):
        validate(token)


def test_garbage_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidIdToken) as refused:
        validate("not.a.token<script>")
    assert "<script>" not in refused.value.description


def test_no_refusal_quotes_the_token() -> None:
    token = sign(claims(aud="another-client"))
    with pytest.raises(InvalidIdToken) as refused:
        validate(token)
    assert token not in str(refused.value) and "another-client" not in str(refused.value)


# --- issuer and directory -----------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        f"https://login.microsoftonline.com/{OTHER_TID}/v2.0",
        f"https://sts.windows.net/{TID}/",
        f"https://evil.example/{TID}/v2.0",
        f"https://login.microsoftonline.com/{TID}",
        f"https://login.microsoftonline.com/{TID}/v2.0/",
        f"https://login.microsoftonline.com/{TID.upper()}/v2.0",
        "https://login.microsoftonline.com/common/v2.0",
        "https://login.microsoftonline.com/{tenantid}/v2.0",
    ],
)
def test_a_wrong_issuer_is_refused(issuer: str) -> None:
    with pytest.raises(InvalidIdToken, match="iss"):
        validate(sign(claims(iss=issuer)))


def test_a_v1_token_with_its_v1_issuer_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="iss"):
        validate(sign(claims(iss=f"https://sts.windows.net/{TID}/", ver="1.0")))


def test_another_directorys_token_with_its_own_issuer_and_tid_is_refused() -> None:
    token = sign(claims(iss=f"{APP.issuer_host}/{OTHER_TID}/v2.0", tid=OTHER_TID))
    with pytest.raises(InvalidIdToken, match="iss"):
        validate(token)


def test_a_tid_claim_that_differs_from_the_configured_directory_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="tid"):
        validate(sign(claims(tid=OTHER_TID)))


@pytest.mark.parametrize("tid", [TID.upper(), "common", 42, [TID]])
def test_a_tid_that_is_not_the_configured_lowercase_uuid_is_refused(tid: Any) -> None:
    with pytest.raises(InvalidIdToken, match="tid"):
        validate(sign(claims(tid=tid)))


def test_a_tenant_configured_as_common_accepts_nothing() -> None:
    token = sign(claims(iss=f"{APP.issuer_host}/common/v2.0", tid="common"))
    with pytest.raises(InvalidIdToken, match="tid"):
        validate(token, tenant_id="common")


# --- audience ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "audience",
    [
        "another-client",
        APP.client_id.upper(),
        [APP.client_id, "another-client"],
        [APP.client_id],
        "https://graph.microsoft.com",
        f"api://{APP.client_id}",
    ],
)
def test_a_wrong_or_widened_audience_is_refused(audience: Any) -> None:
    with pytest.raises(InvalidIdToken, match="aud"):
        validate(sign(claims(aud=audience)))


# --- required claims ------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "oid", "tid", "nonce", "ver"]
)
def test_each_required_claim_must_be_present(claim: str) -> None:
    with pytest.raises(InvalidIdToken, match=f"'{claim}'"):
        validate(sign(claims(**{claim: None})))


def test_a_non_string_subject_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="malformed"):
        validate(sign(claims(sub=12345)))


@pytest.mark.parametrize("oid", ["x' or 1 eq 1", OID.upper(), OID + "0", OID.replace("-", ""), 5])
def test_a_non_uuid_object_id_is_refused(oid: Any) -> None:
    with pytest.raises(InvalidIdToken, match="oid"):
        validate(sign(claims(oid=oid)))


@pytest.mark.parametrize("ver", ["1.0", "2", 2.0, "2.0 "])
def test_a_version_other_than_2_0_is_refused(ver: Any) -> None:
    with pytest.raises(InvalidIdToken, match="ver"):
        validate(sign(claims(ver=ver)))


# --- time ------------------------------------------------------------------------------


def test_an_expired_token_is_refused_beyond_the_leeway_only() -> None:
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(sign(claims(exp=NOW - 300)))
    assert validate(sign(claims(exp=NOW - 299))).oid == OID


def test_without_leeway_a_token_is_refused_at_its_expiry_second() -> None:
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(sign(claims(exp=NOW)), leeway=0)
    assert validate(sign(claims(exp=NOW + 1)), leeway=0).oid == OID


def test_the_clock_is_the_one_given_not_the_machines() -> None:
    # Valid now, but one hour and six minutes later it has expired.
    token = sign(claims())
    assert validate(token).oid == OID
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(token, now=NOW + 3600 + 360)


@pytest.mark.parametrize("leeway", [3600, 10**9])
def test_leeway_is_capped_at_five_minutes(leeway: int) -> None:
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(sign(claims(exp=NOW - 301)), leeway=leeway)


def test_a_negative_leeway_counts_as_none() -> None:
    assert validate(sign(claims(exp=NOW + 1)), leeway=-100).oid == OID


def test_a_not_yet_valid_token_is_refused_beyond_the_leeway_only() -> None:
    with pytest.raises(InvalidIdToken, match="nbf"):
        validate(sign(claims(nbf=NOW + 301)))
    assert validate(sign(claims(nbf=NOW + 300))).oid == OID


def test_a_token_issued_in_the_future_is_refused_beyond_the_leeway_only() -> None:
    with pytest.raises(InvalidIdToken, match="iat"):
        validate(sign(claims(iat=NOW + 301)))
    assert validate(sign(claims(iat=NOW + 300, nbf=NOW))).oid == OID


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["1800000000", True, [NOW], 10**400])
def test_a_time_claim_that_is_not_a_number_is_refused(claim: str, value: Any) -> None:
    with pytest.raises(InvalidIdToken, match=claim):
        validate(sign(claims(**{claim: value})))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["Infinity", "NaN"])
def test_a_time_claim_of_infinity_or_nan_is_refused(claim: str, value: str) -> None:
    # json.dumps writes float("inf") as Infinity, which Python's json.loads reads back.
    with pytest.raises(InvalidIdToken, match=claim):
        validate(sign(claims(**{claim: float(value)})))


# --- nonce ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nonce",
    [
        "wrong",
        nonce_hash("another sign-in"),
        "raw-flow-nonce-as-msal-keeps-it",  # the raw value, not its hash
        nonce_hash().upper(),
        nonce_hash()[:-1],
        "é" + nonce_hash(),  # non-ASCII must not crash compare_digest
        12345,
    ],
)
def test_a_wrong_nonce_is_refused(nonce: Any) -> None:
    with pytest.raises(InvalidIdToken, match="nonce"):
        validate(sign(claims(nonce=nonce)))


def test_the_nonce_expected_is_the_sha256_hex_msal_sends() -> None:
    assert nonce_hash("n") == hashlib.sha256(b"n").hexdigest()
    assert validate(sign(claims(nonce=nonce_hash("n"))), nonce_hash=nonce_hash("n")).oid == OID


# --- groups and email -------------------------------------------------------------------


def test_groups_overage_is_detected_and_no_groups_are_invented() -> None:
    overage = claims(
        _claim_names={"groups": "src1"},
        _claim_sources={"src1": {"endpoint": "https://graph.windows.net/x/getMemberObjects"}},
    )
    identity = validate(sign(overage))
    assert identity.has_groups_overage and identity.groups is None
    assert validate(sign(claims(hasgroups=True))).has_groups_overage
    assert not validate(sign(claims(hasgroups="true"))).has_groups_overage


def test_non_string_group_entries_are_dropped() -> None:
    identity = validate(sign(claims(groups=["A", 1, None, "b"])))
    assert identity.groups == ("a", "b")


def test_email_comes_from_email_then_an_email_shaped_username() -> None:
    assert email_from_claims(validate(sign(claims()))) == "ada@contoso.example"
    upn_only = validate(sign(claims(email=None, preferred_username=" Ada@Contoso.example ")))
    assert email_from_claims(upn_only) == "Ada@Contoso.example"
    for username in ("ADA-PC\\ada", "ada", "ada@contoso", "a b@c.example", "@contoso.example"):
        neither = validate(sign(claims(email=None, preferred_username=username)))
        assert email_from_claims(neither) is None


def test_a_malformed_email_claim_falls_back_to_the_username() -> None:
    identity = validate(sign(claims(email="not an email")))
    assert email_from_claims(identity) == "ada@contoso.example"


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
