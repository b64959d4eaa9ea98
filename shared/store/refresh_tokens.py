"""Refresh-token families in Table Storage: one row per family (shared.sessions.refresh).

Rows live in the tenant's partition (shared.store.tenant_partition), keyed by
user and family, so a sign-in's family is written in the sign-in's own
transaction, a refresh is a point read plus a conditional replace, and
revoking a user's sessions reads only theirs. Only token hashes are stored.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any

from shared.errors import SsoUnavailable
from shared.sessions.refresh import RefreshConflict, RefreshFamily, RefreshTokenId
from shared.store.rows import EXPIRES_AT, EtagMismatch, Op, Row, Tables, key_part
from shared.store.tenant_partition import TABLE

_ATTEMPTS = 5


def _family_key(user_id: str, family_id: str) -> str:
    return f"session:{user_id}:{family_id}"


def _sid_prefix(entra_sid: str) -> str:
    # ':' separates the parts of the key, so it is encoded inside the sid as well.
    return f"esid:{key_part(entra_sid).replace(':', '%3A')}:"


@dataclass
class RefreshTokenTable:
    tables: Tables

    def create_ops(self, family: RefreshFamily) -> list[Op]:
        """The rows that start `family`, to be written in the sign-in's transaction."""
        ops = [Op("create", _family_entity(family))]
        if family.entra_sid:
            index = {
                "PartitionKey": family.tenant,
                "RowKey": f"{_sid_prefix(family.entra_sid)}{family.user_id}:{family.family_id}",
                "user_id": family.user_id,
                "family_id": family.family_id,
                EXPIRES_AT: _expiry(family),
            }
            ops.append(Op("create", index))
        return ops

    def create(self, family: RefreshFamily) -> None:
        """Start `family` on its own (a session that is not part of an Entra sign-in)."""
        self.tables.apply(TABLE, self.create_ops(family))

    def get(self, tenant: str, token_id: RefreshTokenId) -> tuple[RefreshFamily, str] | None:
        """The family the token names, with its etag; None if there is none (or it expired)."""
        row = self.tables.get(TABLE, tenant, _family_key(token_id.user_id, token_id.family_id))
        return (_family(row), row.etag) if row is not None else None

    def replace(self, family: RefreshFamily, *, etag: str) -> None:
        """Store the rotated `family` only if the row is still at `etag`; else
        RefreshConflict (another rotation or a revocation came first)."""
        try:
            self.tables.update(TABLE, _family_entity(family), etag=etag)
        except EtagMismatch:
            raise RefreshConflict() from None

    def revoke_family(self, tenant: str, user_id: str, family_id: str) -> bool:
        """Revoke it, re-reading when a rotation lands in between; `SsoUnavailable` if
        the family keeps changing under every attempt (never a 500). True when this
        call ended a live family (False: none, or revoked already)."""
        for _ in range(_ATTEMPTS):
            found = self.get(tenant, RefreshTokenId(user_id=user_id, family_id=family_id))
            if found is None or found[0].revoked:
                return False
            try:
                self.replace(replace(found[0], revoked=True), etag=found[1])
                return True
            except RefreshConflict:
                continue  # rotated meanwhile: read it again and revoke that
        raise SsoUnavailable("The session could not be revoked; please retry.")

    def revoke_user(self, tenant: str, user_id: str) -> None:
        for row in self.tables.scan_partition(
            TABLE, partition_key=tenant, row_key_prefix=_family_key(user_id, "")
        ):
            family = _family(row)
            if not family.revoked:
                self.revoke_family(tenant, family.user_id, family.family_id)

    def revoke_entra_session(self, tenant: str, entra_sid: str) -> int:
        """Every family started by that Entra sign-in session (front-channel logout);
        how many were live."""
        if not entra_sid:
            return 0
        ended = 0
        for row in self.tables.scan_partition(
            TABLE, partition_key=tenant, row_key_prefix=_sid_prefix(entra_sid)
        ):
            user_id, family_id = str(row.data["user_id"]), str(row.data["family_id"])
            ended += self.revoke_family(tenant, user_id, family_id)
        return ended


def _expiry(family: RefreshFamily) -> dt.datetime:
    return dt.datetime.fromtimestamp(family.expires_at, dt.UTC)


def _family_entity(family: RefreshFamily) -> dict[str, Any]:
    return {
        "PartitionKey": family.tenant,
        "RowKey": _family_key(family.user_id, family.family_id),
        "current_hash": family.current_hash,
        "issued_at": family.issued_at,
        "expires_at": family.expires_at,
        "idle_expires_at": family.idle_expires_at,
        "used": json.dumps(list(family.used)),
        "revoked": family.revoked,
        "entra_sid": family.entra_sid or "",
        "directory": family.directory or "",
        "successor": family.successor or "",
        EXPIRES_AT: _expiry(family),
    }


def _family(row: Row) -> RefreshFamily:
    data = row.data
    _, user_id, family_id = row.row_key.split(":", 2)
    return RefreshFamily(
        family_id=family_id,
        user_id=user_id,
        tenant=row.partition_key,
        current_hash=str(data["current_hash"]),
        issued_at=float(data["issued_at"]),
        expires_at=float(data["expires_at"]),
        idle_expires_at=float(data["idle_expires_at"]),
        used=tuple(json.loads(str(data.get("used") or "[]"))),
        revoked=bool(data.get("revoked", False)),
        entra_sid=str(data.get("entra_sid") or "") or None,
        directory=str(data.get("directory") or "") or None,
        successor=str(data.get("successor") or "") or None,
    )
