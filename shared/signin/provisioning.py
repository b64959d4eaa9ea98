"""Just-in-time provisioning: what a validated sign-in does to the user store.

Pure: `decide_sign_in` takes the identity Entra vouched for, what the store
holds for it, and the entitlements the tenant's mappings give, and answers
create, update or a contract refusal. The store applies the answer in one
transaction (shared.store.users).

Users are keyed by Entra (tid, oid). Email is an attribute: mutable and
possibly unverified (nOAuth), so it never links accounts; it only refuses a
sign-in whose email another account already holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from shared.errors import AccountConflict, AccountDisabled, ProviderMismatch, UserNotProvisioned
from shared.users import PROVIDER_MICROSOFT, Entitlements, User, email_key

_USER_IDS = uuid.UUID("3f6f2c1e-8a4b-4d2e-9c7a-5b1e0d9f8a21")


def entra_user_id(tid: str, oid: str) -> str:
    """Our id for an Entra identity: derived from (tid, oid), so finding a returning
    user is one point read, with no index to keep in step."""
    return str(uuid.uuid5(_USER_IDS, f"{tid.lower()}:{oid.lower()}"))


@dataclass(frozen=True)
class SignInIdentity:
    """A person as a validated ID token (and Graph, on overage) describes them."""

    tenant_id: str
    object_id: str
    email: str
    name: str
    group_ids: tuple[str, ...]
    # The token's preferred_username (the UPN): finds a user SCIM created under it.
    username: str | None = None


@dataclass(frozen=True)
class CreateUser:
    user: User


@dataclass(frozen=True)
class UpdateUser:
    before: User
    after: User

    @property
    def email_changed(self) -> bool:
        return email_key(self.before.email) != email_key(self.after.email)


SignInDecision = CreateUser | UpdateUser


def decide_sign_in(
    identity: SignInIdentity,
    *,
    tenant: str,
    customer_id: str,
    entitlements: Entitlements,
    by_object_id: User | None,
    by_email: User | None,
    new_user_id: str,
    now: dt.datetime,
    jit_provisioning: bool = True,
) -> SignInDecision:
    """Create, update (or claim a pending user), or raise ProviderMismatch /
    AccountConflict / AccountDisabled / UserNotProvisioned."""
    if by_email is not None and (by_object_id is None or by_email.id != by_object_id.id):
        if by_email.provider != PROVIDER_MICROSOFT:
            raise ProviderMismatch()
        if by_object_id is None and is_pending(by_email):
            # An admin created this Microsoft user by email: their first sign-in claims it
            # and fixes the (tid, oid) on it; later sign-ins use that, never the email.
            by_object_id = replace(
                by_email, entra_tenant_id=identity.tenant_id, entra_object_id=identity.object_id
            )
            return _update(by_email, by_object_id, identity, entitlements, now)
        raise AccountConflict()
    if by_object_id is None:
        if not jit_provisioning:
            raise UserNotProvisioned()
        return CreateUser(
            User(
                id=new_user_id,
                tenant=tenant,
                email=identity.email,
                name=identity.name,
                provider=PROVIDER_MICROSOFT,
                customer_id=customer_id,
                profiles=entitlements.profiles,
                roles=entitlements.roles,
                disabled=False,
                created_at=now,
                last_login_at=now,
                entra_tenant_id=identity.tenant_id,
                entra_object_id=identity.object_id,
                group_ids=identity.group_ids,
            )
        )
    if by_object_id.disabled:
        raise AccountDisabled()
    if by_object_id.provider != PROVIDER_MICROSOFT:
        # An (tid, oid) index pointing at a password user would be store corruption;
        # fail closed rather than sign someone into it.
        raise ProviderMismatch()
    return _update(by_object_id, by_object_id, identity, entitlements, now)


def is_pending(user: User) -> bool:
    """Created by an admin for a Microsoft sign-in that has not happened yet."""
    return user.provider == PROVIDER_MICROSOFT and user.entra_object_id is None


def _update(
    before: User,
    current: User,
    identity: SignInIdentity,
    entitlements: Entitlements,
    now: dt.datetime,
) -> UpdateUser:
    if current.disabled:
        raise AccountDisabled()
    return UpdateUser(
        before=before,
        after=replace(
            current,
            email=identity.email,
            name=identity.name,
            profiles=entitlements.profiles,
            roles=entitlements.roles,
            last_login_at=now,
            group_ids=identity.group_ids,
        ),
    )
