"""The sessions entrabridge issues: access tokens, refresh-token rotation, cookies.

Pure given keys and a clock. Access tokens are ES256 JWTs with their own
`typ` (`at+jwt`, RFC 9068), issuer and audience, so an Entra ID token can
never pass as ours nor ours as an Entra token (RFC 8725 2.8). Refresh tokens
are opaque to clients; only their sha256 is stored, and each is good for one
use: a second use revokes its whole family (RFC 9700 4.14.2), for the last
`USED_TOKENS_KEPT` tokens of a family (an older one is only refused).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import jwt

from shared.errors import InvalidGrant, Unauthorized
from shared.jwt_decode import Refusals, decode_verified
from shared.sessions.keys import ALGORITHM, PublicKey, SigningKey

ACCESS_TOKEN_TTL = 900
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type)
# Not a URL and not a GUID: no Entra audience (client id or App ID URI) can equal it.
ACCESS_TOKEN_AUDIENCE = "entrabridge"  # noqa: S105 (an audience)
MAX_LEEWAY = 60
# Header parameters that point at keys elsewhere, or demand extensions: never honoured.
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "tenant", "sid", "jti"]
_REFUSALS = Refusals(
    error=Unauthorized,
    what="The access token",
    audience="is not for this service (aud)",
    issuer="was not issued by this service (iss)",
)
_TYPES = (ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}")

Provider = Literal["microsoft", "password"]
_PROVIDERS: tuple[Provider, ...] = ("microsoft", "password")


def session_issuer(public_base_url: str) -> str:
    """Our `iss`: the service's public origin (PUBLIC_BASE_URL, no trailing slash)."""
    return public_base_url.rstrip("/")


# --- access tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionClaims:
    """What an access token says about its user.

    `iat`, `exp` and `jti` are set by `issue_access_token` (their values on
    input are ignored) and filled in by `verify_access_token`.
    """

    sub: str
    tenant: str
    sid: str
    provider: Provider
    customer_id: str | None = None
    email: str | None = None
    name: str | None = None
    profiles: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    iat: int = 0
    exp: int = 0
    jti: str = ""

    def has_role(self, role: str) -> bool:
        return role in self.roles


