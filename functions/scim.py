"""SCIM 2.0 routes (RFC 7644): `{PUBLIC_BASE_URL}/api/scim/v2/{tenant}/...`, the
"Tenant URL" an Entra admin pastes into the provisioning settings.

Thin: authenticate the tenant's SCIM token, hand the request to
`shared.scim`, answer `application/scim+json`. Every failure is a SCIM Error
resource with its status; an unexpected one is a bare 500 (its type logged,
never its message). scim2-models is imported only here, on the first SCIM
request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import web
from shared.errors import EntraBridgeError
from shared.json_input import JsonRefused, parse_json

if TYPE_CHECKING:
    from shared.scim.service import ScimService
    from shared.tenants.model import OAuth2Config

bp = web.Blueprint()
log = logging.getLogger("functions.scim")
_BASE = "api/scim/v2/{tenant}"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SEARCH = ".search"  # POST {endpoint}/.search: a query in the body (RFC 7644 3.4.3)
_ENDPOINTS = ("ServiceProviderConfig", "Schemas", "ResourceTypes", "Users", "Groups")
_ENDPOINTS_WITH_RESOURCES = ("Schemas", "ResourceTypes", "Users", "Groups")  # {endpoint}/{id}
MAX_SCIM_BODY = 1024 * 1024  # Entra's largest: a group PATCH with many members
ScimHandler = Callable[[func.HttpRequest], tuple[int, Any, dict[str, str]]]


def _scim() -> ScimService:
    from shared.container import get_services

    return get_services().scim


def _tenant(req: func.HttpRequest) -> str:
    return str(req.route_params.get("tenant", ""))


def _id(req: func.HttpRequest) -> str:
    return str(req.route_params.get("id", ""))


def _params(req: func.HttpRequest) -> dict[str, str]:
    return {str(k): str(v) for k, v in req.params.items()}


def _authenticated(req: func.HttpRequest) -> OAuth2Config:
    return _scim().authenticate(_tenant(req), web.bearer_token(req))


def _body(req: func.HttpRequest) -> Any:
    from shared.scim.protocol import ScimError

    raw = req.get_body() or b""
    if len(raw) > MAX_SCIM_BODY:
        raise ScimError(413, "The request body is too large.")
    try:
        return parse_json(raw) if raw else None
    except JsonRefused as refused:
        raise ScimError(
            400, f"The body is not acceptable JSON: {refused}.", "invalidSyntax"
        ) from None


def _search_body(req: func.HttpRequest) -> dict[str, Any]:
    from shared.scim.protocol import ScimError

    body = _body(req)
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a SearchRequest object.", "invalidSyntax")
    return body


def _if_match(req: func.HttpRequest) -> str | None:
    value = req.headers.get("If-Match")
    return None if value is None else str(value)


def _respond(status: int, body: Any, extra: dict[str, str] | None = None) -> func.HttpResponse:
    from shared.scim.protocol import SCIM_CONTENT_TYPE

    return func.HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False) if body is not None else None,
        status_code=status,
        mimetype=SCIM_CONTENT_TYPE,
        charset="utf-8",
        headers=web.headers(extra),
    )


def scim_api(handler: ScimHandler) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """Answers as SCIM: the handler's (status, body, headers), or a SCIM Error."""

    @wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        from shared.scim.protocol import ScimError

        try:
            status, body, extra = handler(req)
            return _respond(status, body, extra)
        except ScimError as error:
            if error.status == 401:
                log.warning(
                    "scim %s %s refused 401 (credential: %s, ip: %s)",
                    req.method,
                    str(req.url).split("?", 1)[0],
                    "bearer" if web.bearer_token(req) else "none",
                    web.client_ip(req),
                )
                return _respond(
                    401, error.body(), {"WWW-Authenticate": 'Bearer realm="entrabridge-scim"'}
                )
            return _respond(error.status, error.body())
        except EntraBridgeError as error:
            wait = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return _respond(error.status, ScimError(error.status, error.description).body(), wait)
        except Exception as error:
            log.error("scim %s failed: %s", req.method, type(error).__name__)
            return _respond(500, ScimError(500, "Internal error.").body())

    return wrapper


def _resource(answer: Any, status: int = 200) -> tuple[int, Any, dict[str, str]]:
    headers = {"ETag": answer.version}
    if status == 201:
        headers["Location"] = answer.location
    return status, answer.body, headers


# --- discovery (RFC 7644 4) -----------------------------------------------------------


