"""GET /api/health reports whether storage and Key Vault answer, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from shared import settings as settings_module
from shared.admin.health import HealthProbe
from shared.container import Services, set_services
from shared.signin.client_secrets import ClientSecrets
from shared.store.secrets import client_secret_name
from tests.support.signin import TENANT, SignInSystem
from tests.support.system import make_settings


def test_health_is_ok_when_storage_and_key_vault_answer(system: FuncHost) -> None:
    response = requests.get(f"{system.url}/api/health", timeout=30)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "settings": "ok",
            "table_storage": "ok",
            "key_vault": "ok",
            "tenant_secrets": "ok",
            "credential_expiry": "ok",
        },
    }


def test_health_names_key_vault_when_it_is_down(
    system: FuncHost, fake_keyvault: FakeKeyVault
) -> None:
    fake_keyvault.set_down(True)
    response = requests.get(f"{system.url}/api/health", timeout=30)
    assert response.status_code == 503
    assert response.json()["checks"]["key_vault"] == "unavailable"
    assert response.json()["checks"]["table_storage"] == "ok"


def test_health_names_table_storage_when_it_is_down(
    app_host: FuncHost, private_azurite: Azurite, fake_keyvault: FakeKeyVault
) -> None:
    set_services(Services(make_settings(private_azurite, fake_keyvault)))
    try:
        private_azurite.stop()
        response = requests.get(f"{app_host.url}/api/health", timeout=30)
        assert response.status_code == 503
        assert response.json()["checks"]["table_storage"] == "unavailable"
    finally:
        set_services(None)


def test_health_names_a_missing_setting_and_never_shows_secrets(
    app_host: FuncHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PUBLIC_BASE_URL", "KEY_VAULT_URI", "TABLES_ENDPOINT", "TABLES_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLATFORM_ADMIN_KEY", "do-not-show-this-admin-key")
    settings_module.get_settings.cache_clear()
    set_services(None)
    try:
        response = requests.get(f"{app_host.url}/api/health", timeout=30)
        assert response.status_code == 503
        assert "PUBLIC_BASE_URL" in response.json()["checks"]["settings"]
        assert "do-not-show-this-admin-key" not in response.text
    finally:
        settings_module.get_settings.cache_clear()


# --- bounded cost, and tenants whose client secret is gone ---------------------------------

PLATFORM = {"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"}


def test_a_flood_of_health_requests_makes_one_key_vault_call(
    signin_system: SignInSystem, fake_keyvault: FakeKeyVault
) -> None:
    before = fake_keyvault.requests_seen
    with requests.Session() as http:
        answers = [http.get(signin_system.url("/api/health"), timeout=30) for _ in range(200)]
    assert {a.status_code for a in answers} == {200}
    # One probe for the whole flood: contoso's secret read (which is the vault check).
    assert fake_keyvault.requests_seen - before == 1


def test_health_probes_at_most_every_30_seconds_and_then_afresh(
    signin_system: SignInSystem, fake_keyvault: FakeKeyVault
) -> None:
    services = signin_system.services
    now = [100.0]
    probe = HealthProbe(
        tables=services.tables,
        configs=services.configs,
        secrets=ClientSecrets(services.secrets),
        clock=lambda: now[0],
    )
    services.override("health", probe)
    before = fake_keyvault.requests_seen
    for _ in range(3):
        assert requests.get(signin_system.url("/api/health"), timeout=30).status_code == 200
    now[0] += 29.9
    requests.get(signin_system.url("/api/health"), timeout=30)
    assert fake_keyvault.requests_seen - before == 1
    now[0] += 0.2
    requests.get(signin_system.url("/api/health"), timeout=30)
    assert fake_keyvault.requests_seen - before == 2


def test_a_tenant_whose_secret_is_gone_shows_no_button_and_health_says_degraded(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    services = system.services
    # As `make dev` after a restart, or an operator deleting (and purging) it by mistake.
    name = client_secret_name(TENANT)
    services.secrets.client.begin_delete_secret(name).wait()
    services.secrets.client.purge_deleted_secret(name)

    anonymous = requests.get(system.url("/api/health"), timeout=30)
    assert anonymous.status_code == 200
    assert anonymous.json()["status"] == "degraded"
    assert anonymous.json()["checks"]["tenant_secrets"] == "missing or unreadable for 1 tenant(s)"
    assert TENANT not in anonymous.text  # no tenant named to anyone
    operator = requests.get(system.url("/api/health"), headers=PLATFORM, timeout=30)
    assert operator.json()["degraded_tenants"] == [TENANT]

    status = requests.get(system.url(f"/api/auth/{TENANT}/status"), timeout=30).json()
    assert status["sso_enabled"] is False
    page = requests.get(system.url(f"/api/auth/{TENANT}/login"), timeout=30)
    assert "Login with Microsoft" not in page.text
    assert "not enabled" in page.text

    # An admin stores a secret again: the tenant signs in again at once.
    stored = requests.put(
        system.url(f"/api/admin/tenants/{TENANT}/oauth2/client-secret"),
        json={"value": system.directory.client_secret, "expires_on": "2099-01-01"},
        headers=PLATFORM,
        timeout=30,
    )
    assert stored.status_code == 200, stored.text
    status = requests.get(system.url(f"/api/auth/{TENANT}/status"), timeout=30).json()
    assert status["sso_enabled"] is True
    assert "sso_error" not in system.browser_sign_in("one_group").headers["Location"]
    services.rebuild("health")  # as 30 s later: a new probe
    assert requests.get(system.url("/api/health"), timeout=30).json()["status"] == "ok"


def test_a_sign_in_attempt_that_finds_the_secret_gone_takes_the_button_away(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    system.services.secrets.client.begin_delete_secret(client_secret_name(TENANT)).wait()
    system.services.secrets.invalidate(client_secret_name(TENANT))
    started = system.http.get(system.url(f"/api/auth/{TENANT}/authorize"), params={"mode": "json"})
    assert started.status_code == 403 and started.json()["error"] == "sso_disabled"
    status = system.http.get(system.url(f"/api/auth/{TENANT}/status")).json()
    assert status["sso_enabled"] is False
    config = system.services.configs.get_config(TENANT)
    assert config is not None and config.client_secret_unavailable


def test_storing_a_secret_whose_name_is_soft_deleted_says_so(signin_system: SignInSystem) -> None:
    system = signin_system
    system.services.secrets.client.begin_delete_secret(client_secret_name(TENANT)).wait()
    stored = requests.put(
        system.url(f"/api/admin/tenants/{TENANT}/oauth2/client-secret"),
        json={"value": "a-new-secret-value-123", "expires_on": "2099-01-01"},
        headers=PLATFORM,
        timeout=30,
    )
    assert stored.status_code == 503
    assert "recover or purge" in stored.json()["error_description"]
    assert "a-new-secret-value-123" not in stored.text
