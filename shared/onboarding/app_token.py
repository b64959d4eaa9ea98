"""An app-only Microsoft Graph token for the customer's directory, with the
operator's onboarding app (MSAL's client credentials). Imported only by the
onboarding callback: MSAL stays out of every other route."""

from __future__ import annotations

import msal
import requests

from shared.entra.certificates import msal_credential
from shared.secret import Secret

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


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
    app = msal.ConfidentialClientApplication(
        client_id,
        # A secret, or a certificate's key and certificate in one PEM (its shape decides).
        client_credential=msal_credential(credential.reveal()),
        authority=f"{authority_host}/{directory}",
        instance_discovery=False,
        http_client=http,
        token_cache=msal.TokenCache(),  # one per call: nothing shared between customers
    )
    try:
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    except (requests.RequestException, ValueError) as exc:
        raise TokenRefused("unreachable") from exc
    token = result.get("access_token") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        error = result.get("error") if isinstance(result, dict) else None
        raise TokenRefused(str(error or "no_token")[:64])
    return token
