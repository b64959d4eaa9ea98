"""One-click onboarding's last step, `connect_app`: what the tenant's configuration
and its secret are after it, when it works and when its write fails."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import SsoUnavailable
from shared.secret import Secret
from shared.signin.client_secrets import ClientSecrets
from tests.support.unit_services import UnitWorld

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
APP = "99999999-2222-4333-8444-555555555555"
DIRECTORY = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"


def connect(unit: UnitWorld, secret: str) -> tuple[str, ...]:
    return unit.services.admin.connect_app(
        "contoso",
        client_id=APP,
        directory_id=DIRECTORY,
        secret=Secret(secret),
        expires=dt.date.today() + dt.timedelta(days=700),
        actor="platform",
    )


def test_a_failed_configuration_write_leaves_the_secret_sign_in_used(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A row that names no secret version (seeded) reads the newest: the new secret,
    # whose app onboarding deletes after this failure, must not become it.
    pinned = unit.tenant(client_secret="the-working-secret")
    unit.services.configs.put_tenant(
        "contoso", "Contoso", dataclasses.replace(pinned, client_secret_version=None)
    )

    def storage_down(*args: object, **kwargs: object) -> None:
        raise SsoUnavailable("Table Storage could not be reached.")

    monkeypatch.setattr(unit.services.configs, "replace_config", storage_down)
    with pytest.raises(SsoUnavailable):
        connect(unit, "secret-of-an-app-about-to-be-deleted")
    config = unit.services.configs.read_now("contoso")
    assert config is not None
    in_use = ClientSecrets(unit.vault).in_use("contoso", config)
    assert in_use is not None and in_use.value.reveal() == "the-working-secret"


def test_a_certificate_replaced_by_onboarding_reads_as_a_secret(unit: UnitWorld) -> None:
    unit.tenant()
    unit.services.admin.create_client_certificate(PLATFORM, "contoso", ip=None)
    connect(unit, "a-plain-client-secret-value")
    config = unit.services.configs.read_now("contoso")
    assert config is not None and config.credential_type == "secret"
