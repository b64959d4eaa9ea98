"""Housekeeping: rows that only ever expire are deleted once they have.

Table Storage has no TTL. Reads already treat an expired row as absent
(`shared.store.tables`), so this is about space and scan time, not
correctness: auth transactions that were never completed (anyone can start
one), and sessions with their Entra-sid index rows past their 30-day lifetime.
Users and audit events carry no expiry and are never touched; in the users
table only each tenant's session ranges are read, never its users or its log.
"""

from __future__ import annotations

import logging
from collections import Counter

from shared.errors import SsoUnavailable
from shared.store import flows, tenant_partition
from shared.store.configs import ConfigStore
from shared.store.tables import TableStore

log = logging.getLogger("entrabridge.housekeeping")

# RowKey ranges of the tenant partition whose rows carry `ExpiresAt`.
SESSION_RANGES = ("session:", "esid:")


def purge_expired(
    tables: TableStore, configs: ConfigStore, *, limit_per_range: int = 5000
) -> dict[str, int]:
    """Delete expired rows (at most `limit_per_range` per range per run, so a run stays
    short; the next takes the rest). How many went, by table. A range that fails is
    logged and skipped: the others still run."""
    removed: Counter[str] = Counter({flows.TABLE: 0, tenant_partition.TABLE: 0})
    ranges: list[tuple[str, str | None, str | None]] = [(flows.TABLE, None, None)]
    try:
        slugs = configs.slugs()
    except SsoUnavailable:
        log.warning("expired rows: the tenant list could not be read")
        slugs = []
    ranges += [
        (tenant_partition.TABLE, slug, prefix) for slug in slugs for prefix in SESSION_RANGES
    ]
    for table, partition, prefix in ranges:
        try:
            removed[table] += tables.purge_expired(
                table, partition_key=partition, row_key_prefix=prefix, limit=limit_per_range
            )
        except SsoUnavailable:
            log.warning(
                "expired rows: %s %s%s could not be purged", table, partition or "", prefix or ""
            )
    log.info("expired rows deleted: %s", dict(removed))
    return dict(removed)
