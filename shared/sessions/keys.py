"""The session signing key: an EC P-256 key kept in Key Vault, parsed once per version.

The key lives as the secret `session-signing-key` (PKCS8 PEM); its Key Vault
version is the `kid` of every access token it signs. `SessionKeyRing` caches
the current key and the previous version (still verifying tokens issued
before a rotation) for a TTL, creates the secret on first use, and keeps
serving the last good keys when Key Vault does not answer.

Only the standard library, cryptography and our own modules are imported
here: the Key Vault SDK stays behind the `SessionKeyStore` protocol, so
routes that only verify tokens load fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.errors import ConfigurationError, EntraBridgeError
from shared.secret import Secret

if TYPE_CHECKING:
    from shared.store.secrets import SecretValue, SecretVersion

log = logging.getLogger("entrabridge.session_keys")

# Must equal shared.store.secrets.SESSION_KEY_NAME (a unit test checks); not imported
# from there because that module loads azure.core (~110 ms) at import.
SESSION_KEY_SECRET = "session-signing-key"  # noqa: S105 (a name, not a secret)
ALGORITHM = "ES256"
PEM_CONTENT_TYPE = "application/x-pem-file"
# Key Vault's `created` has one-second resolution; this tag orders versions written
# within the same second (a rotation right after creation, racing instances).
CREATED_TAG = "entrabridge-created"

PublicKey = ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class SigningKey:
    """A parsed private key and its kid (the Key Vault version). Parse once, reuse."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_key: PublicKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.kid:
            raise ValueError("a signing key needs a kid")
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise ValueError("session signing keys are EC P-256 (ES256)")
        object.__setattr__(self, "public_key", self.private_key.public_key())

    @classmethod
    def from_pem(cls, kid: str, pem: str | Secret) -> SigningKey:
        text = pem.reveal() if isinstance(pem, Secret) else pem
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError):
            # The message never quotes the PEM.
            raise ValueError("not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("session signing keys are EC P-256 (ES256)")
        return cls(kid=kid, private_key=key)


def generate_private_key_pem() -> str:
    """A new EC P-256 private key as unencrypted PKCS8 PEM (Key Vault encrypts at rest)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def jwks_document(keys: Mapping[str, PublicKey]) -> dict[str, list[dict[str, str]]]:
    """The JWK Set for `/.well-known/jwks.json`: one EC P-256 JWK per kid, in order."""
    return {"keys": [public_jwk(kid, key) for kid, key in keys.items()]}


def public_jwk(kid: str, key: PublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "kid": kid,
        "use": "sig",
        "alg": ALGORITHM,
    }


class SessionKeyStore(Protocol):
    """What the ring needs from Key Vault; `shared.store.secrets.SecretStore` provides it."""

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
class _KeySet:
    current: SigningKey
    verification: Mapping[str, PublicKey]
    fresh_until: float


class SessionKeyRing:
    """The current signing key and the verification keys, cached per process.

    Thread-safe: one thread refreshes while the others wait for its result.
    Parsed keys are kept by kid for the life of the process (a version never
    changes), so a refresh that finds no new version parses nothing.
    """

    def __init__(
        self,
        store: SessionKeyStore,
        *,
        ttl_seconds: float = 600.0,
        retry_after_error_seconds: float = 30.0,
        unknown_kid_cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        secret_name: str = SESSION_KEY_SECRET,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._retry_after_error = retry_after_error_seconds
        self._unknown_kid_cooldown = unknown_kid_cooldown_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._name = secret_name
        self._keys: _KeySet | None = None
        self._parsed: dict[str, SigningKey] = {}
        self._last_unknown_kid_refresh: float | None = None
        self._lock = threading.Lock()

    # --- public ----------------------------------------------------------------------

    def current(self) -> SigningKey:
        """The key to sign with; creates the secret when the vault has none."""
        return self._key_set().current

    def verification_keys(self, *, kid: str | None = None) -> Mapping[str, PublicKey]:
        """kid -> public key for the current and the previous version.

        Pass the `kid` of a token that names a key not in the last answer: the
        ring then re-reads the vault (at most once per cooldown, so a flood of
        made-up kids cannot hammer Key Vault); that is how a rotation made by
        another instance is picked up before the TTL runs out.
        """
        keys = self._key_set()
        if kid is None or kid in keys.verification:
            return keys.verification
        with self._lock:
            keys = self._keys or keys
            if kid in keys.verification:
                return keys.verification
            now = self._clock()
            last = self._last_unknown_kid_refresh
            if last is not None and now - last < self._unknown_kid_cooldown:
                return keys.verification
            self._last_unknown_kid_refresh = now
            return self._refresh_locked(now, create=False).verification

    def rotate(self) -> SigningKey:
        """Store a new version and sign with it from now on (operators, tests).

        The previous version stays in `verification_keys()`, so tokens signed
        before the rotation keep verifying until they expire. Other instances
        adopt the new key within the TTL, and verify it at once (unknown kid).
        """
        with self._lock:
            self._create_version()
            return self._refresh_locked(self._clock(), create=False).current

    def invalidate(self) -> None:
        """Forget the cached key set (parsed keys stay: versions are immutable)."""
        with self._lock:
            self._keys = None

    # --- internals -------------------------------------------------------------------

    def _key_set(self) -> _KeySet:
        keys = self._keys  # one attribute read: the fast path takes no lock
        if keys is not None and keys.fresh_until > self._clock():
            return keys
        with self._lock:
            keys = self._keys
            now = self._clock()
            if keys is not None and keys.fresh_until > now:
                return keys
            return self._refresh_locked(now, create=True)

    def _refresh_locked(self, now: float, *, create: bool) -> _KeySet:
        try:
            versions = self._usable_versions()
            if not versions:
                if not create:
                    raise ConfigurationError("The session signing key is missing.")
                self._create_version()
                versions = self._usable_versions()
            keys = self._load(versions, now)
        except EntraBridgeError:
            stale = self._keys
            if stale is None:
                raise
            # Signing with a key a few minutes old is harmless; failing every
            # sign-in because Key Vault hiccuped is not. Retry soon.
            log.warning("session keys: Key Vault refresh failed; keeping the cached keys")
            keys = _KeySet(stale.current, stale.verification, now + self._retry_after_error)
        self._keys = keys
        return keys

    def _usable_versions(self) -> list[SecretVersion]:
        versions = [v for v in self._store.list_versions(self._name) if v.enabled]
        return sorted(versions, key=_newest_first_key, reverse=True)

    def _load(self, versions: Sequence[SecretVersion], now: float) -> _KeySet:
        if not versions:
            raise ConfigurationError("The session signing key is missing.")
        current = self._parse(versions[0].version)
        if current is None:
            raise ConfigurationError("The session signing key in Key Vault is not usable.")
        verification: dict[str, PublicKey] = {current.kid: current.public_key}
        # The previous version verifies tokens signed before the last rotation.
        for version in versions[1:]:
            previous = self._parse(version.version)
            if previous is not None:
                verification[previous.kid] = previous.public_key
                break
        return _KeySet(current, MappingProxyType(verification), now + self._ttl)

    def _parse(self, version: str) -> SigningKey | None:
        cached = self._parsed.get(version)
        if cached is not None:
            return cached
        stored = self._store.get_secret_version(self._name, version)
        if stored is None:
            return None
        try:
            key = SigningKey.from_pem(version, stored.value)
        except ValueError:
            log.error("session keys: version %s is not an EC P-256 PEM; ignored", version)
            return None
        self._parsed[version] = key
        return key

    def _create_version(self) -> None:
        # Racing instances may each create one; the newest wins and the older
        # one stays verifiable as "previous".
        self._store.set_secret(
            self._name,
            Secret(generate_private_key_pem()),
            tags={CREATED_TAG: f"{self._wall_clock():.6f}", "alg": ALGORITHM},
            content_type=PEM_CONTENT_TYPE,
        )


def _newest_first_key(version: SecretVersion) -> tuple[dt.datetime, float]:
    created = version.created_on or dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        precise = float(version.tags.get(CREATED_TAG, "0"))
    except ValueError:
        precise = 0.0
    return created, precise


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
