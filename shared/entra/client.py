"""Talking to Microsoft Entra ID and Microsoft Graph.

One MSAL `ConfidentialClientApplication` per (directory, client id, secret
version), built with `instance_discovery=False` (the authority is known: MSAL
would otherwise ask login.microsoftonline.com even for a sovereign cloud or a
stand-in) and our own `http_client` (timeouts, REQUESTS_CA_BUNDLE). MSAL no
longer validates ID tokens; `shared.entra.id_tokens` does that. Errors from Entra are
reduced to the contract's codes here, copying only the AADSTS code, never the
whole response.

Each redemption stands alone: MSAL would otherwise keep a token endpoint's
error answer in its throttling cache (5 s, or the answer's Retry-After up to an
hour) and replay it to every later redemption of the same app, keyed without
the code, so one 500 would refuse every sign-in of the tenant on this instance.
The app gets an `http_cache` that keeps nothing; Entra's Retry-After reaches
only the person whose request it answered.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from shared import telemetry
from shared.entra.answers import AnswerRecorder, KeepNothing
from shared.entra.certificates import msal_credential
from shared.errors import (
    IdpError,
    InvalidIdToken,
    InvalidState,
    SsoIdpRejected,
    SsoUnavailable,
    describe_wait,
)
from shared.secret import Secret

# MSAL adds openid, profile and offline_access itself (and refuses them here).
SIGN_IN_SCOPES = ("email", "User.Read")
_AADSTS = re.compile(r"AADSTS[0-9]{4,8}(?![0-9])")  # ASCII digits only
# invalid_client answers that a rotated secret can explain: a wrong or expired secret.
# (and for a certificate: its assertion not verified by the certificates Entra has,
# or a certificate Entra has not been given yet)
SECRET_REJECTED_CODES = frozenset({"AADSTS7000215", "AADSTS7000222", "AADSTS700027"})
_UNAVAILABLE_ERRORS = frozenset({"temporarily_unavailable", "server_error"})
# Statuses whose Retry-After is passed on to the person (RFC 9110 10.2.3).
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_GRAPH_PAGE_LIMIT = 200  # 200 pages x 100 groups: far past any real directory
# MSAL 1.39 advises form_post on every flow; query is deliberate here (a form_post
# callback is a cross-site POST, which drops the SameSite=Lax binding cookie). A
# process-wide filter, because warnings.catch_warnings is not thread-safe.
warnings.filterwarnings(
    "ignore", message="response_mode='form_post' is recommended", category=UserWarning
)
# MSAL logs a token answer it cannot parse verbatim (its text may hold a token): our
# own log line says what failed, without it. Process-wide, set once on import.
logging.getLogger("msal").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class ClientCredentials:
    """What one tenant's sign-in needs to talk to its directory."""

    tenant_id: str
    client_id: str
    secret: Secret
    secret_version: str


@dataclass(frozen=True)
class TokenResult:
    id_token: str = field(repr=False)
    access_token: str | None = field(repr=False)


class ClientSecretRejected(SsoIdpRejected):
    """Entra refused the client secret (wrong or expired): a rotation may explain it."""

    def __init__(self, aadsts: str) -> None:
        self.aadsts = aadsts
        super().__init__(
            f"Microsoft Entra ID refused the application's client secret ({aadsts}).",
            reference=aadsts_code(aadsts),
        )


def authority_url(authority_host: str, tenant_id: str) -> str:
    return f"{authority_host}/{tenant_id}"


def aadsts_code(description: object) -> str | None:
    match = _AADSTS.search(description) if isinstance(description, str) else None
    return match.group(0) if match else None


def idp_error_from_redirect(params: Mapping[str, str]) -> IdpError:
    """Entra redirected back with `error=`: keep its code and AADSTS number, nothing else."""
    error = re.sub(r"[^a-z_]", "", params.get("error", "")[:64]) or "error"
    code = aadsts_code(params.get("error_description", ""))
    suffix = f" ({code})" if code else ""
    return IdpError(f"Microsoft Entra ID refused the sign-in: {error}{suffix}.", reference=code)


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]
    """Keeps nothing: tokens go to the caller, not into a per-instance cache that grows
    with every user who signs in."""

    def add(self, event: Any, **kwargs: Any) -> None:
        return None


