"""A tenant's SCIM bearer token, in its partition (shared.store.tenant_partition):
the row `scimtoken` holds the SHA-256 of the token (never the token), when it was
made and by whom. One token per tenant: making one replaces the row, so the old
token stops working at once; revoking deletes it.

The token is 256 random bits, so a plain hash is enough (no salt or slow hash:
nothing can be guessed), and a leaked table gives no working token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.store.rows import Op, Tables
from shared.store.tenant_partition import TABLE

_ROW_KEY = "scimtoken"
TOKEN_PREFIX = "ebscim_"  # noqa: S105 (a prefix that lets secret scanners spot a leaked token)
_MAX_TOKEN = 256


def new_scim_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ScimTokenInfo:
    created_at: dt.datetime
    created_by: str


@dataclass
class ScimTokenStore:
    tables: Tables

    def replace_op(self, tenant: str, token: str, *, now: dt.datetime, actor: str) -> Op:
        """The row of a new token (replacing any earlier one), for a transaction."""
        return Op(
            "upsert",
            {
                "PartitionKey": tenant,
                "RowKey": _ROW_KEY,
                "sha256": _digest(token),
                "created_at": now,
                "created_by": actor,
            },
        )

    def revoke(self, tenant: str) -> bool:
        """Delete the tenant's token; False when it had none."""
        return self.tables.delete(TABLE, tenant, _ROW_KEY)

    def info(self, tenant: str) -> ScimTokenInfo | None:
        row = self.tables.get(TABLE, tenant, _ROW_KEY)
        if row is None:
            return None
        created = row.data.get("created_at")
        return ScimTokenInfo(
            created_at=created if isinstance(created, dt.datetime) else dt.datetime.min,
            created_by=str(row.data.get("created_by") or ""),
        )

    def matches(self, tenant: str, token: str) -> bool:
        """Whether `token` is the tenant's current SCIM token (constant time)."""
        if not token or len(token) > _MAX_TOKEN:
            return False
        row = self.tables.get(TABLE, tenant, _ROW_KEY)
        stored = str(row.data.get("sha256") or "") if row is not None else ""
        # Compared even without a row, so that the answer's timing says nothing.
        return hmac.compare_digest(_digest(token), stored or "0" * 64) and bool(stored)
