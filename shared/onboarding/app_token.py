"""What the onboarding callback asks of Entra with the operator's onboarding app,
through MSAL: the consent's code redeemed for the consenting admin's ID token, and
an app-only Microsoft Graph token for their directory (client credentials).
Imported only by the onboarding callback: MSAL stays out of every other route."""

from __future__ import annotations

import logging

import msal
import requests

from shared.entra.certificates import msal_credential
from shared.onboarding.consent import CONSENT_SCOPES, GRAPH_SCOPE
from shared.secret import Secret

# MSAL logs a token answer it cannot parse verbatim (its text may hold a token), as
# shared.entra.client also says: this module may be the first to load MSAL.
logging.getLogger("msal").setLevel(logging.CRITICAL)


class TokenRefused(Exception):
    """No token: Entra's error code (never its description or a secret)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"Entra refused the onboarding app's token request: {code}")


def app_only_token(
    *,
    authority_host: str,
    directory: str,
    client_id: str,
    credential: Secret,
    http: requests.Session,
) -> str:
    app = _onboarding_app(f"{authority_host}/{directory}", client_id, credential, http)
    try:
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    except (requests.RequestException, ValueError) as exc:
        raise TokenRefused("unreachable") from exc
    return _token_in(result, "access_token")


def consent_id_token(
    *,
    authority_host: str,
    client_id: str,
    credential: Secret,
    http: requests.Session,
    redirect_uri: str,
    state: str,
    code: str,
    code_verifier: str,
    nonce: str,
) -> str:
    """The ID token the consent's code redeems for, through MSAL's auth code flow
    (the flow as the start made it: state, PKCE verifier, nonce). Not validated yet:
    the caller validates it for the directory it names. TokenRefused otherwise."""
    # Any work or school directory: which one is what the ID token will say.
    app = _onboarding_app(f"{authority_host}/organizations", client_id, credential, http)
    flow = {
        "state": state,
        "redirect_uri": redirect_uri,
        "scope": list(CONSENT_SCOPES),
        "code_verifier": code_verifier,
        "nonce": nonce,
    }
    try:
        result = app.acquire_token_by_auth_code_flow(flow, {"code": code, "state": state})
    except requests.RequestException as exc:
        raise TokenRefused("unreachable") from exc
    except RuntimeError as exc:  # MSAL's nonce check
        raise TokenRefused("nonce_mismatch") from exc
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # MSAL decoding a bad answer
        raise TokenRefused("malformed_answer") from exc
    return _token_in(result, "id_token")


def _onboarding_app(
    authority: str, client_id: str, credential: Secret, http: requests.Session
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        # A secret, or a certificate's key and certificate in one PEM (its shape decides).
        client_credential=msal_credential(credential.reveal()),
        authority=authority,
        instance_discovery=False,
        http_client=http,
        token_cache=msal.TokenCache(),  # one per call: nothing shared between customers
    )


def _token_in(result: object, name: str) -> str:
    """MSAL's answer's `name` token, or TokenRefused with Entra's error code (never
    its description)."""
    token = result.get(name) if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        error = result.get("error") if isinstance(result, dict) else None
        raise TokenRefused(str(error or f"no_{name}")[:64])
    return token
