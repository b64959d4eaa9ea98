"""The credential watch's decisions (pure, an injected clock) and its once-a-day
audit events, on the unit world's in-memory tables; one run against Azurite is in
tests/integration/test_credential_watch.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import SsoUnavailable
from shared.expiry.assess import assess, counts
from shared.expiry.watch import CredentialWatchIncomplete
from shared.signin.status import sign_in_status
from shared.store.rows import Op
from shared.tenants.model import OAuth2Config
from tests.support.unit_services import UnitWorld

TODAY = dt.date(2026, 12, 5)
PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)


def secret_until(day: dt.date | None, **changes: object) -> OAuth2Config:
    fields: dict[str, object] = {"enabled": True, "client_secret_set": True}
    fields |= {"client_secret_expires_on": day, **changes}
    return OAuth2Config(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("days", "standing"),
    [(400, "healthy"), (30, "healthy"), (29, "expiring"), (1, "expiring"), (0, "expiring"),
     (-1, "expired"), (-90, "expired")],
)  # fmt: skip
def test_standing_by_days_left(days: int, standing: str) -> None:
    found = assess("contoso", secret_until(TODAY + dt.timedelta(days=days)), today=TODAY)
    assert found is not None
    assert (found.standing, found.days_left) == (standing, days)


def test_tenants_that_use_no_secret_are_not_assessed_and_no_expiry_is_unknown() -> None:
    assert assess("t", secret_until(TODAY, enabled=False), today=TODAY) is None
    assert assess("t", secret_until(TODAY, client_secret_set=False), today=TODAY) is None
    unknown = assess("t", secret_until(None), today=TODAY)
    assert unknown is not None and (unknown.standing, unknown.needs_attention) == ("unknown", False)


def test_the_watch_audits_once_per_day_and_again_the_next_day(unit: UnitWorld) -> None:
    today = unit.clock.utc().date()
    unit.tenant("contoso", client_secret_expires_on=today + dt.timedelta(days=10))
    unit.tenant("fabrikam", client_secret_expires_on=today - dt.timedelta(days=2))
    unit.tenant("healthy", client_secret_expires_on=today + dt.timedelta(days=200))
    watch = unit.services.credential_watch
    for _ in range(3):  # three instances, or three runs, on the same day
        attention = watch.run()
    assert counts(attention) == {"expiring": 1, "expired": 1}

    def actions(tenant: str) -> list[str]:
        events, _ = unit.services.audit.list(tenant, limit=50, cursor=None)
        return [e["action"] for e in events]

    assert actions("contoso") == ["credential_expiring"]
    assert actions("fabrikam") == ["credential_expired"]
    assert actions("healthy") == []
    unit.advance(dt.timedelta(days=1))
    watch.run()
    assert actions("contoso") == ["credential_expiring", "credential_expiring"]
    events, _ = unit.services.audit.list("contoso", limit=1, cursor=None)
    assert events[0]["actor"] == "credential_watch" and "days left" in events[0]["detail"]


def test_a_tenant_whose_write_fails_costs_no_other_tenant_its_event_and_the_run_fails(
    unit: UnitWorld,
) -> None:
    today = unit.clock.utc().date()
    unit.tenant("contoso", client_secret_expires_on=today + dt.timedelta(days=10))
    unit.tenant("fabrikam", client_secret_expires_on=today - dt.timedelta(days=2))
    tables = unit.services.tables

    class FailingForContoso:
        """Storage refusing contoso's partition only (a throttled or broken partition)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(tables, name)

        def transact(self, table: str, operations: Sequence[Op]) -> list[str | None]:
            if operations[0].entity["PartitionKey"] == "contoso":
                raise SsoUnavailable("storage refused the write")
            return tables.transact(table, operations)

    watch = replace(unit.services.credential_watch, tables=FailingForContoso())
    with pytest.raises(CredentialWatchIncomplete) as incomplete:
        watch.run()
    assert incomplete.value.tenants == ["contoso"]
    events, _ = unit.services.audit.list("fabrikam", limit=10, cursor=None)
    assert [e["action"] for e in events] == ["credential_expired"]
    # The next run (storage back) records what the failed one could not.
    assert counts(unit.services.credential_watch.run()) == {"expiring": 1, "expired": 1}
    events, _ = unit.services.audit.list("contoso", limit=10, cursor=None)
    assert [e["action"] for e in events] == ["credential_expiring"]


