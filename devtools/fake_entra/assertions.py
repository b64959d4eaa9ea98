"""Client authentication with a certificate (RFC 7523 private_key_jwt), as Entra
checks it: the assertion's header names a certificate uploaded to the app
(`x5t#S256`, or the legacy `x5t`), its signature verifies with that certificate's
key (PS256 or RS256), `aud` is this token endpoint, `iss` and `sub` are the
client id, it has not expired, and it has a `jti` that no other assertion used.
(The same assertion may come again: MSAL keeps one until shortly before it
expires, as Entra allows.)"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from devtools.fake_entra.errors import AadError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_seen_lock = threading.Lock()
_seen_jtis: dict[str, str] = {}  # jti -> the assertion's SHA-256


def _thumbprint(der: bytes, algorithm: str) -> str:
    digest = hashlib.new(algorithm, der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_assertion(
    assertion: str, *, client_id: str, certificates: Iterable[str], token_endpoint: str
) -> AadError | None:
    """None when the assertion authenticates `client_id`; Entra's error otherwise."""
    rejected = AadError(
        "invalid_client",
        700027,
        "Client assertion failed signature validation, or names a certificate the "
        "application does not have.",
        401,
    )
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return rejected
    # base64url; MSAL keeps the padding, RFC 7515 drops it: compared without.
    wanted_sha256 = str(header.get("x5t#S256") or "").rstrip("=")
    wanted_sha1 = str(header.get("x5t") or "").rstrip("=")
    key = None
    for pem in certificates:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        der = cert.public_bytes(Encoding.DER)
        if wanted_sha256 == _thumbprint(der, "sha256") or wanted_sha1 == _thumbprint(der, "sha1"):
            key = cert.public_key()
            break
    if key is None:
        return rejected
    try:
        claims = jwt.decode(
            assertion,
            key,  # type: ignore[arg-type]
            algorithms=["PS256", "RS256"],
            audience=token_endpoint,
            issuer=client_id,
            options={"require": ["exp", "aud", "iss", "sub", "jti"]},
            leeway=60,
        )
    except jwt.ExpiredSignatureError:
        return AadError(
            "invalid_client", 700024, "Client assertion is not within its valid time range.", 401
        )
    except jwt.PyJWTError:
        return rejected
    if claims.get("sub") != client_id:
        return rejected
    fingerprint = hashlib.sha256(assertion.encode("ascii")).hexdigest()
    with _seen_lock:
        if _seen_jtis.setdefault(str(claims["jti"]), fingerprint) != fingerprint:
            return AadError(
                "invalid_client", 700027, "Another client assertion used this jti.", 401
            )
    return None
