"""The SCIM token's per-instance memory: a revoked or replaced token stops at once on
the instance that revoked it, even when a request was checking it at that moment."""

from __future__ import annotations

import datetime as dt

from shared.store.scim_tokens import ScimTokenStore, new_scim_token
from shared.store.tenant_partition import TABLE
from tests.support.memory_tables import ChangedDuringTheRead, MemoryTables

NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def made(store: ScimTokenStore, tables: MemoryTables) -> str:
    token = new_scim_token()
    tables.transact(TABLE, [store.replace_op("contoso", token, now=NOW, actor="admin")])
    return token


def test_a_token_revoked_while_a_request_checks_it_is_refused_at_once_afterwards() -> None:
    tables = MemoryTables()
    racing = ChangedDuringTheRead(tables)
    store = ScimTokenStore(racing)
    token = made(store, tables)
    racing.meanwhile = lambda: store.revoke("contoso")

    assert store.matches("contoso", token)  # read before the revocation: still good then
    assert not store.matches("contoso", token)  # ... and never remembered past it


def test_a_token_replaced_while_a_request_checks_it_is_refused_at_once_afterwards() -> None:
    tables = MemoryTables()
    racing = ChangedDuringTheRead(tables)
    store = ScimTokenStore(racing)
    old = made(store, tables)
    new: list[str] = []

    def replace() -> None:
        token = new_scim_token()
        tables.transact(TABLE, [store.replace_op("contoso", token, now=NOW, actor="admin")])
        store.forget("contoso")  # as ScimService.new_token does once the row is written
        new.append(token)

    racing.meanwhile = replace
    assert store.matches("contoso", old)
    assert not store.matches("contoso", old)
    assert store.matches("contoso", new[0])


def test_a_good_token_is_remembered_and_a_wrong_one_never_is() -> None:
    tables = MemoryTables()
    store = ScimTokenStore(tables)
    token = made(store, tables)
    assert store.matches("contoso", token)
    tables.delete(TABLE, "contoso", "scimtoken")  # revoked by another instance
    assert store.matches("contoso", token)  # remembered here for up to 30 s
    assert not store.matches("contoso", new_scim_token())
    assert not store.matches("fabrikam", token)
