"""What one-click onboarding needs of Entra and Graph, as Microsoft documents it:

- the admin consent endpoint `GET {host}/{organizations|common|tid}/v2.0/adminconsent`
  (client_id, redirect_uri, state, scope): a page where "the directory's admin"
  picks a hosted directory and accepts or cancels; back to the redirect URI with
  `admin_consent=True&tenant=&state=&scope=` or `error=access_denied&state=`;
- the same consent through the authorize endpoint under `organizations`
  (response_type=code, scope `openid` and Graph's `.default`, PKCE, nonce): back
  with a code for the directory's admin, which the token endpoint under
  `organizations` redeems (the multitenant app's secret or certificate) for an ID
  token of that directory;
- client credentials at the token endpoint for a multitenant app consented in
  that directory: an app-only Graph token (roles Application.ReadWrite.All,
  DelegatedPermissionGrant.ReadWrite.All);
- Graph, app-only: instantiate the custom application template, GET/PATCH/DELETE
  `/applications/{id}`, `addPassword`, `GET /applications?$filter=tags/any(...)`,
  `GET /servicePrincipals?$filter=appId eq '...'`, `POST /oauth2PermissionGrants`.
  An application made here is an app registration of the directory at once: a
  sign-in through it works with its redirect URI, groups claim and secret.

Multitenant apps come from the directory file's top-level `multitenant_apps`
(same shape as `apps`). Faults (set with `FakeEntra.set_onboarding_faults`):
`consent_error` [error, description]; `replication_404s` N (the next N Graph
calls naming a just-created application or principal answer 404, as Graph does
for seconds after creation); `step_faults` {step: {"status", "times" (0: every
call), "retry_after", "after_acting" (do the step, then answer the fault)}} for
steps instantiate, get_application, list_applications, patch_application,
add_password, delete_application, service_principals, permission_grant.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from devtools.fake_entra import errors
from devtools.fake_entra.authorize import issue_code
from devtools.fake_entra.directory import AppRegistration, ClientSecret, _app, _mapping
from devtools.fake_entra.metadata import error_json, json_response

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CUSTOM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
APP_ROLES = ("Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_TAG_FILTER = re.compile(r"tags/any\(t:t eq '([^']{1,256})'\)")
_APPID_FILTER = re.compile(r"appId eq '([0-9a-fA-F-]{36})'")
_GROUP_CLAIMS = ("None", "SecurityGroup", "All", "DirectoryRole", "ApplicationGroup")


@dataclass
class CreatedApp:
    object_id: str
    app_id: str
    principal_id: str
    display_name: str
    sign_in_audience: str = "AzureADMyOrg"
    tags: tuple[str, ...] = ()
    optional_claims: Any = None
    required_resource_access: Any = None
    passwords: list[dict[str, str]] = field(default_factory=list)


@dataclass
class OnboardingState:
    """Consents, app-only tokens, created apps, grants and faults. Under `lock`."""

    multitenant: dict[str, AppRegistration]
    lock: threading.RLock = field(default_factory=threading.RLock)
    consents: set[tuple[str, str]] = field(default_factory=set)
    tokens: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    apps: dict[str, dict[str, CreatedApp]] = field(default_factory=dict)  # tid -> object id
    grants: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)  # ids Graph does not "see" yet
    consent_error: tuple[str, str] | None = None
    replication_404s: int = 0
    step_faults: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> OnboardingState:
        apps = [
            _app(_mapping(raw, "a multitenant app")) for raw in source.get("multitenant_apps") or ()
        ]
        return cls({app.client_id: app for app in apps})


def graph_principal_id(tenant_id: str) -> str:
    """Microsoft Graph's service principal in a directory (stable per directory)."""
    return str(uuid.uuid5(uuid.UUID(tenant_id), "microsoft-graph"))


# --- admin consent ------------------------------------------------------------------------


