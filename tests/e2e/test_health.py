"""GET /api/health reports whether storage and Key Vault answer, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from shared import settings as settings_module
from shared.container import Services, set_services
from tests.support.system import make_settings


def test_health_is_ok_when_storage_and_key_vault_answer(system: FuncHost) -> None:
    response = requests.get(f"{system.url}/api/health", timeout=30)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"settings": "ok", "table_storage": "ok", "key_vault": "ok"},
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
