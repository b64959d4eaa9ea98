"""Who may call the admin API: the platform operators' key, or a tenant admin's session.

Every admin route needs one of
- `X-Platform-Admin-Key` equal to `PLATFORM_ADMIN_KEY` (compared in constant
  time; with the setting absent the platform API is closed to everyone), or
- `Authorization: Bearer` with one of our access tokens (signature, iss, aud,
  times checked with our own keys; its session live: not signed out or
  revoked, and SSO still on for the tenant) whose `tenant` is the path's
  tenant and whose `roles` hold `tenant_admin`, for a user who still exists, is not
  disabled and still holds the role on their user row. The row loses the role
  when an admin group is removed from the configuration (see
  `AdminService._demote_admins`) and at a sign-in outside every admin group
  (a sign-in that would grant it re-reads the configuration past the cache);
  a user removed from an admin group in Entra alone keeps it until their next
  Entra sign-in (refreshing a session does not ask Entra).
No or a bad credential is 401; a good one that may not do this is 403. A
platform key that is sent is decisive: wrong by one character is 401 even
with a valid bearer token beside it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from shared.errors import Forbidden, Unauthorized
from shared.secret import Secret
from shared.sessions.access import SessionClaims
from shared.users import ROLE_TENANT_ADMIN, User

PLATFORM_ACTOR = "platform_admin"


@dataclass(frozen=True)
class AdminCaller:
    """An authenticated admin: `actor` names them in the audit log and `updated_by`."""

    actor: str
    platform: bool
    user_id: str | None = None


class TokenVerifier(Protocol):
    def verify_token(self, raw: str | None) -> SessionClaims: ...


class UserReader(Protocol):
    def get(self, tenant: str, user_id: str) -> User | None: ...


@dataclass
class AdminAuthenticator:
    platform_key: Secret | None
    tokens: TokenVerifier
    users: UserReader

    def authenticate(
        self,
        tenant: str,
        *,
        platform_key: str | None,
        bearer: str | None,
        platform_only: bool = False,
    ) -> AdminCaller:
        if platform_key is not None:
            if not is_platform_key(platform_key, self.platform_key):
                raise Unauthorized("The platform admin key is not valid.")
            return AdminCaller(actor=PLATFORM_ACTOR, platform=True)
        if bearer is None:
            raise Unauthorized("Send Authorization: Bearer <access token> or X-Platform-Admin-Key.")
        claims = self.tokens.verify_token(bearer)
        if claims.tenant != tenant:
            raise Forbidden("This token belongs to another tenant.")
        if not claims.has_role(ROLE_TENANT_ADMIN):
            raise Forbidden("The tenant_admin role is required.")
        if platform_only:
            raise Forbidden("Only platform operators may do this.")
        user = self.users.get(tenant, claims.sub)
        if user is None or user.disabled:
            raise Unauthorized("The session's user no longer exists or is disabled.")
        if ROLE_TENANT_ADMIN not in user.roles:
            raise Forbidden("The tenant_admin role is required.")
        actor = f"user:{user.id}" + (f" <{user.email}>" if user.email else "")
        return AdminCaller(actor=actor, platform=False, user_id=user.id)


def is_platform_key(given: str | None, key: Secret | None) -> bool:
    """The operators' key, compared in constant time. No key configured: the platform
    API is closed, not open."""
    if key is None or not given:
        return False
    expected = key.reveal().encode("utf-8")
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected)
