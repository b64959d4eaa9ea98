"""How rows travel through azure-data-tables: client options, the transport, value
and key conversion, batch operations, filters, and the mapping of SDK failures to
the contract's `SsoUnavailable`. Used only by shared.store.tables."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableTransactionError, UpdateMode

from shared.errors import SsoUnavailable
from shared.http import EnvCachedSession
from shared.store.rows import Op, Row, TransactionReason, checked_keys, prefix_upper_bound

_log = logging.getLogger("shared.store.tables")

SCAN_READ_TIMEOUT = 30
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


def transport() -> RequestsTransport:
    # azure-core's own transport, over a session that reads the environment's proxy
    # and CA settings once per host (shared.http.EnvCachedSession). A client given a
    # transport no longer applies its own timeout options: the transport takes them.
    return RequestsTransport(
        session=EnvCachedSession(),
        session_owner=True,
        connection_timeout=CLIENT_OPTIONS["connection_timeout"],
        read_timeout=CLIENT_OPTIONS["read_timeout"],
    )


def outgoing(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity as the SDK needs it, keys checked before any I/O."""
    checked_keys(entity)
    return {name: to_sdk(value) for name, value in entity.items()}


def to_sdk(value: Any) -> Any:
    # The SDK sends a plain int as Int32 and refuses larger ones.
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
        return EntityProperty(value, EdmType.INT64)
    return value


def plain_row(entity: Mapping[str, Any]) -> Row:
    metadata = getattr(entity, "metadata", None) or {}
    data = {
        name: value.value if isinstance(value, EntityProperty) else value
        for name, value in entity.items()
    }
    return Row(data=data, etag=str(metadata.get("etag") or ""))


def batch_operation(op: Op) -> tuple[Any, ...]:
    entity = outgoing(op.entity)
    options: dict[str, Any] = {}
    if op.kind in ("update", "upsert"):
        options["mode"] = UpdateMode.REPLACE
    if op.etag is not None:
        options.update(etag=op.etag, match_condition=MatchConditions.IfNotModified)
    return (op.kind, entity, options)


def transaction_reason(error: TableTransactionError) -> TransactionReason | None:
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


def range_filter(partition_key: str, row_key_prefix: str | None) -> tuple[str, dict[str, Any]]:
    """The filter for one partition (optionally its RowKeys starting with a prefix).
    Values only ever travel as parameters, each `@name` standing alone between
    spaces: the SDK substitutes (and quotes) only such words."""
    query_filter = "PartitionKey eq @pk"
    values: dict[str, Any] = {"pk": partition_key}
    if row_key_prefix:
        query_filter += " and RowKey ge @lo"
        values["lo"] = row_key_prefix
        upper = prefix_upper_bound(row_key_prefix)
        if upper is not None:
            query_filter += " and RowKey lt @hi"
            values["hi"] = upper
    return query_filter, values


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
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
