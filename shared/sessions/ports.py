"""What the session service needs from the outside world: the Protocols its
dependencies satisfy (the Table and Key Vault adapters in shared.store and
shared.sessions.keys), so a test can hand it its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from shared.sessions.refresh import RefreshFamily, RefreshTokenId
from shared.tenants.model import OAuth2Config
from shared.users import Entitlements, User

if TYPE_CHECKING:
    from shared.sessions.keys import PublicKey, SigningKey
    from shared.store.rows import Op


class RefreshFamilies(Protocol):
    """One row per session (shared.store.refresh_tokens.RefreshTokenTable)."""

    def create_ops(self, family: RefreshFamily) -> list[Op]: ...

    def create(self, family: RefreshFamily) -> None: ...

    def get(self, tenant: str, token_id: RefreshTokenId) -> tuple[RefreshFamily, str] | None:
        """The family with its etag; None when there is none (or it expired)."""
        ...

    def replace(self, family: RefreshFamily, *, etag: str) -> None:
        """Only if still at `etag`; else RefreshConflict."""
        ...

    def revoke_family(self, tenant: str, user_id: str, family_id: str) -> bool:
        """True when this call ended a live family."""
        ...

    def revoke_entra_session(self, tenant: str, entra_sid: str) -> int:
        """How many live families of that Entra sign-in session it ended."""
        ...


class Users(Protocol):
    def get(self, tenant: str, user_id: str) -> User | None: ...

    def set_entitlements(
        self, tenant: str, user_id: str, entitlements_of: Callable[[User], Entitlements]
    ) -> User | None: ...


class AuditLog(Protocol):
    def record(
        self,
        tenant: str,
        action: str,
        *,
        actor: str,
        ip: str | None = None,
        fields: tuple[str, ...] = (),
        user_id: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None: ...


class SigningKeys(Protocol):
    """The signing-key ring (shared.sessions.keys.SessionKeyRing)."""

    def current(self) -> SigningKey: ...

    def verification_keys(self, *, kid: str | None = None) -> Mapping[str, PublicKey]: ...


class ConfigReader(Protocol):
    def get_config(self, tenant: str) -> OAuth2Config | None:
        """The tenant's configuration through this instance's cache (30 s)."""
        ...

    def read_now(self, tenant: str) -> OAuth2Config | None:
        """The configuration as stored now, past this instance's cache."""
        ...
