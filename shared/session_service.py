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
    RevokeFamily,
    Rotate,
    SessionClaims,
    decide_refresh,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    next_record,
    session_issuer,
    start_family,
    verify_with_key_source,
)
from shared.signin_types import SessionTokens
from shared.store.audit import AuditStore
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.users import UserStore


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

    def start_session(self, user: User, *, entra_session_id: str | None) -> SessionTokens:
        token, token_hash = new_refresh_token()
        now = self.clock()
        record = start_family(
            user_id=user.id,
            tenant=user.tenant,
            token_hash=token_hash,
            now=now,
            entra_sid=entra_session_id,
        )
        self.refresh_tokens.create_family(record)
        return self._tokens(user, sid=record.family_id, refresh_token=token, now=now)

    def refresh(self, tenant: str, refresh_token: str, *, ip: str | None) -> SessionTokens:
        now = self.clock()
        record = self.refresh_tokens.get(tenant, hash_refresh_token(refresh_token))
        decision = decide_refresh(record, now=now)
        if isinstance(decision, RevokeFamily):
            self.refresh_tokens.revoke_family(tenant, decision.record.family_id)
            self.audit.record(
                tenant,
                "refresh_token_reused",
                actor=decision.record.user_id,
                ip=ip,
                user_id=decision.record.user_id,
                code="invalid_grant",
            )
            raise decision.error()
        if not isinstance(decision, Rotate):
            raise decision.error()
        current = decision.record
        user = self.users.get(tenant, current.user_id)
        if user is None or user.disabled:
            self.refresh_tokens.revoke_family(tenant, current.family_id)
            raise AccountDisabled()
        token, token_hash = new_refresh_token()
        try:
            self.refresh_tokens.mark_used_and_insert_next(
                current, next_record(current, token_hash=token_hash, now=now)
            )
        except RefreshConflict:
            self.refresh_tokens.revoke_family(tenant, current.family_id)
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
        if refresh_token:
            record = self.refresh_tokens.get(tenant, hash_refresh_token(refresh_token))
            if record is not None:
                self.refresh_tokens.revoke_family(tenant, record.family_id)
        if access_token:
            try:
                claims = self.verify(tenant, access_token)
            except Unauthorized:
                claims = None
            if claims is not None:
                self.refresh_tokens.revoke_family(tenant, claims.sid)
        if entra_session_id:
            self.refresh_tokens.revoke_entra_session(tenant, entra_session_id[:256])
        self.audit.record(tenant, "sign_out", actor="session", ip=ip)

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
