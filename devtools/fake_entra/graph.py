"""A slice of Microsoft Graph v1.0: what a sign-in with delegated User.Read can read.

- `GET /v1.0/me` (`$select` honoured)
- `GET /v1.0/me/transitiveMemberOf[/microsoft.graph.group|/microsoft.graph.directoryRole]`
  and `/v1.0/me/memberOf[...]`: groups of every kind and directory roles, each with
  `@odata.type`; `$select`, `$top` (pages of at most 100) and `@odata.nextLink`
  (absolute, with an opaque `$skiptoken`)
- `POST /v1.0/me/getMemberObjects` `{"securityEnabledOnly": true}`
- `GET /oidc/userinfo`

Authorised only by an access token this stand-in issued (401 otherwise), as Graph
would. `graph_status` / `graph_fail_from_page` / `graph_next_link_base` faults apply.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from devtools.fake_entra.directory import Directory, DirectoryRole, Group, User
from devtools.fake_entra.grants import AccessGrant
from devtools.fake_entra.tokens import pairwise_sub

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra

MAX_PAGE = 100
_CASTS = {
    "microsoft.graph.group": Group,
    "microsoft.graph.directoryRole": DirectoryRole,
}
_UNSUPPORTED = ("$filter", "$search", "$orderby", "$expand", "$count")
_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def handle(entra: FakeEntra, request: Request, parts: list[str]) -> Response:
    found = _caller(entra, request)
    if isinstance(found, Response):
        return found
    directory, user, _grant = found
    if parts == ["me"] and request.method == "GET":
        failure = _guarded(entra, 0)
        return failure if failure is not None else _me(entra, request, user)
    if parts[:2] in (["me", "transitiveMemberOf"], ["me", "memberOf"]) and len(parts) <= 3:
        if request.method != "GET":
            return graph_error(405, "Request_BadRequest", "Only GET is supported here.")
        cast = _CASTS.get(parts[2]) if len(parts) == 3 else None
        if len(parts) == 3 and cast is None:
            return graph_error(
                400, "BadRequest", f"Resource not found for the segment '{parts[2][:64]}'."
            )
        transitive = parts[1] == "transitiveMemberOf"
        return _member_of(entra, request, directory, user, cast=cast, transitive=transitive)
    if parts == ["me", "getMemberObjects"] and request.method == "POST":
        failure = _guarded(entra, 0)
        if failure is not None:
            return failure
        return _get_member_objects(entra, request, directory, user)
    return graph_error(
        400,
        "BadRequest",
        "Resource not found for the segment (the stand-in "
        "serves /me, /me/transitiveMemberOf, /me/memberOf, /me/getMemberObjects).",
    )


def userinfo(entra: FakeEntra, request: Request) -> Response:
    found = _caller(entra, request)
    if isinstance(found, Response):
        return found
    directory, user, grant = found
    given, _, family = user.name.partition(" ")
    body: dict[str, Any] = {
        "sub": pairwise_sub(directory.tenant_id, user.oid, grant.client_id),
        "name": user.name,
        "family_name": family or None,
        "given_name": given,
        "picture": f"{entra.graph_base_url}/v1.0/me/photo/$value",
    }
    if user.email and "email" in grant.scopes:
        body["email"] = user.email
    return _json(body)


def graph_error(status: int, code: str, message: str) -> Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
    response = _json(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = _CHALLENGE
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


def _caller(entra: FakeEntra, request: Request) -> tuple[Directory, User, AccessGrant] | Response:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
    grant = entra.grants.find_access(token.strip())
    if grant is None:
        return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
    if grant.expires_at <= entra.clock():
        return graph_error(
            401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
        )
    directory = entra.directory(grant.tenant_id)
    user = directory.users.get(grant.oid) if directory else None
    if directory is None or user is None:
        return graph_error(404, "Request_ResourceNotFound", "The signed-in user was deleted.")
    return directory, user, grant


def _guarded(entra: FakeEntra, page: int) -> Response | None:
    faults = entra.faults
    if faults.graph_status is not None and page >= faults.graph_fail_from_page:
        code = "serviceNotAvailable" if faults.graph_status == 503 else "generalException"
        return graph_error(faults.graph_status, code, "Graph is failing (fault switch).")
    return None


def _me(entra: FakeEntra, request: Request, user: User) -> Response:
    given, _, family = user.name.partition(" ")
    body: dict[str, Any] = {
        "businessPhones": [],
        "displayName": user.name,
        "givenName": given,
        "jobTitle": None,
        "mail": user.email,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": family or None,
        "userPrincipalName": user.upn,
        "id": user.oid,
    }
    select = _select(request.args)
    if select:
        body = {k: v for k, v in body.items() if k in select}
    context = f"{entra.graph_base_url}/v1.0/$metadata#users/$entity"
    return _json({"@odata.context": context, **body})


def _member_of(
    entra: FakeEntra,
    request: Request,
    directory: Directory,
    user: User,
    *,
    cast: type | None,
    transitive: bool,
) -> Response:
    args = request.args
    unsupported = [name for name in _UNSUPPORTED if name in args]
    if unsupported:
        return graph_error(
            400,
            "Request_UnsupportedQuery",
            f"The stand-in does not support {', '.join(unsupported)}.",
        )
    size = MAX_PAGE
    if "$top" in args:
        top = args["$top"]
        if not top.isdigit() or not 1 <= int(top) <= 999:
            return graph_error(
                400,
                "Request_BadRequest",
                f"Invalid page size specified: '{top[:16]}'. Must be between 1 and 999 inclusive.",
            )
        size = min(int(top), MAX_PAGE)
    offset = _offset(args.get("$skiptoken"))
    if offset is None:
        return graph_error(400, "Request_BadRequest", "The $skiptoken is not valid.")
    failure = _guarded(entra, offset // size)
    if failure is not None:
        return failure
    if transitive:
        objects = directory.member_objects(user)
    else:
        direct: list[Group | DirectoryRole] = [
            directory.groups[g] for g in user.groups if g in directory.groups
        ]
        objects = direct + [directory.roles[r] for r in user.roles if r in directory.roles]
    if cast is not None:
        objects = [o for o in objects if isinstance(o, cast)]
    select = _select(args)
    page = [_render(o, select) for o in objects[offset : offset + size]]
    body: dict[str, Any] = {
        "@odata.context": f"{entra.graph_base_url}/v1.0/$metadata#directoryObjects",
        "value": page,
    }
    if offset + size < len(objects):
        base = entra.faults.graph_next_link_base or entra.graph_base_url
        query = {k: v for k, v in args.items() if k != "$skiptoken"}
        query["$skiptoken"] = _skiptoken(offset + size)
        body["@odata.nextLink"] = f"{base}{request.path}?{urlencode(query, safe='$,')}"
    return _json(body)


def _get_member_objects(
    entra: FakeEntra, request: Request, directory: Directory, user: User
) -> Response:
    try:
        payload = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        return graph_error(400, "BadRequest", "The body is not JSON.")
    security_only = isinstance(payload, dict) and payload.get("securityEnabledOnly") is True
    objects = directory.member_objects(user)
    if security_only:
        objects = [o for o in objects if isinstance(o, Group) and o.security_enabled]
    context = f"{entra.graph_base_url}/v1.0/$metadata#Collection(Edm.String)"
    return _json({"@odata.context": context, "value": [o.id for o in objects]})


def _render(obj: Group | DirectoryRole, select: set[str]) -> dict[str, Any]:
    if isinstance(obj, Group):
        full: dict[str, Any] = {
            "id": obj.id,
            "deletedDateTime": None,
            "description": None,
            "displayName": obj.name,
            "groupTypes": list(obj.types),
            "mail": None,
            "mailEnabled": "Unified" in obj.types,
            "mailNickname": obj.name.lower().replace(" ", "-"),
            "securityEnabled": obj.security_enabled,
            "visibility": None,
        }
        odata_type = "#microsoft.graph.group"
    else:
        full = {
            "id": obj.id,
            "deletedDateTime": None,
            "description": None,
            "displayName": obj.name,
            "roleTemplateId": obj.template_id,
        }
        odata_type = "#microsoft.graph.directoryRole"
    if select:
        full = {k: v for k, v in full.items() if k in select}
    return {"@odata.type": odata_type, **full}


def _select(args: Mapping[str, str]) -> set[str]:
    return {s.strip() for s in args.get("$select", "").split(",") if s.strip()}


_SKIP_PREFIX = "stand-in-offset:"


def _skiptoken(offset: int) -> str:
    """Opaque to clients, as Graph's are: they must follow nextLink, not build it."""
    return base64.urlsafe_b64encode(f"{_SKIP_PREFIX}{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    digits = raw.removeprefix(_SKIP_PREFIX)
    if not raw.startswith(_SKIP_PREFIX) or not digits.isdigit():
        return None
    return int(digits)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
