"""Refresh-token families in Table Storage (the RefreshTokenStore of shared.sessions).

One partition per tenant. `tok:{sha256}` rows are the tokens (only hashes are
stored); `fam:{family_id}` rows carry the family's owner, its Entra session
and whether it is revoked, so revoking a family is one write however many
tokens it has. Rotation marks the old token used and inserts its successor in
one transaction, conditional on the old token's etag.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shared.sessions import RefreshConflict, RefreshRecord
from shared.store.tables import Op, Row, TableStore, TransactionFailed

TABLE = "refreshtokens"


def _token_key(token_hash: str) -> str:
    return f"tok:{token_hash}"


def _family_key(family_id: str) -> str:
    return f"fam:{family_id}"


@dataclass
class RefreshTokenTable:
    tables: TableStore

    def create_family(self, record: RefreshRecord) -> None:
        family = {
            "PartitionKey": record.tenant,
            "RowKey": _family_key(record.family_id),
            "user_id": record.user_id,
            "entra_sid": record.entra_sid or "",
            "revoked": False,
            "expires_at": record.expires_at,
        }
        self.tables.transact(TABLE, [Op("create", family), Op("create", _token_entity(record))])

    def get(self, tenant: str, token_hash: str) -> RefreshRecord | None:
        row = self.tables.get(TABLE, tenant, _token_key(token_hash))
        if row is None:
            return None
        record = _record(row)
        family = self.tables.get(TABLE, tenant, _family_key(record.family_id))
        if family is None or family.data.get("revoked") is True:
            return replace(record, revoked=True)
        return record

    def mark_used_and_insert_next(self, used: RefreshRecord, successor: RefreshRecord) -> None:
        row = self.tables.get(TABLE, used.tenant, _token_key(used.token_hash))
        if row is None or row.data.get("used") is True:
            raise RefreshConflict()
        try:
            self.tables.transact(
                TABLE,
                [
                    Op("update", _token_entity(replace(used, used=True)), etag=row.etag),
                    Op("create", _token_entity(successor)),
                ],
            )
        except TransactionFailed as failure:
            raise RefreshConflict() from failure

    def revoke_family(self, tenant: str, family_id: str) -> None:
        row = self.tables.get(TABLE, tenant, _family_key(family_id))
        if row is not None and row.data.get("revoked") is not True:
            self.tables.upsert(TABLE, {**row.data, "revoked": True})

    def revoke_user(self, tenant: str, user_id: str) -> None:
        self._revoke_where(tenant, "user_id", user_id)

    def revoke_entra_session(self, tenant: str, entra_sid: str) -> None:
        self._revoke_where(tenant, "entra_sid", entra_sid)

    def _revoke_where(self, tenant: str, field: str, value: str) -> None:
        # Filtered here, not in an OData filter: the value never becomes query text.
        for row in self.tables.scan_partition(TABLE, partition_key=tenant, row_key_prefix="fam:"):
            if value and row.data.get(field) == value and row.data.get("revoked") is not True:
                self.tables.upsert(TABLE, {**row.data, "revoked": True})


def _token_entity(record: RefreshRecord) -> dict[str, Any]:
    return {
        "PartitionKey": record.tenant,
        "RowKey": _token_key(record.token_hash),
        "family_id": record.family_id,
        "user_id": record.user_id,
        "issued_at": record.issued_at,
        "expires_at": record.expires_at,
        "idle_expires_at": record.idle_expires_at,
        "used": record.used,
        "entra_sid": record.entra_sid or "",
    }


def _record(row: Row) -> RefreshRecord:
    data = row.data
    return RefreshRecord(
        family_id=str(data["family_id"]),
        user_id=str(data["user_id"]),
        tenant=row.partition_key,
        token_hash=row.row_key.removeprefix("tok:"),
        issued_at=float(data["issued_at"]),
        expires_at=float(data["expires_at"]),
        idle_expires_at=float(data["idle_expires_at"]),
        used=bool(data.get("used", False)),
        entra_sid=str(data.get("entra_sid") or "") or None,
    )
