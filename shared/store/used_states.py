"""Sign-in states that have been used: the single-use half of the sealed state.

A state carries its own transaction (shared.signin.sealed_state), so nothing is
stored when a sign-in starts. When its callback is done with it (a sign-in, or a
refusal of ours), a row keyed by the state's hash is created in the tenant's
partition: in the sign-in's own transaction (user, session, audit event), so a
replay fails as a whole and nothing is half-written. The row expires with the
state (plus a margin for clocks), and housekeeping deletes it then.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import SsoUnavailable
from shared.store import tenant_partition
from shared.store.rows import EXPIRES_AT, Op, Tables, TransactionFailed

PREFIX = "stateused:"
# Instances' clocks differ a little: the row outlives the state it guards.
CLOCK_MARGIN = dt.timedelta(minutes=5)


def used_state_row(tenant: str, state: str, expires_at: dt.datetime) -> Op:
    digest = hashlib.sha256(state.encode("utf-8", "surrogatepass")).digest()
    key = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return Op(
        "create",
        {
            "PartitionKey": tenant,
            "RowKey": f"{PREFIX}{key}",
            EXPIRES_AT: expires_at + CLOCK_MARGIN,
        },
    )


@dataclass
class UsedStates:
    tables: Tables

    def row(self, tenant: str, state: str, expires_at: dt.datetime) -> Op:
        return used_state_row(tenant, state, expires_at)

    def burn(
        self, tenant: str, state: str, expires_at: dt.datetime, *, also: Sequence[Op] = ()
    ) -> bool:
        """Mark the state used, with `also` (rows of the same partition) in the same
        transaction; False (and nothing written) when it was used already;
        SsoUnavailable when the write failed otherwise."""
        try:
            self.tables.apply(
                tenant_partition.TABLE, [used_state_row(tenant, state, expires_at), *also]
            )
        except TransactionFailed as failure:
            if failure.index == 0 and failure.reason == "exists":
                return False
            raise SsoUnavailable("The sign-in could not be recorded.") from failure
        return True
