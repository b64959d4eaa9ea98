"""AdminService on in-memory stores: tenants, the OAuth2 configuration (ETags, validation,
the enable rule) and client-secret rotation, as an admin checks them: the document
answered, the error and the field it names, what is stored, what is audited.

The service, the container and every adapter are the production code; only Table
Storage and Key Vault are in memory (tests/support/unit_services.py). Users, the roles a
configuration change takes away, and the paged lists are in test_service_users.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.admin.service import AdminService, Document
from shared.errors import (
    Forbidden,
    InvalidRequest,
    PreconditionFailed,
    PreconditionRequired,
    UnknownTenant,
)
from shared.store.configs import TenantRecord
from shared.store.secrets import client_secret_name
from shared.tenants.model import OAuth2Config
from tests.support.unit_services import (
    CLIENT_ID,
    CUSTOMER_ID,
    ENTRA_TENANT_ID,
    UnitWorld,
    random_id,
)

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True)
IP = "203.0.113.9"
TENANT = "acme"
SECRET = "s3cr3t~value-0123456789abcdef"
NEW_SECRET = "n3w~secret-value-abcdefghijkl"
THIRD_SECRET = "th1rd~secret-value-0123456789"
MASKED = "s3c*****"  # what every answer shows of SECRET
GROUP_A, GROUP_B = random_id(), random_id()
PROFILE_A, PROFILE_B = random_id(), random_id()
MAPPING_A = {"profile_id": PROFILE_A, "group_id": GROUP_A}
MAPPING_B = {"profile_id": PROFILE_B, "group_id": GROUP_B}


@pytest.fixture
def admin(unit: UnitWorld) -> AdminService:
    """The container's AdminService with its clock held at 12:00 UTC today."""
    service = unit.services.admin
    now = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    service.clock = lambda: now
    return service


def in_days(admin: AdminService, days: int) -> str:
    return (admin.clock().date() + dt.timedelta(days=days)).isoformat()


def complete_body(admin: AdminService, **changes: Any) -> dict[str, Any]:
    """A configuration that can be enabled: every id, a secret, a mapping, an admin group."""
    body: dict[str, Any] = {
        "enabled": True,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "client_secret_expires_on": in_days(admin, 365),
        "tenant_id": ENTRA_TENANT_ID,
        "customer_id": CUSTOMER_ID,
        "profile_mappings": [MAPPING_A],
        "admin_group_ids": [GROUP_A],
    }
    return body | changes


def new_tenant(admin: AdminService, slug: str = TENANT) -> None:
    admin.put_tenant(PLATFORM, slug, {"display_name": slug.title()}, ip=IP)


def configured(admin: AdminService) -> Document:
    """A new tenant after its first PUT of `complete_body`."""
    new_tenant(admin)
    return admin.put_config(PLATFORM, TENANT, complete_body(admin), if_match=None, ip=IP)


def change(admin: AdminService, caller: AdminCaller = PLATFORM, **fields: Any) -> Document:
    """GET, change `fields`, PUT with the GET's ETag: what an admin's client does."""
    current = admin.get_config(TENANT)
    return admin.put_config(caller, TENANT, current.body | fields, if_match=current.etag, ip=IP)


def rotate(admin: AdminService, value: str, expires_on: str) -> dict[str, Any]:
    body = {"value": value, "expires_on": expires_on}
    return admin.put_client_secret(PLATFORM, TENANT, body, ip=IP)


def stored(unit: UnitWorld) -> TenantRecord:
    record = unit.services.configs.get_tenant(TENANT)
    assert record is not None
    return record


def pinned(unit: UnitWorld) -> tuple[str | None, str | None]:
    """The Key Vault versions the stored config names: (current, previous)."""
    config = stored(unit).config
    return config.client_secret_version, config.client_secret_previous_version


def events(admin: AdminService) -> list[dict[str, Any]]:
    found, _ = admin.list_audit(TENANT, limit=1000, cursor=None)
    return found


def latest(admin: AdminService) -> dict[str, Any]:
    """The newest audit event, without its time."""
    return {k: v for k, v in events(admin)[0].items() if k != "at"}


def by_operator(action: str, *fields: str) -> dict[str, Any]:
    return {"action": action, "actor": PLATFORM_ACTOR, "ip": IP, "fields": list(fields)}


