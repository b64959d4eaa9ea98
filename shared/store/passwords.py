"""Password users' rows in the tenant's partition (shared.store.tenant_partition):

- `password:{user_id}`: the argon2id hash (never on the user row, so no read of
  users, the admin API's included, ever carries it);
- `pwreset:{user_id}`: a reset mail went out lately (expires after 5 minutes);
- `pwlink:{sha256 of the token}`: an invite or reset link, single use (its
  deletion, conditional on the etag read, is part of the transaction that sets
  the password) and expiring (72 h for an invite, 1 h for a reset). Only the
  hash of a token is stored: a leaked table reveals no working link.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from shared.store.rows import EXPIRES_AT, EntityExists, Op, Tables
from shared.store.tenant_partition import TABLE

Purpose = Literal["invite", "reset"]
LINK_TTL: dict[Purpose, dt.timedelta] = {
    "invite": dt.timedelta(hours=72),
    "reset": dt.timedelta(hours=1),
}
_MAX_TOKEN = 128
RESET_INTERVAL = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class PasswordLink:
    tenant: str
    user_id: str
    purpose: Purpose
    row_key: str
    etag: str


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def _link_key(token: str) -> str:
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return "pwlink:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _password_key(user_id: str) -> str:
    return f"password:{user_id}"


@dataclass
class PasswordStore:
    tables: Tables

    def link_op(
        self, tenant: str, user_id: str, token: str, purpose: Purpose, now: dt.datetime
    ) -> Op:
        """The row of a new link, for the caller's transaction."""
        return Op(
            "create",
            {
                "PartitionKey": tenant,
                "RowKey": _link_key(token),
                "user_id": user_id,
                "purpose": purpose,
                EXPIRES_AT: now + LINK_TTL[purpose],
            },
        )

    def find_link(self, tenant: str, token: str) -> PasswordLink | None:
        """The live link of `token` (None when unknown, used or expired)."""
        if not token or len(token) > _MAX_TOKEN:
            return None
        row = self.tables.get(TABLE, tenant, _link_key(token))
        if row is None or row.data.get("purpose") not in LINK_TTL:
            return None
        purpose: Purpose = "invite" if row.data["purpose"] == "invite" else "reset"
        return PasswordLink(
            tenant, str(row.data.get("user_id", "")), purpose, row.row_key, row.etag
        )

    def password_hash(self, tenant: str, user_id: str) -> str | None:
        row = self.tables.get(TABLE, tenant, _password_key(user_id))
        value = row.data.get("hash") if row is not None else None
        return value if isinstance(value, str) else None

    def set_ops(self, tenant: str, user_id: str, encoded: str, *, link: PasswordLink) -> list[Op]:
        """The new hash, and the link used up (only if it is still the one read)."""
        return [
            Op(
                "upsert",
                {"PartitionKey": tenant, "RowKey": _password_key(user_id), "hash": encoded},
            ),
            Op("delete", {"PartitionKey": tenant, "RowKey": link.row_key}, etag=link.etag),
        ]

    def claim_reset_slot(self, tenant: str, user_id: str, now: dt.datetime) -> bool:
        """At most one reset mail per user per RESET_INTERVAL (no mail bombing through
        "forgot password"); False when one went out lately."""
        try:
            self.tables.insert(
                TABLE,
                {
                    "PartitionKey": tenant,
                    "RowKey": f"pwreset:{user_id}",
                    EXPIRES_AT: now + RESET_INTERVAL,
                },
            )
        except EntityExists:
            return False
        return True

    def rehash(self, tenant: str, user_id: str, encoded: str) -> None:
        """A stronger hash of the same password (its parameters changed)."""
        self.tables.upsert(
            TABLE, {"PartitionKey": tenant, "RowKey": _password_key(user_id), "hash": encoded}
        )