def test_health_counts_them_without_names_and_an_expired_one_degrades(unit: UnitWorld) -> None:
    today = unit.clock.utc().date()
    unit.tenant("contoso", client_secret_expires_on=today + dt.timedelta(days=10))
    unit.tenant("fabrikam", client_secret_expires_on=today - dt.timedelta(days=2))
    report = unit.services.health.report()
    assert report.checks["credential_expiry"] == "1 tenant(s) expiring within 30 days, 1 expired"
    assert report.status == "degraded"
    public = report.to_body(name_tenants=False)
    assert "fabrikam" not in str(public) and "contoso" not in str(public)
    assert report.to_body(name_tenants=True)["degraded_tenants"] == ["fabrikam"]


def test_the_status_route_says_why_sso_is_off_when_the_secret_expired(unit: UnitWorld) -> None:
    from shared.signin.status import sign_in_status

    today = unit.clock.utc().date()
    unit.tenant("contoso", client_secret_expires_on=today - dt.timedelta(days=1))
    unit.tenant("fabrikam", client_secret_expires_on=today + dt.timedelta(days=5))
    base = unit.services.settings.public_base_url
    expired = sign_in_status(unit.services.configs, "contoso", public_base_url=base).to_body()
    assert expired["sso_enabled"] is False
    assert expired["unavailable_reason"] == "credential_expired"
    expiring = sign_in_status(unit.services.configs, "fabrikam", public_base_url=base).to_body()
    assert expiring["sso_enabled"] is True and "unavailable_reason" not in expiring


def test_a_certificate_not_yet_used_does_not_hide_the_secret_that_expires_first(
    unit: UnitWorld,
) -> None:
    # An admin makes a certificate (12 months) for a secret 10 days from expiry but
    # has not uploaded it: sign-in still runs on the secret, so the watch and
    # /api/health keep warning about the secret, until the certificate signs
    # someone in. The login page keeps its button meanwhile (that sign-in proves it).
    today = unit.clock.utc().date()
    unit.tenant("contoso", client_secret_expires_on=today + dt.timedelta(days=10))
    unit.services.admin.create_client_certificate(PLATFORM, "contoso", ip=None)
    watch = unit.services.credential_watch

    [standing] = watch.run()
    assert (standing.standing, standing.days_left) == ("expiring", 10)
    events, _ = unit.services.audit.list("contoso", limit=50, cursor=None)
    [expiring] = [e for e in events if e["action"] == "credential_expiring"]
    assert expiring["detail"] == "previous credential (the new one is unused yet): 10 days left"
    assert unit.services.health.report().checks["credential_expiry"] != "ok"
    status = sign_in_status(unit.services.configs, "contoso", public_base_url="https://x.example")
    assert status.sso_enabled

    config = unit.services.configs.read_now("contoso")
    assert config is not None and config.client_secret_version
    assert unit.services.configs.mark_client_secret_proven("contoso", config.client_secret_version)
    assert watch.run() == []  # the certificate, 12 months, is what counts now


def test_the_event_names_the_kind_of_credential_that_expires() -> None:
    certificate = secret_until(TODAY + dt.timedelta(days=3), credential_type="certificate")
    found = assess("contoso", certificate, today=TODAY)
    assert found is not None and found.credential == "client certificate"
    found = assess("contoso", secret_until(TODAY), today=TODAY)
    assert found is not None and found.credential == "client secret"