def versions(unit: UnitWorld, slug: str = TENANT) -> list[str]:
    """The tenant's client-secret versions in Key Vault, newest first."""
    return [v.version for v in unit.vault.list_versions(client_secret_name(slug))]


def revealed(unit: UnitWorld, version: str | None) -> str:
    value = unit.vault.get_secret_version(client_secret_name(TENANT), version or "")
    assert value is not None
    return value.value.reveal()


def everything(unit: UnitWorld, admin: AdminService) -> object:
    """What a refused request must leave as it was: the row, the audit log, the vault."""
    return stored(unit), events(admin), versions(unit)


# --- tenants ----------------------------------------------------------------------------


def test_put_tenant_creates_then_renames_then_leaves_an_unchanged_name_alone(
    admin: AdminService,
) -> None:
    created = admin.put_tenant(PLATFORM, TENANT, {"display_name": "Acme"}, ip=IP)
    assert created == ({"tenant": TENANT, "display_name": "Acme"}, True)
    renamed = admin.put_tenant(PLATFORM, TENANT, {"display_name": "  Acme Corp "}, ip=IP)
    assert renamed == ({"tenant": TENANT, "display_name": "Acme Corp"}, False)
    same = admin.put_tenant(PLATFORM, TENANT, {"display_name": "Acme Corp"}, ip=IP)
    assert same == renamed
    assert [e["action"] for e in events(admin)] == ["tenant_renamed", "tenant_created"]
    assert latest(admin) == by_operator("tenant_renamed", "display_name")


def test_a_rename_keeps_the_configuration_and_its_etag(
    unit: UnitWorld, admin: AdminService
) -> None:
    document = configured(admin)
    admin.put_tenant(PLATFORM, TENANT, {"display_name": "Acme Corp"}, ip=IP)
    assert stored(unit).display_name == "Acme Corp"
    assert admin.get_config(TENANT) == document
    assert admin.put_config(PLATFORM, TENANT, document.body, if_match=document.etag, ip=IP)


def test_only_platform_operators_create_or_rename_tenants(
    unit: UnitWorld, admin: AdminService
) -> None:
    tenant_admin = AdminCaller(actor="user:x", platform=False, user_id=random_id())
    with pytest.raises(Forbidden):
        admin.put_tenant(tenant_admin, TENANT, {"display_name": "Acme"}, ip=IP)
    assert unit.services.configs.get_tenant(TENANT) is None


def test_a_bad_slug_or_display_name_is_refused_naming_it(
    unit: UnitWorld, admin: AdminService
) -> None:
    with pytest.raises(InvalidRequest) as bad_slug:
        admin.put_tenant(PLATFORM, "Bad_Slug", {"display_name": "Bad"}, ip=IP)
    assert set(bad_slug.value.fields) == {"tenant"}
    with pytest.raises(InvalidRequest) as bad_name:
        admin.put_tenant(PLATFORM, TENANT, {"display_name": " \t "}, ip=IP)
    assert set(bad_name.value.fields) == {"display_name"}
    assert unit.services.configs.get_tenant(TENANT) is None


@pytest.mark.parametrize("slug", ["nosuch", "Not A Slug"])
def test_an_unknown_or_malformed_tenant_is_unknown_tenant_everywhere(
    unit: UnitWorld, admin: AdminService, slug: str
) -> None:
    secret = {"value": SECRET, "expires_on": in_days(admin, 30)}
    calls = [
        lambda: admin.get_config(slug),
        lambda: admin.put_config(PLATFORM, slug, {}, if_match=None, ip=IP),
        lambda: admin.put_client_secret(PLATFORM, slug, secret, ip=IP),
        lambda: admin.list_users(slug, limit=10, cursor=None),
        lambda: admin.list_audit(slug, limit=10, cursor=None),
    ]
    for call in calls:
        with pytest.raises(UnknownTenant):
            call()
    assert versions(unit, "nosuch") == []


# --- the configuration document ------------------------------------------------------


def test_a_new_tenant_reads_the_default_document_without_an_etag(admin: AdminService) -> None:
    new_tenant(admin)
    document = admin.get_config(TENANT)
    assert document.etag is None
    body = document.body
    assert (body["enabled"], body["client_secret_set"], body["enforce_sso"]) == (False,) * 3
    for unset in ("client_id", "client_secret", "tenant_id", "customer_id", "updated_by"):
        assert body[unset] is None
    assert body["profile_mappings"] == body["admin_group_ids"] == []
    assert (body["provider"], body["button_label"]) == ("microsoft", "Login with Microsoft")
    assert body["endpoints"]["authorization_uri"] is None
    assert (
        body["endpoints"]["redirect_uri"] == f"https://auth.example.com/api/auth/{TENANT}/callback"
    )


