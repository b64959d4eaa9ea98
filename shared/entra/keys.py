"""Signing keys of Entra directories, cached per JWKS URI (thread-safe).

- A key set lives 24 h, then is refetched. A failed refetch keeps the last
  good set (Entra down must not sign everyone out) and is retried after
  `retry_interval`, not on every sign-in; only with no good set at all is the
  failure `SsoUnavailable`.
- An unknown kid may trigger one refetch per directory per cooldown (5 min):
  rotation is picked up at once, and a flood of forged kids cannot hammer
  Entra. Only such a refetch starts the cooldown, never the cold fetch, or a
  key rotated just after a cold start would be refused for 5 minutes.
- One fetch at a time per directory: a cold start under load fetches once.
  A warm set that is due is refreshed in the background (a daemon thread):
  no sign-in waits for it, every caller keeps using the current set meanwhile.
- Keys are parsed once (PyJWT's PyJWK), so validation costs a dict lookup.
PyJWKClient is not used: it fetches with urllib, which ignores
REQUESTS_CA_BUNDLE, and its defaults do not fit Entra.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from shared import telemetry
from shared.entra.id_tokens import IdClaims, UnknownSigningKey, validate_id_token
from shared.errors import SsoUnavailable

DAY = 24 * 3600.0
COOLDOWN = 300.0
RETRY_INTERVAL = 60.0
MIN_RSA_BITS = 2048

Fetch = Callable[[str], Mapping[str, Any]]
Spawn = Callable[[Callable[[], None]], object]
Keys = Mapping[str, RSAPublicKey]

_NO_KEYS: Keys = MappingProxyType({})


class _Snapshot(NamedTuple):
    """Replaced whole, never mutated: readers take one reference without a lock."""

    keys: Keys = _NO_KEYS
    refresh_at: float | None = None  # None: never fetched successfully


@dataclass
class _Directory:
    snapshot: _Snapshot = field(default_factory=_Snapshot)
    unknown_kid_refetch_at: float | None = None
    failed_cold_fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """kid -> public key for the RS256 signing keys of a JWKS; unusable keys are skipped.

    Kept: kty RSA, use "sig" or absent, alg RS256 or absent, a kid, at least 2048
    bits. A second key under a kid already seen is ignored.
    """
    listed = document.get("keys")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in listed if isinstance(listed, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm="RS256").key
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
            keys[kid] = key
    return keys


def _daemon_thread(job: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=job, name="jwks-refresh", daemon=True)
    thread.start()
    return thread


class KeyCache:
    """JWKS per directory. `fetch(jwks_uri)` returns the JWKS document (and should
    raise `SsoUnavailable` on failure; any other exception is treated the same).
    `spawn(job)` runs a due refresh off the caller's thread (tests may run it inline)."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl: float = DAY,
        unknown_kid_cooldown: float = COOLDOWN,
        retry_interval: float = RETRY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        spawn: Spawn = _daemon_thread,
    ) -> None:
        self._fetch = fetch
        self._spawn = spawn
        self._ttl = ttl
        self._cooldown = unknown_kid_cooldown
        self._retry_interval = retry_interval
        self._clock = clock
        self._directories: dict[str, _Directory] = {}
        self._lock = threading.Lock()

    def get_keys(self, jwks_uri: str) -> Keys:
        """The directory's keys: fetched on first use, refreshed once a day."""
        directory = self._directory(jwks_uri)
        snapshot = directory.snapshot
        if snapshot.refresh_at is not None and self._clock() < snapshot.refresh_at:
            return snapshot.keys
        if snapshot.refresh_at is None:
            failures = directory.failed_cold_fetches
            with directory.lock:  # cold: every caller waits for the one fetch
                if directory.snapshot.refresh_at is None:
                    if directory.failed_cold_fetches != failures:
                        # The fetch we waited for failed: share its outcome rather
                        # than queue one more fetch (and its timeout) per thread.
                        raise SsoUnavailable("Microsoft Entra ID signing keys could not be read.")
                    self._refresh(jwks_uri, directory)
                return directory.snapshot.keys
        # Warm but due: one refresh in the background; everyone keeps the current set.
        if not directory.lock.acquire(blocking=False):
            return snapshot.keys

        started = threading.Event()

        def refresh() -> None:
            started.set()
            try:  # the lock passes to this job, which releases it
                current = directory.snapshot
                if current.refresh_at is not None and self._clock() >= current.refresh_at:
                    self._refresh(jwks_uri, directory)
            except Exception:  # noqa: S110 (_refresh keeps the last good set itself)
                pass
            finally:
                directory.lock.release()

        try:
            self._spawn(refresh)
        except Exception:
            if not started.is_set():  # no job ran to release it: refresh another time
                directory.lock.release()
        return directory.snapshot.keys

    def refresh_for_unknown_kid(self, jwks_uri: str, kid: str) -> Keys:
        """Refetch once for a kid we do not know, unless an unknown kid already caused
        a refetch of this directory within the cooldown. Returns the keys either way."""
        directory = self._directory(jwks_uri)
        with directory.lock:
            snapshot = directory.snapshot
            if kid in snapshot.keys:  # another thread's refetch already brought it
                return snapshot.keys
            if snapshot.refresh_at is None:  # nothing fetched yet: a cold fetch
                self._refresh(jwks_uri, directory)
                return directory.snapshot.keys
            now = self._clock()
            recent = directory.unknown_kid_refetch_at
            if recent is None or now - recent >= self._cooldown:
                directory.unknown_kid_refetch_at = now
                self._refresh(jwks_uri, directory)
            return directory.snapshot.keys

    def _directory(self, jwks_uri: str) -> _Directory:
        directory = self._directories.get(jwks_uri)
        if directory is None:
            with self._lock:
                directory = self._directories.setdefault(jwks_uri, _Directory())
        return directory

    def _refresh(self, jwks_uri: str, directory: _Directory) -> None:
        """Fetch and replace the key set; the caller holds the directory's lock."""
        stale = directory.snapshot
        try:
            with telemetry.timed_entra("jwks"):
                document = self._fetch(jwks_uri)
            keys = parse_jwks(document)
            if not keys:
                raise SsoUnavailable("Microsoft Entra ID published no usable signing key.")
        except Exception as error:
            if stale.refresh_at is None:
                directory.failed_cold_fetches += 1
                if isinstance(error, SsoUnavailable):
                    raise
                raise SsoUnavailable(
                    "Microsoft Entra ID signing keys could not be read."
                ) from error
            # Keep the last good set; try again after a pause, not on every sign-in.
            retry_at = self._clock() + self._retry_interval
            directory.snapshot = _Snapshot(stale.keys, retry_at)
            return
        directory.snapshot = _Snapshot(MappingProxyType(keys), self._clock() + self._ttl)


