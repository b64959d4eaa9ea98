"""Table Storage adapter (azure-data-tables): the only module that touches that SDK.

What callers can rely on:
- tables are created on first use, once per process per table;
- a row may carry `ExpiresAt` (an aware datetime): every read treats an expired
  row as absent;
- the outcomes a caller acts on are this module's exceptions: `EntityExists`
  (insert conflict), `EtagMismatch` (the row changed or vanished since it was
  read), `TransactionFailed` (which operation of a batch failed, and why);
- everything else the SDK raises (refused connection, timeout, 5xx, throttling,
  failed authentication, an unexpected 4xx) becomes the contract's
  `SsoUnavailable` within seconds (short timeouts, one retry), never an SDK
  exception;
- keys: `key_part` ENCODES user-supplied text for use inside a key; a key Table
  Storage would refuse is caught before any I/O (reads: absent; writes:
  `InvalidKey`, a caller bug);
- queries are parameterised; page cursors are opaque, validated strings;
- values round-trip as plain Python: an int beyond 32 bits is stored as Int64
  and read back as an int.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import (
    EdmType,
    EntityProperty,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)

from shared.errors import InvalidRequest, SsoUnavailable
from shared.http import EnvCachedSession
from shared.json_input import parse_json

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient

    from shared.settings import Settings

EXPIRES_AT = "ExpiresAt"
MAX_TRANSACTION_OPERATIONS = 100
MAX_PAGE_SIZE = 1000
PURGE_READ_TIMEOUT = 30
# azure-core's defaults (10 retries, backoff up to 2 minutes, 300 s read timeout)
# would hold a sign-in for minutes when storage is down; fail within seconds instead.
# Inserts and transactions are POSTs, which azure-core never retries after a send.
CLIENT_OPTIONS: Mapping[str, Any] = {
    "retry_total": 1,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 1,
    "connection_timeout": 3,
    "read_timeout": 4,
}
_MAX_KEY_UTF16_UNITS = 512  # keys are at most 1 KiB of UTF-16
_FORBIDDEN_IN_KEYS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_MAX_CURSOR_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_log = logging.getLogger(__name__)


class InvalidKey(ValueError):
    """A PartitionKey/RowKey that Table Storage refuses: a caller bug (use `key_part`)."""


class EntityExists(Exception):
    """Insert refused: a live row with that PartitionKey/RowKey exists."""


class EtagMismatch(Exception):
    """Conditional write or delete refused: the row changed or vanished since it was read."""


TransactionReason = Literal["exists", "precondition", "missing"]
_REASON_TEXT: Mapping[TransactionReason, str] = {
    "exists": "the row already exists",
    "precondition": "the row changed since it was read (stale etag)",
    "missing": "the row does not exist",
}


class TransactionFailed(Exception):
    """An entity group transaction was refused as a whole: nothing of it was written.

    `index` is the position of the failing operation, `kind` its kind, `reason`
    why ("exists": a create found a row; "precondition": an etag was stale;
    "missing": an update or delete found no row)."""

    def __init__(self, index: int, kind: str, reason: TransactionReason) -> None:
        self.index = index
        self.kind = kind
        self.reason: TransactionReason = reason
        super().__init__(f"transaction operation {index} ({kind}) failed: {_REASON_TEXT[reason]}")


@dataclass(frozen=True)
class Row:
    """An entity as plain values (PartitionKey and RowKey included) and its etag."""

    data: dict[str, Any]
    etag: str

    @property
    def partition_key(self) -> str:
        return str(self.data["PartitionKey"])

    @property
    def row_key(self) -> str:
        return str(self.data["RowKey"])


@dataclass(frozen=True)
class Op:
    """One operation of a transaction. `update` replaces the whole row; `update` and
    `delete` with an etag apply only to that version of the row."""

    kind: Literal["create", "update", "upsert", "delete"]
    entity: Mapping[str, Any]
    etag: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: str | None = None


def key_part(value: str) -> str:
    """Percent-encode text for use inside a key. `/ \\ # ?`, control characters, `%`
    and non-ASCII never reach Table Storage raw, and distinct inputs stay distinct
    (so `key_part(a) == key_part(b)` only if `a == b`)."""
    # surrogatepass: a lone surrogate (valid in a JSON string) is encoded, not a crash.
    return quote(value.encode("utf-8", "surrogatepass"), safe="@.-_:~+=!$&'()*,;")


def key_problem(key: str) -> str | None:
    """Why Table Storage would refuse `key` as a PartitionKey/RowKey, or None."""
    if _FORBIDDEN_IN_KEYS.search(key):
        return "contains / \\ # ? or a control character"
    if len(key.encode("utf-16-le")) > 2 * _MAX_KEY_UTF16_UNITS:
        return "is longer than 1 KiB"
    return None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TableStore:
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
            transport=_transport(),
            **CLIENT_OPTIONS,
        )
        return cls(service, prefix=prefix)

    @classmethod
    def from_connection_string(cls, connection_string: str, *, prefix: str = "") -> TableStore:
        service = TableServiceClient.from_connection_string(
            connection_string, transport=_transport(), **CLIENT_OPTIONS
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
        with _storage_errors("read"):
            try:
                entity = client.get_entity(partition_key, row_key)
            except ResourceNotFoundError:
                return None
        row = _row(entity)
        return None if self._expired(row) else row

    def insert(
        self, table: str, entity: Mapping[str, Any], *, ttl: dt.timedelta | None = None
    ) -> Row:
        """Insert if absent, else `EntityExists`. With `ttl` the row gets `ExpiresAt`.
        An expired row in the way is removed first, so it never blocks an insert."""
        data = dict(entity)
        if ttl is not None:
            data[EXPIRES_AT] = self.clock() + ttl
        outgoing = _outgoing(data)
        client = self._table(table)
        with _storage_errors("insert"):
            for _ in range(2):
                try:
                    metadata = client.create_entity(outgoing)
                except ResourceExistsError:
                    if not self._remove_if_expired(client, data["PartitionKey"], data["RowKey"]):
                        raise EntityExists() from None
                else:
                    return Row(data=data, etag=str(metadata["etag"]))
        raise EntityExists()  # an expired row was replaced by a live one meanwhile

    def upsert(self, table: str, entity: Mapping[str, Any]) -> Row:
        """Create or replace the whole row, whatever version is there."""
        outgoing = _outgoing(entity)
        client = self._table(table)
        with _storage_errors("upsert"):
            metadata = client.upsert_entity(outgoing, mode=UpdateMode.REPLACE)
        return Row(data=dict(entity), etag=str(metadata["etag"]))

    def update(self, table: str, entity: Mapping[str, Any], *, etag: str) -> Row:
        """Replace the row only if it still has `etag`, else `EtagMismatch` (also when
        the row is gone)."""
        outgoing = _outgoing(entity)
        client = self._table(table)
        with _storage_errors("update"):
            try:
                metadata = client.update_entity(
                    outgoing,
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
        with _storage_errors("delete"):
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
        if len(operations) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError("a transaction holds at most 100 operations")
        if len({op.entity.get("PartitionKey") for op in operations}) != 1:
            raise ValueError("a transaction's operations share one PartitionKey")
        batch = [_batch_operation(op) for op in operations]
        client = self._table(table)
        with _storage_errors("transaction"):
            try:
                results = client.submit_transaction(batch)
            except TableTransactionError as error:
                reason = _transaction_reason(error)
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
        """One page of live rows of a partition (optionally only RowKeys starting with
        `row_key_prefix`), in RowKey order. `next_cursor` continues it (None: no more
        rows); a page may hold fewer than `limit` rows. A cursor this method did not
        make, or made for another list (table, partition, prefix), is `InvalidRequest`
        naming "cursor"; a limit outside 1..1000 names "limit"."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(fields={"limit": "must be between 1 and 1000"})
        scope = _cursor_scope(table, partition_key, row_key_prefix)
        continuation = _decode_cursor(cursor, scope) if cursor is not None else None
        query_filter, parameters = _range_filter(partition_key, row_key_prefix)
        client = self._table(table)
        rows: list[Row] = []
        next_token: Any = None
        with _storage_errors("query"):
            pages = client.query_entities(
                query_filter, parameters=parameters, results_per_page=limit
            ).by_page(continuation_token=continuation)  # type: ignore[arg-type]
            for page in pages:
                rows = [row for row in map(_row, page) if not self._expired(row)]
                next_token = pages.continuation_token  # type: ignore[attr-defined]
                break
        return Page(
            rows=rows, next_cursor=_encode_cursor(next_token, scope) if next_token else None
        )

    def scan_partition(
        self, table: str, *, partition_key: str, row_key_prefix: str | None = None
    ) -> Iterator[Row]:
        """Every live row of a partition (optionally a RowKey prefix), page by page."""
        cursor: str | None = None
        while True:
            page = self.query(
                table,
                partition_key=partition_key,
                row_key_prefix=row_key_prefix,
                limit=MAX_PAGE_SIZE,
                cursor=cursor,
            )
            yield from page.rows
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def purge_expired(
        self,
        table: str,
        *,
        partition_key: str | None = None,
        row_key_prefix: str | None = None,
        limit: int = 5000,
        budget: float = 60.0,
    ) -> int:
        """Delete up to `limit` rows whose `ExpiresAt` has passed (in one partition's
        RowKey range, or the whole table), for at most about `budget` seconds; how
        many went. Each delete is conditional on the etag read, so a row rewritten
        meanwhile (say, with a new expiry) stays. Rows without `ExpiresAt` never match.
        With a partition and prefix the service reads only that range."""
        query_filter, parameters = f"{EXPIRES_AT} lt @now", {"now": self.clock()}
        if partition_key is not None:
            in_range, parameters = _range_filter(partition_key, row_key_prefix, parameters)
            query_filter = f"{in_range} and {query_filter}"
        return self._delete_matching(table, query_filter, parameters, limit=limit, budget=budget)

    def purge_range(
        self,
        table: str,
        *,
        partition_key: str,
        row_key_from: str,
        row_key_before: str,
        limit: int = 5000,
        budget: float = 60.0,
    ) -> int:
        """Delete up to `limit` rows of one partition with `row_key_from <= RowKey <
        row_key_before` (say, audit events older than their retention), for at most
        about `budget` seconds; how many went. Conditional on the etag read."""
        query_filter = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        parameters = {"pk": partition_key, "lo": row_key_from, "hi": row_key_before}
        return self._delete_matching(table, query_filter, parameters, limit=limit, budget=budget)

    def _delete_matching(
        self,
        table: str,
        query_filter: str,
        parameters: dict[str, Any],
        *,
        limit: int,
        budget: float,
    ) -> int:
        """Delete what the query finds, up to `limit` rows and about `budget` seconds,
        100 rows of a partition per entity group transaction (one round trip; a
        batch that meets a row changed meanwhile is retried row by row)."""
        client = self._table(table)
        removed = 0
        deadline = time.monotonic() + budget
        batch: list[Row] = []
        with _storage_errors("purge"):
            found = client.query_entities(
                query_filter,
                parameters=parameters,
                select=["PartitionKey", "RowKey"],
                results_per_page=MAX_PAGE_SIZE,
                # A filtered scan may take the service up to 5 s per page.
                read_timeout=PURGE_READ_TIMEOUT,
            )
            for entity in found:
                if removed + len(batch) >= limit or time.monotonic() > deadline:
                    break
                row = _row(entity)
                if batch and (
                    batch[0].partition_key != row.partition_key
                    or len(batch) == MAX_TRANSACTION_OPERATIONS
                ):
                    removed += self._delete_batch(table, batch)
                    batch = []
                batch.append(row)
            removed += self._delete_batch(table, batch)
        return removed

    def _delete_batch(self, table: str, rows: list[Row]) -> int:
        if not rows:
            return 0
        ops = [
            Op("delete", {"PartitionKey": r.partition_key, "RowKey": r.row_key}, r.etag)
            for r in rows
        ]
        try:
            self.transact(table, ops)
            return len(rows)
        except TransactionFailed:
            pass  # a row changed or went meanwhile: the others one by one
        removed = 0
        for row in rows:
            try:
                removed += self.delete(table, row.partition_key, row.row_key, etag=row.etag)
            except EtagMismatch:
                continue  # changed or gone meanwhile: it stays (or is gone already)
        return removed

    def ping(self) -> None:
        """Health check: one cheap call that needs the service to answer."""
        with _storage_errors("ping"):
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
                with _storage_errors("create table"):
                    self.service.create_table_if_not_exists(name)
                client = self.service.get_table_client(name)
                self._clients[name] = client
        return client

    def _expired(self, row: Row) -> bool:
        expires = row.data.get(EXPIRES_AT)
        return isinstance(expires, dt.datetime) and expires <= self.clock()

    def _remove_if_expired(self, client: TableClient, partition_key: str, row_key: str) -> bool:
        """True if no live row holds these keys any more (an expired one was deleted)."""
        try:
            existing = _row(client.get_entity(partition_key, row_key))
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


