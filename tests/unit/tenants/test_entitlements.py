"""Profiles and roles from stored group ids and the configuration as it is now."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from shared.tenants.entitlements import (
    MAX_STORED_GROUPS,
    current_entitlements,
    entitlements_for,
    granted_role_without_row,
    groups_to_store,
    pack_group_ids,
    unpack_group_ids,
)
from shared.tenants.model import OAuth2Config, ProfileMapping
from shared.users import ROLE_TENANT_ADMIN, Entitlements, User

ENGINEERING = "a0000000-0000-4000-8000-00000000000a"
SUPPORT = "b0000000-0000-4000-8000-00000000000b"
ADMINS = "c0000000-0000-4000-8000-00000000000c"
PROFILE_DEV = "d0000000-0000-4000-8000-00000000000d"
PROFILE_HELP = "e0000000-0000-4000-8000-00000000000e"

CONFIG = OAuth2Config(
    enabled=True,
    profile_mappings=(
        ProfileMapping(PROFILE_DEV, ENGINEERING),
        ProfileMapping(PROFILE_HELP, SUPPORT),
    ),
    admin_group_ids=(ADMINS,),
)


def user(**changes: object) -> User:
    base = User(
        id="u1",
        tenant="contoso",
        email="sam@contoso.example",
        name="Sam",
        provider="microsoft",
        customer_id=None,
        profiles=(PROFILE_DEV,),
        roles=(),
        disabled=False,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        last_login_at=None,
        group_ids=(ENGINEERING,),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_profiles_and_roles_come_from_the_groups_and_the_current_mappings() -> None:
    assert entitlements_for(CONFIG, [SUPPORT.upper(), ADMINS]) == Entitlements(
        profiles=(PROFILE_HELP,), roles=(ROLE_TENANT_ADMIN,)
    )
    without_support = dataclasses.replace(CONFIG, profile_mappings=CONFIG.profile_mappings[:1])
    sam = user(group_ids=(ENGINEERING, SUPPORT), profiles=(PROFILE_DEV, PROFILE_HELP))
    assert current_entitlements(without_support, sam).profiles == (PROFILE_DEV,)


def test_for_a_user_whose_groups_were_never_stored_the_config_only_takes_away() -> None:
    legacy = user(group_ids=None, profiles=(PROFILE_HELP,), roles=(ROLE_TENANT_ADMIN,))
    assert current_entitlements(CONFIG, legacy) == Entitlements(
        profiles=(PROFILE_HELP,), roles=(ROLE_TENANT_ADMIN,)
    )
    unmapped = dataclasses.replace(CONFIG, profile_mappings=CONFIG.profile_mappings[:1])
    assert current_entitlements(unmapped, legacy).profiles == ()
    no_admins = dataclasses.replace(CONFIG, admin_group_ids=())
    assert current_entitlements(no_admins, legacy).roles == ()
    # Nothing is given: a newly mapped profile waits for the next Entra sign-in.
    assert current_entitlements(CONFIG, user(group_ids=None, profiles=())).profiles == ()


def test_a_role_the_row_lacks_is_flagged_as_a_grant() -> None:
    admin_now = Entitlements(profiles=(), roles=(ROLE_TENANT_ADMIN,))
    assert granted_role_without_row(admin_now, user(roles=()))
    assert not granted_role_without_row(admin_now, user(roles=(ROLE_TENANT_ADMIN,)))
    assert not granted_role_without_row(Entitlements((), ()), user(roles=(ROLE_TENANT_ADMIN,)))


def test_stored_groups_are_object_ids_lower_case_sorted_once_each() -> None:
    stored = groups_to_store(CONFIG, [SUPPORT.upper(), ENGINEERING, SUPPORT, "Sales Team", ""])
    assert stored == (ENGINEERING, SUPPORT)


def test_past_the_limit_only_groups_the_configuration_uses_are_kept() -> None:
    many = [str(uuid.UUID(int=n)) for n in range(MAX_STORED_GROUPS + 1)]
    stored = groups_to_store(CONFIG, [*many, SUPPORT, ADMINS])
    assert stored == (SUPPORT, ADMINS)
    exactly = [str(uuid.UUID(int=n)) for n in range(MAX_STORED_GROUPS)]
    assert len(groups_to_store(CONFIG, exactly)) == MAX_STORED_GROUPS


@pytest.mark.parametrize("count", [0, 1, 3, MAX_STORED_GROUPS])
def test_group_ids_pack_to_16_bytes_each_within_a_table_property(count: int) -> None:
    ids = tuple(str(uuid.uuid4()) for _ in range(count))
    packed = pack_group_ids(ids)
    assert len(packed) == 16 * count <= 64 * 1024
    assert unpack_group_ids(packed) == ids


def test_a_damaged_packing_is_refused() -> None:
    with pytest.raises(ValueError):
        unpack_group_ids(b"\x00" * 15)
