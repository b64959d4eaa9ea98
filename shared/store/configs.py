"""Tenants and their OAuth2 configuration in Table Storage, cached per instance.

`tenants` table, PK "tenant", RK slug: display name plus the configuration
(never a secret) and `config_etag`, the opaque version an admin's `If-Match`
names. It changes only when the configuration does (a rename keeps it), and
is empty until the tenant is first configured.

Sign-in reads through a 30-second cache, so a change made through the admin
API reaches every instance within 30 s, and the instance that made it at once
(`forget`). The `profilemappings` rows follow every configuration write.

The cache is bounded: at most `max_entries` tenants (least recently used go
first), and slugs that name no tenant are remembered apart, for 10 s and in a
bounded set of their own, so a flood of made-up slugs costs one Table read per
slug per 10 s and never pushes real tenants out.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.errors import SsoUnavailable
from shared.store.mappings import ProfileMappingTable
from shared.store.rows import EntityExists, EtagMismatch, Row, Tables
from shared.store.tenant_rows import (
    SECRET_PENDING,
    SECRET_UNAVAILABLE,
    config_from_entity,
    config_to_entity,
)
from shared.tenants.model import OAuth2Config, default_config, sessions_ended_by

log = logging.getLogger(__name__)

TABLE = "tenants"
PARTITION = "tenant"
CACHE_SECONDS = 30.0
UNKNOWN_SECONDS = 10.0
CACHE_ENTRIES = 2048
_ATTEMPTS = 5


@dataclass(frozen=True)
class TenantRecord:
    slug: str
    display_name: str
    config: OAuth2Config
    etag: str  # the row's (Table Storage) etag: for conditional writes
    config_etag: str | None = None  # the configuration's version: None until configured

    @property
    def configured(self) -> bool:
        return self.config_etag is not None


class _Expiring(OrderedDict[str, tuple[float, "TenantRecord | None"]]):
    """slug -> (expires at, the tenant's row): least recently used first; the caller
    locks."""

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self.max_entries = max_entries

    def fresh(self, key: str, now: float) -> tuple[bool, TenantRecord | None]:
        hit = self.get(key)
        if hit is None or hit[0] <= now:
            return False, None
        self.move_to_end(key)
        return True, hit[1]

    def keep(self, key: str, value: TenantRecord | None, until: float) -> None:
        self[key] = (until, value)
        self.move_to_end(key)
        while len(self) > self.max_entries:
            self.popitem(last=False)


@dataclass
class ConfigStore:
    tables: Tables
    ttl: float = CACHE_SECONDS
    unknown_ttl: float = UNKNOWN_SECONDS
    max_entries: int = CACHE_ENTRIES
    clock: Callable[[], float] = time.monotonic
    # Epoch seconds, for the session cut-offs a configuration write may set.
    wall_clock: Callable[[], float] = time.time
    _known: _Expiring = field(init=False, repr=False)
    _unknown: _Expiring = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Moves on with every `forget` (every write here): a read that began before a
    # write must not put what it read back in the cache after it.
    _generation: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self._known = _Expiring(self.max_entries)
        self._unknown = _Expiring(self.max_entries)

    @property
    def cached_entries(self) -> int:
        """How many slugs this instance remembers (both kinds): bounded by design."""
        with self._lock:
            return len(self._known) + len(self._unknown)

    @property
    def mappings(self) -> ProfileMappingTable:
        return ProfileMappingTable(self.tables)

    def get_config(self, tenant: str) -> OAuth2Config | None:
        """The tenant's configuration; None when the tenant does not exist."""
        record = self.cached_tenant(tenant)
        return record.config if record is not None else None

    def cached_tenant(self, tenant: str) -> TenantRecord | None:
        """The tenant's row through this instance's cache (30 s); None: no such tenant."""
        now = self.clock()
        with self._lock:
            for entries in (self._known, self._unknown):
                found, record = entries.fresh(tenant, now)
                if found:
                    return record
            generation = self._generation
        return self._remember(tenant, self.get_tenant(tenant), now, generation)

    def read_now(self, tenant: str) -> OAuth2Config | None:
        """The configuration as the store holds it now, past this instance's cache
        (a read that began before a write here never caches what it read, but one on
        another instance may have). The cache is refreshed too."""
        with self._lock:
            generation = self._generation
        record = self._remember(tenant, self.get_tenant(tenant), self.clock(), generation)
        return record.config if record is not None else None

    def _remember(
        self, tenant: str, record: TenantRecord | None, now: float, generation: int
    ) -> TenantRecord | None:
        with self._lock:
            if generation != self._generation:
                return record  # a write here since the read began: keep nothing of it
            if record is None:
                self._known.pop(tenant, None)
                self._unknown.keep(tenant, None, now + self.unknown_ttl)
                return None
            self._unknown.pop(tenant, None)
            self._known.keep(tenant, record, now + self.ttl)
        return record

    def get_tenant(self, tenant: str) -> TenantRecord | None:
        row = self.tables.get(TABLE, PARTITION, tenant)
        return _record(row) if row else None

    def put_tenant(self, tenant: str, display_name: str, config: OAuth2Config) -> TenantRecord:
        """Create or replace, configured (the seeding path: demo tenant, tests)."""
        before = self.get_tenant(tenant)
        config = sessions_ended_by(before.config if before else None, config, self.wall_clock())
        try:
            row = self.tables.upsert(TABLE, _entity(tenant, display_name, config, _new_etag()))
            self.mappings.sync(tenant, config.profile_mappings)
        finally:
            self.forget(tenant)  # a write that timed out may still have landed
        return _record(row)

    def create_or_rename(
        self, tenant: str, display_name: str
    ) -> tuple[TenantRecord, Literal["created", "renamed", "unchanged"]]:
        """Create the tenant (unconfigured), or rename it keeping its configuration.

        Returns the record and what happened. A rename keeps `config_etag`: it
        does not make an admin's `If-Match` stale.
        """
        for _ in range(_ATTEMPTS):
            record = self.get_tenant(tenant)
            if record is None:
                try:
                    row = self.tables.insert(
                        TABLE, _entity(tenant, display_name, default_config(), None)
                    )
                except EntityExists:
                    continue
                finally:
                    # This instance may have "no such tenant" cached (or a read of it
                    # in flight): it knows the tenant at once.
                    self.forget(tenant)
                return _record(row), "created"
            if record.display_name == display_name:
                return record, "unchanged"
            entity = _entity(tenant, display_name, record.config, record.config_etag)
            try:
                row = self.tables.update(TABLE, entity, etag=record.etag)
            except EtagMismatch:
                continue
            self.forget(tenant)
            return _record(row), "renamed"
        raise SsoUnavailable("The tenant kept changing; please retry.")

    def replace_config(self, record: TenantRecord, config: OAuth2Config) -> TenantRecord:
        """Write `config` if the row is still the version `record` read, else `EtagMismatch`.

        The configuration gets a new `config_etag`; the tenant's `profilemappings`
        rows are brought in line with it afterwards (they are an index: the
        config row is the truth, and every write re-syncs them from it).
        """
        config = sessions_ended_by(record.config, config, self.wall_clock())
        entity = _entity(record.slug, record.display_name, config, _new_etag())
        try:
            row = self._write_over_markers(record, entity)
        finally:
            self.forget(record.slug)  # also when a write that timed out may have landed
        try:
            self.mappings.sync(record.slug, config.profile_mappings)
        except SsoUnavailable:
            # The change is made (sign-in reads the config row); the index catches up
            # on the next write, so the caller is not told it failed.
            log.warning("tenant %s: profilemappings not synced; next write repairs", record.slug)
        return _record(row)

    def _write_over_markers(self, record: TenantRecord, entity: dict[str, Any]) -> Row:
        try:
            return self.tables.update(TABLE, entity, etag=record.etag)
        except EtagMismatch:
            # Only operational state (the secret marker) may have moved the row while
            # the configuration stayed the version the caller read: write over it.
            fresh = self.get_tenant(record.slug)
            if fresh is None or fresh.config_etag != record.config_etag:
                raise
            # A rename keeps config_etag: keep the name the row has now. A sign-in's
            # proof that the credential works stays too, while the write keeps that
            # credential (the caller's copy of the mark predates it).
            entity["display_name"] = fresh.display_name
            if entity.get("client_secret_version") == (fresh.config.client_secret_version or ""):
                entity[SECRET_PENDING] = fresh.config.client_secret_pending
            return self.tables.update(TABLE, entity, etag=fresh.etag)

    def mark_client_secret(self, tenant: str, *, unavailable: bool) -> bool:
        """Record whether the tenant's client secret was found missing or unreadable
        in Key Vault; writes only on a change (True then), never the configuration."""
        for _ in range(_ATTEMPTS):
            row = self.tables.get(TABLE, PARTITION, tenant)
            if row is None or (row.data.get(SECRET_UNAVAILABLE) is True) == unavailable:
                return False
            entity = {**row.data, SECRET_UNAVAILABLE: unavailable}
            try:
                self.tables.update(TABLE, entity, etag=row.etag)
            except EtagMismatch:
                continue
            self.forget(tenant)
            log.warning(
                "tenant %s: client secret %s",
                tenant,
                "missing or unreadable in Key Vault" if unavailable else "readable again",
            )
            return True
        return False  # it keeps changing: the next check records it

    def mark_client_secret_proven(self, tenant: str, version: str) -> bool:
        """Record that `version`, the tenant's current one, has signed someone in: it is
        no longer pending. Writes only when the row still names that version as
        pending (True then), never the configuration."""
        for _ in range(_ATTEMPTS):
            row = self.tables.get(TABLE, PARTITION, tenant)
            if row is None or str(row.data.get("client_secret_version") or "") != version:
                return False  # rotated since: the new version is for its own sign-ins
            if row.data.get(SECRET_PENDING) is not True:
                # Another instance marked it: the copy cached here still says pending,
                # and every sign-in would read the row again until it expired.
                self.forget(tenant)
                return False
            try:
                self.tables.update(TABLE, {**row.data, SECRET_PENDING: False}, etag=row.etag)
            except EtagMismatch:
                continue
            self.forget(tenant)
            return True
        return False  # it keeps changing: the next sign-in records it

    def configured_tenants(self) -> list[tuple[str, OAuth2Config]]:
        """Every tenant's slug and configuration, read past the cache (the health probe)."""
        return [
            (row.row_key, config_from_entity(row.data))
            for row in self.tables.scan_partition(TABLE, partition_key=PARTITION)
        ]

    def slugs(self) -> list[str]:
        """Every tenant's slug (housekeeping walks the tenants' partitions)."""
        return [row.row_key for row in self.tables.scan_partition(TABLE, partition_key=PARTITION)]

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._known.pop(tenant, None)
            self._unknown.pop(tenant, None)
            self._generation += 1


def _new_etag() -> str:
    return secrets.token_hex(12)


def _entity(
    tenant: str, display_name: str, config: OAuth2Config, config_etag: str | None
) -> dict[str, object]:
    entity: dict[str, object] = {
        "PartitionKey": PARTITION,
        "RowKey": tenant,
        "display_name": display_name,
        "config_etag": config_etag or "",
    }
    entity.update(config_to_entity(config))
    return entity


def _record(row: Row) -> TenantRecord:
    return TenantRecord(
        slug=row.row_key,
        display_name=str(row.data.get("display_name", row.row_key)),
        config=config_from_entity(row.data),
        etag=row.etag,
        config_etag=str(row.data.get("config_etag") or "") or None,
    )
