"""The admin service when another admin's write lands between its read and its write:
the loser gets 412 and leaves everything (including Key Vault's current secret) as the
winner left it. The interleaving is forced by running the winner's write from inside
the loser's, on the real stores (Azurite, the Key Vault stand-in)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from shared.admin_auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import PreconditionFailed
from shared.store.configs import TenantRecord
from shared.store.secrets import client_secret_name
from shared.tenants import OAuth2Config
from tests.support.admin import ADMIN_TENANT, CLIENT_ID, SECRET, AdminSystem

OPERATOR = AdminCaller(actor=PLATFORM_ACTOR, platform=True)


def interleave_a_rename_of_the_label(system: AdminSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    configs = system.services.configs
    original = configs.replace_config

    def replace_after_a_competitor(record: TenantRecord, config: OAuth2Config) -> Any:
        monkeypatch.setattr(configs, "replace_config", original)
        fresh = configs.get_tenant(record.slug)
        assert fresh is not None
        original(fresh, dataclasses.replace(fresh.config, button_label="Winner"))
        return original(record, config)

    monkeypatch.setattr(configs, "replace_config", replace_after_a_competitor)


def test_a_put_that_loses_a_race_restores_the_previous_secret(
    admin_system: AdminSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_system.create_tenant()
    admin = admin_system.services.admin
    first = admin.put_config(
        OPERATOR,
        ADMIN_TENANT,
        {"client_id": CLIENT_ID, "client_secret": SECRET},
        if_match=None,
        ip=None,
    )
    interleave_a_rename_of_the_label(admin_system, monkeypatch)
    with pytest.raises(PreconditionFailed):
        admin.put_config(
            OPERATOR,
            ADMIN_TENANT,
            first.body | {"client_secret": "l0ser-secret-value-0123456789"},
            if_match=first.etag,
            ip=None,
        )
    current = admin_system.services.secrets.get_secret(client_secret_name(ADMIN_TENANT))
    assert current is not None and current.value.reveal() == SECRET
    document = admin.get_config(ADMIN_TENANT).body
    assert document["button_label"] == "Winner"
    assert document["client_secret"] == SECRET[:3] + "*****"
    assert admin_system.audit_actions().count("config_updated") == 1


def test_the_client_secret_route_retries_a_lost_race_and_keeps_the_winners_change(
    admin_system: AdminSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_system.create_tenant()
    admin = admin_system.services.admin
    interleave_a_rename_of_the_label(admin_system, monkeypatch)
    admin.put_client_secret(
        OPERATOR, ADMIN_TENANT, {"value": SECRET, "expires_on": "2099-01-01"}, ip=None
    )
    document = admin.get_config(ADMIN_TENANT).body
    assert document["button_label"] == "Winner"
    assert document["client_secret_set"] is True
    assert document["client_secret_expires_on"] == "2099-01-01"
