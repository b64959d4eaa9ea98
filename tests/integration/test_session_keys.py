"""The session key ring through the real SecretStore against the HTTPS Key Vault stand-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devtools.fake_keyvault import PAGE_SIZE, FakeKeyVault
from shared.errors import SsoUnavailable
from shared.sessions.access import SessionClaims, issue_access_token, verify_with_key_source
from shared.sessions.keys import (
    CREATED_TAG,
    SESSION_KEY_SECRET,
    SessionKeyRing,
    generate_private_key_pem,
    jwks_document,
)
from shared.settings import Settings
from shared.store.credentials import build_credential
from shared.store.secrets import SecretStore

ISSUER = "http://127.0.0.1:7071"
CLAIMS = SessionClaims(sub="u-1", tenant="acme", sid="f-1", provider="microsoft")
NOW = 1_795_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


StoreFactory = Callable[[], SecretStore]


@pytest.fixture
def new_store(fake_keyvault: FakeKeyVault) -> Iterator[StoreFactory]:
    """One SecretStore per simulated instance, each with its own caches."""
    settings = Settings.from_env(
        {
            "PUBLIC_BASE_URL": ISSUER,
            "KEY_VAULT_URI": fake_keyvault.base_url,
            "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "AZURE_CREDENTIAL_MODE": "offline",
        }
    )
    credential = build_credential(settings)
    stores: list[SecretStore] = []

    def build() -> SecretStore:
        store = SecretStore.from_settings(settings, credential)
        stores.append(store)
        return store

    yield build
    for store in stores:
        store.close()


def test_the_first_use_creates_the_key_in_the_vault_and_every_instance_signs_with_it(
    new_store: StoreFactory, fake_keyvault: FakeKeyVault
) -> None:
    here = SessionKeyRing(new_store())
    there = SessionKeyRing(new_store())
    key = here.current()
    [stored] = fake_keyvault.secrets[SESSION_KEY_SECRET]
    assert key.kid == stored.version
    assert stored.content_type == "application/x-pem-file"
    assert "BEGIN PRIVATE KEY" in stored.value
    assert there.current().kid == key.kid
    assert len(fake_keyvault.secrets[SESSION_KEY_SECRET]) == 1


def test_a_token_signed_on_one_instance_verifies_on_another(new_store: StoreFactory) -> None:
    here = SessionKeyRing(new_store())
    there = SessionKeyRing(new_store())
    raw = issue_access_token(key=here.current(), claims=CLAIMS, issuer=ISSUER, now=NOW)
    claims = verify_with_key_source(raw, source=there, issuer=ISSUER, now=NOW)
    assert (claims.sub, claims.tenant) == ("u-1", "acme")


def test_a_rotation_on_one_instance_is_verified_at_once_on_another(
    new_store: StoreFactory,
) -> None:
    here = SessionKeyRing(new_store())
    there = SessionKeyRing(new_store())
    old = there.current()
    assert here.current().kid == old.kid
    before = issue_access_token(key=old, claims=CLAIMS, issuer=ISSUER, now=NOW)
    new = here.rotate()
    after = issue_access_token(key=new, claims=CLAIMS, issuer=ISSUER, now=NOW)
    # `there` still has the old key set cached; the unknown kid makes it look again.
    assert verify_with_key_source(after, source=there, issuer=ISSUER, now=NOW).sub == "u-1"
    assert verify_with_key_source(before, source=there, issuer=ISSUER, now=NOW).sub == "u-1"
    published = [jwk["kid"] for jwk in jwks_document(there.verification_keys())["keys"]]
    assert published == [new.kid, old.kid]


def test_a_warm_instance_signs_and_verifies_without_calling_the_vault(
    new_store: StoreFactory, fake_keyvault: FakeKeyVault
) -> None:
    ring = SessionKeyRing(new_store())
    ring.current()
    seen = fake_keyvault.requests_seen
    for _ in range(20):
        raw = issue_access_token(key=ring.current(), claims=CLAIMS, issuer=ISSUER, now=NOW)
        verify_with_key_source(raw, source=ring, issuer=ISSUER, now=NOW)
    assert fake_keyvault.requests_seen == seen


def test_the_current_key_is_found_among_many_pages_of_versions(
    new_store: StoreFactory,
) -> None:
    store = new_store()
    kids = [
        store.set_secret(
            SESSION_KEY_SECRET,
            generate_private_key_pem(),
            # What rotate() writes: all these land in the same `created` second.
            tags={CREATED_TAG: f"{1000 + i}.000000"},
        ).version
        for i in range(PAGE_SIZE + 2)
    ]
    # Its clock in the same world as those tags (seconds after 1970).
    fresh = SessionKeyRing(new_store(), wall_clock=lambda: 1200.0)
    assert fresh.current().kid == kids[-1]
    assert list(fresh.verification_keys()) == [kids[-1], kids[-2]]


def test_a_vault_outage_does_not_stop_a_warm_instance(
    new_store: StoreFactory, fake_keyvault: FakeKeyVault
) -> None:
    clock = Clock()
    ring = SessionKeyRing(new_store(), clock=clock)
    key = ring.current()
    fake_keyvault.set_down(True)
    clock.now += 601
    assert ring.current() is key
    assert list(ring.verification_keys()) == [key.kid]


def test_a_vault_outage_on_a_cold_instance_is_sso_unavailable(
    new_store: StoreFactory, fake_keyvault: FakeKeyVault
) -> None:
    fake_keyvault.set_down(True)
    with pytest.raises(SsoUnavailable):
        SessionKeyRing(new_store()).current()
