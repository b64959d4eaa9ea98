"""The Table Storage adapter against a real Azurite."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from devtools.azurite import Azurite
from shared.errors import InvalidRequest, SsoUnavailable
from shared.store.tables import (
    EntityExists,
    EtagMismatch,
    Op,
    TableStore,
    TransactionFailed,
    key_part,
)


def row(pk: str, rk: str, **values: object) -> dict[str, object]:
    return {"PartitionKey": pk, "RowKey": rk, **values}


def test_insert_if_absent_refuses_a_second_insert_and_keeps_the_first(
    table_store: TableStore,
) -> None:
    table_store.insert("things", row("p", "r", value="first"))
    with pytest.raises(EntityExists):
        table_store.insert("things", row("p", "r", value="second"))
    stored = table_store.get("things", "p", "r")
    assert stored is not None and stored.data["value"] == "first"


def test_update_with_a_stale_etag_is_refused_and_changes_nothing(table_store: TableStore) -> None:
    first = table_store.insert("things", row("p", "r", value="v1"))
    table_store.update("things", row("p", "r", value="v2"), etag=first.etag)
    with pytest.raises(EtagMismatch):
        table_store.update("things", row("p", "r", value="v3"), etag=first.etag)
    stored = table_store.get("things", "p", "r")
    assert stored is not None and stored.data["value"] == "v2"


def test_conditional_delete_has_exactly_one_winner_among_concurrent_consumers(
    table_store: TableStore,
) -> None:
    created = table_store.insert("flows", row("acme", "state-1"))
    outcomes: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            table_store.delete("flows", "acme", "state-1", etag=created.etag)
            result = "won"
        except EtagMismatch:
            result = "lost"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    assert table_store.get("flows", "acme", "state-1") is None


def test_a_failing_transaction_leaves_no_row_of_it(table_store: TableStore) -> None:
    table_store.insert("users", row("acme", "email:ada@example.com", user_id="u-0"))
    with pytest.raises(TransactionFailed) as failure:
        table_store.transact(
            "users",
            [
                Op("create", row("acme", "user:u-1", email="ada@example.com")),
                Op("create", row("acme", "oid:tid:oid-1", user_id="u-1")),
                Op("create", row("acme", "email:ada@example.com", user_id="u-1")),
            ],
        )
    assert failure.value.reason == "exists"
    assert failure.value.index == 2
    assert table_store.get("users", "acme", "user:u-1") is None
    assert table_store.get("users", "acme", "oid:tid:oid-1") is None


def test_expired_rows_read_as_absent_and_can_be_inserted_again(table_store: TableStore) -> None:
    now = dt.datetime.now(dt.UTC)
    table_store.clock = lambda: now
    table_store.insert("flows", row("acme", "s"), ttl=dt.timedelta(minutes=10))
    assert table_store.get("flows", "acme", "s") is not None
    table_store.clock = lambda: now + dt.timedelta(minutes=11)
    assert table_store.get("flows", "acme", "s") is None
    assert table_store.query("flows", partition_key="acme").rows == []
    table_store.insert("flows", row("acme", "s", again=True))
    again = table_store.get("flows", "acme", "s")
    assert again is not None and again.data["again"] is True


def test_query_pages_through_a_partition_with_a_cursor(table_store: TableStore) -> None:
    for index in range(7):
        table_store.insert("users", row("acme", f"user:{index:02d}"))
    table_store.insert("users", row("other", "user:99"))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = table_store.query("users", partition_key="acme", limit=3, cursor=cursor)
        pages += 1
        seen += [r.row_key for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"user:{index:02d}" for index in range(7)]
    assert pages == 3


def test_row_key_prefix_selects_only_that_kind_of_row(table_store: TableStore) -> None:
    table_store.insert("users", row("acme", "user:1"))
    table_store.insert("users", row("acme", "email:a@example.com"))
    page = table_store.query("users", partition_key="acme", row_key_prefix="user:")
    assert [r.row_key for r in page.rows] == ["user:1"]


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "W10", "x" * 3000])
def test_a_malformed_cursor_is_refused_naming_the_field(
    table_store: TableStore, cursor: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        table_store.query("users", partition_key="acme", cursor=cursor)
    assert "cursor" in refused.value.fields


def test_odata_shaped_values_are_data_not_query_syntax(table_store: TableStore) -> None:
    hostile = "x' or PartitionKey ne '"
    table_store.insert("users", row(key_part(hostile), "user:1", note=hostile))
    table_store.insert("users", row("victim", "user:2"))
    page = table_store.query("users", partition_key=key_part(hostile))
    assert [r.data["note"] for r in page.rows] == [hostile]
    assert table_store.query("users", partition_key=hostile).rows == []


def test_key_part_encodes_characters_table_keys_forbid() -> None:
    encoded = key_part("a/b\\c#d?e\x01f%g")
    assert not any(ch in encoded for ch in "/\\#?\x01")
    assert key_part("a/b") != key_part("a%2Fb")
    assert key_part("ada@example.com") == "ada@example.com"


def test_stopped_storage_surfaces_as_sso_unavailable_quickly(private_azurite: Azurite) -> None:
    store = TableStore.from_connection_string(private_azurite.connection_string)
    try:
        store.insert("things", row("p", "r"))
        private_azurite.stop()
        started = time.monotonic()
        with pytest.raises(SsoUnavailable):
            store.get("things", "p", "r")
        assert time.monotonic() - started < 10
    finally:
        store.close()
