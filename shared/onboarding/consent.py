"""The signed half of one-click onboarding's consent.

Entra's admin-consent endpoint answers the directory as a bare query parameter,
which anyone holding a state can write. So the consent goes through the
authorize endpoint under `organizations` instead (scope `openid` and Graph's
`.default`, `prompt=consent`, PKCE, a nonce): Entra shows the same consent screen
and then answers a code, which the onboarding app redeems for an ID token of the
admin who consented. Its `tid`, verified like any sign-in's (signature by
Entra's keys, iss of exactly that directory, aud our onboarding app, times,
nonce), is the directory onboarding builds in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from shared.entra.id_tokens import unverified_tenant
from shared.entra.keys import KeySource, validate_with_directory_keys
from shared.errors import InvalidIdToken

# What the consent asks for: Graph's application permissions (.default) and the
# admin's sign-in (openid), nothing more (no refresh token is wanted).
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
CONSENT_SCOPES = (GRAPH_SCOPE, "openid")


@dataclass(frozen=True)
class Proof:
    """What a consent request keeps server-side to check the answer: PKCE's verifier
    (the code is useless without it) and the nonce the ID token must carry."""

    code_verifier: str = field(repr=False)
    nonce: str = field(repr=False)

    @classmethod
    def new(cls) -> Proof:
        return cls(code_verifier=secrets.token_urlsafe(48), nonce=secrets.token_urlsafe(32))

    @property
    def nonce_hash(self) -> str:
        """What the authorize request sends as `nonce`, and so what the ID token
        carries: its SHA-256 in hex, as MSAL sends it (MSAL checks that on redemption)."""
        return hashlib.sha256(self.nonce.encode("ascii")).hexdigest()

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def consenting_directory(
    id_token: str,
    *,
    keys: KeySource,
    issuer_host: str,
    client_id: str,
    nonce_hash: str,
    now: float,
) -> str:
    """The directory of the admin whose ID token this is, once the token is verified
    in full for that directory; InvalidIdToken otherwise."""
    tenant = unverified_tenant(id_token)
    if tenant is None:
        raise InvalidIdToken("The ID token names no directory (tid).")
    claims = validate_with_directory_keys(
        id_token,
        keys=keys,
        issuer_host=issuer_host,
        tenant_id=tenant,
        client_id=client_id,
        nonce_hash=nonce_hash,
        now=now,
    )
    return claims.tid
