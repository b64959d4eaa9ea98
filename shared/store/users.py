"""Users in Table Storage, one partition per tenant.

Rows: `user:{id}` (the user; for Entra users the id is derived from (tid, oid))
and `email:{email}` (an index pointing at the id), in the tenant's partition
(shared.store.tenant_partition). A sign-in's decision is written as one entity
group transaction together with the caller's rows (the session, the audit
event), so two concurrent first sign-ins of one person make one user: the
loser's transaction fails on the user row, it re-reads and decides again.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from shared.errors import EmailInUse, EntraBridgeError, NotFound, SsoUnavailable
from shared.signin.provisioning import (
    CreateUser,
    SignInIdentity,
    decide_sign_in,
    entra_user_id,
    is_pending,
)
from shared.store.recent_users import RecentUsers
from shared.store.rows import EtagMismatch, Op, Row, Tables, TransactionFailed, key_part, text_key
from shared.store.scim import user_name_key
from shared.store.tenant_partition import TABLE
from shared.tenants.entitlements import pack_group_ids, unpack_group_ids
from shared.users import Entitlements, User, email_key

__all__ = ["TABLE", "UserStore", "entra_user_id"]
_ATTEMPTS = 8


def _user_key(user_id: str) -> str:
    return f"user:{user_id}"


def _email_key(email: str) -> str:
    return text_key("email:", email_key(email))


def _entra_key(identity: SignInIdentity) -> str:
    """Index from an Entra identity to a user an admin created (whose id is not the
    one derived from it)."""
    return _entra_key_of(identity.tenant_id, identity.object_id)


def _entra_key_of(tid: str, oid: str) -> str:
    return f"entra:{key_part(tid.lower())}:{key_part(oid.lower())}"


class CarriesRows(Protocol):
    """What a caller hands `provision_with`: its rows for the same transaction (and
    whatever else it needs back, such as the session those rows start)."""

    @property
    def rows(self) -> Sequence[Op]: ...


R = TypeVar("R", bound=CarriesRows)


@dataclass(frozen=True)
class _Rows:
    rows: tuple[Op, ...] = ()


_NO_ROWS = _Rows()


@dataclass
class UserStore:
    tables: Tables
    _recent: RecentUsers = field(default_factory=RecentUsers, repr=False, compare=False)

    # --- sign-in ---------------------------------------------------------------------

    def provision(
        self,
        identity: SignInIdentity,
        *,
        tenant: str,
        customer_id: str,
        entitlements: Entitlements,
        now: dt.datetime,
    ) -> User:
        """Create or update the signed-in user (`provision_with`, nothing else written)."""
        user, _ = self.provision_with(
            identity,
            tenant=tenant,
            customer_id=customer_id,
            entitlements=entitlements,
            now=now,
            also=lambda user: _NO_ROWS,
        )
        return user

    def provision_with(
        self,
        identity: SignInIdentity,
        *,
        tenant: str,
        customer_id: str,
        entitlements: Entitlements,
        now: dt.datetime,
        also: Callable[[User], R],
        jit_provisioning: bool = True,
    ) -> tuple[User, R]:
        """Create or update the signed-in user atomically with the rows of what `also`
        makes for the user decided on (same partition: their session, the audit event),
        and hand back both; raises the decision's refusals, and then writes nothing.
        The user handed back is disabled only when a disable landed while this
        sign-in was writing (its rows are written: the caller ends what they began).
        When one of `also`'s rows is refused, `TransactionFailed` names it (its index
        among those rows) and nothing is written."""
        user_id = entra_user_id(identity.tenant_id, identity.object_id)
        recent = self._recent.get(tenant, user_id)
        for attempt in range(_ATTEMPTS):
            # A returning user this instance saw lately needs no read (the write below
            # is conditional on the row being as seen); else one point read finds them.
            # The email index is read only when the email is new for them.
            by_oid = recent or self._get_with_etag(tenant, user_id)
            if by_oid is None:  # a user an admin created, claimed by an earlier sign-in
                by_oid = self._by_index(tenant, _entra_key(identity))
            by_email: tuple[User, str] | None
            if by_oid is not None and email_key(by_oid[0].email) == email_key(identity.email):
                by_email = by_oid
            else:
                by_email = self._by_index(tenant, _email_key(identity.email))
                found = by_email[0] if by_email else None
                if by_oid is None and found is not None and _same_identity(found, identity):
                    by_oid = by_email  # created by a concurrent sign-in between our reads
                if by_oid is None and by_email is None and identity.username:
                    # A user SCIM created without an object id, under this UPN: claimed
                    # like one an admin created by email (the token's email may be
                    # their mail, not their UPN).
                    by_email = self._pending_by_scim_user_name(tenant, identity.username)
            try:
                decision = decide_sign_in(
                    identity,
                    tenant=tenant,
                    customer_id=customer_id,
                    entitlements=entitlements,
                    by_object_id=by_oid[0] if by_oid else None,
                    by_email=by_email[0] if by_email else None,
                    new_user_id=user_id,
                    now=now,
                    jit_provisioning=jit_provisioning,
                )
            except EntraBridgeError:
                if recent is None:
                    raise
                recent = None  # never refuse on a remembered row: read it and decide again
                continue
            if isinstance(decision, CreateUser):
                user, ops = decision.user, _create_ops(decision.user)
            else:
                by_oid = by_oid or by_email  # a claim decides on the user found by email
                assert by_oid is not None
                if _only_fresh_login(decision.before, decision.after) and recent is None:
                    user, ops = decision.before, []
                else:
                    # A remembered row is always written (conditionally): that is what
                    # checks it is still the row as it is now.
                    user = decision.after
                    ops = _update_ops(decision.before, decision.after, etag=by_oid[1])
                    if decision.before.entra_object_id is None:  # a claim: index the identity
                        ops.append(Op("create", _index(tenant, _entra_key(identity), user.id)))
            extra = also(user)
            try:
                etags = self.tables.apply(TABLE, [*ops, *extra.rows]) if ops or extra.rows else []
            except TransactionFailed as failure:
                self._recent.forget(tenant, user_id)
                if failure.index >= len(ops):
                    # One of the caller's rows: not a race this loop can settle, and the
                    # caller knows what it means (its index among `also`'s rows).
                    raise TransactionFailed(
                        failure.index - len(ops), failure.kind, failure.reason
                    ) from failure
                if recent is None:
                    # Another sign-in of the same person (or a claim on the same email)
                    # won the race: read again and decide again.
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311
                recent = None  # the remembered row was stale: read it now
                continue
            if not ops and by_oid is not None:
                # Nothing conditioned the write on the row as read: read it again, so
                # that a disable landing since the read is seen (the caller ends the
                # session it just wrote). After our write, so either this read sees
                # the disable or the disable's revocation sees our session.
                now_row = self._get_with_etag(tenant, user.id)
                if now_row is not None and now_row[0].disabled:
                    return now_row[0], extra
            self._recent.keep(user_id, user, etags[0] if ops else by_oid[1] if by_oid else None)
            return user, extra
        raise SsoUnavailable("Too many concurrent sign-ins for this account; please retry.")

    def _update_row(self, user: User, *, etag: str) -> None:
        """The user row if it is still at `etag`; `TransactionFailed` (as a batch would
        say it) otherwise, so callers retry the same way."""
        self._recent.forget(user.tenant, user.id)
        try:
            self.tables.update(TABLE, _user_entity(user), etag=etag)
        except EtagMismatch:
            raise TransactionFailed(0, "update", "precondition") from None

    # --- reads and admin changes -----------------------------------------------------

    def get(self, tenant: str, user_id: str) -> User | None:
        found = self._get_with_etag(tenant, user_id)
        return found[0] if found else None

    def list(self, tenant: str, *, limit: int, cursor: str | None) -> tuple[list[User], str | None]:
        page = self.tables.query(
            TABLE, partition_key=tenant, row_key_prefix="user:", limit=limit, cursor=cursor
        )
        return [_user(row) for row in page.rows], page.next_cursor

    def set_disabled(self, tenant: str, user_id: str, disabled: bool) -> User:
        changed = self._change(tenant, user_id, lambda user: replace(user, disabled=disabled))
        if changed is None:
            raise NotFound("No such user.")
        return changed

    def set_entitlements(
        self, tenant: str, user_id: str, entitlements_of: Callable[[User], Entitlements]
    ) -> User | None:
        """The user with the profiles and roles `entitlements_of` gives the row as it
        is when written (re-read on a race; written only if they differ); None when
        there is no such user."""

        def entitled(user: User) -> User:
            entitlements = entitlements_of(user)
            return replace(user, profiles=entitlements.profiles, roles=entitlements.roles)

        return self._change(tenant, user_id, entitled, only_if_changed=True)

    def drop_role(self, tenant: str, role: str) -> tuple[str, ...]:
        """Take `role` from every user of the tenant who has it; their ids. (Sign-in
        gives it back to those who still qualify.)"""
        holders = [
            _user(row).id
            for row in self.tables.scan_partition(
                TABLE, partition_key=tenant, row_key_prefix="user:"
            )
            if role in _user(row).roles
        ]

        def without(user: User) -> User:
            return replace(user, roles=tuple(r for r in user.roles if r != role))

        return tuple(user_id for user_id in holders if self._change(tenant, user_id, without))

    def _change(
        self,
        tenant: str,
        user_id: str,
        change: Callable[[User], User],
        *,
        only_if_changed: bool = False,
    ) -> User | None:
        """The user row rewritten by `change`, re-read and retried if it moved meanwhile;
        None when there is no such user."""
        for _ in range(_ATTEMPTS):
            found = self._get_with_etag(tenant, user_id)
            if found is None:
                return None
            user, etag = found
            changed = change(user)
            if only_if_changed and changed == user:
                return user
            try:
                self._update_row(changed, etag=etag)
                return changed
            except TransactionFailed:
                continue
        raise SsoUnavailable("The user kept changing; please retry.")

    def create(self, user: User, *, also: Sequence[Op] = ()) -> None:
        """A new user (an admin's), with `also`'s rows in the same transaction;
        EmailInUse when any user of the tenant has that email already."""
        ops = _create_ops(user)
        try:
            self.tables.apply(TABLE, [*ops, *also])
        except TransactionFailed as failure:
            if failure.index == 1 and failure.reason == "exists":
                raise EmailInUse() from None
            raise SsoUnavailable("The user could not be created.") from failure

    def by_email(self, tenant: str, email: str) -> User | None:
        found = self._by_index(tenant, _email_key(email))
        return found[0] if found else None

    # --- rows for a caller's transaction (SCIM provisioning) ---------------------------

    def get_with_etag(self, tenant: str, user_id: str) -> tuple[User, str] | None:
        return self._get_with_etag(tenant, user_id)

    def by_email_with_etag(self, tenant: str, email: str) -> tuple[User, str] | None:
        return self._by_index(tenant, _email_key(email))

    def by_entra_identity(self, tenant: str, tid: str, oid: str) -> tuple[User, str] | None:
        """The user of an Entra identity: the one keyed by it, else one an admin (or
        SCIM) created and a sign-in or SCIM later tied to it."""
        return self._get_with_etag(tenant, entra_user_id(tid, oid)) or self._by_index(
            tenant, _entra_key_of(tid, oid)
        )

    def create_ops(self, user: User, *, index_identity: bool = False) -> builtins.list[Op]:
        """A new user's rows (user, email index; with an Entra identity not derived
        into the id, or with `index_identity`, that identity's index: whoever holds
        the identity already then fails the transaction on it)."""
        ops = _create_ops(user)
        if user.entra_object_id and user.entra_tenant_id:
            derived = user.id == entra_user_id(user.entra_tenant_id, user.entra_object_id)
            if index_identity or not derived:
                key = _entra_key_of(user.entra_tenant_id, user.entra_object_id)
                ops.append(Op("create", _index(user.tenant, key, user.id)))
        return ops

    def update_ops(self, before: User, after: User, *, etag: str) -> builtins.list[Op]:
        """`after` replacing `before` if its row is still at `etag`, with the index
        rows that change (email; the Entra identity when it is newly set)."""
        self._recent.forget(after.tenant, after.id)
        ops = _update_ops(before, after, etag=etag)
        if (
            before.entra_object_id is None
            and after.entra_object_id
            and after.entra_tenant_id
            and after.id != entra_user_id(after.entra_tenant_id, after.entra_object_id)
        ):
            key = _entra_key_of(after.entra_tenant_id, after.entra_object_id)
            ops.append(Op("create", _index(after.tenant, key, after.id)))
        return ops

    def scan_with_etags(self, tenant: str) -> Iterator[tuple[User, str]]:
        """Every user of the tenant, page by page."""
        for row in self.tables.scan_partition(TABLE, partition_key=tenant, row_key_prefix="user:"):
            yield _user(row), row.etag

    def forget(self, tenant: str, user_id: str) -> None:
        """Drop what this instance remembers of the user (their row was written)."""
        self._recent.forget(tenant, user_id)

    def insert_password_user(self, user: User) -> None:
        """Password users are the application's own; this seeds one (dev and tests)."""
        self.tables.transact(TABLE, _create_ops(user))

    def _by_index(self, tenant: str, row_key: str) -> tuple[User, str] | None:
        index = self.tables.get(TABLE, tenant, row_key)
        if index is None:
            return None
        return self._get_with_etag(tenant, str(index.data["user_id"]))

    def _pending_by_scim_user_name(self, tenant: str, user_name: str) -> tuple[User, str] | None:
        index = self.tables.get(TABLE, tenant, user_name_key(user_name))
        target = str(index.data.get("target") or "") if index is not None else ""
        found = self._get_with_etag(tenant, target) if target else None
        if found is None or found[0].scim is None or not is_pending(found[0]):
            return None
        return found

    def _get_with_etag(self, tenant: str, user_id: str) -> tuple[User, str] | None:
        row = self.tables.get(TABLE, tenant, _user_key(user_id))
        return (_user(row), row.etag) if row else None


