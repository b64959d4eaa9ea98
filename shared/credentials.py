"""The Azure credential, per AZURE_CREDENTIAL_MODE.

`managed`: DefaultAzureCredential (managed identity in Azure, a developer's
sign-in elsewhere), imported on first use because azure-identity is slow to
import and the status route must not pay for it. `offline`: a placeholder
token for the local Key Vault stand-in, refused unless the vault is loopback.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from shared.settings import Settings, SettingsError, is_loopback_url

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential


class OfflineCredential:
    """A TokenCredential whose token only the local stand-ins accept."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken("offline-placeholder-token", int(time.time()) + 3600)

    def close(self) -> None:
        return None


def build_credential(settings: Settings) -> TokenCredential:
    if settings.azure_credential_mode == "offline":
        if not is_loopback_url(settings.key_vault_uri):
            raise SettingsError(
                "AZURE_CREDENTIAL_MODE",
                "is 'offline', which is only allowed when KEY_VAULT_URI is a loopback address",
            )
        return OfflineCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
