"""The token endpoint: authorization_code and refresh_token grants for confidential clients.

Client authentication by client_secret_post or client_secret_basic (one of
them, not both: RFC 6749 2.3). Failures answer Entra's JSON error body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from devtools.fake_entra import errors
from devtools.fake_entra.assertions import ASSERTION_TYPE, verify_assertion
from devtools.fake_entra.directory import AppRegistration, Directory, User
from devtools.fake_entra.faults import TRUNCATED_TOKEN_BODY, Faults
from devtools.fake_entra.grants import AccessGrant, RefreshGrant
from devtools.fake_entra.keys import b64url
from devtools.fake_entra.metadata import error_json, json_response
from devtools.fake_entra.tokens import (
    ACCESS_TOKEN_LIFETIME,
    Subject,
    client_info,
    graph_access_token,
    response_scope,
)

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra

GRANT_TYPES = ("authorization_code", "refresh_token")


def handle(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    if request.method != "POST":
        failure = errors.AadError(
            "invalid_request", 900561, "The endpoint only accepts POST requests."
        )
        return error_json(failure, request)
    faults = entra.faults
    if faults.token_delay:
        entra.wait(faults.token_delay)
    fault = entra.take_token_fault()
    if fault is not None and fault.token_status is not None:
        return _fault_answer(fault.token_status, fault, request)
    if tenant_id in ("organizations", "common"):
        return _redeem_for_any_directory(entra, request, tenant_id)
    directory = entra.directory(tenant_id)
    if directory is None:
        return error_json(errors.tenant_not_found(tenant_id), request)
    grant_type = request.form.get("grant_type", "")
    if not grant_type:
        return error_json(errors.missing("grant_type"), request)
    if grant_type == "client_credentials":  # one-click onboarding's app-only token
        from devtools.fake_entra.onboarding import client_credentials

        return client_credentials(entra, request, directory.tenant_id)
    if grant_type not in GRANT_TYPES:
        failure = errors.AadError(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type[:64]}'.",
        )
        return error_json(failure, request)
    client = _authenticate(entra, directory, request)
    if isinstance(client, errors.AadError):
        return error_json(client, request)
    if grant_type == "authorization_code":
        return _redeem_code(entra, directory, client, request)
    return _refresh(entra, directory, client, request)


def _fault_answer(status: int, fault: Faults, request: Request) -> Response:
    if fault.token_body in ("null", "list", "truncated"):
        body = {"null": "null", "list": "[]"}.get(fault.token_body, TRUNCATED_TOKEN_BODY)
        answer = Response(body, status=status, mimetype="application/json")
    elif fault.token_body == "html":
        answer = Response(
            "<html><body><h1>Service Unavailable</h1></body></html>",
            status=status,
            mimetype="text/html",
        )
    else:
        answer = error_json(errors.server_fault(status), request)
        answer.status_code = status
    if fault.token_retry_after is not None:
        answer.headers["Retry-After"] = str(fault.token_retry_after)
    return answer


def _redeem_for_any_directory(entra: FakeEntra, request: Request, path_tenant: str) -> Response:
    """A multitenant app's code (one-click onboarding's signed consent), redeemed under
    `organizations`: the directory is the one the code was issued in."""
    from devtools.fake_entra.onboarding import multitenant_app

    if request.form.get("grant_type") != "authorization_code":
        failure = errors.AadError(
            "unsupported_grant_type", 70003, "Only authorization_code is served here."
        )
        return error_json(failure, request)
    grant, _ = entra.grants.find_code(request.form.get("code", ""))
    directory = entra.directory(grant.tenant_id) if grant is not None else None
    if directory is None:
        return error_json(errors.grant_malformed(), request)
    client = _authenticate(
        entra,
        directory,
        request,
        app_of=lambda client_id: multitenant_app(entra, client_id),
        audience=entra.token_endpoint(path_tenant),
    )
    if isinstance(client, errors.AadError):
        return error_json(client, request)
    return _redeem_code(entra, directory, client, request)


def _authenticate(
    entra: FakeEntra,
    directory: Directory,
    request: Request,
    *,
    app_of: Callable[[str], AppRegistration | None] | None = None,
    audience: str | None = None,
) -> AppRegistration | errors.AadError:
    form = request.form
    basic = _basic_credentials(request.headers.get("Authorization", ""))
    if basic is not None:
        client_id, secret = basic
        if form.get("client_secret"):
            return errors.AadError(
                "invalid_request",
                90100,
                "Send the client secret once: in the Authorization header or in the body.",
            )
        if form.get("client_id") and form["client_id"].lower() != client_id.lower():
            return errors.AadError(
                "invalid_client", 700016, "The client_id in the body and header differ.", 401
            )
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id:
        return errors.missing("client_id")
    app = (app_of or directory.apps.get)(client_id.strip().lower())
    if app is None:
        return errors.app_not_found(client_id, directory.name)
    if form.get("client_assertion_type") == ASSERTION_TYPE and not secret:
        failure = verify_assertion(
            form.get("client_assertion", ""),
            client_id=app.client_id,
            certificates=app.certificates,
            token_endpoint=audience or entra.token_endpoint(directory.tenant_id),
        )
        return failure if failure is not None else app
    if not secret:
        return errors.secret_missing()
    matching = [s for s in app.secrets if hmac.compare_digest(s.value.encode(), secret.encode())]
    if not matching:
        return errors.secret_invalid(app.client_id)
    if all(s.expired(entra.clock()) for s in matching):
        return errors.secret_expired(app.client_id)
    return app


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _redeem_code(
    entra: FakeEntra, directory: Directory, app: AppRegistration, request: Request
) -> Response:
    form = request.form
    code = form.get("code", "")
    if not code:
        return error_json(errors.missing("code"), request)
    grant, used = entra.grants.find_code(code)
    if grant is None:
        return error_json(errors.grant_malformed(), request)
    if (grant.tenant_id, grant.client_id) != (directory.tenant_id, app.client_id):
        return error_json(errors.grant_other_client(), request)
    if used:
        return error_json(errors.code_redeemed(), request)
    if entra.clock() >= grant.expires_at:
        return error_json(errors.grant_expired(), request)
    sent_redirect = form.get("redirect_uri", "")
    if sent_redirect != grant.redirect_uri:
        return error_json(errors.reply_address_mismatch(sent_redirect, grant.redirect_uri), request)
    verifier = form.get("code_verifier", "")
    if not verifier:
        return error_json(errors.pkce_missing(), request)
    computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    if not hmac.compare_digest(computed, grant.code_challenge):
        return error_json(errors.pkce_mismatch(), request)
    user = _active_user(directory, grant.oid)
    if isinstance(user, errors.AadError):
        return error_json(user, request)
    if not entra.grants.consume_code(code):  # another redemption won the race
        return error_json(errors.code_redeemed(), request)
    subject = Subject(directory, user, app, grant.scopes, grant.nonce, grant.sid)
    return _tokens(entra, subject, with_client_info=form.get("client_info") == "1")


def _refresh(
    entra: FakeEntra, directory: Directory, app: AppRegistration, request: Request
) -> Response:
    token = request.form.get("refresh_token", "")
    if not token:
        return error_json(errors.missing("refresh_token"), request)
    grant, revoked = entra.grants.find_refresh(token)
    if grant is None:
        return error_json(errors.grant_malformed(), request)
    if (grant.tenant_id, grant.client_id) != (directory.tenant_id, app.client_id):
        return error_json(errors.grant_other_client(), request)
    if revoked:
        return error_json(errors.grant_revoked(), request)
    user = _active_user(directory, grant.oid)
    if isinstance(user, errors.AadError):
        return error_json(user, request)
    # A refreshed ID token carries no nonce: there was no authorize request.
    subject = Subject(directory, user, app, grant.scopes, None, grant.sid)
    return _tokens(entra, subject, with_client_info=request.form.get("client_info") == "1")


def _active_user(directory: Directory, oid: str) -> User | errors.AadError:
    user = directory.users.get(oid)
    if user is None or not user.enabled:
        disabled = errors.user_disabled()
        return errors.AadError("invalid_grant", disabled.code, disabled.message)
    return user


def _tokens(entra: FakeEntra, subject: Subject, *, with_client_info: bool) -> Response:
    now = int(entra.clock())
    expires_at = now + ACCESS_TOKEN_LIFETIME
    access = graph_access_token(subject, key=entra.keys.active, now=now, expires_at=expires_at)
    tenant_id, oid = subject.directory.tenant_id, subject.user.oid
    entra.grants.record_access(
        access, AccessGrant(tenant_id, subject.app.client_id, oid, subject.scopes, expires_at)
    )
    body: dict[str, object] = {
        "token_type": "Bearer",
        "scope": response_scope(subject.scopes),
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "ext_expires_in": ACCESS_TOKEN_LIFETIME,
        "access_token": access,
    }
    if "offline_access" in subject.scopes:
        body["refresh_token"] = entra.grants.issue_refresh(
            RefreshGrant(tenant_id, subject.app.client_id, oid, subject.scopes, subject.sid)
        )
    if "openid" in subject.scopes:
        body["id_token"] = entra.mint_id_token(subject)
    if with_client_info:
        body["client_info"] = client_info(subject.user, tenant_id)
    return json_response(body, Cache_Control="no-store", Pragma="no-cache")
