"""`profilemappings` rows (PK slug, RK "{group_id}:{profile_id}") and the diff an admin
change applies."""

from __future__ import annotations

import pytest

from shared.store.rows import key_problem
from shared.tenants.mappings import (
    mapping_from_row_key,
    mapping_row_key,
    mapping_rows,
    mappings_from_rows,
)
from shared.tenants.model import OAuth2Config, ProfileMapping

G1 = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d01"
G2 = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d02"
P1 = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e01"
P2 = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e02"


def test_rows_are_keyed_group_then_profile_sorted_and_once_each() -> None:
    config = OAuth2Config(
        profile_mappings=(ProfileMapping(P2, G2), ProfileMapping(P1, G1), ProfileMapping(P2, G1))
    )
    rows = mapping_rows("contoso", config)
    assert [r["RowKey"] for r in rows] == [f"{G1}:{P1}", f"{G1}:{P2}", f"{G2}:{P2}"]
    assert {r["PartitionKey"] for r in rows} == {"contoso"}
    assert rows[0] == {
        "PartitionKey": "contoso",
        "RowKey": f"{G1}:{P1}",
        "group_id": G1,
        "profile_id": P1,
    }
    assert mapping_rows("contoso", [ProfileMapping(P1, G1), ProfileMapping(P1, G1)]) == rows[:1]


def test_row_keys_are_valid_table_storage_keys() -> None:
    assert key_problem(mapping_row_key(ProfileMapping(P1, G1))) is None


def test_a_row_key_reads_back_as_its_mapping() -> None:
    mapping = ProfileMapping(P1, G2)
    assert mapping_from_row_key(mapping_row_key(mapping)) == mapping
    rows = mapping_rows("contoso", [ProfileMapping(P2, G2), mapping])
    assert mappings_from_rows(rows) == (mapping, ProfileMapping(P2, G2))


@pytest.mark.parametrize("row_key", ["", G1, f"{G1}:", f":{P1}", f"{G1}:{P1}:x"])
def test_a_row_key_of_another_shape_is_refused(row_key: str) -> None:
    with pytest.raises(ValueError):
        mapping_from_row_key(row_key)
