"""`make dev`'s demo tenant is wired to the Entra stand-in's demo directory."""

from __future__ import annotations

import json

from devtools.azurite import Azurite
from devtools.demo_tenant import DEMO_DIRECTORY, DEMO_TENANT, seed_demo_tenant
from devtools.fake_keyvault import FakeKeyVault
from shared.container import Services
from shared.store.secrets import client_secret_name
from shared.tenants.model import is_sso_ready
from tests.support.system import make_settings


def test_the_demo_tenant_is_ready_for_sso_with_the_demo_app_and_groups(
    azurite: Azurite, fake_keyvault: FakeKeyVault
) -> None:
    services = Services(make_settings(azurite, fake_keyvault))
    seed_demo_tenant(services)
    directory = json.loads(DEMO_DIRECTORY.read_text())["directories"][0]
    config = services.configs.get_config(DEMO_TENANT)
    assert config is not None and is_sso_ready(config)
    assert config.tenant_id == directory["tenant_id"]
    assert config.client_id == directory["apps"][0]["client_id"]
    group_ids = {g["id"] for g in directory["groups"]}
    assert len(config.profile_mappings) == 3
    assert all(m.group_id in group_ids for m in config.profile_mappings)
    assert config.admin_group_ids and set(config.admin_group_ids) <= group_ids
    secret = services.secrets.get_secret(client_secret_name(DEMO_TENANT))
    assert secret is not None
    assert secret.value.reveal() == directory["apps"][0]["secrets"][0]["value"]
    services.tables.close()
