"""A fresh worker answers the status route and the login page without loading MSAL,
azure-identity or the Key Vault SDK (about 450 ms of a cold start between them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from devtools.localca import PROJECT_ROOT, ensure_local_ca
from shared.container import Services
from shared.tenants.model import OAuth2Config
from tests.support.system import make_settings


def test_status_and_login_page_answer_without_the_heavy_sdks(
    azurite: Azurite, fake_keyvault: FakeKeyVault
) -> None:
    services = Services(make_settings(azurite, fake_keyvault))
    services.configs.put_tenant("coldstart", "Cold Start", OAuth2Config())
    services.tables.close()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TABLES_", "KEY_VAULT"))},
        "PUBLIC_BASE_URL": "https://127.0.0.1:7071",
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "KEY_VAULT_URI": fake_keyvault.base_url,
        "AZURE_CREDENTIAL_MODE": "offline",
        "REQUESTS_CA_BUNDLE": str(ensure_local_ca().bundle),
    }
    result = subprocess.run(
        [sys.executable, "-m", "devtools.coldstart", "coldstart"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["answers"] == {"status": 200, "login": 200}
    assert report["heavy_sdks"] == []


def test_the_probe_sees_an_sdk_when_one_is_loaded(
    azurite: Azurite, fake_keyvault: FakeKeyVault
) -> None:
    # The same probe after a sign-in route has been asked for: MSAL shows up, so an
    # empty list above means something.
    env = {**os.environ, "TABLES_CONNECTION_STRING": azurite.connection_string}
    probe = (
        "import runpy,sys; import shared.entra.client; sys.argv=['x','coldstart'];"
        "runpy.run_module('devtools.coldstart', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env={
            **env,
            "PUBLIC_BASE_URL": "https://127.0.0.1:7071",
            "KEY_VAULT_URI": fake_keyvault.base_url,
            "AZURE_CREDENTIAL_MODE": "offline",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert '"msal"' in result.stdout, result.stderr[-2000:]
