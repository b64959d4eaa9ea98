"""How password guessing is slowed down, across every instance (Table Storage):

- per account (the email, known or not, so a 429 never tells that an account
  exists): after 5 failures in a row each further one locks the email for
  15 s, 30 s, 60 s, ... up to 15 minutes; a success clears it;
- per client address and tenant: 30 failures in a 10-minute window, then 429
  until the window ends.

While locked, no password is checked at all. An attempt is counted before its
password is checked (a success takes it back), so parallel guesses cannot all
be checked before the first is counted. Pure decisions here; the counts live in
shared.store.password_throttle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_LOCK = dt.timedelta(seconds=15)
MAX_LOCK = dt.timedelta(minutes=15)
IP_FAILURES = 30
IP_WINDOW = 600  # seconds


@dataclass(frozen=True)
class AccountFailures:
    failures: int = 0
    locked_until: dt.datetime | None = None


def locked_for(account: AccountFailures, now: dt.datetime) -> int:
    """Whole seconds the email stays locked (0: it may try)."""
    if account.locked_until is None or account.locked_until <= now:
        return 0
    return max(1, int((account.locked_until - now).total_seconds() + 0.999))


# Past this many failures the lock is MAX_LOCK anyway: counting on would only grow the
# number (and 2**n past a timedelta's range: one guess every 15 minutes gets there
# in half a day, and then every attempt, the owner's too, would fail).
_COUNTED_FAILURES = FREE_FAILURES + 16


def after_failure(account: AccountFailures, now: dt.datetime) -> AccountFailures:
    failures = min(account.failures + 1, _COUNTED_FAILURES)
    if failures < FREE_FAILURES:
        return AccountFailures(failures, None)
    lock = min(MAX_LOCK, FIRST_LOCK * 2 ** (failures - FREE_FAILURES))
    return AccountFailures(failures, now + lock)


def ip_window(now: float) -> tuple[int, int]:
    """(the window's start, seconds until it ends)."""
    start = int(now) - int(now) % IP_WINDOW
    return start, start + IP_WINDOW - int(now)