_LOGIN_RESOLUTION = dt.timedelta(minutes=1)


def _only_fresh_login(before: User, after: User) -> bool:
    """Nothing but a last_login_at under a minute old would change: no write.

    Keeps parallel sign-ins of one person (several tabs, retries) from fighting
    over the same row for a timestamp; last_login_at has minute resolution.
    """
    if before.last_login_at is None or after.last_login_at is None:
        return False
    if after.last_login_at - before.last_login_at >= _LOGIN_RESOLUTION:
        return False
    return replace(before, last_login_at=after.last_login_at) == after


def _same_identity(user: User, identity: SignInIdentity) -> bool:
    return (user.entra_tenant_id, user.entra_object_id) == (
        identity.tenant_id,
        identity.object_id,
    )


def _create_ops(user: User) -> list[Op]:
    return [
        Op("create", _user_entity(user)),
        Op("create", _index(user.tenant, _email_key(user.email), user.id)),
    ]


def _update_ops(before: User, after: User, *, etag: str) -> list[Op]:
    ops = [Op("update", _user_entity(after), etag=etag)]
    if email_key(before.email) != email_key(after.email):
        ops += [
            Op("delete", _index(after.tenant, _email_key(before.email), "")),
            Op("create", _index(after.tenant, _email_key(after.email), after.id)),
        ]
    return ops


