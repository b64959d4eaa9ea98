"""SCIM's own rows in the tenant's partition (shared.store.tenant_partition), next
to the users they describe, so that a SCIM change and the user rows it changes
are one entity group transaction:

- (the SCIM User as Entra last wrote it is on the user row itself: `scim`,
  shared.store.users, so that one read and one write serve a SCIM change);
- `scimname:{userName, lower case}` and `scimext:{externalId}`: indexes to the
  user id (uniqueness of userName, and Entra's `eq` filters in one point read);
- `scimgroup:{group_id}`: a SCIM Group (displayName, externalId: the Entra
  object id), `scimgname:{displayName, lower case}` its index;
- `scimgroup:{group_id}:{user_id}` and `scimmemberof:{user_id}:{group_id}`: one
  membership, listed from either side. Under the group's own key, so that one
  range read gives a group with all its members.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared.store.rows import Op, Row, Tables, text_key
from shared.store.tenant_partition import TABLE

GROUP = "scimgroup:"
_USER_NAME = "scimname:"
_EXTERNAL_ID = "scimext:"
_GROUP_NAME = "scimgname:"
_MEMBER_OF = "scimmemberof:"


@dataclass(frozen=True)
class UserKeys:
    """What a SCIM user is found by (besides its id)."""

    user_name: str
    external_id: str | None


@dataclass(frozen=True)
class ScimGroupRow:
    tenant: str
    group_id: str
    display_name: str
    external_id: str | None
    created: dt.datetime
    modified: dt.datetime
    etag: str = ""


def user_name_key(user_name: str) -> str:
    return text_key(_USER_NAME, user_name.lower())


def _external_id_key(external_id: str) -> str:
    return text_key(_EXTERNAL_ID, external_id)


def _group_name_key(display_name: str) -> str:
    return text_key(_GROUP_NAME, display_name.lower())


def _member_prefix(group_id: str) -> str:
    return f"{GROUP}{group_id}:"


def _index(tenant: str, row_key: str, target: str) -> dict[str, Any]:
    return {"PartitionKey": tenant, "RowKey": row_key, "target": target}


@dataclass
class ScimStore:
    tables: Tables

    # --- users -------------------------------------------------------------------------

    def user_id_by_name(self, tenant: str, user_name: str) -> str | None:
        return self._target(tenant, user_name_key(user_name))

    def user_id_by_external_id(self, tenant: str, external_id: str) -> str | None:
        return self._target(tenant, _external_id_key(external_id))

    def user_index_ops(
        self, tenant: str, user_id: str, before: UserKeys | None, after: UserKeys | None
    ) -> list[Op]:
        """The index rows that change when a SCIM user's keys go from `before` to
        `after` (None: not a SCIM user). A userName or externalId another user holds
        fails the transaction on its index row (a create)."""
        ops: list[Op] = []
        old_name = before.user_name.lower() if before else None
        new_name = after.user_name.lower() if after else None
        if old_name != new_name:
            if before:
                ops.append(Op("delete", _index(tenant, user_name_key(before.user_name), "")))
            if after:
                ops.append(Op("create", _index(tenant, user_name_key(after.user_name), user_id)))
        old_external = before.external_id if before else None
        new_external = after.external_id if after else None
        if old_external != new_external:
            if old_external:
                ops.append(Op("delete", _index(tenant, _external_id_key(old_external), "")))
            if new_external:
                ops.append(Op("create", _index(tenant, _external_id_key(new_external), user_id)))
        return ops

    # --- groups ------------------------------------------------------------------------

    def group(self, tenant: str, group_id: str) -> ScimGroupRow | None:
        row = self.tables.get(TABLE, tenant, GROUP + group_id)
        return _scim_group(row) if row is not None else None

    def group_id_by_name(self, tenant: str, display_name: str) -> str | None:
        return self._target(tenant, _group_name_key(display_name))

    def group_with_members(
        self, tenant: str, group_id: str
    ) -> tuple[ScimGroupRow | None, dict[str, str]]:
        """The group and its members (user id -> display), in one range read."""
        group: ScimGroupRow | None = None
        members: dict[str, str] = {}
        prefix = _member_prefix(group_id)
        for row in self.tables.scan_partition(
            TABLE, partition_key=tenant, row_key_prefix=GROUP + group_id
        ):
            if row.row_key == GROUP + group_id:
                group = _scim_group(row)
            elif row.row_key.startswith(prefix):
                members[row.row_key.removeprefix(prefix)] = str(row.data.get("display") or "")
        return group, members

    def groups(self, tenant: str) -> Iterator[ScimGroupRow]:
        for row in self.tables.scan_partition(TABLE, partition_key=tenant, row_key_prefix=GROUP):
            if ":" not in row.row_key.removeprefix(GROUP):  # not a membership
                yield _scim_group(row)

    def group_ops(self, new: ScimGroupRow, before: ScimGroupRow | None) -> list[Op]:
        entity = {
            "PartitionKey": new.tenant,
            "RowKey": GROUP + new.group_id,
            "display_name": new.display_name,
            "external_id": new.external_id or "",
            "created": new.created,
            "modified": new.modified,
        }
        ops = [Op("update", entity, etag=before.etag) if before else Op("create", entity)]
        if before is None or before.display_name.lower() != new.display_name.lower():
            if before:
                ops.append(
                    Op("delete", _index(new.tenant, _group_name_key(before.display_name), ""))
                )
            ops.append(
                Op("create", _index(new.tenant, _group_name_key(new.display_name), new.group_id))
            )
        return ops

    def delete_group_ops(self, before: ScimGroupRow) -> list[Op]:
        return [
            Op(
                "delete",
                {"PartitionKey": before.tenant, "RowKey": GROUP + before.group_id},
                etag=before.etag,
            ),
            Op("delete", _index(before.tenant, _group_name_key(before.display_name), "")),
        ]

    def members(self, tenant: str, group_id: str) -> dict[str, str]:
        """The group's members: user id -> the display text SCIM gave them."""
        prefix = _member_prefix(group_id)
        return {
            row.row_key.removeprefix(prefix): str(row.data.get("display") or "")
            for row in self.tables.scan_partition(
                TABLE, partition_key=tenant, row_key_prefix=prefix
            )
        }

    def groups_of(self, tenant: str, user_id: str) -> list[str]:
        prefix = f"{_MEMBER_OF}{user_id}:"
        return [
            row.row_key.removeprefix(prefix)
            for row in self.tables.scan_partition(
                TABLE, partition_key=tenant, row_key_prefix=prefix
            )
        ]

    def member_ops(
        self, tenant: str, group_id: str, user_id: str, *, add: bool, display: str = ""
    ) -> list[Op]:
        """A membership's two rows (by group, and by user for the user's groups)."""
        by_group = {"PartitionKey": tenant, "RowKey": _member_prefix(group_id) + user_id}
        by_user = {"PartitionKey": tenant, "RowKey": f"{_MEMBER_OF}{user_id}:{group_id}"}
        if not add:
            return [Op("delete", by_group), Op("delete", by_user)]
        return [Op("upsert", by_group | {"display": display[:256]}), Op("upsert", by_user)]

    # --- internals -----------------------------------------------------------------------

    def _target(self, tenant: str, row_key: str) -> str | None:
        row = self.tables.get(TABLE, tenant, row_key)
        return str(row.data.get("target") or "") or None if row is not None else None


def _time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(0, dt.UTC)


def _scim_group(row: Row) -> ScimGroupRow:
    data = row.data
    return ScimGroupRow(
        tenant=row.partition_key,
        group_id=row.row_key.removeprefix(GROUP),
        display_name=str(data.get("display_name") or ""),
        external_id=str(data.get("external_id") or "") or None,
        created=_time(data.get("created")),
        modified=_time(data.get("modified")),
        etag=row.etag,
    )