def test_the_first_put_needs_no_if_match_and_answers_the_stored_document_with_an_etag(
    unit: UnitWorld, admin: AdminService
) -> None:
    new_tenant(admin)
    document = admin.put_config(PLATFORM, TENANT, complete_body(admin), if_match=None, ip=IP)

    assert document.etag == f'"{stored(unit).config_etag}"'
    assert {k: document.body[k] for k in ("enabled", "client_id", "client_secret")} == {
        "enabled": True, "client_id": CLIENT_ID, "client_secret": MASKED,
    }  # fmt: skip
    assert document.body["client_secret_expires_on"] == in_days(admin, 365)
    assert document.body["client_secret_days_left"] == 365
    assert document.body["profile_mappings"] == [MAPPING_A]
    assert document.body["updated_by"] == PLATFORM_ACTOR
    assert admin.get_config(TENANT) == document
    assert pinned(unit) == (versions(unit)[0], None)
    assert revealed(unit, versions(unit)[0]) == SECRET
    assert latest(admin) == by_operator(
        "config_created", "enabled", "client_id", "client_secret", "client_secret_expires_on",
        "tenant_id", "customer_id", "profile_mappings", "admin_group_ids",
    )  # fmt: skip


def test_a_change_is_stored_with_a_new_etag_and_audited_by_field_name(
    unit: UnitWorld, admin: AdminService
) -> None:
    before = configured(admin)
    after = change(admin, button_label="Sign in with Acme", login_page_url="/sign-in")

    assert after.etag is not None and after.etag != before.etag
    assert after.body == before.body | {
        "button_label": "Sign in with Acme",
        "login_page_url": "/sign-in",
    }
    assert stored(unit).config.button_label == "Sign in with Acme"
    assert admin.get_config(TENANT) == after
    assert latest(admin) == by_operator("config_updated", "login_page_url", "button_label")


def test_a_get_body_sent_back_with_its_etag_changes_nothing_and_is_not_audited(
    unit: UnitWorld, admin: AdminService
) -> None:
    configured(admin)
    before = everything(unit, admin)
    current = admin.get_config(TENANT)
    assert admin.put_config(PLATFORM, TENANT, current.body, if_match=current.etag, ip=IP) == current
    assert everything(unit, admin) == before


def test_a_later_put_without_if_match_is_precondition_required_and_changes_nothing(
    unit: UnitWorld, admin: AdminService
) -> None:
    configured(admin)
    before = everything(unit, admin)
    for if_match in (None, "", "  "):
        with pytest.raises(PreconditionRequired) as refused:
            admin.put_config(PLATFORM, TENANT, {"enabled": False}, if_match=if_match, ip=IP)
        assert (refused.value.code, refused.value.status) == ("precondition_required", 428)
    assert everything(unit, admin) == before


@pytest.mark.parametrize("stale", ["another", "weak"])
def test_a_stale_or_weak_if_match_is_precondition_failed_and_changes_nothing(
    unit: UnitWorld, admin: AdminService, stale: str
) -> None:
    etag = configured(admin).etag
    if_match = f"W/{etag}" if stale == "weak" else '"0123456789abcdef01234567"'
    before = everything(unit, admin)
    body = complete_body(admin, client_secret=NEW_SECRET, enabled=False)
    with pytest.raises(PreconditionFailed) as refused:
        admin.put_config(PLATFORM, TENANT, body, if_match=if_match, ip=IP)
    assert (refused.value.code, refused.value.status) == ("precondition_failed", 412)
    assert everything(unit, admin) == before


def test_of_two_admins_with_the_same_etag_only_the_first_wins(
    unit: UnitWorld, admin: AdminService
) -> None:
    configured(admin)
    seen = admin.get_config(TENANT)
    first, second = seen.body | {"button_label": "First"}, seen.body | {"button_label": "Second"}
    admin.put_config(PLATFORM, TENANT, first, if_match=seen.etag, ip=IP)
    with pytest.raises(PreconditionFailed):
        admin.put_config(PLATFORM, TENANT, second, if_match=seen.etag, ip=IP)
    assert stored(unit).config.button_label == "First"
    assert [e["action"] for e in events(admin)][:2] == ["config_updated", "config_created"]


