"""The HTTP control route, for tests that run the stand-in in another process.

Loopback callers only; JSON in and out. Same effects as the Python API:

    GET    /_control/faults                  -> {"faults": {switches that are on}}
    POST   /_control/faults    {name: value}  set switches (unknown name: 400)
    DELETE /_control/faults                  all switches off
    POST   /_control/reset                   FakeEntra.reset()
    GET    /_control/keys                    -> {"active": kid, "published": [kids]}
    POST   /_control/keys/rotate {"drop_old": false}            -> {"kid": new}
    POST   /_control/keys/add {"publish": true, "use": false}   -> {"kid": new}
    POST   /_control/keys/{kid}/publish | /unpublish | /use
    GET|POST /_control/settings {"groups_limit": 200, "code_lifetime": 600}
    POST   /_control/redirect-uris {"tenant_id", "client_id", "uri"}
    POST   /_control/users/{tenant_id}/{oid} {"groups": [...], "email": ..., "enabled": ...,
                                              "sign_in_error": [error, description] | null}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from devtools.fake_entra.directory import DirectoryError

if TYPE_CHECKING:
    from devtools.fake_entra.server import FakeEntra

_LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
_USER_FIELDS = ("groups", "roles", "email", "enabled", "name", "upn", "sign_in_error")


def handle(entra: FakeEntra, request: Request, parts: list[str]) -> Response:
    if request.remote_addr not in _LOOPBACK:
        return _json({"error": "The control route answers loopback callers only."}, 403)
    try:
        payload = _payload(request)
        return _dispatch(entra, request.method, parts, payload)
    except (ValueError, KeyError, TypeError, DirectoryError) as exc:
        return _json({"error": str(exc)}, 400)


def _dispatch(entra: FakeEntra, method: str, parts: list[str], payload: dict[str, Any]) -> Response:
    if parts == ["faults"]:
        if method == "POST":
            entra.set_faults(**payload)
        elif method == "DELETE":
            entra.clear_faults()
        return _json({"faults": entra.faults.active()})
    if parts == ["reset"] and method == "POST":
        entra.reset()
        return _json({"status": "reset"})
    if parts[:1] == ["keys"]:
        return _keys(entra, method, parts[1:], payload)
    if parts == ["settings"]:
        if method == "POST":
            if "groups_limit" in payload:
                entra.groups_limit = int(payload["groups_limit"])
            if "code_lifetime" in payload:
                entra.code_lifetime = float(payload["code_lifetime"])
        return _json({"groups_limit": entra.groups_limit, "code_lifetime": entra.code_lifetime})
    if parts == ["redirect-uris"] and method == "POST":
        entra.add_redirect_uri(
            str(payload["tenant_id"]), str(payload["client_id"]).lower(), str(payload["uri"])
        )
        return _json({"status": "added"})
    if len(parts) == 3 and parts[0] == "users" and method == "POST":
        unknown = sorted(set(payload) - set(_USER_FIELDS))
        if unknown:
            raise ValueError(f"Unknown user field(s): {', '.join(unknown)}.")
        user = entra.update_user(parts[1], parts[2].lower(), **payload)
        return _json({"oid": user.oid, "groups": list(user.groups), "enabled": user.enabled})
    return _json({"error": "No such control route (see devtools.fake_entra.control)."}, 404)


def _keys(entra: FakeEntra, method: str, parts: list[str], payload: dict[str, Any]) -> Response:
    if not parts and method == "GET":
        return _json({"active": entra.keys.active.kid, "published": entra.keys.published_kids})
    if parts == ["rotate"] and method == "POST":
        return _json({"kid": entra.rotate_keys(drop_old=bool(payload.get("drop_old")))})
    if parts == ["add"] and method == "POST":
        kid = entra.keys.add(
            publish=bool(payload.get("publish", True)), use=bool(payload.get("use", False))
        )
        return _json({"kid": kid})
    if len(parts) == 2 and method == "POST":
        kid, action = parts
        if action == "publish":
            entra.keys.publish(kid)
        elif action == "unpublish":
            entra.keys.unpublish(kid)
        elif action == "use":
            entra.keys.use(kid)
        else:
            raise ValueError(f"Unknown key action {action!r}.")
        return _json({"active": entra.keys.active.kid, "published": entra.keys.published_kids})
    return _json({"error": "No such key route."}, 404)


def _payload(request: Request) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object.")
    return data


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
