"""Sessions of signed-in users: start, refresh (rotating), who-am-I, sign out.

Ties the pure token logic of `shared.sessions.access` to the signing-key ring (Key
Vault), the refresh-token families and the user store (Table Storage).

A session is its refresh family's row: an access token is accepted only while
that row is there and not revoked (one point read per request, no cache, so a
logout, a reuse detection or a disable ends it on every instance at once). A
Microsoft session also ends when the tenant switches SSO off, and its profiles
and roles follow the tenant's current mappings (shared.tenants.entitlements).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from shared.errors import AccountDisabled, SsoDisabled, SsoRequired, SsoUnavailable, Unauthorized
from shared.sessions.access import (
    ACCESS_TOKEN_TTL,
    SessionClaims,
    issue_access_token,
    session_issuer,
    verify_with_key_source,
)
from shared.sessions.keys import SigningKey
from shared.sessions.ports import AuditLog, ConfigReader, RefreshFamilies, SigningKeys, Users
from shared.sessions.refresh import (
    REFRESH_ABSOLUTE_TTL,
    REPEAT_WINDOW,
    RefreshConflict,
    RefreshFamily,
    RefreshTokenId,
    Refuse,
    Repeat,
    RevokeFamily,
    Rotate,
    decide_refresh,
    hash_refresh_token,
    open_successor,
    parse_refresh_token,
    rotated,
    start_family,
)
from shared.sessions.types import SessionTokens
from shared.store.rows import Op
from shared.tenants.entitlements import (
    current_entitlements,
    granted_role_without_row,
)
from shared.tenants.model import OAuth2Config, directory_of, is_sso_ready, sso_enforced
from shared.users import PROVIDER_MICROSOFT, User

_log = logging.getLogger("entrabridge.sessions")

# Entra's sid is a GUID; a longer one is cut the same way at sign-in and at logout.
MAX_ENTRA_SID = 256


@dataclass(frozen=True)
class PendingSession:
    """A session decided but not yet stored: its rows go into the sign-in's transaction,
    and its tokens are handed out only once they are written. Its signing key is
    read before anything is written, so issuing its tokens cannot fail (a Key Vault
    failure refuses the sign-in with nothing stored, not after its rows are in)."""

    family: RefreshFamily
    refresh_token: str = field(repr=False)
    rows: tuple[Op, ...] = field(repr=False)
    key: SigningKey = field(repr=False)


_SSO_OFF = "Single sign-on is switched off for this tenant; the session has ended."
_SSO_CHANGED = (
    "Single sign-on for this tenant was switched off, or moved to another directory, "
    "after this session began; the session has ended."
)


@dataclass
class SessionService:
    public_base_url: str
    keys: SigningKeys
    refresh_tokens: RefreshFamilies
    users: Users
    audit: AuditLog
    configs: ConfigReader
    clock: Callable[[], float] = field(default=time.time)

    @property
    def issuer(self) -> str:
        return session_issuer(self.public_base_url)

    def begin(
        self,
        *,
        user_id: str,
        tenant: str,
        entra_session_id: str | None,
        directory: str | None = None,
    ) -> PendingSession:
        """A new session for `user_id`, signed in through the Entra `directory` (None:
        a password session): write `rows`, then call `issue`. Reads only the signing
        key (Key Vault, cached), and that first."""
        key = self.keys.current()
        family, token = start_family(
            user_id=user_id,
            tenant=tenant,
            now=self.clock(),
            entra_sid=entra_session_id[:MAX_ENTRA_SID] if entra_session_id else None,
            directory=directory,
        )
        rows = tuple(self.refresh_tokens.create_ops(family))
        return PendingSession(family=family, refresh_token=token, rows=rows, key=key)

    def start_session(self, user: User, *, entra_session_id: str | None = None) -> SessionTokens:
        """A session for `user` stored on its own (`begin` + `issue` for a sign-in)."""
        pending = self.begin(
            user_id=user.id,
            tenant=user.tenant,
            entra_session_id=entra_session_id,
            directory=user.entra_tenant_id if user.provider == PROVIDER_MICROSOFT else None,
        )
        self.refresh_tokens.create(pending.family)
        return self.issue(user, pending)

    def issue(self, user: User, pending: PendingSession) -> SessionTokens:
        """The tokens of a session whose rows are written (no I/O)."""
        if (user.id, user.tenant) != (pending.family.user_id, pending.family.tenant):
            raise ValueError("the session was begun for another user")
        return self._tokens(
            user,
            sid=pending.family.family_id,
            refresh_token=pending.refresh_token,
            now=self.clock(),
            key=pending.key,
        )

    def refresh(
        self, tenant: str, refresh_token: str, *, ip: str | None, allow_repeat: bool = False
    ) -> SessionTokens:
        """A rotation: new tokens for the family's current `refresh_token`. A used token
        ends the family, except with `allow_repeat` (the hosted pages): the token the
        last rotation replaced, within REPEAT_WINDOW, gets that rotation's successor."""
        now = self.clock()
        token_id = parse_refresh_token(refresh_token)
        if token_id is None:  # not our shape (nor, then, anything to hash or look up)
            raise Refuse("The refresh token is not valid.").error()
        window = REPEAT_WINDOW if allow_repeat else 0.0
        token_hash = hash_refresh_token(refresh_token)
        found = self.refresh_tokens.get(tenant, token_id)
        family, etag = found if found is not None else (None, "")
        decision = decide_refresh(family, token_hash, now=now, repeat_within=window)
        if isinstance(decision, Repeat):
            return self._repeat(decision.family, refresh_token, now=now, ip=ip)
        if isinstance(decision, RevokeFamily):
            self._revoke_reused(decision.family, ip=ip)
            raise decision.error()
        if not isinstance(decision, Rotate):
            raise decision.error()
        current = decision.family
        user = self._refreshing_user(current)
        # The signing key before the rotation is written: a Key Vault failure then
        # leaves the token unspent, for the client's retry (after it, the retry
        # would be a reuse and end the session).
        key = self.keys.current()
        successor, token = rotated(
            current, presented=refresh_token, now=now, repeatable=allow_repeat
        )
        try:
            self.refresh_tokens.replace(successor, etag=etag)
        except RefreshConflict:
            # Another use of the same token won: two holders, or a revocation; or,
            # where repeats are allowed, the same browser twice at once.
            again = self.refresh_tokens.get(tenant, token_id) if window else None
            if again is not None:
                raced = decide_refresh(again[0], token_hash, now=now, repeat_within=window)
                if isinstance(raced, Repeat):
                    return self._repeat(raced.family, refresh_token, now=now, ip=ip)
            self._revoke_reused(current, ip=ip)
            raise RevokeFamily(current).error() from None
        return self._tokens(user, sid=current.family_id, refresh_token=token, now=now, key=key)

    def _refreshing_user(self, family: RefreshFamily) -> User:
        """The family's user as the configuration makes them now; a missing or disabled
        user ends the family."""
        user = self.users.get(family.tenant, family.user_id)
        if user is None or user.disabled:
            self._revoke(family)
            raise AccountDisabled()
        return self._as_configured_now(user, family, may_grant=True)

    def _repeat(
        self, family: RefreshFamily, presented: str, *, now: float, ip: str | None
    ) -> SessionTokens:
        """The successor `presented` was just rotated into, with a new access token; the
        family is not written. A successor that does not open (or is no longer the
        current token) makes this a reuse after all."""
        successor = open_successor(family, presented=presented)
        if successor is None:
            self._revoke_reused(family, ip=ip)
            raise RevokeFamily(family).error()
        user = self._refreshing_user(family)
        return self._tokens(user, sid=family.family_id, refresh_token=successor, now=now)

    def verify_token(self, raw: str | None) -> SessionClaims:
        """One of our access tokens, whatever its tenant (signature, iss, aud, times),
        whose session is live: its family row there and not revoked, and for a
        Microsoft session the tenant's SSO still on (else the session ends here)."""
        claims = self._signed_claims(raw)
        family = self._live_family(claims)
        config = self.configs.get_config(claims.tenant)
        try:
            if claims.provider == PROVIDER_MICROSOFT:
                self._sso_on_or_end(config, family)
            else:
                self._password_session_or_end(config, family)
        except (SsoDisabled, SsoRequired) as ended:  # no valid session is a 401 here
            raise Unauthorized(ended.description) from None
        return claims

    def verify(self, tenant: str, raw: str | None) -> SessionClaims:
        claims = self.verify_token(raw)
        if claims.tenant != tenant:
            raise Unauthorized("The access token is for another tenant.")
        return claims

    def current_user(self, tenant: str, raw: str | None) -> User:
        """The session's user with the profiles and roles the configuration gives now
        (a role is shown only if their row holds it too: /me grants nothing)."""
        claims = self._signed_claims(raw)
        if claims.tenant != tenant:
            raise Unauthorized("The access token is for another tenant.")
        family = self._live_family(claims)
        user = self.users.get(tenant, claims.sub)
        if user is None or user.disabled:
            raise Unauthorized("The session's user no longer exists or is disabled.")
        try:
            return self._as_configured_now(user, family, may_grant=False)
        except (SsoDisabled, SsoRequired) as ended:  # no valid session is a 401 here
            raise Unauthorized(ended.description) from None

    def sign_out(
        self,
        tenant: str,
        *,
        access_tokens: Iterable[str | None] = (),
        refresh_tokens: Iterable[str | None] = (),
        entra_session_id: str | None = None,
        ip: str | None,
    ) -> bool:
        """End every session the caller names (a request may carry cookies and a
        Bearer token); signing out twice, or with nothing, is not an error. True when
        a live session ended (only that is audited: a request that ends nothing,
        anyone can send)."""
        ended: set[str] = set()  # the tenants whose sessions ended: each audits its own
        for refresh_token in filter(None, refresh_tokens):
            if self._end_by_refresh_token(tenant, refresh_token, ip=ip):
                ended.add(tenant)
        for access_token in filter(None, access_tokens):
            try:
                # Past its 15 minutes a token we signed still names its session.
                claims = self._signed_claims(access_token, expired_ok=True)
            except Unauthorized:
                continue  # ends nothing; a revoked session's token may still sign out
            # The tenant the signed token names, whatever route it came to: a logout
            # that clears the cookies must end their session.
            if self.refresh_tokens.revoke_family(claims.tenant, claims.sub, claims.sid):
                ended.add(claims.tenant)
        if entra_session_id:
            sid = entra_session_id[:MAX_ENTRA_SID]
            if self.refresh_tokens.revoke_entra_session(tenant, sid) > 0:
                ended.add(tenant)
        for where in sorted(ended):
            try:
                self.audit.record(where, "sign_out", actor="session", ip=ip)
            except SsoUnavailable:
                # The sessions have ended: answering 503 would keep the person's
                # cookies, and their retry ends nothing, so it would not audit either.
                _log.error("sign-out: the session ended but its audit event was not written")
        return bool(ended)

    def end_session(self, tenant: str, refresh_token: str) -> None:
        """End the session `refresh_token` names, unaudited: for a sign-in that turns
        out refused after its session was written (its caller audits the refusal)."""
        self._end_by_refresh_token(tenant, refresh_token, ip=None)

    def _end_by_refresh_token(self, tenant: str, refresh_token: str, *, ip: str | None) -> bool:
        token_id = parse_refresh_token(refresh_token)
        found = self.refresh_tokens.get(tenant, token_id) if token_id is not None else None
        if found is None:
            return False
        # Only a token of the family ends it this way (the family id is no secret).
        decision = decide_refresh(found[0], hash_refresh_token(refresh_token), now=self.clock())
        if isinstance(decision, RevokeFamily):
            self._revoke_reused(decision.family, ip=ip)
            return True
        return isinstance(decision, Rotate) and self._revoke(decision.family)

    # --- a session as it is now ----------------------------------------------------------

    def _signed_claims(self, raw: str | None, *, expired_ok: bool = False) -> SessionClaims:
        if not raw:
            raise Unauthorized()
        return verify_with_key_source(
            raw, source=self.keys, issuer=self.issuer, now=self.clock(), expired_ok=expired_ok
        )

    def _live_family(self, claims: SessionClaims) -> RefreshFamily:
        """The session's family row, if it may still be used: there, not revoked, not
        past its absolute expiry. Fails closed (a missing row is an ended session)."""
        found = self.refresh_tokens.get(
            claims.tenant, RefreshTokenId(user_id=claims.sub, family_id=claims.sid)
        )
        if found is None or found[0].revoked:
            raise Unauthorized("The session has ended (signed out or revoked).")
        if self.clock() >= found[0].expires_at:
            raise Unauthorized("The session has expired.")
        return found[0]

    def _sso_on_or_end(
        self, config: OAuth2Config | None, family: RefreshFamily, *, user: User | None = None
    ) -> OAuth2Config:
        """`config`, if SSO is on in it, has not been off or moved since the session
        began, and still trusts the directory the session came through (its family
        says which; for an older family, the `user` if given); else the session ends
        here (SsoDisabled)."""
        if config is None or not is_sso_ready(config):
            self._revoke(family)
            raise SsoDisabled(_SSO_OFF)
        # The family says it (every route); a family older than that, the user row.
        signed_in_through = family.directory or (
            (user.entra_tenant_id or "").lower() if user is not None else ""
        )
        if family.started < config.sso_sessions_after or (
            signed_in_through and signed_in_through != directory_of(config)
        ):
            # A sign-in that finished on a configuration cached before a move started
            # after the cut-off: its directory says it.
            self._revoke(family)
            raise SsoDisabled(_SSO_CHANGED)
        return config

    def _password_session_or_end(self, config: OAuth2Config | None, family: RefreshFamily) -> None:
        """A password session ends (SsoRequired) while Enforce SSO is on, and for good
        when it was on at any time since the session began."""
        if config is not None and (
            sso_enforced(config) or family.started < config.password_sessions_after
        ):
            self._revoke(family)
            raise SsoRequired()

    def _as_configured_now(self, user: User, family: RefreshFamily, *, may_grant: bool) -> User:
        """`user` with the profiles and roles the tenant's configuration gives now; the
        session ends (SsoDisabled) when a Microsoft user's tenant has SSO off. With
        `may_grant`, a role the row lacks is granted (and stored) only after reading
        the configuration past this instance's cache, as a sign-in does; else it is
        left out."""
        if user.provider != PROVIDER_MICROSOFT:
            self._password_session_or_end(self.configs.get_config(user.tenant), family)
            return user
        config = self._sso_on_or_end(self.configs.get_config(user.tenant), family, user=user)
        entitlements = current_entitlements(config, user)
        if granted_role_without_row(entitlements, user):
            if not may_grant:
                roles = tuple(r for r in entitlements.roles if r in user.roles)
                return replace(user, profiles=entitlements.profiles, roles=roles)
            config = self._sso_on_or_end(self.configs.read_now(user.tenant), family, user=user)
            entitlements = current_entitlements(config, user)
        if (entitlements.profiles, entitlements.roles) == (user.profiles, user.roles):
            return user
        if not may_grant:
            return replace(user, profiles=entitlements.profiles, roles=entitlements.roles)
        # Kept on the row too, so the admin API's user list and role check agree.
        stored = self.users.set_entitlements(
            user.tenant, user.id, lambda row: current_entitlements(config, row)
        )
        if stored is None or stored.disabled:
            self._revoke(family)
            raise AccountDisabled()
        return stored

    def _revoke(self, family: RefreshFamily) -> bool:
        return self.refresh_tokens.revoke_family(family.tenant, family.user_id, family.family_id)

    def _revoke_reused(self, family: RefreshFamily, *, ip: str | None) -> None:
        """A used token came back (or two uses raced): end the family, audited."""
        self._revoke(family)
        self.audit.record(
            family.tenant,
            "refresh_token_reused",
            actor=family.user_id,
            ip=ip,
            user_id=family.user_id,
            code="invalid_grant",
        )

    def _tokens(
        self,
        user: User,
        *,
        sid: str,
        refresh_token: str,
        now: float,
        key: SigningKey | None = None,
    ) -> SessionTokens:
        claims = SessionClaims(
            sub=user.id,
            tenant=user.tenant,
            sid=sid,
            provider="microsoft" if user.provider == "microsoft" else "password",
            customer_id=user.customer_id,
            email=user.email,
            name=user.name,
            profiles=user.profiles,
            roles=user.roles,
        )
        access = issue_access_token(
            key=key or self.keys.current(), claims=claims, issuer=self.issuer, now=now
        )
        return SessionTokens(
            access_token=access,
            expires_in=ACCESS_TOKEN_TTL,
            refresh_token=refresh_token,
            refresh_expires_in=int(REFRESH_ABSOLUTE_TTL),
            session_id=sid,
        )
