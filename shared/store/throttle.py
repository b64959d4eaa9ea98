"""Shared per-minute counts of sign-in starts (shared.signin.throttle), in the tenant's
partition: `throttle:{window start}:{client key}` with the count, expiring (and
purged by housekeeping) after two windows. Only a hash of the client IP is kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.errors import SsoUnavailable
from shared.store.rows import EXPIRES_AT, EntityExists, EtagMismatch, Tables
from shared.store.tenant_partition import TABLE

PREFIX = "throttle:"
_ATTEMPTS = 5


@dataclass
class ThrottleCounts:
    tables: Tables
    window: int = 60
    prefix: str = PREFIX  # another count's own range under `throttle:`

    def count(self, tenant: str, client: str, window_start: int) -> int:
        row = self.tables.get(TABLE, tenant, f"{self.prefix}{window_start}:{client}")
        return int(row.data.get("count") or 0) if row else 0

    def add(self, tenant: str, client: str, window_start: int, count: int) -> int:
        key = f"{self.prefix}{window_start}:{client}"
        expires = dt.datetime.fromtimestamp(window_start + 2 * self.window, dt.UTC)
        for _ in range(_ATTEMPTS):
            row = self.tables.get(TABLE, tenant, key)
            total = (int(row.data.get("count") or 0) if row else 0) + count
            entity = {"PartitionKey": tenant, "RowKey": key, "count": total, EXPIRES_AT: expires}
            try:
                if row is None:
                    self.tables.insert(TABLE, entity)
                else:
                    self.tables.update(TABLE, entity, etag=row.etag)
                return total
            except (EntityExists, EtagMismatch):
                continue  # another instance added meanwhile: read again
        raise SsoUnavailable("The sign-in count kept changing.")
