"""The composition root: builds each service on first use, once per process.

Handlers call `get_services()`; nothing is built at import time, and heavy
SDKs (azure-identity, Key Vault, MSAL) are imported only by the service that
needs them, so the status and health routes stay cheap to load. Tests build
their own `Services` from explicit settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.store.secrets import SecretStore
    from shared.store.tables import TableStore

T = TypeVar("T")


class Services:
    def __init__(self, settings: Settings, *, credential: TokenCredential | None = None) -> None:
        self.settings = settings
        self._credential = credential
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]  # type: ignore[no-any-return]

    @property
    def credential(self) -> TokenCredential:
        def build() -> TokenCredential:
            from shared.credentials import build_credential

            return self._credential or build_credential(self.settings)

        return self._once("credential", build)

    @property
    def tables(self) -> TableStore:
        def build() -> TableStore:
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
