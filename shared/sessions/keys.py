"""The session signing key: an EC P-256 key kept in Key Vault, parsed once per version.

The key lives as the secret `session-signing-key` (PKCS8 PEM); its Key Vault
version is the `kid` of every access token it signs. `SessionKeyRing` is a
`shared.store.key_ring.KeyRing` of these keys: the current one signs, it and
the previous version verify (tokens issued before a rotation).

Only the standard library, cryptography and our own modules are imported
here: the Key Vault SDK stays behind the `VersionedSecrets` protocol, so
routes that only verify tokens load fast.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.secret import Secret
from shared.store.key_ring import CREATED_TAG, KeyKind, KeyRing, VersionedSecrets

__all__ = ["CREATED_TAG", "SessionKeyRing", "SigningKey"]

# Must equal shared.store.secrets.SESSION_KEY_NAME (a unit test checks); not imported
# from there because that module loads azure.core (~110 ms) at import.
SESSION_KEY_SECRET = "session-signing-key"  # noqa: S105 (a name, not a secret)
ALGORITHM = "ES256"
PEM_CONTENT_TYPE = "application/x-pem-file"

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


SessionKeyStore = VersionedSecrets


def _parse_signing_key(kid: str, value: Secret) -> SigningKey:
    return SigningKey.from_pem(kid, value)


SESSION_KEYS = KeyKind(
    secret_name=SESSION_KEY_SECRET,
    what="session signing key",
    parse=_parse_signing_key,
    generate=generate_private_key_pem,
    content_type=PEM_CONTENT_TYPE,
    tags={"alg": ALGORITHM},
    # A token lives 15 minutes, and an instance may sign with the old key for up to
    # its 10-minute key cache after a rotation: 30 minutes covers both, with margin.
    previous_for=30 * 60,
)


class SessionKeyRing(KeyRing[SigningKey]):
    """The current signing key and the verification keys (shared.store.key_ring)."""

    def __init__(
        self, store: VersionedSecrets, *, secret_name: str = SESSION_KEY_SECRET, **options: Any
    ) -> None:
        kind = SESSION_KEYS
        if secret_name != SESSION_KEY_SECRET:
            kind = dataclasses.replace(kind, secret_name=secret_name)
        super().__init__(store, kind, **options)
        self._public: tuple[Mapping[str, SigningKey], Mapping[str, PublicKey]] | None = None

    def current(self) -> SigningKey:
        """The key to sign with; creates the secret when the vault has none."""
        return self.current_key()[1]

    def verification_keys(self, *, kid: str | None = None) -> Mapping[str, PublicKey]:
        """kid -> public key for the current and the previous version (an unknown `kid`
        re-reads the vault, at most once per cooldown)."""
        keys = self.keys_by_kid(kid=kid)
        cached = self._public  # per key set, not per call: this is every request's path
        if cached is None or cached[0] is not keys:
            public = MappingProxyType({k: key.public_key for k, key in keys.items()})
            cached = self._public = (keys, public)
        return cached[1]

    def rotate(self) -> SigningKey:
        """Store a new version and sign with it from now on (operators, tests); tokens
        signed before keep verifying until they expire."""
        return self.rotate_key()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
