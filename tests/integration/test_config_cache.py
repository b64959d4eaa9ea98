"""The per-instance configuration cache is bounded: anonymous requests naming made-up
tenants cannot grow it without limit, cost one Table read per slug per 10 s, and
never push real tenants out. Against Azurite; reads are counted by wrapping the
real store's point read (the cache's whole purpose is to avoid them, and nothing
else tells how many were made)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from devtools.azurite import Azurite
from shared.store.configs import ConfigStore
from shared.store.tables import TableStore
from shared.tenants.model import OAuth2Config
from tests.support.signin import TENANT, SignInSystem

pytestmark = pytest.mark.azurite


class Reads:
    def __init__(self, tables: TableStore) -> None:
        self.slugs: list[str] = []
        original = tables.get

        def counted(table: str, partition_key: str, row_key: str) -> object:
            if table == "tenants":
                self.slugs.append(row_key)
            return original(table, partition_key, row_key)

        tables.get = counted  # type: ignore[method-assign, assignment]


@pytest.fixture
def tables(azurite: Azurite, request: pytest.FixtureRequest) -> Iterator[TableStore]:
    from tests.support.system import tables_prefix_of

    store = TableStore.from_connection_string(
        azurite.connection_string, prefix=tables_prefix_of(request)
    )
    yield store
    store.close()


def test_made_up_slugs_are_bounded_and_read_once_per_window(tables: TableStore) -> None:
    now = [1000.0]
    configs = ConfigStore(tables, max_entries=50, clock=lambda: now[0])
    configs.put_tenant("acme", "Acme", OAuth2Config())
    reads = Reads(tables)
    assert configs.get_config("acme") is not None
    for _ in range(500):
        assert configs.get_config(f"ghost-{secrets.token_hex(6)}") is None
    assert configs.cached_entries <= 100  # 50 known + 50 unknown at most
    reads.slugs.clear()

    assert configs.get_config("acme") is not None  # still cached: the flood did not evict it
    for _ in range(20):
        assert configs.get_config("no-such-tenant") is None
    assert reads.slugs == ["no-such-tenant"]
    now[0] += 11  # past the 10 s an unknown slug is remembered
    assert configs.get_config("no-such-tenant") is None
    assert reads.slugs == ["no-such-tenant", "no-such-tenant"]


def test_a_tenant_created_after_its_slug_was_looked_up_is_found(tables: TableStore) -> None:
    now = [1000.0]
    configs = ConfigStore(tables, clock=lambda: now[0])
    assert configs.get_config("newco") is None
    configs.put_tenant("newco", "NewCo", OAuth2Config())  # this instance: at once
    assert configs.get_config("newco") is not None
    other = ConfigStore(tables, clock=lambda: now[0])  # another instance
    assert other.get_config("later") is None
    ConfigStore(tables).put_tenant("later", "Later", OAuth2Config())
    now[0] += 11
    assert other.get_config("later") is not None  # within the 10 s negative window


def test_a_flood_of_anonymous_status_requests_leaves_a_bounded_cache(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    small = ConfigStore(system.services.tables, max_entries=100)
    system.services.override("configs", small)
    system.services.rebuild("signin", "sessions", "admin")
    with requests.Session() as http:
        for _ in range(1000):
            slug = f"t{secrets.token_hex(8)}"
            answer = http.get(system.url(f"/api/auth/{slug}/status"))
            assert answer.status_code == 404 and answer.json()["error"] == "unknown_tenant"
        assert http.get(system.url(f"/api/auth/{TENANT}/status")).json()["sso_enabled"]
    assert small.cached_entries <= 200
