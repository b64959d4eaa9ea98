"""What the stand-in has handed out: codes, refresh and access tokens, sign-in sessions.

Thread-safe: the server is threaded and tests read and reset it from another
thread. Codes are single use; consuming one is atomic, so of two concurrent
redemptions exactly one wins.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeGrant:
    tenant_id: str
    client_id: str
    oid: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str
    sid: str
    expires_at: float


@dataclass(frozen=True)
class RefreshGrant:
    tenant_id: str
    client_id: str
    oid: str
    scopes: tuple[str, ...]
    sid: str


@dataclass(frozen=True)
class AccessGrant:
    tenant_id: str
    client_id: str
    oid: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class Session:
    """One browser sign-in session at Entra (the `sid` claim)."""

    tenant_id: str
    oid: str
    client_ids: set[str] = field(default_factory=set)


class Grants:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, CodeGrant] = {}
        self._used_codes: set[str] = set()
        self._refresh: dict[str, RefreshGrant] = {}
        self._revoked: set[str] = set()
        self._access: dict[str, AccessGrant] = {}
        self._sessions: dict[str, Session] = {}

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()
            self._used_codes.clear()
            self._refresh.clear()
            self._revoked.clear()
            self._access.clear()
            self._sessions.clear()

    # --- codes -------------------------------------------------------------------------

    def issue_code(self, grant: CodeGrant) -> str:
        # Entra's codes are long opaque strings starting "0.A"; the length matters little.
        code = "0.A" + secrets.token_urlsafe(96)
        with self._lock:
            self._codes[code] = grant
        return code

    def find_code(self, code: str) -> tuple[CodeGrant | None, bool]:
        """The grant behind a code and whether it was already redeemed."""
        with self._lock:
            return self._codes.get(code), code in self._used_codes

    def consume_code(self, code: str) -> bool:
        """Mark the code redeemed; False if another redemption got there first."""
        with self._lock:
            if code in self._used_codes or code not in self._codes:
                return False
            self._used_codes.add(code)
            return True

    # --- refresh and access tokens -----------------------------------------------------

    def issue_refresh(self, grant: RefreshGrant) -> str:
        token = "1.A" + secrets.token_urlsafe(128)
        with self._lock:
            self._refresh[token] = grant
        return token

    def find_refresh(self, token: str) -> tuple[RefreshGrant | None, bool]:
        """The grant behind a refresh token and whether it was revoked."""
        with self._lock:
            return self._refresh.get(token), token in self._revoked

    def revoke_refresh(self, tenant_id: str, oid: str) -> int:
        """Revoke every refresh token of a user (Entra's revokeSignInSessions)."""
        with self._lock:
            tokens = [
                t for t, g in self._refresh.items() if (g.tenant_id, g.oid) == (tenant_id, oid)
            ]
            self._revoked.update(tokens)
            return len(tokens)

    def record_access(self, token: str, grant: AccessGrant) -> None:
        with self._lock:
            self._access[token] = grant

    def find_access(self, token: str) -> AccessGrant | None:
        with self._lock:
            return self._access.get(token)

    def expire_access(self) -> None:
        """Every access token issued so far expires now (Graph then answers 401)."""
        with self._lock:
            self._access = {
                t: AccessGrant(g.tenant_id, g.client_id, g.oid, g.scopes, 0.0)
                for t, g in self._access.items()
            }

    # --- sessions ----------------------------------------------------------------------

    def session_for(self, tenant_id: str, oid: str, client_id: str) -> str:
        """The user's current session at this directory (one is made if none)."""
        with self._lock:
            for sid, session in self._sessions.items():
                if (session.tenant_id, session.oid) == (tenant_id, oid):
                    session.client_ids.add(client_id)
                    return sid
            sid = str(uuid.uuid4())
            self._sessions[sid] = Session(tenant_id, oid, {client_id})
            return sid

    def end_sessions(self, tenant_id: str, oid: str) -> list[tuple[str, set[str]]]:
        """End the user's sessions; returns each ended sid with the apps it signed in to."""
        with self._lock:
            ended = [
                (sid, set(s.client_ids))
                for sid, s in self._sessions.items()
                if (s.tenant_id, s.oid) == (tenant_id, oid)
            ]
            for sid, _ in ended:
                del self._sessions[sid]
            return ended
