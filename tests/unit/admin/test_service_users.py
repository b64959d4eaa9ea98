"""AdminService on in-memory stores: the paged lists (users, the audit log), disabling and
enabling a user (their sessions end), and what a configuration PUT that removes an admin
group or a mapping does to existing users' roles and profiles.

Users are made by the real user store as a sign-in makes them, sessions by the real
session service; only Table Storage, Key Vault and Entra are in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.admin.service import AdminService, Document
from shared.errors import (
    Forbidden,
    InvalidGrant,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from shared.sessions.types import SessionTokens
from shared.signin.provisioning import SignInIdentity
from shared.users import ROLE_TENANT_ADMIN, Entitlements, User
from tests.support.unit_services import CUSTOMER_ID, ENTRA_TENANT_ID, UnitWorld, random_id

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True)
IP = "203.0.113.9"
TENANT = "contoso"
ADMINS, OTHER_ADMINS, STAFF = random_id(), random_id(), random_id()
STAFF_PROFILE = random_id()
T = TypeVar("T")


@pytest.fixture
def admin(unit: UnitWorld) -> AdminService:
    """A tenant with SSO on: STAFF maps to STAFF_PROFILE, two admin groups."""
    unit.tenant(TENANT, mappings={STAFF: STAFF_PROFILE}, admin_groups=(ADMINS, OTHER_ADMINS))
    return unit.services.admin


def add_user(
    unit: UnitWorld,
    tenant: str = TENANT,
    *,
    groups: tuple[str, ...] = (),
    roles: tuple[str, ...] = (),
    profiles: tuple[str, ...] = (),
) -> User:
    """A user as their Entra sign-in made them (the real store's provisioning)."""
    oid = random_id()
    return unit.services.users.provision(
        SignInIdentity(
            tenant_id=ENTRA_TENANT_ID,
            object_id=oid,
            email=f"{oid[:8]}@{tenant}.example",
            name=f"User {oid[:8]}",
            group_ids=groups,
        ),
        tenant=tenant,
        customer_id=CUSTOMER_ID,
        entitlements=Entitlements(profiles=profiles, roles=roles),
        now=dt.datetime.now(dt.UTC),
    )


def add_admin(unit: UnitWorld, group: str = ADMINS) -> User:
    return add_user(unit, groups=(group,), roles=(ROLE_TENANT_ADMIN,))


def stored_user(unit: UnitWorld, user: User) -> User:
    found = unit.services.users.get(user.tenant, user.id)
    assert found is not None
    return found


def session(unit: UnitWorld, user: User) -> SessionTokens:
    return unit.services.sessions.start_session(user)


def refreshed(unit: UnitWorld, tokens: SessionTokens) -> SessionTokens:
    return unit.services.sessions.refresh(TENANT, tokens.refresh_token, ip=IP)


def as_admin(unit: UnitWorld, tokens: SessionTokens) -> AdminCaller:
    """Who the admin API takes the bearer of `tokens` for (or its refusal)."""
    return unit.services.admin_auth.authenticate(
        TENANT, platform_key=None, bearer=tokens.access_token
    )


def events(admin: AdminService, tenant: str = TENANT) -> list[dict[str, Any]]:
    found, _ = admin.list_audit(tenant, limit=1000, cursor=None)
    return found


def pages_of(list_page: Callable[[str | None], tuple[list[T], str | None]]) -> list[list[T]]:
    """Every page of a list, following its cursor (a cursor that never ends fails)."""
    pages: list[list[T]] = []
    cursor: str | None = None
    while len(pages) < 10:
        page, cursor = list_page(cursor)
        pages.append(page)
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def rename(admin: AdminService, tenant: str, *names: str) -> None:
    """Audited changes: the tenant renamed to each of `names` in turn."""
    for name in names:
        admin.put_tenant(PLATFORM, tenant, {"display_name": name}, ip=IP)


def actions(admin: AdminService) -> list[str]:
    return [str(event["action"]) for event in events(admin)]


def change(admin: AdminService, **fields: Any) -> Document:
    """GET, change `fields`, PUT with the GET's ETag: what an admin's client does."""
    current = admin.get_config(TENANT)
    return admin.put_config(PLATFORM, TENANT, current.body | fields, if_match=current.etag, ip=IP)


def disable(admin: AdminService, user: User, disabled: bool = True) -> User:
    return admin.set_user_disabled(PLATFORM, TENANT, user.id, {"disabled": disabled}, ip=IP)


# --- the paged lists ------------------------------------------------------------------


def test_users_are_listed_in_pages_with_a_cursor(unit: UnitWorld, admin: AdminService) -> None:
    made = {add_user(unit).id for _ in range(5)}
    add_user(unit, "globex")
    pages = pages_of(lambda cursor: admin.list_users(TENANT, limit=2, cursor=cursor))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(user.id for page in pages for user in page) == sorted(made)


def test_the_list_shows_each_user_as_stored(unit: UnitWorld, admin: AdminService) -> None:
    user = add_user(unit, roles=(ROLE_TENANT_ADMIN,), profiles=(STAFF_PROFILE,))
    (listed,), cursor = admin.list_users(TENANT, limit=10, cursor=None)
    assert listed == stored_user(unit, user)
    assert listed.to_public()["roles"] == [ROLE_TENANT_ADMIN]
    assert cursor is None


def test_a_users_cursor_from_another_tenant_or_the_audit_list_is_refused_naming_cursor(
    unit: UnitWorld, admin: AdminService
) -> None:
    unit.tenant("globex")
    for _ in range(3):
        add_user(unit, "globex")
    _, theirs = admin.list_users("globex", limit=1, cursor=None)
    assert theirs is not None
    for refused_call in (
        lambda: admin.list_users(TENANT, limit=10, cursor=theirs),
        lambda: admin.list_audit("globex", limit=10, cursor=theirs),
    ):
        with pytest.raises(InvalidRequest) as refused:
            refused_call()
        assert set(refused.value.fields) == {"cursor"}
    page, _ = admin.list_users("globex", limit=10, cursor=theirs)
    assert len(page) == 2


def test_the_audit_log_is_newest_first_and_pages_with_a_cursor(admin: AdminService) -> None:
    for label in ("One", "Two", "Three"):
        change(admin, button_label=label)
    rename(admin, TENANT, "Contoso Ltd", "Contoso Group")
    newest_first = events(admin)
    assert [e["action"] for e in newest_first] == ["tenant_renamed"] * 2 + ["config_updated"] * 3
    assert [e["at"] for e in newest_first] == sorted((e["at"] for e in newest_first), reverse=True)

    pages = pages_of(lambda cursor: admin.list_audit(TENANT, limit=2, cursor=cursor))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [event for page in pages for event in page] == newest_first


def test_an_audit_cursor_from_another_tenant_is_refused_naming_cursor(
    unit: UnitWorld, admin: AdminService
) -> None:
    unit.tenant("globex")
    rename(admin, "globex", "Globex Corp", "Globex Inc")
    rename(admin, TENANT, "Contoso Ltd")
    _, theirs = admin.list_audit("globex", limit=1, cursor=None)
    assert theirs is not None
    for cursor in (theirs, "bm90IGEgY3Vyc29y"):  # another tenant's; not a cursor at all
        with pytest.raises(InvalidRequest) as refused:
            admin.list_audit(TENANT, limit=10, cursor=cursor)
        assert set(refused.value.fields) == {"cursor"}
    page, _ = admin.list_audit("globex", limit=10, cursor=theirs)
    assert [e["actor"] for e in page] == [PLATFORM_ACTOR]
    assert [e["action"] for e in events(admin)] == ["tenant_renamed"]


# --- disabling and enabling -----------------------------------------------------------


def test_disabling_a_user_stores_it_answers_the_user_and_is_audited(
    unit: UnitWorld, admin: AdminService
) -> None:
    user = add_user(unit)
    answered = disable(admin, user)
    assert answered.id == user.id and answered.disabled is True
    assert stored_user(unit, user).disabled is True
    assert events(admin)[0] | {"at": None} == {
        "at": None,
        "action": "user_disabled",
        "actor": PLATFORM_ACTOR,
        "ip": IP,
        "fields": ["disabled"],
        "user_id": user.id,
    }


def test_disabling_revokes_every_session_of_the_user_and_only_theirs(
    unit: UnitWorld, admin: AdminService
) -> None:
    user, colleague = add_user(unit), add_user(unit)
    phone, laptop, theirs = session(unit, user), session(unit, user), session(unit, colleague)
    disable(admin, user)
    for tokens in (phone, laptop):
        with pytest.raises(InvalidGrant):  # revoked, not merely "account disabled"
            refreshed(unit, tokens)
        with pytest.raises(Unauthorized):
            unit.services.sessions.verify_token(tokens.access_token)
    assert refreshed(unit, theirs).refresh_token != theirs.refresh_token


def test_enabling_again_lets_the_user_start_new_sessions_but_not_resume_revoked_ones(
    unit: UnitWorld, admin: AdminService
) -> None:
    user = add_user(unit)
    before = session(unit, user)
    disable(admin, user)
    answered = disable(admin, user, disabled=False)
    assert answered.disabled is False and stored_user(unit, user).disabled is False
    assert actions(admin)[:2] == ["user_enabled", "user_disabled"]
    with pytest.raises(InvalidGrant):
        refreshed(unit, before)
    after = session(unit, stored_user(unit, user))
    assert refreshed(unit, after).access_token


def test_a_patch_that_changes_nothing_is_not_audited(unit: UnitWorld, admin: AdminService) -> None:
    user = add_user(unit)
    disable(admin, user, disabled=False)
    assert "user_enabled" not in actions(admin)
    disable(admin, user)
    assert disable(admin, user).disabled is True
    assert actions(admin).count("user_disabled") == 1


def test_disabling_an_already_disabled_user_still_revokes_a_session_left_live(
    unit: UnitWorld, admin: AdminService
) -> None:
    user = add_user(unit)
    disable(admin, user)
    # A session the first revocation missed (it failed, or the session raced it).
    leftover = session(unit, stored_user(unit, user))
    disable(admin, user)
    with pytest.raises(InvalidGrant):
        refreshed(unit, leftover)


def test_an_unknown_user_or_another_tenants_user_is_not_found_and_nothing_is_audited(
    unit: UnitWorld, admin: AdminService
) -> None:
    unit.tenant("globex")
    elsewhere = add_user(unit, "globex")
    before = events(admin)
    for user_id in (random_id(), elsewhere.id):
        with pytest.raises(NotFound) as refused:
            admin.set_user_disabled(PLATFORM, TENANT, user_id, {"disabled": True}, ip=IP)
        assert (refused.value.code, refused.value.status) == ("not_found", 404)
    assert stored_user(unit, elsewhere).disabled is False
    assert events(admin) == before


@pytest.mark.parametrize("user_id", ["not-a-uuid", "x' or PartitionKey ne ''", ""])
def test_a_malformed_user_id_is_refused_naming_user_id(admin: AdminService, user_id: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        admin.set_user_disabled(PLATFORM, TENANT, user_id, {"disabled": True}, ip=IP)
    assert set(refused.value.fields) == {"user_id"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, {"disabled"}),
        ({"disabled": "true"}, {"disabled"}),
        ({"disabled": True, "roles": []}, {"roles"}),
        ([True], {"body"}),
    ],
)
def test_a_bad_patch_is_refused_naming_the_field_and_changes_nothing(
    unit: UnitWorld, admin: AdminService, body: object, named: set[str]
) -> None:
    user = add_user(unit)
    with pytest.raises(InvalidRequest) as refused:
        admin.set_user_disabled(PLATFORM, TENANT, user.id, body, ip=IP)
    assert set(refused.value.fields) == named
    assert stored_user(unit, user).disabled is False
    assert events(admin) == []


