"""The real services, composed by the real container, on in-memory stores.

`unit` (fixture) is a `UnitWorld`: `Services` whose tables are `MemoryTables`,
whose vault is `MemoryVault` and whose Entra is `EntraDouble`; everything else
(sign-in, sessions, admin, the admin authenticator, the key ring, the throttle,
the config cache) is the production code, unchanged. No server, no Azurite: a
service test runs in milliseconds. `unit.tenant(...)` configures a tenant the
way the admin API stores it (config row, client secret in the vault).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.container import Services
from shared.settings import Settings
from shared.signin.results import Completed
from shared.signin.transaction import new_browser_binding
from shared.store.secrets import client_secret_name
from shared.tenants.model import OAuth2Config, ProfileMapping
from tests.support.entra_double import EntraDouble, Person
from tests.support.memory_tables import MemoryTables
from tests.support.memory_vault import MemoryVault

PUBLIC_BASE_URL = "https://auth.example.com"
PLATFORM_KEY = "unit-platform-admin-key-0123456789"
ENTRA_TENANT_ID = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CLIENT_ID = "550e8400-e29b-41d4-a716-446655440000"
CUSTOMER_ID = "46478538-4689-45b5-994c-d12a49c354b0"
IP = "192.0.2.8"


def unit_settings(**extra: str) -> Settings:
    values = {
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        # Never contacted: the container is handed in-memory stores for both.
        "KEY_VAULT_URI": "https://unit-tests.vault.azure.net",
        "TABLES_ENDPOINT": "https://unittests.table.core.windows.net",
        "PLATFORM_ADMIN_KEY": PLATFORM_KEY,
    }
    return Settings.from_env(values | extra)


@dataclass
class UnitClock:
    """Now for every part of a unit world (services, stores, Entra), movable."""

    offset: float = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)


@dataclass
class UnitWorld:
    services: Services
    tables: MemoryTables
    vault: MemoryVault
    entra: EntraDouble
    clock: UnitClock

    def advance(self, by: dt.timedelta) -> None:
        """Time passes for the whole world at once."""
        self.clock.offset += by.total_seconds()

    def moved_elsewhere(self, config: OAuth2Config, slug: str = "contoso") -> None:
        """Another instance (its own, empty cache) moves the tenant to a new Entra
        directory while this one has `config` cached, which it keeps serving for its
        30 s; a second passes before and after the move."""
        configs = self.services.configs
        assert configs.get_config(slug) == config  # cached here
        elsewhere = replace(configs, tables=self.tables)
        elsewhere.__post_init__()
        self.advance(dt.timedelta(seconds=1))
        elsewhere.put_tenant(slug, slug.title(), replace(config, tenant_id=random_id()))
        self.advance(dt.timedelta(seconds=1))

    def sign_in(self, person: Person, tenant: str = "contoso", *, ip: str = IP) -> Completed:
        """`person` through the whole Microsoft sign-in (a browser's redirect mode); the
        user and their session."""
        cookie, binding = new_browser_binding()
        started = self.services.signin.start(
            tenant, mode="redirect", return_to=None, browser_binding=binding
        )
        state = parse_qs(urlsplit(started.authorization_url).query)["state"][0]
        done = self.services.signin.complete(
            tenant,
            {"code": self.entra.signs_in(person), "state": state},
            spa=False,
            browser_cookie=cookie,
            ip=ip,
        )
        assert isinstance(done, Completed)
        return done

    def tenant(
        self,
        slug: str = "contoso",
        *,
        mappings: dict[str, str] | None = None,
        admin_groups: tuple[str, ...] = (),
        enabled: bool = True,
        client_secret: str = "client-secret-value",
        **config: object,
    ) -> OAuth2Config:
        """A tenant with SSO configured (group id -> profile id `mappings`), its client
        secret stored in the vault; the stored configuration."""
        version = self.vault.set_secret(client_secret_name(slug), client_secret).version
        stored = OAuth2Config(
            enabled=enabled,
            client_id=CLIENT_ID,
            tenant_id=ENTRA_TENANT_ID,
            customer_id=CUSTOMER_ID,
            profile_mappings=tuple(
                ProfileMapping(group_id=g, profile_id=p) for g, p in (mappings or {}).items()
            ),
            admin_group_ids=admin_groups,
            client_secret_set=True,
            client_secret_version=version,
            **config,  # type: ignore[arg-type]
        )
        self.services.configs.put_tenant(slug, slug.title(), stored)
        return stored


def unit_world(**settings: str) -> UnitWorld:
    clock = UnitClock()
    services = Services(unit_settings(**settings), clock=clock.time)
    world = UnitWorld(
        services,
        MemoryTables(clock=clock.utc),
        MemoryVault(clock=clock.utc),
        EntraDouble(clock=clock.time),
        clock,
    )
    services.override("tables", world.tables)
    services.override("secrets", world.vault)
    services.override("entra", world.entra)
    return world


@pytest.fixture
def unit() -> Iterator[UnitWorld]:
    yield unit_world()


def table_calls(unit: UnitWorld, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the Table calls the world makes from now on, in order (a list the
    caller may clear between steps)."""
    calls: list[str] = []
    for name in ("get", "insert", "upsert", "update", "delete", "apply", "query"):
        original = getattr(unit.tables, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(unit.tables, name, counted)
    return calls


def random_id() -> str:
    """A lowercase UUID-shaped id (group, profile or object id)."""
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-8{raw[17:20]}-{raw[20:32]}"
