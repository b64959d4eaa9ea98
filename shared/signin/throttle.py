"""A bound on sign-in starts: per client IP and tenant, `limit` per minute.

Anyone can start a sign-in, and each start costs a Table write (the auth
transaction) that lives until housekeeping deletes it. The count is shared
across instances without a write per request: each instance counts locally
and adds its count to a shared per-minute row only every `step` starts (and
reads the total back in the same call). An instance therefore sees the other
instances' starts up to `step` each late: across N instances at most
`limit + N * step` starts pass in a minute. When the shared row cannot be
written the instance keeps counting alone (logged): that still bounds each
instance, and refuses nobody for the store's sake.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared.errors import EntraBridgeError, TooManyAttempts
from shared.signin.anonymous_log import RateLimitedLog

WINDOW = 60
DEFAULT_LIMIT = 60
STEP = 10
MAX_TRACKED = 10_000  # (tenant, client) windows remembered per instance

_log = RateLimitedLog(logging.getLogger("entrabridge.throttle"))


class SharedCounts(Protocol):
    def add(self, tenant: str, client: str, window_start: int, count: int) -> int:
        """Add `count` to the window's shared total; the total after the add."""
        ...


def client_key(ip: str | None) -> str:
    """What identifies a client in the shared rows: a plain sha256 prefix (64 bits) of
    its address, never the address itself. Not keyed on purpose: it keeps addresses out
    of row keys (storage logs, key listings) and makes any text key-safe, but hides an
    IPv4 address from nobody willing to hash all 2^32; whoever can read these rows can
    read the raw addresses in the audit log anyway, and the rows live two minutes."""
    return hashlib.sha256(client_address(ip).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def client_address(ip: str | None) -> str:
    """One client, as counted: the address without a port (Azure's front ends may append
    `address:port`, and every new connection has a new port) and, for IPv6, its /64 (a
    subscriber's network: every address in it is theirs to pick). Text that is no
    address is counted as it is."""
    text = (ip or "").strip()
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text or "no-ip"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Window:
    shared: int = 0  # the shared total as last read (our flushed starts included)
    pending: int = 0  # our starts not yet added to it


@dataclass
class Throttle:
    counts: SharedCounts
    limit: int = DEFAULT_LIMIT
    step: int = STEP
    window: int = WINDOW
    max_tracked: int = MAX_TRACKED
    clock: Callable[[], float] = time.time
    _windows: OrderedDict[tuple[str, str, int], _Window] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, tenant: str, ip: str | None) -> None:
        """Count one start, or raise TooManyAttempts (with Retry-After) past the limit."""
        if self.limit <= 0:
            return
        now = self.clock()
        start = int(now // self.window) * self.window
        client = client_key(ip)
        key = (tenant, client, start)
        with self._lock:
            counted = self._windows.get(key)
            if counted is None:
                counted = self._windows[key] = _Window()
                while len(self._windows) > self.max_tracked:
                    self._windows.popitem(last=False)
            if counted.shared + counted.pending >= self.limit:
                raise TooManyAttempts(retry_after=max(1, math.ceil(start + self.window - now)))
            counted.pending += 1
            flush = counted.pending >= self.step
            if flush:
                adding, counted.pending = counted.pending, 0
        if flush:
            try:
                total = self.counts.add(tenant, client, start, adding)
            except EntraBridgeError:
                _log.warning("sign-in throttle: shared count not written; counting locally")
                total = counted.shared + adding
            with self._lock:
                counted.shared = max(counted.shared, total)
