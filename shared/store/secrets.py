"""Key Vault adapter (azure-keyvault-secrets): tenant client secrets, the session key.

Values come back wrapped in `Secret`, so they never print, and nothing here
logs them (nor lets the SDK's network trace do it). Reads are cached in memory
per process: the current version for `ttl_seconds`, a given version (its value
never changes) for `version_ttl_seconds`; `set_secret` and `invalidate` drop a
name's entries at once. A vault that cannot be reached (refused, 5xx, timeout,
no token) becomes the contract's `SsoUnavailable` within seconds: short
timeouts, one retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from shared import telemetry
from shared.errors import SsoUnavailable
from shared.http import AZURE_REQUEST_LOGGER  # noqa: F401 (importing it quiets request logs)
from shared.secret import Secret
from shared.settings import Settings, is_loopback_url

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient, SecretProperties

log = logging.getLogger(__name__)

SESSION_KEY_NAME = "session-signing-key"
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
# Key Vault answers in tens of milliseconds; waiting longer than this only
# turns an outage into piled-up requests. One retry absorbs a blip.
CLIENT_OPTIONS: Mapping[str, Any] = {
    "retry_total": 1,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 1,
    "connection_timeout": 3,
    "read_timeout": 5,
    # The network trace logs request and response bodies, i.e. secret values.
    "logging_enable": False,
}


def checked_name(name: str) -> str:
    """A valid Key Vault secret name (1-127 letters, digits, dashes), else ValueError."""
    if not _NAME.match(name):
        raise ValueError("Key Vault secret names are 1-127 letters, digits and dashes")
    return name


def client_secret_name(tenant: str) -> str:
    """Where a tenant's Entra client secret lives: ``tenant-{slug}-client-secret``."""
    return checked_name(f"tenant-{tenant}-client-secret")


@dataclass(frozen=True)
class SecretVersion:
    """One version's properties (never its value)."""

    name: str
    version: str
    enabled: bool
    created_on: dt.datetime | None
    expires_on: dt.datetime | None
    tags: Mapping[str, str]
    content_type: str | None = None

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_on is not None and self.expires_on <= now


@dataclass(frozen=True)
class SecretValue:
    """A version with its value; the value prints as ``Secret('**********')``."""

    value: Secret
    properties: SecretVersion

    @property
    def name(self) -> str:
        return self.properties.name

    @property
    def version(self) -> str:
        return self.properties.version

    @property
    def expires_on(self) -> dt.datetime | None:
        return self.properties.expires_on

    @property
    def tags(self) -> Mapping[str, str]:
        return self.properties.tags


@dataclass(frozen=True)
class _Entry:
    expires_at: float
    value: SecretValue | None


@dataclass
class _Cache:
    """Thread-safe read cache; a per-name generation stops a slow read that raced
    a write from caching the value the write replaced."""

    max_entries: int
    entries: dict[tuple[str, str | None], _Entry] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, str | None], now: float) -> tuple[_Entry | None, int]:
        with self.lock:
            entry = self.entries.get(key)
            fresh = entry if entry is not None and entry.expires_at > now else None
            return fresh, self.generations.get(key[0], 0)

    def put(self, key: tuple[str, str | None], entry: _Entry, generation: int, now: float) -> None:
        with self.lock:
            if self.generations.get(key[0], 0) != generation:
                return
            self.entries[key] = entry
            if len(self.entries) > self.max_entries:
                self._prune(now)

    def drop(self, name: str) -> int:
        """Forget a name's entries; returns the new generation."""
        with self.lock:
            generation = self.generations.get(name, 0) + 1
            self.generations[name] = generation
            for key in [k for k in self.entries if k[0] == name]:
                del self.entries[key]
            return generation

    def _prune(self, now: float) -> None:
        for key in [k for k, e in self.entries.items() if e.expires_at <= now]:
            del self.entries[key]
        surplus = len(self.entries) - self.max_entries
        if surplus > 0:
            oldest = sorted(self.entries, key=lambda k: self.entries[k].expires_at)[:surplus]
            for key in oldest:
                del self.entries[key]


