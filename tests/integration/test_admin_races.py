"""The admin service when another admin's write lands between its read and its write:
the loser gets 412 and leaves everything (including Key Vault's current secret) as the
winner left it. The interleaving is forced by running the winner's write from inside
the loser's, on the real stores (Azurite, the Key Vault stand-in)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.azurite import Azurite, start_azurite
from shared.admin import AdminService
from shared.admin_auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import PreconditionFailed, SsoUnavailable
from shared.store.audit import AuditStore
from shared.store.configs import ConfigStore, TenantRecord
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.secrets import client_secret_name
from shared.store.tables import TableStore
from shared.store.users import UserStore
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
    assert admin_system.audit_actions().count("config_updated") == 0  # only the first PUT


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


@dataclasses.dataclass
class PrivateStorage:
    """The admin service on its own Azurite, which a test may stop mid-request."""

    admin: AdminService
    configs: ConfigStore
    azurite: Azurite

    def stop_before_the_config_write(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = self.configs.replace_config

        def storage_goes_away(record: TenantRecord, config: OAuth2Config) -> Any:
            self.azurite.stop()  # between the Key Vault write and the config row write
            return original(record, config)

        monkeypatch.setattr(self.configs, "replace_config", storage_goes_away)


@pytest.fixture
def private_storage(admin_system: AdminSystem) -> Iterator[PrivateStorage]:
    azurite = start_azurite()
    tables = TableStore.from_connection_string(azurite.connection_string)
    configs = ConfigStore(tables)
    admin = AdminService(
        settings=admin_system.services.settings,
        configs=configs,
        secrets=admin_system.services.secrets,
        users=UserStore(tables),
        refresh_tokens=RefreshTokenTable(tables),
        audit=AuditStore(tables),
    )
    configs.create_or_rename(ADMIN_TENANT, "Acme")
    yield PrivateStorage(admin, configs, azurite)
    azurite.stop()
    tables.close()


def current_secret(system: AdminSystem) -> str:
    stored = system.services.secrets.get_secret(client_secret_name(ADMIN_TENANT))
    assert stored is not None
    return stored.value.reveal()


def test_storage_failing_after_a_new_secret_in_a_put_puts_the_previous_back(
    admin_system: AdminSystem, private_storage: PrivateStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = private_storage.admin
    first = admin.put_config(
        OPERATOR, ADMIN_TENANT, {"client_secret": SECRET}, if_match=None, ip=None
    )
    private_storage.stop_before_the_config_write(monkeypatch)
    with pytest.raises(SsoUnavailable):
        admin.put_config(
            OPERATOR,
            ADMIN_TENANT,
            first.body | {"client_secret": "n3w-secret-value-0123456789"},
            if_match=first.etag,
            ip=None,
        )
    assert current_secret(admin_system) == SECRET


def test_storage_failing_after_a_rotation_puts_the_previous_secret_back(
    admin_system: AdminSystem, private_storage: PrivateStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = private_storage.admin
    body = {"value": SECRET, "expires_on": "2099-01-01"}
    admin.put_client_secret(OPERATOR, ADMIN_TENANT, body, ip=None)
    private_storage.stop_before_the_config_write(monkeypatch)
    with pytest.raises(SsoUnavailable):
        admin.put_client_secret(
            OPERATOR, ADMIN_TENANT, body | {"value": "n3w-secret-value-0123456789"}, ip=None
        )
    assert current_secret(admin_system) == SECRET
