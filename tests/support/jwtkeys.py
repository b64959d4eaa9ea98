"""RSA keys, JWKS documents and Entra-shaped ID tokens for unit tests.

Pure helpers (importable from any test) plus fixtures:
- `rsa_key` / `other_rsa_key`: two 2048-bit `TestKey`s, generated once per process.
- `entra_app`: the directory and app registration the tokens are minted for.
- `mint_id_token`: `mint_id_token(**changes) -> str`, an RS256 ID token for
  `entra_app` signed by `rsa_key`, valid at `FIXED_NOW`; see `id_token_claims`.
Keys are generated lazily (RSA generation costs tens of milliseconds), never
at import: this module is loaded as a plugin by every test session.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

FIXED_NOW = 1_800_000_000  # 2027-01-15: a fixed clock for validation tests
ENTRA_HOST = "https://login.microsoftonline.com"
FLOW_NONCE = "raw-flow-nonce-as-msal-keeps-it"


@dataclass(frozen=True)
class TestKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    __test__ = False  # not a pytest test class, despite the name

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public JWK as Entra publishes it (kty, use, kid, n, e, alg)."""
        document: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**document, "kid": self.kid, "use": "sig", "alg": "RS256", **extra}


@functools.cache
def rsa_test_key(kid: str = "test-key-1", bits: int = 2048) -> TestKey:
    """One RSA key per (kid, bits), generated on first use and reused in the process."""
    return TestKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits))


def jwks(*keys: TestKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


def nonce_hash(flow_nonce: str = FLOW_NONCE) -> str:
    """What MSAL sends as `nonce` (and Entra echoes in the token): sha256 hex of the flow's."""
    return hashlib.sha256(flow_nonce.encode()).hexdigest()


@dataclass(frozen=True)
class EntraApp:
    tenant_id: str = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
    client_id: str = "550e8400-e29b-41d4-a716-446655440000"
    issuer_host: str = ENTRA_HOST

    @property
    def issuer(self) -> str:
        return f"{self.issuer_host}/{self.tenant_id}/v2.0"


def id_token_claims(
    app: EntraApp | None = None, *, now: int = FIXED_NOW, **changes: Any
) -> dict[str, Any]:
    """An Entra v2.0 ID token payload; `name=value` replaces a claim, `name=None` drops it."""
    app = app or EntraApp()
    claims: dict[str, Any] = {
        "aud": app.client_id,
        "iss": app.issuer,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "name": "Ada Lovelace",
        "oid": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        "preferred_username": "ada@contoso.example",
        "email": "ada@contoso.example",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": app.tenant_id,
        "ver": "2.0",
        "nonce": nonce_hash(),
        "sid": "00000000-0000-0000-0000-000000000001",
        "uti": "AbCdEfGhIjKlMnOpQrStUv",
        "rh": "0.AAAA",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign_token(
    claims: Mapping[str, Any],
    key: TestKey,
    *,
    kid: str | None = None,
    algorithm: str = "RS256",
    **headers: Any,
) -> str:
    """Sign `claims` with `key` (kid defaults to the key's; `kid=""` leaves it out)."""
    header: dict[str, Any] = {"typ": "JWT", **headers}
    chosen = key.kid if kid is None else kid
    if chosen:
        header["kid"] = chosen
    return jwt.encode(dict(claims), key.private_key, algorithm=algorithm, headers=header)


def unsigned_token(header: Mapping[str, Any], claims: Mapping[str, Any], sig: bytes = b"") -> str:
    """A compact JWS with any header and signature bytes, for tokens PyJWT will not make."""
    return ".".join(
        _b64(part)
        for part in (json.dumps(dict(header)).encode(), json.dumps(dict(claims)).encode(), sig)
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def rsa_key() -> TestKey:
    return rsa_test_key("test-key-1")


@pytest.fixture
def other_rsa_key() -> TestKey:
    return rsa_test_key("test-key-2")


@pytest.fixture
def entra_app() -> EntraApp:
    return EntraApp()


@pytest.fixture
def mint_id_token(rsa_key: TestKey, entra_app: EntraApp) -> Callable[..., str]:
    def mint(**changes: Any) -> str:
        return sign_token(id_token_claims(entra_app, **changes), rsa_key)

    return mint
