"""`FakeEntra`: the stand-in's state, its Python control API and its HTTPS server.

The endpoints themselves live in one module each (metadata, authorize,
token_endpoint, graph, control); this module routes requests to them and owns
everything they share: the directories, keys, grants, faults and settings.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import LimitedStream

from devtools.fake_entra import authorize, control, graph, metadata, onboarding, token_endpoint
from devtools.fake_entra.directory import (
    AppRegistration,
    ClientSecret,
    Directory,
    DirectoryError,
    SignInError,
    User,
    load_directories,
    parse_time,
)
from devtools.fake_entra.faults import Faults
from devtools.fake_entra.grants import Grants
from devtools.fake_entra.keys import KeyRing
from devtools.fake_entra.tokens import DEFAULT_GROUPS_LIMIT, Subject, id_token_claims, sign_id_token
from devtools.tls_server import BackgroundTlsServer

DEMO_DIRECTORY = Path(__file__).with_name("demo_directory.json")
DEFAULT_CODE_LIFETIME = 600.0  # Entra documents ~10 minutes
MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 16 * MAX_BODY


class FakeEntra:
    """Entra ID v2.0 + a slice of Microsoft Graph for the given directories, over HTTPS.

    `directory` is a directory file's path or its parsed JSON (see
    `devtools.fake_entra.directory`); the demo directory by default.
    """

    def __init__(
        self,
        directory: Mapping[str, Any] | Path | str | None = None,
        *,
        groups_limit: int = DEFAULT_GROUPS_LIMIT,
        code_lifetime: float = DEFAULT_CODE_LIFETIME,
        signing_keys: int = 2,
    ) -> None:
        source = directory if directory is not None else DEMO_DIRECTORY
        if isinstance(source, (str, Path)):
            source = json.loads(Path(source).read_text(encoding="utf-8"))
        self._source: Mapping[str, Any] = copy.deepcopy(dict(source))
        self._lock = threading.RLock()
        self._directories = load_directories(self._source)
        self._initial_settings = (groups_limit, code_lifetime)
        self._groups_limit = groups_limit
        self._code_lifetime = code_lifetime
        self._faults = Faults()
        self._wake = threading.Event()
        # (method, path, the client end of the connection it came over)
        self._request_log: list[tuple[str, str, str]] = []
        self.keys = KeyRing(signing_keys)
        self.grants = Grants()
        self.onboarding = onboarding.OnboardingState.from_source(self._source)
        self.clock: Callable[[], float] = time.time
        self.base_url = ""
        self._server: BackgroundTlsServer | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def serve(
        self, *, host: str = "127.0.0.1", port: int = 0, public_host: str | None = None
    ) -> FakeEntra:
        """Listen over HTTPS (local CA) in a background thread; port 0 picks a free one.

        Issuers and links use `public_host` (default: `host`, or 127.0.0.1 for a
        wildcard), never the request's Host header.
        """
        self._server = BackgroundTlsServer(self, host=host, port=port, name="fake-entra")
        self.base_url = self._server.base_url(public_host or host)
        return self

    def stop(self) -> None:
        self._wake.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeEntra:
        return self if self._server is not None else self.serve()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the start: directory, keys, settings, no faults, no grants, empty log."""
        with self._lock:
            self._directories = load_directories(self._source)
            self.onboarding = onboarding.OnboardingState.from_source(self._source)
            self._faults = Faults()
            self._groups_limit, self._code_lifetime = self._initial_settings
            self._request_log.clear()
            wake, self._wake = self._wake, threading.Event()
        wake.set()  # a request sleeping in token_delay answers now
        self.keys.restore()
        self.grants.clear()

    # --- URLs --------------------------------------------------------------------------

    @property
    def tenant_ids(self) -> list[str]:
        with self._lock:
            return list(self._directories)

    @property
    def graph_base_url(self) -> str:
        return self.base_url

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}"

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def discovery_url(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0/.well-known/openid-configuration"

    def jwks_uri(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/discovery/v2.0/keys"

    def authorize_endpoint(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/authorize"

    def token_endpoint(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/token"

    def logout_endpoint(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/logout"

    # --- faults and settings -----------------------------------------------------------

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set_faults(self, **switches: Any) -> None:
        """Turn switches on (or off) by name; see `devtools.fake_entra.faults`."""
        with self._lock:
            self._faults = self._faults.with_changes(switches)

    def take_token_fault(self) -> Faults | None:
        """The switches a token request answers with, if one is set; counts the request
        against `token_fault_times` (the token faults switch off after the last one)."""
        with self._lock:
            faults = self._faults
            if faults.token_status is None:
                return None
            if faults.token_fault_times == 1:
                self._faults = dataclasses.replace(
                    faults,
                    token_status=None,
                    token_retry_after=None,
                    token_body="json",
                    token_fault_times=0,
                )
            elif faults.token_fault_times > 1:
                self._faults = dataclasses.replace(
                    faults, token_fault_times=faults.token_fault_times - 1
                )
            return faults

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = Faults()

    @property
    def groups_limit(self) -> int:
        with self._lock:
            return self._groups_limit

    @groups_limit.setter
    def groups_limit(self, value: int) -> None:
        if value < 0:
            raise ValueError("groups_limit must be >= 0.")
        with self._lock:
            self._groups_limit = value

    @property
    def code_lifetime(self) -> float:
        with self._lock:
            return self._code_lifetime

    @code_lifetime.setter
    def code_lifetime(self, value: float) -> None:
        with self._lock:
            self._code_lifetime = float(value)

    def wait(self, seconds: float) -> None:
        """Sleep that `reset()` and `stop()` cut short."""
        with self._lock:
            wake = self._wake
        wake.wait(seconds)

    # --- keys --------------------------------------------------------------------------

    def rotate_keys(self, *, drop_old: bool = False) -> str:
        """Publish a new key and sign with it; `drop_old` unpublishes the one it replaces."""
        return self.keys.rotate(drop_old=drop_old)

    def jwks(self, tenant_id: str) -> dict[str, Any]:
        return self.keys.jwks(self.issuer(tenant_id))

    # --- directories -------------------------------------------------------------------

    def directory(self, tenant_id: str) -> Directory | None:
        """A snapshot of one directory (None if not hosted)."""
        with self._lock:
            found = self._directories.get(tenant_id.lower())
            return found.copy() if found else None

    def other_tenant_id(self, tenant_id: str) -> str:
        """Another hosted directory's id (for the cross-tenant attacks), else a fixed one."""
        with self._lock:
            others = [t for t in self._directories if t != tenant_id]
        return others[0] if others else "72f988bf-86f1-41af-91ab-2d7cd011db47"

    def add_user(self, tenant_id: str, user: User) -> None:
        with self._lock:
            directory = self._require(tenant_id)
            unknown = [g for g in user.groups if g not in directory.groups]
            if unknown or any(r not in directory.roles for r in user.roles):
                raise DirectoryError(f"User {user.oid} names unknown groups or roles.")
            directory.users[user.oid] = user

    def update_user(self, tenant_id: str, oid: str, **changes: Any) -> User:
        """Change a user's fields (`groups`, `email`, `enabled`, `name`, `upn`, `roles`,
        `sign_in_error` as (error, error_description) or None)."""
        with self._lock:
            directory = self._require(tenant_id)
            user = directory.users.get(oid)
            if user is None:
                raise KeyError(f"No user {oid} in directory {tenant_id}.")
            if "groups" in changes:
                changes["groups"] = tuple(changes["groups"])
            if "roles" in changes:
                changes["roles"] = tuple(changes["roles"])
            if isinstance(changes.get("sign_in_error"), (tuple, list)):
                changes["sign_in_error"] = SignInError(*changes["sign_in_error"])
            updated = dataclasses.replace(user, **changes)
            del directory.users[oid]
            try:
                self.add_user(tenant_id, updated)
            except DirectoryError:
                directory.users[oid] = user
                raise
            return updated

    def add_redirect_uri(self, tenant_id: str, client_id: str, uri: str) -> None:
        self._update_app(
            tenant_id, client_id, lambda app: {"redirect_uris": (*app.redirect_uris, uri)}
        )

    def add_client_secret(
        self, tenant_id: str, client_id: str, value: str, *, expires: str | None = None
    ) -> None:
        """A new secret for the app; `expires` is ISO 8601 (past for an expired one)."""
        secret = ClientSecret(value, parse_time(expires) if expires else None)
        self._update_app(tenant_id, client_id, lambda app: {"secrets": (*app.secrets, secret)})

    def add_certificate(self, tenant_id: str, client_id: str, certificate_pem: str) -> None:
        """Upload a certificate to the app (its credential for client assertions)."""
        self._update_app(
            tenant_id,
            client_id,
            lambda app: {"certificates": (*app.certificates, certificate_pem)},
        )

    def remove_certificate(self, tenant_id: str, client_id: str, certificate_pem: str) -> None:
        self._update_app(
            tenant_id,
            client_id,
            lambda app: {
                "certificates": tuple(c for c in app.certificates if c != certificate_pem)
            },
        )

    def remove_client_secret(self, tenant_id: str, client_id: str, value: str) -> None:
        self._update_app(
            tenant_id,
            client_id,
            lambda app: {"secrets": tuple(s for s in app.secrets if s.value != value)},
        )

    def revoke_sign_in_sessions(self, tenant_id: str, oid: str) -> int:
        """Entra's revokeSignInSessions: the user's refresh tokens stop working."""
        return self.grants.revoke_refresh(tenant_id.lower(), oid)

    def expire_access_tokens(self) -> None:
        self.grants.expire_access()

    # --- one-click onboarding (devtools.fake_entra.onboarding) ------------------------

    def put_app(self, tenant_id: str, app: AppRegistration) -> None:
        with self._lock:
            self._require(tenant_id).apps[app.client_id] = app

    def drop_app(self, tenant_id: str, client_id: str) -> None:
        with self._lock:
            self._require(tenant_id).apps.pop(client_id, None)

    def change_app(
        self, tenant_id: str, client_id: str, change: Callable[[AppRegistration], dict[str, Any]]
    ) -> None:
        self._update_app(tenant_id, client_id, change)

    def set_onboarding_faults(
        self,
        *,
        consent_error: tuple[str, str] | None = None,
        replication_404s: int = 0,
        step_faults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        state = self.onboarding
        with state.lock:
            state.consent_error = consent_error
            state.replication_404s = replication_404s
            state.step_faults = {k: dict(v) for k, v in (step_faults or {}).items()}

    def add_onboarding_redirect_uri(self, client_id: str, uri: str) -> None:
        """Register one more redirect URI on a multitenant app (a host on a test port)."""
        state = self.onboarding
        with state.lock:
            app = state.multitenant[client_id.lower()]
            state.multitenant[app.client_id] = dataclasses.replace(
                app, redirect_uris=(*app.redirect_uris, uri)
            )

    def onboarded_apps(self, tenant_id: str) -> list[dict[str, Any]]:
        """The applications Graph made in a directory, as Graph shows them."""
        with self.onboarding.lock:
            made = list(self.onboarding.apps.get(tenant_id.lower(), {}).values())
        return [onboarding._application(a, self, tenant_id.lower()) for a in made]

    def permission_grants(self, tenant_id: str) -> list[dict[str, str]]:
        with self.onboarding.lock:
            return [dict(g) for g in self.onboarding.grants.get(tenant_id.lower(), [])]

    def _update_app(
        self,
        tenant_id: str,
        client_id: str,
        change: Callable[[AppRegistration], dict[str, Any]],
    ) -> None:
        with self._lock:
            directory = self._require(tenant_id)
            app = directory.apps.get(client_id)
            if app is None:
                raise KeyError(f"No app {client_id} in directory {tenant_id}.")
            directory.apps[client_id] = dataclasses.replace(app, **change(app))

    def _require(self, tenant_id: str) -> Directory:
        directory = self._directories.get(tenant_id.lower())
        if directory is None:
            raise KeyError(f"No directory {tenant_id} is hosted here.")
        return directory

    # --- minting without a flow (for validator tests) ----------------------------------

    def issue_id_token(
        self,
        tenant_id: str,
        oid: str,
        client_id: str,
        *,
        nonce: str | None = None,
        scopes: Iterable[str] = ("openid", "profile", "email"),
        faults: Faults | None = None,
    ) -> str:
        """An ID token as the token endpoint would issue it now (current faults by default)."""
        directory = self.directory(tenant_id)
        if directory is None:
            raise KeyError(f"No directory {tenant_id} is hosted here.")
        subject = Subject(
            directory=directory,
            user=directory.users[oid],
            app=directory.apps[client_id],
            scopes=tuple(scopes),
            nonce=nonce,
            sid=self.grants.session_for(directory.tenant_id, oid, client_id),
        )
        return self.mint_id_token(subject, faults=faults)

    def mint_id_token(self, subject: Subject, *, faults: Faults | None = None) -> str:
        active = faults if faults is not None else self.faults
        claims = id_token_claims(
            subject,
            issuer_host=self.base_url,
            now=int(self.clock()),
            groups_limit=self.groups_limit,
            faults=active,
            other_tenant_id=self.other_tenant_id(subject.directory.tenant_id),
        )
        return sign_id_token(claims, keys=self.keys, faults=active)

    # --- observation -------------------------------------------------------------------

    def requests_seen(self) -> list[tuple[str, str]]:
        """(method, path) of every request since the last reset; no query, no bodies."""
        with self._lock:
            return [(method, path) for method, path, _ in self._request_log]

    def connections_seen(self, path_suffix: str) -> list[str]:
        """The client end ("address:port") of the connection each request to a path
        ending in `path_suffix` came over, in order: one value repeated is one
        kept-alive connection."""
        with self._lock:
            return [peer for _, path, peer in self._request_log if path.endswith(path_suffix)]

    # --- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_BODY
        # Read the body before any early answer, so a keep-alive connection stays in sync.
        try:
            request.get_data(cache=True)
        except RequestEntityTooLarge:
            # The server closes the connection after a 413 without reading on: take
            # in (a bounded amount of) what the client is still sending, so it gets
            # to read the answer instead of a reset.
            LimitedStream(environ["wsgi.input"], DRAIN_LIMIT, is_max=True).exhaust()
            return Response("Request body too large.", status=413)(environ, start_response)
        with self._lock:
            peer = f"{environ.get('REMOTE_ADDR', '')}:{environ.get('REMOTE_PORT', '')}"
            self._request_log.append((request.method, request.path, peer))
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["_control"]:
            return control.handle(self, request, parts[1:])
        if parts[:1] == ["v1.0"] and onboarding.is_app_route(parts[1:]):
            return onboarding.graph(self, request, parts[1:])
        if parts[:1] == ["v1.0"]:
            return graph.handle(self, request, parts[1:])
        if parts == ["oidc", "userinfo"]:
            return graph.userinfo(self, request)
        if len(parts) < 2:
            return _not_found()
        tenant, rest = parts[0].lower(), parts[1:]
        if rest == ["v2.0", "adminconsent"]:
            return onboarding.admin_consent(self, request)
        if rest == ["v2.0", ".well-known", "openid-configuration"]:
            return metadata.discovery(self, request, tenant)
        if rest == ["discovery", "v2.0", "keys"]:
            return metadata.keys(self, request, tenant)
        if rest[:2] == ["oauth2", "v2.0"] and len(rest) == 3:
            endpoint = rest[2]
            if endpoint == "authorize" and tenant in ("organizations", "common"):
                return onboarding.admin_consent(self, request, code_flow=True)
            if endpoint == "authorize":
                return authorize.handle(self, request, tenant)
            if endpoint == "token":
                return token_endpoint.handle(self, request, tenant)
            if endpoint == "logout":
                return metadata.logout(self, request, tenant)
        return _not_found()


def _not_found() -> Response:
    body = {"error": "not_found", "error_description": "No such endpoint on the stand-in."}
    return Response(json.dumps(body), status=404, mimetype="application/json")
