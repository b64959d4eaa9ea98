"""`POST /api/admin/tenants/{tenant}/users`: an admin creates a user.

A password user gets an invite link (72 h, single use; only its hash is
stored) to set their first password; the link, the user, their email's index
row and the audit event are one transaction. A Microsoft user created here has
no Entra identity yet: their first SSO sign-in with that email claims the row
(shared.signin.provisioning). An email any user of the tenant has already is
`email_in_use`. Profiles are given by hand to password users only: a Microsoft
user's come from their groups.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.admin.auth import AdminCaller
from shared.errors import Forbidden, InvalidRequest, SsoRequired, UnknownTenant
from shared.passwords.mail import invite_text
from shared.signin.ports import AuditLog
from shared.store.configs import TenantRecord
from shared.store.passwords import PasswordStore, new_link_token
from shared.store.rows import Op
from shared.tenants.fields import FieldProblem, parse_uuid
from shared.tenants.model import slug_or_unknown_tenant, sso_enforced
from shared.users import PROVIDER_MICROSOFT, PROVIDER_PASSWORD, User

_FIELDS = ("email", "name", "provider", "customer_id", "profiles")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,190}\.[^@\s\x00-\x1f\x7f]+")
MAX_PROFILES = 100


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    provider: str
    customer_id: str | None
    profiles: tuple[str, ...]


class Tenants(Protocol):
    def get_tenant(self, tenant: str) -> TenantRecord | None: ...


class Users(Protocol):
    def create(self, user: User, *, also: Sequence[Op] = ()) -> None: ...


@dataclass
class UserCreation:
    tenants: Tenants
    users: Users
    passwords: PasswordStore
    audit: AuditLog
    link_url: Callable[[str, str], str]  # (tenant, token) -> the set-password page
    # Sends an invite (user, compose, link) by mail when mail is configured.
    mail: Callable[[User, Callable[[str, str, str], tuple[str, str]], str], None] | None = None
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def create(
        self, caller: AdminCaller, tenant: str, body: object, *, ip: str | None
    ) -> tuple[User, str | None]:
        """The new user, and for a password user the invite link (shown once)."""
        record = self.tenants.get_tenant(slug_or_unknown_tenant(tenant))
        if record is None:
            raise UnknownTenant()
        new = parse_new_user(body)
        if new.provider == PROVIDER_PASSWORD and sso_enforced(record.config):
            raise SsoRequired("Enforce SSO is on: new users sign in with Microsoft.")
        configured = record.config.customer_id
        if new.customer_id not in (None, configured) and not caller.platform:
            # It binds the user to a customer record of the application.
            raise Forbidden("Only platform operators may give a user another customer_id.")
        now = self.clock()
        user = User(
            id=str(uuid.uuid4()),
            tenant=tenant,
            email=new.email,
            name=new.name,
            provider=new.provider,
            customer_id=new.customer_id or configured,
            profiles=new.profiles,
            roles=(),
            disabled=False,
            created_at=now,
            last_login_at=None,
        )
        rows = [
            self.audit.event(
                tenant,
                "user_created",
                actor=caller.actor,
                ip=ip,
                user_id=user.id,
                detail=user.provider,
            )
        ]
        token = new_link_token() if user.provider == PROVIDER_PASSWORD else None
        if token is not None:
            rows.append(self.passwords.link_op(tenant, user.id, token, "invite", now))
        self.users.create(user, also=rows)
        if token is None:
            return user, None
        link = self.link_url(tenant, token)
        if self.mail is not None:
            self.mail(user, invite_text, link)
        return user, link


def parse_new_user(body: object) -> NewUser:
    """The request body, or InvalidRequest naming every bad field."""
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The body must be a JSON object.", fields={"body": "not a JSON object"}
        )
    problems: dict[str, str] = {
        str(name)[:100]: "unknown field" for name in body if name not in _FIELDS
    }
    email = _text(body, "email", problems, limit=254, required=True)
    if email and not _EMAIL.fullmatch(email):
        problems["email"] = "must be an email address"
    name = _text(body, "name", problems, limit=256, required=True)
    provider = body.get("provider")
    if provider not in (PROVIDER_PASSWORD, PROVIDER_MICROSOFT):
        problems["provider"] = "must be 'password' or 'microsoft'"
    customer_id = None
    if body.get("customer_id") is not None:
        try:
            customer_id = parse_uuid(body["customer_id"])
        except FieldProblem as bad:
            problems["customer_id"] = bad.problem
    profiles = _profiles(body.get("profiles"), problems)
    if profiles and provider == PROVIDER_MICROSOFT:
        problems["profiles"] = "a Microsoft user's profiles come from their groups"
    if problems:
        raise InvalidRequest("The user is not valid.", fields=problems)
    return NewUser(email, name, str(provider), customer_id, profiles)


def _text(
    body: dict[str, Any], name: str, problems: dict[str, str], *, limit: int, required: bool
) -> str:
    value = body.get(name)
    if value is None:
        if required:
            problems[name] = "is required"
        return ""
    if not isinstance(value, str) or not value.strip():
        problems[name] = "must be a non-empty string"
        return ""
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        problems[name] = f"must be at most {limit} printable characters"
        return ""
    return value.strip()


def _profiles(value: object, problems: dict[str, str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_PROFILES:
        problems["profiles"] = f"must be a list of at most {MAX_PROFILES} profile UUIDs"
        return ()
    found: list[str] = []
    for item in value:
        try:
            profile = parse_uuid(item)
        except FieldProblem:
            problems["profiles"] = "must be a list of profile UUIDs"
            return ()
        if profile in found:
            problems["profiles"] = "must not repeat a profile"
            return ()
        found.append(profile)
    return tuple(sorted(found))
