"""In-memory tables with Table Storage's semantics, for unit tests of the services.

`MemoryTables` satisfies `shared.store.rows.Tables` the way the Table Storage
adapter does: etags that change on every write, conditional updates and deletes,
all-or-nothing transactions that name the failing operation, expiry on read,
RowKey-ordered pages with cursors bound to their list, the key and size limits.
The store suite (tests/integration/test_tables.py and the adapter suites) runs
every test against both this and Azurite, so the two cannot drift apart.

`fail_with` makes every call raise (storage down), as Table Storage's adapter
raises `SsoUnavailable` when the service cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from shared.errors import SsoUnavailable
from shared.store.rows import (
    EXPIRES_AT,
    EntityExists,
    EtagMismatch,
    Op,
    Page,
    Row,
    Tables,
    TransactionFailed,
    TransactionReason,
    check_page_size,
    check_transaction,
    checked_keys,
    cursor_scope,
    decode_cursor,
    encode_cursor,
    is_expired,
    key_problem,
    prefix_upper_bound,
)

Key = tuple[str, str]  # (PartitionKey, RowKey)

# What Table Storage stores (the SDK refuses anything else) and its size limits.
_VALUE_TYPES = (str, bytes, bool, int, float, dt.datetime, uuid.UUID)
_MAX_STRING_CHARS = 32 * 1024  # 64 KiB of UTF-16
_MAX_BINARY_BYTES = 64 * 1024
_MAX_PROPERTIES = 255  # PartitionKey, RowKey and Timestamp included: 252 of ours


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MemoryTables(Tables):
    def __init__(self, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.clock = clock
        self.fail_with: Exception | None = None
        self._tables: dict[str, dict[Key, Row]] = {}
        self._versions = itertools.count(1)
        self._lock = threading.Lock()

    # --- single rows -------------------------------------------------------------------

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        self._check_up()
        if key_problem(partition_key) or key_problem(row_key):
            return None
        with self._lock:
            row = self._rows(table).get((partition_key, row_key))
        return None if row is None or self._expired(row) else _copy(row)

    def insert(
        self, table: str, entity: Mapping[str, Any], *, ttl: dt.timedelta | None = None
    ) -> Row:
        data = dict(entity)
        if ttl is not None:
            data[EXPIRES_AT] = self.clock() + ttl
        stored = _checked(data)
        with self._lock:
            self._check_up()
            rows = self._rows(table)
            existing = rows.get(_key(stored))
            if existing is not None and not self._expired(existing):
                raise EntityExists()
            return self._write(rows, stored)

    def upsert(self, table: str, entity: Mapping[str, Any]) -> Row:
        stored = _checked(entity)
        with self._lock:
            self._check_up()
            return self._write(self._rows(table), stored)

    def update(self, table: str, entity: Mapping[str, Any], *, etag: str) -> Row:
        stored = _checked(entity)
        with self._lock:
            self._check_up()
            rows = self._rows(table)
            existing = rows.get(_key(stored))
            if existing is None or existing.etag != etag:
                raise EtagMismatch()
            return self._write(rows, stored)

    def delete(
        self, table: str, partition_key: str, row_key: str, *, etag: str | None = None
    ) -> bool:
        self._check_up()
        if key_problem(partition_key) or key_problem(row_key):
            if etag is not None:
                raise EtagMismatch()
            return False
        with self._lock:
            rows = self._rows(table)
            existing = rows.get((partition_key, row_key))
            if etag is not None and (existing is None or existing.etag != etag):
                raise EtagMismatch()
            return rows.pop((partition_key, row_key), None) is not None

    # --- transactions ------------------------------------------------------------------

    def transact(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        if not operations:
            return []
        check_transaction(operations)
        with self._lock:
            self._check_up()
            rows = self._rows(table)
            for index, op in enumerate(operations):
                reason = _refusal(op, rows.get(_key(op.entity)))
                if reason is not None:
                    raise TransactionFailed(index, op.kind, reason)
            etags: list[str | None] = []
            for op in operations:
                if op.kind == "delete":
                    rows.pop(_key(op.entity))
                    etags.append(None)
                else:
                    etags.append(self._write(rows, _checked(op.entity)).etag)
            return etags

    def apply(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        # The adapter sends a single create as a plain insert, which an expired row
        # does not block; everything else reads as a transaction.
        if len(operations) == 1 and operations[0].kind == "create":
            try:
                return [self.insert(table, operations[0].entity).etag]
            except EntityExists:
                raise TransactionFailed(0, "create", "exists") from None
        return self.transact(table, operations)

    # --- queries -----------------------------------------------------------------------

    def query(
        self,
        table: str,
        *,
        partition_key: str,
        row_key_prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        check_page_size(limit)
        scope = cursor_scope(table, partition_key, row_key_prefix)
        start = decode_cursor(cursor, scope).get("RowKey", "") if cursor is not None else ""
        self._check_up()
        upper = prefix_upper_bound(row_key_prefix) if row_key_prefix else None
        in_range = self._range(table, partition_key, max(start, row_key_prefix or ""), upper)
        page, rest = in_range[:limit], in_range[limit:]
        next_cursor = None
        if rest:
            token = {"PartitionKey": partition_key, "RowKey": rest[0].row_key}
            next_cursor = encode_cursor(token, scope)
        # Like the service: a page is read, then the expired rows leave it.
        return Page(rows=[_copy(r) for r in page if not self._expired(r)], next_cursor=next_cursor)

    def find_keys(
        self,
        table: str,
        *,
        partition_key: str | None = None,
        row_key_from: str | None = None,
        row_key_before: str | None = None,
        expired_only: bool = False,
    ) -> Iterator[Row]:
        self._check_up()
        with self._lock:
            found = sorted(self._rows(table).values(), key=lambda row: _key(row.data))
        for row in found:
            if partition_key is not None and row.partition_key != partition_key:
                continue
            if row_key_from is not None and row.row_key < row_key_from:
                continue
            if row_key_before is not None and row.row_key >= row_key_before:
                continue
            if expired_only and not self._expired(row):
                continue
            keys = {"PartitionKey": row.partition_key, "RowKey": row.row_key}
            yield Row(data=keys, etag=row.etag)

    def ping(self) -> None:
        self._check_up()

    def close(self) -> None:
        pass

    # --- for tests -----------------------------------------------------------------------

    def row_count(self, table: str) -> int:
        """Rows stored in `table`, expired ones included (what housekeeping would see)."""
        with self._lock:
            return len(self._rows(table))

    # --- internals ---------------------------------------------------------------------

    def _rows(self, table: str) -> dict[Key, Row]:
        return self._tables.setdefault(table, {})

    def _range(self, table: str, partition_key: str, lower: str, upper: str | None) -> list[Row]:
        with self._lock:
            rows = [
                row
                for (pk, rk), row in self._rows(table).items()
                if pk == partition_key and rk >= lower and (upper is None or rk < upper)
            ]
        return sorted(rows, key=lambda row: row.row_key)

    def _write(self, rows: dict[Key, Row], data: dict[str, Any]) -> Row:
        row = Row(data=data, etag=f'W/"{next(self._versions)}"')
        rows[_key(data)] = row
        return _copy(row)

    def _expired(self, row: Row) -> bool:
        return is_expired(row, self.clock())

    def _check_up(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


def _key(entity: Mapping[str, Any]) -> Key:
    return (str(entity["PartitionKey"]), str(entity["RowKey"]))


def _copy(row: Row) -> Row:
    return Row(data=dict(row.data), etag=row.etag)


def _checked(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The row as Table Storage would store it, or the error it would give."""
    checked_keys(entity)
    data = {name: value for name, value in entity.items() if value is not None}
    if len(data) > _MAX_PROPERTIES - 3:
        raise SsoUnavailable("Table Storage could not be reached or failed the request.")
    for name, value in data.items():
        if not isinstance(value, _VALUE_TYPES):
            raise TypeError(f"{name}: Table Storage stores no {type(value).__name__}")
        too_long = (
            isinstance(value, str) and len(value.encode("utf-16-le")) > 2 * _MAX_STRING_CHARS
        ) or (isinstance(value, bytes) and len(value) > _MAX_BINARY_BYTES)
        if too_long:
            # The service answers 400, which the adapter reports as it reports any
            # request the service did not carry out.
            raise SsoUnavailable("Table Storage could not be reached or failed the request.")
    return data


def _refusal(op: Op, existing: Row | None) -> TransactionReason | None:
    """Why Table Storage would refuse this operation of a batch (it knows no expiry)."""
    if op.kind == "create":
        return "exists" if existing is not None else None
    if op.kind == "upsert":
        return None
    if existing is None:
        return "missing"
    if op.etag is not None and op.etag != existing.etag:
        return "precondition"
    return None


@pytest.fixture
def memory_tables() -> MemoryTables:
    return MemoryTables()


@pytest.fixture(params=["memory", "azurite"])
def any_tables(request: pytest.FixtureRequest) -> Tables:
    """The store suite's tables: each test runs once on MemoryTables and once on
    Azurite (its own tables there), so both keep the same contract."""
    if request.param == "memory":
        return MemoryTables()
    tables: Tables = request.getfixturevalue("table_store")
    return tables


class ChangedDuringTheRead:
    """`tables` whose next point read returns the row as it was while `meanwhile` (a
    change made by another request on this instance) runs: the window in which a
    cache may put back what it read before the change."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.meanwhile: Callable[[], object] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        row = self.tables.get(table, partition_key, row_key)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return row
