"""The vault contract the services rely on, checked on both vaults: the Key Vault
adapter (real SecretClient, HTTPS stand-in) and the unit tests' MemoryVault, so the
in-memory one cannot drift from what the adapter does."""

from __future__ import annotations

import datetime as dt

import pytest

from devtools.fake_keyvault import FakeKeyVault
from shared.secret import Secret
from shared.store.secrets import SecretStore, client_secret_name
from shared.store.secrets import SecretVersion as Version
from tests.support.keyvault import SecretStoreFactory
from tests.support.memory_vault import MemoryVault

Vault = SecretStore | MemoryVault
NAME = client_secret_name("acme")


@pytest.fixture(params=["memory", "keyvault"])
def vault(request: pytest.FixtureRequest) -> Vault:
    if request.param == "memory":
        return MemoryVault()
    factory: SecretStoreFactory = request.getfixturevalue("new_secret_store")
    server: FakeKeyVault = request.getfixturevalue("fake_keyvault")
    return factory(server)


def value_of(vault: Vault, version: str | None = None) -> str | None:
    found = vault.read_now(NAME, version)
    return None if found is None else found.value.reveal()


def test_the_newest_version_is_current_and_older_ones_stay_readable(vault: Vault) -> None:
    first = vault.set_secret(NAME, "one")
    second = vault.set_secret(NAME, Secret("two"), tags={"by": "admin"})
    assert value_of(vault) == "two"
    assert value_of(vault, first.version) == "one"
    current = vault.get_secret(NAME)
    assert current is not None and current.version == second.version
    assert current.tags == {"by": "admin"}
    assert vault.get_secret_version(NAME, first.version) is not None


def test_versions_are_listed_newest_first_without_values(vault: Vault) -> None:
    expiry = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    first = vault.set_secret(NAME, "one")
    second = vault.set_secret(NAME, "two", expires_on=expiry, content_type="text/plain")
    listed = vault.list_versions(NAME)
    assert [v.version for v in listed] == [second.version, first.version]
    assert all(isinstance(v, Version) and v.enabled for v in listed)
    assert (listed[0].expires_on, listed[0].content_type) == (expiry, "text/plain")


def test_an_unknown_secret_or_version_reads_as_none(vault: Vault) -> None:
    assert vault.get_secret(NAME) is None
    assert vault.list_versions(NAME) == []
    vault.set_secret(NAME, "one")
    assert value_of(vault, "0" * 32) is None


def test_names_are_case_insensitive_and_checked(vault: Vault) -> None:
    vault.set_secret(NAME, "one")
    assert vault.read_now(NAME.upper(), None) is not None
    for bad in ("", "under_score", "x" * 128, "dot.ted"):
        with pytest.raises(ValueError):
            vault.set_secret(bad, "value")
