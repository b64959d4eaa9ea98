"""The authorize endpoint: checks the request, signs a user in, redirects with a code.

Order as in Entra: an unknown directory, client or redirect URI gets an error
page and never a redirect (the redirect URI is not trusted yet); every later
failure goes back to the app as `error=` on its redirect URI. A `login_hint`
naming a user signs that user in without a page (tests); otherwise a page
lists the directory's users for a person to pick one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from devtools.fake_entra import errors, pages
from devtools.fake_entra.directory import AppRegistration, Directory, User
from devtools.fake_entra.grants import CodeGrant

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra

RESPONSE_MODES = ("query", "fragment", "form_post")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest


def handle(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    request_id = str(uuid.uuid4())
    if request.method not in ("GET", "POST"):
        return Response("Method not allowed.", status=405, headers={"Allow": "GET, POST"})
    directory = entra.directory(tenant_id)
    if directory is None:
        return pages.error_page(errors.tenant_not_found(tenant_id), request_id=request_id)
    params = {key: request.values[key] for key in request.values}
    chosen = params.pop(pages.USER_FIELD, None) if request.method == "POST" else None
    client_id = params.get("client_id", "").strip().lower()
    if not client_id:
        return pages.error_page(errors.missing("client_id"), request_id=request_id)
    app = directory.apps.get(client_id)
    if app is None:
        failure = errors.app_not_found(params["client_id"], directory.name)
        return pages.error_page(failure, request_id=request_id)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        return pages.error_page(errors.missing("redirect_uri"), request_id=request_id)
    if redirect_uri not in app.redirect_uris:  # exact match, as Entra does
        return pages.error_page(
            errors.redirect_mismatch(redirect_uri, app.client_id), request_id=request_id
        )
    back = _Reply(redirect_uri, params)
    if back.mode not in RESPONSE_MODES:
        return _Reply(redirect_uri, {**params, "response_mode": "query"}).error(
            errors.invalid_parameter("response_mode")
        )
    refused = _request_failure(params)
    if refused is not None:
        return back.error(refused)
    forced = entra.faults.authorize_error
    if forced is not None:
        return back.fields({"error": forced[0], "error_description": forced[1]})
    user = _signed_in_user(directory, params, chosen)
    if user is None:
        if params.get("prompt") == "none":
            return back.error(errors.login_required())
        hint = params.get("login_hint") if not chosen else None
        return pages.sign_in_page(
            directory,
            app,
            action=request.path,
            params=params,
            users=sorted(directory.users.values(), key=lambda u: u.name.lower()),
            hint_unknown=hint,
        )
    if not user.enabled:
        return back.error(errors.user_disabled())
    if user.sign_in_error is not None:
        return back.fields(
            {
                "error": user.sign_in_error.error,
                "error_description": user.sign_in_error.error_description,
            }
        )
    return back.fields(issue_code(entra, directory, app, user, params))


def _request_failure(params: Mapping[str, str]) -> errors.AadError | None:
    response_type = params.get("response_type")
    if not response_type:
        return errors.missing("response_type")
    if response_type != "code":
        return errors.unsupported_response_type(response_type)
    if not params.get("scope", "").strip():
        return errors.missing("scope")
    challenge = params.get("code_challenge")
    if not challenge or params.get("code_challenge_method") != "S256":
        return errors.pkce_required()
    if not _CHALLENGE.match(challenge):
        return errors.pkce_challenge_size()
    return None


def _signed_in_user(
    directory: Directory, params: Mapping[str, str], chosen: str | None
) -> User | None:
    if chosen:
        return directory.users.get(chosen.strip().lower())
    hint = params.get("login_hint")
    return directory.user_by_hint(hint) if hint else None


def issue_code(
    entra: FakeEntra,
    directory: Directory,
    app: AppRegistration,
    user: User,
    params: Mapping[str, str],
) -> dict[str, str]:
    sid = entra.grants.session_for(directory.tenant_id, user.oid, app.client_id)
    code = entra.grants.issue_code(
        CodeGrant(
            tenant_id=directory.tenant_id,
            client_id=app.client_id,
            oid=user.oid,
            redirect_uri=params["redirect_uri"],
            scopes=tuple(params["scope"].split()),
            nonce=params.get("nonce"),
            code_challenge=params["code_challenge"],
            sid=sid,
            expires_at=entra.clock() + entra.code_lifetime,
        )
    )
    return {"code": code, "session_state": sid}


class _Reply:
    """Answers to the app's redirect URI in the response mode it asked for."""

    def __init__(self, redirect_uri: str, params: Mapping[str, str]) -> None:
        self.redirect_uri = redirect_uri
        self.mode = params.get("response_mode", "query")
        self.state = params.get("state")

    def error(self, failure: errors.AadError) -> Response:
        body = errors.error_body(failure)
        return self.fields(
            {
                "error": failure.error,
                "error_description": body["error_description"],
                "error_uri": body["error_uri"],
            }
        )

    def fields(self, fields: Mapping[str, str]) -> Response:
        values = dict(fields)
        if self.state is not None:
            values["state"] = self.state
        if self.mode == "form_post":
            return pages.form_post_page(self.redirect_uri, values)
        if self.mode == "fragment":
            location = f"{self.redirect_uri.split('#')[0]}#{urlencode(values)}"
        else:
            joiner = "&" if "?" in self.redirect_uri else "?"
            location = f"{self.redirect_uri}{joiner}{urlencode(values)}"
        return Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
