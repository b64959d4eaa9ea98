"""The `profilemappings` table's rows: PK slug, RK ``{group_id}:{profile_id}``.

Pure. The mappings also live in the tenant's config row (sign-in reads them
with the config in one point read); these rows are the per-mapping index the
architecture describes. An admin change is applied as the diff of two
mapping sets, so only the rows that changed are written or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.tenants.model import OAuth2Config, ProfileMapping

Mappings = OAuth2Config | Iterable[ProfileMapping]


def mapping_row_key(mapping: ProfileMapping) -> str:
    return f"{mapping.group_id}:{mapping.profile_id}"


def mapping_from_row_key(row_key: str) -> ProfileMapping:
    """Inverse of `mapping_row_key` (ValueError for anything else)."""
    group_id, sep, profile_id = row_key.partition(":")
    if not sep or not group_id or not profile_id or ":" in profile_id:
        raise ValueError("a profile mapping row key is '{group_id}:{profile_id}'")
    return ProfileMapping(profile_id=profile_id, group_id=group_id)


def mapping_rows(slug: str, mappings: Mappings) -> list[dict[str, str]]:
    """The tenant's `profilemappings` entities, once each, sorted by RowKey."""
    return [
        {
            "PartitionKey": slug,
            "RowKey": mapping_row_key(m),
            "group_id": m.group_id,
            "profile_id": m.profile_id,
        }
        for m in sorted(set(_items(mappings)), key=mapping_row_key)
    ]


def mappings_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[ProfileMapping, ...]:
    """The mappings of stored rows (from their RowKeys), sorted by RowKey."""
    found = {mapping_from_row_key(str(row["RowKey"])) for row in rows}
    return tuple(sorted(found, key=mapping_row_key))


def _items(mappings: Mappings) -> Iterable[ProfileMapping]:
    return mappings.profile_mappings if isinstance(mappings, OAuth2Config) else mappings
