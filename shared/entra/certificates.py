"""Certificate credentials for Entra (pure): a key pair with a self-signed
certificate, kept in Key Vault as one PEM (private key, then certificate) in the
tenant's client-credential secret, and what MSAL needs to sign client assertions
with it (RFC 7523; MSAL signs PS256 with the certificate's SHA-256 thumbprint).

A tenant's credential is a secret or a certificate by its value's shape, so the
versions Key Vault keeps (current and previous, shared.signin.client_secrets) can
mix both kinds during a change from one to the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VALIDITY = dt.timedelta(days=365)
_KEY_MARKER = "-----BEGIN PRIVATE KEY-----"
_CERT_MARKER = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class NewCertificate:
    bundle_pem: str = field(repr=False)  # private key + certificate: Key Vault only
    certificate_pem: str  # public: for the admin to upload to the app registration
    thumbprint: str  # SHA-1, upper-case hex: what the Entra portal shows
    expires_on: dt.datetime


def new_certificate(*, subject: str, now: dt.datetime) -> NewCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64])])
    not_after = now + VALIDITY
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return NewCertificate(
        bundle_pem=key_pem + cert_pem,
        certificate_pem=cert_pem,
        thumbprint=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 (Entra's display)
        expires_on=not_after,
    )


def is_certificate(value: str) -> bool:
    return value.lstrip().startswith(_KEY_MARKER) and _CERT_MARKER in value


def msal_credential(value: str) -> str | dict[str, str]:
    """MSAL's `client_credential` for a stored credential: the secret as it is, or a
    certificate's private key and public certificate (MSAL then signs PS256 and
    sends the SHA-256 thumbprint and the certificate chain)."""
    if not is_certificate(value):
        return value
    start = value.index(_CERT_MARKER)
    return {"private_key": value[:start], "public_certificate": value[start:]}
