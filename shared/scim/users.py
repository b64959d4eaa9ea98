"""SCIM Users (RFC 7644 3.3-3.6) on entrabridge's users, as Entra provisions them.

Each change is one entity group transaction in the tenant's partition: the user
row (which carries the SCIM resource itself, `User.scim`), its index rows and
the audit event (actor `scim`). Reads: one for the user (by id, or by the Entra
identity or email a create may adopt), none for uniqueness (an index row that
exists fails the transaction, answered 409 uniqueness).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scim2_models import Context, Meta, PatchOp, ResponseParameters

from shared.errors import SsoUnavailable
from shared.scim.manager import patch_with_manager_reference, with_manager_reference
from shared.scim.mapping import UserFacts, entra_object_id, user_facts, with_membership
from shared.scim.ports import ScimRows, UserRows
from shared.scim.protocol import ScimError, ScimUser, scim_error_of, speaking_scim
from shared.scim.queries import (
    equality_of,
    list_response,
    matching,
    plausible_id,
    response_parameters,
    search_request,
)
from shared.signin.ports import AuditLog
from shared.signin.provisioning import entra_user_id
from shared.store.rows import MAX_TRANSACTION_OPERATIONS, Op, Tables, TransactionFailed
from shared.store.scim import UserKeys
from shared.store.tenant_partition import TABLE
from shared.tenants.entitlements import entitlements_for
from shared.tenants.model import OAuth2Config
from shared.users import PROVIDER_MICROSOFT, User

ACTOR = "scim"
MAX_RESOURCE_CHARS = 30_000  # a Table Storage string property holds 32,768 UTF-16 units


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    version: str  # the ETag (weak)
    location: str


def version_of(row_etag: str) -> str:
    """A weak ETag for a SCIM resource, from its row's etag (opaque either way)."""
    return 'W/"' + hashlib.sha256(row_etag.encode()).hexdigest()[:20] + '"'


# Reads and writes of one change before answering 409 "retry" (each lost race means
# another writer made progress).
_ATTEMPTS = 3


def check_if_match(if_match: str | None, row_etag: str) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    if version_of(row_etag) not in wanted:
        raise ScimError(412, "The resource changed since that version (If-Match).")


