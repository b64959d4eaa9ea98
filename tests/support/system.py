"""The whole local system for end-to-end tests: settings pointing at Azurite and the
stand-ins, services installed for the app, and function_app served over HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost, load_app
from shared.container import Services, set_services
from shared.settings import Settings


def make_settings(azurite: Azurite, vault: FakeKeyVault, **extra: str) -> Settings:
    values = {
        "PUBLIC_BASE_URL": "https://127.0.0.1:7071",
        "KEY_VAULT_URI": vault.base_url,
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "AZURE_CREDENTIAL_MODE": "offline",
        "PLATFORM_ADMIN_KEY": "test-platform-admin-key-0123456789",
    }
    values.update(extra)
    return Settings.from_env(values)


def tables_prefix_of(request: pytest.FixtureRequest) -> str:
    """The prefix of one test's own tables (a second host process can be pointed at them)."""
    return "t" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


@contextmanager
def installed_services(
    settings: Settings, azurite: Azurite, request: pytest.FixtureRequest
) -> Iterator[Services]:
    """Services for one test, installed for the app: own tables (a prefix derived from
    the test's id keeps tests from seeing each other's rows), removed afterwards."""
    from shared.store.tables import TableStore

    services = Services(settings)
    services.override(
        "tables",
        TableStore.from_connection_string(
            azurite.connection_string, prefix=tables_prefix_of(request)
        ),
    )
    set_services(services)
    try:
        yield services
    finally:
        set_services(None)
        services.tables.close()


@pytest.fixture(scope="session")
def app_host() -> Iterator[FuncHost]:
    host = FuncHost(load_app("function_app:app")).start()
    yield host
    host.stop()


@pytest.fixture
def system(app_host: FuncHost, azurite: Azurite, fake_keyvault: FakeKeyVault) -> Iterator[FuncHost]:
    """function_app served with services wired to this session's Azurite and vault."""
    services = Services(make_settings(azurite, fake_keyvault))
    set_services(services)
    yield app_host
    set_services(None)