def test_a_tenant_admin_cannot_disable_themselves_but_can_disable_another(
    unit: UnitWorld, admin: AdminService
) -> None:
    boss, other = add_admin(unit), add_user(unit)
    caller = as_admin(unit, session(unit, boss))
    with pytest.raises(InvalidRequest) as refused:
        admin.set_user_disabled(caller, TENANT, boss.id.upper(), {"disabled": True}, ip=IP)
    assert set(refused.value.fields) == {"disabled"}
    assert stored_user(unit, boss).disabled is False
    admin.set_user_disabled(caller, TENANT, other.id, {"disabled": True}, ip=IP)
    assert events(admin)[0]["actor"] == caller.actor == f"user:{boss.id} <{boss.email}>"


# --- what a configuration PUT does to existing users -------------------------------------


def test_removing_an_admin_group_takes_the_role_from_every_holder_at_once_audited(
    unit: UnitWorld, admin: AdminService
) -> None:
    removed, kept = add_admin(unit, ADMINS), add_admin(unit, OTHER_ADMINS)
    staff = add_user(unit, groups=(STAFF,), profiles=(STAFF_PROFILE,))
    change(admin, admin_group_ids=[OTHER_ADMINS])

    # Every holder loses it, a member of the remaining group too (until their refresh).
    assert stored_user(unit, removed).roles == ()
    assert stored_user(unit, kept).roles == ()
    assert stored_user(unit, staff) == staff
    latest = events(admin)
    assert [e["action"] for e in latest[:3]] == ["user_demoted", "user_demoted", "config_updated"]
    assert {e["user_id"] for e in latest[:2]} == {removed.id, kept.id}
    assert all(e["fields"] == ["roles"] and e["actor"] == PLATFORM_ACTOR for e in latest[:2])


