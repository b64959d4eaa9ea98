"""The store suite: the Tables contract (shared.store.rows) checked on both stores.

Every contract test runs twice, on the Table Storage adapter over a real Azurite
and on the unit tests' MemoryTables (fixture `tables`), so the in-memory store
cannot drift from the real thing. The tests after "tables" are the adapter's own
(table creation, storage down, the Azurite helper)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import devtools.azurite
from devtools.azurite import Azurite, AzuriteFailed, AzuriteMissing, connection_string
from shared.errors import InvalidRequest, SsoUnavailable
from shared.store.rows import (
    EntityExists,
    EtagMismatch,
    InvalidKey,
    Op,
    Tables,
    TransactionFailed,
    cursor_scope,
    encode_cursor,
    key_part,
    text_key,
)
from shared.store.tables import TableStore


@pytest.fixture
def tables(any_tables: Tables) -> Tables:
    return any_tables


HOSTILE = "x' or PartitionKey ne '"


def row(pk: str, rk: str, **values: object) -> dict[str, object]:
    return {"PartitionKey": pk, "RowKey": rk, **values}


def run_together(count: int, work: Callable[[], str]) -> list[str]:
    """Run `work` in `count` threads released at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[str] = []
    lock = threading.Lock()

    def runner() -> None:
        barrier.wait()
        result = work()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=runner) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


# --- single rows ----------------------------------------------------------------------


def test_insert_if_absent_refuses_a_second_insert_and_keeps_the_first(
    tables: Tables,
) -> None:
    tables.insert("things", row("p", "r", value="first"))
    with pytest.raises(EntityExists):
        tables.insert("things", row("p", "r", value="second"))
    stored = tables.get("things", "p", "r")
    assert stored is not None and stored.data["value"] == "first"


def test_a_missing_row_reads_as_none(tables: Tables) -> None:
    assert tables.get("things", "p", "nothing-here") is None


def test_update_with_a_stale_etag_is_refused_and_changes_nothing(tables: Tables) -> None:
    first = tables.insert("things", row("p", "r", value="v1"))
    second = tables.update("things", row("p", "r", value="v2"), etag=first.etag)
    with pytest.raises(EtagMismatch):
        tables.update("things", row("p", "r", value="v3"), etag=first.etag)
    stored = tables.get("things", "p", "r")
    assert stored is not None and stored.data["value"] == "v2"
    assert stored.etag == second.etag


def test_update_of_a_deleted_row_is_refused_and_does_not_recreate_it(
    tables: Tables,
) -> None:
    created = tables.insert("things", row("p", "r"))
    assert tables.delete("things", "p", "r") is True
    with pytest.raises(EtagMismatch):
        tables.update("things", row("p", "r", value="back"), etag=created.etag)
    assert tables.get("things", "p", "r") is None


def test_upsert_creates_then_replaces_the_whole_row(tables: Tables) -> None:
    tables.upsert("things", row("p", "r", a=1, b=2))
    tables.upsert("things", row("p", "r", a=3))
    stored = tables.get("things", "p", "r")
    assert stored is not None
    assert stored.data == row("p", "r", a=3)


def test_values_read_back_as_plain_python_values(tables: Tables) -> None:
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    tables.insert(
        "things",
        row("p", "r", big=2**40, small=-7, flag=True, ratio=0.5, text="é\n'\"", when=when),
    )
    stored = tables.get("things", "p", "r")
    assert stored is not None
    assert stored.data["big"] == 2**40 and type(stored.data["big"]) is int
    assert stored.data["small"] == -7 and stored.data["flag"] is True
    assert stored.data["ratio"] == 0.5 and stored.data["text"] == "é\n'\""
    assert stored.data["when"] == when


def test_unconditional_delete_reports_whether_a_row_was_there(tables: Tables) -> None:
    tables.insert("things", row("p", "r"))
    assert tables.delete("things", "p", "r") is True
    assert tables.delete("things", "p", "r") is False
    assert tables.get("things", "p", "r") is None


