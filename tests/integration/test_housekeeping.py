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
from shared.signin.transaction import FLOW_TTL
from shared.store import onboarding
from shared.store.audit import AuditStore
from shared.store.configs import ConfigStore
from shared.store.housekeeping import delete_batch, delete_rows, purge_expired, purge_old_audit
from shared.store.onboarding import OnboardingRequest, OnboardingRequests
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.rows import EXPIRES_AT, Op, Row, Tables
from shared.store.tables import TableStore
from shared.store.used_states import UsedStates
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


def used_state(tables: Tables, tenant: str, state: str, now: dt.datetime) -> None:
    """A sign-in state used at `now` (its mark lives as long as the state, plus margin)."""
    UsedStates(tables).burn(tenant, state, now + FLOW_TTL)


def keys(tables: Tables, table: str, partition: str) -> list[str]:
    return [row.row_key for row in tables.query(table, partition_key=partition, limit=1000).rows]


def test_expired_sessions_their_index_and_used_states_go_users_and_audit_stay(
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
    for tenant in ("acme", "globex"):  # every partition, not just one
        used_state(tables, tenant, f"old-{tenant}", clock.now)
    sessions = RefreshTokenTable(tables)
    old, _ = start_family(user_id=USER, tenant="acme", now=now - 31 * 86400, entra_sid="s1")
    live, _ = start_family(user_id=USER, tenant="acme", now=now, entra_sid="s2")
    sessions.create(old)
    sessions.create(live)
    tables.insert("users", {"PartitionKey": "acme", "RowKey": f"user:{USER}", "email": "a@b"})
    AuditStore(tables, clock=clock).record("acme", "sign_in", actor=USER)

    clock.now += dt.timedelta(minutes=16)  # the states are past their 10 minutes + margin
    used_state(tables, "acme", "fresh", clock.now)
    removed = purge_expired(tables, configs)

    # The old session, its index row, and the two old states' marks.
    assert removed == {"users": 4}
    # Reads hide expired rows: looked at from two days earlier, every row that was
    # not deleted would show.
    clock.now = start - dt.timedelta(days=2)
    fresh_mark = UsedStates(tables).row("acme", "fresh", start).entity["RowKey"]
    assert [k for k in keys(tables, "users", "acme") if k.startswith("stateused:")] == [fresh_mark]
    assert keys(tables, "users", "globex") == []
    left = keys(tables, "users", "acme")
    assert f"user:{USER}" in left
    assert any(key.startswith("audit:") for key in left)
    assert [key for key in left if key.startswith(("session:", "esid:"))] == [
        f"esid:s2:{USER}:{live.family_id}",
        f"session:{USER}:{live.family_id}",
    ]
    clock.now = start + dt.timedelta(minutes=16)
    assert purge_expired(tables, configs) == {"users": 0}


def test_old_onboarding_requests_and_credential_watch_marks_go_claims_stay(
    any_tables: Tables,
) -> None:
    # An abandoned onboarding start keeps its PKCE verifier and nonce; the watch writes
    # a mark per tenant per day: both expire, and must not pile up. The directories
    # onboarding claimed never expire.
    clock = Clock()
    start = clock.now
    tables = any_tables
    tables.clock = clock
    configs = ConfigStore(tables)
    configs.put_tenant("acme", "Acme", OAuth2Config())
    requests = OnboardingRequests(tables)
    request = OnboardingRequest(
        tenant="acme", return_to="/", binding_sha256="b", actor="a", expected_directory=None
    )
    requests.create("abandoned", request, now=start)
    assert requests.claim_directory("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "acme") == "acme"
    tables.insert(
        "users",
        {"PartitionKey": "acme", "RowKey": "credwatch:2026-12-01:x", EXPIRES_AT: start},
    )

    clock.now = start + dt.timedelta(days=3)
    requests.create("fresh", request, now=clock.now)
    assert purge_expired(tables, configs) == {"users": 2}

    clock.now = start - dt.timedelta(days=2)  # every row not deleted would show
    assert [k for k in keys(tables, "users", "acme") if k.startswith("credwatch:")] == []
    onboarding_rows = keys(tables, "users", onboarding.PARTITION)
    assert [k.split(":")[0] for k in onboarding_rows] == ["dir", "onb"]
    assert requests.take("fresh") is not None


def test_a_run_stops_at_its_limit_and_the_next_takes_the_rest(any_tables: Tables) -> None:
    clock = Clock()
    tables = any_tables
    tables.clock = clock
    configs = ConfigStore(tables)
    configs.put_tenant("acme", "Acme", OAuth2Config())
    for index in range(5):
        used_state(tables, "acme", f"s{index}", clock.now)
    clock.now += dt.timedelta(minutes=16)
    assert purge_expired(tables, configs, limit_per_range=3)["users"] == 3
    assert purge_expired(tables, configs, limit_per_range=3)["users"] == 2


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
        and function.get_function_name() == "purge_expired_rows"
    ]
    binding = timer.get_trigger()
    assert binding is not None
    trigger = binding.get_dict_repr()
    assert trigger["schedule"] == "0 */15 * * * *" and trigger["runOnStartup"] is False
    with installed_services(make_settings(azurite, fake_keyvault), azurite, request) as services:
        long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        services.configs.put_tenant("acme", "Acme", OAuth2Config())
        mark = UsedStates(services.tables).row("acme", "used-long-ago", long_ago)
        services.tables.insert("users", mark.entity)
        AuditStore(services.tables, clock=lambda: long_ago).record("acme", "sign_in", actor="x")
        AuditStore(services.tables).record("acme", "sign_in", actor="recent")
        timer.get_user_function()(PastDueTimer())
        assert not any(k.startswith("stateused:") for k in keys(services.tables, "users", "acme"))
        events, _ = services.audit.list("acme", limit=10, cursor=None)
        assert [e["actor"] for e in events] == ["recent"]  # 400 days by default


def test_a_range_that_fails_is_skipped_and_the_others_still_run(
    table_store: TableStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Storage failing for one range only cannot be made to happen in Azurite: the
    # adapter's scan is made to fail for one tenant, the real one runs for the other.
    from shared.errors import SsoUnavailable

    clock = Clock()
    table_store.clock = clock
    configs = ConfigStore(table_store)
    for tenant in ("acme", "globex"):
        configs.put_tenant(tenant, tenant.title(), OAuth2Config())
        used_state(table_store, tenant, "old", clock.now)
    clock.now += dt.timedelta(minutes=16)
    real = TableStore.find_keys

    def failing_for_acme(self: TableStore, table: str, **options: Any) -> Iterator[Row]:
        if options.get("partition_key") == "acme":
            raise SsoUnavailable("Table Storage could not be reached or failed the request.")
        return real(self, table, **options)

    monkeypatch.setattr(TableStore, "find_keys", failing_for_acme)
    assert purge_expired(table_store, configs) == {"users": 1}


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
            tables.transact("expiring", [Op("create", row) for row in rows])

    def purge_expiring(limit: int) -> int:
        found = tables.find_keys("expiring", expired_only=True)
        return delete_rows(tables, "expiring", found, limit=limit, budget=60.0)

    assert purge_expiring(limit=120) == 120  # a bounded run
    assert purge_expiring(limit=5000) == 180
    assert keys(tables, "expiring", "acme") == keys(tables, "expiring", "globex") == []

    # A batch meeting a row rewritten since it was read: the rest still go, that row stays.
    for n in range(3):
        tables.insert("expiring", {"PartitionKey": "acme", "RowKey": f"r{n}", "flow": "x"})
    read = list(tables.scan_partition("expiring", partition_key="acme"))
    tables.upsert("expiring", {"PartitionKey": "acme", "RowKey": "r1", "flow": "newer"})
    assert delete_batch(tables, "expiring", read) == 2
    assert keys(tables, "expiring", "acme") == ["r1"]
