"""Expired rows are purged in real Azurite; nothing that does not expire is touched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import azure.functions as func
import pytest

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from shared.sessions.refresh import start_family
from shared.settings import Settings, SettingsError
from shared.signin.transaction import FLOW_TTL, AuthTransaction
from shared.store.audit import AuditStore
from shared.store.configs import ConfigStore
from shared.store.flows import FlowStore
from shared.store.housekeeping import delete_batch, delete_rows, purge_expired, purge_old_audit
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.rows import Op, Row, Tables
from shared.store.tables import TableStore
from shared.tenants.model import OAuth2Config
from tests.support.system import installed_services, make_settings

USER = "7c1f2a9e-0b3d-4e5f-8a6b-9c0d1e2f3a4b"


class PastDueTimer(func.TimerRequest):
    @property
    def past_due(self) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def flow(tenant: str, state: str, now: dt.datetime) -> AuthTransaction:
    return AuthTransaction(
        tenant=tenant,
        state=state,
        msal_flow={"state": state},
        mode="redirect",
        return_to="/",
        browser_binding=None,
        created_at=now,
        expires_at=now + FLOW_TTL,
    )


def keys(tables: Tables, table: str, partition: str) -> list[str]:
    return [row.row_key for row in tables.query(table, partition_key=partition, limit=1000).rows]


def test_expired_flows_sessions_and_their_index_go_users_and_audit_stay(
    any_tables: Tables,
) -> None:
    clock = Clock()
    start = clock.now
    tables = any_tables
    tables.clock = clock
    now = start.timestamp()
    configs = ConfigStore(tables)
    for tenant in ("acme", "globex"):
        configs.put_tenant(tenant, tenant.title(), OAuth2Config())
    flows = FlowStore(tables)
    for tenant in ("acme", "globex"):  # every partition, not just one
        flows.save(flow(tenant, f"old-{tenant}", clock.now))
    sessions = RefreshTokenTable(tables)
    old, _ = start_family(user_id=USER, tenant="acme", now=now - 31 * 86400, entra_sid="s1")
    live, _ = start_family(user_id=USER, tenant="acme", now=now, entra_sid="s2")
    sessions.create(old)
    sessions.create(live)
    tables.insert("users", {"PartitionKey": "acme", "RowKey": f"user:{USER}", "email": "a@b"})
    AuditStore(tables, clock=clock).record("acme", "sign_in", actor=USER)

    clock.now += dt.timedelta(minutes=11)  # the flows are past their 10 minutes
    flows.save(flow("acme", "fresh", clock.now))
    removed = purge_expired(tables, configs)

    assert removed == {"authflows": 2, "users": 2}  # the old session and its index row
    # Reads hide expired rows: looked at from two days earlier, every row that was
    # not deleted would show.
    clock.now = start - dt.timedelta(days=2)
    assert keys(tables, "authflows", "acme") == ["fresh"]
    assert keys(tables, "authflows", "globex") == []
    left = keys(tables, "users", "acme")
    assert f"user:{USER}" in left
    assert any(key.startswith("audit:") for key in left)
    assert [key for key in left if key.startswith(("session:", "esid:"))] == [
        f"esid:s2:{USER}:{live.family_id}",
        f"session:{USER}:{live.family_id}",
    ]
    clock.now = start + dt.timedelta(minutes=11)
    assert purge_expired(tables, configs) == {"authflows": 0, "users": 0}


def test_a_run_stops_at_its_limit_and_the_next_takes_the_rest(any_tables: Tables) -> None:
    clock = Clock()
    tables = any_tables
    tables.clock = clock
    flows = FlowStore(tables)
    for index in range(5):
        flows.save(flow("acme", f"s{index}", clock.now))
    clock.now += dt.timedelta(minutes=11)
    configs = ConfigStore(tables)
    assert purge_expired(tables, configs, limit_per_range=3)["authflows"] == 3
    assert purge_expired(tables, configs, limit_per_range=3)["authflows"] == 2


def test_the_timer_function_is_registered_every_15_minutes_and_purges(
    azurite: Azurite, fake_keyvault: FakeKeyVault, request: pytest.FixtureRequest
) -> None:
    # The Functions host's scheduler cannot run here (no Core Tools); the registered
    # function is called as the host would call it when the schedule fires.
    from devtools.funchost import registered_functions
    from function_app import app

    (timer,) = [
        function
        for function in registered_functions(app)
        if getattr(function.get_trigger(), "get_binding_name", lambda: None)() == "timerTrigger"
    ]
    binding = timer.get_trigger()
    assert binding is not None
    trigger = binding.get_dict_repr()
    assert trigger["schedule"] == "0 */15 * * * *" and trigger["runOnStartup"] is False
    with installed_services(make_settings(azurite, fake_keyvault), azurite, request) as services:
        long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        services.tables.insert(
            "authflows", {"PartitionKey": "acme", "RowKey": "abandoned", "ExpiresAt": long_ago}
        )
        services.configs.put_tenant("acme", "Acme", OAuth2Config())
        AuditStore(services.tables, clock=lambda: long_ago).record("acme", "sign_in", actor="x")
        AuditStore(services.tables).record("acme", "sign_in", actor="recent")
        timer.get_user_function()(PastDueTimer())
        assert keys(services.tables, "authflows", "acme") == []
        events, _ = services.audit.list("acme", limit=10, cursor=None)
        assert [e["actor"] for e in events] == ["recent"]  # 400 days by default


def test_a_range_that_fails_is_skipped_and_the_others_still_run(
    table_store: TableStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Storage failing for one range only cannot be made to happen in Azurite: the
    # adapter's purge is made to fail for the users table, the real one runs for
    # the auth transactions.
    from shared.errors import SsoUnavailable

    clock = Clock()
    table_store.clock = clock
    configs = ConfigStore(table_store)
    configs.put_tenant("acme", "Acme", OAuth2Config())
    FlowStore(table_store).save(flow("acme", "old", clock.now))
    clock.now += dt.timedelta(minutes=11)
    real = TableStore.find_keys

    def failing_for_users(self: TableStore, table: str, **options: Any) -> Iterator[Row]:
        if table == "users":
            raise SsoUnavailable("Table Storage could not be reached or failed the request.")
        return real(self, table, **options)

    monkeypatch.setattr(TableStore, "find_keys", failing_for_users)
    assert purge_expired(table_store, configs) == {"authflows": 1, "users": 0}


def test_audit_events_past_their_retention_go_and_the_rest_stay(any_tables: Tables) -> None:
    tables = any_tables
    configs = ConfigStore(tables)
    for tenant in ("acme", "globex"):
        configs.put_tenant(tenant, tenant.title(), OAuth2Config())
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    ages = {"401 days": 401, "400 days and a minute": 400, "399 days": 399, "today": 0}
    for tenant in ("acme", "globex"):
        for label, days in ages.items():
            at = now - dt.timedelta(days=days, minutes=1 if "minute" in label else 0)
            AuditStore(tables, clock=_fixed(at)).record(tenant, "sign_in", actor=label)
    tables.insert("users", {"PartitionKey": "acme", "RowKey": f"user:{USER}", "email": "a@b"})

    removed = purge_old_audit(tables, configs, retention_days=400, now=now)

    assert removed == 4  # two per tenant
    for tenant in ("acme", "globex"):
        events, _ = AuditStore(tables).list(tenant, limit=100, cursor=None)
        assert [e["actor"] for e in events] == ["today", "399 days"]
    assert f"user:{USER}" in keys(tables, "users", "acme")  # nothing but old events
    assert purge_old_audit(tables, configs, retention_days=400, now=now) == 0


def test_the_audit_retention_setting_is_checked() -> None:
    base = {
        "PUBLIC_BASE_URL": "https://auth.example.com",
        "KEY_VAULT_URI": "https://vault.example.net",
        "TABLES_ENDPOINT": "https://acct.table.core.windows.net",
    }
    assert Settings.from_env(base).audit_retention_days == 400
    assert Settings.from_env(base | {"AUDIT_RETENTION_DAYS": "30"}).audit_retention_days == 30
    for bad in ("0", "-1", "1e3", "forever", "9" * 6000, "36501"):
        with pytest.raises(SettingsError) as refused:
            Settings.from_env(base | {"AUDIT_RETENTION_DAYS": bad})
        assert "AUDIT_RETENTION_DAYS" in str(refused.value)


def _fixed(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment


def test_expired_rows_go_a_hundred_per_transaction_and_a_changed_row_stays(
    any_tables: Tables,
) -> None:
    tables = any_tables
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for tenant in ("acme", "globex"):
        for start in range(0, 150, 50):
            rows = [
                {"PartitionKey": tenant, "RowKey": f"s{n:03d}", "ExpiresAt": long_ago}
                for n in range(start, start + 50)
            ]
            tables.transact("authflows", [Op("create", row) for row in rows])

    def purge_flows(limit: int) -> int:
        found = tables.find_keys("authflows", expired_only=True)
        return delete_rows(tables, "authflows", found, limit=limit, budget=60.0)

    assert purge_flows(limit=120) == 120  # a bounded run
    assert purge_flows(limit=5000) == 180
    assert keys(tables, "authflows", "acme") == keys(tables, "authflows", "globex") == []

    # A batch meeting a row rewritten since it was read: the rest still go, that row stays.
    for n in range(3):
        tables.insert("authflows", {"PartitionKey": "acme", "RowKey": f"r{n}", "flow": "x"})
    read = list(tables.scan_partition("authflows", partition_key="acme"))
    tables.upsert("authflows", {"PartitionKey": "acme", "RowKey": "r1", "flow": "newer"})
    assert delete_batch(tables, "authflows", read) == 2
    assert keys(tables, "authflows", "acme") == ["r1"]