class SecretStore:
    """Secrets in one vault, through an `azure.keyvault.secrets.SecretClient`."""

    def __init__(
        self,
        client: SecretClient,
        *,
        ttl_seconds: float = 60.0,
        version_ttl_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.version_ttl_seconds = version_ttl_seconds
        self.clock = clock
        self._cache = _Cache(max_entries=max_entries)

    def __repr__(self) -> str:
        return f"SecretStore(vault_url={self.client.vault_url!r})"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        credential: TokenCredential | None = None,
        **options: Any,
    ) -> SecretStore:
        """A store for KEY_VAULT_URI; `options` override `CLIENT_OPTIONS` (e.g. timeouts)."""
        from azure.keyvault.secrets import SecretClient

        if credential is None:
            from shared.store.credentials import build_credential

            credential = build_credential(settings)
        # The stand-in's host is not *.vault.azure.net, so only offline mode on a
        # loopback vault relaxes the SDK's check that the challenge names the vault.
        relaxed = settings.azure_credential_mode == "offline" and is_loopback_url(
            settings.key_vault_uri
        )
        client = SecretClient(
            vault_url=settings.key_vault_uri,
            credential=credential,
            verify_challenge_resource=not relaxed,
            **{**CLIENT_OPTIONS, **options},
        )
        return cls(client)

    def close(self) -> None:
        self.client.close()

    # --- reads ---------------------------------------------------------------------

    def get_secret(self, name: str) -> SecretValue | None:
        """The current version, or None if there is none (or it is disabled)."""
        return self._cached(name, None, self.ttl_seconds)

    def get_secret_version(self, name: str, version: str) -> SecretValue | None:
        """One version, or None if there is no such version (or it is disabled)."""
        return self._cached(name, version, self.version_ttl_seconds)

    def read_now(self, name: str, version: str | None) -> SecretValue | None:
        """One version (None: the current one), past the cache and without filling it.
        When the vault no longer has what this process cached (a version disabled or
        deleted since, or a newer current one), the name's cache is dropped: a cached
        copy must not keep a credential the operator withdrew in use for an hour."""
        found = self._fetch(name, version)
        key = (name.lower(), version)
        cached, _ = self._cache.get(key, self.clock())
        if cached is not None and _differs(cached.value, found):
            self._cache.drop(name.lower())
        return found

    def list_versions(self, name: str) -> list[SecretVersion]:
        """Every version's properties, newest first (uncached: rotation decisions need now)."""
        with _vault_errors():
            try:
                _vault_call()
                listed = [
                    _version(p)
                    for p in self.client.list_properties_of_secret_versions(checked_name(name))
                ]
            except ResourceNotFoundError:
                return []
        # `created` has one-second resolution and Azure promises no order: among
        # equal times, the later listed counts as newer (the stand-in lists in
        # creation order).
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        return sorted(reversed(listed), key=lambda v: v.created_on or epoch, reverse=True)

    def ping(self) -> None:
        """Health check: the vault answers. Uncached; lists properties, so no value travels."""
        with _vault_errors():
            try:
                _vault_call()
                pages = self.client.list_properties_of_secret_versions(
                    SESSION_KEY_NAME, max_page_size=1
                )
                next(iter(pages), None)
            except ResourceNotFoundError:
                return

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
        """Store a new version (the previous ones stay readable); this process sees it at once."""
        text = value.reveal() if isinstance(value, Secret) else value
        with _vault_errors():
            _vault_call()
            stored = self.client.set_secret(
                checked_name(name),
                text,
                tags=dict(tags or {}),
                expires_on=expires_on,
                content_type=content_type,
            )
        properties = _version(stored.properties)
        entry = SecretValue(value=Secret(text), properties=properties)
        key = name.lower()
        generation = self._cache.drop(key)
        now = self.clock()
        self._cache.put((key, None), _Entry(now + self.ttl_seconds, entry), generation, now)
        self._cache.put(
            (key, properties.version),
            _Entry(now + self.version_ttl_seconds, entry),
            generation,
            now,
        )
        log.info("Key Vault: stored a new version of %s (%s)", name, properties.version)
        return properties

    def invalidate(self, name: str) -> None:
        """Forget what this process cached for `name` (e.g. another instance rotated it)."""
        self._cache.drop(name.lower())

    # --- internals -----------------------------------------------------------------

    def _cached(self, name: str, version: str | None, ttl: float) -> SecretValue | None:
        # Key Vault names are case-insensitive; so is the cache.
        key = (name.lower(), version)
        now = self.clock()
        entry, generation = self._cache.get(key, now)
        if entry is not None:
            return entry.value
        value = self._fetch(name, version)
        # A missing version may appear (re-enabled): cache absence only briefly.
        lifetime = ttl if value is not None else min(ttl, self.ttl_seconds)
        self._cache.put(key, _Entry(now + lifetime, value), generation, now)
        return value

    def _fetch(self, name: str, version: str | None) -> SecretValue | None:
        with _vault_errors():
            try:
                _vault_call()
                stored = self.client.get_secret(checked_name(name), version)
            except ResourceNotFoundError:
                return None
            except HttpResponseError as error:
                if _inner_code(error) == "SecretDisabled":
                    return None
                raise
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
        content_type=properties.content_type,
    )


def _inner_code(error: HttpResponseError) -> str | None:
    """Key Vault's ``error.innererror.code`` (e.g. SecretDisabled), if any."""
    odata = error.error
    inner = getattr(odata, "innererror", None) if odata is not None else None
    code = inner.get("code") if isinstance(inner, dict) else None
    return code if isinstance(code, str) else None


@contextmanager
def _vault_errors() -> Iterator[None]:
    """SDK failures that mean "the vault is not answering usefully" become SsoUnavailable."""
    try:
        yield
    except ResourceNotFoundError:
        raise
    except ResourceExistsError as error:
        # 409 on a write: the name is soft-deleted (recoverable) in the vault.
        log.warning("Key Vault refused a write: the secret is deleted but recoverable")
        raise SsoUnavailable(
            "Key Vault holds this secret as deleted (soft delete): an operator must recover "
            "or purge it before a new value can be stored."
        ) from error
    except AzureError as error:
        # The SDK's message can quote request URLs and response bodies; the cause
        # stays attached for debugging, but no text of it goes into ours or the log.
        status = getattr(error, "status_code", None)
        log.warning("Key Vault unavailable: %s (status %s)", type(error).__name__, status)
        raise SsoUnavailable("Key Vault could not be reached.") from error


def _vault_call() -> None:
    """Count one Key Vault request for the request's telemetry (shared.telemetry)."""
    telemetry.count_call("vault")


def _differs(cached: SecretValue | None, found: SecretValue | None) -> bool:
    if cached is None or found is None:
        return cached is not found
    return cached.properties.version != found.properties.version
