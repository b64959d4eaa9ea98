"""What `/api/health` reports, probed at most once per 30 s per instance.

Anyone may call the health route, and Key Vault throttles per vault: a flood
of health requests must not become a flood of Key Vault calls that throttles
every tenant's sign-in. So one probe runs at a time and its report is reused
for `max_age` seconds. A probe pings Table Storage and reads, uncached, the
client secret that a bounded number of SSO-enabled tenants' configurations name
(round robin over the tenants, `per_probe` each time); reading them is the Key
Vault check (a ping only when there is no such tenant). A secret found missing
or unreadable is recorded on the tenant's row, where the status route and the
login page (which load no Key Vault SDK) read it; the report then says
"degraded", and names the tenants only to a platform operator.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared.errors import EntraBridgeError
from shared.expiry.assess import assess_in_use, counts
from shared.tenants.model import OAuth2Config, is_sso_ready

MAX_AGE = 30.0
PER_PROBE = 20
SERVICES = ("settings", "table_storage", "key_vault")


@dataclass(frozen=True)
class HealthReport:
    checks: dict[str, str]
    degraded_tenants: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """`unavailable` (503) when a service we need does not answer; `degraded` (200)
        when only some tenants cannot sign in (their client secret is missing)."""
        if any(self.checks.get(name) != "ok" for name in SERVICES):
            return "unavailable"
        return "degraded" if self.degraded_tenants else "ok"

    def to_body(self, *, name_tenants: bool) -> dict[str, object]:
        body: dict[str, object] = {"status": self.status, "checks": dict(self.checks)}
        if name_tenants and self.degraded_tenants:
            body["degraded_tenants"] = list(self.degraded_tenants)
        return body


def _expiry_check(counted: Mapping[str, int]) -> str:
    """How many tenants' client secrets expire within 30 days or have expired (counts
    only: the route is public); `ok` when none."""
    if not counted["expiring"] and not counted["expired"]:
        return "ok"
    return f"{counted['expiring']} tenant(s) expiring within 30 days, {counted['expired']} expired"


class TenantConfigs(Protocol):
    def configured_tenants(self) -> Sequence[tuple[str, OAuth2Config]]: ...

    def mark_client_secret(self, tenant: str, *, unavailable: bool) -> bool: ...


class SecretReader(Protocol):
    def client_secret_now(self, tenant: str, config: OAuth2Config) -> bool:
        """Whether the secret the config names is in Key Vault and readable (uncached);
        raises SsoUnavailable when Key Vault does not answer."""
        ...

    def ping(self) -> None: ...


class TablePing(Protocol):
    def ping(self) -> None: ...


@dataclass
class HealthProbe:
    tables: TablePing
    configs: TenantConfigs
    secrets: SecretReader
    max_age: float = MAX_AGE
    per_probe: int = PER_PROBE
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last: HealthReport | None = field(default=None, repr=False)
    _at: float = field(default=0.0, repr=False)
    _next: int = field(default=0, repr=False)

    def report(self) -> HealthReport:
        # Held while probing: callers meanwhile wait for this probe's answer instead
        # of starting their own.
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._at < self.max_age:
                return self._last
            self._last, self._at = self._probe(), now
            return self._last

    def _probe(self) -> HealthReport:
        checks = {"settings": "ok", "table_storage": "ok", "key_vault": "ok"}
        try:
            self.tables.ping()
            # The tenants whose sign-in needs its client secret now.
            tenants = [
                (slug, c) for slug, c in self.configs.configured_tenants() if is_sso_ready(c)
            ]
        except EntraBridgeError:
            checks["table_storage"] = "unavailable"
            tenants = []
        unavailable = {slug for slug, config in tenants if config.client_secret_unavailable}
        try:
            due = self._due(tenants)
            for slug, config in due:
                readable = self.secrets.client_secret_now(slug, config)
                if readable == (slug in unavailable):  # news: record it for the status route
                    self.configs.mark_client_secret(slug, unavailable=not readable)
                if readable:
                    unavailable.discard(slug)
                else:
                    unavailable.add(slug)
            if not due:
                self.secrets.ping()
        except EntraBridgeError:
            checks["key_vault"] = "unavailable"
        checks["tenant_secrets"] = (
            f"missing or unreadable for {len(unavailable)} tenant(s)" if unavailable else "ok"
        )
        today = dt.datetime.now(dt.UTC).date()
        standings = [
            s for slug, c in tenants if (s := assess_in_use(slug, c, today=today)) is not None
        ]
        checks["credential_expiry"] = _expiry_check(counts(standings))
        expired = {s.tenant for s in standings if s.standing == "expired"}
        return HealthReport(checks=checks, degraded_tenants=tuple(sorted(unavailable | expired)))

    def _due(self, tenants: list[tuple[str, OAuth2Config]]) -> list[tuple[str, OAuth2Config]]:
        """The next `per_probe` tenants, round robin, so every one is checked in turn."""
        if len(tenants) <= self.per_probe:
            return tenants
        start = self._next % len(tenants)
        self._next = start + self.per_probe
        return (tenants[start:] + tenants[:start])[: self.per_probe]
