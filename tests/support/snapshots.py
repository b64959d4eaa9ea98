"""What a tenant's user partition holds, to assert that a refusal created or changed
nothing.

The `users` table's partition of a tenant holds everything a sign-in writes: the
user (`user:`), the email index (`email:`), sessions (`session:`), the Entra-sid
index (`esid:`), the audit log (`audit:`) and the marks of used sign-in states
(`stateused:`). A refused sign-in legitimately adds one `audit:` row
(`sign_in_refused`) and spends its state (one `stateused:` mark, which
`used_state_marks` counts), so a snapshot leaves both out; every other row is
kept with its etag and data, so a row written again with the same values (say,
a `last_login_at` bump) still shows as a change.

    before = partition_snapshot(system.services.tables)
    ... the refused sign-in ...
    assert partition_snapshot(system.services.tables) == before

No fixtures here: conftest loads this module as a plugin like every module under
tests/support/, which is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.store.rows import Tables
from shared.store.tenant_partition import TABLE

AUDIT_PREFIX = "audit:"
USED_STATE_PREFIX = "stateused:"


@dataclass(frozen=True)
class StoredRow:
    etag: str
    data: dict[str, Any]


Snapshot = dict[str, StoredRow]  # RowKey -> the row as stored


def partition_snapshot(tables: Tables, tenant: str = "contoso") -> Snapshot:
    """Every live row of the tenant's user partition but the audit log and the marks
    of used states."""
    return {
        row.row_key: StoredRow(etag=row.etag, data=dict(row.data))
        for row in tables.scan_partition(TABLE, partition_key=tenant)
        if not row.row_key.startswith((AUDIT_PREFIX, USED_STATE_PREFIX))
    }


def used_state_marks(tables: Tables, tenant: str = "contoso") -> int:
    """How many sign-in states of the tenant are marked used (and not yet expired)."""
    found = tables.scan_partition(TABLE, partition_key=tenant, row_key_prefix=USED_STATE_PREFIX)
    return sum(1 for _ in found)


def audit_actions(tables: Tables, tenant: str = "contoso") -> list[tuple[str, str | None]]:
    """(action, code) of every audit event of the tenant, newest first."""
    return [
        (str(row.data.get("action")), row.data.get("code") or None)
        for row in tables.scan_partition(TABLE, partition_key=tenant, row_key_prefix=AUDIT_PREFIX)
    ]
