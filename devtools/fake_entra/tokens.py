"""ID and access tokens as Entra v2.0 issues them, with the attack switches applied.

Pure: every input (user, app, issuer, clock, keys, faults) comes in as an
argument. Tokens are encoded by hand rather than with PyJWT, which (rightly)
refuses to build the malformed tokens the attack switches ask for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devtools.fake_entra.directory import AppRegistration, Directory, User
from devtools.fake_entra.faults import Faults
from devtools.fake_entra.keys import KeyRing, SigningKey, b64url

ID_TOKEN_LIFETIME = 3600
ACCESS_TOKEN_LIFETIME = 3599
DEFAULT_GROUPS_LIMIT = 200  # what Entra puts in a JWT before switching to the overage form
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
WRONG_ISSUER_HOST = "https://login.attacker.invalid"


@dataclass(frozen=True)
class Subject:
    """Who the token is about and for: the inputs every ID token needs."""

    directory: Directory
    user: User
    app: AppRegistration
    scopes: tuple[str, ...]
    nonce: str | None
    sid: str


def pairwise_sub(tenant_id: str, oid: str, client_id: str) -> str:
    """Stable per user and app, different across apps: Entra's `sub` is pairwise."""
    digest = hashlib.sha256(f"{tenant_id}|{oid}|{client_id}".encode()).digest()
    return b64url(digest)


def id_token_claims(
    subject: Subject,
    *,
    issuer_host: str,
    now: int,
    groups_limit: int,
    faults: Faults,
    other_tenant_id: str,
) -> dict[str, Any]:
    """The v2.0 ID token payload; `other_tenant_id` feeds the cross-tenant attacks."""
    directory, user, app = subject.directory, subject.user, subject.app
    tid = directory.tenant_id
    claims: dict[str, Any] = {
        "aud": app.client_id,
        "iss": f"{issuer_host}/{tid}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + ID_TOKEN_LIFETIME,
    }
    if "profile" in subject.scopes:
        claims["name"] = user.name
        claims["preferred_username"] = user.upn
    if "email" in subject.scopes and user.email:
        claims["email"] = user.email
    claims.update(
        {
            "oid": user.oid,
            "rh": "0." + b64url(secrets.token_bytes(24)),
            "sid": subject.sid,
            "sub": pairwise_sub(tid, user.oid, app.client_id),
            "tid": tid,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
    )
    if subject.nonce is not None:
        claims["nonce"] = subject.nonce
    group_ids = directory.group_claim_ids(user, app)
    if len(group_ids) > groups_limit:
        # Overage: the token points at (retired) Azure AD Graph instead of listing groups.
        claims["_claim_names"] = {"groups": "src1"}
        claims["_claim_sources"] = {
            "src1": {
                "endpoint": f"https://graph.windows.net/{tid}/users/{user.oid}/getMemberObjects"
            }
        }
    elif group_ids:
        claims["groups"] = group_ids
    return _apply_attacks(claims, faults, issuer_host=issuer_host, other_tenant_id=other_tenant_id)


def _apply_attacks(
    claims: dict[str, Any], faults: Faults, *, issuer_host: str, other_tenant_id: str
) -> dict[str, Any]:
    tid = claims["tid"]
    now = claims["iat"]
    if faults.wrong_issuer:
        claims["iss"] = f"{WRONG_ISSUER_HOST}/{tid}/v2.0"
    if faults.wrong_audience:
        claims["aud"] = str(uuid.uuid4())
    if faults.extra_audience:
        claims["aud"] = [claims["aud"], str(uuid.uuid4())]
    if faults.wrong_tenant:
        claims["tid"] = str(uuid.uuid4())
    if faults.other_directory_issuer:
        claims["iss"] = f"{issuer_host}/{other_tenant_id}/v2.0"
        claims["tid"] = other_tenant_id
    if faults.v1_token:
        claims["iss"] = f"https://sts.windows.net/{tid}/"
        claims["ver"] = "1.0"
    if faults.expired:
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    if faults.not_yet_valid:
        claims.update(nbf=now + 3600, exp=now + 7200)
    if faults.future_iat:
        claims.update(iat=now + 3600, exp=now + 7200)
    if faults.missing_nonce:
        claims.pop("nonce", None)
    if faults.wrong_nonce:
        claims["nonce"] = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    if faults.missing_email:
        claims.pop("email", None)
    for name in faults.drop_claims:
        claims.pop(name, None)
    claims.update(faults.override_claims)
    return claims


def sign_id_token(claims: Mapping[str, Any], *, keys: KeyRing, faults: Faults) -> str:
    """RS256 with the active key and its kid, unless an attack switch says otherwise."""
    key = keys.spare() if faults.unknown_key else keys.active
    header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": key.kid}
    if faults.alg_none:
        header = {"typ": "JWT", "alg": "none"}
    elif faults.hs256_public_key:
        # The classic key-confusion attack: HMAC keyed with the published RSA public key.
        header = {"typ": "JWT", "alg": "HS256", "kid": keys.active.kid}
    header.update(faults.extra_headers)
    signing_input = _segment(header) + "." + _segment(claims)
    if faults.alg_none:
        return signing_input + "."
    if faults.hs256_public_key:
        mac = hmac.new(keys.active.public_pem(), signing_input.encode("ascii"), hashlib.sha256)
        return signing_input + "." + b64url(mac.digest())
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def graph_access_token(subject: Subject, *, key: SigningKey, now: int, expires_at: int) -> str:
    """A v1 Graph token. Like the real one it carries a header `nonce`, so only Graph
    (here: the stand-in's own lookup) can check it; apps must treat it as opaque."""
    user, tid = subject.user, subject.directory.tenant_id
    claims = {
        "aud": GRAPH_RESOURCE,
        "iss": f"https://sts.windows.net/{tid}/",
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "appid": subject.app.client_id,
        "name": user.name,
        "oid": user.oid,
        "scp": " ".join(graph_scopes(subject.scopes, short=True)),
        "sub": pairwise_sub(tid, user.oid, GRAPH_APP_ID),
        "tid": tid,
        "upn": user.upn,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": "1.0",
    }
    header = {
        "typ": "JWT",
        "nonce": b64url(secrets.token_bytes(32)),
        "alg": "RS256",
        "kid": key.kid,
    }
    signing_input = _segment(header) + "." + _segment(claims)
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


def graph_scopes(scopes: tuple[str, ...], *, short: bool = False) -> list[str]:
    """The Graph permissions among the requested scopes (User.Read when none is named)."""
    names: list[str] = []
    for scope in scopes:
        if scope in OIDC_SCOPES:
            continue
        name = scope.removeprefix(GRAPH_RESOURCE + "/")
        if "/" in name or ":" in name:
            continue  # another resource's scope: the stand-in only issues Graph tokens
        names.append(name)
    names = names or ["User.Read"]
    return names if short else [f"{GRAPH_RESOURCE}/{n}" for n in names]


def response_scope(scopes: tuple[str, ...]) -> str:
    """The `scope` of a token response: granted OIDC scopes plus Graph permissions."""
    oidc = [s for s in ("email", "openid", "profile") if s in scopes]
    return " ".join([*oidc, *graph_scopes(scopes)])


def client_info(user: User, tenant_id: str) -> str:
    """What Entra returns when MSAL sends client_info=1: base64url {"uid", "utid"}."""
    return b64url(json.dumps({"uid": user.oid, "utid": tenant_id}).encode())


def _segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())
