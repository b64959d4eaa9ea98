"""The password throttle's counts (shared.passwords.throttle) in the tenant's
partition, shared by every instance:

- `throttle:pwacct:{sha256 of the email}`: failures in a row and the lock's end,
  kept a day after the last failure;
- `throttle:pwip:{window start}:{client key}`: failures of one client address in a
  10-minute window (shared.store.throttle.ThrottleCounts with its own prefix).

Both expire (housekeeping purges the `throttle:` range); only hashes of emails and
addresses are in the keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import SsoUnavailable
from shared.passwords.throttle import AccountFailures
from shared.store.rows import EXPIRES_AT, EntityExists, EtagMismatch, Tables
from shared.store.tenant_partition import TABLE
from shared.users import email_key

_KEEP = dt.timedelta(days=1)
_ATTEMPTS = 5


def _account_key(email: str) -> str:
    digest = hashlib.sha256(email_key(email).encode("utf-8", "surrogatepass")).digest()
    return "throttle:pwacct:" + base64.urlsafe_b64encode(digest[:18]).decode("ascii")


@dataclass
class PasswordFailures:
    tables: Tables

    def account(self, tenant: str, email: str) -> AccountFailures:
        row = self.tables.get(TABLE, tenant, _account_key(email))
        if row is None:
            return AccountFailures()
        locked = row.data.get("locked_until")
        return AccountFailures(
            int(row.data.get("failures") or 0),
            locked if isinstance(locked, dt.datetime) else None,
        )

    def change_account(
        self,
        tenant: str,
        email: str,
        change: Callable[[AccountFailures], AccountFailures],
        now: dt.datetime,
    ) -> AccountFailures:
        """The account's failures rewritten by `change`, as they are when written (re-read
        when another instance wrote meanwhile)."""
        key = _account_key(email)
        for _ in range(_ATTEMPTS):
            row = self.tables.get(TABLE, tenant, key)
            current = AccountFailures()
            if row is not None:
                locked = row.data.get("locked_until")
                current = AccountFailures(
                    int(row.data.get("failures") or 0),
                    locked if isinstance(locked, dt.datetime) else None,
                )
            changed = change(current)
            entity = {
                "PartitionKey": tenant,
                "RowKey": key,
                "failures": changed.failures,
                "locked_until": changed.locked_until,
                EXPIRES_AT: now + _KEEP,
            }
            try:
                if row is None:
                    self.tables.insert(TABLE, entity)
                else:
                    self.tables.update(TABLE, entity, etag=row.etag)
                return changed
            except (EntityExists, EtagMismatch):
                continue
        raise SsoUnavailable("The sign-in count kept changing.")

    def clear_account(self, tenant: str, email: str) -> None:
        self.tables.delete(TABLE, tenant, _account_key(email))
