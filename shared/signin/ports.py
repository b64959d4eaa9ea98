"""What the sign-in service needs from the outside world: the Protocols its
dependencies satisfy (Table and Key Vault adapters in shared.store, the session
service, the throttle), so a test can hand it its own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shared.secret import Secret
from shared.sessions import ports as sessions_ports
from shared.sessions.types import SessionTokens
from shared.signin.provisioning import SignInIdentity
from shared.tenants.model import OAuth2Config
from shared.users import Entitlements, User

if TYPE_CHECKING:
    from shared.entra.client import ClientCredentials, TokenResult
    from shared.sessions.service import PendingSession
    from shared.signin.sealed_state import StateKey
    from shared.store.rows import Op
    from shared.store.users import CarriesRows

R = TypeVar("R", bound="CarriesRows")


class ConfigSource(Protocol):
    def get_config(self, tenant: str) -> OAuth2Config | None:
        """The tenant's OAuth2 config; None when the tenant does not exist."""
        ...

    def read_now(self, tenant: str) -> OAuth2Config | None:
        """The config as stored now, past this instance's cache."""
        ...

    def mark_client_secret(self, tenant: str, *, unavailable: bool) -> bool:
        """Record that the configured client secret was (not) found in Key Vault."""
        ...

    def mark_client_secret_proven(self, tenant: str, version: str) -> bool:
        """Record that the current client secret `version` has signed someone in."""
        ...


class Entra(Protocol):
    """The authorization-code flow and Graph (shared.entra.client.EntraClient)."""

    def begin(
        self,
        creds: ClientCredentials,
        *,
        redirect_uri: str,
        prompt: str | None = None,
        login_hint: str | None = None,
        domain_hint: str | None = None,
    ) -> dict[str, Any]:
        """The flow to keep (state, nonce, PKCE verifier) and `auth_uri` to send the user to."""
        ...

    def redeem(
        self, creds: ClientCredentials, flow: dict[str, Any], auth_response: Mapping[str, str]
    ) -> TokenResult:
        """Redeem the code once, or raise the contract error for how it failed."""
        ...

    def security_group_ids(self, access_token: str) -> tuple[str, ...]: ...


class ClientSecretSource(Protocol):
    def current(self, tenant: str, config: OAuth2Config) -> tuple[Secret, str] | None:
        """(secret, version) of the tenant's client secret, as the config names it."""
        ...

    def refreshed(self, tenant: str, config: OAuth2Config) -> tuple[Secret, str] | None:
        """The same, read again past any cache (another instance may have rotated it)."""
        ...

    def previous(
        self, tenant: str, config: OAuth2Config, current_version: str
    ) -> tuple[Secret, str] | None:
        """The version before `current_version`, if it has not expired."""
        ...


class StateKeys(Protocol):
    """The sign-in state keys (a shared.store.key_ring.KeyRing of StateKey)."""

    def current_key(self) -> tuple[str, StateKey]: ...

    def keys_by_kid(self, *, kid: str | None = None) -> Mapping[str, StateKey]: ...


class UsedStates(Protocol):
    """States already used (shared.store.used_states.UsedStates)."""

    def row(self, tenant: str, state: str, expires_at: dt.datetime) -> Op:
        """The row that marks the state used, for the sign-in's own transaction."""
        ...

    def burn(
        self, tenant: str, state: str, expires_at: dt.datetime, *, also: Sequence[Op] = ()
    ) -> bool:
        """Mark it used with `also`'s rows; False (nothing written) if it was already."""
        ...


class StartThrottle(Protocol):
    def admit(self, tenant: str, ip: str | None) -> None:
        """Count one sign-in start of this client, or raise TooManyAttempts."""
        ...


class UserStore(Protocol):
    def provision_with(
        self,
        identity: SignInIdentity,
        *,
        tenant: str,
        customer_id: str,
        entitlements: Entitlements,
        now: dt.datetime,
        also: Callable[[User], R],
        jit_provisioning: bool = True,
    ) -> tuple[User, R]:
        """Create or update the user; the rows of what `also` makes for the user decided
        on are written in the same transaction, and it comes back with the user."""
        ...


class SessionIssuer(Protocol):
    def begin(
        self,
        *,
        user_id: str,
        tenant: str,
        entra_session_id: str | None,
        directory: str | None = None,
    ) -> PendingSession:
        """A session through the Entra `directory` whose `rows` the caller writes before
        calling `issue`."""
        ...

    def issue(self, user: User, pending: PendingSession) -> SessionTokens: ...

    def end_session(self, tenant: str, refresh_token: str) -> None:
        """End a session just issued, for a sign-in refused after writing it."""
        ...


class AuditLog(sessions_ports.AuditLog, Protocol):
    """The session service's audit log, and events as rows for a transaction."""

    def event(
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
    ) -> Op:
        """The same event as a row for the caller's transaction."""
        ...
