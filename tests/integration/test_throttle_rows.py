"""The sign-in throttle's shared counts in real Azurite: adds from many threads at once
(each its own conditional write) lose none, and housekeeping deletes a minute's row
once it has expired while the current one stays."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from shared.signin.throttle import client_key
from shared.store.configs import ConfigStore
from shared.store.housekeeping import purge_expired
from shared.store.rows import Tables
from shared.store.throttle import ThrottleCounts
from shared.tenants.model import OAuth2Config

CLIENT = client_key("203.0.113.7")


def counts(tables: Tables, tenant: str) -> dict[str, int]:
    rows = tables.query("users", partition_key=tenant, row_key_prefix="throttle:").rows
    return {row.row_key: int(row.data["count"]) for row in rows}


def test_concurrent_adds_from_several_instances_lose_no_start(any_tables: Tables) -> None:
    shared = ThrottleCounts(any_tables)
    minute = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60
    with ThreadPoolExecutor(4) as pool:
        totals = list(pool.map(lambda _: shared.add("acme", CLIENT, minute, 10), range(4)))
    assert sorted(totals) == [10, 20, 30, 40]  # each add saw the ones before it
    assert counts(any_tables, "acme") == {f"throttle:{minute}:{CLIENT}": 40}


def test_housekeeping_deletes_the_expired_minutes_only(any_tables: Tables) -> None:
    ConfigStore(any_tables).put_tenant("acme", "Acme", OAuth2Config())
    shared = ThrottleCounts(any_tables)
    now = int(dt.datetime.now(dt.UTC).timestamp()) // 60 * 60
    shared.add("acme", CLIENT, now - 180, 10)  # expired a minute ago
    shared.add("acme", CLIENT, now, 10)
    removed = purge_expired(any_tables, ConfigStore(any_tables))
    assert removed["users"] == 1
    # Reads hide expired rows: looked at from an hour earlier, a row left would show.
    any_tables.clock = lambda: dt.datetime.fromtimestamp(now - 3600, dt.UTC)
    assert counts(any_tables, "acme") == {f"throttle:{now}:{CLIENT}": 10}
