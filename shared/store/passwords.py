"""Password users' rows in the tenant's partition (shared.store.tenant_partition):

- `password:{user_id}`: the argon2id hash (never on the user row, so no read of
  users, the admin API's included, ever carries it) and the generation of links
  that may still set it: setting a password moves it on, so every other link
  of that user, an older reset mail or an unused invite, dies with that write;
- `pwreset:{user_id}`: a reset mail went out lately (expires after 5 minutes);
- `pwlink:{sha256 of the token}`: an invite or reset link, single use (its
  deletion, conditional on the etag read, is part of the transaction that sets
  the password) and expiring (72 h for an invite, 1 h for a reset). Only the
  hash of a token is stored: a leaked table reveals no working link.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from shared.store.rows import EXPIRES_AT, EntityExists, EtagMismatch, Op, Tables
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
    generation: int = 0  # the password row's generation when the link was made


@dataclass(frozen=True)
class PasswordRow:
    """A user's password row as read: its hash, its link generation and its etag
    (None when the user has no password yet)."""

    hash: str | None
    generation: int
    etag: str | None


def _generation(value: object) -> int:
    # Rows and links written before generations existed count as generation 0.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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
        self,
        tenant: str,
        user_id: str,
        token: str,
        purpose: Purpose,
        now: dt.datetime,
        *,
        generation: int = 0,
    ) -> Op:
        """The row of a new link, for the caller's transaction; `generation` is the
        user's password row's (`password_row`), 0 for a user without a password."""
        return Op(
            "create",
            {
                "PartitionKey": tenant,
                "RowKey": _link_key(token),
                "user_id": user_id,
                "purpose": purpose,
                "generation": generation,
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
            tenant,
            str(row.data.get("user_id", "")),
            purpose,
            row.row_key,
            row.etag,
            _generation(row.data.get("generation")),
        )

    def password_row(self, tenant: str, user_id: str) -> PasswordRow:
        row = self.tables.get(TABLE, tenant, _password_key(user_id))
        if row is None:
            return PasswordRow(hash=None, generation=0, etag=None)
        value = row.data.get("hash")
        return PasswordRow(
            hash=value if isinstance(value, str) else None,
            generation=_generation(row.data.get("generation")),
            etag=row.etag,
        )

    def set_ops(
        self, tenant: str, user_id: str, encoded: str, *, link: PasswordLink, current: PasswordRow
    ) -> list[Op] | None:
        """The new hash with the next link generation, and the link used up, each only
        if still as read; None when the link is of an older generation (a password
        was set since it was made, so it may no longer set one)."""
        if link.generation != current.generation:
            return None
        entity = {
            "PartitionKey": tenant,
            "RowKey": _password_key(user_id),
            "hash": encoded,
            "generation": current.generation + 1,
        }
        if current.etag is None:
            password = Op("create", entity)
        else:
            password = Op("update", entity, etag=current.etag)
        return [
            password,
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

    def rehash(self, tenant: str, user_id: str, encoded: str, *, current: PasswordRow) -> None:
        """A stronger hash of the same password (its parameters changed), only if the
        row is still as read: a password set meanwhile must not be overwritten with
        the old one. The link generation stays (a rehash is no new password)."""
        if current.etag is None:
            return
        entity = {
            "PartitionKey": tenant,
            "RowKey": _password_key(user_id),
            "hash": encoded,
            "generation": current.generation,
        }
        # Changed meanwhile: the next sign-in rehashes what is there then.
        with contextlib.suppress(EtagMismatch):
            self.tables.update(TABLE, entity, etag=current.etag)
