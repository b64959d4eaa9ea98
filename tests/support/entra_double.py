"""Microsoft Entra ID as the sign-in service sees it, in memory, for unit tests.

Entra has no emulator, and unit tests run no servers: `EntraDouble` stands in for
`shared.entra.client.EntraClient` at its interface (begin, redeem, JWKS, Graph
groups). It keeps what the service relies on: a state that is not the flow's
is refused, a code is redeemed once, the ID token is RS256-signed by a published
key with iss/aud/tid/nonce of the flow, and a client secret Entra does not know is
refused with AADSTS7000215. The real client (MSAL, HTTP, error mapping) is tested
against the Entra stand-in over HTTPS (tests/integration/test_fake_entra_*.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from shared.entra.client import ClientCredentials, ClientSecretRejected, TokenResult
from shared.errors import InvalidState, SsoIdpRejected
from tests.support.jwtkeys import TestKey, rsa_test_key, sign_token

AUTHORITY_HOST = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class Person:
    """Someone in the directory: the claims their ID token carries, and their groups."""

    oid: str
    email: str | None
    name: str = "Ada Lovelace"
    groups: tuple[str, ...] = ()
    # Past 200 groups Entra leaves `groups` out and the app reads them from Graph.
    overage: bool = False
    sid: str | None = "00000000-0000-0000-0000-0000000000aa"
    extra_claims: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class EntraDouble:
    key: TestKey = field(default_factory=lambda: rsa_test_key("entra-double-1"))
    authority_host: str = AUTHORITY_HOST
    clock: Callable[[], float] = time.time
    # Secret values Entra accepts for each client id (None: any).
    accepted_secrets: dict[str, set[str]] = field(default_factory=dict)
    fail_with: Exception | None = None
    redeemed_with: list[ClientCredentials] = field(default_factory=list)
    _codes: dict[str, Person] = field(default_factory=dict)
    _tokens: dict[str, Person] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what a test arranges ------------------------------------------------------

    def signs_in(self, person: Person) -> str:
        """The authorization code Entra hands the browser for `person`."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = person
        return code

    # --- EntraClient's interface ---------------------------------------------------

    def begin(
        self,
        creds: ClientCredentials,
        *,
        redirect_uri: str,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> dict[str, Any]:
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        query = {
            "client_id": creds.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "nonce": hashlib.sha256(nonce.encode()).hexdigest(),
            **{k: v for k, v in {"prompt": prompt, "login_hint": login_hint}.items() if v},
        }
        return {
            "state": state,
            "nonce": nonce,
            "redirect_uri": redirect_uri,
            "code_verifier": secrets.token_urlsafe(32),
            "auth_uri": f"{self.authority_host}/{creds.tenant_id}/oauth2/v2.0/authorize?"
            + urlencode(query),
        }

    def redeem(
        self, creds: ClientCredentials, flow: dict[str, Any], auth_response: Mapping[str, str]
    ) -> TokenResult:
        if not hmac.compare_digest(str(flow.get("state")), str(auth_response.get("state"))):
            raise InvalidState()
        if self.fail_with is not None:
            raise self.fail_with
        self.redeemed_with.append(creds)
        accepted = self.accepted_secrets.get(creds.client_id)
        if accepted is not None and creds.secret.reveal() not in accepted:
            raise ClientSecretRejected("AADSTS7000215")
        with self._lock:
            person = self._codes.pop(str(auth_response.get("code")), None)
        if person is None:
            raise SsoIdpRejected("The code was already redeemed.", reference="AADSTS54005")
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access_token] = person
        return TokenResult(
            id_token=self._id_token(creds, str(flow["nonce"]), person), access_token=access_token
        )

    def forget(self, creds: ClientCredentials) -> None:
        pass

    def fetch_jwks(self, jwks_uri: str) -> Mapping[str, Any]:
        return {"keys": [self.key.jwk()]}

    def security_group_ids(self, access_token: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(g.lower() for g in self._tokens[access_token].groups)

    # --- internals -----------------------------------------------------------------

    def _id_token(self, creds: ClientCredentials, flow_nonce: str, person: Person) -> str:
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": f"{self.authority_host}/{creds.tenant_id}/v2.0",
            "aud": creds.client_id,
            "tid": creds.tenant_id,
            "oid": person.oid,
            "sub": hashlib.sha256(person.oid.encode()).hexdigest()[:43],
            "name": person.name,
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "nonce": hashlib.sha256(flow_nonce.encode()).hexdigest(),
        }
        if person.email:
            claims["email"] = claims["preferred_username"] = person.email
        if person.sid:
            claims["sid"] = person.sid
        if person.overage:
            claims["_claim_names"] = {"groups": "src1"}
            claims["_claim_sources"] = {"src1": {"endpoint": "https://graph.windows.net/x"}}
        elif person.groups:
            claims["groups"] = list(person.groups)
        claims.update(person.extra_claims)
        return sign_token(claims, self.key)


@pytest.fixture
def entra_double() -> EntraDouble:
    return EntraDouble()
