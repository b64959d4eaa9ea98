"""What the admin service needs from the outside world: the Protocols its
dependencies satisfy (the Table and Key Vault adapters in shared.store), so a
test can hand it its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from shared.secret import Secret
from shared.sessions.ports import AuditLog as SessionAudit
from shared.signin.client_secrets import SecretReads
from shared.store.configs import TenantRecord
from shared.store.secrets import SecretVersion
from shared.tenants.model import OAuth2Config
from shared.users import User


class Tenants(Protocol):
    """Tenants and their configuration (shared.store.configs.ConfigStore)."""

    def get_tenant(self, tenant: str) -> TenantRecord | None: ...

    def create_or_rename(
        self, tenant: str, display_name: str
    ) -> tuple[TenantRecord, Literal["created", "renamed", "unchanged"]]: ...

    def replace_config(self, record: TenantRecord, config: OAuth2Config) -> TenantRecord:
        """Only if the row is still the version `record` read; else EtagMismatch."""
        ...


class Vault(SecretReads, Protocol):
    """Sign-in's Key Vault reads, and storing a new version."""

    def set_secret(
        self,
        name: str,
        value: str | Secret,
        *,
        tags: Mapping[str, str] | None = None,
        expires_on: dt.datetime | None = None,
        content_type: str | None = None,
    ) -> SecretVersion: ...


class Users(Protocol):
    def get(self, tenant: str, user_id: str) -> User | None: ...

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[User], str | None]: ...

    def set_disabled(self, tenant: str, user_id: str, disabled: bool) -> User: ...

    def drop_role(self, tenant: str, role: str) -> tuple[str, ...]: ...


class Sessions(Protocol):
    def revoke_user(self, tenant: str, user_id: str) -> None: ...


class AuditLog(SessionAudit, Protocol):
    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...
