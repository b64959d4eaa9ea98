"""The `profilemappings` table: one row per (group, profile) of a tenant.

An index of the mappings in the tenant's config row (which sign-in reads).
`sync` makes a tenant's rows equal a mapping set by diffing against what is
stored, so a sync that failed halfway is repaired by the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import SsoUnavailable
from shared.store.rows import MAX_TRANSACTION_OPERATIONS, Op, Tables, TransactionFailed
from shared.tenants.mappings import mapping_rows, mappings_from_rows
from shared.tenants.model import ProfileMapping

TABLE = "profilemappings"
_ATTEMPTS = 3


@dataclass
class ProfileMappingTable:
    tables: Tables

    def list(self, tenant: str) -> tuple[ProfileMapping, ...]:
        return mappings_from_rows(
            row.data for row in self.tables.scan_partition(TABLE, partition_key=tenant)
        )

    def sync(self, tenant: str, mappings: Iterable[ProfileMapping]) -> None:
        wanted_mappings = tuple(mappings)
        for _ in range(_ATTEMPTS):
            try:
                self._sync_once(tenant, wanted_mappings)
                return
            except TransactionFailed:
                # Another writer synced meanwhile (a row to delete was gone): diff again.
                continue
        raise SsoUnavailable("The profile mappings kept changing; please retry.")

    def _sync_once(self, tenant: str, mappings: Iterable[ProfileMapping]) -> None:
        wanted = {row["RowKey"]: row for row in mapping_rows(tenant, mappings)}
        stored = {row.row_key for row in self.tables.scan_partition(TABLE, partition_key=tenant)}
        operations = [Op("upsert", row) for key, row in wanted.items() if key not in stored]
        operations += [
            Op("delete", {"PartitionKey": tenant, "RowKey": key})
            for key in sorted(stored - set(wanted))
        ]
        for start in range(0, len(operations), MAX_TRANSACTION_OPERATIONS):
            self.tables.transact(TABLE, operations[start : start + MAX_TRANSACTION_OPERATIONS])
