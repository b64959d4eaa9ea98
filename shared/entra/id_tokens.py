"""Entra ID token validation: pure, given the directory's keys and a clock.

MSAL no longer validates ID tokens (and never checked signatures), so this is
the only validation there is. Steps are numbered after OpenID Connect Core
3.1.3.7; every refusal is `InvalidIdToken` naming the check, never quoting the
token or a claim value.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from shared.errors import InvalidIdToken
from shared.jwt_decode import Refusals, checked_kid, decode_verified

ALLOWED_ALGORITHMS = ("RS256",)
MAX_LEEWAY = 300
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "oid", "tid", "nonce", "ver"]
_REFUSALS = Refusals(
    error=InvalidIdToken,
    what="The ID token",
    audience="is not for this application (aud)",
    issuer="was not issued by this directory (iss)",
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Entra ID tokens are a few KiB (a groups claim stops at 200 ids); the bound keeps an
# oversized string from costing parse time before the signature is checked.
_MAX_TOKEN = 64 * 1024
_MAX_HEADER = 2048
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class UnknownSigningKey(InvalidIdToken):
    """The token's kid is not among the keys: the caller may refetch JWKS once and retry."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__("The ID token is signed with an unknown key.")


@dataclass(frozen=True)
class IdClaims:
    """What a validated ID token says about the person. Claims, not secrets, but
    personal data: `claims` stays out of repr so a logged IdClaims stays short."""

    oid: str
    tid: str
    sub: str
    name: str | None
    email: str | None  # the raw claim: mutable and possibly unverified, never a key
    preferred_username: str | None
    groups: tuple[str, ...] | None  # lowercased object ids; None when the claim is absent
    has_groups_overage: bool
    sid: str | None
    nonce: str
    iat: int
    exp: int
    claims: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )


def validate_id_token(
    raw: str,
    *,
    keys: Mapping[str, Any],
    issuer_host: str,
    tenant_id: str,
    client_id: str,
    nonce_hash: str,
    now: float,
    leeway: int = MAX_LEEWAY,
) -> IdClaims:
    """Validate an Entra v2.0 ID token for one tenant's app registration.

    `keys` maps kid -> an `RSAPublicKey` (or a `jwt.PyJWK` bound to RS256), as
    `shared.entra.keys.KeyCache` returns them. A kid not in `keys` raises
    `UnknownSigningKey`, so the caller can refetch the key set once and retry.

    `nonce_hash` is the nonce the authorize request carried. MSAL generates a
    flow nonce and sends its sha256 hex digest as the `nonce` parameter, so
    the token's `nonce` claim equals that digest, not the flow's raw value.

    `now` is the wall clock (seconds since the epoch); skew is capped at 5 minutes.
    """
    leeway = max(0, min(leeway, MAX_LEEWAY))
    tenant = tenant_id.lower()
    expected_issuer = f"{issuer_host.rstrip('/')}/{tenant}/v2.0"
    key = _signing_key(raw, keys)
    # 1, 2, 3, 6: signature by the directory's key with the pinned algorithm, iss
    # exactly the configured directory's v2.0 issuer, aud exactly our client id (a
    # list, even one naming us among others, is refused).
    claims = decode_verified(
        raw,
        key=key,
        algorithms=ALLOWED_ALGORITHMS,
        audience=client_id,
        issuer=expected_issuer,
        required=_REQUIRED,
        refusals=_REFUSALS,
    )
    # 2: the configured directory, v2.0 only. iss was compared with the issuer built
    # from the configured tenant; tid must name that same tenant, so iss == host/tid/v2.0.
    if claims["ver"] != "2.0":
        raise InvalidIdToken("Only v2.0 ID tokens are accepted (ver).")
    if not _is_uuid(claims["tid"]) or claims["tid"] != tenant:
        raise InvalidIdToken("The ID token is from another directory (tid).")
    if not _is_uuid(claims["oid"]):
        raise InvalidIdToken("The ID token's object id (oid) is not a UUID.")
    # 4, 5 (azp) do not apply: aud is a single value, exactly our client id.
    # 7 (TLS may replace the signature) is not relied on; 8 (HS* keyed by the client
    # secret) is refused with every algorithm but RS256.
    # 9: exp is in the future; 10: iat (and nbf) not in the future; skew <= leeway.
    exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
    if now >= exp + leeway:
        raise InvalidIdToken("The ID token has expired (exp).")
    if nbf > now + leeway:
        raise InvalidIdToken("The ID token is not valid yet (nbf).")
    if iat > now + leeway:
        raise InvalidIdToken("The ID token was issued in the future (iat).")
    # 11: the nonce binds the token to this sign-in attempt. Bytes, because
    # compare_digest refuses non-ASCII str (a TypeError would be a 500).
    nonce = claims["nonce"]
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), nonce_hash.encode()):
        raise InvalidIdToken("The ID token's nonce does not match this sign-in.")
    # 12, 13 (acr, auth_time) are not requested, so not checked.
    return IdClaims(
        oid=claims["oid"],
        tid=claims["tid"],
        sub=claims["sub"],  # PyJWT checked it is a string
        name=_text(claims.get("name")),
        email=_text(claims.get("email")),
        preferred_username=_text(claims.get("preferred_username")),
        groups=_groups(claims.get("groups")),
        has_groups_overage=_has_overage(claims),
        sid=_text(claims.get("sid")),
        nonce=nonce,
        iat=int(iat),
        exp=int(exp),
        claims=MappingProxyType(claims),
    )


