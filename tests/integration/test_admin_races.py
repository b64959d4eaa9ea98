"""The admin service when another write lands between its read and its write, or
storage fails between its Key Vault write and its config write: a refused request
leaves what sign-in uses (the secret version the config names, and the previous one
it falls back to) as it was, and a concurrent request's change as that request made
it. The interleaving is forced by running the competitor from inside the request's
config write, on the real stores (Azurite, the Key Vault stand-in)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.azurite import Azurite, start_azurite
from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.admin.service import AdminService, Document
from shared.errors import PreconditionFailed, SsoUnavailable
from shared.signin.client_secrets import ClientSecrets
from shared.store.audit import AuditStore
from shared.store.configs import ConfigStore, TenantRecord
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.secrets import client_secret_name
from shared.store.tables import TableStore
from shared.store.users import UserStore
from shared.tenants.model import OAuth2Config
from tests.support.admin import ADMIN_TENANT, CLIENT_ID, SECRET, AdminSystem

OPERATOR = AdminCaller(actor=PLATFORM_ACTOR, platform=True)
LOSER = "l0ser-secret-value-0123456789"
WINNER = "w1nner-secret-value-0123456789"


def before_the_config_write(
    configs: ConfigStore, monkeypatch: pytest.MonkeyPatch, competitor: Callable[[], None]
) -> None:
    """Run `competitor` once, just before the next config write goes to the store."""
    original = configs.replace_config

    def replace_after_a_competitor(record: TenantRecord, config: OAuth2Config) -> Any:
        monkeypatch.setattr(configs, "replace_config", original)
        competitor()
        return original(record, config)

    monkeypatch.setattr(configs, "replace_config", replace_after_a_competitor)


def in_use(system: AdminSystem, config: OAuth2Config | None = None) -> tuple[str, str | None]:
    """(current, previous) secret values as sign-in would use them."""
    configs = system.services.configs
    configs.forget(ADMIN_TENANT)
    config = config or configs.get_config(ADMIN_TENANT)
    assert config is not None
    secrets = ClientSecrets(system.services.secrets)
    current = secrets.current(ADMIN_TENANT, config)
    assert current is not None
    previous = secrets.previous(ADMIN_TENANT, config, current[1])
    return current[0].reveal(), previous[0].reveal() if previous else None


def configured_with_secret(system: AdminSystem) -> Document:
    system.create_tenant()
    return system.services.admin.put_config(
        OPERATOR,
        ADMIN_TENANT,
        {"client_id": CLIENT_ID, "client_secret": SECRET},
        if_match=None,
        ip=None,
    )


def with_new_secret(admin: AdminService, first: Document, secret: str) -> Document:
    """PUT the first document back with a new secret, conditional on its ETag."""
    return admin.put_config(
        OPERATOR, ADMIN_TENANT, first.body | {"client_secret": secret}, if_match=first.etag, ip=None
    )


def relabel(system: AdminSystem, label: str) -> None:
    """Another writer's change of the button label, straight to the store."""
    fresh = system.services.configs.get_tenant(ADMIN_TENANT)
    assert fresh is not None
    system.services.configs.replace_config(
        fresh, dataclasses.replace(fresh.config, button_label=label)
    )