@bp.route(route=f"{_BASE}/ServiceProviderConfig", methods=["GET"])
@scim_api
def scim_service_provider_config(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    from shared.scim.discovery import service_provider_config as document

    return 200, document(_scim_base(req)), {}


@bp.route(route=f"{_BASE}/Schemas", methods=["GET"])
@scim_api
def scim_schemas(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    from shared.scim.discovery import schemas as listed

    return 200, listed(_scim_base(req)), {}


@bp.route(route=f"{_BASE}/Schemas/{{id}}", methods=["GET"])
@scim_api
def scim_schema(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    from shared.scim.discovery import schema as one

    return 200, one(_scim_base(req), _id(req)), {}


@bp.route(route=f"{_BASE}/ResourceTypes", methods=["GET"])
@scim_api
def scim_resource_types(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    from shared.scim.discovery import resource_types as listed

    return 200, listed(_scim_base(req)), {}


@bp.route(route=f"{_BASE}/ResourceTypes/{{id}}", methods=["GET"])
@scim_api
def scim_resource_type(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    from shared.scim.discovery import resource_type as one

    return 200, one(_scim_base(req), _id(req)), {}


def _scim_base(req: func.HttpRequest) -> str:
    from shared.container import get_services

    return f"{get_services().settings.public_base_url}/api/scim/v2/{_tenant(req)}"


# --- Users ---------------------------------------------------------------------------


@bp.route(route=f"{_BASE}/Users", methods=["GET", "POST"])
@scim_api
def scim_users(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    config = _authenticated(req)
    scim = _scim()
    if req.method.upper() == "GET":
        return 200, scim.users.search(_tenant(req), _params(req)), {}
    return _resource(scim.users.create(_tenant(req), config, _body(req)), 201)


@bp.route(route=f"{_BASE}/Users/.search", methods=["POST"])
@scim_api
def scim_users_search(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    return 200, _scim().users.search(_tenant(req), _search_body(req)), {}


@bp.route(route=f"{_BASE}/Users/{{id}}", methods=["GET", "PUT", "PATCH", "DELETE"])
@scim_api
def scim_user(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    config = _authenticated(req)
    users_ = _scim().users
    tenant, user_id, method = _tenant(req), _id(req), req.method.upper()
    if method == "GET":
        return _resource(users_.get(tenant, user_id, _params(req)))
    if method == "PUT":
        return _resource(users_.replace(tenant, config, user_id, _body(req), _if_match(req)))
    if method == "PATCH":
        return _resource(users_.patch(tenant, config, user_id, _body(req), _if_match(req)))
    users_.delete(tenant, config, user_id, _if_match(req))
    return 204, None, {}


# --- Groups --------------------------------------------------------------------------


@bp.route(route=f"{_BASE}/Groups", methods=["GET", "POST"])
@scim_api
def scim_groups(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    config = _authenticated(req)
    scim = _scim()
    if req.method.upper() == "GET":
        return 200, scim.groups.search(_tenant(req), _params(req)), {}
    return _resource(scim.groups.create(_tenant(req), config, _body(req)), 201)


@bp.route(route=f"{_BASE}/Groups/.search", methods=["POST"])
@scim_api
def scim_groups_search(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    _authenticated(req)
    return 200, _scim().groups.search(_tenant(req), _search_body(req)), {}


@bp.route(route=f"{_BASE}/Groups/{{id}}", methods=["GET", "PUT", "PATCH", "DELETE"])
@scim_api
def scim_group(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    config = _authenticated(req)
    groups_ = _scim().groups
    tenant, group_id, method = _tenant(req), _id(req), req.method.upper()
    if method == "GET":
        return _resource(groups_.get(tenant, group_id, _params(req)))
    if method == "PUT":
        return _resource(groups_.replace(tenant, config, group_id, _body(req), _if_match(req)))
    if method == "PATCH":
        return _resource(groups_.patch(tenant, config, group_id, _body(req), _if_match(req)))
    groups_.delete(tenant, config, group_id, _if_match(req))
    return 204, None, {}


@bp.route(route=f"{_BASE}/.search", methods=["POST"])
@scim_api
def scim_search_everything(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    """POST /.search: Users and Groups in one list (RFC 7644 3.4.3)."""
    _authenticated(req)
    return 200, _scim().search_everything(_tenant(req), _search_body(req)), {}


@bp.route(route=f"{_BASE}/{{*rest}}", methods=_ALL_METHODS)
@scim_api
def scim_unknown(req: func.HttpRequest) -> tuple[int, Any, dict[str, str]]:
    """Any other path or method under the Tenant URL (the host tries the routes above
    first): 405 for an endpoint this service has, with a method it does not take
    there; a SCIM 404 for anything else, never the host's bare one."""
    from shared.scim.protocol import ScimError

    _authenticated(req)
    path = str(req.route_params.get("rest", "")).strip("/")
    if _is_endpoint(path):
        raise ScimError(405, f"{req.method.upper()} is not allowed on this endpoint.")
    raise ScimError(404, "No such SCIM endpoint.")


def _is_endpoint(path: str) -> bool:
    """A path one of the routes above serves (for some method): an endpoint, one of its
    resources, or a search. `Users/{id}/x` is none of them."""
    parts = path.split("/")
    if len(parts) == 1:
        return parts[0] in _ENDPOINTS or parts[0] == SEARCH
    return len(parts) == 2 and parts[0] in _ENDPOINTS_WITH_RESOURCES and parts[1] != ""
