"""The user store and the used-state marks, on Azurite and MemoryTables: atomic
provisioning, single-use state."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from shared.errors import AccountConflict, AccountDisabled, ProviderMismatch
from shared.signin.provisioning import SignInIdentity
from shared.store.rows import Op, Row, Tables, TransactionFailed
from shared.store.used_states import UsedStates
from shared.store.users import UserStore
from shared.users import Entitlements, User

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TID = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
OID = "11111111-2222-3333-4444-555555555555"
NONE = Entitlements(profiles=(), roles=())


@dataclass(frozen=True)
class Rows:
    """What a caller of provision_with hands it: rows for the same transaction."""

    rows: tuple[Op, ...]


def identity(email: str = "ada@example.com", oid: str = OID) -> SignInIdentity:
    return SignInIdentity(tenant_id=TID, object_id=oid, email=email, name="Ada", group_ids=())


def provision(users: UserStore, ident: SignInIdentity, entitlements: Entitlements = NONE) -> User:
    return users.provision(
        ident, tenant="acme", customer_id="cust", entitlements=entitlements, now=NOW
    )


def stored_user(**fields: Any) -> User:
    """Ada as a row the store already holds; `fields` set the rest (id, provider...)."""
    values: dict[str, Any] = {
        "tenant": "acme",
        "email": "ada@example.com",
        "name": "Ada",
        "customer_id": "cust",
        "profiles": (),
        "roles": (),
        "disabled": False,
        "created_at": NOW,
        "last_login_at": None,
        **fields,
    }
    return User(**values)


def all_users(users: UserStore) -> list[User]:
    return users.list("acme", limit=1000, cursor=None)[0]


def test_first_sign_in_creates_one_user_and_later_ones_update_it(any_tables: Tables) -> None:
    users = UserStore(any_tables)
    created = provision(users, identity(), Entitlements(profiles=("p1",), roles=()))
    again = provision(
        users, identity(email="ada.l@example.com"), Entitlements(profiles=("p2",), roles=())
    )
    assert again.id == created.id
    assert (again.email, again.profiles) == ("ada.l@example.com", ("p2",))
    stored = users.get("acme", created.id)
    assert stored is not None and stored.profiles == ("p2",)
    # The old address is free again, the new one is taken.
    other = provision(
        users, identity(email="ada@example.com", oid="99999999-2222-3333-4444-555555555555")
    )
    assert other.id != created.id
    with pytest.raises(AccountConflict):
        provision(
            users, identity(email="ADA.L@example.com", oid="88888888-2222-3333-4444-555555555555")
        )


def test_twenty_parallel_first_sign_ins_of_one_person_make_one_user(
    any_tables: Tables,
) -> None:
    users = UserStore(any_tables)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: provision(users, identity()), range(20)))
    assert len({user.id for user in results}) == 1
    assert len(all_users(users)) == 1


def test_parallel_sign_ins_of_a_returning_person_all_succeed(any_tables: Tables) -> None:
    # Several tabs, or retries: they must not fight over the row for a timestamp.
    users = UserStore(any_tables)
    first = provision(users, identity())
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: provision(users, identity()), range(200)))
    assert {user.id for user in results} == {first.id}


def test_a_returning_user_this_instance_saw_costs_no_read(any_tables: Tables) -> None:
    users = UserStore(any_tables)
    provision(users, identity())
    reads: list[str] = []
    real_get = any_tables.get

    def counted(table: str, partition_key: str, row_key: str) -> Row | None:
        reads.append(row_key)
        return real_get(table, partition_key, row_key)

    any_tables.get = counted  # type: ignore[method-assign]
    again = provision(users, identity())
    assert reads == []
    stored = users.get("acme", again.id)
    assert stored is not None and stored.last_login_at == NOW


def test_a_remembered_user_disabled_by_another_instance_is_refused(any_tables: Tables) -> None:
    here, there = UserStore(any_tables), UserStore(any_tables)  # two instances
    user = provision(here, identity())
    there.set_disabled("acme", user.id, True)
    with pytest.raises(AccountDisabled):
        provision(here, identity())
    stored = here.get("acme", user.id)
    assert stored is not None and stored.disabled


def test_a_remembered_user_changed_elsewhere_is_read_again_and_their_change_kept(
    any_tables: Tables,
) -> None:
    here, there = UserStore(any_tables), UserStore(any_tables)
    user = provision(here, identity(), Entitlements(profiles=("p1",), roles=()))
    there.set_entitlements(
        "acme", user.id, lambda u: Entitlements(profiles=u.profiles, roles=("tenant_admin",))
    )
    # The sign-in decides on the row as it is now: its own profiles, the role dropped
    # only because this sign-in's entitlements say so, never a stale copy written back.
    again = provision(here, identity(), Entitlements(profiles=("p2",), roles=("tenant_admin",)))
    assert (again.profiles, again.roles) == (("p2",), ("tenant_admin",))
    stored = there.get("acme", user.id)
    assert stored is not None and stored.roles == ("tenant_admin",)


def test_a_password_user_with_that_email_refuses_and_nothing_is_written(
    any_tables: Tables,
) -> None:
    users = UserStore(any_tables)
    users.insert_password_user(stored_user(id="pw-1", provider="password"))
    with pytest.raises(ProviderMismatch):
        provision(users, identity(email="Ada@Example.com"))
    assert [u.id for u in all_users(users)] == ["pw-1"]


# --- used states: single use ----------------------------------------------------------


def test_a_state_is_burnt_once_whoever_races_for_it(any_tables: Tables) -> None:
    any_tables.clock = lambda: NOW
    used = UsedStates(any_tables)
    expires = NOW + dt.timedelta(minutes=10)
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def burn() -> None:
        barrier.wait()
        outcome = used.burn("acme", "s-1", expires)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=burn) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert used.burn("acme", "s-2", expires) is True  # another state is its own


def test_a_burn_that_finds_the_state_used_writes_nothing_of_its_rows(any_tables: Tables) -> None:
    any_tables.clock = lambda: NOW
    used = UsedStates(any_tables)
    expires = NOW + dt.timedelta(minutes=10)
    event = {"PartitionKey": "acme", "RowKey": "audit:refused-1"}
    assert used.burn("acme", "s-1", expires, also=[Op("create", event)]) is True
    second = {"PartitionKey": "acme", "RowKey": "audit:refused-2"}
    assert used.burn("acme", "s-1", expires, also=[Op("create", second)]) is False
    assert any_tables.get("users", "acme", "audit:refused-1") is not None
    assert any_tables.get("users", "acme", "audit:refused-2") is None


def test_a_used_mark_outlives_its_state_and_then_expires(any_tables: Tables) -> None:
    any_tables.clock = lambda: NOW
    used = UsedStates(any_tables)
    expires = NOW + dt.timedelta(minutes=10)
    used.burn("acme", "s-1", expires)
    key = used.row("acme", "s-1", expires).entity["RowKey"]
    any_tables.clock = lambda: expires + dt.timedelta(minutes=4)
    assert any_tables.get("users", "acme", key) is not None
    any_tables.clock = lambda: expires + dt.timedelta(minutes=6)
    assert any_tables.get("users", "acme", key) is None


# --- the sign-in's transaction: the user with the caller's rows --------------------------


def audit_row(user: User) -> list[Op]:
    return [
        Op(
            "create",
            {"PartitionKey": "acme", "RowKey": f"audit:test-{user.id}-{NOW.timestamp()}", "a": 1},
        )
    ]


def test_the_callers_rows_are_made_for_the_user_found_and_written_with_it(
    any_tables: Tables,
) -> None:
    # A user row whose id is not the one derived from (tid, oid), found through the
    # email index (an account made another way): the rows name that user, not the id
    # the sign-in would have made up.
    users = UserStore(any_tables)
    existing = stored_user(
        id="legacy-0001", provider="microsoft", entra_tenant_id=TID, entra_object_id=OID
    )
    users.insert_password_user(existing)  # writes the user and its email index as given
    seen: list[str] = []

    def rows(user: User) -> Rows:
        seen.append(user.id)
        return Rows(tuple(audit_row(user)))

    signed_in, extra = users.provision_with(
        identity(), tenant="acme", customer_id="cust", entitlements=NONE, now=NOW, also=rows
    )
    assert signed_in.id == "legacy-0001" and seen == ["legacy-0001"]
    assert extra.rows == tuple(audit_row(signed_in))  # handed back as made
    written = any_tables.get("users", "acme", audit_row(signed_in)[0].entity["RowKey"])
    assert written is not None


def test_a_refused_row_of_the_caller_leaves_no_user_and_is_named(
    any_tables: Tables,
) -> None:
    users = UserStore(any_tables)
    clash = {"PartitionKey": "acme", "RowKey": "audit:taken"}
    any_tables.insert("users", clash)
    free = {**clash, "RowKey": "audit:free"}
    with pytest.raises(TransactionFailed) as refused:
        users.provision_with(
            identity(),
            tenant="acme",
            customer_id="cust",
            entitlements=NONE,
            now=NOW,
            also=lambda user: Rows((Op("create", free), Op("create", clash))),
        )
    # Which of the caller's rows was refused, and why: the caller knows what it means.
    assert (refused.value.index, refused.value.reason) == (1, "exists")
    assert all_users(users) == []
    assert any_tables.get("users", "acme", "audit:free") is None
    assert any_tables.get("users", "acme", "email:ada@example.com") is None
