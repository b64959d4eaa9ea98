"""The contract's error codes as one exception family.

Every refusal the service makes is one of these; `functions/` renders them in
one place (status, ``{"error", "error_description"}`` or ``?sso_error=``).
Descriptions are written for the person who sees them and never carry a
secret, a token or a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class EntraBridgeError(Exception):
    """Base of every contract error: a code, an HTTP status and a description."""

    code: ClassVar[str] = "server_error"
    status: ClassVar[int] = 500
    default_description: ClassVar[str] = "The request could not be completed."
    # What the hosted login page tells a person for a sign-in code (`sso_error`); the
    # API's `error_description` is `description`. None: not a sign-in code.
    person_message: ClassVar[str | None] = None

    def __init__(
        self,
        description: str | None = None,
        *,
        fields: Mapping[str, str] | None = None,
        reference: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.description = description or self.default_description
        self.fields: dict[str, str] = dict(fields or {})
        # Entra's AADSTS number (e.g. AADSTS50105) when Entra refused: what an admin
        # looks up. Only ever "AADSTS" and digits, so it is shown and logged safely.
        self.reference = reference
        # Seconds after which trying again may work (429/503): sent as Retry-After.
        self.retry_after = retry_after
        super().__init__(self.description)

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "error_description": self.description}
        if self.fields:
            body["fields"] = dict(self.fields)
        return body


def describe_wait(seconds: int) -> str:
    """'45 seconds', '10 minutes': a Retry-After as a person reads it."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{(seconds + 59) // 60} minutes"


# --- sign-in (end-user) codes -------------------------------------------------


class UnknownTenant(EntraBridgeError):
    code = "unknown_tenant"
    status = 404
    default_description = "No such tenant."
    person_message = "This organisation is not known here."


class SsoDisabled(EntraBridgeError):
    code = "sso_disabled"
    status = 403
    default_description = "Single sign-on is not enabled for this tenant."
    person_message = "Single sign-on is not enabled for this organisation."


class InvalidState(EntraBridgeError):
    code = "invalid_state"
    status = 400
    default_description = "The sign-in request expired or was already used. Please start again."
    person_message = "Your sign-in expired or was already used. Please sign in again."


class IdpError(EntraBridgeError):
    code = "idp_error"
    status = 400
    default_description = "Microsoft Entra ID refused the sign-in."
    person_message = "Microsoft Entra ID did not complete the sign-in."


class SsoIdpRejected(EntraBridgeError):
    code = "sso_idp_rejected"
    status = 400
    default_description = "Microsoft Entra ID did not accept the sign-in. Please start again."
    person_message = "Microsoft Entra ID did not accept the sign-in. Please sign in again."


class InvalidIdToken(EntraBridgeError):
    code = "invalid_id_token"
    status = 401
    default_description = "The identity token from Microsoft Entra ID is not valid."
    person_message = "The sign-in could not be verified. Please sign in again."


class SsoNoEmailClaim(EntraBridgeError):
    code = "sso_no_email_claim"
    status = 403
    default_description = "Your Microsoft account has no email address this application can use."
    person_message = default_description  # the same words suit both


class ProviderMismatch(EntraBridgeError):
    code = "provider_mismatch"
    status = 409
    default_description = "This email address signs in with a password, not with Microsoft."
    person_message = default_description  # the same words suit both


class AccountConflict(EntraBridgeError):
    code = "account_conflict"
    status = 409
    default_description = "Another Microsoft account already uses this email address."
    person_message = default_description  # the same words suit both


class AccountDisabled(EntraBridgeError):
    code = "account_disabled"
    status = 403
    default_description = "This account is disabled."
    person_message = "Your account is disabled. Contact your administrator."


class SsoUnavailable(EntraBridgeError):
    code = "sso_unavailable"
    status = 503
    default_description = "Sign-in is temporarily unavailable. Nothing was changed; please retry."
    person_message = "Sign-in is temporarily unavailable. Please try again shortly."


