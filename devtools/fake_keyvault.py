"""Key Vault secrets stand-in over HTTPS (dev and tests only).

Speaks enough of the Key Vault secrets REST API that the real
`azure.keyvault.secrets.SecretClient` runs against it unchanged:

- the bearer challenge: a request without a token (the SDK's first, body-less
  one) gets 401 + ``WWW-Authenticate: Bearer authorization=..., resource=...``;
  any bearer token is then accepted (there is no identity here);
- set (a new version each time), get current or a version, update properties,
  list secrets and versions (``maxresults`` + ``nextLink`` paging), delete with
  soft delete (get/list/purge/recover deleted secrets; a deleted name cannot be
  set until purged or recovered, as in Azure);
- Key Vault's error bodies: 404 ``SecretNotFound``, 403 ``SecretDisabled``,
  409 for a deleted name, 400 ``BadParameter``.

Like Azure, it returns expired secrets (``exp`` is advisory) and compares names
case-insensitively. Versions are listed oldest first.

    python -m devtools.fake_keyvault --port 7444

As a library: ``FakeKeyVault().serve()`` starts it on a free port in a
background thread (``base_url``), ``stop()`` ends it. Fault switches:
``set_down(True)`` answers 503 to everything, ``set_delay(s)`` holds every
answer back. ``seen`` records each request's method, path, status and whether
it carried a token or a body, never their contents. Nothing logs secret values.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from werkzeug.wrappers import Request, Response

from devtools.localca import ensure_local_ca
from devtools.tls_server import BackgroundTlsServer

TENANT_ID = "00000000-0000-0000-0000-000000000000"
# The format Azure sends and the SDK's HttpChallenge parses (authorization + resource).
CHALLENGE = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
    'resource="https://vault.azure.net"'
)
PAGE_SIZE = 25
MAX_VALUE_BYTES = 25 * 1024
RECOVERABLE_DAYS = 7
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


@dataclass
class StoredVersion:
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
class DeletedSecret:
    name: str
    versions: list[StoredVersion]
    deleted: int


@dataclass(frozen=True)
class SeenRequest:
    """One request as the stand-in saw it: whether a token or body came, never what."""

    method: str
    path: str
    status: int
    authorized: bool
    body_bytes: int


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class FakeKeyVault:
    """The vault's state plus a WSGI app; `serve()` runs it over HTTPS."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.secrets: dict[str, list[StoredVersion]] = {}
        self.deleted: dict[str, DeletedSecret] = {}
        self.seen: list[SeenRequest] = []
        self.base_url = ""
        self._down = False
        self._delay = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: BackgroundTlsServer | None = None

    # --- control -------------------------------------------------------------------

    @property
    def requests_seen(self) -> int:
        return len(self.seen)

    @property
    def down(self) -> bool:
        return self._down

    def set_down(self, down: bool) -> None:
        """Answer every request 503 (Key Vault throttled or unavailable) while set."""
        self._down = down

    def set_delay(self, seconds: float) -> None:
        """Hold every answer back this long after deciding it; `stop()` releases them."""
        self._delay = seconds

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.deleted.clear()
            self.seen.clear()
            self._down = False
            self._delay = 0.0

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> FakeKeyVault:
        """Start serving HTTPS in a background thread; port 0 picks a free one."""
        self._server = BackgroundTlsServer(self, host=host, port=port, name="fake-keyvault")
        self.base_url = self._server.base_url(host)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeKeyVault:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # --- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        # Read the whole body first, so a refused request leaves a keep-alive
        # connection in step for the next one.
        body = request.get_data(cache=True)
        authorized = _has_bearer_token(request)
        with self._lock:
            try:
                response = self._handle(request, body, authorized=authorized)
            except _Refusal as refusal:
                response = refusal.response
            self.seen.append(
                SeenRequest(
                    method=request.method,
                    path=request.path,
                    status=response.status_code,
                    authorized=authorized,
                    body_bytes=len(body),
                )
            )
        if self._delay:
            # The answer is decided, then held back (outside the lock, so other
            # requests proceed): a slow vault, or a reply racing a later write.
            self._stopping.wait(self._delay)
        return response(environ, start_response)

    def _handle(self, request: Request, body: bytes, *, authorized: bool) -> Response:
        if self._down:
            return _error(503, "ServiceUnavailable", "The vault is down (fault switch).")
        if not authorized:
            response = _error(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
            )
            response.headers["WWW-Authenticate"] = CHALLENGE
            return response
        api_version = request.args.get("api-version")
        if not api_version:
            return _error(400, "BadParameter", "The api-version query parameter is missing.")
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if parts[:1] == ["secrets"]:
            return self._secrets_route(method, parts[1:], request, body, api_version)
        if parts[:1] == ["deletedsecrets"]:
            return self._deleted_route(method, parts[1:], request, api_version)
        return _error(404, "NotFound", "The stand-in serves /secrets and /deletedsecrets only.")

    def _secrets_route(
        self, method: str, rest: list[str], request: Request, body: bytes, api_version: str
    ) -> Response:
        if not rest:
            if method == "GET":
                return self._list_secrets(request, api_version)
            return _method_not_allowed()
        name = _checked_name(rest[0])
        if len(rest) == 1:
            # `/secrets/{name}/` (the SDK's "current version") arrives here too.
            if method == "PUT":
                return self._set(name, _json_body(body))
            if method == "GET":
                return self._get(name, None)
            if method == "PATCH":
                return self._update(name, None, _json_body(body))
            if method == "DELETE":
                return self._delete(name)
            return _method_not_allowed()
        if len(rest) == 2:
            if rest[1] == "versions" and method == "GET":
                return self._list_versions(name, request, api_version)
            if method == "GET":
                return self._get(name, rest[1])
            if method == "PATCH":
                return self._update(name, rest[1], _json_body(body))
        return _method_not_allowed()

    def _deleted_route(
        self, method: str, rest: list[str], request: Request, api_version: str
    ) -> Response:
        if not rest:
            if method == "GET":
                return self._list_deleted(request, api_version)
            return _method_not_allowed()
        name = _checked_name(rest[0])
        if len(rest) == 1 and method == "GET":
            return _json(200, self._deleted_bundle(self._find_deleted(name)))
        if len(rest) == 1 and method == "DELETE":
            self.deleted.pop(self._find_deleted(name).name.lower())
            return Response(status=204)
        if len(rest) == 2 and rest[1] == "recover" and method == "POST":
            return self._recover(name)
        return _method_not_allowed()

    # --- operations ------------------------------------------------------------------

    def _set(self, name: str, payload: dict[str, Any]) -> Response:
        if name.lower() in self.deleted:
            return _error(
                409,
                "Conflict",
                f"Secret {name} is currently in a deleted but recoverable state, and its name "
                "cannot be reused; in this state, the secret can only be recovered or purged.",
            )
        value = payload.get("value")
        if not isinstance(value, str):
            return _error(400, "BadParameter", "The secret value is required.")
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            return _error(400, "BadParameter", "The secret value is larger than 25 KB.")
        attributes = _attributes_of(payload)
        now = int(self.clock())
        version = StoredVersion(
            version=uuid.uuid4().hex,
            value=value,
            tags=_tags_of(payload) or {},
            content_type=_content_type_of(payload),
            enabled=attributes.get("enabled", True) is not False,
            expires=_timestamp(attributes, "exp"),
            not_before=_timestamp(attributes, "nbf"),
            created=now,
            updated=now,
        )
        key = self._key(name) or name
        self.secrets.setdefault(key, []).append(version)
        return _json(200, self._bundle(key, version))

    def _get(self, name: str, version_id: str | None) -> Response:
        key, version = self._find(name, version_id)
        if not version.enabled:
            return _json(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Operation get is not allowed on a disabled secret.",
                        "innererror": {"code": "SecretDisabled"},
                    }
                },
            )
        return _json(200, self._bundle(key, version))

    def _update(self, name: str, version_id: str | None, payload: dict[str, Any]) -> Response:
        key, version = self._find(name, version_id)
        attributes = _attributes_of(payload)
        # Absent or null means "leave as is", as in Azure.
        if attributes.get("enabled") is not None:
            version.enabled = bool(attributes["enabled"])
        if attributes.get("exp") is not None:
            version.expires = _timestamp(attributes, "exp")
        if attributes.get("nbf") is not None:
            version.not_before = _timestamp(attributes, "nbf")
        tags = _tags_of(payload)
        if tags is not None:
            version.tags = tags
        if payload.get("contentType") is not None:
            version.content_type = _content_type_of(payload)
        version.updated = int(self.clock())
        item = self._item(key, version)
        return _json(200, item)

    def _delete(self, name: str) -> Response:
        key, _ = self._find(name, None)
        deleted = DeletedSecret(name=key, versions=self.secrets.pop(key), deleted=int(self.clock()))
        self.deleted[key.lower()] = deleted
        return _json(200, self._deleted_bundle(deleted))

    def _recover(self, name: str) -> Response:
        deleted = self._find_deleted(name)
        self.deleted.pop(deleted.name.lower())
        self.secrets[deleted.name] = deleted.versions
        return _json(200, self._item(deleted.name, deleted.versions[-1]))

    def _list_secrets(self, request: Request, api_version: str) -> Response:
        items = [
            self._item(key, versions[-1], versioned=False) for key, versions in self.secrets.items()
        ]
        return _json(200, _page(items, request, api_version, f"{self.base_url}/secrets"))

    def _list_versions(self, name: str, request: Request, api_version: str) -> Response:
        key = self._key(name)
        # Azure answers an empty list, not 404, for a name it does not hold.
        versions = self.secrets[key] if key else []
        items = [self._item(name if key is None else key, v) for v in versions]
        link = f"{self.base_url}/secrets/{key or name}/versions"
        return _json(200, _page(items, request, api_version, link))

    def _list_deleted(self, request: Request, api_version: str) -> Response:
        items = [self._deleted_bundle(d, versioned=False) for d in self.deleted.values()]
        return _json(200, _page(items, request, api_version, f"{self.base_url}/deletedsecrets"))

    # --- lookups and shapes ----------------------------------------------------------

    def _key(self, name: str) -> str | None:
        """The stored spelling of a name: Key Vault names are case-insensitive."""
        lowered = name.lower()
        return next((key for key in self.secrets if key.lower() == lowered), None)

    def _find(self, name: str, version_id: str | None) -> tuple[str, StoredVersion]:
        key = self._key(name)
        versions = self.secrets.get(key) if key else None
        if key is None or not versions:
            raise _Refusal(_not_found(name))
        if version_id is None:
            return key, versions[-1]
        found = next((v for v in versions if v.version == version_id.lower()), None)
        if found is None:
            raise _Refusal(_not_found(f"{name}/{version_id}"))
        return key, found

    def _find_deleted(self, name: str) -> DeletedSecret:
        deleted = self.deleted.get(name.lower())
        if deleted is None:
            raise _Refusal(_not_found(name, deleted=True))
        return deleted

    def _attributes(self, version: StoredVersion) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RECOVERABLE_DAYS,
        }
        if version.expires is not None:
            attributes["exp"] = version.expires
        if version.not_before is not None:
            attributes["nbf"] = version.not_before
        return attributes

    def _item(self, name: str, version: StoredVersion, *, versioned: bool = True) -> dict[str, Any]:
        """A SecretItem: what list and update operations return (no value)."""
        suffix = f"/{version.version}" if versioned else ""
        item: dict[str, Any] = {
            "id": f"{self.base_url}/secrets/{name}{suffix}",
            "attributes": self._attributes(version),
            "tags": dict(version.tags),
        }
        if version.content_type:
            item["contentType"] = version.content_type
        return item

    def _bundle(self, name: str, version: StoredVersion) -> dict[str, Any]:
        """A SecretBundle: one version with its value."""
        return {"value": version.value, **self._item(name, version)}

    def _deleted_bundle(self, deleted: DeletedSecret, *, versioned: bool = True) -> dict[str, Any]:
        bundle = self._item(deleted.name, deleted.versions[-1], versioned=versioned)
        bundle["recoveryId"] = f"{self.base_url}/deletedsecrets/{deleted.name}"
        bundle["deletedDate"] = deleted.deleted
        bundle["scheduledPurgeDate"] = deleted.deleted + RECOVERABLE_DAYS * 86400
        return bundle


