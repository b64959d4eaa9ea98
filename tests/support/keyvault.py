"""The Key Vault stand-in over HTTPS, and the CA bundle that makes it trusted."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devtools.fake_keyvault import FakeKeyVault
from devtools.localca import ensure_local_ca


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
    vault = FakeKeyVault().serve()
    yield vault
    vault.stop()


@pytest.fixture
def fake_keyvault(keyvault_server: FakeKeyVault) -> Iterator[FakeKeyVault]:
    """The session's stand-in, emptied and healthy for each test."""
    keyvault_server.reset()
    yield keyvault_server
    keyvault_server.reset()


@pytest.fixture
def private_keyvault() -> Iterator[FakeKeyVault]:
    """A stand-in on a new port: the SDK caches the challenge per host for the process."""
    vault = FakeKeyVault().serve()
    yield vault
    vault.stop()