def admin_consent(entra: FakeEntra, request: Request, *, code_flow: bool = False) -> Response:
    """The consent page; with `code_flow` (the authorize endpoint under
    `organizations`, scope `openid` and Graph's `.default`), an accepted consent
    answers an authorization code for the directory's admin instead of the
    unsigned `admin_consent=True&tenant=`: the code redeems for an ID token that
    names the directory, signed."""
    state = entra.onboarding
    args = request.args
    client_id = args.get("client_id", "").lower()
    redirect_uri = args.get("redirect_uri", "")
    app = state.multitenant.get(client_id)
    if app is None:
        return _page("Application not found", f"AADSTS700016: Application with identifier "
                     f"'{escape(client_id[:64])}' was not found.", status=400)  # fmt: skip
    if redirect_uri not in app.redirect_uris:
        return _page("Redirect URI mismatch", "AADSTS50011: The redirect URI specified in the "
                     "request does not match the redirect URIs configured for the application.",
                     status=400)  # fmt: skip
    back = {"state": args.get("state", "")}
    if code_flow:
        refused = _code_request_failure(args)
        if refused is not None:
            return _redirect(redirect_uri, {**refused, **back})
    if request.method == "POST":
        decision = request.form.get("decision", "")
        tenant = request.form.get("tenant", "").lower()
        if decision == "accept" and entra.directory(tenant) is not None:
            with state.lock:
                failure = state.consent_error
            if failure is not None:
                return _redirect(
                    redirect_uri, {"error": failure[0], "error_description": failure[1], **back}
                )
            with state.lock:
                state.consents.add((tenant, client_id))
            if code_flow:
                code = _admin_code(entra, tenant, app, args)
                if code is None:
                    return _redirect(redirect_uri, {"error": "access_denied", **back})
                return _redirect(redirect_uri, {"code": code, **back})
            return _redirect(
                redirect_uri,
                {"admin_consent": "True", "tenant": tenant, **back, "scope": GRAPH_SCOPE},
            )
        description = "AADSTS65004: User declined to consent to access the app."
        return _redirect(
            redirect_uri, {"error": "access_denied", "error_description": description, **back}
        )
    options = "".join(
        f'<option value="{escape(tid)}">{escape(entra.directory(tid).name)}</option>'  # type: ignore[union-attr]
        for tid in entra.tenant_ids
    )
    body = (
        "<h1>Permissions requested</h1>"
        f"<p><strong>{escape(app.name)}</strong> wants to, for your whole organisation:</p>"
        "<ul><li>Read and write all applications (Application.ReadWrite.All)</li>"
        "<li>Manage all delegated permission grants "
        "(DelegatedPermissionGrant.ReadWrite.All)</li></ul>"
        f'<form method="post" action="?{escape(request.query_string.decode("latin-1"))}">'
        '<label for="tenant">Organization</label>'
        f'<select id="tenant" name="tenant">{options}</select>'
        '<button type="submit" name="decision" value="accept">Accept</button>'
        '<button type="submit" name="decision" value="cancel">Cancel</button></form>'
    )
    return _page("Permissions requested", body)


def _code_request_failure(args: Mapping[str, str]) -> dict[str, str] | None:
    scopes = args.get("scope", "").split()
    if args.get("response_type") != "code":
        return {"error": "unsupported_response_type"}
    if "openid" not in scopes or GRAPH_SCOPE not in scopes:
        return {"error": "invalid_scope"}
    challenge = args.get("code_challenge", "")
    if args.get("code_challenge_method") != "S256" or len(challenge) != 43:
        return {"error": "invalid_request", "error_description": "AADSTS9002325: PKCE."}
    return None


def _admin_code(
    entra: FakeEntra, tenant: str, app: AppRegistration, args: Mapping[str, str]
) -> str | None:
    """A code for the directory's admin: the `login_hint` user, else the first enabled
    user by name (the stand-in's directories have no roles)."""
    directory = entra.directory(tenant)
    if directory is None:
        return None
    hint = args.get("login_hint")
    admin = directory.user_by_hint(hint) if hint else None
    if admin is None:
        enabled = sorted((u for u in directory.users.values() if u.enabled), key=lambda u: u.name)
        admin = enabled[0] if enabled else None
    if admin is None:
        return None
    return issue_code(entra, directory, app, admin, args)["code"]


def multitenant_app(entra: FakeEntra, client_id: str) -> AppRegistration | None:
    return entra.onboarding.multitenant.get(client_id.strip().lower())


# --- client credentials -------------------------------------------------------------------


