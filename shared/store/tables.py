"""Table Storage adapter (azure-data-tables): the only module that touches that SDK.
It satisfies shared.store.rows.Tables (the guarantees every caller relies on are
listed there); beyond them:
- tables are created on first use, once per process per table;
- everything the SDK raises that the operation does not handle (refused
  connection, timeout, 5xx, throttling, failed authentication, an unexpected
  4xx) becomes the contract's `SsoUnavailable` within seconds (short timeouts,
  one retry), never an SDK exception;
- queries are parameterised;
- values round-trip as plain Python: an int beyond 32 bits is stored as Int64
  and read back as an int.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.store.rows import (
    EXPIRES_AT,
    MAX_PAGE_SIZE,
    EntityExists,
    EtagMismatch,
    Op,
    Page,
    Row,
    Tables,
    TransactionFailed,
    check_page_size,
    check_transaction,
    cursor_scope,
    decode_cursor,
    encode_cursor,
    is_expired,
    key_problem,
)
from shared.store.table_wire import (
    CLIENT_OPTIONS,
    SCAN_READ_TIMEOUT,
    batch_operation,
    in_line_parts,
    outgoing,
    plain_row,
    range_filter,
    storage_errors,
    transaction_reason,
    transport,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient

    from shared.settings import Settings

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TableStore(Tables):
    """Rows of the project's tables. Thread-safe: one instance per process.

    `prefix` is put before every table name (tests give each test its own tables);
    `clock` must return an aware UTC datetime (tests move it to expire rows)."""

    def __init__(
        self,
        service: TableServiceClient,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        prefix: str = "",
    ) -> None:
        if prefix and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", prefix):
            raise ValueError("a table prefix is letters and digits, starting with a letter")
        self.service = service
        self.clock = clock
        self.prefix = prefix
        self._clients: dict[str, TableClient] = {}
        self._creation_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, credential: TokenCredential | None = None, prefix: str = ""
    ) -> TableStore:
        """The connection string when set (Azurite, dev), else TABLES_ENDPOINT with
        `credential` (managed identity: the caller builds it)."""
        if settings.tables_connection_string is not None:
            return cls.from_connection_string(
                settings.tables_connection_string.reveal(), prefix=prefix
            )
        if settings.tables_endpoint is None or credential is None:
            raise ValueError("TABLES_ENDPOINT needs a credential")
        service = TableServiceClient(
            endpoint=settings.tables_endpoint,
            credential=credential,
            transport=transport(),
            **CLIENT_OPTIONS,
        )
        return cls(service, prefix=prefix)

    @classmethod
    def from_connection_string(cls, connection_string: str, *, prefix: str = "") -> TableStore:
        service = TableServiceClient.from_connection_string(
            connection_string, transport=transport(), **CLIENT_OPTIONS
        )
        return cls(service, prefix=prefix)

    def close(self) -> None:
        self.service.close()

    # --- single rows -------------------------------------------------------------------

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        """Point read: the live row, or None (absent, expired, or a key no row can have)."""
        if key_problem(partition_key) or key_problem(row_key):
            return None
        client = self._table(table)
        with storage_errors("read"):
            try:
                entity = client.get_entity(partition_key, row_key)
            except ResourceNotFoundError:
                return None
        row = plain_row(entity)
        return None if self._expired(row) else row

    def insert(
        self, table: str, entity: Mapping[str, Any], *, ttl: dt.timedelta | None = None
    ) -> Row:
        """Insert if absent, else `EntityExists`. With `ttl` the row gets `ExpiresAt`.
        An expired row in the way is removed first, so it never blocks an insert."""
        data = dict(entity)
        if ttl is not None:
            data[EXPIRES_AT] = self.clock() + ttl
        sdk_entity = outgoing(data)
        client = self._table(table)
        with storage_errors("insert"):
            for _ in range(2):
                try:
                    metadata = client.create_entity(sdk_entity)
                except ResourceExistsError:
                    if not self._remove_if_expired(client, data["PartitionKey"], data["RowKey"]):
                        raise EntityExists() from None
                else:
                    return Row(data=data, etag=str(metadata["etag"]))
        raise EntityExists()  # an expired row was replaced by a live one meanwhile

    def upsert(self, table: str, entity: Mapping[str, Any]) -> Row:
        """Create or replace the whole row, whatever version is there."""
        sdk_entity = outgoing(entity)
        client = self._table(table)
        with storage_errors("upsert"):
            metadata = client.upsert_entity(sdk_entity, mode=UpdateMode.REPLACE)
        return Row(data=dict(entity), etag=str(metadata["etag"]))

    def update(self, table: str, entity: Mapping[str, Any], *, etag: str) -> Row:
        """Replace the row only if it still has `etag`, else `EtagMismatch` (also when
        the row is gone)."""
        sdk_entity = outgoing(entity)
        client = self._table(table)
        with storage_errors("update"):
            try:
                metadata = client.update_entity(
                    sdk_entity,
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                raise EtagMismatch() from None
        return Row(data=dict(entity), etag=str(metadata["etag"]))

    def delete(
        self, table: str, partition_key: str, row_key: str, *, etag: str | None = None
    ) -> bool:
        """Delete the row. Without `etag`: True if a row (live or expired) was there.

        With `etag` (the one `get` returned): only that version, True, or else
        `EtagMismatch` (changed or already gone). Of concurrent callers holding the
        same etag exactly one gets True: "get, then delete with its etag" consumes a
        row exactly once."""
        if key_problem(partition_key) or key_problem(row_key):
            if etag is not None:
                raise EtagMismatch()
            return False
        options: dict[str, Any] = {}
        if etag is not None:
            options = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        statuses: list[int] = []

        def record_status(response: Any) -> None:
            statuses.append(int(response.http_response.status_code))

        client = self._table(table)
        with storage_errors("delete"):
            try:
                # The SDK's delete_entity reports a missing row as success, so losers of
                # a race could not be told from the winner by its result: the status
                # the service answered is read from the response hook instead (a
                # one-operation transaction would do too, at three times the CPU).
                client.delete_entity(
                    partition_key, row_key, raw_response_hook=record_status, **options
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                raise EtagMismatch() from None
        gone = not statuses or statuses[-1] == 404
        if gone and etag is not None:
            raise EtagMismatch()
        return not gone

    # --- transactions ------------------------------------------------------------------

    def transact(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        """All or nothing: the operations share one PartitionKey (at most 100). Returns
        each operation's new etag (None for deletes); `TransactionFailed` names the
        operation that was refused, and then nothing was written."""
        if not operations:
            return []
        check_transaction(operations)
        batch = [batch_operation(op) for op in operations]
        client = self._table(table)
        with storage_errors("transaction"):
            try:
                results = client.submit_transaction(batch)
            except TableTransactionError as error:
                reason = transaction_reason(error)
                if reason is None:
                    raise
                index = error.index if 0 <= error.index < len(operations) else 0
                raise TransactionFailed(index, operations[index].kind, reason) from None
        return [str(result["etag"]) if result.get("etag") else None for result in results]

    def apply(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        """`transact`, but a single operation goes as a plain request (an entity group
        transaction costs three times the CPU in the SDK). Failures read the same
        either way: `TransactionFailed` naming operation 0."""
        if len(operations) != 1:
            return self.transact(table, operations)
        (op,) = operations
        try:
            if op.kind == "create":
                return [self.insert(table, op.entity).etag]
            if op.kind == "upsert":
                return [self.upsert(table, op.entity).etag]
            if op.kind == "update" and op.etag is not None:
                return [self.update(table, op.entity, etag=op.etag).etag]
            if op.kind == "delete" and op.etag is not None:
                self.delete(table, op.entity["PartitionKey"], op.entity["RowKey"], etag=op.etag)
                return [None]
        except EntityExists:
            raise TransactionFailed(0, op.kind, "exists") from None
        except EtagMismatch:
            raise TransactionFailed(0, op.kind, "precondition") from None
        return self.transact(table, operations)  # unconditional update/delete: as a batch

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
        """One page of live rows of a partition (see `Tables.query`)."""
        check_page_size(limit)
        scope = cursor_scope(table, partition_key, row_key_prefix)
        continuation = decode_cursor(cursor, scope) if cursor is not None else None
        query_filter, parameters = range_filter(partition_key, row_key_prefix)
        client = self._table(table)
        rows: list[Row] = []
        next_token: Any = None
        with storage_errors("query"):
            pages = client.query_entities(
                query_filter, parameters=parameters, results_per_page=limit
            ).by_page(continuation_token=continuation)  # type: ignore[arg-type]
            for page in pages:
                rows = [row for row in map(plain_row, page) if not self._expired(row)]
                next_token = pages.continuation_token  # type: ignore[attr-defined]
                break
        return Page(rows=rows, next_cursor=encode_cursor(next_token, scope) if next_token else None)

    def find_keys(
        self,
        table: str,
        *,
        partition_key: str | None = None,
        row_key_from: str | None = None,
        row_key_before: str | None = None,
        expired_only: bool = False,
    ) -> Iterator[Row]:
        """The keys (and etags) of the rows in a RowKey range of one partition, or of
        the whole table; with `expired_only` only rows whose `ExpiresAt` has passed.
        Pages are read as the caller iterates (for housekeeping's deletes)."""
        clauses: list[str] = []
        parameters: dict[str, Any] = {}
        if partition_key is not None:
            clauses.append("PartitionKey eq @pk")
            parameters["pk"] = partition_key
        if row_key_from is not None:
            clauses.append("RowKey ge @lo")
            parameters["lo"] = row_key_from
        if row_key_before is not None:
            clauses.append("RowKey lt @hi")
            parameters["hi"] = row_key_before
        if expired_only:
            clauses.append(f"{EXPIRES_AT} lt @now")
            parameters["now"] = self.clock()
        client = self._table(table)
        with storage_errors("scan"):
            # A filtered scan may take the service up to 5 s per page.
            options: dict[str, Any] = {
                "select": ["PartitionKey", "RowKey"],
                "results_per_page": MAX_PAGE_SIZE,
                "read_timeout": SCAN_READ_TIMEOUT,
            }
            found = (
                client.query_entities(" and ".join(clauses), parameters=parameters, **options)
                if clauses
                else client.list_entities(**options)
            )
            for entity in found:
                yield plain_row(entity)

    def ping(self) -> None:
        """Health check: one cheap call that needs the service to answer."""
        with storage_errors("ping"):
            next(iter(self.service.list_tables(results_per_page=1).by_page()), None)

    # --- internals ---------------------------------------------------------------------

    def _table(self, table: str) -> TableClient:
        name = f"{self.prefix}{table}"
        client = self._clients.get(name)
        if client is not None:
            return client
        if not _TABLE_NAME.fullmatch(name):
            raise ValueError(f"invalid table name {name!r}")
        with self._lock:
            creation = self._creation_locks.setdefault(name, threading.Lock())
        with creation:  # one creation request per table, however many threads arrive
            client = self._clients.get(name)
            if client is None:
                with storage_errors("create table"):
                    self.service.create_table_if_not_exists(name)
                client = self.service.get_table_client(name)
                in_line_parts(client)
                self._clients[name] = client
        return client

    def _expired(self, row: Row) -> bool:
        return is_expired(row, self.clock())

    def _remove_if_expired(self, client: TableClient, partition_key: str, row_key: str) -> bool:
        """True if no live row holds these keys any more (an expired one was deleted)."""
        try:
            existing = plain_row(client.get_entity(partition_key, row_key))
        except ResourceNotFoundError:
            return True
        if not self._expired(existing):
            return False
        try:
            client.delete_entity(
                partition_key,
                row_key,
                etag=existing.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return False  # rewritten meanwhile: a live row
        return True
