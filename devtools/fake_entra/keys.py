"""Signing keys as Entra publishes them: RSA 2048 with a self-signed certificate,
`kid` = `x5t` = the certificate's SHA-1 thumbprint, base64url.

Entra signs every tenant's tokens with the same keys, which is why a
multi-tenant app must check `iss`/`tid`: the ring here is shared by all hosted
directories for the same reason. A key can be published (in the JWKS) or not,
and any key, published or not, can be the one that signs.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.local")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * 5))
            .sign(key, hashes.SHA256())
        )
        kid = b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - x5t is SHA-1 by definition
        return cls(kid=kid, private_key=key, certificate=cert)

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self, issuer: str) -> dict[str, Any]:
        """The JWKS entry, with the fields Entra's v2.0 keys document carries."""
        numbers = self.private_key.public_key().public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
            "x5c": [base64.b64encode(der).decode("ascii")],
            "cloud_instance_name": "microsoftonline.com",
            "issuer": issuer,
        }


@dataclass(frozen=True)
class KeyRingState:
    keys: tuple[SigningKey, ...]
    published: tuple[str, ...]
    active: str


class KeyRing:
    """Thread-safe set of keys: which are published, which one signs."""

    def __init__(self, count: int = 2) -> None:
        if count < 1:
            raise ValueError("A key ring needs at least one key.")
        keys = tuple(SigningKey.generate() for _ in range(count))
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {k.kid: k for k in keys}
        self._published: list[str] = [k.kid for k in keys]
        self._active = keys[0].kid
        self._spare: SigningKey | None = None
        self._initial = self.snapshot()

    # --- reading ---------------------------------------------------------------------

    @property
    def active(self) -> SigningKey:
        with self._lock:
            return self._keys[self._active]

    @property
    def published_kids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._published)

    def get(self, kid: str) -> SigningKey:
        with self._lock:
            return self._keys[kid]

    def find(self, kid: str) -> SigningKey | None:
        with self._lock:
            return self._keys.get(kid)

    def jwks(self, issuer: str) -> dict[str, Any]:
        with self._lock:
            keys = [self._keys[kid] for kid in self._published]
        return {"keys": [key.jwk(issuer) for key in keys]}

    def spare(self) -> SigningKey:
        """A key that is never published: what an "unknown key" attack signs with."""
        with self._lock:
            if self._spare is None:
                self._spare = SigningKey.generate()
            return self._spare

    # --- changing --------------------------------------------------------------------

    def add(self, *, publish: bool = True, use: bool = False) -> str:
        """A new key; published (or not yet), signing (or not yet). Returns its kid."""
        key = SigningKey.generate()
        with self._lock:
            self._keys[key.kid] = key
            if publish:
                self._published.append(key.kid)
            if use:
                self._active = key.kid
        return key.kid

    def publish(self, kid: str) -> None:
        with self._lock:
            self._require(kid)
            if kid not in self._published:
                self._published.append(kid)

    def unpublish(self, kid: str) -> None:
        with self._lock:
            self._require(kid)
            if kid in self._published:
                self._published.remove(kid)

    def use(self, kid: str) -> None:
        """Sign with this key from now on, whether it is published or not."""
        with self._lock:
            self._require(kid)
            self._active = kid

    def rotate(self, *, drop_old: bool = False) -> str:
        """Publish a new key and sign with it; `drop_old` unpublishes the key it replaces."""
        key = SigningKey.generate()
        with self._lock:
            previous = self._active
            self._keys[key.kid] = key
            self._published.append(key.kid)
            self._active = key.kid
            if drop_old and previous in self._published:
                self._published.remove(previous)
        return key.kid

    def snapshot(self) -> KeyRingState:
        with self._lock:
            return KeyRingState(tuple(self._keys.values()), tuple(self._published), self._active)

    def restore(self, state: KeyRingState | None = None) -> None:
        """Back to a snapshot, by default the keys as they were when the ring was made."""
        target = state or self._initial
        with self._lock:
            self._keys = {k.kid: k for k in target.keys}
            self._published = list(target.published)
            self._active = target.active

    def _require(self, kid: str) -> None:
        if kid not in self._keys:
            raise KeyError(f"No key with kid {kid!r} in the ring.")
