"""Keys kept in Key Vault as the versions of one secret: the newest signs (or seals),
the one before it still verifies (or opens) what was made before a rotation.

`KeyRing` caches the current and the previous version for a TTL, parses each
version once per process (a version never changes), creates the secret on first
use, re-reads the vault for a kid it does not know (at most once per cooldown,
so made-up kids cannot hammer Key Vault: that is how a rotation made by another
instance is picked up early), and keeps serving the last good keys when Key
Vault does not answer. The session signing keys and the sign-in state keys are
rings of their own kind (`KeyKind`).

Only the standard library and our own modules are imported here: the Key Vault
SDK stays behind the `VersionedSecrets` protocol.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from shared.errors import ConfigurationError, EntraBridgeError
from shared.secret import Secret

if TYPE_CHECKING:
    from shared.store.secrets import SecretValue, SecretVersion

log = logging.getLogger("entrabridge.key_ring")

# Key Vault's `created` has one-second resolution; this tag orders versions written
# within the same second (a rotation right after creation, racing instances).
CREATED_TAG = "entrabridge-created"

K = TypeVar("K")


class VersionedSecrets(Protocol):
    """What a ring needs from Key Vault; `shared.store.secrets.SecretStore` provides it."""

    def get_secret_version(self, name: str, version: str) -> SecretValue | None: ...

    def list_versions(self, name: str) -> list[SecretVersion]: ...

    def set_secret(
        self,
        name: str,
        value: str | Secret,
        *,
        tags: Mapping[str, str] | None = None,
        expires_on: dt.datetime | None = None,
        content_type: str | None = None,
    ) -> SecretVersion: ...


@dataclass(frozen=True)
class KeyKind(Generic[K]):
    """One kind of key: its secret's name, how a version's value becomes a key (kid,
    value -> key, ValueError when it cannot), and how a new one is made."""

    secret_name: str
    what: str  # "session signing key": for messages
    parse: Callable[[str, Secret], K]
    generate: Callable[[], str]
    content_type: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # Seconds after its successor was made that the previous version still verifies
    # (what was made with it before the rotation reached every instance); None: until
    # the next rotation. Bounded, a rotation made because a key leaked ends it.
    previous_for: float | None = None


@dataclass(frozen=True)
class _KeySet(Generic[K]):
    kid: str
    current: K
    by_kid: Mapping[str, K]  # the current and the previous version
    fresh_until: float


class KeyRing(Generic[K]):
    """Thread-safe. Cold, one thread reads Key Vault while the others wait for its
    result (a failure is theirs too); warm and due, one thread refreshes while the
    others keep using the current keys."""

    def __init__(
        self,
        store: VersionedSecrets,
        kind: KeyKind[K],
        *,
        ttl_seconds: float = 600.0,
        retry_after_error_seconds: float = 30.0,
        unknown_kid_cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._kind = kind
        self._ttl = ttl_seconds
        self._retry_after_error = retry_after_error_seconds
        self._unknown_kid_cooldown = unknown_kid_cooldown_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._keys: _KeySet[K] | None = None
        self._parsed: dict[str, K] = {}
        self._last_unknown_kid_refresh: float | None = None
        self._lock = threading.Lock()
        self._cold_error: EntraBridgeError | None = None  # the last read with no key set yet

    # --- public ----------------------------------------------------------------------

    def current_key(self) -> tuple[str, K]:
        """(kid, key) to sign or seal with; creates the secret when the vault has none."""
        keys = self._key_set()
        return keys.kid, keys.current

    def keys_by_kid(self, *, kid: str | None = None) -> Mapping[str, K]:
        """kid -> key for the current and the previous version. Pass the kid of a token
        that names a key not in the last answer: the ring then re-reads the vault (at
        most once per cooldown)."""
        keys = self._key_set()
        if kid is None or kid in keys.by_kid:
            return keys.by_kid
        with self._lock:
            keys = self._keys or keys
            if kid in keys.by_kid:
                return keys.by_kid
            now = self._clock()
            last = self._last_unknown_kid_refresh
            if last is not None and now - last < self._unknown_kid_cooldown:
                return keys.by_kid
            self._last_unknown_kid_refresh = now
            return self._refresh_locked(now, create=False).by_kid

    def rotate_key(self) -> K:
        """Store a new version and use it from now on (operators, tests). The previous
        version stays in `keys_by_kid()`; other instances adopt the new key within the
        TTL, and accept it at once (unknown kid)."""
        with self._lock:
            self._create_version()
            return self._refresh_locked(self._clock(), create=False).current

    def invalidate(self) -> None:
        """Forget the cached key set (parsed keys stay: versions are immutable)."""
        with self._lock:
            self._keys = None

    # --- internals -------------------------------------------------------------------

    def _key_set(self) -> _KeySet[K]:
        keys = self._keys  # one attribute read: the fast path takes no lock
        if keys is not None and keys.fresh_until > self._clock():
            return keys
        if keys is not None:
            # Due: one thread asks Key Vault; the others go on with the keys they
            # have rather than queue behind its timeouts when the vault is slow.
            if not self._lock.acquire(blocking=False):
                return keys
            try:
                keys = self._keys or keys
                now = self._clock()
                return keys if keys.fresh_until > now else self._refresh_locked(now, create=True)
            finally:
                self._lock.release()
        seen_error = self._cold_error
        with self._lock:  # cold: every caller waits for the one read
            keys = self._keys
            if keys is not None:
                return keys
            if self._cold_error is not seen_error and self._cold_error is not None:
                # The read we waited for failed: share its outcome rather than queue
                # one more read (and its timeouts) per waiting request.
                raise copy.copy(self._cold_error)
            try:
                return self._refresh_locked(self._clock(), create=True)
            except EntraBridgeError as error:
                self._cold_error = error
                raise

    def _refresh_locked(self, now: float, *, create: bool) -> _KeySet[K]:
        try:
            versions = self._usable_versions()
            if not versions:
                if not create:
                    raise ConfigurationError(f"The {self._kind.what} is missing.")
                self._create_version()
                versions = self._usable_versions()
            keys = self._load(versions, now)
        except EntraBridgeError:
            stale = self._keys
            if stale is None:
                raise
            # A key a few minutes old is harmless; failing every sign-in because Key
            # Vault hiccuped is not. Retry soon.
            log.warning("%s: Key Vault refresh failed; keeping the cached keys", self._kind.what)
            keys = _KeySet(stale.kid, stale.current, stale.by_kid, now + self._retry_after_error)
        self._keys = keys
        return keys

    def _usable_versions(self) -> list[SecretVersion]:
        versions = [v for v in self._store.list_versions(self._kind.secret_name) if v.enabled]
        return sorted(versions, key=_newest_first_key, reverse=True)

    def _load(self, versions: Sequence[SecretVersion], now: float) -> _KeySet[K]:
        if not versions:
            raise ConfigurationError(f"The {self._kind.what} is missing.")
        kid = versions[0].version
        current = self._parse(kid)
        if current is None:
            raise ConfigurationError(f"The {self._kind.what} in Key Vault is not usable.")
        by_kid: dict[str, K] = {kid: current}
        # The previous version accepts what was made before the last rotation.
        retired = self._kind.previous_for is not None and self._wall_clock() > (
            _created_seconds(versions[0]) + self._kind.previous_for
        )
        for version in versions[1:] if not retired else ():
            previous = self._parse(version.version)
            if previous is not None:
                by_kid[version.version] = previous
                break
        return _KeySet(kid, current, MappingProxyType(by_kid), now + self._ttl)

    def _parse(self, version: str) -> K | None:
        cached = self._parsed.get(version)
        if cached is not None:
            return cached
        stored = self._store.get_secret_version(self._kind.secret_name, version)
        if stored is None:
            return None
        try:
            key = self._kind.parse(version, stored.value)
        except ValueError:
            log.error("%s: version %s is not usable; ignored", self._kind.what, version)
            return None
        self._parsed[version] = key
        return key

    def _create_version(self) -> None:
        # Racing instances may each create one; the newest wins and the older
        # one stays usable as "previous".
        self._store.set_secret(
            self._kind.secret_name,
            Secret(self._kind.generate()),
            tags={**self._kind.tags, CREATED_TAG: f"{self._wall_clock():.6f}"},
            content_type=self._kind.content_type,
        )


def _created_seconds(version: SecretVersion) -> float:
    """When a version was made (epoch seconds): its precise tag, else Key Vault's date."""
    created, precise = _newest_first_key(version)
    return precise if precise > 0 else created.timestamp()


def _newest_first_key(version: SecretVersion) -> tuple[dt.datetime, float]:
    created = version.created_on or dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        precise = float(version.tags.get(CREATED_TAG, "0"))
    except ValueError:
        precise = 0.0
    return created, precise
