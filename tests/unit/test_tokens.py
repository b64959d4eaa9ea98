"""ID token validation: every check refuses its own attack, and a good token passes."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.errors import InvalidIdToken
from shared.tokens import IdClaims, UnknownSigningKey, email_from_claims, validate_id_token

NOW = 1_800_000_000
HOST = "https://login.microsoftonline.com"
TID = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
OTHER_TID = "11111111-b3e2-4c8a-9f41-1e6a92d8f7bc"
CLIENT = "550e8400-e29b-41d4-a716-446655440000"
OID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
NONCE = hashlib.sha256(b"flow-nonce").hexdigest()
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {"k1": KEY.public_key()}


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aud": CLIENT,
        "iss": f"{HOST}/{TID}/v2.0",
        "iat": NOW - 10,
        "nbf": NOW - 10,
        "exp": NOW + 3600,
        "name": "Ada Lovelace",
        "oid": OID,
        "preferred_username": "ada@contoso.example",
        "email": "ada@contoso.example",
        "sub": "pairwise-subject",
        "tid": TID,
        "ver": "2.0",
        "nonce": NONCE,
        "groups": ["D1F7F0E2-0000-0000-0000-000000000001"],
        "sid": "entra-session-1",
    }
    for name, value in changes.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def sign(payload: dict[str, Any], *, key: Any = KEY, kid: str = "k1", **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid, **headers})


def validate(raw: str, **overrides: Any) -> IdClaims:
    arguments: dict[str, Any] = {
        "keys": KEYS,
        "issuer_host": HOST,
        "tenant_id": TID,
        "client_id": CLIENT,
        "nonce_hash": NONCE,
        "now": NOW,
    }
    arguments.update(overrides)
    return validate_id_token(raw, **arguments)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        [part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)]
    )


def test_a_valid_entra_token_gives_the_identity() -> None:
    identity = validate(sign(claims()))
    assert (identity.oid, identity.tid, identity.name) == (OID, TID, "Ada Lovelace")
    assert identity.groups == ("d1f7f0e2-0000-0000-0000-000000000001",)
    assert identity.sid == "entra-session-1"
    assert not identity.has_groups_overage


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="signature"):
        validate(sign(claims(), key=OTHER_KEY))


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = sign(claims()).split(".")
    forged = unsigned({"alg": "RS256", "kid": "k1"}, claims(oid=OTHER_TID)).split(".")[1]
    with pytest.raises(InvalidIdToken):
        validate(f"{header}.{forged}.{signature}")


def test_alg_none_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(unsigned({"alg": "none", "kid": "k1"}, claims()))


def test_hs256_signed_with_the_public_key_as_secret_is_refused() -> None:
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hmac

    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    body = unsigned(header, claims()).rsplit(".", 1)[0]
    mac = hmac.new(public_pem, body.encode(), hashlib.sha256).digest()
    token = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(token)


def test_an_es256_token_is_refused_even_with_a_matching_key() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(InvalidIdToken, match="algorithm"):
        validate(token, keys={"k1": ec_key.public_key()})


def test_an_unknown_kid_is_reported_so_keys_can_be_refetched() -> None:
    with pytest.raises(UnknownSigningKey) as unknown:
        validate(sign(claims(), kid="rotated-key"))
    assert unknown.value.kid == "rotated-key"


def test_a_missing_kid_is_refused() -> None:
    token = jwt.encode(claims(), KEY, algorithm="RS256")
    with pytest.raises(InvalidIdToken, match="kid"):
        validate(token)


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk", "x5c", "crit"])
def test_key_pointing_and_critical_headers_are_refused(header: str) -> None:
    value: Any = ["exp"] if header == "crit" else "https://evil.example/keys"
    # PyJWT itself already refuses an unknown `crit` extension; either way it is refused.
    with pytest.raises(InvalidIdToken, match=None if header == "crit" else header):
        validate(sign(claims(), **{header: value}))


@pytest.mark.parametrize(
    "issuer",
    [
        f"{HOST}/{OTHER_TID}/v2.0",
        f"https://sts.windows.net/{TID}/",
        f"https://evil.example/{TID}/v2.0",
        f"{HOST}/{TID}",
    ],
)
def test_a_wrong_issuer_is_refused(issuer: str) -> None:
    with pytest.raises(InvalidIdToken, match="iss"):
        validate(sign(claims(iss=issuer)))


def test_another_directorys_token_with_its_own_issuer_is_refused() -> None:
    token = sign(claims(iss=f"{HOST}/{OTHER_TID}/v2.0", tid=OTHER_TID))
    with pytest.raises(InvalidIdToken):
        validate(token)


def test_a_tid_claim_that_differs_from_the_configured_directory_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="tid"):
        validate(sign(claims(tid=OTHER_TID)))


@pytest.mark.parametrize("audience", ["another-client", [CLIENT, "another-client"], []])
def test_a_wrong_or_widened_audience_is_refused(audience: Any) -> None:
    with pytest.raises(InvalidIdToken):
        validate(sign(claims(aud=audience)))


@pytest.mark.parametrize(
    "claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "oid", "tid", "nonce", "ver"]
)
def test_each_required_claim_must_be_present(claim: str) -> None:
    with pytest.raises(InvalidIdToken, match=claim):
        validate(sign(claims(**{claim: None})))


def test_an_expired_token_is_refused_beyond_the_leeway_only() -> None:
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(sign(claims(exp=NOW - 301)))
    assert validate(sign(claims(exp=NOW - 299))).oid == OID


def test_leeway_is_capped_at_five_minutes() -> None:
    with pytest.raises(InvalidIdToken, match="exp"):
        validate(sign(claims(exp=NOW - 600)), leeway=3600)


def test_a_not_yet_valid_token_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="nbf"):
        validate(sign(claims(nbf=NOW + 600)))


def test_a_token_issued_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="iat"):
        validate(sign(claims(iat=NOW + 600)))


def test_a_v1_token_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="ver"):
        validate(sign(claims(ver="1.0")))


@pytest.mark.parametrize("nonce", ["wrong", hashlib.sha256(b"other").hexdigest(), "flow-nonce"])
def test_a_wrong_nonce_is_refused(nonce: str) -> None:
    with pytest.raises(InvalidIdToken, match="nonce"):
        validate(sign(claims(nonce=nonce)))


def test_a_non_uuid_object_id_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="oid"):
        validate(sign(claims(oid="x' or 1 eq 1")))


def test_garbage_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidIdToken) as refused:
        validate("not.a.token<script>")
    assert "<script>" not in refused.value.description


def test_groups_overage_is_detected_and_no_groups_are_invented() -> None:
    overage = claims(
        groups=None,
        _claim_names={"groups": "src1"},
        _claim_sources={"src1": {"endpoint": "https://graph.windows.net/x/getMemberObjects"}},
    )
    identity = validate(sign(overage))
    assert identity.has_groups_overage and identity.groups is None
    assert validate(sign(claims(groups=None, hasgroups=True))).has_groups_overage


def test_email_comes_from_email_then_an_email_shaped_username() -> None:
    assert email_from_claims(validate(sign(claims()))) == "ada@contoso.example"
    no_email = validate(sign(claims(email=None)))
    assert email_from_claims(no_email) == "ada@contoso.example"
    neither = validate(sign(claims(email=None, preferred_username="ADA-PC\\ada")))
    assert email_from_claims(neither) is None