def jwks_uri_for(authority_host: str, tenant_id: str) -> str:
    return f"{authority_host}/{tenant_id}/discovery/v2.0/keys"


class KeySource(Protocol):
    """Entra's signing keys by JWKS URI (`KeyCache`)."""

    def get_keys(self, jwks_uri: str) -> Keys: ...

    def refresh_for_unknown_kid(self, jwks_uri: str, kid: str) -> Keys: ...


def validate_with_directory_keys(
    raw: str,
    *,
    keys: KeySource,
    issuer_host: str,
    tenant_id: str,
    client_id: str,
    nonce_hash: str,
    now: float,
) -> IdClaims:
    """`validate_id_token` with the directory's published keys, refetched once for a
    kid they lack (a key Entra has just rotated in)."""
    jwks_uri = jwks_uri_for(issuer_host, tenant_id)
    arguments: dict[str, Any] = {
        "issuer_host": issuer_host,
        "tenant_id": tenant_id,
        "client_id": client_id,
        "nonce_hash": nonce_hash,
        "now": now,
    }
    try:
        return validate_id_token(raw, keys=keys.get_keys(jwks_uri), **arguments)
    except UnknownSigningKey as unknown:
        fresh = keys.refresh_for_unknown_kid(jwks_uri, unknown.kid)
        return validate_id_token(raw, keys=fresh, **arguments)
