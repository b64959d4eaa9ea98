"""Tenant client secrets as sign-in needs them: current, re-read, previous version.

The previous version stays usable until the new one has signed someone in:
when Entra refuses the current secret, sign-in re-reads it (another instance
may have rotated) and then tries the newest unexpired older version once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.settings import Secret
from shared.store.secrets import SecretStore, client_secret_name


@dataclass
class ClientSecrets:
    store: SecretStore
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def current(self, tenant: str) -> tuple[Secret, str] | None:
        value = self.store.get_secret(client_secret_name(tenant))
        return (value.value, value.version) if value else None

    def refreshed(self, tenant: str) -> tuple[Secret, str] | None:
        self.store.invalidate(client_secret_name(tenant))
        return self.current(tenant)

    def previous(self, tenant: str, current_version: str) -> tuple[Secret, str] | None:
        name = client_secret_name(tenant)
        now = self.clock()
        versions = self.store.list_versions(name)
        older = [v for v in versions if v.version != current_version]
        for version in older:
            if version.enabled and not version.expired(now):
                value = self.store.get_secret_version(name, version.version)
                if value is not None:
                    return value.value, value.version
        return None