def client_credentials(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    state = entra.onboarding
    form = request.form
    client_id = form.get("client_id", "").lower()
    secret = form.get("client_secret", "")
    app = state.multitenant.get(client_id)
    if app is None:
        directory = entra.directory(tenant_id)
        return error_json(
            errors.app_not_found(client_id, directory.name if directory else tenant_id), request
        )
    if not any(hmac.compare_digest(s.value.encode(), secret.encode()) for s in app.secrets):
        return error_json(errors.secret_invalid(app.client_id), request)
    scopes = form.get("scope", "").split()
    if scopes != [GRAPH_SCOPE]:
        failure = errors.AadError(
            "invalid_scope", 1002012, "The scope must be the Graph /.default scope."
        )
        return error_json(failure, request)
    with state.lock:
        consented = (tenant_id, client_id) in state.consents
    if not consented:
        directory = entra.directory(tenant_id)
        return error_json(
            errors.app_not_found(client_id, directory.name if directory else tenant_id), request
        )
    token = "app." + secrets.token_urlsafe(48)
    with state.lock:
        state.tokens[token] = (tenant_id, client_id, entra.clock() + 3600)
    return json_response(
        {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token},
        Cache_Control="no-store",
    )


# --- Graph, app-only ----------------------------------------------------------------------


def is_app_route(parts: list[str]) -> bool:
    return bool(parts) and parts[0] in (
        "applicationTemplates", "applications", "servicePrincipals", "oauth2PermissionGrants",
    )  # fmt: skip


def graph(entra: FakeEntra, request: Request, parts: list[str]) -> Response:
    from devtools.fake_entra.graph import graph_error

    state = entra.onboarding
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    with state.lock:
        found = state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    if found is None or found[2] <= entra.clock():
        return graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
    tenant_id = found[0]
    method = request.method
    if parts[:1] == ["applicationTemplates"]:
        if parts[1:] != [CUSTOM_APP_TEMPLATE, "instantiate"] or method != "POST":
            return graph_error(404, "Request_ResourceNotFound", "No such application template.")

        def instantiate() -> Response:
            return _instantiate(entra, request, tenant_id)

        return _step(entra, "instantiate", instantiate) or instantiate()
    if parts == ["applications"] and method == "GET":
        return _step(entra, "list_applications") or _list_apps(entra, request, tenant_id)
    if parts[:1] == ["applications"] and len(parts) in (2, 3):
        step = {
            ("GET", 2): "get_application",
            ("PATCH", 2): "patch_application",
            ("DELETE", 2): "delete_application",
            ("POST", 3): "add_password",
        }.get((method, len(parts)))
        if step is None or (len(parts) == 3 and parts[2] != "addPassword"):
            return graph_error(405, "Request_BadRequest", "Not supported here.")

        def call() -> Response:
            return _app_call(entra, request, tenant_id, parts[1], step)

        return _step(entra, step, call) or call()
    if parts == ["servicePrincipals"] and method == "GET":
        return _step(entra, "service_principals") or _principals(entra, request, tenant_id)
    if parts == ["oauth2PermissionGrants"] and method == "POST":

        def grant() -> Response:
            return _grant(entra, request, tenant_id)

        return _step(entra, "permission_grant", grant) or grant()
    return graph_error(400, "BadRequest", "Not served by the stand-in.")


def _step(
    entra: FakeEntra, step: str, act: Callable[[], Response] | None = None
) -> Response | None:
    """The step's fault answer, if one is set (None: serve it). A fault with
    `after_acting` (and `act`, the step itself) does the step first, then answers
    the fault, as a gateway timing out after Graph acted would."""
    from devtools.fake_entra.graph import graph_error

    state = entra.onboarding
    with state.lock:
        fault = state.step_faults.get(step)
        if fault is None:
            return None
        times = int(fault.get("times", 0))
        if times == 1:
            del state.step_faults[step]
        elif times > 1:
            state.step_faults[step] = {**fault, "times": times - 1}
    if fault.get("after_acting") and act is not None:
        act()
    status = int(fault.get("status", 503))
    answer = graph_error(status, "serviceNotAvailable" if status >= 500 else "Request_BadRequest",
                         f"Fault switch on {step}.")  # fmt: skip
    answer.headers.pop("Retry-After", None)
    if fault.get("retry_after") is not None:
        answer.headers["Retry-After"] = str(fault["retry_after"])
    return answer


def _not_yet(entra: FakeEntra, *ids: str) -> bool:
    """Graph's eventual consistency: a just-created object is not found, N times."""
    state = entra.onboarding
    with state.lock:
        if state.replication_404s > 0 and any(i in state.fresh for i in ids):
            state.replication_404s -= 1
            return True
        state.fresh.difference_update(ids)
        return False


def _instantiate(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    body = request.get_json(silent=True) or {}
    name = str(body.get("displayName") or "")[:120]
    if not name:
        from devtools.fake_entra.graph import graph_error

        return graph_error(400, "Request_BadRequest", "displayName is required.")
    app = CreatedApp(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), name)
    registration = AppRegistration(client_id=app.app_id, name=name, redirect_uris=(), secrets=(),
                                   group_membership_claims="None")  # fmt: skip
    state = entra.onboarding
    with state.lock:
        state.apps.setdefault(tenant_id, {})[app.object_id] = app
        state.fresh.update({app.object_id, app.principal_id})
    entra.put_app(tenant_id, registration)
    return json_response(
        {
            "application": _application(app, entra, tenant_id),
            "servicePrincipal": {"id": app.principal_id, "appId": app.app_id, "displayName": name},
        },
        201,
    )


def _application(app: CreatedApp, entra: FakeEntra, tenant_id: str) -> dict[str, Any]:
    directory = entra.directory(tenant_id)
    registration = directory.apps.get(app.app_id) if directory else None
    return {
        "id": app.object_id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "signInAudience": app.sign_in_audience,
        "tags": list(app.tags),
        "web": {
            "redirectUris": list(registration.redirect_uris) if registration else [],
            "logoutUrl": registration.front_channel_logout_url if registration else None,
        },
        "groupMembershipClaims": registration.group_membership_claims if registration else None,
        "optionalClaims": app.optional_claims,
        "requiredResourceAccess": app.required_resource_access or [],
        "passwordCredentials": [dict(p) for p in app.passwords],
    }


def _list_apps(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    from devtools.fake_entra.graph import graph_error

    match = _TAG_FILTER.fullmatch(request.args.get("$filter", ""))
    if match is None:
        return graph_error(400, "Request_UnsupportedQuery", "Only tags/any(t:t eq '...') here.")
    with entra.onboarding.lock:
        apps = [
            a for a in entra.onboarding.apps.get(tenant_id, {}).values() if match.group(1) in a.tags
        ]
    return json_response({"value": [_application(a, entra, tenant_id) for a in apps]})


def _app_call(
    entra: FakeEntra, request: Request, tenant_id: str, object_id: str, step: str
) -> Response:
    from devtools.fake_entra.graph import graph_error

    state = entra.onboarding
    with state.lock:
        app = state.apps.get(tenant_id, {}).get(object_id)
    if app is None or _not_yet(entra, object_id):
        return graph_error(
            404, "Request_ResourceNotFound", f"Resource '{object_id[:40]}' does not exist."
        )
    if step == "get_application":
        return json_response(_application(app, entra, tenant_id))
    if step == "delete_application":
        with state.lock:
            state.apps[tenant_id].pop(object_id, None)
        entra.drop_app(tenant_id, app.app_id)
        return Response(status=204)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return graph_error(400, "Request_BadRequest", "The body must be a JSON object.")
    if step == "add_password":
        credential = body.get("passwordCredential") or {}
        ends = str(credential.get("endDateTime") or "")
        try:
            expires = dt.datetime.fromisoformat(ends.replace("Z", "+00:00"))
        except ValueError:
            return graph_error(400, "Request_BadRequest", "endDateTime is not a date-time.")
        text = secrets.token_urlsafe(30)
        entry = {
            "keyId": str(uuid.uuid4()),
            "displayName": str(credential.get("displayName") or "")[:100],
            "endDateTime": ends,
            "hint": text[:3],
        }
        with state.lock:
            app.passwords.append(entry)
        entra.change_app(
            tenant_id,
            app.app_id,
            lambda reg: {"secrets": (*reg.secrets, ClientSecret(text, expires))},
        )
        return json_response({**entry, "secretText": text})
    return _patch(entra, tenant_id, app, body)


def _patch(entra: FakeEntra, tenant_id: str, app: CreatedApp, body: Mapping[str, Any]) -> Response:
    from devtools.fake_entra.graph import graph_error

    audience = body.get("signInAudience")
    if audience is not None and audience != "AzureADMyOrg":
        return graph_error(400, "Request_BadRequest", "The stand-in takes AzureADMyOrg only.")
    claims = body.get("groupMembershipClaims")
    if claims is not None and claims not in _GROUP_CLAIMS:
        return graph_error(400, "Request_BadRequest", "Invalid groupMembershipClaims.")
    web = body.get("web") or {}
    changes: dict[str, Any] = {}
    if "redirectUris" in web:
        changes["redirect_uris"] = tuple(str(u) for u in web["redirectUris"])
    if "logoutUrl" in web:
        changes["front_channel_logout_url"] = web["logoutUrl"] or None
    if claims is not None:
        changes["group_membership_claims"] = (
            "SecurityGroup" if claims == "SecurityGroup" else claims
        )
    with entra.onboarding.lock:
        if audience is not None:
            app.sign_in_audience = audience
        if "tags" in body:
            app.tags = tuple(str(t) for t in body["tags"])
        if "optionalClaims" in body:
            app.optional_claims = body["optionalClaims"]
        if "requiredResourceAccess" in body:
            app.required_resource_access = body["requiredResourceAccess"]
        if "displayName" in body:
            app.display_name = str(body["displayName"])[:120]
    if changes:
        entra.change_app(tenant_id, app.app_id, lambda reg: changes)
    return Response(status=204)


def _principals(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    from devtools.fake_entra.graph import graph_error

    match = _APPID_FILTER.fullmatch(request.args.get("$filter", ""))
    if match is None:
        return graph_error(400, "Request_UnsupportedQuery", "Only appId eq '...' here.")
    app_id = match.group(1).lower()
    if app_id == GRAPH_APP_ID:
        return json_response({"value": [{"id": graph_principal_id(tenant_id), "appId": GRAPH_APP_ID,
                                         "displayName": "Microsoft Graph"}]})  # fmt: skip
    with entra.onboarding.lock:
        apps = [a for a in entra.onboarding.apps.get(tenant_id, {}).values() if a.app_id == app_id]
    if apps and _not_yet(entra, apps[0].principal_id):
        apps = []
    value = [{"id": a.principal_id, "appId": a.app_id, "displayName": a.display_name} for a in apps]
    return json_response({"value": value})


def _grant(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    from devtools.fake_entra.graph import graph_error

    body = request.get_json(silent=True) or {}
    client, resource = str(body.get("clientId") or ""), str(body.get("resourceId") or "")
    state = entra.onboarding
    with state.lock:
        principals = {a.principal_id for a in state.apps.get(tenant_id, {}).values()}
    if client not in principals or _not_yet(entra, client):
        return graph_error(404, "Request_ResourceNotFound", "clientId names no service principal.")
    if resource != graph_principal_id(tenant_id) or body.get("consentType") != "AllPrincipals":
        return graph_error(400, "Request_BadRequest", "resourceId or consentType is not valid.")
    grant = {"id": secrets.token_urlsafe(16), "clientId": client, "consentType": "AllPrincipals",
             "resourceId": resource, "scope": str(body.get("scope") or "")}  # fmt: skip
    with state.lock:
        state.grants.setdefault(tenant_id, []).append(grant)
    return json_response(grant, 201)


# --- helpers ------------------------------------------------------------------------------


def _redirect(uri: str, params: Mapping[str, str]) -> Response:
    joiner = "&" if "?" in uri else "?"
    return Response(status=302, headers={"Location": uri + joiner + urlencode(params)})


def _page(title: str, body: str, *, status: int = 200) -> Response:
    from devtools.fake_entra.pages import _page as page

    return page(
        title,
        body if body.startswith("<") else f"<h1>{escape(title)}</h1><p>{body}</p>",
        status=status,
    )
