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

from shared import telemetry
from shared.entra.client import idp_error_from_redirect
from shared.entra.keys import KeySource
from shared.errors import (
    AccountDisabled,
    EntraBridgeError,
    InvalidState,
    SsoDisabled,
    SsoUnavailable,
    UnknownTenant,
)
from shared.settings import Settings
from shared.signin.anonymous_log import RateLimitedLog
from shared.signin.exchange import TokenExchange
from shared.signin.ports import (
    AuditLog,
    ClientSecretSource,
    ConfigSource,
    Entra,
    SessionIssuer,
    StartThrottle,
    StateKeys,
    UsedStates,
    UserStore,
)
from shared.signin.redirects import hosted_login_page, safe_return_to
from shared.signin.results import Completed, SpaHandoff, Started
from shared.signin.sealed_state import MAX_STATE_LENGTH, open_state, seal, with_state
from shared.signin.transaction import FLOW_TTL, AuthTransaction, Mode, bound_to_browser
from shared.store.rows import TransactionFailed
from shared.tenants.entitlements import entitlements_for, groups_to_store
from shared.tenants.model import OAuth2Config, directory_of, is_admin, is_sso_ready
from shared.users import User

if TYPE_CHECKING:
    from shared.sessions.service import PendingSession
    from shared.store.rows import Op

__all__ = ["Completed", "SignInService", "SpaHandoff", "Started"]

log = logging.getLogger("entrabridge.signin")
# Refusals nobody can be held to (no sign-in attempt of ours behind them).
_anonymous_log = RateLimitedLog(log)
_MOVED = (
    "Single sign-on for this tenant has moved to another Microsoft Entra directory. "
    "Please sign in again."
)


@dataclass
class _Attempt:
    """Whether a callback turned out to be one of our sign-in attempts (its state opened
    and bound to this browser or SPA): only then is a refusal audited, and the state
    burnt with the audit event."""

    transaction: AuthTransaction | None = None
    state_used: bool = False  # by this attempt's own transaction (refused after it)


@dataclass(frozen=True)
class _SessionRows:
    """A sign-in's session, begun for the user provisioning decided on, and its rows
    (with the audit event) for the same transaction."""

    pending: PendingSession
    rows: tuple[Op, ...]


class _Replayed(InvalidState):
    """The state was used already (its "used" row is there): a replay."""


# --- the service -------------------------------------------------------------------