class TooManyAttempts(EntraBridgeError):
    code = "too_many_attempts"
    status = 429
    default_description = "Too many sign-in attempts from your network. Please wait a minute."
    person_message = default_description  # the same words suit both


# --- password users -------------------------------------------------------------


class InvalidCredentials(EntraBridgeError):
    """One answer for a wrong password, an unknown email and a user who signs in with
    Microsoft: nobody learns which accounts exist."""

    code = "invalid_credentials"
    status = 401
    default_description = "The email or password is not correct."
    person_message = (
        "The email or password is not correct. If you sign in with your organisation's "
        "Microsoft account, use that button instead."
    )


class InvalidLink(EntraBridgeError):
    code = "invalid_link"
    status = 400
    default_description = "This link is unknown, was already used or has expired."
    person_message = (
        "This link was already used or has expired. Ask your administrator for a new "
        "invitation, or request a new password reset."
    )


class SsoRequired(EntraBridgeError):
    code = "sso_required"
    status = 403
    default_description = "This organisation requires signing in with Microsoft."
    person_message = (
        "Your organisation requires signing in with your Microsoft account: use the "
        "Microsoft button."
    )


class UserNotProvisioned(EntraBridgeError):
    code = "user_not_provisioned"
    status = 403
    default_description = "No account was created for this person in this organisation."
    person_message = (
        "Your organisation signs in only people it has invited, and no account was "
        "created for you. Ask your administrator to add you."
    )


class EnforceSsoUnsafe(EntraBridgeError):
    code = "enforce_sso_unsafe"
    status = 409
    default_description = (
        "Enforce SSO would lock the tenant out: turn it on once SSO is enabled and a "
        "tenant admin has signed in with Microsoft in the last 30 days."
    )


class EmailInUse(EntraBridgeError):
    code = "email_in_use"
    status = 409
    default_description = "Another user of this tenant already has this email."


class ManagedByScim(EntraBridgeError):
    code = "managed_by_scim"
    status = 409
    default_description = (
        "This user is managed by SCIM provisioning from Microsoft Entra ID: change their "
        "email, name or status in Entra."
    )


class OnboardingNotConfigured(EntraBridgeError):
    code = "onboarding_not_configured"
    status = 503
    default_description = (
        "One-click onboarding is not set up on this service (ONBOARDING_CLIENT_ID); "
        "configure the tenant's app registration by hand."
    )


# --- API codes ----------------------------------------------------------------


class Unauthorized(EntraBridgeError):
    code = "unauthorized"
    status = 401
    default_description = "A valid credential is required."


class Forbidden(EntraBridgeError):
    code = "forbidden"
    status = 403
    default_description = "This credential may not do that."


class InvalidRequest(EntraBridgeError):
    code = "invalid_request"
    status = 400
    default_description = "The request is not valid."


class InvalidGrant(EntraBridgeError):
    code = "invalid_grant"
    status = 400
    default_description = "The refresh token is invalid, expired or revoked."


class NotFound(EntraBridgeError):
    code = "not_found"
    status = 404
    default_description = "Not found."


class PreconditionFailed(EntraBridgeError):
    code = "precondition_failed"
    status = 412
    default_description = "The resource changed since it was read (stale If-Match)."


class PreconditionRequired(EntraBridgeError):
    code = "precondition_required"
    status = 428
    default_description = "If-Match is required to change an existing resource."


class PayloadTooLarge(EntraBridgeError):
    code = "payload_too_large"
    status = 413
    default_description = "The request body is larger than 64 KiB."


class ConfigurationError(EntraBridgeError):
    """The service itself is misconfigured (a setting is missing or malformed)."""

    code = "sso_unavailable"
    status = 503
    default_description = "The service is not configured correctly."


def person_messages() -> dict[str, str]:
    """Every sign-in code and what the login page says for it."""
    found: dict[str, str] = {}
    pending: list[type[EntraBridgeError]] = [EntraBridgeError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.person_message is not None:
            found.setdefault(cls.code, cls.person_message)
    return found