def _transport() -> RequestsTransport:
    # azure-core's own transport, over a session that reads the environment's proxy
    # and CA settings once per host (shared.http.EnvCachedSession). A client given a
    # transport no longer applies its own timeout options: the transport takes them.
    return RequestsTransport(
        session=EnvCachedSession(),
        session_owner=True,
        connection_timeout=CLIENT_OPTIONS["connection_timeout"],
        read_timeout=CLIENT_OPTIONS["read_timeout"],
    )


def _outgoing(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity as the SDK needs it, keys checked before any I/O."""
    for name in ("PartitionKey", "RowKey"):
        key = entity.get(name)
        if not isinstance(key, str):
            raise InvalidKey(f"{name} must be a string")
        problem = key_problem(key)
        if problem:
            raise InvalidKey(f"{name} {problem}")
    return {name: _to_sdk(value) for name, value in entity.items()}


def _to_sdk(value: Any) -> Any:
    # The SDK sends a plain int as Int32 and refuses larger ones.
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        return EntityProperty(value, EdmType.INT64)
    return value


def _row(entity: Mapping[str, Any]) -> Row:
    metadata = getattr(entity, "metadata", None) or {}
    data = {
        name: value.value if isinstance(value, EntityProperty) else value
        for name, value in entity.items()
    }
    return Row(data=data, etag=str(metadata.get("etag") or ""))


def _batch_operation(op: Op) -> tuple[Any, ...]:
    entity = _outgoing(op.entity)
    options: dict[str, Any] = {}
    if op.kind in ("update", "upsert"):
        options["mode"] = UpdateMode.REPLACE
    if op.etag is not None:
        if op.kind not in ("update", "delete"):
            raise ValueError(f"a {op.kind} operation takes no etag")
        options.update(etag=op.etag, match_condition=MatchConditions.IfNotModified)
    return (op.kind, entity, options)


def _transaction_reason(error: TableTransactionError) -> TransactionReason | None:
    """What a refused operation ran into; None when it is not about the row (a missing
    table, a throttled or failing service, an oversized batch)."""
    code = str(getattr(error, "error_code", None) or "")
    if error.status_code == 409 and not code.startswith("Table"):
        return "exists"
    if error.status_code == 412:
        return "precondition"
    if error.status_code == 404 and code != "TableNotFound":
        return "missing"
    return None


def _range_filter(
    partition_key: str, row_key_prefix: str | None, parameters: Mapping[str, Any] = {}
) -> tuple[str, dict[str, Any]]:
    """The filter for one partition (optionally its RowKeys starting with a prefix).
    Values only ever travel as parameters, each `@name` standing alone between
    spaces: the SDK substitutes (and quotes) only such words."""
    query_filter = "PartitionKey eq @pk"
    values: dict[str, Any] = {**parameters, "pk": partition_key}
    if row_key_prefix:
        query_filter += " and RowKey ge @lo"
        values["lo"] = row_key_prefix
        upper = _prefix_upper_bound(row_key_prefix)
        if upper is not None:
            query_filter += " and RowKey lt @hi"
            values["hi"] = upper
    return query_filter, values


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix`."""
    last = ord(prefix[-1]) + 1
    if last == 0xD800:
        last = 0xE000  # skip the surrogates, which no stored string contains
    if last > 0x10FFFF:
        return None
    return prefix[:-1] + chr(last)


@contextmanager
def _storage_errors(action: str) -> Iterator[None]:
    """Whatever the SDK raises that the operation did not handle means the service
    did not do what was asked: SsoUnavailable. Logged with status and code only
    (SDK messages carry URLs with keys in them)."""
    try:
        yield
    except AzureError as error:
        _log.warning(
            "Table Storage %s failed: %s status=%s code=%s",
            action,
            type(error).__name__,
            getattr(error, "status_code", None),
            getattr(error, "error_code", None),
        )
        raise SsoUnavailable("Table Storage could not be reached or failed the request.") from error


def _cursor_scope(table: str, partition_key: str, row_key_prefix: str | None) -> str:
    """Which list a cursor pages. Not a secret (the query's PartitionKey filter is what
    keeps a forged cursor inside its tenant); it makes another tenant's or another
    list's cursor a 400 rather than a page that silently starts somewhere else."""
    listed = "\n".join((table, partition_key, row_key_prefix or ""))
    return hashlib.sha256(listed.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _encode_cursor(token: Mapping[str, Any], scope: str) -> str:
    raw = json.dumps({"s": scope, "pk": token.get("PartitionKey"), "rk": token.get("RowKey")})
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _sendable(text: str) -> bool:
    """No control character, and valid UTF-8 (a JSON string may hold a lone surrogate)."""
    return not _CONTROL.search(text) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _decode_cursor(cursor: str, scope: str) -> dict[str, str]:
    bad = InvalidRequest("The cursor is not one this API returned.", fields={"cursor": "malformed"})
    if not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = parse_json(raw, max_depth=1)
    except (binascii.Error, ValueError):  # JsonRefused is a ValueError
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"s", "pk", "rk"}:
        raise bad
    if data["s"] != scope:
        raise InvalidRequest(
            "The cursor belongs to another list.", fields={"cursor": "not from this list"}
        )
    # The values are the service's own continuation tokens (opaque, not keys).
    partition, row = data["pk"], data["rk"]
    if not isinstance(partition, str) or not partition or not _sendable(partition):
        raise bad
    if row is not None and (not isinstance(row, str) or not _sendable(row)):
        raise bad
    token = {"PartitionKey": partition}
    if row is not None:
        token["RowKey"] = row
    return token
