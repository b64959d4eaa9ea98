"""Key Vault adapter (azure-keyvault-secrets): tenant client secrets, the session key.

Values are cached in memory for a short TTL (versions, being immutable, for
longer), wrapped in `Secret` so they never print, and never logged. A vault
that cannot be reached becomes the contract's `SsoUnavailable`, within
seconds (short timeouts, one retry).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.errors import SsoUnavailable
from shared.settings import Secret, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient, SecretProperties

_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 1,
    "retry_backoff_factor": 0.2,
    "connection_timeout": 3,
    "read_timeout": 10,
}
SESSION_KEY_NAME = "session-signing-key"


def client_secret_name(tenant: str) -> str:
    return checked_name(f"tenant-{tenant}-client-secret")


def checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError("Key Vault secret names are 1-127 letters, digits and dashes")
    return name


def mask(value: str | Secret | None) -> str | None:
    """The display form: the first 3 characters, then asterisks (all asterisks if short)."""
    if value is None:
        return None
    text = value.reveal() if isinstance(value, Secret) else value
    if len(text) < 8:
        return "********"
    return f"{text[:3]}*****"


@dataclass(frozen=True)
class SecretVersion:
    name: str
    version: str
    enabled: bool
    created_on: dt.datetime | None
    expires_on: dt.datetime | None
    tags: Mapping[str, str]

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_on is not None and self.expires_on <= now


@dataclass(frozen=True)
class SecretValue:
    value: Secret
    properties: SecretVersion

    @property
    def version(self) -> str:
        return self.properties.version


@dataclass
class SecretStore:
    client: SecretClient
    ttl_seconds: float = 60.0
    version_ttl_seconds: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[tuple[str, str | None], tuple[float, SecretValue | None]] = field(
        default_factory=dict, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, credential: TokenCredential) -> SecretStore:
        from azure.keyvault.secrets import SecretClient

        client = SecretClient(
            vault_url=settings.key_vault_uri,
            credential=credential,
            # The stand-in's host is not *.vault.azure.net; only offline mode (loopback
            # only, enforced by Settings) relaxes the challenge's resource check.
            verify_challenge_resource=settings.azure_credential_mode != "offline",
            **_CLIENT_OPTIONS,
        )
        return cls(client=client)

    def close(self) -> None:
        self.client.close()

    # --- reads ---------------------------------------------------------------------

    def get_secret(self, name: str) -> SecretValue | None:
        """The current version, from the cache when fresh."""
        return self._cached((name, None), self.ttl_seconds, lambda: self._fetch(name, None))

    def get_secret_version(self, name: str, version: str) -> SecretValue | None:
        return self._cached(
            (name, version), self.version_ttl_seconds, lambda: self._fetch(name, version)
        )

    def list_versions(self, name: str) -> list[SecretVersion]:
        """Every version, newest first."""
        with _vault_errors():
            try:
                versions = [
                    _version(p) for p in self.client.list_properties_of_secret_versions(name)
                ]
            except ResourceNotFoundError:
                return []
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        return sorted(versions, key=lambda v: v.created_on or epoch, reverse=True)

    def ping(self) -> None:
        """Health check: the vault answers (a missing secret is an answer)."""
        self._fetch(SESSION_KEY_NAME, None)

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
        """Store a new version (the previous ones stay readable)."""
        text = value.reveal() if isinstance(value, Secret) else value
        with _vault_errors():
            stored = self.client.set_secret(
                checked_name(name),
                text,
                tags=dict(tags or {}),
                expires_on=expires_on,
                content_type=content_type,
            )
        properties = _version(stored.properties)
        self.invalidate(name)
        with self._lock:
            entry = SecretValue(value=Secret(text), properties=properties)
            now = self.clock()
            self._cache[(name, None)] = (now + self.ttl_seconds, entry)
            self._cache[(name, properties.version)] = (now + self.version_ttl_seconds, entry)
        return properties

    def invalidate(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == name]:
                del self._cache[key]

    # --- internals -----------------------------------------------------------------

    def _cached(
        self,
        key: tuple[str, str | None],
        ttl: float,
        load: Callable[[], SecretValue | None],
    ) -> SecretValue | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now + ttl, value)
        return value

    def _fetch(self, name: str, version: str | None) -> SecretValue | None:
        with _vault_errors():
            try:
                stored = self.client.get_secret(checked_name(name), version)
            except ResourceNotFoundError:
                return None
        if stored.value is None:
            return None
        return SecretValue(value=Secret(stored.value), properties=_version(stored.properties))


def _version(properties: SecretProperties) -> SecretVersion:
    return SecretVersion(
        name=str(properties.name),
        version=str(properties.version),
        enabled=bool(properties.enabled),
        created_on=properties.created_on,
        expires_on=properties.expires_on,
        tags=dict(properties.tags or {}),
    )


@contextmanager
def _vault_errors() -> Iterator[None]:
    """SDK failures that mean "the vault is not answering" become SsoUnavailable."""
    try:
        yield
    except ResourceNotFoundError:
        raise
    except AzureError as error:
        # The SDK's message can quote request URLs; the cause stays attached for
        # debugging but no text of it goes into our message.
        raise SsoUnavailable("Key Vault could not be reached.") from error