@dataclass
class ScimUsers:
    tables: Tables
    users: UserRows
    scim: ScimRows
    audit: AuditLog
    revoke_sessions: Callable[[str, str], None]  # (tenant, user_id)
    base_url: Callable[[str], str]  # tenant -> the SCIM base URL
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    # --- reads -------------------------------------------------------------------------

    @speaking_scim
    def get(self, tenant: str, user_id: str, params: Mapping[str, str]) -> Answer:
        user, etag = self._scim_user(tenant, user_id)
        return self._answer(user, etag, response_parameters(ScimUser, params))

    @speaking_scim
    def search(self, tenant: str, params: Mapping[str, Any]) -> dict[str, Any]:
        search = search_request(ScimUser, params)
        return list_response(ScimUser, search, self.matches(tenant, search.filter))

    @speaking_scim
    def matches(self, tenant: str, text: str | None) -> list[ScimUser]:
        """Every SCIM user a (valid) filter selects."""
        resources = [self._resource(user, etag) for user, etag in self._candidates(tenant, text)]
        return [r for r in resources if matching(ScimUser, text, r)]

    def _candidates(self, tenant: str, text: str | None) -> list[tuple[User, str]]:
        """The SCIM users a filter may select: for `userName eq`, `externalId eq` (what
        Entra sends) and `id eq` the one an index names (a point read), for anything
        else every SCIM user of the tenant."""
        wanted = equality_of(ScimUser, text)
        if wanted is not None and wanted[0] in ("username", "externalid", "id"):
            attribute, value = wanted
            user_id = (
                self.scim.user_id_by_name(tenant, value)
                if attribute == "username"
                else self.scim.user_id_by_external_id(tenant, value)
                if attribute == "externalid"
                else value
            )
            found = (
                self.users.get_with_etag(tenant, user_id)
                if user_id and plausible_id(user_id)
                else None
            )
            return [found] if found is not None and found[0].scim is not None else []
        return [(user, etag) for user, etag in self.users.scan_with_etags(tenant) if user.scim]

    # --- changes -----------------------------------------------------------------------

    @speaking_scim
    def create(self, tenant: str, config: OAuth2Config, body: object) -> Answer:
        """A new user in one write when nobody has their identity or email (the common
        case: no read); else the user who has them is taken over (a JIT user, one
        created ahead) or the request is a 409."""
        resource = _read(self._with_manager(tenant, body), Context.RESOURCE_CREATION_REQUEST)
        facts = user_facts(resource)
        now = self.clock()
        stored = _stored(resource, created=now, modified=now)
        user = _new_user(tenant, config, facts, stored, now)
        ops = self.users.create_ops(user, index_identity=True)
        ops += self.scim.user_index_ops(tenant, user.id, None, _keys(facts))
        ops.append(self.audit.event(tenant, "scim_user_created", actor=ACTOR, user_id=user.id))
        try:
            etag = self._apply(ops, user)
        except TransactionFailed as failure:
            key = str(ops[failure.index].entity.get("RowKey", ""))
            if failure.reason != "exists" or not key.startswith(("user:", "email:", "entra:")):
                raise _conflict(ops, failure) from failure
            user, etag = self._adopt(tenant, config, facts, stored)
        if user.disabled:
            self.revoke_sessions(tenant, user.id)
        return self._answer(user, etag, None)

    def _adopt(
        self, tenant: str, config: OAuth2Config, facts: UserFacts, stored: str
    ) -> tuple[User, str]:
        """Take over the user who has this identity or email (see `_adoptable`)."""
        existing = self._adoptable(tenant, config, facts)
        if existing is None or existing[0].scim is not None:
            raise ScimError(409, "A user with this identity is provisioned already.", "uniqueness")
        before, etag = existing
        user = _with_facts(before, config, facts, stored)
        ops = self.users.update_ops(before, user, etag=etag)
        ops += self.scim.user_index_ops(tenant, user.id, None, _keys(facts))
        ops.append(self.audit.event(tenant, "scim_user_adopted", actor=ACTOR, user_id=user.id))
        return user, self._write(ops, user)

    @speaking_scim
    def replace(
        self, tenant: str, config: OAuth2Config, user_id: str, body: object, if_match: str | None
    ) -> Answer:
        resource = _read(self._with_manager(tenant, body), Context.RESOURCE_REPLACEMENT_REQUEST)
        return self._change_current(tenant, config, user_id, if_match, lambda _: resource)

    @speaking_scim
    def patch(
        self, tenant: str, config: OAuth2Config, user_id: str, body: object, if_match: str | None
    ) -> Answer:
        def patched(before: User) -> ScimUser:
            try:
                operations = PatchOp[ScimUser].model_validate(
                    patch_with_manager_reference(body, self._users_url(tenant)),
                    scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                )
                resource = ScimUser.model_validate(_stored_resource(before))
                operations.patch(resource)
                # The patched resource must still be a valid one (userName kept, ...).
                resource = ScimUser.model_validate(
                    resource.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST),
                    scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
                )
            except Exception as exc:  # mapped to a SCIM error, or raised again
                raise scim_error_of(exc) from exc
            _require_user_name(resource)  # as a POST or PUT requires
            return resource

        return self._change_current(tenant, config, user_id, if_match, patched)

    @speaking_scim
    def delete(self, tenant: str, config: OAuth2Config, user_id: str, if_match: str | None) -> None:
        """No longer a SCIM user: disabled at once, sessions revoked, out of every SCIM
        group (and what those gave), no longer listed. The row stays: a later
        sign-in is refused as a disabled account, never created afresh."""
        before, etag = self._scim_user(tenant, user_id)
        check_if_match(if_match, etag)
        after = replace(before, disabled=True, scim=None)
        memberships: list[Op] = []
        for group_id in self.scim.groups_of(tenant, user_id):
            group = self.scim.group(tenant, group_id)
            object_id = entra_object_id(group.external_id) if group else None
            if object_id:
                after = with_membership(after, object_id, member=False, config=config)
            memberships += self.scim.member_ops(tenant, group_id, user_id, add=False)
        ops = self.users.update_ops(before, after, etag=etag)
        ops += self.scim.user_index_ops(tenant, user_id, _stored_keys(before), None)
        ops.append(self.audit.event(tenant, "scim_user_deleted", actor=ACTOR, user_id=user_id))
        room = MAX_TRANSACTION_OPERATIONS - len(ops)
        self._write([*ops, *memberships[:room]], after)
        self.revoke_sessions(tenant, user_id)
        rest = memberships[room:]
        for start in range(0, len(rest), MAX_TRANSACTION_OPERATIONS):
            # A user in more groups than one transaction holds: the rest after, in
            # order (each whole; a retry of the DELETE is a 404, so none is lost
            # unless storage fails here, when the next group change tidies it).
            self.tables.apply(TABLE, rest[start : start + MAX_TRANSACTION_OPERATIONS])

    # --- internals -----------------------------------------------------------------------

    def _change_current(
        self,
        tenant: str,
        config: OAuth2Config,
        user_id: str,
        if_match: str | None,
        resource_of: Callable[[User], Any],
    ) -> Answer:
        """The user changed to `resource_of(the row as read)`. The row changing between
        the read and the write (a sign-in, a group change: Entra sends users and groups
        in parallel) means reading it again; with If-Match, that read is a 412."""
        for _ in range(_ATTEMPTS):
            before, etag = self._scim_user(tenant, user_id)
            check_if_match(if_match, etag)
            try:
                return self._change(tenant, config, before, etag, resource_of(before))
            except _ChangedMeanwhile:
                continue
        raise ScimError(409, "The user kept changing; retry the request.")

    def _change(
        self, tenant: str, config: OAuth2Config, before: User, etag: str, resource: Any
    ) -> Answer:
        facts = user_facts(resource)
        created = _stored_created(before) or self.clock()
        stored = _stored(resource, created=created, modified=self.clock())
        after = _with_facts(before, config, facts, stored)
        if after == before:
            return self._answer(before, etag, None)
        ops = self.users.update_ops(before, after, etag=etag)
        ops += self.scim.user_index_ops(tenant, before.id, _stored_keys(before), _keys(facts))
        action = (
            "scim_user_deactivated"
            if after.disabled and not before.disabled
            else "scim_user_reactivated"
            if before.disabled and not after.disabled
            else "scim_user_updated"
        )
        ops.append(self.audit.event(tenant, action, actor=ACTOR, user_id=before.id))
        try:
            new_etag = self._apply(ops, after)
        except TransactionFailed as failure:
            if failure.reason in ("precondition", "missing"):
                raise _ChangedMeanwhile() from failure
            raise _conflict(ops, failure) from failure
        if after.disabled:
            self.revoke_sessions(tenant, before.id)
        return self._answer(after, new_etag, None)

    def _adoptable(
        self, tenant: str, config: OAuth2Config, facts: UserFacts
    ) -> tuple[User, str] | None:
        """The user a create takes over: the one of its Entra identity (a JIT user who
        now arrives by SCIM), else a Microsoft user with its email that no sign-in
        has tied to an identity yet (an admin created them ahead)."""
        if facts.object_id and config.tenant_id:
            found = self.users.by_entra_identity(tenant, config.tenant_id, facts.object_id)
            if found is not None:
                return found
        by_email = self.users.by_email_with_etag(tenant, facts.email)
        if by_email is None:
            return None
        user = by_email[0]
        if user.provider != PROVIDER_MICROSOFT:
            raise ScimError(409, "A password user of this tenant has this email.", "uniqueness")
        if user.entra_object_id is not None and user.entra_object_id != facts.object_id:
            raise ScimError(
                409, "Another Microsoft user of this tenant has this email.", "uniqueness"
            )
        return by_email

    def _scim_user(self, tenant: str, user_id: str) -> tuple[User, str]:
        found = self.users.get_with_etag(tenant, user_id) if plausible_id(user_id) else None
        if found is None or found[0].scim is None:
            raise ScimError(404, "No such user.")
        return found

    def _write(self, ops: list[Op], user: User) -> str:
        """`_apply`, a refusal answered as the SCIM error it means."""
        try:
            return self._apply(ops, user)
        except TransactionFailed as failure:
            raise _conflict(ops, failure) from failure

    def _apply(self, ops: list[Op], user: User) -> str:
        """One transaction; the user row's new etag (it is the first operation)."""
        try:
            etags = self.tables.apply(TABLE, ops)
        finally:
            self.users.forget(user.tenant, user.id)
        return str(etags[0] or "")

    def _users_url(self, tenant: str) -> str:
        return f"{self.base_url(tenant)}/Users"

    def _with_manager(self, tenant: str, body: object) -> object:
        return with_manager_reference(body, self._users_url(tenant))

    def _resource(self, user: User, etag: str) -> ScimUser:
        stored = json.loads(user.scim or "{}")
        resource = ScimUser.model_validate(dict(stored.get("resource") or {}))
        resource.id = user.id
        resource.meta = Meta(
            resource_type="User",
            created=_time(stored.get("created")),
            last_modified=_time(stored.get("modified")),
            location=f"{self._users_url(user.tenant)}/{user.id}",
            version=version_of(etag),
        )
        return resource

    def _answer(self, user: User, etag: str, parameters: ResponseParameters[Any] | None) -> Answer:
        resource = self._resource(user, etag)
        body = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
        )
        return Answer(body=body, version=version_of(etag), location=str(resource.meta.location))  # type: ignore[union-attr]


