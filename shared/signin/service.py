"""Sign-in: authorize -> callback -> ID token validation -> JIT provisioning -> session.

`SignInService` is the one place that strings the steps together; every step
it calls is either pure (provisioning, redirects, entitlements), the token
exchange with Entra (shared.signin.exchange), or an adapter behind a Protocol
(shared.signin.ports). The HTTP triggers only parse and render.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from shared.entra.client import idp_error_from_redirect
from shared.errors import EntraBridgeError, InvalidState, SsoDisabled, UnknownTenant
from shared.settings import Settings
from shared.signin.anonymous_log import RateLimitedLog
from shared.signin.exchange import TokenExchange
from shared.signin.ports import (
    AuditLog,
    ClientSecretSource,
    ConfigSource,
    Entra,
    EntraKeys,
    FlowStore,
    SessionIssuer,
    StartThrottle,
    UserStore,
)
from shared.signin.redirects import hosted_login_page, safe_return_to
from shared.signin.results import Completed, SpaHandoff, Started
from shared.signin.transaction import FLOW_TTL, AuthTransaction, Mode, bound_to_browser
from shared.tenants.entitlements import entitlements_for, groups_to_store
from shared.tenants.model import OAuth2Config, is_admin, is_sso_ready
from shared.users import User

if TYPE_CHECKING:
    from shared.sessions.service import PendingSession
    from shared.store.rows import Op

__all__ = ["Completed", "SignInService", "SpaHandoff", "Started"]

log = logging.getLogger("entrabridge.signin")
# Refusals nobody can be held to (no sign-in attempt of ours behind them).
_anonymous_log = RateLimitedLog(log)


@dataclass
class _Attempt:
    """Whether a callback turned out to be one of our sign-in attempts (its state found,
    bound and consumed): only then is a refusal audited."""

    started_here: bool = False


@dataclass(frozen=True)
class _SessionRows:
    """A sign-in's session, begun for the user provisioning decided on, and its rows
    (with the audit event) for the same transaction."""

    pending: PendingSession
    rows: tuple[Op, ...]


# --- the service -------------------------------------------------------------------


class SignInService:
    def __init__(
        self,
        *,
        settings: Settings,
        configs: ConfigSource,
        client_secrets: ClientSecretSource,
        entra: Entra,
        keys: EntraKeys,
        flows: FlowStore,
        users: UserStore,
        sessions: SessionIssuer,
        audit: AuditLog,
        throttle: StartThrottle,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._configs = configs
        self._entra = entra
        self._exchange = TokenExchange(
            settings=settings,
            configs=configs,
            client_secrets=client_secrets,
            entra=entra,
            keys=keys,
            audit=audit,
            clock=clock,
        )
        self._flows = flows
        self._users = users
        self._sessions = sessions
        self._audit = audit
        self._throttle = throttle
        self._clock = clock

    # -- urls ---------------------------------------------------------------------

    def redirect_uri(self, tenant: str) -> str:
        return f"{self._settings.public_base_url}/api/auth/{tenant}/callback"

    def login_page(self, tenant: str, config: OAuth2Config | None) -> str:
        if config is not None and config.login_page_url:
            return self._absolute(config.login_page_url)
        return hosted_login_page(self._settings.public_base_url, tenant)

    def homepage(self, tenant: str, config: OAuth2Config) -> str:
        """Where a sign-in lands without a (valid) `return_to`: the tenant's homepage as
        set ("/" included), else the hosted login page, which shows who signed in."""
        if config.homepage_url is None:
            return hosted_login_page(self._settings.public_base_url, tenant)
        return self._absolute(config.homepage_url)

    def _absolute(self, url: str) -> str:
        return f"{self._settings.public_base_url}{url}" if url.startswith("/") else url

    def config_or_none(self, tenant: str) -> OAuth2Config | None:
        return self._configs.get_config(tenant)

    # -- authorize ----------------------------------------------------------------

    def start(
        self,
        tenant: str,
        *,
        mode: Mode,
        return_to: str | None,
        browser_binding: str | None,
        ip: str | None = None,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> Started:
        config = self._ready_config(tenant)
        # Counted once the tenant can sign in at all: an unknown or SSO-off tenant
        # writes nothing, not even a count.
        self._throttle.admit(tenant, ip)
        creds = self._exchange.credentials(tenant, config)
        flow = self._entra.begin(
            creds,
            redirect_uri=self.redirect_uri(tenant),
            prompt=prompt,
            login_hint=login_hint,
            domain_hint=domain_hint,
        )
        now = self._now()
        transaction = AuthTransaction(
            tenant=tenant,
            state=str(flow["state"]),
            msal_flow=flow,
            mode=mode,
            return_to=self._return_to(tenant, config, return_to),
            browser_binding=browser_binding if mode == "redirect" else None,
            created_at=now,
            expires_at=now + FLOW_TTL,
        )
        self._flows.save(transaction)
        return Started(authorization_url=str(flow["auth_uri"]), state=transaction.state)

    def _return_to(self, tenant: str, config: OAuth2Config, requested: str | None) -> str:
        return safe_return_to(
            requested,
            public_base_url=self._settings.public_base_url,
            allowed_origins=list(config.allowed_return_origins),
            default=self.homepage(tenant, config),
        )

    # -- callback -----------------------------------------------------------------

    def complete(
        self,
        tenant: str,
        params: Mapping[str, str],
        *,
        spa: bool,
        browser_cookie: str | None,
        ip: str | None,
    ) -> Completed | SpaHandoff:
        """Finish a sign-in. Raises a contract error on any refusal, logged (one WARNING
        line: the code and the cause's class, never a code, token or secret) and, for
        an attempt this service started, audited. A callback naming no attempt of
        ours (unknown state, unknown tenant) writes nothing: anyone can send one."""
        attempt = _Attempt()
        try:
            return self._complete(
                tenant, params, spa=spa, browser_cookie=browser_cookie, ip=ip, attempt=attempt
            )
        except EntraBridgeError as error:
            cause = type(error.__cause__ or error).__name__
            if not attempt.started_here:
                _anonymous_log.warning(
                    "sign-in callback refused (no attempt of ours): tenant=%s code=%s cause=%s",
                    tenant,
                    error.code,
                    cause,
                )
                raise
            log.warning("sign-in refused: tenant=%s code=%s cause=%s", tenant, error.code, cause)
            self._audit.record(
                tenant,
                "sign_in_refused",
                actor="anonymous",
                ip=ip,
                code=error.code,
                detail=error.reference,
            )
            raise

    def _complete(
        self,
        tenant: str,
        params: Mapping[str, str],
        *,
        spa: bool,
        browser_cookie: str | None,
        ip: str | None,
        attempt: _Attempt,
    ) -> Completed | SpaHandoff:
        config = self._config(tenant)
        state = params.get("state") or ""
        if not spa and "error" in params:
            if state:  # burn the attempt: it is over either way
                burnt = self._flows.consume(
                    tenant, state, lambda tx: bound_to_browser(tx, browser_cookie)
                )
                attempt.started_here = burnt is not None
            raise idp_error_from_redirect(params)
        if not state or len(state) > 512:
            raise InvalidState()
        peeked: AuthTransaction | None = None
        if not spa:
            # One read serves both: routing a JSON-mode attempt to its SPA, and
            # (redirect mode) the transaction that is consumed below.
            peeked = self._flows.peek(tenant, state)
            if peeked is not None and peeked.mode == "json":
                return self._spa_handoff(peeked, params)
        if not is_sso_ready(config):
            raise SsoDisabled()
        if not spa and peeked is None:
            raise InvalidState()

        def belongs_here(tx: AuthTransaction) -> bool:
            if spa:
                return tx.mode == "json"
            return tx.mode == "redirect" and bound_to_browser(tx, browser_cookie)

        transaction = self._flows.consume(tenant, state, belongs_here, read=peeked)
        if transaction is None:
            raise InvalidState()
        attempt.started_here = True
        code = params.get("code") or ""
        if not code or len(code) > 4096:
            raise InvalidState("The sign-in response has no authorization code.")
        auth_response = {"code": code, "state": state}
        if params.get("client_info"):
            auth_response["client_info"] = params["client_info"]
        tokens = self._exchange.redeem(tenant, config, transaction, auth_response, ip=ip)
        claims = self._exchange.validate(config, transaction, tokens.id_token)
        identity = self._exchange.identity(claims, tokens)
        if is_admin(config, identity.group_ids):
            # Admin power is granted on the configuration as it is now, not as this
            # instance cached it: an admin group removed in the last 30 s must not
            # grant the role back (the removal took it from every holder).
            config = self._configs.read_now(tenant) or config
            if not is_sso_ready(config):
                raise SsoDisabled()
        entitlements = entitlements_for(config, identity.group_ids)
        # Kept on the user row: refreshes recompute profiles and roles from them.
        identity = replace(identity, group_ids=groups_to_store(config, identity.group_ids))

        # The user, their new session and the audit event: one transaction, so a
        # failure leaves no half (a session without its event, a user without a session).
        def session_and_event(user: User) -> _SessionRows:
            pending = self._sessions.begin(
                user_id=user.id, tenant=tenant, entra_session_id=claims.sid
            )
            event = self._audit.event(tenant, "sign_in", actor=user.id, ip=ip, user_id=user.id)
            return _SessionRows(pending=pending, rows=(*pending.rows, event))

        user, written = self._users.provision_with(
            identity,
            tenant=tenant,
            customer_id=config.customer_id or "",
            entitlements=entitlements,
            now=self._now(),
            also=session_and_event,
        )
        session = self._sessions.issue(user, written.pending)
        return Completed(user=user, tokens=session, return_to=transaction.return_to)

    def _spa_handoff(self, transaction: AuthTransaction, params: Mapping[str, str]) -> SpaHandoff:
        """A JSON-mode attempt that Entra sent back through the browser."""
        separator = "&" if "?" in transaction.return_to else "?"
        query = urlencode({"code": params.get("code", ""), "state": transaction.state})
        return SpaHandoff(location=f"{transaction.return_to}{separator}{query}")

    # -- helpers ------------------------------------------------------------------

    def _config(self, tenant: str) -> OAuth2Config:
        config = self._configs.get_config(tenant)
        if config is None:
            raise UnknownTenant()
        return config

    def _ready_config(self, tenant: str) -> OAuth2Config:
        config = self._config(tenant)
        if not is_sso_ready(config):
            raise SsoDisabled()
        return config

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)
