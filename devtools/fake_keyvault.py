"""Key Vault secrets stand-in over HTTPS (dev and tests only).

Speaks enough of the Key Vault secrets REST API that the real
`azure.keyvault.secrets.SecretClient` runs against it unchanged: the bearer
challenge (401 + WWW-Authenticate on a request without a token), set/get
secrets and versions, list versions with nextLink, update properties, delete,
and `SecretNotFound`. Any bearer token is accepted: there is no identity here.

    python -m devtools.fake_keyvault --port 7444

`set_down(True)` makes every call answer 503 (health and outage tests).
Secret values are never logged.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.localca import server_ssl_context

CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/'
    '00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"'
)
PAGE_SIZE = 25


@dataclass
class _Version:
    version: str
    value: str
    tags: dict[str, str]
    content_type: str | None
    enabled: bool
    expires: int | None
    not_before: int | None
    created: int
    updated: int


@dataclass
class FakeKeyVault:
    """The vault's state plus a WSGI app; `serve()` runs it over HTTPS."""

    secrets: dict[str, list[_Version]] = field(default_factory=dict)
    down: bool = False
    requests_seen: int = 0
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------

    def set_down(self, down: bool) -> None:
        self.down = down

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.down = False
            self.requests_seen = 0

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> FakeKeyVault:
        self._server = make_server(
            host,
            port,
            self,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=server_ssl_context(),
        )
        self.base_url = f"https://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data(cache=True)
        with self._lock:
            self.requests_seen += 1
            response = self._handle(request, body)
        return response(environ, start_response)

    def _handle(self, request: Request, body: bytes) -> Response:
        if self.down:
            return _error(503, "ServiceUnavailable", "The vault is down (fault switch).")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            response = _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer token.")
            response.headers["WWW-Authenticate"] = CHALLENGE
            return response
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "secrets":
            return _error(404, "NotFound", "No such route.")
        method = request.method
        if len(parts) == 1 and method == "GET":
            return self._list_secrets()
        name = parts[1]
        if len(parts) == 2:
            if method == "PUT":
                return self._set(name, body)
            if method == "GET":
                return self._get(name, None)
            if method == "DELETE":
                return self._delete(name)
        if len(parts) == 3:
            if parts[2] == "versions" and method == "GET":
                return self._list_versions(name, request.args.get("$skiptoken"))
            if method == "GET":
                return self._get(name, parts[2] or None)
            if method == "PATCH":
                return self._update(name, parts[2], body)
        return _error(405, "MethodNotAllowed", "Not supported by the stand-in.")

    # --- operations ------------------------------------------------------------------

    def _set(self, name: str, body: bytes) -> Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "BadParameter", "Body is not JSON.")
        if not isinstance(payload.get("value"), str):
            return _error(400, "BadParameter", "value is required.")
        attributes = payload.get("attributes") or {}
        now = int(time.time())
        version = _Version(
            version=uuid.uuid4().hex,
            value=payload["value"],
            tags=dict(payload.get("tags") or {}),
            content_type=payload.get("contentType"),
            enabled=bool(attributes.get("enabled", True)),
            expires=attributes.get("exp"),
            not_before=attributes.get("nbf"),
            created=now,
            updated=now,
        )
        self.secrets.setdefault(name, []).append(version)
        return _json(200, self._bundle(name, version))

    def _get(self, name: str, version_id: str | None) -> Response:
        version = self._find(name, version_id)
        if version is None:
            return _not_found(name)
        return _json(200, self._bundle(name, version))

    def _update(self, name: str, version_id: str, body: bytes) -> Response:
        version = self._find(name, version_id)
        if version is None:
            return _not_found(name)
        payload = json.loads(body or b"{}")
        attributes = payload.get("attributes") or {}
        if "enabled" in attributes:
            version.enabled = bool(attributes["enabled"])
        if "exp" in attributes:
            version.expires = attributes["exp"]
        if "tags" in payload:
            version.tags = dict(payload["tags"] or {})
        version.updated = int(time.time())
        return _json(200, self._bundle(name, version))

    def _delete(self, name: str) -> Response:
        versions = self.secrets.pop(name, None)
        if not versions:
            return _not_found(name)
        bundle = self._bundle(name, versions[-1])
        bundle.pop("value", None)
        bundle["recoveryId"] = f"{self.base_url}/deletedsecrets/{name}"
        return _json(200, bundle)

    def _list_versions(self, name: str, skip: str | None) -> Response:
        versions = self.secrets.get(name, [])
        start = int(skip) if skip and skip.isdigit() else 0
        page = versions[start : start + PAGE_SIZE]
        next_link = None
        if start + PAGE_SIZE < len(versions):
            next_link = (
                f"{self.base_url}/secrets/{name}/versions?api-version=7.5"
                f"&$skiptoken={start + PAGE_SIZE}"
            )
        items = [self._item(name, v, versioned=True) for v in page]
        return _json(200, {"value": items, "nextLink": next_link})

    def _list_secrets(self) -> Response:
        items = [
            self._item(name, versions[-1], versioned=False)
            for name, versions in self.secrets.items()
        ]
        return _json(200, {"value": items, "nextLink": None})

    def _find(self, name: str, version_id: str | None) -> _Version | None:
        versions = self.secrets.get(name)
        if not versions:
            return None
        if version_id is None:
            return versions[-1]
        return next((v for v in versions if v.version == version_id), None)

    def _attributes(self, version: _Version) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 7,
        }
        if version.expires is not None:
            attributes["exp"] = version.expires
        if version.not_before is not None:
            attributes["nbf"] = version.not_before
        return attributes

    def _item(self, name: str, version: _Version, *, versioned: bool = True) -> dict[str, Any]:
        """A SecretItem: what list operations return (no value)."""
        suffix = f"/{version.version}" if versioned else ""
        item: dict[str, Any] = {
            "id": f"{self.base_url}/secrets/{name}{suffix}",
            "attributes": self._attributes(version),
            "tags": version.tags,
        }
        if version.content_type:
            item["contentType"] = version.content_type
        return item

    def _bundle(self, name: str, version: _Version) -> dict[str, Any]:
        """A SecretBundle: an item of one version, with its value."""
        return {"value": version.value, **self._item(name, version)}


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


def _not_found(name: str) -> Response:
    return _error(
        404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."
    )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Key Vault secrets stand-in over HTTPS")
    parser.add_argument("--port", type=int, default=7444)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    vault = FakeKeyVault().serve(host=args.host, port=args.port)
    print(f"Key Vault stand-in listening on {vault.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        vault.stop()


if __name__ == "__main__":
    main()
