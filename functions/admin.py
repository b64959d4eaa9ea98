"""Admin API routes: tenants, OAuth2 configuration, client secret, users, audit.

Each handler authenticates the caller, parses the request, calls
`shared.admin.service.AdminService`, renders JSON. Errors are the contract's JSON
errors (`web.api`); a 401 carries `WWW-Authenticate: Bearer`, and every 401
or 403 is logged (route, kind of credential, caller IP; never the credential).
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import web
from shared.errors import Unauthorized

if TYPE_CHECKING:
    from shared.admin.auth import AdminCaller
    from shared.admin.service import AdminService
    from shared.container import Services

bp = web.Blueprint()

PLATFORM_KEY_HEADER = "X-Platform-Admin-Key"
# The literal "api/" is in every route and host.json's routePrefix is "": the Functions
# host refuses any route template that starts with "admin" (its own API lives there),
# prefix or not, so "admin/tenants/..." under the default "api" prefix would never load.
_BASE = "api/admin/tenants/{tenant}"


def _services() -> Services:
    from shared.container import get_services

    return get_services()


def _admin() -> AdminService:
    return _services().admin


def _tenant(req: func.HttpRequest) -> str:
    return str(req.route_params.get("tenant", ""))


def _caller(req: func.HttpRequest, *, platform_only: bool = False) -> AdminCaller:
    key = req.headers.get(PLATFORM_KEY_HEADER)
    return _services().admin_auth.authenticate(
        _tenant(req),
        platform_key=None if key is None else str(key),
        bearer=web.bearer_token(req),
        platform_only=platform_only,
    )


def _admin_api(handler: web.Handler) -> web.Handler:
    """`web.api`, plus a log line for each refusal and the challenge header RFC 6750
    asks of a 401."""
    wrapped = web.api(handler)

    @wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        response = wrapped(req)
        if response.status_code in (401, 403):
            # Probing for keys or tokens must show in the logs: route, credential kind
            # and caller IP, never the credential.
            kind = (
                "platform key"
                if req.headers.get(PLATFORM_KEY_HEADER) is not None
                else "bearer"
                if web.bearer_token(req)
                else "none"
            )
            web.log.warning(
                "admin %s %s refused %s (credential: %s, ip: %s)",
                req.method,
                str(req.url).split("?", 1)[0],
                response.status_code,
                kind,
                web.client_ip(req),
            )
        if response.status_code == Unauthorized.status:
            response.headers["WWW-Authenticate"] = 'Bearer realm="entrabridge-admin"'
        return response

    return wrapper


def _document_response(body: object, etag: str | None, status: int = 200) -> func.HttpResponse:
    return web.json_response(body, status, extra_headers={"ETag": etag} if etag else None)


@bp.route(route=_BASE, methods=["PUT"])
@_admin_api
def put_tenant(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req, platform_only=True)
    body = web.json_object_body(req)
    answer, created = _admin().put_tenant(caller, _tenant(req), body, ip=web.client_ip(req))
    return web.json_response(answer, 201 if created else 200)


@bp.route(route=f"{_BASE}/oauth2", methods=["GET", "PUT"])
@_admin_api
def oauth2(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    if req.method.upper() == "GET":
        document = _admin().get_config(_tenant(req))
        return _document_response(document.body, document.etag)
    body = web.json_object_body(req)
    if_match = req.headers.get("If-Match")
    document = _admin().put_config(
        caller,
        _tenant(req),
        body,
        if_match=None if if_match is None else str(if_match),
        ip=web.client_ip(req),
    )
    return _document_response(document.body, document.etag)


@bp.route(route=f"{_BASE}/oauth2/client-secret", methods=["PUT"])
@_admin_api
def client_secret(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    body = web.json_object_body(req)
    answer = _admin().put_client_secret(caller, _tenant(req), body, ip=web.client_ip(req))
    return web.json_response(answer)


@bp.route(route=f"{_BASE}/oauth2/client-certificate", methods=["POST"])
@_admin_api
def client_certificate(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    answer = _admin().create_client_certificate(caller, _tenant(req), ip=web.client_ip(req))
    return web.json_response(answer, 201)


def _paging(req: func.HttpRequest) -> dict[str, Any]:
    """`limit` (1-1000, default 100) and `cursor` (a previous `next`) of a list route."""
    from shared.admin.input import parse_limit

    return {"limit": parse_limit(req.params.get("limit")), "cursor": req.params.get("cursor")}


@bp.route(route=f"{_BASE}/users", methods=["GET"])
@_admin_api
def users(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    found, cursor = _admin().list_users(_tenant(req), **_paging(req))
    return web.json_response({"users": [u.to_public() for u in found], "next": cursor})


@bp.route(route=f"{_BASE}/users", methods=["POST"])
@_admin_api
def create_user(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    body = web.json_object_body(req)
    user, invite_url = _services().user_creation.create(
        caller, _tenant(req), body, ip=web.client_ip(req)
    )
    answer: dict[str, object] = user.to_public()
    if invite_url is not None:
        answer["invite_url"] = invite_url
    return web.json_response(answer, 201)


@bp.route(route=f"{_BASE}/users/{{user_id}}", methods=["PATCH"])
@_admin_api
def user(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    body = web.json_object_body(req)
    changed = _admin().set_user_disabled(
        caller,
        _tenant(req),
        str(req.route_params.get("user_id", "")),
        body,
        ip=web.client_ip(req),
    )
    return web.json_response(changed.to_public())


@bp.route(route=f"{_BASE}/scim-token", methods=["POST", "DELETE"])
@_admin_api
def scim_token(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    scim = _services().scim
    if req.method.upper() == "DELETE":
        scim.revoke_token(caller, _tenant(req), ip=web.client_ip(req))
        return func.HttpResponse(status_code=204, headers=web.headers())
    return web.json_response(scim.new_token(caller, _tenant(req), ip=web.client_ip(req)), 201)


@bp.route(route=f"{_BASE}/audit", methods=["GET"])
@_admin_api
def audit(req: func.HttpRequest) -> func.HttpResponse:
    _caller(req)
    events, cursor = _admin().list_audit(_tenant(req), **_paging(req))
    return web.json_response({"events": events, "next": cursor})
