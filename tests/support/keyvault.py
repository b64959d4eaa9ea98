"""The Key Vault stand-in over HTTPS, the CA bundle that makes it trusted, and
SecretStores wired to it.

- `local_ca_bundle` (session, autouse): REQUESTS_CA_BUNDLE = system CAs + local CA.
- `keyvault_server` (session): one stand-in on a free port for the whole run.
- `fake_keyvault`: that stand-in, emptied and healthy for each test.
- `private_keyvault`: a stand-in of its own on a new port, for fault tests and
  for a fresh bearer challenge (the SDK caches the challenge per host for the
  whole process).
- `new_secret_store`: builds SecretStores (offline credential) on a stand-in
  and closes them after the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.fake_keyvault import FakeKeyVault
from devtools.localca import ensure_local_ca
from shared.settings import Settings
from shared.store.secrets import SecretStore

SecretStoreFactory = Callable[..., SecretStore]


def offline_settings(vault: FakeKeyVault, **extra: str) -> Settings:
    """Settings for a stand-in vault, parsed like the environment would be."""
    return Settings.from_env(
        {
            "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
            "KEY_VAULT_URI": vault.base_url,
            "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "AZURE_CREDENTIAL_MODE": "offline",
            **extra,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def local_ca_bundle() -> Iterator[str]:
    """Every outbound HTTPS call trusts the system CAs plus the local stand-ins' CA.

    `requests` lets REQUESTS_CA_BUNDLE override a session's `verify`, and this
    machine presets it, so the tests set it rather than fight it.
    """
    bundle = str(ensure_local_ca().bundle)
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = bundle
    yield bundle
    if previous is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = previous


@pytest.fixture(scope="session")
def keyvault_server() -> Iterator[FakeKeyVault]:
    with FakeKeyVault().serve() as vault:
        yield vault


@pytest.fixture
def fake_keyvault(keyvault_server: FakeKeyVault) -> Iterator[FakeKeyVault]:
    """The session's stand-in, emptied and healthy for each test."""
    keyvault_server.reset()
    yield keyvault_server
    keyvault_server.reset()


@pytest.fixture
def private_keyvault() -> Iterator[FakeKeyVault]:
    """A stand-in on a new port: the SDK caches the challenge per host for the process."""
    with FakeKeyVault().serve() as vault:
        yield vault


@pytest.fixture
def new_secret_store() -> Iterator[SecretStoreFactory]:
    """`new_secret_store(vault, **client_options)`: a SecretStore on that stand-in."""
    stores: list[SecretStore] = []

    def build(vault: FakeKeyVault, **options: Any) -> SecretStore:
        store = SecretStore.from_settings(offline_settings(vault), **options)
        stores.append(store)
        return store

    yield build
    for store in stores:
        store.close()
