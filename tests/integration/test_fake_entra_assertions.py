"""The Entra stand-in's check of certificate client assertions (RFC 7523), each way
Entra refuses one: a certificate the app does not have, a bad signature, another
audience, another issuer, an expired assertion, no jti, a jti of another assertion."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.fake_entra.assertions import _thumbprint, verify_assertion
from shared.entra.certificates import new_certificate

ENDPOINT = "https://login.example/tid/oauth2/v2.0/token"
CLIENT = "5257fce2-dacc-52d1-a409-86f3cf38ef0e"


@pytest.fixture(scope="module")
def credential() -> Any:
    return new_certificate(subject="test", now=dt.datetime.now(dt.UTC))


def assertion(credential: Any, *, key: Any = None, **changes: Any) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    cert = x509.load_pem_x509_certificate(credential.certificate_pem.encode())
    start = credential.bundle_pem.index("-----BEGIN CERTIFICATE-----")
    signer: Any = key or load_pem_private_key(credential.bundle_pem[:start].encode(), None)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"aud": ENDPOINT, "iss": CLIENT, "sub": CLIENT, "exp": now + 600, "nbf": now,
              "iat": now, "jti": str(uuid.uuid4())} | changes  # fmt: skip
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"x5t#S256": _thumbprint(cert.public_bytes(Encoding.DER), "sha256")}
    return jwt.encode(claims, signer, algorithm="PS256", headers=headers)


def check(credential: Any, token: str, certificates: tuple[str, ...] | None = None) -> Any:
    return verify_assertion(
        token,
        client_id=CLIENT,
        certificates=certificates if certificates is not None else (credential.certificate_pem,),
        token_endpoint=ENDPOINT,
    )


def test_a_good_assertion_passes_and_may_come_again(credential: Any) -> None:
    token = assertion(credential)
    assert check(credential, token) is None
    assert check(credential, token) is None  # MSAL reuses one until near expiry


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"aud": "https://login.example/other/oauth2/v2.0/token"}, 700027),
        ({"iss": "0f8fad5b-d9cb-469f-a165-70867728950e"}, 700027),
        ({"sub": "0f8fad5b-d9cb-469f-a165-70867728950e"}, 700027),
        ({"exp": int(dt.datetime.now(dt.UTC).timestamp()) - 3600}, 700024),
        ({"jti": None}, 700027),
    ],
)
def test_each_bad_claim_is_refused(credential: Any, changes: dict[str, Any], code: int) -> None:
    refused = check(credential, assertion(credential, **changes))
    assert refused is not None and refused.code == code and refused.status == 401


def test_a_wrong_key_an_unknown_certificate_and_a_stolen_jti_are_refused(credential: Any) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert check(credential, assertion(credential, key=other_key)).code == 700027
    assert check(credential, assertion(credential), certificates=()).code == 700027
    jti = str(uuid.uuid4())
    assert check(credential, assertion(credential, jti=jti)) is None
    assert check(credential, assertion(credential, jti=jti, nbf=None)).code == 700027
