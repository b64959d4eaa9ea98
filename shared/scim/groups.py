"""SCIM Groups: Entra security groups and their members, pushed by Entra.

A group's externalId is its Entra object id (Entra's default mapping). When a
member joins or leaves a group, that member's stored groups change and their
profiles and roles are recomputed from the tenant's mappings at once, in the same
transaction as the membership rows, the group row and the audit event (actor
`scim`): a leaver loses a profile before their next sign-in, and their next
refresh carries the change. At sign-in, the token's groups still win.

A request that changes more members than one transaction holds is written in
several, in order; each is whole.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scim2_models import (
    Context,
    Group,
    GroupMember,
    Meta,
    PatchOp,
)

from shared.errors import SsoUnavailable
from shared.scim.mapping import entra_object_id, with_membership
from shared.scim.ports import ScimRows, UserRows
from shared.scim.protocol import ScimError, scim_error_of, speaking_scim
from shared.scim.queries import (
    equality_of,
    list_response,
    matching,
    plausible_id,
    response_parameters,
    search_request,
)
from shared.scim.users import ACTOR, Answer, check_if_match, version_of
from shared.signin.ports import AuditLog
from shared.store.rows import Op, Tables, TransactionFailed
from shared.store.scim import ScimGroupRow
from shared.store.tenant_partition import TABLE
from shared.tenants.model import OAuth2Config
from shared.users import User

# Each member changed costs 3 operations (2 membership rows, the user row): 30 of
# them, the group row, its index changes and the audit event fit in 100.
MEMBERS_PER_TRANSACTION = 30
MAX_DISPLAY_NAME = 256
_ATTEMPTS = 3


@dataclass
class ScimGroups:
    tables: Tables
    users: UserRows
    scim: ScimRows
    audit: AuditLog
    base_url: Callable[[str], str]
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    # --- reads -------------------------------------------------------------------------

    @speaking_scim
    def get(self, tenant: str, group_id: str, params: Mapping[str, str]) -> Answer:
        parameters = response_parameters(Group, params)
        if _members_excluded(parameters):
            row, members = self._group(tenant, group_id), None
        else:
            row, members = self._group_with_members(tenant, group_id)
        resource = self._resource(row, members)
        body = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
        )
        return Answer(body=body, version=version_of(row.etag), location=self._location(row))

    @speaking_scim
    def search(self, tenant: str, params: Mapping[str, Any]) -> dict[str, Any]:
        search = search_request(Group, params)
        text = str(search.filter) if search.filter is not None else None
        with_members = not _members_excluded(search) or "members" in (text or "").lower()
        return list_response(Group, search, self.matches(tenant, text, with_members=with_members))

    @speaking_scim
    def matches(self, tenant: str, text: str | None, *, with_members: bool) -> list[Group]:
        """Every group a (valid) filter selects, in id order."""
        found = [
            (row, self.scim.members(tenant, row.group_id) if with_members else None)
            for row in self._find(tenant, text)
        ]
        resources = [self._resource(row, members) for row, members in found]
        return [r for r in resources if matching(Group, text, r)]

    def _find(self, tenant: str, text: str | None) -> list[ScimGroupRow]:
        wanted = equality_of(Group, text)
        if wanted is not None and wanted[0] in ("displayname", "id"):
            attribute, value = wanted
            group_id = (
                self.scim.group_id_by_name(tenant, value) if attribute == "displayname" else value
            )
            row = self.scim.group(tenant, group_id) if group_id and plausible_id(group_id) else None
            return [row] if row is not None else []
        return list(self.scim.groups(tenant))

    # --- changes -----------------------------------------------------------------------

    @speaking_scim
    def create(self, tenant: str, config: OAuth2Config, body: object) -> Answer:
        group = _read(body, Context.RESOURCE_CREATION_REQUEST)
        now = self.clock()
        row = ScimGroupRow(
            tenant=tenant,
            group_id=str(uuid.uuid4()),
            display_name=_display_name(group),
            external_id=group.external_id or None,
            created=now,
            modified=now,
        )
        wanted = _member_ids(group)
        for _ in range(_ATTEMPTS):
            # A member's row changing between its read and the write (a sign-in, a
            # parallel user PATCH from Entra) refuses the whole first write: read again.
            ops = self.scim.group_ops(row, None)
            try:
                etag = self._apply_members(
                    tenant, config, None, row, ops, {}, wanted, action="scim_group_created"
                )
            except _Retry:
                continue
            return self._answer(replace(row, etag=etag), wanted)
        raise ScimError(409, "Its members kept changing; retry the request.")

    @speaking_scim
    def replace(
        self, tenant: str, config: OAuth2Config, group_id: str, body: object, if_match: str | None
    ) -> Answer:
        group = _read(body, Context.RESOURCE_REPLACEMENT_REQUEST)
        return self._change(tenant, config, group_id, if_match, lambda _: group)

    @speaking_scim
    def patch(
        self, tenant: str, config: OAuth2Config, group_id: str, body: object, if_match: str | None
    ) -> Answer:
        try:
            operations = PatchOp[Group].model_validate(
                body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )
        except Exception as exc:  # mapped to a SCIM error, or raised again
            raise scim_error_of(exc) from exc

        def patched(current: Group) -> Group:
            try:
                operations.patch(current)
                return Group.model_validate(
                    current.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST),
                    scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
                )
            except Exception as exc:  # mapped to a SCIM error, or raised again
                raise scim_error_of(exc) from exc

        return self._change(tenant, config, group_id, if_match, patched)

    @speaking_scim
    def delete(
        self, tenant: str, config: OAuth2Config, group_id: str, if_match: str | None
    ) -> None:
        for _ in range(_ATTEMPTS):
            row, members = self._group_with_members(tenant, group_id)
            check_if_match(if_match, row.etag)
            ops = self.scim.delete_group_ops(row)
            try:
                self._apply_members(
                    tenant, config, row, row, ops, members, {}, action="scim_group_deleted"
                )
                return
            except _Retry:
                continue
        raise ScimError(409, "The group kept changing; retry the request.")

    # --- internals -----------------------------------------------------------------------

    def _change(
        self,
        tenant: str,
        config: OAuth2Config,
        group_id: str,
        if_match: str | None,
        change: Callable[[Group], Group],
    ) -> Answer:
        for _ in range(_ATTEMPTS):
            before, members = self._group_with_members(tenant, group_id)
            check_if_match(if_match, before.etag)
            group = change(self._resource(before, members))
            after = ScimGroupRow(
                tenant=tenant,
                group_id=group_id,
                display_name=_display_name(group),
                external_id=group.external_id or None,
                created=before.created,
                modified=self.clock(),
            )
            wanted = _member_ids(group)
            if (after.display_name, after.external_id, wanted) == (
                before.display_name,
                before.external_id,
                members,
            ):
                return self._answer(before, members)
            ops = self.scim.group_ops(after, before)
            try:
                etag = self._apply_members(
                    tenant, config, before, after, ops, members, wanted, action="scim_group_updated"
                )
            except _Retry:
                continue
            return self._answer(replace(after, etag=etag), wanted)
        raise ScimError(409, "The group kept changing; retry the request.")

    def _apply_members(
        self,
        tenant: str,
        config: OAuth2Config,
        old: ScimGroupRow | None,
        row: ScimGroupRow,
        group_ops: list[Op],
        before: dict[str, str],
        after: dict[str, str],
        *,
        action: str,
    ) -> str:
        """Write the group's rows with the membership going from `before` to `after`
        (user id -> display), and the recomputed entitlements of every member whose
        groups change (joined, left, or the group's object id changed); the group
        row's etag."""
        old_oid = entra_object_id(old.external_id) if old else None
        new_oid = entra_object_id(row.external_id)
        changes = [
            (user_id, user_id in before, user_id in after, after.get(user_id, ""))
            for user_id in sorted(before.keys() | after.keys())
            if (user_id in before) != (user_id in after)
            or before.get(user_id) != after.get(user_id)
            or (old_oid != new_oid and user_id in after)
        ]
        chunks = [
            changes[i : i + MEMBERS_PER_TRANSACTION]
            for i in range(0, len(changes), MEMBERS_PER_TRANSACTION)
        ] or [[]]
        joined = sum(1 for _, was, now, _ in changes if now and not was)
        left = sum(1 for _, was, now, _ in changes if was and not now)
        # Every member read (and every joiner checked) before the first write: a request
        # refused for an unknown member changes nothing, however many chunks it spans.
        users: dict[str, tuple[User, str] | None] = {}
        for user_id, was, now, _ in changes:
            found = self.users.get_with_etag(tenant, user_id) if plausible_id(user_id) else None
            if found is not None and found[0].scim is None:
                found = None  # not a SCIM user: not a member this API manages
            if found is None and now and not was:
                raise ScimError(400, f"No SCIM user has the id {user_id[:64]!r}.", "invalidValue")
            users[user_id] = found
        group_etag = ""
        for number, chunk in enumerate(chunks):
            ops = list(group_ops) if number == 0 else []
            touched: list[str] = []
            for user_id, was, now, display in chunk:
                found = users[user_id]
                if found is not None:
                    user, etag = found
                    changed = user
                    if was and old_oid:
                        changed = with_membership(changed, old_oid, member=False, config=config)
                    if now and new_oid:
                        changed = with_membership(changed, new_oid, member=True, config=config)
                    if changed != user:
                        ops += self.users.update_ops(user, changed, etag=etag)
                        touched.append(user_id)
                if was != now or now:
                    ops += self.scim.member_ops(
                        tenant, row.group_id, user_id, add=now, display=display
                    )
            if number == 0:
                ops.append(
                    self.audit.event(
                        tenant,
                        action,
                        actor=ACTOR,
                        detail=f"group {row.group_id}: +{joined} -{left} members",
                    )
                )
            try:
                etags = self.tables.apply(TABLE, ops)
            except TransactionFailed as failure:
                raise _failure(ops, failure, first=number == 0) from failure
            finally:
                for user_id in touched:
                    self.users.forget(tenant, user_id)
            if number == 0:
                group_etag = str(etags[0] or "")
        return group_etag

    def _answer(self, row: ScimGroupRow, members: Mapping[str, str]) -> Answer:
        """The group as written (no read: its rows and etag are known)."""
        resource = self._resource(row, members)
        body = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        return Answer(body=body, version=version_of(row.etag), location=self._location(row))

    def _group_with_members(
        self, tenant: str, group_id: str
    ) -> tuple[ScimGroupRow, dict[str, str]]:
        found, members = (
            self.scim.group_with_members(tenant, group_id) if plausible_id(group_id) else (None, {})
        )
        if found is None:
            raise ScimError(404, "No such group.")
        return found, members

    def _group(self, tenant: str, group_id: str) -> ScimGroupRow:
        row = self.scim.group(tenant, group_id) if plausible_id(group_id) else None
        if row is None:
            raise ScimError(404, "No such group.")
        return row

    def _location(self, row: ScimGroupRow) -> str:
        return f"{self.base_url(row.tenant)}/Groups/{row.group_id}"

    def _resource(self, row: ScimGroupRow, members: Mapping[str, str] | None) -> Group:
        users = f"{self.base_url(row.tenant)}/Users"
        return Group(
            id=row.group_id,
            external_id=row.external_id,
            display_name=row.display_name,
            members=[
                GroupMember.model_validate(
                    {"value": m, "type": "User", "$ref": f"{users}/{m}", "display": display or None}
                )
                for m, display in sorted(members.items())
            ]
            if members
            else None,
            meta=Meta(
                resource_type="Group",
                created=row.created,
                last_modified=row.modified,
                location=self._location(row),
                version=version_of(row.etag),
            ),
        )


class _Retry(Exception):
    """The group or a member changed meanwhile: read again and retry."""


def _failure(ops: list[Op], failure: TransactionFailed, *, first: bool) -> Exception:
    key = str(ops[failure.index].entity.get("RowKey", ""))
    if failure.reason == "exists" and key.startswith("scimgname:"):
        return ScimError(409, "Another group of this tenant has this displayName.", "uniqueness")
    if failure.reason in ("precondition", "missing") and first:
        return _Retry()
    return SsoUnavailable("The group change could not be stored in full; retry the request.")


def _read(body: object, context: Context) -> Group:
    try:
        group = Group.model_validate(body, scim_ctx=context)
    except Exception as exc:  # mapped to a SCIM error, or raised again
        raise scim_error_of(exc) from exc
    _display_name(group)
    return group


def _display_name(group: Group) -> str:
    name = str(group.display_name or "").strip()
    if not name:
        raise ScimError(400, "displayName is required.", "invalidValue")
    if len(name) > MAX_DISPLAY_NAME:
        raise ScimError(400, "displayName is too long.", "invalidValue")
    return name


def _member_ids(group: Group) -> dict[str, str]:
    """user id -> display, as the request gave them."""
    return {str(m.value): str(m.display or "")[:256] for m in group.members or () if m.value}


def _members_excluded(parameters: Any) -> bool:
    excluded = getattr(parameters, "excluded_attributes", None) or ()
    return any(str(path).lower().endswith("members") for path in excluded)


__all__ = ["ScimGroups"]