def test_conditional_delete_with_a_stale_etag_is_refused_and_keeps_the_row(
    tables: Tables,
) -> None:
    first = tables.insert("things", row("p", "r", value="v1"))
    tables.update("things", row("p", "r", value="v2"), etag=first.etag)
    with pytest.raises(EtagMismatch):
        tables.delete("things", "p", "r", etag=first.etag)
    stored = tables.get("things", "p", "r")
    assert stored is not None and stored.data["value"] == "v2"


def test_concurrent_deletes_with_the_same_etag_have_exactly_one_winner(
    tables: Tables,
) -> None:
    created = tables.insert("flows", row("acme", "state-1"))

    def consume() -> str:
        try:
            tables.delete("flows", "acme", "state-1", etag=created.etag)
        except EtagMismatch:
            return "lost"
        return "won"

    assert run_together(8, consume) == ["lost"] * 7 + ["won"]
    assert tables.get("flows", "acme", "state-1") is None


def test_get_then_conditional_delete_consumes_a_row_exactly_once(tables: Tables) -> None:
    tables.insert("flows", row("acme", "state-2", nonce="n"))

    def consume() -> str:
        found = tables.get("flows", "acme", "state-2")
        if found is None:
            return "absent"
        try:
            tables.delete("flows", "acme", "state-2", etag=found.etag)
        except EtagMismatch:
            return "lost"
        return "won"

    outcomes = run_together(8, consume)
    assert outcomes.count("won") == 1
    assert tables.get("flows", "acme", "state-2") is None


# --- expiry ---------------------------------------------------------------------------


def test_expired_rows_read_as_absent_and_can_be_inserted_again(tables: Tables) -> None:
    now = dt.datetime.now(dt.UTC)
    tables.clock = lambda: now
    tables.insert("flows", row("acme", "s"), ttl=dt.timedelta(minutes=10))
    tables.insert("flows", row("acme", "t"), ttl=dt.timedelta(minutes=30))
    assert tables.get("flows", "acme", "s") is not None
    tables.clock = lambda: now + dt.timedelta(minutes=11)
    assert tables.get("flows", "acme", "s") is None
    assert [r.row_key for r in tables.query("flows", partition_key="acme").rows] == ["t"]
    tables.insert("flows", row("acme", "s", again=True))
    again = tables.get("flows", "acme", "s")
    assert again is not None and again.data["again"] is True


def test_a_row_is_live_until_its_expiry(tables: Tables) -> None:
    now = dt.datetime.now(dt.UTC)
    tables.clock = lambda: now
    tables.insert("flows", row("acme", "s"), ttl=dt.timedelta(minutes=10))
    tables.clock = lambda: now + dt.timedelta(minutes=9, seconds=59)
    assert tables.get("flows", "acme", "s") is not None
    with pytest.raises(EntityExists):
        tables.insert("flows", row("acme", "s"))


# --- transactions ---------------------------------------------------------------------


def test_a_failing_transaction_leaves_no_row_of_it(tables: Tables) -> None:
    tables.insert("users", row("acme", "email:ada@example.com", user_id="u-0"))
    with pytest.raises(TransactionFailed) as failure:
        tables.transact(
            "users",
            [
                Op("create", row("acme", "user:u-1", email="ada@example.com")),
                Op("create", row("acme", "oid:tid:oid-1", user_id="u-1")),
                Op("create", row("acme", "email:ada@example.com", user_id="u-1")),
            ],
        )
    assert (failure.value.index, failure.value.kind, failure.value.reason) == (
        2,
        "create",
        "exists",
    )
    assert "operation 2 (create)" in str(failure.value)
    assert tables.get("users", "acme", "user:u-1") is None
    assert tables.get("users", "acme", "oid:tid:oid-1") is None
    index = tables.get("users", "acme", "email:ada@example.com")
    assert index is not None and index.data["user_id"] == "u-0"