def test_a_tenant_admin_may_not_change_customer_id(unit: UnitWorld, admin: AdminService) -> None:
    configured(admin)
    tenant_admin = AdminCaller(actor="user:boss", platform=False, user_id=random_id())
    before = everything(unit, admin)
    with pytest.raises(Forbidden) as refused:
        change(admin, tenant_admin, customer_id=random_id())
    assert set(refused.value.fields) == {"customer_id"}
    assert everything(unit, admin) == before
    assert change(admin, tenant_admin, button_label="Acme").body["updated_by"] == "user:boss"
    assert latest(admin)["actor"] == "user:boss"


# --- validation: the field named, nothing changed ------------------------------------

ORIGIN = "https://app.example.com"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"tenant_id": "9188040d-6c67-4c5b-b112-36a304b66dad"}, "tenant_id"),  # consumers
        ({"admin_group_ids": [GROUP_A, GROUP_A.upper()]}, "admin_group_ids[1]"),
        ({"profile_mappings": [MAPPING_A | {"group_id": "x"}]}, "profile_mappings[0].group_id"),
        ({"profile_mappings": [MAPPING_A, MAPPING_B, MAPPING_A]}, "profile_mappings[2]"),
        ({"homepage_url": "http://app.example.com/home"}, "homepage_url"),
        ({"homepage_url": "//evil.example/home"}, "homepage_url"),
        ({"allowed_return_origins": [f"{ORIGIN}/path"]}, "allowed_return_origins[0]"),
        ({"allowed_return_origins": [ORIGIN, f"{ORIGIN}:443/"]}, "allowed_return_origins[1]"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field_and_changes_nothing(
    unit: UnitWorld, admin: AdminService, changes: dict[str, Any], field: str
) -> None:
    configured(admin)
    before = everything(unit, admin)
    with pytest.raises(InvalidRequest) as refused:
        # With a new secret too: a refused request must not leave it in the vault.
        change(admin, client_secret=NEW_SECRET, **changes)
    assert (refused.value.code, refused.value.status) == ("invalid_request", 400)
    assert set(refused.value.fields) == {field}
    assert everything(unit, admin) == before


def test_every_bad_field_is_named_in_one_refusal(unit: UnitWorld, admin: AdminService) -> None:
    new_tenant(admin)
    body = {"client_id": "x", "homepage_url": "ftp://files", "admin_group_ids": "all"}
    with pytest.raises(InvalidRequest) as refused:
        admin.put_config(PLATFORM, TENANT, body, if_match=None, ip=IP)
    assert set(refused.value.fields) == {"client_id", "homepage_url", "admin_group_ids"}
    assert stored(unit).configured is False
    assert [e["action"] for e in events(admin)] == ["tenant_created"]


# --- enabling and disabling SSO ---------------------------------------------------------


@pytest.mark.parametrize("missing", ["client_id", "client_secret", "tenant_id", "customer_id"])
def test_enabling_without_a_required_part_names_exactly_that_part(
    unit: UnitWorld, admin: AdminService, missing: str
) -> None:
    new_tenant(admin)
    body = complete_body(admin)
    del body[missing]
    if missing == "client_secret":
        del body["client_secret_expires_on"]
    with pytest.raises(InvalidRequest) as refused:
        admin.put_config(PLATFORM, TENANT, body, if_match=None, ip=IP)
    assert refused.value.fields == {missing: "is required when enabled is true"}
    assert missing in refused.value.description
    assert stored(unit).configured is False
    assert versions(unit) == []


def test_a_config_saved_disabled_can_be_enabled_later_with_its_stored_secret(
    admin: AdminService,
) -> None:
    new_tenant(admin)
    admin.put_config(PLATFORM, TENANT, complete_body(admin, enabled=False), if_match=None, ip=IP)
    enabled = change(admin, enabled=True, client_secret=None)
    assert (enabled.body["enabled"], enabled.body["client_secret"]) == (True, MASKED)
    assert latest(admin)["fields"] == ["enabled"]


def test_disabling_sso_keeps_the_rest_of_the_configuration_and_the_secret(
    unit: UnitWorld, admin: AdminService
) -> None:
    on = configured(admin)
    before = stored(unit).config
    off = change(admin, enabled=False)
    assert off.body == on.body | {"enabled": False}
    after = stored(unit).config
    # Only `enabled` changes, and the cut-off that ends the sessions begun before it.
    assert after == dataclasses.replace(
        before, enabled=False, sso_sessions_after=after.sso_sessions_after
    )
    assert after.sso_sessions_after == pytest.approx(unit.clock.time(), abs=0.01)
    assert len(versions(unit)) == 1
    assert latest(admin)["fields"] == ["enabled"]


def test_a_put_replaces_the_config_so_absent_fields_take_defaults_but_the_secret_stays(
    unit: UnitWorld, admin: AdminService
) -> None:
    etag = configured(admin).etag
    replaced = admin.put_config(PLATFORM, TENANT, {"enabled": False}, if_match=etag, ip=IP)
    assert replaced.body["client_id"] is None and replaced.body["profile_mappings"] == []
    assert (replaced.body["client_secret_set"], replaced.body["client_secret"]) == (True, MASKED)
    assert pinned(unit) == (versions(unit)[0], None)


# --- client secrets ------------------------------------------------------------------


def test_rotation_stores_a_new_version_named_by_the_config_with_the_old_one_as_previous(
    unit: UnitWorld, admin: AdminService
) -> None:
    etag = configured(admin).etag
    first, _ = pinned(unit)

    answer = rotate(admin, NEW_SECRET, in_days(admin, 90))

    assert answer == {
        "client_secret": "n3w*****",
        "client_secret_expires_on": in_days(admin, 90),
        "client_secret_days_left": 90,
        "client_secret_expiring_soon": False,
    }
    second, previous = versions(unit)
    assert previous == first and revealed(unit, second) == NEW_SECRET
    assert pinned(unit) == (second, first)
    document = admin.get_config(TENANT)
    assert document.body["client_secret"] == "n3w*****"
    assert document.body["client_secret_expires_on"] == in_days(admin, 90)
    assert document.etag != etag
    assert latest(admin) == by_operator("client_secret_rotated", "client_secret")
    # The second has signed nobody in yet: a third rotation keeps the first, known to
    # work, as the fallback rather than the untried second.
    rotate(admin, THIRD_SECRET, in_days(admin, 60))
    assert pinned(unit) == (versions(unit)[0], first)
    # Once the current one has signed someone in, the next rotation demotes it.
    third = versions(unit)[0]
    assert unit.services.configs.mark_client_secret_proven(TENANT, third)
    rotate(admin, NEW_SECRET, in_days(admin, 30))
    assert pinned(unit) == (versions(unit)[0], third)


def test_a_new_secret_in_a_config_put_is_a_new_version_and_keeps_the_previous(
    unit: UnitWorld, admin: AdminService
) -> None:
    configured(admin)
    first, _ = pinned(unit)
    document = change(admin, client_secret=NEW_SECRET, client_secret_expires_on=in_days(admin, 10))
    assert document.body["client_secret"] == "n3w*****"
    assert document.body["client_secret_expiring_soon"] is True
    assert pinned(unit) == (versions(unit)[0], first)
    assert revealed(unit, versions(unit)[0]) == NEW_SECRET
    assert latest(admin)["fields"] == ["client_secret", "client_secret_expires_on"]


def test_rotation_on_a_tenant_not_yet_configured_sets_the_secret(
    unit: UnitWorld, admin: AdminService
) -> None:
    new_tenant(admin)
    rotate(admin, SECRET, in_days(admin, 30))
    document = admin.get_config(TENANT)
    assert document.etag is not None
    assert (document.body["client_secret_set"], document.body["client_secret"]) == (True, MASKED)
    assert pinned(unit) == (versions(unit)[0], None)


def seeded_without_versions(unit: UnitWorld) -> str:
    """A tenant as seeding writes it: its config names no version (sign-in reads the
    newest). The seeded version."""
    config = unit.tenant(TENANT, client_secret=SECRET)
    unversioned = dataclasses.replace(config, client_secret_version=None)
    unit.services.configs.put_tenant(TENANT, "Acme", unversioned)
    (seeded,) = versions(unit)
    return seeded


def test_rotating_a_config_seeded_without_versions_pins_the_new_and_the_seeded_version(
    unit: UnitWorld, admin: AdminService
) -> None:
    seeded = seeded_without_versions(unit)
    rotate(admin, NEW_SECRET, in_days(admin, 30))
    assert pinned(unit) == (versions(unit)[0], seeded)


# The clock says 12:00 UTC: the first second of today has passed too.
NOT_FUTURE = {"today": (0, ""), "yesterday": (-1, ""), "earlier today": (0, "T00:00:01Z")}


def not_future(admin: AdminService, when: str) -> str:
    days, time = NOT_FUTURE[when]
    return in_days(admin, days) + time


@pytest.mark.parametrize("when", NOT_FUTURE)
def test_a_rotation_whose_expiry_is_not_in_the_future_is_refused_naming_it(
    unit: UnitWorld, admin: AdminService, when: str
) -> None:
    configured(admin)
    before = everything(unit, admin)
    with pytest.raises(InvalidRequest) as refused:
        rotate(admin, NEW_SECRET, not_future(admin, when))
    assert set(refused.value.fields) == {"expires_on"}
    assert everything(unit, admin) == before


@pytest.mark.parametrize("when", NOT_FUTURE)
def test_a_new_secret_in_a_config_put_whose_expiry_is_not_in_the_future_is_refused(
    unit: UnitWorld, admin: AdminService, when: str
) -> None:
    configured(admin)
    before = everything(unit, admin)
    with pytest.raises(InvalidRequest) as refused:
        change(admin, client_secret=NEW_SECRET, client_secret_expires_on=not_future(admin, when))
    assert set(refused.value.fields) == {"client_secret_expires_on"}
    assert everything(unit, admin) == before


def test_no_secret_value_appears_in_documents_answers_audit_errors_or_logs(
    unit: UnitWorld, admin: AdminService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[object] = [configured(admin), rotate(admin, NEW_SECRET, in_days(admin, 30))]
    shown += [admin.get_config(TENANT), change(admin, client_secret=THIRD_SECRET)]
    with pytest.raises(InvalidRequest) as refused:
        change(admin, client_secret="f0urth~secret\n", client_id="x")
    shown += [refused.value, refused.value.to_body(), refused.value.description]
    shown += [admin.list_audit(TENANT, limit=100, cursor=None), stored(unit)]

    text = repr(shown) + str(shown) + caplog.text
    for secret in (SECRET, NEW_SECRET, THIRD_SECRET, "f0urth~secret"):
        assert secret not in text
    assert "n3w*****" in text  # what is shown instead


def another_admin_writes_first(unit: UnitWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next configuration write loses a race: another admin's change lands first."""
    write = unit.services.configs.replace_config

    def racing(record: TenantRecord, config: OAuth2Config) -> TenantRecord:
        monkeypatch.undo()
        write(record, dataclasses.replace(record.config, button_label="Theirs"))
        return write(record, config)

    monkeypatch.setattr(unit.services.configs, "replace_config", racing)


def test_a_config_put_that_loses_a_race_is_refused_and_the_config_keeps_the_old_secret(
    unit: UnitWorld, admin: AdminService, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured(admin)
    first, _ = pinned(unit)
    another_admin_writes_first(unit, monkeypatch)
    with pytest.raises(PreconditionFailed):
        change(admin, client_secret=NEW_SECRET)
    assert stored(unit).config.button_label == "Theirs"
    assert pinned(unit) == (first, None) and revealed(unit, first) == SECRET
    assert admin.get_config(TENANT).body["client_secret"] == MASKED
    assert [e["action"] for e in events(admin)] == ["config_created", "tenant_created"]


def test_a_lost_race_on_a_config_seeded_without_versions_leaves_the_old_secret_the_newest(
    unit: UnitWorld, admin: AdminService, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_without_versions(unit)
    another_admin_writes_first(unit, monkeypatch)
    with pytest.raises(PreconditionFailed):
        change(admin, client_secret=NEW_SECRET)
    newest = unit.vault.get_secret(client_secret_name(TENANT))
    assert newest is not None and newest.value.reveal() == SECRET
    assert admin.get_config(TENANT).body["client_secret"] == MASKED


def test_a_rename_that_lands_during_a_configuration_write_is_kept(
    unit: UnitWorld, admin: AdminService
) -> None:
    unit.tenant(TENANT)
    configs = unit.services.configs
    read = configs.get_tenant(TENANT)
    assert read is not None
    admin.put_tenant(PLATFORM, TENANT, {"display_name": "Contoso Ltd"}, ip=IP)
    configs.replace_config(read, dataclasses.replace(read.config, button_label="Sign in"))
    now = configs.get_tenant(TENANT)
    assert now is not None
    assert (now.display_name, now.config.button_label) == ("Contoso Ltd", "Sign in")
