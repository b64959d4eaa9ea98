"""A local certificate authority for the HTTPS stand-ins (dev and tests only).

On first use it writes, under ``.local/ca/`` (or a given folder):
- ``ca.pem`` / ``ca-key.pem``: a self-signed CA;
- ``server.pem`` / ``server-key.pem``: a certificate for localhost/127.0.0.1/::1;
- ``bundle.pem``: the system CA bundle plus ``ca.pem``.

Point ``REQUESTS_CA_BUNDLE`` at ``bundle.pem`` and every outbound call of the
project (requests, MSAL, azure-core) trusts the stand-ins and the real hosts.
Creating files is guarded by a lock file so parallel test workers agree.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = PROJECT_ROOT / ".local" / "ca"
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class LocalCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    bundle: Path


def ensure_local_ca(directory: Path | None = None) -> LocalCA:
    """Create the CA, the loopback server certificate and the bundle if absent."""
    folder = directory or Path(os.environ.get("ENTRABRIDGE_CA_DIR", DEFAULT_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    paths = LocalCA(
        ca_cert=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        bundle=folder / "bundle.pem",
    )
    with _locked(folder / ".lock"):
        if not (paths.ca_cert.exists() and paths.server_cert.exists() and paths.bundle.exists()):
            _create(folder, paths)
    return paths


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(folder: Path, paths: LocalCA) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entrabridge local dev CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1")]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(folder / "ca-key.pem", _private_pem(ca_key))
    _write(paths.ca_cert, ca_cert.public_bytes(pem))
    _write(paths.server_key, _private_pem(server_key))
    _write(paths.server_cert, server_cert.public_bytes(pem))
    _write(paths.bundle, _system_bundle() + b"\n" + ca_cert.public_bytes(pem))


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _system_bundle() -> bytes:
    for candidate in SYSTEM_BUNDLES:
        if os.path.exists(candidate):
            return Path(candidate).read_bytes()
    try:
        import certifi  # requests depends on it, so it is normally there

        return Path(certifi.where()).read_bytes()
    except ImportError:
        return b""


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def server_ssl_context(ca: LocalCA | None = None) -> ssl.SSLContext:
    """An SSL context serving the loopback certificate (for werkzeug/http.server)."""

    paths = ca or ensure_local_ca()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(paths.server_cert), str(paths.server_key))
    return context


if __name__ == "__main__":
    created = ensure_local_ca()
    print(created.bundle)