class EntraClient:
    """Authorization-code flow, JWKS and Graph group reads against one authority host."""

    def __init__(
        self,
        *,
        authority_host: str,
        graph_base_url: str,
        http: requests.Session,
        max_clients: int = 512,
    ) -> None:
        self._authority_host = authority_host
        self._graph_base_url = graph_base_url
        self._http = http
        self._msal_http = AnswerRecorder(http)
        self._max_clients = max_clients
        self._clients: OrderedDict[tuple[str, str, str], msal.ConfidentialClientApplication] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    # --- authorization-code flow ---------------------------------------------------

    def begin(
        self,
        creds: ClientCredentials,
        *,
        redirect_uri: str,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> dict[str, Any]:
        """The MSAL flow (state, nonce, PKCE verifier, auth_uri): store it, send the user."""
        app = self._client(creds)
        flow: dict[str, Any] = app.initiate_auth_code_flow(
            list(SIGN_IN_SCOPES),
            redirect_uri=redirect_uri,
            prompt=prompt,
            login_hint=login_hint,
            domain_hint=domain_hint,
            response_mode="query",
        )
        return flow

    def redeem(
        self, creds: ClientCredentials, flow: dict[str, Any], auth_response: Mapping[str, str]
    ) -> TokenResult:
        """Redeem the code once. Raises the contract error for each way it can fail:
        a state that is not this flow's -> InvalidState (checked here, so that every
        later failure is Entra's); no answer, a 5xx, a 429 or an answer that is not
        JSON -> SsoUnavailable (with Entra's Retry-After); an OAuth error answer ->
        SsoIdpRejected keeping the AADSTS number."""
        expected_state = str(flow.get("state") or "")
        given_state = str(auth_response.get("state") or "")
        if not expected_state or not hmac.compare_digest(
            expected_state.encode("utf-8", "surrogatepass"),
            given_state.encode("utf-8", "surrogatepass"),
        ):
            raise InvalidState()
        app = self._client(creds)
        self._msal_http.clear()
        try:
            with telemetry.timed_entra("token"):
                result = app.acquire_token_by_auth_code_flow(dict(flow), dict(auth_response))
        except RuntimeError as exc:  # MSAL: nonce mismatch in the ID token
            raise InvalidIdToken("The ID token's nonce does not match this sign-in.") from exc
        except msal.exceptions.MsalServiceError as exc:  # MSAL 1.39: a 5xx answer
            raise self._unavailable("Microsoft Entra ID answered with an error.") from exc
        except requests.Timeout as exc:
            raise SsoUnavailable("Microsoft Entra ID did not answer in time.") from exc
        except requests.RequestException as exc:
            raise SsoUnavailable("Microsoft Entra ID could not be reached.") from exc
        except ValueError as exc:  # the state was checked above: an answer that is not JSON
            raise self._unavailable("Microsoft Entra ID answered something unreadable.") from exc
        except (TypeError, AttributeError, KeyError) as exc:  # JSON, but not a token answer
            raise self._unavailable("Microsoft Entra ID answered something unreadable.") from exc
        answer = self._msal_http.last_answer()
        if not isinstance(result, dict):
            raise self._unavailable("Microsoft Entra ID answered something unreadable.")
        if answer is not None and (answer.status == 429 or answer.status >= 500):
            raise self._unavailable("Microsoft Entra ID is busy or unavailable.")
        if "error" in result:
            raise _token_error(result)
        id_token = result.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIdToken("Microsoft Entra ID returned no ID token.")
        access_token = result.get("access_token")
        return TokenResult(
            id_token=id_token, access_token=access_token if isinstance(access_token, str) else None
        )

    def _unavailable(self, description: str) -> SsoUnavailable:
        """SsoUnavailable, with the Retry-After of the answer this thread just got (only
        for 429/503, where it means "come back then")."""
        answer = self._msal_http.last_answer()
        retry_after = None
        if answer is not None and answer.status in _RETRY_AFTER_STATUSES:
            retry_after = answer.retry_after
        if retry_after:
            description = f"{description} Please try again in {describe_wait(retry_after)}."
        return SsoUnavailable(description, retry_after=retry_after)

    def forget(self, creds: ClientCredentials) -> None:
        with self._lock:
            self._clients.pop(self._key(creds), None)

    # --- keys and groups -----------------------------------------------------------

    def fetch_jwks(self, jwks_uri: str) -> Mapping[str, Any]:
        try:
            response = self._http.get(jwks_uri)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SsoUnavailable("Microsoft Entra ID signing keys could not be read.") from exc
        if not isinstance(document, dict):
            raise SsoUnavailable("Microsoft Entra ID signing keys are malformed.")
        return document

    def security_group_ids(self, access_token: str) -> tuple[str, ...]:
        """Every security group the signed-in user is in, directly or not, via Graph.

        Needs only delegated User.Read. The URL is ours (GRAPH_BASE_URL), never one
        from the token's `_claim_sources`; next links are followed only on that origin.
        Any failure raises SsoUnavailable: "no groups" would silently strip profiles.
        """
        url: str | None = (
            f"{self._graph_base_url}/v1.0/me/transitiveMemberOf/microsoft.graph.group"
            "?$select=id,securityEnabled&$top=100"
        )
        headers = {"Authorization": f"Bearer {access_token}"}
        groups: list[str] = []
        pages = 0
        while url:
            pages += 1
            if pages > _GRAPH_PAGE_LIMIT or not self._is_graph_url(url):
                raise SsoUnavailable("Microsoft Graph returned an unexpected page link.")
            try:
                with telemetry.timed_entra("graph"):
                    response = self._http.get(url, headers=headers)
                response.raise_for_status()
                page = response.json()
            except (requests.RequestException, ValueError) as exc:
                raise SsoUnavailable("Microsoft Graph could not list group memberships.") from exc
            items = page.get("value") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise SsoUnavailable("Microsoft Graph returned a malformed membership page.")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                odata_type = item.get("@odata.type", "#microsoft.graph.group")
                if odata_type == "#microsoft.graph.group" and item.get("securityEnabled", True):
                    groups.append(item["id"].lower())
            next_link = page.get("@odata.nextLink")
            url = next_link if isinstance(next_link, str) else None
        return tuple(dict.fromkeys(groups))

    # --- internals -----------------------------------------------------------------

    def _is_graph_url(self, url: str) -> bool:
        graph = urlsplit(self._graph_base_url)
        candidate = urlsplit(url)
        return (candidate.scheme, candidate.netloc) == (graph.scheme, graph.netloc)

    @staticmethod
    def _key(creds: ClientCredentials) -> tuple[str, str, str]:
        return (creds.tenant_id, creds.client_id, creds.secret_version)

    def _client(self, creds: ClientCredentials) -> msal.ConfidentialClientApplication:
        key = self._key(creds)
        with self._lock:
            app = self._clients.get(key)
            if app is not None:
                self._clients.move_to_end(key)
                return app
        # Built outside the lock: construction fetches the discovery document, and one
        # slow directory must not hold up every other tenant's sign-in.
        try:
            app = msal.ConfidentialClientApplication(
                creds.client_id,
                # A client secret, or a certificate's key and certificate (shape decides).
                client_credential=msal_credential(creds.secret.reveal()),
                authority=authority_url(self._authority_host, creds.tenant_id),
                instance_discovery=False,
                http_client=self._msal_http,
                http_cache=KeepNothing(),
                token_cache=_NoTokenCache(),
            )
        except (ValueError, requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise SsoUnavailable("Microsoft Entra ID's configuration could not be read.") from exc
        with self._lock:
            app = self._clients.setdefault(key, app)
            self._clients.move_to_end(key)
            while len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        return app


def _token_error(result: Mapping[str, Any]) -> SsoIdpRejected | SsoUnavailable:
    error = str(result.get("error", ""))
    code = aadsts_code(result.get("error_description"))
    if error == "invalid_client" and code in SECRET_REJECTED_CODES:
        return ClientSecretRejected(code or "invalid_client")
    if error in _UNAVAILABLE_ERRORS:
        return SsoUnavailable("Microsoft Entra ID is temporarily unavailable.")
    suffix = f" ({code})" if code else ""
    if error == "invalid_grant":
        return SsoIdpRejected(
            f"The sign-in code was already used or has expired{suffix}. Please start again.",
            reference=code,
        )
    safe_error = re.sub(r"[^a-z_]", "", error[:64]) or "error"
    return SsoIdpRejected(
        f"Microsoft Entra ID refused the code exchange: {safe_error}{suffix}.", reference=code
    )
