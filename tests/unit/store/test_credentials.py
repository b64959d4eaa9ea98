"""The credential follows AZURE_CREDENTIAL_MODE; offline is for loopback vaults only."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError
from shared.store.credentials import OFFLINE_TOKEN, OfflineCredential, build_credential

ROOT = Path(__file__).resolve().parents[2]


def settings(mode: str, vault: str) -> Settings:
    # Built directly, not from_env: build_credential must not rely on Settings' own check.
    return Settings(
        public_base_url="https://auth.example.com",
        key_vault_uri=vault,
        tables_endpoint=None,
        tables_connection_string=None,
        azure_credential_mode="offline" if mode == "offline" else "managed",
    )


def test_offline_mode_gives_a_placeholder_token_for_any_scope_and_tenant() -> None:
    credential = build_credential(settings("offline", "https://127.0.0.1:7444"))
    assert isinstance(credential, OfflineCredential)
    # Called the way the Key Vault SDK's challenge policy calls it.
    token = credential.get_token(
        "https://vault.azure.net/.default", tenant_id="a-tenant", enable_cae=True
    )
    assert token.token == OFFLINE_TOKEN
    assert time.time() + 600 < token.expires_on <= time.time() + 3600


@pytest.mark.parametrize(
    "vault", ["https://localhost:7444", "https://127.0.0.1:7444", "https://[::1]:7444"]
)
def test_offline_mode_is_accepted_for_loopback_vaults(vault: str) -> None:
    assert isinstance(build_credential(settings("offline", vault)), OfflineCredential)


@pytest.mark.parametrize(
    "vault",
    [
        "https://kv-prod.vault.azure.net",
        "https://10.0.0.4",
        "https://localhost.attacker.example",
        "https://127.0.0.1.nip.io",
    ],
)
def test_offline_mode_is_refused_for_any_other_vault(vault: str) -> None:
    with pytest.raises(SettingsError, match="AZURE_CREDENTIAL_MODE") as refused:
        build_credential(settings("offline", vault))
    assert refused.value.setting == "AZURE_CREDENTIAL_MODE"
    assert "KEY_VAULT_URI" in str(refused.value)


def test_managed_mode_is_default_azure_credential() -> None:
    from azure.identity import DefaultAzureCredential

    credential = build_credential(settings("managed", "https://kv-prod.vault.azure.net"))
    try:
        assert isinstance(credential, DefaultAzureCredential)
    finally:
        credential.close()  # type: ignore[attr-defined]


def test_azure_identity_is_imported_only_when_a_managed_credential_is_built() -> None:
    # A fresh interpreter: this test process has long imported azure.identity.
    script = (
        "import sys, function_app, shared.store.credentials, shared.store.secrets\n"
        "assert 'azure.identity' not in sys.modules, 'imported too early'\n"
        "from shared.store.credentials import build_credential\n"
        "from shared.settings import Settings\n"
        "build_credential(Settings('https://a.example', 'https://127.0.0.1:1', None, None,"
        " azure_credential_mode='offline'))\n"
        "assert 'azure.identity' not in sys.modules, 'offline mode imported it'\n"
        "build_credential(Settings('https://a.example', 'https://kv.vault.azure.net', None, None))"
        ".close()\n"
        "assert 'azure.identity' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