def test_a_demoted_admins_token_is_refused_by_the_admin_api_at_once(
    unit: UnitWorld, admin: AdminService
) -> None:
    tokens = session(unit, add_admin(unit, ADMINS))
    assert as_admin(unit, tokens).user_id is not None
    change(admin, admin_group_ids=[OTHER_ADMINS])
    with pytest.raises(Forbidden):
        as_admin(unit, tokens)


def test_after_the_removal_a_refresh_gives_the_role_back_only_to_remaining_admin_groups(
    unit: UnitWorld, admin: AdminService
) -> None:
    removed, kept = add_admin(unit, ADMINS), add_admin(unit, OTHER_ADMINS)
    removed_tokens, kept_tokens = session(unit, removed), session(unit, kept)
    change(admin, admin_group_ids=[OTHER_ADMINS])

    again = refreshed(unit, kept_tokens)
    assert unit.services.sessions.verify_token(again.access_token).roles == (ROLE_TENANT_ADMIN,)
    assert stored_user(unit, kept).roles == (ROLE_TENANT_ADMIN,)
    assert as_admin(unit, again).user_id == kept.id
    gone = refreshed(unit, removed_tokens)
    assert unit.services.sessions.verify_token(gone.access_token).roles == ()
    assert stored_user(unit, removed).roles == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"admin_group_ids": [ADMINS, OTHER_ADMINS, random_id()]},
        {"admin_group_ids": [OTHER_ADMINS, ADMINS]},
        {"button_label": "Sign in with Contoso", "enforce_sso": True},
    ],
)
def test_a_put_that_removes_no_admin_group_demotes_nobody(
    unit: UnitWorld, admin: AdminService, changes: dict[str, Any]
) -> None:
    boss = add_admin(unit)
    change(admin, **changes)
    assert stored_user(unit, boss).roles == (ROLE_TENANT_ADMIN,)
    assert "user_demoted" not in actions(admin)


