"""Settings: each missing or malformed setting gives an error that names it."""

import pytest

from shared.secret import Secret
from shared.settings import Settings, SettingsError

VALID = {
    "PUBLIC_BASE_URL": "https://auth.example.com",
    "KEY_VAULT_URI": "https://kv-entrabridge.vault.azure.net/",
    "TABLES_ENDPOINT": "https://stentrabridge.table.core.windows.net",
}


def settings_with(**changes: str | None) -> Settings:
    env = dict(VALID)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return Settings.from_env(env)


def test_valid_environment_gives_typed_settings_with_contract_defaults() -> None:
    settings = settings_with()
    assert settings.public_base_url == "https://auth.example.com"
    assert settings.key_vault_uri == "https://kv-entrabridge.vault.azure.net"
    assert settings.entra_authority_host == "https://login.microsoftonline.com"
    assert settings.graph_base_url == "https://graph.microsoft.com"
    assert settings.azure_credential_mode == "managed"
    assert settings.platform_admin_key is None
    assert settings.cookie_names.session == "__Host-eb_session"


@pytest.mark.parametrize("name", ["PUBLIC_BASE_URL", "KEY_VAULT_URI"])
def test_missing_required_setting_is_named(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        settings_with(**{name: None})


def test_missing_both_table_settings_names_them() -> None:
    with pytest.raises(SettingsError, match=r"TABLES_ENDPOINT.*TABLES_CONNECTION_STRING"):
        settings_with(TABLES_ENDPOINT=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_BASE_URL", "auth.example.com"),
        ("PUBLIC_BASE_URL", "http://auth.example.com"),
        ("PUBLIC_BASE_URL", "https://auth.example.com/some/path"),
        ("KEY_VAULT_URI", "ftp://vault"),
        ("ENTRA_AUTHORITY_HOST", "https://login.example.com/tenant"),
        ("GRAPH_BASE_URL", "not a url"),
        ("TABLES_ENDPOINT", "https://user:pw@example.com"),
        ("AZURE_CREDENTIAL_MODE", "maybe"),
        ("PLATFORM_ADMIN_KEY", "short"),
        ("COOKIE_PREFIX", "__host-"),
        ("COOKIE_PREFIX", "eb_"),
        ("ONBOARDING_CLIENT_ID", "my-onboarding-app"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        settings_with(**{name: value})


def test_offline_credentials_are_refused_for_a_real_key_vault() -> None:
    with pytest.raises(SettingsError, match="AZURE_CREDENTIAL_MODE"):
        settings_with(AZURE_CREDENTIAL_MODE="offline")


def test_offline_credentials_are_accepted_for_a_loopback_key_vault() -> None:
    settings = settings_with(
        AZURE_CREDENTIAL_MODE="offline", KEY_VAULT_URI="https://127.0.0.1:7444"
    )
    assert settings.azure_credential_mode == "offline"


def test_http_is_allowed_only_on_loopback() -> None:
    assert settings_with(PUBLIC_BASE_URL="http://127.0.0.1:7071").public_base_url == (
        "http://127.0.0.1:7071"
    )


def test_secret_settings_never_show_their_value() -> None:
    settings = settings_with(
        PLATFORM_ADMIN_KEY="a-very-secret-platform-key", TABLES_CONNECTION_STRING="AccountKey=xyz"
    )
    assert isinstance(settings.platform_admin_key, Secret)
    assert "a-very-secret-platform-key" not in repr(settings)
    assert "AccountKey=xyz" not in repr(settings)
    assert settings.platform_admin_key.reveal() == "a-very-secret-platform-key"


def test_importing_the_app_needs_no_settings() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import function_app"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_an_unresolved_key_vault_reference_closes_the_platform_api() -> None:
    reference = (
        "@Microsoft.KeyVault(SecretUri=https://kv-eb.vault.azure.net/secrets/platform-admin-key/)"
    )
    assert settings_with(PLATFORM_ADMIN_KEY=reference).platform_admin_key is None


def test_the_cookie_prefix_can_be_secure_for_platforms_that_add_a_domain() -> None:
    names = settings_with(COOKIE_PREFIX="__Secure-").cookie_names
    assert (names.session, names.refresh, names.browser) == (
        "__Secure-eb_session",
        "__Secure-eb_refresh",
        "__Secure-eb_browser",
    )


def test_the_onboarding_app_is_optional_and_read_in_lower_case() -> None:
    assert settings_with().onboarding_client_id is None
    assert settings_with(ONBOARDING_CLIENT_ID="").onboarding_client_id is None  # Bicep's empty
    given = "4AD9371E-1697-507A-A22B-20902B8B0F96"
    assert settings_with(ONBOARDING_CLIENT_ID=given).onboarding_client_id == given.lower()
