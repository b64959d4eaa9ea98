"""SCIM Users on in-memory stores, with the request bodies Microsoft Entra's
provisioning service sends (shapes from Microsoft's SCIM documentation): a user
created by SCIM is the user a later sign-in finds, a deactivated one cannot
sign in or refresh, and every refusal is a SCIM error that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import AccountDisabled, InvalidGrant, ManagedByScim
from shared.scim.protocol import ScimError
from shared.scim.service import ScimService
from shared.signin.provisioning import entra_user_id
from tests.support.entra_double import Person
from tests.support.unit_services import ENTRA_TENANT_ID, UnitWorld, random_id

TENANT = "contoso"
PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True)
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def scim(unit: UnitWorld) -> ScimService:
    unit.tenant(TENANT)
    return unit.services.scim


def entra_user(
    oid: str | None = None, upn: str = "ada@contoso.example", **extra: Any
) -> dict[str, Any]:
    """POST /Users as Entra sends it (mailNickname or objectId in externalId)."""
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": oid or "ada",
        "userName": upn,
        "active": True,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": True, "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "phoneNumbers": [{"type": "mobile", "value": "+44 20 7946 0000"}],
        ENTERPRISE: {"department": "Analytical Engines", "employeeNumber": "1815"},
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User": {"x": 1},
        **extra,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def refused(call: Any) -> ScimError:
    with pytest.raises(ScimError) as caught:
        call()
    return caught.value


def test_a_user_created_by_scim_is_the_user_their_first_sign_in_finds(
    unit: UnitWorld, scim: ScimService
) -> None:
    oid = random_id()
    config = scim.authenticate(TENANT, scim.new_token(PLATFORM, TENANT, ip=None)["token"])
    created = scim.users.create(TENANT, config, entra_user(oid))

    body = created.body
    assert body["userName"] == "ada@contoso.example" and body["active"] is True
    assert body["externalId"] == oid
    assert body[ENTERPRISE]["department"] == "Analytical Engines"
    assert body["meta"]["location"].endswith(f"/api/scim/v2/{TENANT}/Users/{body['id']}")
    assert body["id"] == entra_user_id(ENTRA_TENANT_ID, oid)  # keyed by (tid, oid) at once
    assert "urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User" not in body

    done = unit.sign_in(Person(oid=oid, email="ada@contoso.example"))
    assert done.user.id == body["id"]
    assert len(unit.services.users.list(TENANT, limit=100, cursor=None)[0]) == 1
    actions = [e["action"] for e in unit.services.audit.list(TENANT, limit=10, cursor=None)[0]]
    assert "scim_user_created" in actions
    created_event = next(
        e
        for e in unit.services.audit.list(TENANT, limit=10, cursor=None)[0]
        if e["action"] == "scim_user_created"
    )
    assert created_event["actor"] == "scim"


def test_without_an_object_id_the_first_sign_in_claims_the_user_by_email(
    unit: UnitWorld, scim: ScimService
) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(None))  # externalId: mailNickname
    oid = random_id()
    done = unit.sign_in(Person(oid=oid, email="ada@contoso.example"))
    assert done.user.id == created.body["id"]
    again = unit.sign_in(Person(oid=oid, email="ada@contoso.example"))
    assert again.user.id == created.body["id"]


def test_without_an_object_id_a_sign_in_under_the_user_name_claims_the_user(
    unit: UnitWorld, scim: ScimService
) -> None:
    # SCIM's userName is the UPN, its work email another address; the token says
    # preferred_username = the UPN and carries no email claim.
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(
        TENANT,
        config,
        entra_user(None, emails=[{"type": "work", "value": "ada.lovelace@mail.example"}]),
    )
    oid = random_id()
    person = Person(oid=oid, email=None, extra_claims={"preferred_username": "ada@contoso.example"})
    done = unit.sign_in(person)
    assert done.user.id == created.body["id"]
    assert done.user.entra_object_id == oid
    assert len(unit.services.users.list(TENANT, limit=100, cursor=None)[0]) == 1
    # Claimed for good: the next sign-in finds them by (tid, oid).
    assert unit.sign_in(person).user.id == created.body["id"]


def test_a_jit_user_who_later_arrives_by_scim_is_adopted_not_duplicated(
    unit: UnitWorld, scim: ScimService
) -> None:
    oid = random_id()
    jit = unit.sign_in(Person(oid=oid, email="ada@contoso.example")).user
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(oid))
    assert created.body["id"] == jit.id
    assert len(unit.services.users.list(TENANT, limit=100, cursor=None)[0]) == 1


def test_entra_filters_find_the_user_by_user_name_and_external_id(
    unit: UnitWorld, scim: ScimService
) -> None:
    oid = random_id()
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(oid))
    for text in ('userName eq "ADA@contoso.example"', f'externalId eq "{oid}"'):
        listed = scim.users.search(TENANT, {"filter": text})
        assert listed["totalResults"] == 1, text
        assert listed["Resources"][0]["id"] == created.body["id"]
    none = scim.users.search(TENANT, {"filter": 'userName eq "nobody@contoso.example"'})
    assert none["totalResults"] == 0 and none.get("Resources", []) == []
    assert none["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    other = scim.users.search(TENANT, {"filter": 'displayName sw "Ada"'})
    assert other["totalResults"] == 1


def test_malformed_filters_and_bodies_are_scim_errors_that_change_nothing(
    unit: UnitWorld, scim: ScimService
) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    bad_filter = refused(lambda: scim.users.search(TENANT, {"filter": 'userName eq "x'}))
    assert (bad_filter.status, bad_filter.scim_type) == (400, "invalidFilter")
    no_name = refused(
        lambda: scim.users.create(TENANT, config, {"schemas": [CORE], "active": True})
    )
    assert no_name.status == 400 and "userName" in no_name.detail
    wrong_type = refused(
        lambda: scim.users.create(TENANT, config, entra_user(random_id(), active="maybe"))
    )
    assert wrong_type.status == 400 and "active" in wrong_type.detail
    assert unit.services.users.list(TENANT, limit=100, cursor=None)[0] == []


def test_a_second_user_with_the_same_user_name_is_a_uniqueness_conflict(
    unit: UnitWorld, scim: ScimService
) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    scim.users.create(TENANT, config, entra_user(random_id()))
    clash = refused(
        lambda: scim.users.create(
            TENANT,
            config,
            entra_user(random_id(), emails=[{"type": "work", "value": "o@c.example"}]),
        )
    )
    assert (clash.status, clash.scim_type) == (409, "uniqueness")
    assert len(unit.services.users.list(TENANT, limit=100, cursor=None)[0]) == 1


def test_deactivation_as_entra_patches_it_ends_sessions_and_refuses_sign_in(
    unit: UnitWorld, scim: ScimService
) -> None:
    oid = random_id()
    person = Person(oid=oid, email="ada@contoso.example")
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(oid))
    session = unit.sign_in(person).tokens

    # Entra's shape: capitalised op, a path, and the boolean as the string "False".
    answer = scim.users.patch(
        TENANT,
        config,
        created.body["id"],
        patch({"op": "Replace", "path": "active", "value": "False"}),
        None,
    )
    assert answer.body["active"] is False
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh(TENANT, session.refresh_token, ip=None)
    with pytest.raises(AccountDisabled):
        unit.sign_in(person)

    back = scim.users.patch(
        TENANT,
        config,
        created.body["id"],
        patch({"op": "replace", "path": "active", "value": True}),
        None,
    )
    assert back.body["active"] is True
    assert unit.sign_in(person).user.id == created.body["id"]


def test_patch_without_path_and_with_a_value_filter_as_entra_sends_them(
    unit: UnitWorld, scim: ScimService
) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(random_id()))
    user_id = created.body["id"]
    answer = scim.users.patch(
        TENANT,
        config,
        user_id,
        patch(
            {
                "op": "Add",
                "value": {"displayName": "Augusta Ada King", "name.givenName": "Augusta"},
            },
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "ada.king@contoso.example",
            },
            {"op": "Remove", "path": 'phoneNumbers[type eq "mobile"]'},
        ),
        None,
    )
    assert answer.body["displayName"] == "Augusta Ada King"
    assert answer.body["name"]["givenName"] == "Augusta"
    assert answer.body["emails"][0]["value"] == "ada.king@contoso.example"
    assert "phoneNumbers" not in answer.body
    stored = unit.services.users.get(TENANT, user_id)
    assert stored is not None
    assert (stored.email, stored.name) == ("ada.king@contoso.example", "Augusta Ada King")
    assert unit.services.users.by_email(TENANT, "ada.king@contoso.example") is not None
    assert unit.services.users.by_email(TENANT, "ada@contoso.example") is None


def test_put_replaces_and_a_stale_if_match_is_refused(unit: UnitWorld, scim: ScimService) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(random_id()))
    user_id = created.body["id"]
    replaced = scim.users.replace(
        TENANT,
        config,
        user_id,
        entra_user(created.body["externalId"], displayName="A. L."),
        created.version,
    )
    assert replaced.body["displayName"] == "A. L." and replaced.version != created.version
    stale = refused(
        lambda: scim.users.replace(TENANT, config, user_id, entra_user(None), created.version)
    )
    assert stale.status == 412
    assert scim.users.get(TENANT, user_id, {}).body["displayName"] == "A. L."


def test_a_patch_racing_another_change_of_the_user_reads_again_and_keeps_both(
    unit: UnitWorld, scim: ScimService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entra sends users and groups in parallel: another change lands on the user's row
    # between this PATCH's read and its write. Without If-Match it is read again and
    # applied (not a 409 Entra would have to retry); with the old version it is a 412.
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(random_id()))
    user_id = created.body["id"]
    rows = scim.users.users
    read = rows.get_with_etag
    raced: list[str] = []
    names = iter(("A. L.", "Ada L."))

    def read_then_changed_elsewhere(tenant: str, wanted: str) -> Any:
        found = read(tenant, wanted)
        if not raced:
            raced.append(next(names))
            rename = {"op": "replace", "path": "displayName", "value": raced[0]}
            scim.users.patch(TENANT, config, user_id, patch(rename), None)
        return found

    monkeypatch.setattr(rows, "get_with_etag", read_then_changed_elsewhere)
    title = {"op": "replace", "path": "title", "value": "Engineer"}
    patched = scim.users.patch(TENANT, config, user_id, patch(title), None)
    assert raced == ["A. L."]
    assert (patched.body["displayName"], patched.body["title"]) == ("A. L.", "Engineer")

    raced.clear()
    role = {"op": "replace", "path": "title", "value": "Lead"}
    stale = refused(lambda: scim.users.patch(TENANT, config, user_id, patch(role), patched.version))
    assert stale.status == 412
    kept = scim.users.get(TENANT, user_id, {}).body
    assert (kept["displayName"], kept["title"]) == ("Ada L.", "Engineer")


def test_delete_hides_the_user_from_scim_and_disables_them_for_good(
    unit: UnitWorld, scim: ScimService
) -> None:
    oid = random_id()
    person = Person(oid=oid, email="ada@contoso.example")
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(oid))
    session = unit.sign_in(person).tokens
    scim.users.delete(TENANT, config, created.body["id"], None)

    assert refused(lambda: scim.users.get(TENANT, created.body["id"], {})).status == 404
    assert (
        scim.users.search(TENANT, {"filter": 'userName eq "ada@contoso.example"'})["totalResults"]
        == 0
    )
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh(TENANT, session.refresh_token, ip=None)
    with pytest.raises(AccountDisabled):
        unit.sign_in(person)


def test_scim_fields_are_read_only_in_the_admin_api(unit: UnitWorld, scim: ScimService) -> None:
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    created = scim.users.create(TENANT, config, entra_user(random_id()))
    with pytest.raises(ManagedByScim):
        unit.services.admin.set_user_disabled(
            PLATFORM, TENANT, created.body["id"], {"disabled": True}, ip=None
        )
    for change in ({"name": "Someone Else"}, {"email": "else@contoso.example"}):
        with pytest.raises(ManagedByScim):
            unit.services.admin.set_user_disabled(
                PLATFORM, TENANT, created.body["id"], change, ip=None
            )
    user = unit.services.users.get(TENANT, created.body["id"])
    assert user is not None and not user.disabled
    assert (user.name, user.email) == (
        created.body["displayName"],
        created.body["userName"],
    )


def test_a_token_works_for_its_own_tenant_only_and_a_new_one_replaces_it(
    unit: UnitWorld, scim: ScimService
) -> None:
    unit.tenant("fabrikam")
    first = scim.new_token(PLATFORM, TENANT, ip=None)["token"]
    other = scim.new_token(PLATFORM, "fabrikam", ip=None)["token"]
    assert scim.authenticate(TENANT, first).tenant_id == ENTRA_TENANT_ID
    for tenant, token in ((TENANT, other), ("fabrikam", first), (TENANT, ""), ("nope", first)):
        assert refused(lambda t=tenant, k=token: scim.authenticate(t, k)).status == 401
    second = scim.new_token(PLATFORM, TENANT, ip=None)["token"]
    assert refused(lambda: scim.authenticate(TENANT, first)).status == 401
    scim.authenticate(TENANT, second)
    scim.revoke_token(PLATFORM, TENANT, ip=None)
    assert refused(lambda: scim.authenticate(TENANT, second)).status == 401
    stored = str(unit.tables.get("users", TENANT, "scimtoken"))
    assert second not in stored


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "value": {f"{ENTERPRISE}:manager": "BOSS"}},
        {"op": "Replace", "value": {ENTERPRISE: {"manager": {"value": "BOSS"}}}},
        {"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": "BOSS"},
        {"op": "replace", "path": ENTERPRISE, "value": {"manager": "BOSS"}},
    ],
    ids=["pathless-attribute", "pathless-extension", "sub-attribute", "extension-path"],
)
def test_every_patch_form_of_a_manager_id_sets_the_manager_with_its_ref(
    scim: ScimService, operation: dict[str, Any]
) -> None:
    config = scim.authenticate(TENANT, scim.new_token(PLATFORM, TENANT, ip=None)["token"])
    boss = scim.users.create(TENANT, config, entra_user(random_id(), upn="b@contoso.example"))
    ada = scim.users.create(TENANT, config, entra_user(random_id()))
    wanted = json_replace(operation, "BOSS", boss.body["id"])

    patched = scim.users.patch(TENANT, config, ada.body["id"], patch(wanted), None)

    assert patched.body[ENTERPRISE]["manager"] == {
        "value": boss.body["id"],
        "$ref": boss.body["meta"]["location"],
    }


def json_replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: json_replace(v, old, new) for k, v in value.items()}
    return new if value == old else value


def test_a_user_name_sent_with_spaces_is_kept_trimmed_and_the_user_stays_changeable(
    scim: ScimService,
) -> None:
    config = scim.authenticate(TENANT, scim.new_token(PLATFORM, TENANT, ip=None)["token"])
    created = scim.users.create(
        TENANT, config, entra_user(random_id(), upn=" ada@contoso.example ")
    )
    user_id = created.body["id"]
    assert created.body["userName"] == "ada@contoso.example"
    found = scim.users.search(TENANT, {"filter": 'userName eq "ada@contoso.example"'})
    assert [r["id"] for r in found["Resources"]] == [user_id]
    # Each later change reads the keys back as the index knows them (once a 503 forever).
    renamed = patch({"op": "replace", "path": "displayName", "value": "Ada L"})
    assert scim.users.patch(TENANT, config, user_id, renamed, None).body["displayName"] == "Ada L"
    scim.users.delete(TENANT, config, user_id, None)
    assert scim.users.search(TENANT, {"filter": f'id eq "{user_id}"'})["totalResults"] == 0


def test_a_password_entra_sends_is_not_kept(unit: UnitWorld, scim: ScimService) -> None:
    config = scim.authenticate(TENANT, scim.new_token(PLATFORM, TENANT, ip=None)["token"])
    body = entra_user(random_id(), password="Sup3r-Secret-Pw!")
    user_id = scim.users.create(TENANT, config, body).body["id"]
    stored = unit.services.users.get(TENANT, user_id)
    assert stored is not None and stored.scim and "Sup3r-Secret-Pw!" not in stored.scim


def test_a_patch_cannot_blank_the_user_name(scim: ScimService) -> None:
    config = scim.authenticate(TENANT, scim.new_token(PLATFORM, TENANT, ip=None)["token"])
    user_id = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    blank = patch({"op": "replace", "path": "userName", "value": "   "})
    error = refused(lambda: scim.users.patch(TENANT, config, user_id, blank, None))
    assert (error.status, error.scim_type) == (400, "invalidValue")
    found = scim.users.search(TENANT, {"filter": f'id eq "{user_id}"'})["Resources"]
    assert found[0]["userName"] == "ada@contoso.example"


@pytest.mark.parametrize(
    "field, value",
    [
        ("userName", "a" * 600 + "@contoso.example"),
        ("userName", "\u00e5\u00e4\u00f6" * 60 + "@contoso.example"),
        ("externalId", "x" * 600),
    ],
)
def test_a_user_name_or_external_id_too_long_for_a_table_key_still_makes_one_user(
    unit: UnitWorld, scim: ScimService, field: str, value: str
) -> None:
    # Table keys hold 1 KiB: these texts, encoded, do not fit one.
    config = unit.services.configs.get_config(TENANT)
    assert config is not None
    body = entra_user(random_id())
    body[field] = value
    created = scim.users.create(TENANT, config, body)
    assert created.body[field] == value

    found = scim.users.search(TENANT, {"filter": f'{field} eq "{value}"'})
    assert [user["id"] for user in found["Resources"]] == [created.body["id"]]
    if field == "userName":
        other = entra_user(random_id(), emails=[{"type": "work", "value": "o@c.example"}])
        clash = refused(lambda: scim.users.create(TENANT, config, other | {field: value}))
        assert (clash.status, clash.scim_type) == (409, "uniqueness")
    assert len(unit.services.users.list(TENANT, limit=100, cursor=None)[0]) == 1
