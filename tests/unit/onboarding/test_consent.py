"""The signed consent: the directory onboarding builds in is the one a fully verified
ID token names, never what the query (or the token, unverified) says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.entra.id_tokens import unverified_tenant
from shared.errors import InvalidIdToken
from shared.onboarding.consent import Proof, consenting_directory
from tests.support.jwtkeys import (
    FIXED_NOW,
    EntraApp,
    id_token_claims,
    nonce_hash,
    rsa_test_key,
    sign_token,
)

NORTHWIND = EntraApp(tenant_id="2c6e1f0a-5b4d-4e8f-9a1b-3c5d7e9f1a2b")
OTHER = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"


class Keys:
    """Entra's published keys, by JWKS URI: the same keys for every directory."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_keys(self, jwks_uri: str) -> dict[str, Any]:
        self.asked.append(jwks_uri)
        return {"k1": rsa_test_key("k1").public_key}

    def refresh_for_unknown_kid(self, jwks_uri: str, kid: str) -> dict[str, Any]:
        return self.get_keys(jwks_uri)


def directory_of(raw: str, keys: Keys | None = None, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "keys": keys or Keys(),
        "issuer_host": NORTHWIND.issuer_host,
        "client_id": NORTHWIND.client_id,
        "nonce_hash": nonce_hash(),
        "now": FIXED_NOW,
    }
    return consenting_directory(raw, **(arguments | overrides))


def test_a_verified_token_gives_its_directory_with_that_directorys_keys() -> None:
    keys = Keys()
    raw = sign_token(id_token_claims(NORTHWIND), rsa_test_key("k1"))
    assert directory_of(raw, keys) == NORTHWIND.tenant_id
    assert keys.asked == [f"{NORTHWIND.issuer_host}/{NORTHWIND.tenant_id}/discovery/v2.0/keys"]


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": f"{NORTHWIND.issuer_host}/{OTHER}/v2.0"},  # tid and iss disagree
        {"tid": OTHER},
        {"aud": "another-app"},
        {"nonce": nonce_hash("another request")},
        {"exp": FIXED_NOW - 3600},
        {"tid": None},
    ],
)
def test_a_token_that_does_not_verify_for_the_directory_it_names_proves_nothing(
    changes: dict[str, Any],
) -> None:
    raw = sign_token(id_token_claims(NORTHWIND, **changes), rsa_test_key("k1"))
    with pytest.raises(InvalidIdToken):
        directory_of(raw)


def test_a_token_signed_by_anyone_but_entra_proves_nothing() -> None:
    forged = sign_token(id_token_claims(NORTHWIND), rsa_test_key("attacker"), kid="k1")
    with pytest.raises(InvalidIdToken):
        directory_of(forged)


def test_the_proof_sends_pkce_and_a_hashed_nonce_as_msal_does() -> None:
    proof = Proof.new()
    assert len(proof.code_challenge) == 43 and "=" not in proof.code_challenge
    assert proof.nonce_hash == nonce_hash(proof.nonce)
    assert Proof.new() != proof


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_any_text_names_a_directory_only_if_it_is_a_token_with_a_uuid_tid(raw: str) -> None:
    tenant = unverified_tenant(raw)
    assert tenant is None or (len(tenant) == 36 and tenant == tenant.lower())
