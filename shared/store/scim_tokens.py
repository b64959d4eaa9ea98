"""A tenant's SCIM bearer token, in its partition (shared.store.tenant_partition):
the row `scimtoken` holds the SHA-256 of the token (never the token), when it was
made and by whom. One token per tenant: making one replaces the row, so the old
token stops working at once; revoking deletes it.

The token is 256 random bits, so a plain hash is enough (no salt or slow hash:
nothing can be guessed), and a leaked table gives no working token.

A token found good is remembered for 30 seconds by this instance (as tenant
configurations are, shared.store.configs), so Entra's bursts cost no read for
it: a new or revoked token takes effect at once on the instance that made the
change, and within 30 s on every other. A wrong token is always read for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.store.rows import Op, Tables
from shared.store.tenant_partition import TABLE

_ROW_KEY = "scimtoken"
TOKEN_PREFIX = "ebscim_"  # noqa: S105 (a prefix that lets secret scanners spot a leaked token)
_MAX_TOKEN = 256
REMEMBER_SECONDS = 30.0


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
    monotonic: Callable[[], float] = time.monotonic
    _good: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Moves on with every change made here: a read that began before a change must
    # not remember what it read after it.
    _generation: int = field(default=0, repr=False)

    def replace_op(self, tenant: str, token: str, *, now: dt.datetime, actor: str) -> Op:
        """The row of a new token (replacing any earlier one), for a transaction; call
        `forget` once it is written."""
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
        try:
            return self.tables.delete(TABLE, tenant, _ROW_KEY)
        finally:
            self.forget(tenant)  # also what a check that read the row meanwhile kept

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
        digest, now = _digest(token), self.monotonic()
        with self._lock:
            remembered, generation = self._good.get(tenant), self._generation
        fresh = remembered is not None and remembered[1] > now
        if fresh and remembered is not None and hmac.compare_digest(digest, remembered[0]):
            return True
        row = self.tables.get(TABLE, tenant, _ROW_KEY)
        stored = str(row.data.get("sha256") or "") if row is not None else ""
        # Compared even without a row, so that the answer's timing says nothing.
        good = hmac.compare_digest(digest, stored or "0" * 64) and bool(stored)
        with self._lock:
            if good and generation == self._generation:
                self._good[tenant] = (digest, now + REMEMBER_SECONDS)
            elif remembered is not None and remembered[0] != stored:
                self._good.pop(tenant, None)  # the token changed elsewhere
        return good

    def forget(self, tenant: str) -> None:
        """Drop what this instance remembers of the tenant's token (after a change)."""
        with self._lock:
            self._good.pop(tenant, None)
            self._generation += 1
