"""The Azure credential, per AZURE_CREDENTIAL_MODE.

`managed`: DefaultAzureCredential (managed identity in Azure, a developer's
sign-in elsewhere), imported on first use because azure-identity is slow to
import and `import function_app` must not pay for it. `offline`: a placeholder
token that only the local Key Vault stand-in accepts, refused unless the vault
is a loopback address (Settings checks this too; a hand-built Settings must not
slip past).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from shared.settings import Settings, SettingsError, is_loopback_url

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

OFFLINE_TOKEN = "offline-placeholder-token"  # noqa: S105 - a placeholder, not a secret
_OFFLINE_LIFETIME = 3600


class OfflineCredential:
    """A TokenCredential for the local stand-ins: same token for every scope and tenant."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(OFFLINE_TOKEN, int(time.time()) + _OFFLINE_LIFETIME)

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "OfflineCredential()"


def build_credential(settings: Settings) -> TokenCredential:
    """The credential for Key Vault (and Table Storage by endpoint) in this mode."""
    if settings.azure_credential_mode == "offline":
        if not is_loopback_url(settings.key_vault_uri):
            raise SettingsError(
                "AZURE_CREDENTIAL_MODE",
                "is 'offline', which is only allowed when KEY_VAULT_URI is a loopback address",
            )
        return OfflineCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
