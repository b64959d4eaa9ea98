"""Properties of the pure parts of SCIM: paging (RFC 7644 3.4.2.4), reading an
Entra object id out of externalId, and filling in the manager's `$ref`."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.scim.manager import ENTERPRISE, patch_with_manager_reference, with_manager_reference
from shared.scim.mapping import entra_object_id, with_membership
from shared.scim.protocol import MAX_RESULTS
from shared.scim.queries import page_of
from shared.tenants.entitlements import MAX_STORED_GROUPS, pack_group_ids
from shared.tenants.model import OAuth2Config, ProfileMapping
from shared.users import User
from tests.support.unit_services import random_id


@given(st.lists(st.integers(), max_size=500), st.integers(1, 600), st.integers(1, 300))
def test_pages_walked_by_start_index_cover_every_item_once(
    items: list[int], first: int, count: int
) -> None:
    seen: list[int] = []
    start = 1
    while True:
        total, page = page_of(items, start, count)
        assert total == len(items)
        assert len(page) <= min(count, MAX_RESULTS)
        if not page:
            break
        seen += page
        start += len(page)
    assert seen == items


@given(
    st.lists(st.integers(), max_size=50),
    st.integers(-5, 80) | st.none(),
    st.integers(-5, 80) | st.none(),
)
def test_any_start_and_count_give_a_slice_of_the_items(
    items: list[int], start: int | None, count: int | None
) -> None:
    total, page = page_of(items, start, count)
    first = max(start or 1, 1) - 1
    assert total == len(items)
    assert page == items[first : first + len(page)]
    if count is not None and count <= 0:
        assert page == []


@given(st.uuids())
def test_an_object_id_is_read_in_any_case(value: uuid.UUID) -> None:
    assert entra_object_id(str(value).upper()) == str(value)
    assert entra_object_id(f" {value} ") == str(value)


@given(st.text(max_size=60))
def test_anything_else_is_no_object_id(text: str) -> None:
    found = entra_object_id(text)
    assert found is None or (uuid.UUID(found) and found == text.strip().lower())


USERS_URL = "https://auth.example.com/api/scim/v2/contoso/Users"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
manager_values = (
    json_values
    | st.text(max_size=40)
    | st.fixed_dictionaries(
        {"value": json_values | st.text(max_size=40)}, optional={"$ref": st.text(max_size=20)}
    )
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4), manager_values)
def test_only_the_manager_of_a_body_changes_and_an_id_gets_its_ref(
    other: dict[str, object], manager: object
) -> None:
    body = {**other, ENTERPRISE: {"department": "Engines", "manager": manager}}
    changed = with_manager_reference(body, USERS_URL)
    assert isinstance(changed, dict)
    assert {k: v for k, v in changed.items() if k != ENTERPRISE} == {
        k: v for k, v in body.items() if k != ENTERPRISE
    }
    extension = changed[ENTERPRISE]
    assert extension["department"] == "Engines"
    manager_id = manager.get("value") if isinstance(manager, dict) else manager
    if isinstance(manager_id, str) and manager_id.strip():
        assert extension["manager"]["value"] == manager_id.strip()
        assert str(extension["manager"]["$ref"])  # kept when sent, else ours
        if not (isinstance(manager, dict) and manager.get("$ref")):
            assert extension["manager"]["$ref"].startswith(f"{USERS_URL}/")
            assert "/" not in extension["manager"]["$ref"][len(USERS_URL) + 1 :]
    elif manager_id is None or isinstance(manager_id, str):
        assert "manager" not in extension  # an empty id is no manager


@given(json_values)
def test_any_patch_body_is_read_without_an_exception(body: object) -> None:
    patch_with_manager_reference(body, USERS_URL)
    patch_with_manager_reference({"Operations": [body]}, USERS_URL)
    with_manager_reference({ENTERPRISE: body}, USERS_URL)


def test_a_member_of_more_groups_than_a_row_holds_keeps_the_mapped_ones() -> None:
    # 4,096 group ids fill the row's 64 KiB binary property; SCIM adding a 4,097th
    # (mapped) group must neither overflow it nor lose the profile it gives.
    mapped, profile = random_id(), random_id()
    config = OAuth2Config(profile_mappings=(ProfileMapping(profile, mapped),))
    many = tuple(sorted(str(uuid.uuid4()) for _ in range(MAX_STORED_GROUPS)))
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    user = User(
        id=random_id(), tenant="contoso", email="ada@contoso.example", name="Ada",
        provider="microsoft", customer_id=None, profiles=(), roles=(), disabled=False,
        created_at=now, last_login_at=None, group_ids=many,
    )  # fmt: skip

    joined = with_membership(user, mapped, member=True, config=config)

    assert joined.group_ids is not None and len(joined.group_ids) <= MAX_STORED_GROUPS
    assert mapped in joined.group_ids and joined.profiles == (profile,)
    assert len(pack_group_ids(joined.group_ids)) <= 64 * 1024
