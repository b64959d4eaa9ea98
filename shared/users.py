"""The user, as every part of the service sees them: the model, the form an email is
unique in, the provider and role names, and how their times are written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PROVIDER_MICROSOFT = "microsoft"
PROVIDER_PASSWORD = "password"  # noqa: S105 (a provider name, not a password)
ROLE_TENANT_ADMIN = "tenant_admin"


def email_key(email: str) -> str:
    """The form under which an email is unique within a tenant."""
    return email.strip().lower()


@dataclass(frozen=True)
class Entitlements:
    profiles: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class User:
    id: str
    tenant: str
    email: str
    name: str
    provider: str
    customer_id: str | None
    profiles: tuple[str, ...]
    roles: tuple[str, ...]
    disabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    entra_tenant_id: str | None = None
    entra_object_id: str | None = None
    # The Entra security groups of the last sign-in (shared.tenants.entitlements); None for a
    # row written before they were kept. Never shown: not part of the user object.
    group_ids: tuple[str, ...] | None = None
    # The SCIM User as Entra's provisioning service last wrote it (JSON, shared.scim),
    # None when SCIM does not manage this user. While set, their email, name and
    # disabled are read-only in the admin API. Never shown in the user object.
    scim: str | None = None

    @property
    def managed_by_scim(self) -> bool:
        return self.scim is not None

    def to_public(self) -> dict[str, object]:
        """The contract's user object."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "email": self.email,
            "name": self.name,
            "provider": self.provider,
            "customer_id": self.customer_id,
            "profiles": list(self.profiles),
            "roles": list(self.roles),
            "disabled": self.disabled,
            "created_at": rfc3339(self.created_at),
            "last_login_at": rfc3339(self.last_login_at) if self.last_login_at else None,
        }


def rfc3339(moment: dt.datetime, *, keep_fractions: bool = False) -> str:
    """RFC 3339 in UTC with a "Z": whole seconds, or with `keep_fractions` the
    fraction when there is one (a time an admin gave)."""
    utc = moment.astimezone(dt.UTC)
    text = utc.isoformat() if keep_fractions else utc.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")