def _index(tenant: str, row_key: str, user_id: str) -> dict[str, Any]:
    return {"PartitionKey": tenant, "RowKey": row_key, "user_id": user_id}


def _user_entity(user: User) -> dict[str, Any]:
    return {
        "PartitionKey": user.tenant,
        "RowKey": _user_key(user.id),
        "email": user.email,
        "name": user.name,
        "provider": user.provider,
        "customer_id": user.customer_id or "",
        "profiles": json.dumps(list(user.profiles)),
        "roles": json.dumps(list(user.roles)),
        "disabled": user.disabled,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "entra_tenant_id": user.entra_tenant_id or "",
        "entra_object_id": user.entra_object_id or "",
        **({"group_ids": pack_group_ids(user.group_ids)} if user.group_ids is not None else {}),
        **({"scim": user.scim} if user.scim is not None else {}),
    }


def _user(row: Row) -> User:
    data = row.data
    return User(
        id=row.row_key.removeprefix("user:"),
        tenant=row.partition_key,
        email=str(data.get("email", "")),
        name=str(data.get("name", "")),
        provider=str(data.get("provider", "")),
        customer_id=str(data.get("customer_id") or "") or None,
        profiles=tuple(json.loads(str(data.get("profiles") or "[]"))),
        roles=tuple(json.loads(str(data.get("roles") or "[]"))),
        disabled=bool(data.get("disabled", False)),
        created_at=_utc(data.get("created_at")) or dt.datetime.fromtimestamp(0, dt.UTC),
        last_login_at=_utc(data.get("last_login_at")),
        entra_tenant_id=str(data.get("entra_tenant_id") or "") or None,
        entra_object_id=str(data.get("entra_object_id") or "") or None,
        group_ids=_group_ids(data.get("group_ids")),
        scim=str(data["scim"]) if isinstance(data.get("scim"), str) else None,
    )


def _group_ids(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # an empty binary property may come back as ""
        return () if not value else None
    return unpack_group_ids(bytes(value)) if isinstance(value, bytes | bytearray) else None


def _utc(value: object) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