class SignInService:
    def __init__(
        self,
        *,
        settings: Settings,
        configs: ConfigSource,
        client_secrets: ClientSecretSource,
        entra: Entra,
        keys: KeySource,
        state_keys: StateKeys,
        used_states: UsedStates,
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
        self._state_keys = state_keys
        self._used_states = used_states
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
            state="",  # the sealed state is the transaction itself
            msal_flow=flow,
            mode=mode,
            return_to=self.return_to(tenant, config, return_to),
            browser_binding=browser_binding if mode == "redirect" else None,
            created_at=now,
            expires_at=now + FLOW_TTL,
        )
        state = seal(transaction, self._state_keys.current_key()[1])
        return Started(authorization_url=with_state(str(flow["auth_uri"]), state), state=state)

    def return_to(self, tenant: str, config: OAuth2Config, requested: str | None) -> str:
        """Where a sign-in may send the person: `requested` when it is safe, else the
        homepage."""
        return self.safe_return_to(config, requested) or self.homepage(tenant, config)

    def safe_return_to(self, config: OAuth2Config, requested: str | None) -> str | None:
        """`requested` when a sign-in may send the person there, else None."""
        return (
            safe_return_to(
                requested,
                public_base_url=self._settings.public_base_url,
                allowed_origins=list(config.allowed_return_origins),
                default="",
            )
            or None
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
            done = self._complete(
                tenant, params, spa=spa, browser_cookie=browser_cookie, ip=ip, attempt=attempt
            )
            if isinstance(done, Completed):
                telemetry.sign_in_outcome(tenant, "success")
            return done
        except EntraBridgeError as error:
            # A tenant that does not exist is counted as `unknown`: anyone can name one.
            telemetry.sign_in_outcome(
                "unknown" if isinstance(error, UnknownTenant) else tenant, error.code
            )
            cause = type(error.__cause__ or error).__name__
            if attempt.transaction is not None and self._burn(
                attempt.transaction, error, ip, state_used=attempt.state_used
            ):
                log.warning(
                    "sign-in refused: tenant=%s code=%s cause=%s", tenant, error.code, cause
                )
                raise
            # Not an attempt of ours, or one already used (a replay): anyone can send it.
            refusal = error if attempt.transaction is None else InvalidState()
            _anonymous_log.warning(
                "sign-in callback refused (no attempt of ours): tenant=%s code=%s cause=%s",
                tenant,
                refusal.code,
                cause,
            )
            if refusal is error:
                raise
            raise refusal from error

    def _burn(
        self,
        transaction: AuthTransaction,
        error: EntraBridgeError,
        ip: str | None,
        *,
        state_used: bool = False,
    ) -> bool:
        """The refused attempt's state used up, with its audit event; False when it was
        used already (a replay). A storage failure here leaves the refusal as it is.
        `state_used`: this attempt's own transaction used it (only the event is left)."""
        if isinstance(error, _Replayed):
            return False
        event = self._audit.event(
            transaction.tenant,
            "sign_in_refused",
            actor="anonymous",
            ip=ip,
            code=error.code,
            detail=error.reference,
        )
        try:
            if not state_used:
                return self._used_states.burn(
                    transaction.tenant, transaction.state, transaction.expires_at, also=[event]
                )
        except SsoUnavailable:
            log.warning("sign-in refused: its state could not be marked used (storage)")
        try:  # the audit event on its own, then: the refusal is still worth recording
            self._audit.record(
                transaction.tenant,
                "sign_in_refused",
                actor="anonymous",
                ip=ip,
                code=error.code,
                detail=error.reference,
            )
        except SsoUnavailable:
            log.warning("sign-in refused: its audit event could not be written (storage)")
        return True

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
            bound = self._open_bound(tenant, state, browser_cookie) if state else None
            attempt.transaction = bound  # the attempt is over either way: burnt, audited
            raise idp_error_from_redirect(params)
        transaction = self._open(tenant, state)
        if not spa and transaction.mode == "json":
            return self._spa_handoff(transaction, params)
        if not is_sso_ready(config):
            raise SsoDisabled()
        belongs_here = (
            transaction.mode == "json"
            if spa
            else transaction.mode == "redirect" and bound_to_browser(transaction, browser_cookie)
        )
        if not belongs_here:
            raise InvalidState()
        attempt.transaction = transaction
        code = params.get("code") or ""
        if not code or len(code) > 4096:
            raise InvalidState("The sign-in response has no authorization code.")
        # Only the code and state: the redirect's `client_info` is an unsigned routing
        # hint MSAL would parse before redeeming (a malformed one read as an outage);
        # the token answer carries its own.
        auth_response = {"code": code, "state": state}
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
            if directory_of(config) != identity.tenant_id.lower():
                # Moved to another directory since this instance cached it: the old
                # directory's admin groups grant nothing any more.
                raise SsoDisabled(_MOVED)
        entitlements = entitlements_for(config, identity.group_ids)
        # Kept on the user row: refreshes recompute profiles and roles from them.
        identity = replace(identity, group_ids=groups_to_store(config, identity.group_ids))

        # The state's "used" row, the user, their new session and the audit event: one
        # transaction, so a replay fails as a whole and a failure leaves no half (a
        # session without its event, a user without a session).
        used = self._used_states.row(tenant, transaction.state, transaction.expires_at)

        def session_and_event(user: User) -> _SessionRows:
            pending = self._sessions.begin(
                user_id=user.id,
                tenant=tenant,
                entra_session_id=claims.sid,
                directory=identity.tenant_id,
            )
            event = self._audit.event(tenant, "sign_in", actor=user.id, ip=ip, user_id=user.id)
            return _SessionRows(pending=pending, rows=(used, *pending.rows, event))

        try:
            user, written = self._users.provision_with(
                identity,
                tenant=tenant,
                customer_id=config.customer_id or "",
                entitlements=entitlements,
                now=self._now(),
                also=session_and_event,
                jit_provisioning=config.jit_provisioning,
            )
        except TransactionFailed as failure:
            if failure.index == 0 and failure.reason == "exists":
                raise _Replayed() from None
            raise SsoUnavailable("The sign-in could not be recorded.") from failure
        # Its state is used now: a refusal from here on is told as itself, not as a
        # replay (the "used" row it would write is there).
        attempt.state_used = True
        session = self._sessions.issue(user, written.pending)
        if user.disabled:  # disabled while this sign-in was writing its session
            try:
                self._sessions.end_session(tenant, session.refresh_token)
            except SsoUnavailable:
                # Its tokens never leave this process, so nobody can use the session
                # left behind (its first refresh would revoke it): the answer stays
                # account_disabled, not a storage failure the person cannot act on.
                log.warning("sign-in refused: the session it began could not be ended (storage)")
            raise AccountDisabled()
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

    def _open(self, tenant: str, state: str) -> AuthTransaction:
        """The attempt sealed into `state` for this tenant, unexpired; else InvalidState."""
        if not state or len(state) > MAX_STATE_LENGTH:
            raise InvalidState()
        transaction = open_state(
            state, tenant=tenant, keys=lambda kid: self._state_keys.keys_by_kid(kid=kid)
        )
        if transaction.expires_at <= self._now():
            raise InvalidState("The sign-in took too long; please start again.")
        return transaction

    def _open_bound(
        self, tenant: str, state: str, browser_cookie: str | None
    ) -> AuthTransaction | None:
        """The attempt of an Entra error redirect, if it is this browser's."""
        try:
            transaction = self._open(tenant, state)
        except InvalidState:
            return None
        return transaction if bound_to_browser(transaction, browser_cookie) else None

    def _ready_config(self, tenant: str) -> OAuth2Config:
        config = self._config(tenant)
        if not is_sso_ready(config):
            raise SsoDisabled()
        return config

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)