class UnknownSessionKey(Unauthorized):
    """The token's kid is not among the keys: the caller may refresh its keys once."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__("The access token is signed with an unknown key (kid).")


def issue_access_token(
    *,
    key: SigningKey,
    claims: SessionClaims,
    issuer: str,
    audience: str = ACCESS_TOKEN_AUDIENCE,
    now: float,
    ttl: int = ACCESS_TOKEN_TTL,
) -> str:
    iat = int(now)
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": claims.sub,
        "tenant": claims.tenant,
        "customer_id": claims.customer_id,
        "email": claims.email,
        "name": claims.name,
        "profiles": list(claims.profiles),
        "roles": list(claims.roles),
        "provider": claims.provider,
        "sid": claims.sid,
        "iat": iat,
        "exp": iat + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers=headers)


def verify_access_token(
    raw: str,
    *,
    keys: Mapping[str, PublicKey],
    issuer: str,
    audience: str = ACCESS_TOKEN_AUDIENCE,
    now: float,
    leeway: int = 30,
) -> SessionClaims:
    """Verify one of our access tokens; `Unauthorized` names the failed check."""
    leeway = min(leeway, MAX_LEEWAY)
    key = _verification_key(raw, keys)
    claims = decode_verified(
        raw,
        key=key,
        algorithms=[ALGORITHM],
        audience=audience,
        issuer=issuer,
        required=_REQUIRED,
        refusals=_REFUSALS,
    )
    exp, iat = _integer(claims, "exp"), _integer(claims, "iat")
    if now > exp + leeway:
        raise Unauthorized("The access token has expired (exp).")
    if now + leeway < iat:
        raise Unauthorized("The access token was issued in the future (iat).")
    provider = claims.get("provider")
    if provider not in _PROVIDERS:
        raise Unauthorized("The access token's 'provider' claim is not valid.")
    return SessionClaims(
        sub=_text(claims, "sub"),
        tenant=_text(claims, "tenant"),
        sid=_text(claims, "sid"),
        jti=_text(claims, "jti"),
        provider="microsoft" if provider == "microsoft" else "password",
        customer_id=_optional_text(claims, "customer_id"),
        email=_optional_text(claims, "email"),
        name=_optional_text(claims, "name"),
        profiles=_texts(claims, "profiles"),
        roles=_texts(claims, "roles"),
        iat=iat,
        exp=exp,
    )


class VerificationKeySource(Protocol):
    """`shared.sessions.keys.SessionKeyRing` is one."""

    def verification_keys(self, *, kid: str | None = None) -> Mapping[str, PublicKey]: ...


def verify_with_key_source(
    raw: str,
    *,
    source: VerificationKeySource,
    issuer: str,
    audience: str = ACCESS_TOKEN_AUDIENCE,
    now: float,
    leeway: int = 30,
) -> SessionClaims:
    """`verify_access_token` with the ring's keys, re-reading them once on an unknown kid
    (a rotation another instance made)."""

    def verify(keys: Mapping[str, PublicKey]) -> SessionClaims:
        return verify_access_token(
            raw, keys=keys, issuer=issuer, audience=audience, now=now, leeway=leeway
        )

    try:
        return verify(source.verification_keys())
    except UnknownSessionKey as unknown:
        return verify(source.verification_keys(kid=unknown.kid))


def _verification_key(raw: str, keys: Mapping[str, PublicKey]) -> PublicKey:
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise Unauthorized("The access token is malformed.") from None
    # The algorithm is pinned before any key is chosen (none, HS*, RS* refused).
    if header.get("alg") != ALGORITHM:
        raise Unauthorized("The access token is signed with an algorithm that is not allowed.")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise Unauthorized("The token is not an entrabridge access token (typ).")
    for name in _FORBIDDEN_HEADERS:
        if name in header:
            raise Unauthorized(f"The access token's header carries '{name}', which is refused.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("The access token's header has no key id (kid).")
    key = keys.get(kid)
    if key is None:
        raise UnknownSessionKey(kid[:128])
    return key


def _integer(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unauthorized(f"The access token's '{name}' claim is not an integer.")
    return value


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthorized(f"The access token's '{name}' claim is not valid.")
    return value


def _optional_text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unauthorized(f"The access token's '{name}' claim is not valid.")
    return value


def _texts(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = claims.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthorized(f"The access token's '{name}' claim is not a list of strings.")
    return tuple(value)


# --- refresh tokens -----------------------------------------------------------------------
#
# A family is one sign-in's chain of refresh tokens, kept as ONE record: the hash of
# the token that is good now, plus short fingerprints of the ones already used. A
# token names its family (`{user_id}.{family_id}.{secret}`), so a refresh is a point
# read and one conditional write, and a sign-in writes a single row.

REFRESH_ABSOLUTE_TTL = 30 * 24 * 3600
REFRESH_IDLE_TTL = 7 * 24 * 3600
# Reuse of the last this-many used tokens revokes the family; an older one is merely
# refused (about 25 hours of continuous 15-minute refreshes).
USED_TOKENS_KEPT = 100
_FINGERPRINT_LENGTH = 16  # hex digits of the sha256: 64 bits, enough to recognise a token
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_FAMILY_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def hash_refresh_token(token: str) -> str:
    # The token carries 256 random bits, so a plain hash is enough (no salt, no KDF).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fingerprint(token_hash: str) -> str:
    return token_hash[:_FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class RefreshFamily:
    """One sign-in's refresh tokens; times are epoch seconds.

    `current_hash` is the sha256 of the one token that may be used now; `used` holds
    fingerprints of earlier ones, newest first. `entra_sid` is the Entra sign-in
    session (`sid` of the ID token) that started the family: Entra's front-channel
    logout names only that.
    """

    family_id: str
    user_id: str
    tenant: str
    current_hash: str
    issued_at: float
    expires_at: float
    idle_expires_at: float
    used: tuple[str, ...] = ()
    revoked: bool = False
    entra_sid: str | None = None


@dataclass(frozen=True)
class RefreshTokenId:
    """What a refresh token says about itself: where its family is. Not a credential."""

    user_id: str
    family_id: str


def new_refresh_token(user_id: str, family_id: str) -> tuple[str, str]:
    """(token for the client, sha256 hex to store). Only the hash is ever stored."""
    if not _USER_ID.fullmatch(user_id) or not _FAMILY_ID.fullmatch(family_id):
        raise ValueError("a refresh token names a well-formed user id and family id")
    token = f"{user_id}.{family_id}.{secrets.token_urlsafe(32)}"
    return token, hash_refresh_token(token)


def parse_refresh_token(token: str) -> RefreshTokenId | None:
    """The family a token names, or None when it has not our shape."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    user_id, family_id, secret = parts
    if not (
        _USER_ID.fullmatch(user_id)
        and _FAMILY_ID.fullmatch(family_id)
        and _SECRET.fullmatch(secret)
    ):
        return None
    return RefreshTokenId(user_id=user_id, family_id=family_id)


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


