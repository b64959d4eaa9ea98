"""Tenant client secrets as sign-in needs them: current, re-read, previous version.

The configuration names the Key Vault versions in use (`client_secret_version`,
and `client_secret_previous_version`, the one before it), so what sign-in uses
changes only with a configuration write, on every instance within the config
cache's 30 s. The previous version is only a fallback, kept until the next
rotation replaces it or it expires or is disabled in Key Vault: when Entra refuses
the current secret, sign-in re-reads the configuration (another instance may have
rotated) and then tries the previous version once (audited as
`client_secret_previous_version_used`). Entra still decides: a secret deleted
from the app registration is refused whichever version we hold. Rows written
without versions (seeding) use the newest version and, as previous, the newest
unexpired older one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared.secret import Secret
from shared.store.secrets import SecretValue, SecretVersion, client_secret_name
from shared.tenants.model import OAuth2Config


class SecretReads(Protocol):
    """The Key Vault reads sign-in makes (shared.store.secrets.SecretStore)."""

    def get_secret(self, name: str) -> SecretValue | None: ...

    def get_secret_version(self, name: str, version: str) -> SecretValue | None: ...

    def read_now(self, name: str, version: str | None) -> SecretValue | None: ...

    def list_versions(self, name: str) -> list[SecretVersion]: ...

    def invalidate(self, name: str) -> None: ...

    def ping(self) -> None: ...


@dataclass
class ClientSecrets:
    store: SecretReads
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def current(self, tenant: str, config: OAuth2Config) -> tuple[Secret, str] | None:
        return _pair(self.in_use(tenant, config))

    def in_use(self, tenant: str, config: OAuth2Config) -> SecretValue | None:
        """The version the config names (rows without one: the newest), with its value."""
        name = client_secret_name(tenant)
        if config.client_secret_version:
            return self.store.get_secret_version(name, config.client_secret_version)
        return self.store.get_secret(name)

    def client_secret_now(self, tenant: str, config: OAuth2Config) -> bool:
        """Whether the version the config names is in Key Vault and readable, asked now
        (past every cache: the health probe). SsoUnavailable if the vault does not answer."""
        name = client_secret_name(tenant)
        return self.store.read_now(name, config.client_secret_version) is not None

    def ping(self) -> None:
        self.store.ping()

    def refreshed(self, tenant: str, config: OAuth2Config) -> tuple[Secret, str] | None:
        """`current` past the cache of the newest version (for unpinned rows; a pinned
        version never changes, and the caller re-reads the configuration)."""
        if not config.client_secret_version:
            self.store.invalidate(client_secret_name(tenant))
        return self.current(tenant, config)

    def previous(
        self, tenant: str, config: OAuth2Config, current_version: str
    ) -> tuple[Secret, str] | None:
        name = client_secret_name(tenant)
        now = self.clock()
        pinned = config.client_secret_previous_version
        if config.client_secret_version:
            if not pinned or pinned == current_version:
                return None
            value = self.store.get_secret_version(name, pinned)
            if value is None or not value.properties.enabled or value.properties.expired(now):
                return None
            return _pair(value)
        for version in self.store.list_versions(name):
            if version.version == current_version:
                continue
            if version.enabled and not version.expired(now):
                value = self.store.get_secret_version(name, version.version)
                if value is not None:
                    return value.value, value.version
        return None


def _pair(value: SecretValue | None) -> tuple[Secret, str] | None:
    return (value.value, value.version) if value else None
