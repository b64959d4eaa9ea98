"""Discovery document, signing keys and sign-out: the directory's public endpoints."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jwt
from werkzeug.wrappers import Request, Response

from devtools.fake_entra import errors, pages
from devtools.fake_entra.directory import Directory

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra


def json_response(body: object, status: int = 200, **headers: str) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def error_json(failure: errors.AadError, request: Request) -> Response:
    body = errors.error_body(failure, correlation_id=request.headers.get("client-request-id"))
    return json_response(body, failure.status, Cache_Control="no-store", Pragma="no-cache")


def discovery_document(entra: FakeEntra, tenant_id: str) -> dict[str, Any]:
    """The fields of Entra's v2.0 openid-configuration, pointing at the stand-in."""
    base = f"{entra.base_url}/{tenant_id}"
    host = entra.base_url.removeprefix("https://")
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{entra.base_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net",
    }


def discovery(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    status = entra.faults.discovery_status
    if status is not None:
        return error_json(errors.server_fault(status), request)
    if tenant_id in ("organizations", "common"):
        # Any directory: the issuer is Entra's template, each token names its own.
        document = discovery_document(entra, tenant_id)
        document["issuer"] = f"{entra.base_url}/{{tenantid}}/v2.0"
        return json_response(document)
    if entra.directory(tenant_id) is None:
        return error_json(errors.tenant_not_found(tenant_id), request)
    return json_response(discovery_document(entra, tenant_id))


def keys(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    if entra.faults.jwks_down:
        return error_json(errors.server_fault(503), request)
    if entra.directory(tenant_id) is None:
        return error_json(errors.tenant_not_found(tenant_id), request)
    return json_response(entra.jwks(tenant_id))


def logout(entra: FakeEntra, request: Request, tenant_id: str) -> Response:
    """End the user's Entra session, run front-channel logout, return to the app if allowed.

    The user comes from `id_token_hint` (an ID token this stand-in signed) or
    `logout_hint` (a UPN); the return address must be one of the app's redirect URIs.
    """
    directory = entra.directory(tenant_id)
    if directory is None:
        return pages.error_page(errors.tenant_not_found(tenant_id), request_id="-")
    params = request.values
    hint = _verified_hint(entra, params.get("id_token_hint", ""), directory)
    client_id = params.get("client_id") or (hint or {}).get("aud")
    oid = (hint or {}).get("oid")
    if oid is None and params.get("logout_hint"):
        user = directory.user_by_hint(params["logout_hint"])
        oid = user.oid if user else None
    frames = []
    if isinstance(oid, str):
        for sid, client_ids in entra.grants.end_sessions(directory.tenant_id, oid):
            for app_id in sorted(client_ids):
                app = directory.apps.get(app_id)
                if app and app.front_channel_logout_url:
                    joiner = "&" if "?" in app.front_channel_logout_url else "?"
                    frames.append(f"{app.front_channel_logout_url}{joiner}sid={sid}")
    next_url = _return_address(directory, client_id, params.get("post_logout_redirect_uri"))
    if next_url and params.get("state"):
        joiner = "&" if "?" in next_url else "?"
        next_url += joiner + urlencode({"state": params["state"]})
    if next_url and not frames:
        return Response(status=302, headers={"Location": next_url})
    return pages.signed_out_page(frames, next_url)


def _verified_hint(entra: FakeEntra, raw: str, directory: Directory) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        kid = jwt.get_unverified_header(raw).get("kid")
        key = entra.keys.find(kid) if isinstance(kid, str) else None
        if key is None:
            return None
        claims: dict[str, Any] = jwt.decode(
            raw,
            key=key.private_key.public_key(),
            algorithms=["RS256"],
            issuer=entra.issuer(directory.tenant_id),
            options={"verify_aud": False, "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    return claims


def _return_address(directory: Directory, client_id: object, uri: str | None) -> str | None:
    if not uri or not isinstance(client_id, str):
        return None
    app = directory.apps.get(client_id.lower())
    return uri if app and uri in app.redirect_uris else None
