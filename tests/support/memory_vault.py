"""An in-memory Key Vault for unit tests of the services.

`MemoryVault` offers what the services use of `shared.store.secrets.SecretStore`
(sign-in's client-secret reads, the admin API's rotation, the session key ring):
versions newest first, disabled versions unreadable, names case-insensitive and
checked like Key Vault's. It has no cache, so a test sees every write at once;
the real store's cache is tested against the Key Vault stand-in.
`fail_with` makes every call raise (the vault down).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

import pytest

from shared.secret import Secret
from shared.store.secrets import SecretValue, SecretVersion, checked_name


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MemoryVault:
    def __init__(self, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.clock = clock
        self.fail_with: Exception | None = None
        self._versions: dict[str, list[SecretValue]] = {}  # oldest first
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- reads ---------------------------------------------------------------------

    def get_secret(self, name: str) -> SecretValue | None:
        return self.read_now(name, None)

    def get_secret_version(self, name: str, version: str) -> SecretValue | None:
        return self.read_now(name, version)

    def read_now(self, name: str, version: str | None) -> SecretValue | None:
        self._check_up()
        with self._lock:
            versions = self._versions.get(checked_name(name).lower(), [])
            if version is None:
                found = versions[-1] if versions else None
            else:
                found = next((v for v in versions if v.version == version), None)
        if found is None or not found.properties.enabled:
            return None
        return found

    def list_versions(self, name: str) -> list[SecretVersion]:
        self._check_up()
        with self._lock:
            versions = self._versions.get(checked_name(name).lower(), [])
            return [v.properties for v in reversed(versions)]

    def ping(self) -> None:
        self._check_up()

    # --- writes --------------------------------------------------------------------

    def set_secret(
        self,
        name: str,
        value: str | Secret,
        *,
        tags: Mapping[str, str] | None = None,
        expires_on: dt.datetime | None = None,
        content_type: str | None = None,
    ) -> SecretVersion:
        self._check_up()
        text = value.reveal() if isinstance(value, Secret) else value
        with self._lock:
            properties = SecretVersion(
                name=checked_name(name),
                version=f"{next(self._ids):032x}",
                enabled=True,
                created_on=self.clock(),
                expires_on=expires_on,
                tags=dict(tags or {}),
                content_type=content_type,
            )
            stored = SecretValue(value=Secret(text), properties=properties)
            self._versions.setdefault(name.lower(), []).append(stored)
        return properties

    def invalidate(self, name: str) -> None:
        """Nothing is cached here."""

    # --- for tests -----------------------------------------------------------------

    def disable(self, name: str, version: str) -> None:
        """Disable one version, as an operator could in the portal."""
        with self._lock:
            versions = self._versions[name.lower()]
            for index, stored in enumerate(versions):
                if stored.version == version:
                    disabled = replace(stored.properties, enabled=False)
                    versions[index] = SecretValue(value=stored.value, properties=disabled)

    def _check_up(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


@pytest.fixture
def memory_vault() -> MemoryVault:
    return MemoryVault()
