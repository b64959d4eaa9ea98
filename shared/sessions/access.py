"""The access tokens entrabridge issues (pure given keys and a clock).

ES256 JWTs with their own `typ` (`at+jwt`, RFC 9068), issuer and audience, so an
Entra ID token can never pass as ours nor ours as an Entra token (RFC 8725 2.8).
Refresh tokens are in shared.sessions.refresh, cookies in shared.sessions.cookies.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import jwt

from shared.errors import Unauthorized
from shared.jwt_decode import Refusals, checked_kid, decode_verified
from shared.sessions.keys import ALGORITHM, PublicKey, SigningKey

ACCESS_TOKEN_TTL = 900
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type)
# Not a URL and not a GUID: no Entra audience (client id or App ID URI) can equal it.
ACCESS_TOKEN_AUDIENCE = "entrabridge"  # noqa: S105 (an audience)
MAX_LEEWAY = 60
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
    expired_ok: bool = False,
) -> SessionClaims:
    """Verify one of our access tokens; `Unauthorized` names the failed check.
    `expired_ok`: a token past its exp still names its session (logout only: ending
    a session can only take access away)."""
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
    if now > exp + leeway and not expired_ok:
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
    expired_ok: bool = False,
) -> SessionClaims:
    """`verify_access_token` with the ring's keys, re-reading them once on an unknown kid
    (a rotation another instance made)."""

    def verify(keys: Mapping[str, PublicKey]) -> SessionClaims:
        return verify_access_token(
            raw,
            keys=keys,
            issuer=issuer,
            audience=audience,
            now=now,
            leeway=leeway,
            expired_ok=expired_ok,
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
    # ES256 only (none, HS*, RS* refused), pinned before any key is chosen.
    kid = checked_kid(header, algorithms=(ALGORITHM,), refusals=_REFUSALS)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise Unauthorized("The token is not an entrabridge access token (typ).")
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
