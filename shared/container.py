"""The composition root: builds each service on first use, once per process.

Handlers call `get_services()`; nothing is built at import time, and heavy
SDKs (azure-identity, Key Vault, MSAL) are imported only by the service that
needs them, so the status and health routes stay cheap to load. Tests build
their own `Services` from explicit settings.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.admin.auth import AdminAuthenticator
    from shared.admin.health import HealthProbe
    from shared.admin.service import AdminService
    from shared.admin.user_creation import UserCreation
    from shared.entra.client import EntraClient
    from shared.entra.keys import KeyCache
    from shared.expiry.watch import CredentialWatch
    from shared.onboarding.service import OnboardingService
    from shared.passwords.service import PasswordService
    from shared.scim.service import ScimService
    from shared.secret import Secret
    from shared.sessions.keys import SessionKeyRing
    from shared.sessions.service import SessionService
    from shared.signin.client_secrets import ClientSecrets
    from shared.signin.sealed_state import StateKey
    from shared.signin.service import SignInService
    from shared.signin.throttle import Throttle
    from shared.store.audit import AuditStore
    from shared.store.configs import ConfigStore
    from shared.store.key_ring import KeyRing
    from shared.store.rows import Tables
    from shared.store.secrets import SecretStore
    from shared.store.users import UserStore

T = TypeVar("T")


class Services:
    def __init__(
        self,
        settings: Settings,
        *,
        credential: TokenCredential | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: what the services take as now (seconds since the epoch); tests move it."""
        self.settings = settings
        self.clock = clock
        self._credential = credential
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def utc_now(self) -> dt.datetime:
        """`clock` as an aware UTC datetime (for the services that take one)."""
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def override(self, name: str, value: object) -> None:
        """Use `value` as the dependency `name` (a property of this class) instead of
        building it: the local host's private tables, tests, the benchmark."""
        if not isinstance(getattr(type(self), name, None), property):
            raise AttributeError(f"Services has no dependency named {name!r}")
        with self._lock:
            self._built[name] = value

    def rebuild(self, *names: str) -> None:
        """Drop these built dependencies: the next use builds them again (on whatever
        they depend on now)."""
        with self._lock:
            for name in names:
                self._built.pop(name, None)

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]  # type: ignore[no-any-return]

    def _smtp_password(self) -> Secret | None:
        """Key Vault's smtp-password (shared.passwords.mail), through the secrets cache."""
        from shared.passwords.mail import SMTP_PASSWORD_SECRET

        found = self.secrets.get_secret(SMTP_PASSWORD_SECRET)
        return found.value if found is not None else None

    @property
    def credential(self) -> TokenCredential:
        def build() -> TokenCredential:
            from shared.store.credentials import build_credential

            return self._credential or build_credential(self.settings)

        return self._once("credential", build)

    @property
    def tables(self) -> Tables:
        def build() -> Tables:
            from shared.store.tables import TableStore

            needs_credential = self.settings.tables_connection_string is None
            return TableStore.from_settings(
                self.settings, credential=self.credential if needs_credential else None
            )

        return self._once("tables", build)

    @property
    def secrets(self) -> SecretStore:
        def build() -> SecretStore:
            from shared.store.secrets import SecretStore

            return SecretStore.from_settings(self.settings, self.credential)

        return self._once("secrets", build)

    @property
    def configs(self) -> ConfigStore:
        def build() -> ConfigStore:
            from shared.store.configs import ConfigStore

            return ConfigStore(self.tables, wall_clock=self.clock)

        return self._once("configs", build)

    @property
    def users(self) -> UserStore:
        def build() -> UserStore:
            from shared.store.users import UserStore

            return UserStore(self.tables)

        return self._once("users", build)

    @property
    def audit(self) -> AuditStore:
        def build() -> AuditStore:
            from shared.store.audit import AuditStore

            return AuditStore(self.tables)

        return self._once("audit", build)

    @property
    def session_keys(self) -> SessionKeyRing:
        def build() -> SessionKeyRing:
            from shared.sessions.keys import SessionKeyRing

            return SessionKeyRing(self.secrets)

        return self._once("session_keys", build)

    @property
    def state_keys(self) -> KeyRing[StateKey]:
        def build() -> KeyRing[StateKey]:
            from shared.signin.sealed_state import STATE_KEYS
            from shared.store.key_ring import KeyRing

            return KeyRing(self.secrets, STATE_KEYS)

        return self._once("state_keys", build)

    @property
    def sessions(self) -> SessionService:
        def build() -> SessionService:
            from shared.sessions.service import SessionService
            from shared.store.refresh_tokens import RefreshTokenTable

            return SessionService(
                public_base_url=self.settings.public_base_url,
                keys=self.session_keys,
                refresh_tokens=RefreshTokenTable(self.tables),
                users=self.users,
                audit=self.audit,
                configs=self.configs,
                clock=self.clock,
            )

        return self._once("sessions", build)

    @property
    def entra(self) -> EntraClient:
        def build() -> EntraClient:
            from shared.entra.client import EntraClient
            from shared.http import TimeoutSession

            return EntraClient(
                authority_host=self.settings.entra_authority_host,
                graph_base_url=self.settings.graph_base_url,
                http=TimeoutSession(),
            )

        return self._once("entra", build)

    @property
    def entra_keys(self) -> KeyCache:
        def build() -> KeyCache:
            from shared.entra.keys import KeyCache

            return KeyCache(self.entra.fetch_jwks)

        return self._once("entra_keys", build)

    @property
    def signin(self) -> SignInService:
        def build() -> SignInService:
            from shared.signin.service import SignInService
            from shared.store.used_states import UsedStates

            return SignInService(
                settings=self.settings,
                configs=self.configs,
                client_secrets=self.client_secrets,
                entra=self.entra,
                keys=self.entra_keys,
                state_keys=self.state_keys,
                used_states=UsedStates(self.tables),
                users=self.users,
                sessions=self.sessions,
                audit=self.audit,
                throttle=self.throttle,
                clock=self.clock,
            )

        return self._once("signin", build)

    @property
    def client_secrets(self) -> ClientSecrets:
        def build() -> ClientSecrets:
            from shared.signin.client_secrets import ClientSecrets

            return ClientSecrets(self.secrets)

        return self._once("client_secrets", build)

    @property
    def throttle(self) -> Throttle:
        def build() -> Throttle:
            from shared.signin.throttle import Throttle
            from shared.store.throttle import ThrottleCounts

            return Throttle(
                ThrottleCounts(self.tables), limit=self.settings.authorize_limit_per_minute
            )

        return self._once("throttle", build)

    @property
    def health(self) -> HealthProbe:
        def build() -> HealthProbe:
            from shared.admin.health import HealthProbe

            return HealthProbe(
                tables=self.tables, configs=self.configs, secrets=self.client_secrets
            )

        return self._once("health", build)

    @property
    def admin_auth(self) -> AdminAuthenticator:
        def build() -> AdminAuthenticator:
            from shared.admin.auth import AdminAuthenticator

            return AdminAuthenticator(
                platform_key=self.settings.platform_admin_key,
                tokens=self.sessions,
                users=self.users,
            )

        return self._once("admin_auth", build)

    @property
    def passwords(self) -> PasswordService:
        def build() -> PasswordService:
            from shared.passwords.mail import mailer
            from shared.passwords.service import PasswordService
            from shared.passwords.throttle import IP_WINDOW
            from shared.store.password_throttle import PasswordFailures
            from shared.store.passwords import PasswordStore
            from shared.store.refresh_tokens import RefreshTokenTable
            from shared.store.throttle import ThrottleCounts

            return PasswordService(
                public_base_url=self.settings.public_base_url,
                configs=self.configs,
                users=self.users,
                passwords=PasswordStore(self.tables),
                tables=self.tables,
                sessions=self.sessions,
                audit=self.audit,
                failures=PasswordFailures(self.tables),
                ip_counts=ThrottleCounts(self.tables, window=IP_WINDOW, prefix="throttle:pwip:"),
                revoke_sessions=RefreshTokenTable(self.tables).revoke_user,
                mailer=mailer(self.settings, stored_password=self._smtp_password),
                clock=self.clock,
            )

        return self._once("passwords", build)

    @property
    def user_creation(self) -> UserCreation:
        def build() -> UserCreation:
            from shared.admin.user_creation import UserCreation
            from shared.store.passwords import PasswordStore

            return UserCreation(
                tenants=self.configs,
                users=self.users,
                passwords=PasswordStore(self.tables),
                audit=self.audit,
                link_url=self.passwords.link_url,
                mail=self.passwords.mail,
                clock=self.utc_now,
            )

        return self._once("user_creation", build)

    @property
    def admin(self) -> AdminService:
        def build() -> AdminService:
            from shared.admin.service import AdminService
            from shared.store.refresh_tokens import RefreshTokenTable

            return AdminService(
                settings=self.settings,
                configs=self.configs,
                secrets=self.secrets,
                users=self.users,
                refresh_tokens=RefreshTokenTable(self.tables),
                audit=self.audit,
                clock=self.utc_now,
            )

        return self._once("admin", build)

    @property
    def credential_watch(self) -> CredentialWatch:
        def build() -> CredentialWatch:
            from shared.expiry.watch import CredentialWatch

            return CredentialWatch(
                tenants=self.configs, tables=self.tables, audit=self.audit, clock=self.utc_now
            )

        return self._once("credential_watch", build)

    @property
    def onboarding(self) -> OnboardingService:
        def build() -> OnboardingService:
            from shared.http import TimeoutSession
            from shared.onboarding.consent import Proof
            from shared.onboarding.graph import GraphSteps
            from shared.onboarding.service import OnboardingService, callback_url
            from shared.store.onboarding import OnboardingRequests

            http = TimeoutSession()

            def app_token(directory: str, credential: Secret) -> str:
                from shared.onboarding.app_token import app_only_token

                return app_only_token(
                    authority_host=self.settings.entra_authority_host,
                    directory=directory,
                    client_id=self.settings.onboarding_client_id or "",
                    credential=credential,
                    http=http,
                )

            def graph(token: str) -> GraphSteps:
                return GraphSteps(http, self.settings.graph_base_url, token)

            def consent_token(state: str, code: str, proof: Proof, credential: Secret) -> str:
                from shared.onboarding.app_token import consent_id_token

                return consent_id_token(
                    authority_host=self.settings.entra_authority_host,
                    client_id=self.settings.onboarding_client_id or "",
                    credential=credential,
                    http=http,
                    redirect_uri=callback_url(self.settings),
                    state=state,
                    code=code,
                    code_verifier=proof.code_verifier,
                    nonce=proof.nonce,
                )

            def consenting_directory(id_token: str, nonce_hash: str) -> str:
                from shared.onboarding.consent import consenting_directory as verified

                return verified(
                    id_token,
                    keys=self.entra_keys,
                    issuer_host=self.settings.entra_authority_host,
                    client_id=self.settings.onboarding_client_id or "",
                    nonce_hash=nonce_hash,
                    now=self.utc_now().timestamp(),
                )

            return OnboardingService(
                settings=self.settings,
                tenants=self.configs,
                requests=OnboardingRequests(self.tables),
                vault=self.secrets,
                connector=self.admin,
                audit=self.audit,
                app_token=app_token,
                graph=graph,
                consent_token=consent_token,
                consenting_directory=consenting_directory,
                clock=self.utc_now,
            )

        return self._once("onboarding", build)

    @property
    def scim(self) -> ScimService:
        def build() -> ScimService:
            from shared.scim.groups import ScimGroups
            from shared.scim.service import ScimService
            from shared.scim.users import ScimUsers
            from shared.store.refresh_tokens import RefreshTokenTable
            from shared.store.scim import ScimStore
            from shared.store.scim_tokens import ScimTokenStore

            store = ScimStore(self.tables)

            def base_url(tenant: str) -> str:
                return f"{self.settings.public_base_url}/api/scim/v2/{tenant}"

            return ScimService(
                tables=self.tables,
                configs=self.configs,
                tokens=ScimTokenStore(self.tables),
                audit=self.audit,
                users=ScimUsers(
                    tables=self.tables,
                    users=self.users,
                    scim=store,
                    audit=self.audit,
                    revoke_sessions=RefreshTokenTable(self.tables).revoke_user,
                    base_url=base_url,
                    clock=self.utc_now,
                ),
                groups=ScimGroups(
                    tables=self.tables,
                    users=self.users,
                    scim=store,
                    audit=self.audit,
                    base_url=base_url,
                    clock=self.utc_now,
                ),
                clock=self.utc_now,
            )

        return self._once("scim", build)


_services: Services | None = None
_services_lock = threading.Lock()


def get_services() -> Services:
    """The process's services, from the environment's settings (first call reads them)."""
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(get_settings())
        return _services


def set_services(services: Services | None) -> None:
    """Install (or clear) the process's services: for tests and the local host."""
    global _services
    with _services_lock:
        _services = services