def start_family(
    *,
    user_id: str,
    tenant: str,
    now: float,
    entra_sid: str | None = None,
    absolute_ttl: float = REFRESH_ABSOLUTE_TTL,
    idle_ttl: float = REFRESH_IDLE_TTL,
) -> tuple[RefreshFamily, str]:
    """A new family (a sign-in) and its first token; the family id is the session's `sid`."""
    family_id = new_family_id()
    token, token_hash = new_refresh_token(user_id, family_id)
    expires_at = now + absolute_ttl
    family = RefreshFamily(
        family_id=family_id,
        user_id=user_id,
        tenant=tenant,
        current_hash=token_hash,
        issued_at=now,
        expires_at=expires_at,
        idle_expires_at=min(now + idle_ttl, expires_at),
        entra_sid=entra_sid,
    )
    return family, token


def rotated(
    family: RefreshFamily, *, now: float, idle_ttl: float = REFRESH_IDLE_TTL
) -> tuple[RefreshFamily, str]:
    """The family after a rotation, and the new token: the current token joins the used
    ones, the idle window slides, the absolute expiry stays."""
    token, token_hash = new_refresh_token(family.user_id, family.family_id)
    used = (_fingerprint(family.current_hash), *family.used)[:USED_TOKENS_KEPT]
    successor = replace(
        family,
        current_hash=token_hash,
        issued_at=now,
        idle_expires_at=min(now + idle_ttl, family.expires_at),
        used=used,
    )
    return successor, token


@dataclass(frozen=True)
class Rotate:
    """Good: replace the family's current token (only if the family is unchanged)."""

    family: RefreshFamily


@dataclass(frozen=True)
class Refuse:
    """Refuse the grant; nothing to change."""

    reason: str

    def error(self) -> InvalidGrant:
        return InvalidGrant(self.reason)


@dataclass(frozen=True)
class RevokeFamily:
    """A used token came back: someone holds a copy. Revoke the family, then refuse."""

    family: RefreshFamily
    reason: str = "The refresh token was already used; the session is revoked."

    def error(self) -> InvalidGrant:
        return InvalidGrant(self.reason)


RefreshDecision = Rotate | Refuse | RevokeFamily


def decide_refresh(family: RefreshFamily | None, token_hash: str, *, now: float) -> RefreshDecision:
    """What presenting the token with `token_hash` to `family` (its stored family) means."""
    if family is None:
        return Refuse("The refresh token is not valid.")
    current = hmac.compare_digest(token_hash, family.current_hash)
    used = not current and _fingerprint(token_hash) in family.used
    if not current and not used:
        # Names a real family but is none of its tokens: a guess, not a leak. Revoking
        # here would let anyone who saw a session id end that session.
        return Refuse("The refresh token is not valid.")
    if family.revoked:
        return Refuse("The refresh token was revoked.")
    if now >= family.expires_at:
        return Refuse("The refresh token has expired.")
    # Reuse is checked before the idle window: the family's newest token may still be
    # alive even when this old one idled out.
    if used:
        return RevokeFamily(family)
    if now >= family.idle_expires_at:
        return Refuse("The refresh token expired after inactivity.")
    return Rotate(family)


class RefreshConflict(Exception):
    """A rotation lost a race: the family changed since it was read (treat as reuse)."""
