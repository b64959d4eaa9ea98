"""SCIM Groups on in-memory stores, as Entra pushes them: a member added to a
mapped group has the profile at once, a member removed loses it before any
sign-in (and their next refresh carries that), and refusals change nothing."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from shared.scim.protocol import ScimError
from shared.scim.service import ScimService
from shared.tenants.model import OAuth2Config
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id
from tests.unit.scim.test_users import PATCH, TENANT, entra_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENGINEERS, OTHER = random_id(), random_id()
ENGINEER_PROFILE = random_id()


@pytest.fixture
def config(unit: UnitWorld) -> OAuth2Config:
    return unit.tenant(TENANT, mappings={ENGINEERS: ENGINEER_PROFILE})


@pytest.fixture
def scim(unit: UnitWorld, config: OAuth2Config) -> ScimService:
    return unit.services.scim


def entra_group(object_id: str, name: str = "Engineers") -> dict[str, Any]:
    """POST /Groups as Entra sends it (objectId -> externalId)."""
    return {
        "schemas": [GROUP],
        "externalId": object_id,
        "displayName": name,
        "meta": {"resourceType": "Group"},
    }


def members(op: str, *user_ids: str) -> dict[str, Any]:
    value = [{"value": user_id} for user_id in user_ids]
    return {"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": value}]}


def scim_users(scim: ScimService, config: OAuth2Config, count: int) -> list[str]:
    """`count` new SCIM users; their ids."""
    return [
        scim.users.create(
            TENANT, config, entra_user(random_id(), upn=f"p{n}@contoso.example")
        ).body["id"]
        for n in range(count)
    ]


def profiles(unit: UnitWorld, user_id: str) -> tuple[str, ...]:
    user = unit.services.users.get(TENANT, user_id)
    assert user is not None
    return user.profiles


def test_membership_changes_reach_profiles_at_once(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    grace = scim.users.create(
        TENANT, config, entra_user(random_id(), upn="grace@contoso.example")
    ).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    assert group["displayName"] == "Engineers" and "members" not in group

    added = scim.groups.patch(TENANT, config, group["id"], members("Add", ada, grace), None)
    assert sorted(m["value"] for m in added.body["members"]) == sorted([ada, grace])
    assert profiles(unit, ada) == (ENGINEER_PROFILE,)
    assert profiles(unit, grace) == (ENGINEER_PROFILE,)

    # Entra's remove: the member in the value, not in a path filter.
    scim.groups.patch(TENANT, config, group["id"], members("Remove", grace), None)
    assert profiles(unit, grace) == ()
    assert profiles(unit, ada) == (ENGINEER_PROFILE,)
    # ... and the path-filter form too.
    scim.groups.patch(
        TENANT,
        config,
        group["id"],
        {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{ada}"]'}],
        },
        None,
    )
    assert profiles(unit, ada) == ()
    events = unit.services.audit.list(TENANT, limit=20, cursor=None)[0]
    assert [e["actor"] for e in events if e["action"] == "scim_group_updated"] == ["scim"] * 3


def test_a_group_created_while_a_member_changes_is_written_after_reading_them_again(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entra provisions users and groups in parallel: Ada's row changes (her display
    # name, from Entra's PATCH) between the group's read of it and its write.
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    store = scim.groups.users
    read = store.get_with_etag
    changed: list[str] = []

    def read_then_changed_elsewhere(tenant: str, user_id: str) -> Any:
        found = read(tenant, user_id)
        if not changed:
            changed.append(user_id)
            rename = {"op": "replace", "path": "displayName", "value": "Ada K."}
            scim.users.patch(
                TENANT, config, ada, {"schemas": [PATCH], "Operations": [rename]}, None
            )
        return found

    monkeypatch.setattr(store, "get_with_etag", read_then_changed_elsewhere)
    body = {**entra_group(ENGINEERS), "members": [{"value": ada}]}
    created = scim.groups.create(TENANT, config, body)

    assert changed == [ada]
    assert [m["value"] for m in created.body["members"]] == [ada]
    assert profiles(unit, ada) == (ENGINEER_PROFILE,)
    user = unit.services.users.get(TENANT, ada)
    assert user is not None and user.name == "Ada K."  # her change is kept too


def test_a_removed_member_refreshes_without_the_profile(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    oid = random_id()
    ada = scim.users.create(TENANT, config, entra_user(oid)).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    scim.groups.patch(TENANT, config, group["id"], members("Add", ada), None)
    session = unit.sign_in(Person(oid=oid, email="ada@contoso.example", groups=(ENGINEERS,))).tokens
    before = jwt.decode(session.access_token, options={"verify_signature": False})
    assert before["profiles"] == [ENGINEER_PROFILE]

    scim.groups.patch(TENANT, config, group["id"], members("Remove", ada), None)
    refreshed = unit.services.sessions.refresh(TENANT, session.refresh_token, ip=None)
    claims = jwt.decode(refreshed.access_token, options={"verify_signature": False})
    assert claims["profiles"] == []


def test_deleting_a_group_takes_its_profile_from_its_members(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    scim.groups.patch(TENANT, config, group["id"], members("Add", ada), None)
    scim.groups.delete(TENANT, config, group["id"], None)
    assert profiles(unit, ada) == ()
    with pytest.raises(ScimError) as gone:
        scim.groups.get(TENANT, group["id"], {})
    assert gone.value.status == 404


def test_a_deleted_user_leaves_their_groups_and_what_they_gave(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    scim.groups.patch(TENANT, config, group["id"], members("Add", ada), None)
    scim.users.delete(TENANT, config, ada, None)
    assert "members" not in scim.groups.get(TENANT, group["id"], {}).body
    assert profiles(unit, ada) == ()


def test_entra_finds_groups_by_display_name_without_members(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    scim.groups.patch(TENANT, config, group["id"], members("Add", ada), None)
    found = scim.groups.search(
        TENANT, {"filter": 'displayName eq "Engineers"', "excludedAttributes": "members"}
    )
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == group["id"] and "members" not in found["Resources"][0]
    assert scim.groups.search(TENANT, {"filter": 'displayName eq "Nobody"'})["totalResults"] == 0
    full = scim.groups.get(TENANT, group["id"], {})
    assert [m["value"] for m in full.body["members"]] == [ada]


def test_unknown_members_and_duplicate_names_change_nothing(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    ada = scim.users.create(TENANT, config, entra_user(random_id())).body["id"]
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    with pytest.raises(ScimError) as unknown:
        scim.groups.patch(TENANT, config, group["id"], members("Add", ada, random_id()), None)
    assert (unknown.value.status, unknown.value.scim_type) == (400, "invalidValue")
    assert "members" not in scim.groups.get(TENANT, group["id"], {}).body
    assert profiles(unit, ada) == ()
    with pytest.raises(ScimError) as clash:
        scim.groups.create(TENANT, config, entra_group(OTHER, name="engineers"))
    assert (clash.value.status, clash.value.scim_type) == (409, "uniqueness")
    assert scim.groups.search(TENANT, {})["totalResults"] == 1


def test_many_members_in_one_request_are_all_written(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    people = scim_users(scim, config, 70)
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS)).body
    answer = scim.groups.patch(TENANT, config, group["id"], members("Add", *people), None)
    assert len(answer.body["members"]) == 70
    assert all(profiles(unit, p) == (ENGINEER_PROFILE,) for p in people)


def test_a_group_refused_for_an_unknown_member_changes_nothing_however_many_members(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    # More members than one transaction holds, the unknown one sorting last.
    known = scim_users(scim, config, 31)
    unknown = "ffffffff-ffff-ffff-ffff-ffffffffffff"
    body = entra_group(ENGINEERS) | {"members": [{"value": i} for i in [*known, unknown]]}
    with pytest.raises(ScimError) as caught:
        scim.groups.create(TENANT, config, body)
    assert caught.value.status == 400 and unknown in caught.value.detail
    assert scim.groups.search(TENANT, {})["totalResults"] == 0
    assert all(profiles(unit, user_id) == () for user_id in known)
    # Entra's corrected retry then simply works (no "displayName taken").
    done = scim.groups.create(
        TENANT, config, entra_group(ENGINEERS) | {"members": [{"value": i} for i in known]}
    )
    assert len(done.body["members"]) == 31
    assert all(profiles(unit, user_id) == (ENGINEER_PROFILE,) for user_id in known)

    # The same for a PATCH that adds them to an existing group.
    other = scim.groups.create(TENANT, config, entra_group(OTHER, name="Others")).body["id"]
    with pytest.raises(ScimError):
        scim.groups.patch(TENANT, config, other, members("Add", *known, unknown), None)
    assert "members" not in scim.groups.get(TENANT, other, {}).body


def test_a_group_name_too_long_for_a_table_key_still_names_one_group(
    unit: UnitWorld, scim: ScimService, config: OAuth2Config
) -> None:
    # 200 CJK characters are within the display-name limit, but not a Table key's
    # 1 KiB once encoded.
    name = "\u5de5\u7a0b\u5e2b" * 66 + "\u5718"
    group = scim.groups.create(TENANT, config, entra_group(ENGINEERS, name=name)).body
    assert group["displayName"] == name
    found = scim.groups.search(TENANT, {"filter": f'displayName eq "{name}"'})
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    with pytest.raises(ScimError) as clash:
        scim.groups.create(TENANT, config, entra_group(OTHER, name=name))
    assert (clash.value.status, clash.value.scim_type) == (409, "uniqueness")
    assert scim.groups.search(TENANT, {})["totalResults"] == 1
