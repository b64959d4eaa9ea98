"""The Key Vault stand-in speaks the protocol the real SecretClient expects.

Most checks go through `azure.keyvault.secrets.SecretClient` itself; the wire
details the SDK hides (the challenge header, error bodies) are checked with
plain `requests`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets._shared.http_challenge import HttpChallenge

from devtools.fake_keyvault import PAGE_SIZE, TENANT_ID, FakeKeyVault
from shared.store.credentials import OfflineCredential

ROOT = Path(__file__).resolve().parents[2]
TOKEN = {"Authorization": "Bearer any-token"}


@pytest.fixture
def client(fake_keyvault: FakeKeyVault) -> Iterator[SecretClient]:
    with SecretClient(
        fake_keyvault.base_url, OfflineCredential(), verify_challenge_resource=False
    ) as secret_client:
        yield secret_client


def test_a_request_without_a_token_gets_the_challenge_the_sdk_parses(
    fake_keyvault: FakeKeyVault,
) -> None:
    url = f"{fake_keyvault.base_url}/secrets/anything?api-version=7.5"
    response = requests.get(url, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    challenge = HttpChallenge(url, response.headers["WWW-Authenticate"])
    assert challenge.is_bearer_challenge()
    assert challenge.get_authorization_server() == f"https://login.microsoftonline.com/{TENANT_ID}"
    assert challenge.tenant_id == TENANT_ID
    assert challenge.get_resource() == "https://vault.azure.net"


def test_a_secret_bundle_carries_its_full_versioned_id_and_attributes(
    client: SecretClient, fake_keyvault: FakeKeyVault
) -> None:
    stored = client.set_secret("bundle", "a-value", content_type="text/plain", tags={"k": "v"})
    raw = requests.get(
        f"{fake_keyvault.base_url}/secrets/bundle/?api-version=7.5", headers=TOKEN, timeout=5
    ).json()
    assert raw["id"] == f"{fake_keyvault.base_url}/secrets/bundle/{stored.properties.version}"
    assert raw["value"] == "a-value"
    assert raw["contentType"] == "text/plain"
    assert raw["tags"] == {"k": "v"}
    assert raw["attributes"]["enabled"] is True
    assert raw["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"
    assert raw["attributes"]["created"] == raw["attributes"]["updated"]
    assert stored.properties.vault_url == fake_keyvault.base_url
    assert stored.properties.created_on is not None


def test_a_missing_secret_is_404_secret_not_found(
    client: SecretClient, fake_keyvault: FakeKeyVault
) -> None:
    raw = requests.get(
        f"{fake_keyvault.base_url}/secrets/nothing/?api-version=7.5", headers=TOKEN, timeout=5
    )
    assert raw.status_code == 404
    assert raw.json()["error"]["code"] == "SecretNotFound"
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("nothing")
    client.set_secret("something", "a-value")
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("something", "0" * 32)


def test_requests_without_an_api_version_or_with_a_bad_name_are_400(
    fake_keyvault: FakeKeyVault,
) -> None:
    base = fake_keyvault.base_url
    missing = requests.get(f"{base}/secrets/a", headers=TOKEN, timeout=5)
    bad_name = requests.get(f"{base}/secrets/bad_name?api-version=7.5", headers=TOKEN, timeout=5)
    assert (missing.status_code, bad_name.status_code) == (400, 400)
    assert bad_name.json()["error"]["code"] == "BadParameter"


def test_every_version_is_kept_and_listed_across_pages(
    client: SecretClient, fake_keyvault: FakeKeyVault
) -> None:
    # Without maxresults a page holds PAGE_SIZE items (tests/integration/test_session_keys.py
    # crosses that boundary through the adapter); small pages keep this test quick.
    made = [client.set_secret("paged", f"value-{i}").properties.version for i in range(11)]
    versions = client.list_properties_of_secret_versions("paged", max_page_size=5)
    assert [p.version for p in versions] == made
    pages = [s for s in fake_keyvault.seen if s.path == "/secrets/paged/versions" and s.authorized]
    assert len(pages) == 3
    assert client.get_secret("paged", made[3]).value == "value-3"
    assert client.get_secret("paged").value == "value-10"


def test_secrets_are_listed_across_pages_of_the_requested_size(
    client: SecretClient, fake_keyvault: FakeKeyVault
) -> None:
    for i in range(7):
        client.set_secret(f"listed-{i}", "a-value")
    names = {p.name for p in client.list_properties_of_secrets(max_page_size=3)}
    assert names == {f"listed-{i}" for i in range(7)}
    pages = [s for s in fake_keyvault.seen if s.path == "/secrets" and s.authorized]
    assert len(pages) == 3
    oversized = requests.get(
        f"{fake_keyvault.base_url}/secrets?api-version=7.5&maxresults={PAGE_SIZE + 50}",
        headers=TOKEN,
        timeout=5,
    )
    assert len(oversized.json()["value"]) == 7


def test_properties_update_without_changing_the_value(client: SecretClient) -> None:
    first = client.set_secret("updated", "first-value").properties
    client.set_secret("updated", "second-value")
    expiry = dt.datetime(2031, 5, 1, tzinfo=dt.UTC)
    current = client.update_secret_properties(
        "updated", tags={"owner": "ops"}, expires_on=expiry, content_type="text/plain"
    )
    assert (current.tags, current.expires_on, current.content_type) == (
        {"owner": "ops"},
        expiry,
        "text/plain",
    )
    older = client.update_secret_properties("updated", first.version, enabled=False)
    assert older.version == first.version and older.enabled is False
    assert client.get_secret("updated").value == "second-value"
    assert client.get_secret("updated").properties.tags == {"owner": "ops"}


def test_a_disabled_version_is_forbidden_as_in_azure(client: SecretClient) -> None:
    version = client.set_secret("disabled", "a-value").properties.version
    client.update_secret_properties("disabled", version, enabled=False)
    with pytest.raises(HttpResponseError) as refused:
        client.get_secret("disabled", version)
    assert refused.value.status_code == 403
    assert refused.value.error is not None
    assert refused.value.error.innererror == {"code": "SecretDisabled"}


def test_an_expired_secret_is_still_returned_as_in_azure(client: SecretClient) -> None:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    client.set_secret("expired", "a-value", expires_on=past, not_before=past)
    read = client.get_secret("expired")
    assert (read.value, read.properties.expires_on, read.properties.not_before) == (
        "a-value",
        past,
        past,
    )


def test_names_are_case_insensitive(client: SecretClient, fake_keyvault: FakeKeyVault) -> None:
    client.set_secret("Mixed-Case", "first-value")
    client.set_secret("mixed-case", "second-value")
    assert client.get_secret("MIXED-CASE").value == "second-value"
    assert list(fake_keyvault.secrets) == ["Mixed-Case"]


def test_a_deleted_secret_is_recoverable_and_its_name_is_held_until_purged(
    client: SecretClient,
) -> None:
    client.set_secret("deleted", "a-value")
    deleted = client.begin_delete_secret("deleted", _polling_interval=0.01).result()
    assert deleted.recovery_id is not None and deleted.deleted_date is not None
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("deleted")
    assert client.get_deleted_secret("deleted").name == "deleted"
    assert [d.name for d in client.list_deleted_secrets()] == ["deleted"]
    with pytest.raises(ResourceExistsError):
        client.set_secret("deleted", "another-value")
    client.begin_recover_deleted_secret("deleted", _polling_interval=0.01).wait()
    assert client.get_secret("deleted").value == "a-value"
    client.begin_delete_secret("deleted", _polling_interval=0.01).wait()
    client.purge_deleted_secret("deleted")
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret("deleted")
    assert client.set_secret("deleted", "reused").value == "reused"


def test_the_down_switch_answers_503(fake_keyvault: FakeKeyVault) -> None:
    fake_keyvault.set_down(True)
    url = f"{fake_keyvault.base_url}/secrets/any?api-version=7.5"
    assert requests.get(url, headers=TOKEN, timeout=5).status_code == 503
    fake_keyvault.set_down(False)
    assert requests.get(url, headers=TOKEN, timeout=5).status_code == 404


def test_the_delay_switch_holds_answers_back_and_stop_releases_them(
    private_keyvault: FakeKeyVault,
) -> None:
    private_keyvault.set_delay(0.3)
    url = f"{private_keyvault.base_url}/secrets/any?api-version=7.5"
    started = time.monotonic()
    assert requests.get(url, headers=TOKEN, timeout=5).status_code == 404
    assert time.monotonic() - started >= 0.3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_command_line_serves_the_sdk_until_terminated() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.fake_keyvault", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"https://127.0.0.1:{port}" in first_line
        with SecretClient(
            f"https://127.0.0.1:{port}", OfflineCredential(), verify_challenge_resource=False
        ) as cli_client:
            cli_client.set_secret("from-cli", "a-value")
            assert cli_client.get_secret("from-cli").value == "a-value"
        process.terminate()
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "a-value" not in out + err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
