"""The Key Vault adapter through the real SecretClient against the HTTPS stand-in."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback

import pytest

from devtools.fake_keyvault import FakeKeyVault
from shared.errors import SsoUnavailable
from shared.http import AZURE_REQUEST_LOGGER
from shared.secret import mask_secret as mask
from shared.store.credentials import OfflineCredential
from shared.store.secrets import SecretStore, checked_name, client_secret_name
from tests.support.keyvault import SecretStoreFactory, offline_settings

SECRET = "s3cr3t-value-that-must-never-be-logged"
EXPIRY = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def store(fake_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory) -> SecretStore:
    return new_secret_store(fake_keyvault)


def reads_of(vault: FakeKeyVault, name: str) -> int:
    """GETs of one secret the stand-in answered (challenges excluded)."""
    return sum(
        1
        for seen in vault.seen
        if seen.method == "GET" and seen.authorized and seen.path.startswith(f"/secrets/{name}")
    )


# --- versions, tags, expiry -------------------------------------------------------


def test_a_stored_secret_reads_back_with_its_version_tags_and_expiry(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    name = client_secret_name("acme")
    stored = store.set_secret(name, SECRET, tags={"rotated_by": "admin"}, expires_on=EXPIRY)
    store.invalidate(name)
    current = store.get_secret(name)
    assert current is not None
    assert current.value.reveal() == SECRET
    assert current.version == stored.version
    assert current.tags == {"rotated_by": "admin"}
    assert current.expires_on == EXPIRY
    assert stored.created_on is not None and stored.enabled
    [kept] = fake_keyvault.secrets[name]
    assert (kept.version, kept.expires) == (stored.version, int(EXPIRY.timestamp()))


def test_an_older_version_stays_readable_after_a_new_one(store: SecretStore) -> None:
    name = client_secret_name("acme")
    first = store.set_secret(name, "first-secret-value")
    second = store.set_secret(name, "second-secret-value")
    store.invalidate(name)
    current = store.get_secret(name)
    older = store.get_secret_version(name, first.version)
    assert current is not None and current.version == second.version
    assert current.value.reveal() == "second-secret-value"
    assert older is not None and older.version == first.version
    assert older.value.reveal() == "first-secret-value"


def test_versions_are_listed_newest_first(
    store: SecretStore, fake_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_800_000_000.0]
    monkeypatch.setattr(fake_keyvault, "clock", lambda: now[0])
    made = []
    for day in range(3):
        now[0] += 86_400
        made.append(store.set_secret("rotated", f"value-number-{day}").version)
    listed = store.list_versions("rotated")
    assert [v.version for v in listed] == made[::-1]
    assert [v.created_on for v in listed] == [
        dt.datetime.fromtimestamp(now[0] - days * 86_400, dt.UTC) for days in range(3)
    ]


def test_versions_made_within_one_second_are_still_listed_newest_first(
    store: SecretStore, fake_keyvault: FakeKeyVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_keyvault, "clock", lambda: 1_800_000_000.0)
    made = [store.set_secret("burst", f"value-number-{i}").version for i in range(4)]
    assert [v.version for v in store.list_versions("burst")] == made[::-1]


def test_a_missing_secret_or_version_reads_as_none(store: SecretStore) -> None:
    assert store.get_secret("tenant-nobody-client-secret") is None
    assert store.list_versions("tenant-nobody-client-secret") == []
    store.set_secret("present", SECRET)
    assert store.get_secret_version("present", "0" * 32) is None


def test_a_disabled_secret_reads_as_none(store: SecretStore) -> None:
    stored = store.set_secret("switched-off", SECRET)
    store.client.update_secret_properties("switched-off", stored.version, enabled=False)
    store.invalidate("switched-off")
    assert store.get_secret("switched-off") is None
    assert store.get_secret_version("switched-off", stored.version) is None
    [listed] = store.list_versions("switched-off")
    assert not listed.enabled


def test_a_version_disabled_since_it_was_cached_stops_at_the_next_check_past_the_cache(
    store: SecretStore,
) -> None:
    # The operator disables a leaked client secret's version in Key Vault. The pinned
    # version is cached for an hour; the health probe's read past the cache sees it
    # gone, and from then on sign-in on this instance does not use it either (and the
    # tenant's "unavailable" mark no longer flips back at the next sign-in).
    stored = store.set_secret("withdrawn", SECRET)
    assert store.get_secret_version("withdrawn", stored.version) is not None  # cached
    store.client.update_secret_properties("withdrawn", stored.version, enabled=False)
    assert store.get_secret_version("withdrawn", stored.version) is not None  # still cached
    assert store.read_now("withdrawn", stored.version) is None
    assert store.get_secret_version("withdrawn", stored.version) is None


# --- cache ------------------------------------------------------------------------


def test_cached_reads_do_not_call_the_vault_again_until_the_ttl_passes(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    store.set_secret("cached", SECRET)
    store.invalidate("cached")
    assert store.get_secret("cached") is not None
    assert reads_of(fake_keyvault, "cached") == 1
    for _ in range(5):
        now[0] += 10
        assert store.get_secret("cached") is not None
    assert reads_of(fake_keyvault, "cached") == 1
    now[0] += store.ttl_seconds
    assert store.get_secret("cached") is not None
    assert reads_of(fake_keyvault, "cached") == 2


def test_a_version_read_once_is_served_from_memory(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    first = store.set_secret("pinned", "first-secret-value")
    store.set_secret("pinned", "second-secret-value")
    store.invalidate("pinned")
    for _ in range(3):
        older = store.get_secret_version("pinned", first.version)
        assert older is not None and older.value.reveal() == "first-secret-value"
    assert reads_of(fake_keyvault, "pinned") == 1


def test_a_new_version_replaces_the_cached_value_at_once(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    store.set_secret("rotating", "old-secret-value")
    store.invalidate("rotating")
    old = store.get_secret("rotating")
    assert old is not None and old.value.reveal() == "old-secret-value"
    new = store.set_secret("rotating", "new-secret-value")
    current = store.get_secret("rotating")
    assert current is not None
    assert (current.version, current.value.reveal()) == (new.version, "new-secret-value")
    assert reads_of(fake_keyvault, "rotating") == 1


def test_another_instance_sees_a_rotation_after_invalidating(
    fake_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory
) -> None:
    here, there = new_secret_store(fake_keyvault), new_secret_store(fake_keyvault)
    here.set_secret("shared", "old-secret-value")
    assert there.get_secret("Shared").value.reveal() == "old-secret-value"  # type: ignore[union-attr]
    here.set_secret("shared", "new-secret-value")
    assert there.get_secret("Shared").value.reveal() == "old-secret-value"  # type: ignore[union-attr]
    # Names are case-insensitive in Key Vault, and so is the cache.
    there.invalidate("SHARED")
    assert there.get_secret("Shared").value.reveal() == "new-secret-value"  # type: ignore[union-attr]


def test_a_read_that_races_a_write_does_not_cache_the_replaced_value(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    store.set_secret("raced", "old-secret-value")
    store.invalidate("raced")
    fake_keyvault.set_delay(1.0)
    slow_read = threading.Thread(target=store.get_secret, args=("raced",))
    slow_read.start()
    # Wait until the vault has answered the read with the old value (held back).
    deadline = time.monotonic() + 5
    while reads_of(fake_keyvault, "raced") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    fake_keyvault.set_delay(0)
    written = store.set_secret("raced", "new-secret-value")
    slow_read.join(timeout=5)
    current = store.get_secret("raced")
    assert current is not None
    assert (current.version, current.value.reveal()) == (written.version, "new-secret-value")


# --- masking, names, logs -----------------------------------------------------------


def test_mask_shows_three_characters_then_asterisks() -> None:
    assert mask("333abcdefgh") == "333*****"
    assert mask("12345678") == "123*****"
    assert mask("1234567") == "********"
    assert mask("") == "********"
    assert mask(None) is None


def test_mask_accepts_a_wrapped_secret(store: SecretStore) -> None:
    store.set_secret("masked", SECRET)
    value = store.get_secret("masked")
    assert value is not None
    assert mask(value.value) == "s3c*****"


def test_secret_names_follow_key_vault_rules(
    store: SecretStore, fake_keyvault: FakeKeyVault
) -> None:
    assert client_secret_name("acme-eu") == "tenant-acme-eu-client-secret"
    assert checked_name("a" * 127) == "a" * 127
    for bad in ("", "a" * 128, "under_score", "dot.ted", "slash/ed", "spa ce"):
        with pytest.raises(ValueError, match="1-127 letters"):
            checked_name(bad)
    with pytest.raises(ValueError):
        store.set_secret("under_score", SECRET)
    with pytest.raises(ValueError):
        store.get_secret("../secrets")
    assert fake_keyvault.requests_seen == 0


def test_secret_values_never_print_and_never_reach_the_logs(
    private_keyvault: FakeKeyVault,
    new_secret_store: SecretStoreFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A new port: the logs then cover the challenge flow too.
    caplog.set_level(logging.DEBUG)
    # The SDK's request log too (the app keeps it at WARNING): even there, no value.
    for noisy in ("azure", AZURE_REQUEST_LOGGER, "urllib3", "shared"):
        caplog.set_level(logging.DEBUG, logger=noisy)
    store = new_secret_store(private_keyvault)
    stored = store.set_secret("logged", SECRET, tags={"purpose": "test"})
    store.invalidate("logged")
    value = store.get_secret("logged")
    older = store.get_secret_version("logged", stored.version)
    store.list_versions("logged")
    store.ping()
    private_keyvault.set_down(True)
    with pytest.raises(SsoUnavailable) as failure:
        store.set_secret("logged", SECRET)
    assert value is not None and older is not None
    printed = [repr(value), str(value), repr(older), repr(store), str(value.value)]
    printed += traceback.format_exception(failure.value)
    assert not [text for text in printed if SECRET in text]
    assert SECRET not in caplog.text
    assert not [r for r in caplog.records if SECRET in repr(r.args)]
    # The SDK did log its requests at these levels, so the check above saw them.
    assert any(r.name.startswith("azure.core") for r in caplog.records)
    assert any("/secrets/logged" in r.getMessage() for r in caplog.records)


# --- the challenge and the credential ------------------------------------------------


def test_the_sdk_meets_the_bearer_challenge_first_without_sending_the_value(
    private_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory
) -> None:
    store = new_secret_store(private_keyvault)
    store.set_secret("challenged", SECRET)
    challenge, real = private_keyvault.seen
    assert (challenge.method, challenge.status, challenge.authorized) == ("PUT", 401, False)
    assert challenge.body_bytes == 0
    assert (real.method, real.status, real.authorized) == ("PUT", 200, True)
    assert real.body_bytes > len(SECRET)


def test_a_managed_mode_store_keeps_the_sdk_check_that_the_challenge_names_the_vault(
    private_keyvault: FakeKeyVault,
) -> None:
    settings = offline_settings(private_keyvault, AZURE_CREDENTIAL_MODE="managed")
    # The credential is given, so no DefaultAzureCredential (it could not sign in here).
    store = SecretStore.from_settings(settings, OfflineCredential())
    try:
        with pytest.raises(ValueError, match="challenge resource"):
            store.get_secret("anything")
    finally:
        store.close()


# --- an unavailable vault ---------------------------------------------------------------


def test_a_vault_answering_503_is_sso_unavailable_within_seconds(
    private_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory
) -> None:
    store = new_secret_store(private_keyvault)
    store.set_secret("down", SECRET)
    store.invalidate("down")
    private_keyvault.set_down(True)
    started = time.monotonic()
    with pytest.raises(SsoUnavailable) as failure:
        store.get_secret("down")
    assert time.monotonic() - started < 5
    assert failure.value.code == "sso_unavailable"
    for call in (lambda: store.list_versions("down"), store.ping):
        with pytest.raises(SsoUnavailable):
            call()


def test_a_vault_that_refuses_connections_is_sso_unavailable_within_seconds(
    private_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory
) -> None:
    store = new_secret_store(private_keyvault)
    private_keyvault.stop()
    started = time.monotonic()
    with pytest.raises(SsoUnavailable):
        store.get_secret("gone")
    with pytest.raises(SsoUnavailable):
        store.set_secret("gone", SECRET)
    assert time.monotonic() - started < 10


def test_a_hanging_vault_is_sso_unavailable_after_the_read_timeout(
    private_keyvault: FakeKeyVault, new_secret_store: SecretStoreFactory
) -> None:
    store = new_secret_store(private_keyvault, read_timeout=0.5)
    store.set_secret("slow", SECRET)
    store.invalidate("slow")
    private_keyvault.set_delay(10)
    started = time.monotonic()
    with pytest.raises(SsoUnavailable):
        store.get_secret("slow")
    # Two attempts (one retry) of half a second each, not the ten-second hang.
    assert time.monotonic() - started < 4
