"""Tenants and their OAuth2 configuration in Table Storage, cached per instance.

`tenants` table, PK "tenant", RK slug: display name plus the configuration
(never a secret). Sign-in reads through a 30-second cache, so a change made
through the admin API reaches every instance within 30 s, and the instance
that made it at once (`forget`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.store.tables import Row, TableStore
from shared.tenants import OAuth2Config, config_from_entity, config_to_entity

TABLE = "tenants"
PARTITION = "tenant"
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class TenantRecord:
    slug: str
    display_name: str
    config: OAuth2Config
    etag: str


@dataclass
class ConfigStore:
    tables: TableStore
    ttl: float = CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, OAuth2Config | None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get_config(self, tenant: str) -> OAuth2Config | None:
        """The tenant's configuration; None when the tenant does not exist."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(tenant)
            if hit is not None and hit[0] > now:
                return hit[1]
        record = self.get_tenant(tenant)
        config = record.config if record else None
        with self._lock:
            self._cache[tenant] = (now + self.ttl, config)
        return config

    def get_tenant(self, tenant: str) -> TenantRecord | None:
        row = self.tables.get(TABLE, PARTITION, tenant)
        return _record(row) if row else None

    def put_tenant(self, tenant: str, display_name: str, config: OAuth2Config) -> TenantRecord:
        """Create or replace (operators' and seeding path; the admin API adds If-Match)."""
        entity = {"PartitionKey": PARTITION, "RowKey": tenant, "display_name": display_name}
        entity.update(config_to_entity(config))
        row = self.tables.upsert(TABLE, entity)
        self.forget(tenant)
        return _record(row)

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._cache.pop(tenant, None)


def _record(row: Row) -> TenantRecord:
    return TenantRecord(
        slug=row.row_key,
        display_name=str(row.data.get("display_name", row.row_key)),
        config=config_from_entity(row.data),
        etag=row.etag,
    )