def test_a_refused_put_that_would_remove_an_admin_group_demotes_nobody(
    unit: UnitWorld, admin: AdminService
) -> None:
    boss = add_admin(unit)
    current = admin.get_config(TENANT)
    change(admin, button_label="Someone else's change")
    with pytest.raises(PreconditionFailed):
        admin.put_config(
            PLATFORM, TENANT, current.body | {"admin_group_ids": []}, if_match=current.etag, ip=IP
        )
    with pytest.raises(InvalidRequest):
        change(admin, admin_group_ids=[], client_id="not-a-uuid")
    assert stored_user(unit, boss).roles == (ROLE_TENANT_ADMIN,)
    assert "user_demoted" not in actions(admin)


def test_removing_a_mapping_leaves_user_rows_to_the_next_refresh_which_drops_the_profile(
    unit: UnitWorld, admin: AdminService
) -> None:
    staff = add_user(unit, groups=(STAFF,), profiles=(STAFF_PROFILE,))
    tokens = session(unit, staff)
    change(admin, profile_mappings=[])

    # The PUT itself touches no user: no row rewritten, nothing audited about users.
    assert stored_user(unit, staff) == staff
    assert [a for a in actions(admin) if a.startswith("user_")] == []
    # Their next refresh follows the configuration, and the row with it.
    again = refreshed(unit, tokens)
    assert unit.services.sessions.verify_token(again.access_token).profiles == ()
    assert stored_user(unit, staff).profiles == ()
    (listed,), _ = admin.list_users(TENANT, limit=10, cursor=None)
    assert listed.profiles == ()
