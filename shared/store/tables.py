"""Table Storage adapter (azure-data-tables): the only module that touches the SDK.

What it adds over the SDK:
- tables are created on first use, once per process;
- rows may carry `ExpiresAt`; readers treat expired rows as absent;
- conflicts and stale etags become `EntityExists` / `EtagMismatch`;
- storage that cannot be reached becomes the contract's `SsoUnavailable`,
  quickly (short timeouts, one retry), never an SDK traceback;
- queries are parameterised; page cursors are opaque, validated strings;
- `key_part` makes user-supplied text safe inside PartitionKey/RowKey.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.errors import InvalidRequest, SsoUnavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient

    from shared.settings import Settings

EXPIRES_AT = "ExpiresAt"
CLAIMED = "Claimed"
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 1,
    "retry_backoff_factor": 0.2,
    "connection_timeout": 3,
    "read_timeout": 10,
}
_METADATA_KEYS = frozenset({"etag", "timestamp"})


class EntityExists(Exception):
    """Insert refused: a row with that PartitionKey/RowKey exists."""


class EtagMismatch(Exception):
    """Conditional write refused: the row changed (or vanished) since it was read."""


class TransactionFailed(Exception):
    """An entity group transaction was refused as a whole; nothing of it was written."""

    def __init__(self, index: int, reason: Literal["exists", "precondition", "missing", "other"]):
        self.index = index
        self.reason = reason
        super().__init__(f"transaction operation {index} failed: {reason}")


@dataclass(frozen=True)
class Row:
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
    """One operation of a transaction."""

    kind: Literal["create", "update", "upsert", "delete"]
    entity: Mapping[str, Any]
    etag: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: str | None = None


def key_part(value: str) -> str:
    """Percent-encode text for use inside a key: `/ \\ # ?`, controls and `%` never
    reach Table Storage raw, and distinct inputs stay distinct."""
    return quote(value, safe="@.-_:~+=!$&'()*,;")


def expiry(ttl: dt.timedelta, *, now: dt.datetime) -> dict[str, dt.datetime]:
    return {EXPIRES_AT: now + ttl}


@dataclass
class TableStore:
    service: TableServiceClient
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    prefix: str = ""
    _created: set[str] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, credential: TokenCredential | None = None, prefix: str = ""
    ) -> TableStore:
        if settings.tables_connection_string is not None:
            service = TableServiceClient.from_connection_string(
                settings.tables_connection_string.reveal(), **_CLIENT_OPTIONS
            )
        else:
            if credential is None or settings.tables_endpoint is None:
                raise ValueError("TABLES_ENDPOINT needs a credential")
            service = TableServiceClient(
                endpoint=settings.tables_endpoint, credential=credential, **_CLIENT_OPTIONS
            )
        return cls(service=service, prefix=prefix)

    @classmethod
    def from_connection_string(cls, connection_string: str, *, prefix: str = "") -> TableStore:
        service = TableServiceClient.from_connection_string(connection_string, **_CLIENT_OPTIONS)
        return cls(service=service, prefix=prefix)

    def close(self) -> None:
        self.service.close()

    # --- single rows -----------------------------------------------------------------

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        client = self._table(table)
        with _storage_errors():
            try:
                entity = client.get_entity(partition_key, row_key)
            except ResourceNotFoundError:
                return None
        row = _row(entity)
        return None if self._expired(row) else row

    def insert(
        self, table: str, entity: Mapping[str, Any], *, ttl: dt.timedelta | None = None
    ) -> Row:
        """Insert if absent, else `EntityExists` (an expired row still counts: it is
        reaped by the next writer, so the caller's retry sees it absent)."""
        data = dict(entity)
        if ttl is not None:
            data.update(expiry(ttl, now=self.clock()))
        client = self._table(table)
        with _storage_errors():
            try:
                metadata = client.create_entity(data)
            except ResourceExistsError:
                if self._reap_if_expired(client, data["PartitionKey"], data["RowKey"]):
                    metadata = client.create_entity(data)
                else:
                    raise EntityExists() from None
        return Row(data=data, etag=str(metadata["etag"]))

    def upsert(self, table: str, entity: Mapping[str, Any]) -> Row:
        client = self._table(table)
        with _storage_errors():
            metadata = client.upsert_entity(dict(entity), mode=UpdateMode.REPLACE)
        return Row(data=dict(entity), etag=str(metadata["etag"]))

    def update(self, table: str, entity: Mapping[str, Any], *, etag: str) -> Row:
        """Replace the row only if it still has `etag`, else `EtagMismatch`."""
        client = self._table(table)
        with _storage_errors(), _stale_etag():
            metadata = client.update_entity(
                dict(entity),
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return Row(data=dict(entity), etag=str(metadata["etag"]))

    def delete(
        self, table: str, partition_key: str, row_key: str, *, etag: str | None = None
    ) -> bool:
        """Delete the row. With `etag`, only that version: of concurrent callers holding
        the same etag exactly one gets True, the others `EtagMismatch`. Without, True if
        a row was there."""
        client = self._table(table)
        with _storage_errors():
            if etag is None:
                if self.get(table, partition_key, row_key) is None:
                    return False
                client.delete_entity(partition_key, row_key)
                return True
            # The SDK treats a 404 on delete as success, so a conditional delete alone
            # cannot tell the winner from the losers. A conditional update can: it
            # raises on 404 and 412. The winner then deletes the claimed row.
            claim = {"PartitionKey": partition_key, "RowKey": row_key, CLAIMED: True}
            with _stale_etag():
                client.update_entity(
                    claim,
                    mode=UpdateMode.MERGE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            client.delete_entity(partition_key, row_key)
        return True

    # --- transactions ------------------------------------------------------------------

    def transact(self, table: str, operations: Sequence[Op]) -> None:
        """All-or-nothing within one partition (at most 100 operations)."""
        if not operations:
            return
        if len(operations) > 100:
            raise ValueError("a transaction holds at most 100 operations")
        batch: list[Any] = []
        for op in operations:
            if op.kind in ("update", "delete") and op.etag is not None:
                options = {"etag": op.etag, "match_condition": MatchConditions.IfNotModified}
                if op.kind == "update":
                    options["mode"] = UpdateMode.REPLACE
                batch.append((op.kind, dict(op.entity), options))
            elif op.kind in ("update", "upsert"):
                batch.append((op.kind, dict(op.entity), {"mode": UpdateMode.REPLACE}))
            else:
                batch.append((op.kind, dict(op.entity)))
        client = self._table(table)
        with _storage_errors():
            try:
                client.submit_transaction(batch)
            except TableTransactionError as error:
                raise TransactionFailed(error.index, _transaction_reason(error)) from None

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
        """One page of a partition (optionally a RowKey prefix), in RowKey order."""
        continuation = _decode_cursor(cursor) if cursor else None
        query_filter = "PartitionKey eq @pk"
        parameters: dict[str, Any] = {"pk": partition_key}
        if row_key_prefix:
            query_filter += " and RowKey ge @lo and RowKey lt @hi"
            parameters["lo"] = row_key_prefix
            parameters["hi"] = row_key_prefix[:-1] + chr(ord(row_key_prefix[-1]) + 1)
        client = self._table(table)
        rows: list[Row] = []
        next_token: Any = None
        with _storage_errors():
            pages: Any = client.query_entities(
                query_filter, parameters=parameters, results_per_page=limit
            ).by_page(continuation_token=continuation)  # type: ignore[arg-type]
            for page in pages:
                rows.extend(r for r in map(_row, page) if not self._expired(r))
                next_token = pages.continuation_token
                break
        return Page(rows=rows, next_cursor=_encode_cursor(next_token) if next_token else None)

    def scan_partition(
        self, table: str, *, partition_key: str, row_key_prefix: str | None = None
    ) -> Iterator[Row]:
        cursor: str | None = None
        while True:
            page = self.query(
                table,
                partition_key=partition_key,
                row_key_prefix=row_key_prefix,
                limit=1000,
                cursor=cursor,
            )
            yield from page.rows
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def ping(self) -> None:
        """Health check: one cheap call that needs the service to answer."""
        with _storage_errors():
            next(iter(self.service.list_tables(results_per_page=1).by_page()), None)

    # --- internals ---------------------------------------------------------------------

    def _table(self, table: str) -> TableClient:
        name = f"{self.prefix}{table}"
        if name not in self._created:
            with _storage_errors():
                self.service.create_table_if_not_exists(name)
            with self._lock:
                self._created.add(name)
        return self.service.get_table_client(name)

    def _expired(self, row: Row) -> bool:
        if row.data.get(CLAIMED) is True:
            return True  # consumed by a conditional delete that is finishing: gone
        expires = row.data.get(EXPIRES_AT)
        return isinstance(expires, dt.datetime) and expires <= self.clock()

    def _reap_if_expired(self, client: TableClient, partition_key: str, row_key: str) -> bool:
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
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True


def _row(entity: Mapping[str, Any]) -> Row:
    metadata = getattr(entity, "metadata", {}) or {}
    data = {k: v for k, v in entity.items() if k not in _METADATA_KEYS}
    return Row(data=data, etag=str(metadata.get("etag", "")))


def _transaction_reason(
    error: TableTransactionError,
) -> Literal["exists", "precondition", "missing", "other"]:
    code = str(getattr(error, "error_code", "") or "")
    if code == "EntityAlreadyExists" or error.status_code == 409:
        return "exists"
    if code in ("UpdateConditionNotSatisfied", "ConditionNotMet") or error.status_code == 412:
        return "precondition"
    if code == "ResourceNotFound" or error.status_code == 404:
        return "missing"
    return "other"


@contextmanager
def _stale_etag() -> Iterator[None]:
    """A conditional write found another version of the row, or none: EtagMismatch."""
    try:
        yield
    except (ResourceModifiedError, ResourceNotFoundError):
        raise EtagMismatch() from None
    except HttpResponseError as error:
        if error.status_code in (404, 412):
            raise EtagMismatch() from None
        raise


@contextmanager
def _storage_errors() -> Iterator[None]:
    """SDK failures that mean "storage is not answering" become SsoUnavailable."""
    try:
        yield
    except (EntityExists, EtagMismatch, TransactionFailed, ResourceNotFoundError):
        raise
    except (ResourceExistsError, ResourceModifiedError, TableTransactionError):
        raise
    except HttpResponseError as error:
        if error.status_code in (404, 409, 412):
            raise
        raise SsoUnavailable("Table Storage refused or failed the request.") from error
    except AzureError as error:
        raise SsoUnavailable("Table Storage could not be reached.") from error


def _encode_cursor(token: Mapping[str, Any]) -> str:
    raw = json.dumps({"pk": token.get("PartitionKey"), "rk": token.get("RowKey")})
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, str]:
    bad = InvalidRequest("The cursor is not one this API returned.", fields={"cursor": "malformed"})
    if len(cursor) > 2048:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or not isinstance(data.get("pk"), str):
        raise bad
    if not isinstance(data.get("rk"), str | None):
        raise bad
    token = {"PartitionKey": data["pk"]}
    if data.get("rk") is not None:
        token["RowKey"] = data["rk"]
    return token
