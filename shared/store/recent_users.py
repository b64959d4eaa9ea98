"""Users an instance signed in lately: it remembers their rows (and etags), so a
returning user's sign-in needs no read (shared.store.users.UserStore)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from shared.users import User

# How many users' rows an instance remembers between their sign-ins, and how long.
_RECENT_USERS = 4096
_RECENT_TTL = 300.0


class RecentUsers:
    """(tenant, user id) -> the user row and etag this instance last read or wrote.

    Never trusted alone: a sign-in that starts from it writes the user row on the
    condition that it is still at that etag, in the sign-in's own transaction, so
    a row changed meanwhile (an admin disabled the user on another instance) fails
    the transaction and the sign-in reads the row again. Thread-safe, bounded."""

    def __init__(self) -> None:
        self._rows: OrderedDict[tuple[str, str], tuple[float, User, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant: str, user_id: str) -> tuple[User, str] | None:
        with self._lock:
            hit = self._rows.get((tenant, user_id))
            if hit is None or hit[0] <= time.monotonic():
                return None
            self._rows.move_to_end((tenant, user_id))
            return hit[1], hit[2]

    def keep(self, key: str, user: User, etag: str | None) -> None:
        """Remember `user` under `key` (the id its Entra identity derives, which is
        not the user's own id for a user an admin created)."""
        with self._lock:
            if etag is None:
                self._rows.pop((user.tenant, key), None)
                return
            self._rows[(user.tenant, key)] = (time.monotonic() + _RECENT_TTL, user, etag)
            self._rows.move_to_end((user.tenant, key))
            while len(self._rows) > _RECENT_USERS:
                self._rows.popitem(last=False)

    def forget(self, tenant: str, user_id: str) -> None:
        with self._lock:
            self._rows.pop((tenant, user_id), None)