def test_a_transaction_with_a_stale_etag_is_refused_as_a_whole(tables: Tables) -> None:
    first = tables.insert("users", row("acme", "user:u-1", name="Ada"))
    tables.update("users", row("acme", "user:u-1", name="Ada L."), etag=first.etag)
    with pytest.raises(TransactionFailed) as failure:
        tables.transact(
            "users",
            [
                Op("create", row("acme", "email:ada@example.com", user_id="u-1")),
                Op("update", row("acme", "user:u-1", name="Ada Lovelace"), etag=first.etag),
            ],
        )
    assert (failure.value.index, failure.value.reason) == (1, "precondition")
    assert tables.get("users", "acme", "email:ada@example.com") is None
    stored = tables.get("users", "acme", "user:u-1")
    assert stored is not None and stored.data["name"] == "Ada L."


def test_a_transaction_deleting_a_missing_row_is_refused(tables: Tables) -> None:
    with pytest.raises(TransactionFailed) as failure:
        tables.transact(
            "users",
            [Op("create", row("acme", "a")), Op("delete", row("acme", "never-existed"))],
        )
    assert (failure.value.index, failure.value.kind, failure.value.reason) == (
        1,
        "delete",
        "missing",
    )
    assert tables.get("users", "acme", "a") is None


def test_a_successful_transaction_returns_etags_that_guard_later_writes(
    tables: Tables,
) -> None:
    etags = tables.transact(
        "users", [Op("create", row("acme", "user:u-1")), Op("upsert", row("acme", "x"))]
    )
    stored = tables.get("users", "acme", "user:u-1")
    assert stored is not None and etags[0] == stored.etag
    tables.transact("users", [Op("update", row("acme", "user:u-1", n=2), etag=etags[0])])


def test_a_transaction_across_partitions_is_refused_before_writing(
    tables: Tables,
) -> None:
    with pytest.raises(ValueError, match="one PartitionKey"):
        tables.transact("users", [Op("create", row("a", "1")), Op("create", row("b", "1"))])
    assert tables.get("users", "a", "1") is None


# --- queries --------------------------------------------------------------------------


