"""Entra's error shapes: the token endpoint's JSON body and the AADSTS messages.

The AADSTS numbers are Entra's where the stand-in mirrors a documented
failure; rarer request errors reuse the nearest real code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AadError:
    """An OAuth error with its AADSTS code, as Entra reports it."""

    error: str
    code: int
    message: str
    status: int = 400

    @property
    def description(self) -> str:
        return f"AADSTS{self.code}: {self.message}"


def error_body(failure: AadError, *, correlation_id: str | None = None) -> dict[str, Any]:
    """The JSON body of a token-endpoint error, with Entra's trace fields."""
    trace_id = str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": failure.error,
        "error_description": (
            f"{failure.description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: "
            f"{correlation}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [failure.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={failure.code}",
    }


def missing(name: str) -> AadError:
    return AadError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def tenant_not_found(tenant: str) -> AadError:
    return AadError(
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud.",
    )


def app_not_found(client_id: str, directory_name: str) -> AadError:
    return AadError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{directory_name}'. This can happen if the application has not been installed by "
        "the administrator of the tenant or consented to by any user in the tenant. You may "
        "have sent your authentication request to the wrong tenant.",
    )


def redirect_mismatch(redirect_uri: str, client_id: str) -> AadError:
    return AadError(
        "invalid_request",
        50011,
        f"The redirect URI '{redirect_uri}' specified in the request does not match the "
        f"redirect URIs configured for the application '{client_id}'. Make sure the redirect "
        "URI sent in the request matches one added to your application in the Azure portal.",
    )


def secret_missing() -> AadError:
    return AadError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
        401,
    )


def secret_invalid(client_id: str) -> AadError:
    return AadError(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app "
        f"'{client_id}'.",
        401,
    )


def secret_expired(client_id: str) -> AadError:
    return AadError(
        "invalid_client",
        7000222,
        f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
        "portal to create new keys for your app.",
        401,
    )


def code_redeemed() -> AadError:
    return AadError(
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
        "or use an existing refresh token.",
    )


def grant_expired() -> AadError:
    return AadError(
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. "
        "Send a new interactive authorization request for this user and resource.",
    )


def grant_malformed() -> AadError:
    return AadError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


def grant_other_client() -> AadError:
    return AadError(
        "invalid_grant",
        70000,
        "Provided grant is invalid or malformed (it was issued to another client or tenant).",
    )


def grant_revoked() -> AadError:
    return AadError(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    )


def reply_address_mismatch(sent: str, expected: str) -> AadError:
    return AadError(
        "invalid_grant",
        500112,
        f"The reply address '{sent}' does not match the reply address '{expected}' provided "
        "when requesting Authorization code.",
    )


def pkce_missing() -> AadError:
    return AadError(
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization "
        "request (no code_verifier was sent).",
    )


def pkce_mismatch() -> AadError:
    return AadError(
        "invalid_grant",
        50148,
        "The code_verifier does not match the code_challenge supplied in the authorization "
        "request for PKCE.",
    )


def user_disabled() -> AadError:
    return AadError(
        "access_denied",
        50057,
        "The user account is disabled. The account has been disabled by an administrator.",
    )


def server_fault(status: int) -> AadError:
    if status == 503:
        return AadError(
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
            503,
        )
    return AadError(
        "server_error",
        50000,
        "There was an error issuing a token or an issue with our sign-in service (fault switch).",
        status,
    )


def invalid_parameter(name: str) -> AadError:
    return AadError("invalid_request", 90100, f"The parameter '{name}' is empty or not valid.")


def unsupported_response_type(value: str) -> AadError:
    return AadError(
        "unsupported_response_type",
        700054,
        f"response_type '{value}' is not enabled for the application (the stand-in issues "
        "codes only).",
    )


def pkce_required() -> AadError:
    return AadError(
        "invalid_request",
        9002325,
        "Proof Key for Code Exchange is required: send code_challenge with "
        "code_challenge_method S256.",
    )


def pkce_challenge_size() -> AadError:
    return AadError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")


def login_required() -> AadError:
    return AadError(
        "login_required",
        50058,
        "A silent sign-in request was sent but no user is signed in.",
    )