def unverified_tenant(raw: str) -> str | None:
    """The `tid` an ID token claims, read WITHOUT verifying anything: only to choose
    the directory whose issuer and keys `validate_id_token` must then verify it
    against (a multitenant app's token names its directory itself). None unless a
    well-formed token carries a UUID there."""
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return tid if _is_uuid(tid) and isinstance(tid, str) else None


def email_from_claims(claims: IdClaims) -> str | None:
    """`email`, else an email-shaped `preferred_username` (the UPN), else None.

    Display case is kept; compare with `shared.signin.provisioning.email_key`.
    """
    for candidate in (claims.email, claims.preferred_username):
        if candidate and _EMAIL.fullmatch(candidate.strip()):
            return candidate.strip()
    return None


def _signing_key(raw: str, keys: Mapping[str, Any]) -> Any:
    # 6: RS256 only (none, HS*, ES*, PS* refused), pinned before any key is chosen.
    kid = checked_kid(_unverified_header(raw), algorithms=ALLOWED_ALGORITHMS, refusals=_REFUSALS)
    key = keys.get(kid)
    if key is None:
        raise UnknownSigningKey(kid[:128])
    if isinstance(key, RSAPublicKey) or (
        isinstance(key, jwt.PyJWK) and key.algorithm_name in ALLOWED_ALGORITHMS
    ):
        return key
    # A PEM string would be re-parsed per token, anything else is not an RS256 key.
    raise InvalidIdToken("The ID token's signing key is not acceptable.")


def _unverified_header(raw: str) -> dict[str, Any]:
    """The header, read only to choose the key; PyJWT then parses and verifies the
    whole token. Not jwt.get_unverified_header: it decodes all three segments with a
    per-character check, which would double the cost of a validation."""
    if not isinstance(raw, str) or len(raw) > _MAX_TOKEN:
        raise InvalidIdToken("The ID token is malformed.")
    head, _, rest = raw.partition(".")
    if not head or len(head) > _MAX_HEADER or rest.count(".") != 1:
        raise InvalidIdToken("The ID token is malformed.")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidIdToken("The ID token is malformed.") from None
    if not isinstance(header, dict):
        raise InvalidIdToken("The ID token is malformed.")
    return header


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    try:
        # JSON allows Infinity, NaN and 400-digit integers; none is a time.
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidIdToken(f"The ID token's '{name}' claim is not a number.")
    return number


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _groups(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(g.lower() for g in value if isinstance(g, str))


def _has_overage(claims: Mapping[str, Any]) -> bool:
    names = claims.get("_claim_names")
    return (isinstance(names, dict) and "groups" in names) or claims.get("hasgroups") is True
