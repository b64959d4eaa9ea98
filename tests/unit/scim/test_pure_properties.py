"""Properties of the pure parts of SCIM: paging (RFC 7644 3.4.2.4) and reading an
Entra object id out of externalId."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.scim.mapping import entra_object_id
from shared.scim.protocol import MAX_RESULTS
from shared.scim.queries import page_of


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
