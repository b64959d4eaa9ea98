"""Entra ID token validation: pure, given the directory's keys and a clock.

MSAL no longer validates ID tokens (and never checked signatures), so this is
the only validation there is. Steps follow OpenID Connect Core 3.1.3.7; every
refusal is `InvalidIdToken` naming the check, never quoting the token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from shared.errors import InvalidIdToken

ALLOWED_ALGORITHMS = ("RS256",)
MAX_LEEWAY = 300
# Header parameters that point at keys elsewhere, or demand extensions: never honoured.
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "oid", "tid", "nonce", "ver"]
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_HEADER = 2048
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UnknownSigningKey(InvalidIdToken):
    """The token's kid is not among the keys: the caller may refetch JWKS once and retry."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__("The ID token is signed with an unknown key.")


@dataclass(frozen=True)
class IdClaims:
    oid: str
    tid: str
    sub: str
    name: str | None
    email: str | None
    preferred_username: str | None
    groups: tuple[str, ...] | None
    has_groups_overage: bool
    sid: str | None
    iat: int
    exp: int


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
    """Validate an Entra v2.0 ID token for this tenant's app registration.

    `nonce_hash` is what the authorize request carried: MSAL sends the sha256 hex
    of its flow nonce, so that hash is what the token's `nonce` must equal.
    """
    leeway = min(leeway, MAX_LEEWAY)
    key = _signing_key(raw, keys)
    expected_issuer = f"{issuer_host}/{tenant_id}/v2.0"
    try:
        # 1-3, 6-8: signature with the directory's key, alg pinned, iss and aud exact.
        claims: dict[str, Any] = jwt.decode(
            raw,
            key=key,
            algorithms=list(ALLOWED_ALGORITHMS),
            audience=client_id,
            issuer=expected_issuer,
            options={
                "require": _REQUIRED,
                "strict_aud": True,
                # Times are checked below against the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as error:
        raise InvalidIdToken(f"The ID token has no '{error.claim}' claim.") from None
    except jwt.InvalidAudienceError:
        raise InvalidIdToken("The ID token is not for this application (aud).") from None
    except jwt.InvalidIssuerError:
        raise InvalidIdToken("The ID token was not issued by this directory (iss).") from None
    except jwt.InvalidSignatureError:
        raise InvalidIdToken("The ID token's signature is not valid.") from None
    except jwt.PyJWTError as error:
        raise InvalidIdToken(f"The ID token is malformed ({type(error).__name__}).") from None
    # 2: the directory is the configured one, and only v2.0 tokens are taken.
    if claims.get("ver") != "2.0":
        raise InvalidIdToken("Only v2.0 ID tokens are accepted (ver).")
    if not _is_uuid(claims.get("tid")) or claims["tid"] != tenant_id.lower():
        raise InvalidIdToken("The ID token is from another directory (tid).")
    if not _is_uuid(claims.get("oid")):
        raise InvalidIdToken("The ID token's object id (oid) is not a UUID.")
    # 9-10: exp, nbf and iat against the clock, with bounded skew.
    exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
    if now > exp + leeway:
        raise InvalidIdToken("The ID token has expired (exp).")
    if now + leeway < nbf:
        raise InvalidIdToken("The ID token is not valid yet (nbf).")
    if now + leeway < iat:
        raise InvalidIdToken("The ID token was issued in the future (iat).")
    # 11: the nonce binds the token to this sign-in attempt.
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, nonce_hash):
        raise InvalidIdToken("The ID token's nonce does not match this sign-in.")
    return IdClaims(
        oid=claims["oid"],
        tid=claims["tid"],
        sub=str(claims["sub"]),
        name=_text(claims.get("name")),
        email=_text(claims.get("email")),
        preferred_username=_text(claims.get("preferred_username")),
        groups=_groups(claims.get("groups")),
        has_groups_overage=_has_overage(claims),
        sid=_text(claims.get("sid")),
        iat=int(iat),
        exp=int(exp),
    )


def email_from_claims(claims: IdClaims) -> str | None:
    """`email`, else an email-shaped `preferred_username`, else None."""
    for candidate in (claims.email, claims.preferred_username):
        if candidate and _EMAIL.match(candidate.strip()):
            return candidate.strip()
    return None


def _signing_key(raw: str, keys: Mapping[str, Any]) -> Any:
    header = _unverified_header(raw)
    # 6: the algorithm is pinned before any key is chosen (none, HS*, ES* refused).
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidIdToken("The ID token is signed with an algorithm that is not allowed.")
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise InvalidIdToken(f"The ID token's header carries '{name}', which is refused.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidIdToken("The ID token's header has no key id (kid).")
    key = keys.get(kid)
    if key is None:
        raise UnknownSigningKey(kid[:128])
    return key


def _unverified_header(raw: str) -> dict[str, Any]:
    """The header, read only to choose the key; PyJWT then parses and verifies the whole
    token. Reading it here rather than with jwt.get_unverified_header halves the cost:
    PyJWT's per-character base64 check dominates validation time."""
    parts = raw.split(".")
    if len(parts) != 3 or not parts[0] or len(parts[0]) > _MAX_HEADER:
        raise InvalidIdToken("The ID token is malformed.")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidIdToken("The ID token is malformed.") from None
    if not isinstance(header, dict):
        raise InvalidIdToken("The ID token is malformed.")
    if "crit" in header:
        raise InvalidIdToken("The ID token's header carries 'crit', which is refused.")
    return header


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdToken(f"The ID token's '{name}' claim is not a number.")
    return float(value)


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _groups(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(g.lower() for g in value if isinstance(g, str))


def _has_overage(claims: Mapping[str, Any]) -> bool:
    names = claims.get("_claim_names")
    return (isinstance(names, dict) and "groups" in names) or claims.get("hasgroups") is True