# --- request parsing --------------------------------------------------------------


def _has_bearer_token(request: Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise _Refusal(
            _error(400, "BadParameter", "Secret names are 1-127 letters, digits and dashes.")
        )
    return name


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal(_error(400, "BadParameter", "The request body is not JSON.")) from None
    if not isinstance(payload, dict):
        raise _Refusal(_error(400, "BadParameter", "The request body is not a JSON object."))
    return payload


def _attributes_of(payload: dict[str, Any]) -> dict[str, Any]:
    attributes = payload.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise _Refusal(_error(400, "BadParameter", "attributes must be an object."))
    return attributes


def _timestamp(attributes: dict[str, Any], key: str) -> int | None:
    value = attributes.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refusal(_error(400, "BadParameter", f"attributes.{key} must be a Unix time."))
    return int(value)


def _tags_of(payload: dict[str, Any]) -> dict[str, str] | None:
    tags = payload.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise _Refusal(_error(400, "BadParameter", "tags must map strings to strings."))
    if len(tags) > 15:
        raise _Refusal(_error(400, "BadParameter", "A secret has at most 15 tags."))
    return dict(tags)


def _content_type_of(payload: dict[str, Any]) -> str | None:
    content_type = payload.get("contentType")
    if content_type is not None and not isinstance(content_type, str):
        raise _Refusal(_error(400, "BadParameter", "contentType must be a string."))
    return content_type


def _page(
    items: list[dict[str, Any]], request: Request, api_version: str, link: str
) -> dict[str, Any]:
    """One page of a list answer, with the nextLink the SDK follows."""
    try:
        size = min(PAGE_SIZE, int(request.args.get("maxresults", PAGE_SIZE)))
        start = int(request.args.get("$skiptoken", "0"))
    except ValueError:
        raise _Refusal(_error(400, "BadParameter", "maxresults/$skiptoken: bad number.")) from None
    if size < 1 or start < 0:
        raise _Refusal(_error(400, "BadParameter", "maxresults must be 1-25."))
    next_link = None
    if start + size < len(items):
        next_link = f"{link}?api-version={api_version}&$skiptoken={start + size}&maxresults={size}"
    return {"value": items[start : start + size], "nextLink": next_link}


# --- responses --------------------------------------------------------------------


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


def _not_found(name: str, *, deleted: bool = False) -> Response:
    code = "DeletedSecretNotFound" if deleted else "SecretNotFound"
    where = "deleted secrets" if deleted else "this key vault"
    return _error(404, code, f"A secret with (name/id) {name} was not found in {where}.")


def _method_not_allowed() -> Response:
    return _error(405, "MethodNotAllowed", "Not supported by the stand-in.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Key Vault secrets stand-in over HTTPS")
    parser.add_argument("--port", type=int, default=7444)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with FakeKeyVault().serve(host=args.host, port=args.port) as vault:
        print(f"Key Vault stand-in listening on {vault.base_url}", flush=True)
        print(f"Trust it with REQUESTS_CA_BUNDLE={ensure_local_ca().bundle}", flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
