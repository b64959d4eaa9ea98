"""One-click "Connect Microsoft": the customer's Entra admin approves one admin
consent screen, and the tenant's app registration is made and configured in
their directory, its secret stored, the configuration written.

1. `start` (a tenant admin or the operator): a single-use request (10 min) and
   Entra's consent URL (the authorize endpoint, `prompt=consent`). A tenant
   admin's request is bound to their browser by a cookie (the consent must come
   back to it); an operator's (platform key) is a link they hand to the
   customer's admin, so it is not.
2. `finish` (Entra's redirect back): the request is taken once; a refusal, an
   expired or replayed state, a code that does not redeem for a verified ID token
   (shared.onboarding.consent: the directory comes signed, never from the
   query), a consumer account or a directory other than the tenant's configured
   one end here. Then, app-only in that directory
   (shared.onboarding.graph): find our app by its tag or create it from the
   custom application template, configure it (one directory, the tenant's exact
   redirect URI and front-channel logout URL, security groups and email in the
   ID token, delegated User.Read + OpenID scopes, consented for all users), add a
   24-month secret, store it in Key Vault and write the configuration (enabled
   only when the rest of it is complete). Any failure after the app was created
   deletes it (best effort; audited when that fails too): no orphan in the
   customer's directory, the configuration as it was.
Every step is audited (actor: the admin who started it); no secret reaches a
response, a log line or the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from shared.admin.auth import AdminCaller
from shared.errors import InvalidRequest, OnboardingNotConfigured, UnknownTenant
from shared.onboarding.consent import CONSENT_SCOPES, Proof
from shared.onboarding.graph import CreatedApp, GraphFailed, GraphSteps
from shared.secret import Secret
from shared.sessions.ports import AuditLog
from shared.settings import Settings
from shared.signin.redirects import safe_return_to
from shared.store.onboarding import OnboardingRequest, OnboardingRequests, digest
from shared.tenants.model import OAuth2Config, slug_or_unknown_tenant

log = logging.getLogger("shared.onboarding")

CREDENTIAL_SECRET = "onboarding-client-credential"  # noqa: S105 (a Key Vault name)
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # personal Microsoft accounts


class Tenants(Protocol):
    def get_tenant(self, tenant: str) -> Any: ...

    def configured_tenants(self) -> list[tuple[str, OAuth2Config]]: ...


class Vault(Protocol):
    def get_secret(self, name: str) -> Any: ...


class Connector(Protocol):
    def connect_app(
        self,
        tenant: str,
        *,
        client_id: str,
        directory_id: str,
        secret: Secret,
        expires: dt.date,
        actor: str,
    ) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Started:
    consent_url: str
    # The browser-binding cookie's value to set; None for an operator's link, which
    # the operator hands to the customer's admin (single use, 10 minutes, unbound).
    binding_cookie: str | None


@dataclass
class OnboardingService:
    settings: Settings
    tenants: Tenants
    requests: OnboardingRequests
    vault: Vault
    connector: Connector
    audit: AuditLog  # records only (shared.sessions.ports)
    # (directory, credential) -> an app-only Graph token; raises on refusal.
    app_token: Callable[[str, Secret], str]
    graph: Callable[[str], GraphSteps]  # access token -> the steps
    # (state, code, the start's proof, credential) -> the consenting admin's ID token;
    # raises on refusal.
    consent_token: Callable[[str, str, Proof, Secret], str]
    # (ID token, nonce hash) -> the directory it proves (verified in full); raises else.
    consenting_directory: Callable[[str, str], str]
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    @property
    def configured(self) -> bool:
        return self.settings.onboarding_client_id is not None

    # --- 1. start ------------------------------------------------------------------------

    def start(self, caller: AdminCaller, tenant: str, body: object, *, ip: str | None) -> Started:
        client_id = self.settings.onboarding_client_id
        if client_id is None:
            raise OnboardingNotConfigured()
        slug = slug_or_unknown_tenant(tenant)
        record = self.tenants.get_tenant(slug)
        if record is None:
            raise UnknownTenant()
        config: OAuth2Config = record.config
        return_to = self._return_to(slug, config, body)
        state = secrets.token_urlsafe(32)
        binding = None if caller.platform else secrets.token_urlsafe(32)
        proof = Proof.new()
        self.requests.create(
            state,
            OnboardingRequest(
                tenant=slug,
                return_to=return_to,
                binding_sha256=digest(binding) if binding else "",
                actor=caller.actor,
                expected_directory=config.tenant_id,
                code_verifier=proof.code_verifier,
                nonce=proof.nonce,
            ),
            now=self.clock(),
        )
        self.audit.record(slug, "onboarding_started", actor=caller.actor, ip=ip)
        # The consent screen through the authorize endpoint: its answer is a code that
        # redeems for a signed ID token naming the directory (shared.onboarding.consent).
        query = urlencode(
            {
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": callback_url(self.settings),
                "response_mode": "query",
                "scope": " ".join(CONSENT_SCOPES),
                "prompt": "consent",
                "state": state,
                "nonce": proof.nonce_hash,
                "code_challenge": proof.code_challenge,
                "code_challenge_method": "S256",
            }
        )
        authority = self.settings.entra_authority_host
        consent = f"{authority}/organizations/oauth2/v2.0/authorize?{query}"
        return Started(consent_url=consent, binding_cookie=binding)

    def _return_to(self, slug: str, config: OAuth2Config, body: object) -> str:
        if body is not None and not isinstance(body, dict):
            raise InvalidRequest(
                "The body must be a JSON object.", fields={"body": "not an object"}
            )
        given = (body or {}).get("return_to")
        settings_page = f"/api/auth/{slug}/settings"
        if given is None:
            return settings_page
        checked = (
            safe_return_to(
                given,
                public_base_url=self.settings.public_base_url,
                allowed_origins=config.allowed_return_origins,
                default="",
            )
            if isinstance(given, str)
            else ""
        )
        if not checked:
            raise InvalidRequest(
                "return_to must be a path on this service or an allowed origin.",
                fields={"return_to": "not a path here or an allowed origin"},
            )
        return checked

    # --- 2. finish -----------------------------------------------------------------------

    def finish(
        self, params: Mapping[str, str], binding_cookie: str | None, *, ip: str | None
    ) -> str | None:
        """Where to send the admin's browser (their return_to with `onboarding=connected`
        or `onboarding_error=<code>`); None when the state names no request we can
        trust (unknown, used, expired, or another browser's): there is nowhere safe
        to send them, the caller shows an error page."""
        request = self.requests.take(str(params.get("state") or ""))
        bound = request is not None and bool(request.binding_sha256)  # not an operator's link
        if request is None or (
            bound and (not binding_cookie or digest(binding_cookie) != request.binding_sha256)
        ):
            log.warning("onboarding callback refused: unknown, used or unbound state (ip %s)", ip)
            return None
        actor = request.actor
        if "error" in params:
            code = "consent_denied" if params.get("error") == "access_denied" else "consent_failed"
            return self._refused(request, code, ip=ip, detail=str(params.get("error"))[:64])
        code = str(params.get("code") or "")
        if not code or not request.code_verifier or not request.nonce:
            return self._refused(request, "invalid_state", ip=ip, detail="no consent in the answer")
        directory = self._proven_directory(request, str(params.get("state")), code, ip=ip)
        if directory is None:
            return self._refused(request, "consent_failed", ip=ip, detail="no signed consent")
        if directory == CONSUMER_TENANT:
            return self._refused(request, "consumer_tenant", ip=ip)
        if request.expected_directory and directory != request.expected_directory.lower():
            # A consent in another directory must not re-point a configured tenant.
            return self._refused(request, "invalid_state", ip=ip, detail="another directory")
        if not request.expected_directory and not self._first_claim(request.tenant, directory):
            # The ID token proves the person is of that directory, not that they run
            # it: where our app was consented before (for another customer), anyone of
            # the directory could get this far. A directory another tenant uses, or
            # ever onboarded, needs the operator to name it in this tenant's
            # configuration first (then it is the expected one).
            return self._refused(
                request, "invalid_state", ip=ip, detail="directory of another tenant"
            )
        self.audit.record(
            request.tenant, "onboarding_consented", actor=actor, ip=ip, detail=directory
        )
        try:
            missing = self._build(request, directory, ip=ip)
        except _Failed as failure:
            return self._refused(request, "graph_failed", ip=ip, detail=failure.detail)
        extra = {"onboarding_missing": ",".join(missing)} if missing else {}
        return _with_query(self._absolute(request.return_to), {"onboarding": "connected", **extra})

    def _proven_directory(
        self, request: OnboardingRequest, state: str, code: str, *, ip: str | None
    ) -> str | None:
        """The directory the consent's signed ID token names; None (logged by its
        error code only) when the code does not redeem or the token does not verify."""
        proof = Proof(code_verifier=request.code_verifier, nonce=request.nonce)
        try:
            credential = self.vault.get_secret(CREDENTIAL_SECRET)
            if credential is None:
                log.error("onboarding: the onboarding credential is missing in Key Vault")
                return None
            id_token = self.consent_token(state, code, proof, credential.value)
            return self.consenting_directory(id_token, proof.nonce_hash).lower()
        except Exception as exc:  # the refusal's code or type only: never the token
            reason = getattr(exc, "code", None) or type(exc).__name__
            log.warning(
                "onboarding consent of %s not proven: %s (ip %s)", request.tenant, reason, ip
            )
            return None

    def _first_claim(self, tenant: str, directory: str) -> bool:
        """Whether `tenant` may have `directory` without the operator naming it: no
        other tenant uses it now, and none onboarded it before (the first tenant to
        prove a consent there claims it, for good)."""
        if self._connected_elsewhere(tenant, directory):
            return False
        return self.requests.claim_directory(directory, tenant) == tenant

    def _connected_elsewhere(self, tenant: str, directory: str) -> bool:
        return any(
            slug != tenant and (config.tenant_id or "").lower() == directory
            for slug, config in self.tenants.configured_tenants()
        )

    def _build(
        self, request: OnboardingRequest, directory: str, *, ip: str | None
    ) -> tuple[str, ...]:
        """The app in the customer's directory and the tenant's configuration; the
        fields enabling still lacks. `_Failed` after undoing what it made."""
        tenant, actor = request.tenant, request.actor
        credential = self.vault.get_secret(CREDENTIAL_SECRET)
        if credential is None:
            raise _Failed("onboarding credential missing in Key Vault")
        try:
            token = self.app_token(directory, credential.value)
        except Exception as exc:  # the token's refusal: its code only
            raise _Failed(f"token: {getattr(exc, 'code', type(exc).__name__)}") from exc
        graph = self.graph(token)
        tag = f"entrabridge:{digest(self.settings.public_base_url)[:12]}:{tenant}"
        created: CreatedApp | None = None
        try:
            app = graph.find_app(tag)
            if app is None:
                created = app = graph.instantiate(f"entrabridge ({tenant})")
                self.audit.record(
                    tenant, "onboarding_app_created", actor=actor, ip=ip, detail=app.app_id
                )
                graph.configure(
                    app,
                    redirect_uri=f"{self.settings.public_base_url}/api/auth/{tenant}/callback",
                    logout_url=f"{self.settings.public_base_url}/api/auth/{tenant}/logout",
                    tag=tag,
                )
                client_principal = app.service_principal_id or graph.service_principal_of(
                    app.app_id, just_created=True
                )
                graph_principal = graph.service_principal_of("00000003-0000-0000-c000-000000000000")
                graph.grant_consent(client_principal, graph_principal)
            else:
                self.audit.record(
                    tenant, "onboarding_app_reused", actor=actor, ip=ip, detail=app.app_id
                )
            secret, ends = graph.add_secret(app, now=self.clock())
            self.audit.record(
                tenant, "onboarding_secret_added", actor=actor, ip=ip, fields=("client_secret",)
            )
            missing = self.connector.connect_app(
                tenant,
                client_id=app.app_id,
                directory_id=directory,
                secret=Secret(secret),
                expires=ends.date(),
                actor=actor,
            )
        except Exception as exc:
            step = (
                f"{exc.step} {exc.status or ''}".strip()
                if isinstance(exc, GraphFailed)
                else type(exc).__name__
            )
            log.warning("onboarding of %s failed at %s", tenant, step)
            if created is not None:
                self._delete(graph, created, tenant, actor, ip)
            raise _Failed(step) from exc
        self.audit.record(tenant, "onboarding_connected", actor=actor, ip=ip, detail=app.app_id)
        return missing

    def _delete(
        self, graph: GraphSteps, app: CreatedApp, tenant: str, actor: str, ip: str | None
    ) -> None:
        try:
            graph.delete(app)
        except Exception as exc:  # best effort: the admin's answer is the original failure
            log.error(
                "onboarding: the app %s could not be deleted (%s)", app.app_id, type(exc).__name__
            )
            self.audit.record(
                tenant, "onboarding_cleanup_failed", actor=actor, ip=ip, detail=app.app_id
            )
            return
        self.audit.record(tenant, "onboarding_app_deleted", actor=actor, ip=ip, detail=app.app_id)

    def _refused(
        self, request: OnboardingRequest, code: str, *, ip: str | None, detail: str | None = None
    ) -> str:
        self.audit.record(
            request.tenant,
            "onboarding_failed",
            actor=request.actor,
            ip=ip,
            code=code,
            detail=detail,
        )
        return _with_query(self._absolute(request.return_to), {"onboarding_error": code})

    def _absolute(self, return_to: str) -> str:
        return (
            f"{self.settings.public_base_url}{return_to}"
            if return_to.startswith("/")
            else return_to
        )


def callback_url(settings: Settings) -> str:
    """Where Entra sends the consent back (the onboarding app's redirect URI)."""
    return f"{settings.public_base_url}/api/onboarding/microsoft/callback"


class _Failed(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail[:120]
        super().__init__(self.detail)


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(extra)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
