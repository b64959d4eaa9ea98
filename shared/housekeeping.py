"""Housekeeping: rows that only ever expire are deleted once they have.

Table Storage has no TTL. Reads already treat an expired row as absent
(`shared.store.tables`), so this is about space and scan time, not
correctness: auth transactions that were never completed (anyone can start
one), and sessions with their Entra-sid index rows past their 30-day lifetime.
Users and audit events carry no expiry and are never touched.
"""

from __future__ import annotations

import logging

from shared.store import flows, tenant_partition
from shared.store.tables import TableStore

log = logging.getLogger("entrabridge.housekeeping")

# Tables whose rows carry `ExpiresAt`.
EXPIRING_TABLES = (flows.TABLE, tenant_partition.TABLE)


def purge_expired(tables: TableStore, *, limit_per_table: int = 5000) -> dict[str, int]:
    """Delete expired rows (at most `limit_per_table` per table, so a run stays short;
    the next run takes the rest). How many went, by table."""
    removed = {
        table: tables.purge_expired(table, limit=limit_per_table) for table in EXPIRING_TABLES
    }
    log.info("expired rows deleted: %s", removed)
    return removed