def test_query_pages_through_a_partition_with_a_cursor(tables: Tables) -> None:
    for index in range(7):
        tables.insert("users", row("acme", f"user:{index:02d}"))
    tables.insert("users", row("other", "user:99"))
    seen: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = tables.query("users", partition_key="acme", limit=3, cursor=cursor)
        seen.append([r.row_key for r in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [
        ["user:00", "user:01", "user:02"],
        ["user:03", "user:04", "user:05"],
        ["user:06"],
    ]


def test_a_cursor_from_one_partition_never_reads_another(tables: Tables) -> None:
    for index in range(4):
        tables.insert("users", row("tenant-a", f"user:{index}"))
        tables.insert("users", row("tenant-b", f"user:{index}"))
    cursor = tables.query("users", partition_key="tenant-a", limit=2).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidRequest) as refused:
        tables.query("users", partition_key="tenant-b", limit=10, cursor=cursor)
    assert list(refused.value.fields) == ["cursor"]
    # A forged cursor (the list's scope is no secret) pointing into tenant-a still
    # reads tenant-b only: the query's PartitionKey filter keeps it in its partition.
    forged = encode_cursor(
        {"PartitionKey": "tenant-a", "RowKey": "user:2"}, cursor_scope("users", "tenant-b", None)
    )
    page = tables.query("users", partition_key="tenant-b", limit=10, cursor=forged)
    assert {r.partition_key for r in page.rows} <= {"tenant-b"}


def test_row_key_prefix_selects_only_that_kind_of_row(tables: Tables) -> None:
    for key in ("user:1", "user:2", "user;", "usep", "email:a@example.com"):
        tables.insert("users", row("acme", key))
    page = tables.query("users", partition_key="acme", row_key_prefix="user:")
    assert [r.row_key for r in page.rows] == ["user:1", "user:2"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-base64!",
        "e30",  # {}
        "W10",  # []
        "eyJwayI6IDF9",  # {"pk": 1}
        "eyJwayI6ICJhIiwgInJrIjogbnVsbCwgIngiOiAxfQ",  # an extra field
        "eyJwayI6ICJcdTAwMDAiLCAicmsiOiBudWxsfQ",  # a control character
        "x" * 3000,
    ],
)
def test_a_malformed_cursor_is_refused_naming_the_field(tables: Tables, cursor: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        tables.query("users", partition_key="acme", cursor=cursor)
    assert "cursor" in refused.value.fields


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_page_size_outside_1_to_1000_is_refused_naming_the_field(
    tables: Tables, limit: int
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        tables.query("users", partition_key="acme", limit=limit)
    assert "limit" in refused.value.fields


def test_odata_shaped_values_are_stored_and_read_back_literally(tables: Tables) -> None:
    tables.insert("users", row(HOSTILE, "user:1", note=HOSTILE))
    tables.insert("users", row(key_part(HOSTILE), key_part(HOSTILE), note=HOSTILE))
    literal = tables.get("users", HOSTILE, "user:1")
    encoded = tables.get("users", key_part(HOSTILE), key_part(HOSTILE))
    assert literal is not None and literal.partition_key == HOSTILE
    assert literal.data["note"] == HOSTILE
    assert encoded is not None and encoded.data["note"] == HOSTILE


def test_odata_shaped_query_values_never_widen_a_query(tables: Tables) -> None:
    tables.insert("users", row("victim", "user:1"))
    tables.insert("users", row(HOSTILE, "user:2"))
    by_partition = tables.query("users", partition_key=HOSTILE)
    assert [(r.partition_key, r.row_key) for r in by_partition.rows] == [(HOSTILE, "user:2")]
    by_prefix = tables.query("users", partition_key="victim", row_key_prefix="zz' or RowKey ne '")
    assert by_prefix.rows == []
    assert tables.query("users", partition_key="' or '1' eq '1").rows == []


# --- keys -----------------------------------------------------------------------------


def test_key_part_encodes_characters_table_keys_forbid() -> None:
    encoded = key_part("a/b\\c#d?e\x01f\x7fg%h\u00e9")
    assert not any(ch in encoded for ch in "/\\#?\x01\x7f\u00e9")
    assert key_part("a/b") != key_part("a%2Fb")
    assert key_part("ada@example.com") == "ada@example.com"


@pytest.mark.parametrize(
    "key", ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "a\tb", "a\x85b", "x" * 513]
)
def test_a_key_table_storage_would_refuse_is_refused_on_write_and_absent_on_read(
    tables: Tables, key: str
) -> None:
    with pytest.raises(InvalidKey):
        tables.insert("things", row("p", key))
    with pytest.raises(InvalidKey):
        tables.transact("things", [Op("create", row(key, "r"))])
    assert tables.get("things", "p", key) is None
    assert tables.get("things", key, "r") is None
    assert tables.delete("things", "p", key) is False


def test_user_text_encoded_with_key_part_round_trips_as_a_key(tables: Tables) -> None:
    text = "a/b\\c#d?e\x01f é " + "z" * 150
    tables.insert("things", row("p", key_part(text), original=text))
    stored = tables.get("things", "p", key_part(text))
    assert stored is not None and stored.data["original"] == text


def test_text_too_long_for_a_key_gets_a_key_that_round_trips_and_stays_distinct(
    tables: Tables,
) -> None:
    first, second = "\u00e9" * 300 + "a", "\u00e9" * 300 + "b"
    tables.insert("things", row("p", text_key("email:", first), original=first))
    tables.insert("things", row("p", text_key("email:", second), original=second))
    for text in (first, second):
        stored = tables.get("things", "p", text_key("email:", text))
        assert stored is not None and stored.data["original"] == text
    listed = tables.query("things", partition_key="p", row_key_prefix="email:").rows
    assert len(listed) == 2


def test_a_property_set_to_none_reads_back_absent(tables: Tables) -> None:
    tables.insert("things", row("p", "r", kept="x", dropped=None))
    stored = tables.get("things", "p", "r")
    assert stored is not None and stored.data["kept"] == "x" and "dropped" not in stored.data


def test_a_string_over_64_kib_is_refused_and_nothing_is_written(tables: Tables) -> None:
    with pytest.raises(SsoUnavailable):
        tables.insert("things", row("p", "r", text="x" * (32 * 1024 + 1)))
    assert tables.get("things", "p", "r") is None
    tables.insert("things", row("p", "r", text="x" * (32 * 1024)))  # the limit itself is fine
    stored = tables.get("things", "p", "r")
    assert stored is not None and len(stored.data["text"]) == 32 * 1024


def test_a_binary_over_64_kib_is_refused(tables: Tables) -> None:
    with pytest.raises(SsoUnavailable):
        tables.insert("things", row("p", "r", blob=b"\x01" * (64 * 1024 + 1)))
    tables.insert("things", row("p", "r", blob=b"\x01" * (64 * 1024)))
    stored = tables.get("things", "p", "r")
    assert stored is not None and stored.data["blob"] == b"\x01" * (64 * 1024)


def test_a_page_holds_only_live_rows_and_the_cursor_still_reaches_the_rest(
    tables: Tables,
) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tables.clock = lambda: now
    for n in range(6):
        ttl = dt.timedelta(minutes=1 if n < 3 else 60)
        tables.insert("flows", row("acme", f"s{n}"), ttl=ttl)
    tables.clock = lambda: now + dt.timedelta(minutes=5)
    first = tables.query("flows", partition_key="acme", limit=4)
    assert [r.row_key for r in first.rows] == ["s3"]
    assert first.next_cursor is not None
    rest = tables.query("flows", partition_key="acme", limit=4, cursor=first.next_cursor)
    assert [r.row_key for r in rest.rows] == ["s4", "s5"] and rest.next_cursor is None


def test_find_keys_gives_a_range_or_its_expired_rows_with_their_etags(tables: Tables) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tables.clock = lambda: now
    for pk in ("a", "b"):
        for rk in ("k1", "k2", "x1"):
            tables.insert("things", row(pk, rk), ttl=dt.timedelta(minutes=1 if rk == "k1" else 60))
    tables.clock = lambda: now + dt.timedelta(minutes=5)

    ranged = list(
        tables.find_keys("things", partition_key="a", row_key_from="k", row_key_before="l")
    )
    assert [(r.partition_key, r.row_key) for r in ranged] == [("a", "k1"), ("a", "k2")]
    expired = list(tables.find_keys("things", expired_only=True))
    assert [(r.partition_key, r.row_key) for r in expired] == [("a", "k1"), ("b", "k1")]
    tables.delete("things", "a", "k1", etag=expired[0].etag)  # the etag guards a delete


# --- tables ---------------------------------------------------------------------------


def test_a_table_is_created_on_first_use_even_by_many_threads_at_once(
    table_store: TableStore,
) -> None:
    def first_use() -> str:
        return "absent" if table_store.get("fresh", "p", "r") is None else "present"

    assert run_together(6, first_use) == ["absent"] * 6
    table_store.insert("fresh", row("p", "r"))
    assert table_store.get("fresh", "p", "r") is not None


def test_a_transaction_starts_no_thread(
    table_store: TableStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # azure-core would run each operation's header policies in a new thread pool, for
    # the request and again for the response; this adapter runs them in line.
    started: list[str] = []
    real_start = threading.Thread.start

    def counting(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    table_store.get("things", "p", "warm-up")  # the table exists before counting
    monkeypatch.setattr(threading.Thread, "start", counting)
    table_store.transact("things", [Op("create", row("p", f"r{n}")) for n in range(4)])
    assert started == []
    assert len(list(table_store.scan_partition("things", partition_key="p"))) == 4


def test_a_transaction_body_is_byte_for_byte_what_azure_core_writes(
    table_store: TableStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapter has azure-core flatten multipart bodies with a cheaper stdlib
    # policy; the bytes on the wire must not change (non-ASCII values, an update
    # with its etag, long values that the email policies could fold).
    import email.policy

    from azure.core.utils import _pipeline_transport_rest_shared as multipart

    from shared.store import table_wire

    sent: list[Any] = []
    real_send = table_wire._InLinePartsTransport.send

    def capturing(self: Any, request: Any, **kwargs: Any) -> Any:
        sent.append(request)
        return real_send(self, request, **kwargs)

    existing = table_store.insert("things", row("p", "old", name="x"))
    monkeypatch.setattr(table_wire._InLinePartsTransport, "send", capturing)
    table_store.transact(
        "things",
        [
            Op("create", row("p", "r1", name="Zoë Ångström \u2013 名前", note="x" * 300)),
            Op("update", row("p", "old", name="Łukasz"), etag=existing.etag),
            Op("create", row("p", "r2", header_like="Subject: =?utf-8?q?x?=\r\nX: y")),
        ],
    )
    request = sent[-1]
    ours = bytes(request.content)
    monkeypatch.setattr(multipart, "HTTP", email.policy.HTTP)
    request.prepare_multipart_body()
    assert bytes(request.content) == ours
    written = table_store.get("things", "p", "r1")
    assert written is not None and written.data["name"] == "Zoë Ångström \u2013 名前"


# --- unavailable storage --------------------------------------------------------------


def test_every_operation_on_stopped_storage_is_sso_unavailable_within_seconds(
    private_azurite: Azurite,
) -> None:
    store = TableStore.from_connection_string(private_azurite.connection_string)
    try:
        created = store.insert("things", row("p", "r"))
        private_azurite.stop()
        operations: list[Callable[[], object]] = [
            lambda: store.get("things", "p", "r"),
            lambda: store.insert("things", row("p", "s")),
            lambda: store.upsert("things", row("p", "r")),
            lambda: store.update("things", row("p", "r"), etag=created.etag),
            lambda: store.delete("things", "p", "r", etag=created.etag),
            lambda: store.delete("things", "p", "r"),
            lambda: store.transact("things", [Op("create", row("p", "t"))]),
            lambda: store.query("things", partition_key="p"),
            lambda: store.get("notcreatedyet", "p", "r"),
            store.ping,
        ]
        started = time.monotonic()
        for operation in operations:
            with pytest.raises(SsoUnavailable):
                operation()
        assert time.monotonic() - started < 10
    finally:
        store.close()


class SilentServer:
    """Accepts TCP connections and never answers: storage that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_storage_that_never_answers_is_sso_unavailable_within_the_timeouts(
    silent_server: SilentServer,
) -> None:
    # A read is the slowest case: it is retried once after the read timeout.
    store = TableStore.from_connection_string(connection_string(silent_server.port))
    try:
        started = time.monotonic()
        with pytest.raises(SsoUnavailable):
            store.ping()
        assert time.monotonic() - started < 12
    finally:
        store.close()


# --- the Azurite helper ---------------------------------------------------------------


def test_starting_azurite_without_it_installed_says_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(devtools.azurite, "AZURITE_TABLE", tmp_path / "azurite-table")
    with pytest.raises(AzuriteMissing, match="make setup"):
        devtools.azurite.start_azurite()


def test_starting_azurite_on_a_port_in_use_is_refused(azurite: Azurite) -> None:
    with pytest.raises(AzuriteFailed, match="in use"):
        devtools.azurite.start_azurite(port=azurite.port)
