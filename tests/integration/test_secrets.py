"""The Key Vault adapter through the real SecretClient against the HTTPS stand-in."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

import pytest

from devtools.fake_keyvault import FakeKeyVault
from shared.credentials import OfflineCredential, build_credential
from shared.errors import SsoUnavailable
from shared.settings import Settings, SettingsError
from shared.store.secrets import SecretStore, client_secret_name, mask

SECRET = "s3cr3t-value-that-must-never-be-logged"


def settings_for(vault: FakeKeyVault) -> Settings:
    return Settings.from_env(
        {
            "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
            "KEY_VAULT_URI": vault.base_url,
            "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "AZURE_CREDENTIAL_MODE": "offline",
        }
    )


@pytest.fixture
def store(fake_keyvault: FakeKeyVault) -> Iterator[SecretStore]:
    settings = settings_for(fake_keyvault)
    secret_store = SecretStore.from_settings(settings, build_credential(settings))
    yield secret_store
    secret_store.close()


def test_versions_are_kept_and_readable(store: SecretStore) -> None:
    name = client_secret_name("acme")
    first = store.set_secret(name, "first-secret-value")
    second = store.set_secret(
        name,
        "second-secret-value",
        tags={"rotated_by": "admin"},
        expires_on=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    store.invalidate(name)
    current = store.get_secret(name)
    assert current is not None
    assert current.value.reveal() == "second-secret-value"
    assert current.version == second.version
    assert current.properties.tags["rotated_by"] == "admin"
    assert current.properties.expires_on == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    older = store.get_secret_version(name, first.version)
    assert older is not None and older.value.reveal() == "first-secret-value"
    assert {v.version for v in store.list_versions(name)} == {first.version, second.version}


def test_a_missing_secret_reads_as_none(store: SecretStore) -> None:
    assert store.get_secret("tenant-nobody-client-secret") is None
    assert store.list_versions("tenant-nobody-client-secret") == []


def test_cached_reads_do_not_call_the_vault_again_until_the_ttl_passes(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    store.set_secret("cached", SECRET)
    store.invalidate("cached")
    store.get_secret("cached")
    calls = fake_keyvault.requests_seen
    for _ in range(5):
        assert store.get_secret("cached") is not None
    assert fake_keyvault.requests_seen == calls
    now[0] += store.ttl_seconds + 1
    store.get_secret("cached")
    assert fake_keyvault.requests_seen == calls + 1


def test_setting_a_secret_replaces_the_cached_value_at_once(store: SecretStore) -> None:
    store.set_secret("rotating", "old-secret-value")
    assert store.get_secret("rotating").value.reveal() == "old-secret-value"  # type: ignore[union-attr]
    store.set_secret("rotating", "new-secret-value")
    assert store.get_secret("rotating").value.reveal() == "new-secret-value"  # type: ignore[union-attr]


def test_secret_values_never_print_and_never_reach_the_logs(
    store: SecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        store.set_secret("logged", SECRET)
        store.invalidate("logged")
        value = store.get_secret("logged")
    assert value is not None
    assert SECRET not in repr(value) and SECRET not in str(value)
    assert SECRET not in caplog.text


def test_mask_shows_three_characters_then_asterisks() -> None:
    assert mask("333abcdefgh") == "333*****"
    assert mask("short") == "********"
    assert mask(None) is None


def test_the_sdk_meets_the_bearer_challenge_first(private_keyvault: FakeKeyVault) -> None:
    settings = settings_for(private_keyvault)
    store = SecretStore.from_settings(settings, OfflineCredential())
    try:
        store.set_secret("challenged", SECRET)
        # One 401 challenge, then the real request.
        assert private_keyvault.requests_seen == 2
    finally:
        store.close()


def test_an_unreachable_vault_is_sso_unavailable_within_seconds(
    private_keyvault: FakeKeyVault,
) -> None:
    settings = settings_for(private_keyvault)
    store = SecretStore.from_settings(settings, OfflineCredential())
    try:
        store.set_secret("x", SECRET)
        private_keyvault.set_down(True)
        store.invalidate("x")
        started = time.monotonic()
        with pytest.raises(SsoUnavailable) as failure:
            store.get_secret("x")
        assert time.monotonic() - started < 10
        assert SECRET not in str(failure.value)
    finally:
        store.close()


def test_offline_credentials_refuse_a_non_loopback_vault() -> None:
    settings = Settings(
        public_base_url="https://auth.example.com",
        key_vault_uri="https://kv.vault.azure.net",
        tables_endpoint=None,
        tables_connection_string=None,
        azure_credential_mode="offline",
    )
    with pytest.raises(SettingsError, match="AZURE_CREDENTIAL_MODE"):
        build_credential(settings)


def test_versions_made_within_one_second_still_list_newest_first(store: SecretStore) -> None:
    made = [store.set_secret("burst", f"value-number-{n}").version for n in range(5)]
    assert [v.version for v in store.list_versions("burst")] == made[::-1]
