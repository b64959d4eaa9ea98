"""Rows of the project's tables, whatever holds them: the row and operation types,
the outcomes a caller acts on, key rules, page cursors, and the `Tables` Protocol
that the Table Storage adapter (shared.store.tables) and the in-memory tables of
the unit tests (tests/support/memory_tables.py) both satisfy.

What callers can rely on, from either:
- a row may carry `ExpiresAt` (an aware datetime): every read treats an expired
  row as absent;
- the outcomes a caller acts on are this module's exceptions: `EntityExists`
  (insert conflict), `EtagMismatch` (the row changed or vanished since it was
  read), `TransactionFailed` (which operation of a batch failed, and why);
- keys: `key_part` ENCODES user-supplied text for use inside a key, `text_key`
  makes a whole key of a prefix and text of any length; a key Table Storage would
  refuse is caught before any I/O (reads: absent; writes: `InvalidKey`, a caller
  bug);
- page cursors are opaque, validated strings bound to the list they page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

from shared.errors import InvalidRequest
from shared.json_input import parse_json

EXPIRES_AT = "ExpiresAt"
MAX_TRANSACTION_OPERATIONS = 100
MAX_PAGE_SIZE = 1000
_MAX_KEY_UTF16_UNITS = 512  # keys are at most 1 KiB of UTF-16
_FORBIDDEN_IN_KEYS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_MAX_CURSOR_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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


def text_key(prefix: str, text: str) -> str:
    """`prefix` + `key_part(text)` when Table Storage takes that as a key; else, for
    text too long for a key once encoded, `prefix` + a SHA-256 digest of it. One
    text always gets one key and distinct texts distinct keys, at any length."""
    key = prefix + key_part(text)
    if len(key.encode("utf-16-le")) <= 2 * _MAX_KEY_UTF16_UNITS:
        return key  # the keys written before digests existed: unchanged
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    # key_part never writes "%%" (every % it writes has two hex digits after it),
    # so a digest cannot be mistaken for an encoded text.
    return f"{prefix}%%{digest}"


def key_problem(key: str) -> str | None:
    """Why Table Storage would refuse `key` as a PartitionKey/RowKey, or None."""
    if _FORBIDDEN_IN_KEYS.search(key):
        return "contains / \\ # ? or a control character"
    if len(key.encode("utf-16-le")) > 2 * _MAX_KEY_UTF16_UNITS:
        return "is longer than 1 KiB"
    return None


def checked_keys(entity: Mapping[str, Any]) -> None:
    """`InvalidKey` unless the entity's PartitionKey and RowKey are keys Table Storage
    takes: checked before any I/O."""
    for name in ("PartitionKey", "RowKey"):
        key = entity.get(name)
        if not isinstance(key, str):
            raise InvalidKey(f"{name} must be a string")
        problem = key_problem(key)
        if problem:
            raise InvalidKey(f"{name} {problem}")


def check_transaction(operations: Sequence[Op]) -> None:
    """The rules of an entity group transaction that hold before any I/O."""
    if len(operations) > MAX_TRANSACTION_OPERATIONS:
        raise ValueError("a transaction holds at most 100 operations")
    if len({op.entity.get("PartitionKey") for op in operations}) != 1:
        raise ValueError("a transaction's operations share one PartitionKey")
    for op in operations:
        checked_keys(op.entity)
        if op.etag is not None and op.kind not in ("update", "delete"):
            raise ValueError(f"a {op.kind} operation takes no etag")


def check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(fields={"limit": "must be between 1 and 1000"})


def is_expired(row: Row, now: dt.datetime) -> bool:
    expires = row.data.get(EXPIRES_AT)
    return isinstance(expires, dt.datetime) and expires <= now


class Tables(Protocol):
    """Rows of the project's tables (see the module docstring for the guarantees).
    Every method is thread-safe; `clock` returns an aware UTC datetime."""

    clock: Callable[[], dt.datetime]  # tests replace it to expire rows

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        """Point read: the live row, or None (absent, expired, or a key no row can have)."""
        ...

    def insert(
        self, table: str, entity: Mapping[str, Any], *, ttl: dt.timedelta | None = None
    ) -> Row:
        """Insert if absent (an expired row never blocks it), else `EntityExists`."""
        ...

    def upsert(self, table: str, entity: Mapping[str, Any]) -> Row:
        """Create or replace the whole row, whatever version is there."""
        ...

    def update(self, table: str, entity: Mapping[str, Any], *, etag: str) -> Row:
        """Replace the row only if it still has `etag`, else `EtagMismatch`."""
        ...

    def delete(
        self, table: str, partition_key: str, row_key: str, *, etag: str | None = None
    ) -> bool:
        """Without `etag`: True if a row was there. With it: only that version, True,
        else `EtagMismatch`; of concurrent callers exactly one gets True."""
        ...

    def transact(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        """All or nothing, one PartitionKey, at most 100; each operation's new etag."""
        ...

    def apply(self, table: str, operations: Sequence[Op]) -> list[str | None]:
        """`transact`, with a single operation sent the cheapest way."""
        ...

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
        rows); a page may hold fewer than `limit` rows. A cursor this store did not
        make, or made for another list (table, partition, prefix), is `InvalidRequest`
        naming "cursor"; a limit outside 1..1000 names "limit"."""
        ...

    def scan_partition(
        self, table: str, *, partition_key: str, row_key_prefix: str | None = None
    ) -> Iterator[Row]:
        """Every live row of a partition (optionally a RowKey prefix), page by page.
        Implemented here once: stores that subclass `Tables` inherit it."""
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

    def find_keys(
        self,
        table: str,
        *,
        partition_key: str | None = None,
        row_key_from: str | None = None,
        row_key_before: str | None = None,
        expired_only: bool = False,
    ) -> Iterator[Row]:
        """Keys and etags of the rows in a RowKey range of a partition (or the whole
        table), only expired ones with `expired_only`, expired or not otherwise."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix`."""
    last = ord(prefix[-1]) + 1
    if last == 0xD800:
        last = 0xE000  # skip the surrogates, which no stored string contains
    if last > 0x10FFFF:
        return None
    return prefix[:-1] + chr(last)


def cursor_scope(table: str, partition_key: str, row_key_prefix: str | None) -> str:
    """Which list a cursor pages. Not a secret (the query's PartitionKey filter is what
    keeps a forged cursor inside its tenant); it makes another tenant's or another
    list's cursor a 400 rather than a page that silently starts somewhere else."""
    listed = "\n".join((table, partition_key, row_key_prefix or ""))
    return hashlib.sha256(listed.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def encode_cursor(token: Mapping[str, Any], scope: str) -> str:
    raw = json.dumps({"s": scope, "pk": token.get("PartitionKey"), "rk": token.get("RowKey")})
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _sendable(text: str) -> bool:
    """No control character, and valid UTF-8 (a JSON string may hold a lone surrogate)."""
    return not _CONTROL.search(text) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def decode_cursor(cursor: str, scope: str) -> dict[str, str]:
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