# --- pure helpers ------------------------------------------------------------------------


def _read(body: object, context: Context) -> Any:
    try:
        resource = ScimUser.model_validate(body, scim_ctx=context)
    except Exception as exc:  # mapped to a SCIM error, or raised again
        raise scim_error_of(exc) from exc
    _require_user_name(resource)
    return resource


def _require_user_name(resource: Any) -> None:
    if not str(resource.user_name or "").strip():
        raise ScimError(400, "userName is required.", "invalidValue")


def _stored(resource: Any, *, created: dt.datetime, modified: dt.datetime) -> str:
    body = resource.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    body.pop("id", None)
    body.pop("meta", None)
    # Kept as its index row and filters know it (user_facts strips it too).
    body["userName"] = str(body.get("userName") or "").strip()
    # A password Entra may generate is never ours to keep (returned=never, and no
    # password user is made by SCIM): not stored, not even at rest.
    body.pop("password", None)
    text = json.dumps(
        {"resource": body, "created": created.isoformat(), "modified": modified.isoformat()},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    if len(text) > MAX_RESOURCE_CHARS:
        raise ScimError(413, "The user's attributes are too large to store.")
    return text


def _stored_resource(user: User) -> dict[str, Any]:
    return dict(json.loads(user.scim or "{}").get("resource") or {})


def _stored_created(user: User) -> dt.datetime | None:
    created = json.loads(user.scim or "{}").get("created")
    return _time(created) if created else None


def _stored_keys(user: User) -> UserKeys | None:
    resource = _stored_resource(user)
    if not resource:
        return None
    # Stripped as user_facts strips it: the index row was written for that form.
    user_name = str(resource.get("userName") or "").strip()
    return UserKeys(user_name, resource.get("externalId") or None)


def _keys(facts: UserFacts) -> UserKeys:
    return UserKeys(facts.user_name, facts.external_id)


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _new_user(
    tenant: str, config: OAuth2Config, facts: UserFacts, stored: str, now: dt.datetime
) -> User:
    keyed = bool(facts.object_id and config.tenant_id)
    entitlements = entitlements_for(config, ())
    return User(
        id=entra_user_id(config.tenant_id or "", facts.object_id or "")
        if keyed
        else str(uuid.uuid4()),
        tenant=tenant,
        email=facts.email,
        name=facts.name,
        provider=PROVIDER_MICROSOFT,
        customer_id=config.customer_id,
        profiles=entitlements.profiles,
        roles=entitlements.roles,
        disabled=not facts.active,
        created_at=now,
        last_login_at=None,
        entra_tenant_id=config.tenant_id if keyed else None,
        entra_object_id=facts.object_id if keyed else None,
        group_ids=(),
        scim=stored,
    )


def _with_facts(user: User, config: OAuth2Config, facts: UserFacts, stored: str) -> User:
    changed = replace(
        user, email=facts.email, name=facts.name, disabled=not facts.active, scim=stored
    )
    if user.entra_object_id is None and facts.object_id and config.tenant_id:
        # A user waiting for their first sign-in learns their Entra identity from SCIM.
        changed = replace(
            changed, entra_tenant_id=config.tenant_id, entra_object_id=facts.object_id
        )
    return changed


class _ChangedMeanwhile(Exception):
    """A row the change was conditioned on changed after it was read."""


def _conflict(ops: list[Op], failure: TransactionFailed) -> ScimError | SsoUnavailable:
    if failure.reason == "exists":
        key = str(ops[failure.index].entity.get("RowKey", ""))
        what = (
            "userName"
            if key.startswith("scimname:")
            else "externalId"
            if key.startswith("scimext:")
            else "email"
            if key.startswith("email:")
            else "identity"
        )
        return ScimError(409, f"Another user of this tenant has this {what}.", "uniqueness")
    if failure.reason == "precondition":
        return ScimError(409, "The user changed meanwhile; retry the request.")
    return SsoUnavailable("The change could not be stored.")