def test_a_put_that_loses_a_race_changes_nothing_sign_in_uses(
    admin_system: AdminSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_system.services.admin
    first = configured_with_secret(admin_system)

    before_the_config_write(
        admin_system.services.configs, monkeypatch, lambda: relabel(admin_system, "Winner")
    )
    with pytest.raises(PreconditionFailed):
        with_new_secret(admin, first, LOSER)
    assert in_use(admin_system) == (SECRET, None)
    document = admin.get_config(ADMIN_TENANT).body
    assert document["button_label"] == "Winner"
    assert document["client_secret"] == SECRET[:3] + "*****"
    assert "config_updated" not in admin_system.audit_actions()  # the refused PUT


def test_of_two_secret_puts_with_one_etag_the_winner_keeps_its_secret(
    admin_system: AdminSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_system.services.admin
    first = configured_with_secret(admin_system)
    won: list[dict[str, Any]] = []

    def the_other_admin() -> None:
        # Starts after the loser stored its secret in Key Vault, and finishes first.
        answer = with_new_secret(admin, first, WINNER)
        won.append(answer.body)

    before_the_config_write(admin_system.services.configs, monkeypatch, the_other_admin)
    with pytest.raises(PreconditionFailed):
        with_new_secret(admin, first, LOSER)
    assert won and won[0]["client_secret"] == WINNER[:3] + "*****"
    # The winner's secret is in use and the one it replaced is the fallback; the
    # loser's version is in Key Vault, but neither (nothing was "restored" over them).
    assert in_use(admin_system) == (WINNER, SECRET)
    assert len(admin_system.services.secrets.list_versions(client_secret_name(ADMIN_TENANT))) == 3
    assert admin.get_config(ADMIN_TENANT).body["client_secret"] == WINNER[:3] + "*****"


def test_the_client_secret_route_retries_a_lost_race_and_keeps_the_winners_change(
    admin_system: AdminSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_system.create_tenant()
    admin = admin_system.services.admin
    admin.put_client_secret(
        OPERATOR, ADMIN_TENANT, {"value": SECRET, "expires_on": "2099-01-01"}, ip=None
    )

    before_the_config_write(
        admin_system.services.configs, monkeypatch, lambda: relabel(admin_system, "Winner")
    )
    admin.put_client_secret(
        OPERATOR, ADMIN_TENANT, {"value": WINNER, "expires_on": "2099-02-01"}, ip=None
    )
    document = admin.get_config(ADMIN_TENANT).body
    assert document["button_label"] == "Winner"
    assert document["client_secret_expires_on"] == "2099-02-01"
    assert in_use(admin_system) == (WINNER, SECRET)


@dataclasses.dataclass
class PrivateStorage:
    """The admin service on its own Azurite, which a test may stop mid-request."""

    admin: AdminService
    configs: ConfigStore
    azurite: Azurite

    def stop_before_the_config_write(self, monkeypatch: pytest.MonkeyPatch) -> None:
        before_the_config_write(self.configs, monkeypatch, self.azurite.stop)


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


def test_storage_failing_after_a_new_secret_leaves_sign_in_on_the_old_one(
    admin_system: AdminSystem, private_storage: PrivateStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = private_storage.admin
    first = admin.put_config(
        OPERATOR, ADMIN_TENANT, {"client_secret": SECRET}, if_match=None, ip=None
    )
    kept = private_storage.configs.get_config(ADMIN_TENANT)
    assert kept is not None
    private_storage.stop_before_the_config_write(monkeypatch)
    with pytest.raises(SsoUnavailable):
        with_new_secret(admin, first, LOSER)
    # The config row could not change (storage was down), and it names its version.
    assert in_use(admin_system, kept) == (SECRET, None)


def test_storage_failing_after_a_rotation_leaves_sign_in_on_the_old_one(
    admin_system: AdminSystem, private_storage: PrivateStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = private_storage.admin
    body = {"value": SECRET, "expires_on": "2099-01-01"}
    admin.put_client_secret(OPERATOR, ADMIN_TENANT, body, ip=None)
    kept = private_storage.configs.get_config(ADMIN_TENANT)
    assert kept is not None
    private_storage.stop_before_the_config_write(monkeypatch)
    with pytest.raises(SsoUnavailable):
        admin.put_client_secret(OPERATOR, ADMIN_TENANT, body | {"value": LOSER}, ip=None)
    assert in_use(admin_system, kept) == (SECRET, None)


def test_on_a_config_without_versions_a_failed_write_puts_the_newest_back(
    admin_system: AdminSystem, private_storage: PrivateStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows seeded before versions were recorded make sign-in read the newest version,
    # so there the previous value must become the newest again.
    services = admin_system.services
    services.secrets.set_secret(client_secret_name(ADMIN_TENANT), SECRET)
    record = private_storage.configs.get_tenant(ADMIN_TENANT)
    assert record is not None
    private_storage.configs.put_tenant(
        ADMIN_TENANT, "Acme", dataclasses.replace(record.config, client_secret_set=True)
    )
    private_storage.stop_before_the_config_write(monkeypatch)
    with pytest.raises(SsoUnavailable):
        private_storage.admin.put_client_secret(
            OPERATOR, ADMIN_TENANT, {"value": LOSER, "expires_on": "2099-01-01"}, ip=None
        )
    latest = services.secrets.get_secret(client_secret_name(ADMIN_TENANT))
    assert latest is not None and latest.value.reveal() == SECRET
