"""Housekeeping: rows that only ever expire are deleted once they have.

Table Storage has no TTL. Reads already treat an expired row as absent
(`shared.store.tables`), so this is about space and scan time, not
correctness: sessions with their Entra-sid index rows past their 30-day
lifetime, the "used" rows of sign-in states past their 10 minutes, the
throttles' counts, password links, the credential watch's daily marks and
abandoned onboarding requests (`EXPIRING_RANGES`, `SHARED_EXPIRING_RANGES`).
(A sign-in start writes nothing: its transaction travels sealed in its state.)
Users carry no expiry and are never touched. Audit events are kept for
AUDIT_RETENTION_DAYS (400 by default) and then deleted, oldest first
(`purge_old_audit`); in the users table only each tenant's session and audit
ranges are read, never its users.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence

from shared.errors import SsoUnavailable
from shared.store import audit, onboarding, tenant_partition
from shared.store.configs import ConfigStore
from shared.store.rows import (
    MAX_TRANSACTION_OPERATIONS,
    EtagMismatch,
    Op,
    Row,
    Tables,
    TransactionFailed,
    prefix_upper_bound,
)

log = logging.getLogger("entrabridge.housekeeping")

# RowKey ranges of the tenant partition whose rows carry `ExpiresAt`: sessions,
# their Entra-sid index, used sign-in states, the throttles' counts, password
# invite and reset links, the reset mail's interval and the credential watch's
# once-a-day marks.
EXPIRING_RANGES = (
    "session:",
    "esid:",
    "stateused:",
    "throttle:",
    "pwlink:",
    "pwreset:",
    "credwatch:",
)
# Ranges of partitions no tenant owns: onboarding requests (their PKCE verifier and
# nonce, 10 minutes); the directories onboarding claimed (`dir:`) never expire.
SHARED_EXPIRING_RANGES = ((onboarding.PARTITION, "onb:"),)


def run(tables: Tables, configs: ConfigStore, *, retention_days: int) -> None:
    """One timer run: expired rows, then audit events past their retention, over one
    read of the tenant list."""
    slugs = tenant_slugs(configs)
    purge_expired(tables, configs, slugs=slugs)
    purge_old_audit(tables, configs, retention_days=retention_days, slugs=slugs)


def tenant_slugs(configs: ConfigStore) -> list[str]:
    """Every tenant's slug; none (logged) when the list cannot be read: the tenants'
    ranges then wait for the next run."""
    try:
        return configs.slugs()
    except SsoUnavailable:
        log.warning("housekeeping: the tenant list could not be read")
        return []


def purge_expired(
    tables: Tables,
    configs: ConfigStore,
    *,
    limit_per_range: int = 5000,
    slugs: Sequence[str] | None = None,
) -> dict[str, int]:
    """Delete expired rows (at most `limit_per_range` per range per run, so a run stays
    short; the next takes the rest). How many went, by table. A range that fails is
    logged and skipped: the others still run. `slugs`: the tenants, when the caller
    has read them already."""
    removed = 0
    if slugs is None:
        slugs = tenant_slugs(configs)
    ranges = [(slug, prefix) for slug in slugs for prefix in EXPIRING_RANGES]
    for partition, prefix in [*ranges, *SHARED_EXPIRING_RANGES]:
        try:
            found = tables.find_keys(
                tenant_partition.TABLE,
                partition_key=partition,
                row_key_from=prefix,
                row_key_before=prefix_upper_bound(prefix),
                expired_only=True,
            )
            removed += delete_rows(
                tables, tenant_partition.TABLE, found, limit=limit_per_range, budget=60.0
            )
        except SsoUnavailable:
            log.warning("expired rows: %s %s could not be purged", partition, prefix)
    log.info("expired rows deleted: %d", removed)
    return {tenant_partition.TABLE: removed}


def purge_old_audit(
    tables: Tables,
    configs: ConfigStore,
    *,
    retention_days: int,
    now: dt.datetime | None = None,
    limit_per_tenant: int = 5000,
    slugs: Sequence[str] | None = None,
) -> int:
    """Delete audit events older than `retention_days`, tenant by tenant (at most
    `limit_per_tenant` each per run); how many went. A tenant that fails is logged
    and skipped. `slugs`: the tenants, when the caller has read them already."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days)
    row_key_from, row_key_before = audit.older_than(cutoff)
    if slugs is None:
        slugs = tenant_slugs(configs)
    removed = 0
    for slug in slugs:
        try:
            found = tables.find_keys(
                tenant_partition.TABLE,
                partition_key=slug,
                row_key_from=row_key_from,
                row_key_before=row_key_before,
            )
            removed += delete_rows(
                tables, tenant_partition.TABLE, found, limit=limit_per_tenant, budget=60.0
            )
        except SsoUnavailable:
            log.warning("old audit events: %s could not be purged", slug)
    log.info("audit events past %d days deleted: %d", retention_days, removed)
    return removed


def delete_rows(
    tables: Tables, table: str, found: Iterable[Row], *, limit: int, budget: float
) -> int:
    """Delete the rows `found` yields, up to `limit` rows and about `budget` seconds,
    100 rows of a partition per entity group transaction (one round trip). Each delete
    is conditional on the etag read, so a row rewritten meanwhile (say, with a new
    expiry) stays. How many went."""
    removed = 0
    deadline = time.monotonic() + budget
    batch: list[Row] = []
    for row in found:
        if removed + len(batch) >= limit or time.monotonic() > deadline:
            break
        if batch and (
            batch[0].partition_key != row.partition_key or len(batch) == MAX_TRANSACTION_OPERATIONS
        ):
            removed += delete_batch(tables, table, batch)
            batch = []
        batch.append(row)
    return removed + delete_batch(tables, table, batch)


def delete_batch(tables: Tables, table: str, rows: list[Row]) -> int:
    """One partition's rows (at most 100) in one transaction; when a row changed or went
    meanwhile, the others one by one. How many went."""
    if not rows:
        return 0
    ops = [
        Op("delete", {"PartitionKey": r.partition_key, "RowKey": r.row_key}, r.etag) for r in rows
    ]
    try:
        tables.transact(table, ops)
        return len(rows)
    except TransactionFailed:
        pass
    removed = 0
    for row in rows:
        try:
            removed += tables.delete(table, row.partition_key, row.row_key, etag=row.etag)
        except EtagMismatch:
            continue  # changed or gone meanwhile: it stays (or is gone already)
    return removed
