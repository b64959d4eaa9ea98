"""Auth transactions in Table Storage: saved at authorize, consumed once at callback.

Rows live in the tenant's partition under the state, with a 10-minute expiry,
so any instance can finish any sign-in. Consuming is a conditional claim: of
concurrent callbacks with one state exactly one gets the transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.signin.transaction import AuthTransaction
from shared.store.rows import EtagMismatch, Row, Tables, key_part

TABLE = "authflows"


@dataclass
class FlowStore:
    tables: Tables

    def save(self, transaction: AuthTransaction) -> None:
        ttl = transaction.expires_at - transaction.created_at
        self.tables.insert(TABLE, _entity(transaction), ttl=ttl)

    def peek(self, tenant: str, state: str) -> AuthTransaction | None:
        row = self.tables.get(TABLE, tenant, key_part(state))
        return _transaction(row) if row else None

    def consume(
        self,
        tenant: str,
        state: str,
        check: Callable[[AuthTransaction], bool],
        *,
        read: AuthTransaction | None = None,
    ) -> AuthTransaction | None:
        """`read`: the transaction `peek` returned for this state, to spare a second read."""
        if read is not None and read.etag and read.tenant == tenant and read.state == state:
            transaction = read
        else:
            row = self.tables.get(TABLE, tenant, key_part(state))
            if row is None:
                return None
            transaction = _transaction(row)
        if not check(transaction):
            return None
        assert transaction.etag is not None
        try:
            self.tables.delete(TABLE, tenant, key_part(state), etag=transaction.etag)
        except EtagMismatch:
            return None  # another callback with this state got there first
        return transaction


def _entity(transaction: AuthTransaction) -> dict[str, Any]:
    return {
        "PartitionKey": transaction.tenant,
        "RowKey": key_part(transaction.state),
        "state": transaction.state,
        "flow": json.dumps(transaction.msal_flow, separators=(",", ":")),
        "mode": transaction.mode,
        "return_to": transaction.return_to,
        "browser_binding": transaction.browser_binding or "",
        "created_at": transaction.created_at,
    }


def _transaction(row: Row) -> AuthTransaction:
    data = row.data
    created = data["created_at"]
    expires = data.get("ExpiresAt", created)
    return AuthTransaction(
        tenant=row.partition_key,
        state=str(data["state"]),
        msal_flow=json.loads(str(data["flow"])),
        mode="json" if data.get("mode") == "json" else "redirect",
        return_to=str(data.get("return_to", "/")),
        browser_binding=str(data.get("browser_binding") or "") or None,
        created_at=_aware(created),
        expires_at=_aware(expires),
        etag=row.etag,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
