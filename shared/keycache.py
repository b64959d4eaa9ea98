"""Signing keys of Entra directories, cached per JWKS URI (thread-safe).

- A key set lives 24 h, then is refetched; a failed refetch keeps the last
  good set (Entra down must not sign everyone out), and only with no good set
  at all is the failure `SsoUnavailable`.
- An unknown kid may trigger one refetch per directory per cooldown (5 min):
  rotation is picked up at once, and a flood of forged kids cannot hammer
  Entra. The first (cold) fetch does not start the cooldown.
- One fetch at a time per directory: a cold start under load fetches once.
- Keys are parsed once (PyJWT's PyJWK), so validation costs a dict lookup.
PyJWKClient is not used: it fetches with urllib, which ignores
REQUESTS_CA_BUNDLE, and its defaults do not fit Entra.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from shared.errors import SsoUnavailable

DAY = 24 * 3600.0
COOLDOWN = 300.0

Fetch = Callable[[str], Mapping[str, Any]]


@dataclass
class _Entry:
    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float | None = None
    unknown_kid_refetch_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Any]:
    """kid -> public key, for the RSA signing keys of a JWKS; unusable keys skipped."""
    keys: dict[str, Any] = {}
    for jwk in document.get("keys", []) if isinstance(document.get("keys"), list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(jwk, algorithm="RS256").key
        except jwt.PyJWTError:
            continue
    return keys


class KeyCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl: float = DAY,
        unknown_kid_cooldown: float = COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._cooldown = unknown_kid_cooldown
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get_keys(self, jwks_uri: str) -> Mapping[str, Any]:
        entry = self._entry(jwks_uri)
        with entry.lock:
            if entry.fetched_at is None or self._clock() - entry.fetched_at >= self._ttl:
                self._refresh(jwks_uri, entry)
            return dict(entry.keys)

    def refresh_for_unknown_kid(self, jwks_uri: str, kid: str) -> Mapping[str, Any]:
        """Refetch once for a kid we do not know, unless one did so within the cooldown."""
        entry = self._entry(jwks_uri)
        with entry.lock:
            if kid in entry.keys:  # another thread's refetch already brought it
                return dict(entry.keys)
            now = self._clock()
            recent = entry.unknown_kid_refetch_at
            if recent is None or now - recent >= self._cooldown:
                entry.unknown_kid_refetch_at = now
                self._refresh(jwks_uri, entry)
            return dict(entry.keys)

    def _entry(self, jwks_uri: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(jwks_uri, _Entry())

    def _refresh(self, jwks_uri: str, entry: _Entry) -> None:
        try:
            keys = parse_jwks(self._fetch(jwks_uri))
        except SsoUnavailable:
            if entry.keys:
                return  # keep the last good set
            raise
        if not keys:
            if entry.keys:
                return
            raise SsoUnavailable("Microsoft Entra ID published no usable signing key.")
        entry.keys = keys
        entry.fetched_at = self._clock()
