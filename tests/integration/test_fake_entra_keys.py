"""Signing keys: what the JWKS publishes, rotation, and signing before publishing."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.fake_entra import FakeEntra
from tests.support.entra import EntraTestDirectory, sign_in, verified_claims


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def published_kids(entra: FakeEntra, http: requests.Session, tenant_id: str) -> list[str]:
    response = http.get(entra.jwks_uri(tenant_id), timeout=10)
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def test_the_jwks_publishes_several_rsa_keys_shaped_like_entras(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    tid = entra_directory.tenant_id
    keys = http.get(fake_entra.jwks_uri(tid), timeout=10).json()["keys"]

    assert len(keys) >= 2
    for key in keys:
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["e"] == "AQAB"
        assert key["issuer"] == fake_entra.issuer(tid)
        der = base64.b64decode(key["x5c"][0])
        thumbprint = (
            base64.urlsafe_b64encode(hashlib.sha1(der, usedforsecurity=False).digest())
            .rstrip(b"=")
            .decode()
        )
        assert key["kid"] == key["x5t"] == thumbprint
        public = x509.load_der_x509_certificate(der).public_key()
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
        n = int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=="), "big")
        assert public.public_numbers().n == n
    # Every directory gets the same keys, as in Entra.
    other = published_kids(fake_entra, http, entra_directory.other_tenant_id)
    assert other == [k["kid"] for k in keys]


def test_rotation_publishes_a_new_signing_key_and_keeps_the_old_one(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    before = sign_in(fake_entra, http, user)["id_token"]

    new_kid = fake_entra.rotate_keys()

    after = sign_in(fake_entra, http, user)["id_token"]
    kids = published_kids(fake_entra, http, entra_directory.tenant_id)
    assert kid_of(after) == new_kid != kid_of(before)
    assert new_kid in kids and kid_of(before) in kids
    assert verified_claims(fake_entra, http, before)["oid"] == user.oid
    assert verified_claims(fake_entra, http, after)["oid"] == user.oid


def test_rotation_can_drop_the_key_it_replaces(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    old_token = sign_in(fake_entra, http, user)["id_token"]

    new_kid = fake_entra.rotate_keys(drop_old=True)

    kids = published_kids(fake_entra, http, entra_directory.tenant_id)
    assert new_kid in kids and kid_of(old_token) not in kids
    with pytest.raises(StopIteration):  # no published key verifies the old token any more
        verified_claims(fake_entra, http, old_token)


def test_a_key_can_sign_before_it_is_published(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["one_group"]
    kid = fake_entra.keys.add(publish=False, use=True)

    token = sign_in(fake_entra, http, user)["id_token"]

    assert kid_of(token) == kid
    assert kid not in published_kids(fake_entra, http, entra_directory.tenant_id)
    fake_entra.keys.publish(kid)
    assert verified_claims(fake_entra, http, token)["oid"] == user.oid


def test_reset_brings_back_the_initial_keys(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    initial = published_kids(fake_entra, http, entra_directory.tenant_id)
    fake_entra.rotate_keys(drop_old=True)
    fake_entra.reset()
    assert published_kids(fake_entra, http, entra_directory.tenant_id) == initial


def test_the_x5c_certificate_holds_the_key_that_signs(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["one_group"])["id_token"]
    jwks = http.get(fake_entra.jwks_uri(entra_directory.tenant_id), timeout=10).json()
    key = next(k for k in jwks["keys"] if k["kid"] == kid_of(token))
    public = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0])).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    claims = jwt.decode(
        token,
        key=public,
        algorithms=["RS256"],
        audience=entra_directory.client_id,
        issuer=fake_entra.issuer(entra_directory.tenant_id),
    )
    assert claims["tid"] == entra_directory.tenant_id


def test_each_stand_in_has_its_own_keys_and_port(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    make_fake_entra: Callable[..., FakeEntra],
) -> None:
    private = make_fake_entra(signing_keys=3)
    assert private.base_url != fake_entra.base_url
    mine = published_kids(private, http, entra_directory.tenant_id)
    assert len(mine) == 3
    assert not set(mine) & set(published_kids(fake_entra, http, entra_directory.tenant_id))
