"""Sessions of signed-in users: start, refresh (rotating), who-am-I, sign out.

Ties the pure token logic of `shared.sessions` to the signing-key ring (Key
Vault), the refresh-token families and the user store (Table Storage).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.errors import AccountDisabled, Unauthorized
from shared.provisioning import User
from shared.session_keys import SessionKeyRing
from shared.sessions import (
    ACCESS_TOKEN_TTL,
    REFRESH_ABSOLUTE_TTL,
    RefreshConflict,
    RefreshFamily,
    Refuse,
    RevokeFamily,
    Rotate,
    SessionClaims,
    decide_refresh,
    hash_refresh_token,
    issue_access_token,
    parse_refresh_token,
    rotated,
    session_issuer,
    start_family,
    verify_with_key_source,
)
from shared.signin_types import SessionTokens
from shared.store.audit import AuditStore
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.tables import Op
from shared.store.users import UserStore

# Entra's sid is a GUID; a longer one is cut the same way at sign-in and at logout.
MAX_ENTRA_SID = 256


@dataclass(frozen=True)
class PendingSession:
    """A session decided but not yet stored: its rows go into the sign-in's transaction,
    and its tokens are handed out only once they are written."""

    family: RefreshFamily
    refresh_token: str
    rows: tuple[Op, ...]


@dataclass
class SessionService:
    public_base_url: str
    keys: SessionKeyRing
    refresh_tokens: RefreshTokenTable
    users: UserStore
    audit: AuditStore
    clock: Callable[[], float] = field(default=time.time)

    @property
    def issuer(self) -> str:
        return session_issuer(self.public_base_url)

    def begin(self, *, user_id: str, tenant: str, entra_session_id: str | None) -> PendingSession:
        """A new session for `user_id` (no I/O): write `rows`, then call `issue`."""
        family, token = start_family(
            user_id=user_id,
            tenant=tenant,
            now=self.clock(),
            entra_sid=entra_session_id[:MAX_ENTRA_SID] if entra_session_id else None,
        )
        rows = tuple(self.refresh_tokens.create_ops(family))
        return PendingSession(family=family, refresh_token=token, rows=rows)

    def start_session(self, user: User, *, entra_session_id: str | None = None) -> SessionTokens:
        """A session for `user` stored on its own (`begin` + `issue` for a sign-in)."""
        pending = self.begin(user_id=user.id, tenant=user.tenant, entra_session_id=entra_session_id)
        self.refresh_tokens.create(pending.family)
        return self.issue(user, pending)

    def issue(self, user: User, pending: PendingSession) -> SessionTokens:
        """The tokens of a session whose rows are written."""
        if (user.id, user.tenant) != (pending.family.user_id, pending.family.tenant):
            raise ValueError("the session was begun for another user")
        return self._tokens(
            user,
            sid=pending.family.family_id,
            refresh_token=pending.refresh_token,
            now=self.clock(),
        )

    def refresh(self, tenant: str, refresh_token: str, *, ip: str | None) -> SessionTokens:
        now = self.clock()
        token_id = parse_refresh_token(refresh_token)
        if token_id is None:  # not our shape (nor, then, anything to hash or look up)
            raise Refuse("The refresh token is not valid.").error()
        found = self.refresh_tokens.get(tenant, token_id)
        family, etag = found if found is not None else (None, "")
        decision = decide_refresh(family, hash_refresh_token(refresh_token), now=now)
        if isinstance(decision, RevokeFamily):
            self._revoke_reused(decision.family, ip=ip)
            raise decision.error()
        if not isinstance(decision, Rotate):
            raise decision.error()
        current = decision.family
        user = self.users.get(tenant, current.user_id)
        if user is None or user.disabled:
            self._revoke(current)
            raise AccountDisabled()
        successor, token = rotated(current, now=now)
        try:
            self.refresh_tokens.replace(successor, etag=etag)
        except RefreshConflict:
            # Another use of the same token won: two holders, or a revocation.
            self._revoke_reused(current, ip=ip)
            raise RevokeFamily(current).error() from None
        return self._tokens(user, sid=current.family_id, refresh_token=token, now=now)

    def verify_token(self, raw: str | None) -> SessionClaims:
        """One of our access tokens, whatever its tenant (signature, iss, aud, times)."""
        if not raw:
            raise Unauthorized()
        return verify_with_key_source(raw, source=self.keys, issuer=self.issuer, now=self.clock())

    def verify(self, tenant: str, raw: str | None) -> SessionClaims:
        claims = self.verify_token(raw)
        if claims.tenant != tenant:
            raise Unauthorized("The access token is for another tenant.")
        return claims

    def current_user(self, tenant: str, raw: str | None) -> User:
        claims = self.verify(tenant, raw)
        user = self.users.get(tenant, claims.sub)
        if user is None or user.disabled:
            raise Unauthorized("The session's user no longer exists or is disabled.")
        return user

    def sign_out(
        self,
        tenant: str,
        *,
        access_token: str | None,
        refresh_token: str | None,
        entra_session_id: str | None,
        ip: str | None,
    ) -> None:
        """End what the caller names; signing out twice, or with nothing, is not an error."""
        token_id = parse_refresh_token(refresh_token) if refresh_token else None
        if token_id is not None and refresh_token is not None:
            found = self.refresh_tokens.get(tenant, token_id)
            # Only a token of the family ends it this way (the family id is no secret).
            if found is not None:
                decision = decide_refresh(
                    found[0], hash_refresh_token(refresh_token), now=self.clock()
                )
                if isinstance(decision, RevokeFamily):
                    self._revoke_reused(decision.family, ip=ip)
                elif isinstance(decision, Rotate):
                    self._revoke(decision.family)
        if access_token:
            try:
                claims = self.verify(tenant, access_token)
            except Unauthorized:
                claims = None
            if claims is not None:
                self.refresh_tokens.revoke_family(tenant, claims.sub, claims.sid)
        if entra_session_id:
            sid = entra_session_id[:MAX_ENTRA_SID]
            self.refresh_tokens.revoke_entra_session(tenant, sid)
        self.audit.record(tenant, "sign_out", actor="session", ip=ip)

    def _revoke(self, family: RefreshFamily) -> None:
        self.refresh_tokens.revoke_family(family.tenant, family.user_id, family.family_id)

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

    def _tokens(self, user: User, *, sid: str, refresh_token: str, now: float) -> SessionTokens:
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
            key=self.keys.current(), claims=claims, issuer=self.issuer, now=now
        )
        return SessionTokens(
            access_token=access,
            expires_in=ACCESS_TOKEN_TTL,
            refresh_token=refresh_token,
            refresh_expires_in=int(REFRESH_ABSOLUTE_TTL),
            session_id=sid,
        )
