"""What a SCIM resource means for entrabridge's user (pure).

A SCIM User is a Microsoft (SSO) user of the tenant. Its email is the work
email (else the primary, else the first, else userName), its name the
displayName (else name.formatted, else given + family name, else userName),
`disabled` is `not active`. `externalId` carries the Entra object id when the
admin mapped objectId -> externalId (as the README tells them to): then the
user is keyed by (the configured directory, that object id) from the start,
as a sign-in would key them; otherwise the user waits for their first sign-in
to claim them (shared.signin.provisioning).
A SCIM Group's externalId is the group's Entra object id, which is what the
tenant's mappings name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shared.tenants.entitlements import entitlements_for, groups_to_store
from shared.tenants.fields import uuid_or_none
from shared.tenants.model import OAuth2Config
from shared.users import User

MAX_TEXT = 256  # email and name lengths the user row keeps


@dataclass(frozen=True)
class UserFacts:
    """What entrabridge keeps of a SCIM User on its user row."""

    user_name: str
    external_id: str | None
    email: str
    name: str
    active: bool
    object_id: str | None  # the Entra object id, when externalId is one


def entra_object_id(external_id: str | None) -> str | None:
    return uuid_or_none(external_id)


def user_facts(resource: Any) -> UserFacts:
    """The facts of a validated scim2-models User."""
    user_name = str(resource.user_name or "").strip()
    return UserFacts(
        user_name=user_name,
        external_id=resource.external_id or None,
        email=_email(resource, user_name)[:MAX_TEXT],
        name=_name(resource, user_name)[:MAX_TEXT],
        active=resource.active is not False,
        object_id=entra_object_id(resource.external_id),
    )


def _email(resource: Any, user_name: str) -> str:
    emails = [e for e in (resource.emails or []) if e.value]
    work = [e for e in emails if str(e.type or "").lower() == "work"]
    primary = [e for e in emails if e.primary]
    for choice in (work, primary, emails):
        if choice:
            return str(choice[0].value).strip()
    return user_name


def _name(resource: Any, user_name: str) -> str:
    if resource.display_name:
        return str(resource.display_name).strip()
    name = resource.name
    if name is not None:
        if name.formatted:
            return str(name.formatted).strip()
        parts = [p for p in (name.given_name, name.family_name) if p]
        if parts:
            return " ".join(str(p).strip() for p in parts)
    return user_name


def with_membership(user: User, object_id: str, *, member: bool, config: OAuth2Config) -> User:
    """`user` in (or out of) the Entra group `object_id`, with the profiles and roles
    the tenant's mappings give their groups now."""
    groups = set(user.group_ids or ())
    if member:
        groups.add(object_id)
    else:
        groups.discard(object_id)
    # As at sign-in: past what a row holds, only the groups the configuration uses.
    group_ids = groups_to_store(config, groups)
    entitlements = entitlements_for(config, group_ids)
    return replace(
        user, group_ids=group_ids, profiles=entitlements.profiles, roles=entitlements.roles
    )
