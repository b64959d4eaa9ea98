"""How rows travel through azure-data-tables: client options, the transport, value
and key conversion, batch operations, filters, and the mapping of SDK failures to
the contract's `SsoUnavailable`. Used only by shared.store.tables."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.policy import compat32
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.core.pipeline import Pipeline, PipelineContext, PipelineRequest, PipelineResponse
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableTransactionError, UpdateMode

from shared import telemetry
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
    return _InLinePartsTransport(
        session=EnvCachedSession(),
        session_owner=True,
        connection_timeout=CLIENT_OPTIONS["connection_timeout"],
        read_timeout=CLIENT_OPTIONS["read_timeout"],
    )


# --- entity group transactions without thread pools -------------------------------------
#
# azure-core runs the policies of a multipart request's parts (a transaction's
# operations) in a new ThreadPoolExecutor, once for the request and once more
# for the response: a pool and a thread per operation, per transaction, to run
# two header stamps. That was a third of a 4-operation transaction's CPU (5.0 ->
# 3.4 ms measured). For our table clients only (nothing process-wide is
# changed), the same policies run in the calling thread, in order. If a future
# azure-core moves these hooks, `in_line_parts` finds nothing to set and the
# pools simply come back (tests/integration/test_tables.py counts threads).


def in_line_parts(table_client: Any) -> bool:
    """Run this table client's multipart preparation in the calling thread; False
    when the client does not have the pipeline this expects."""
    pipeline = getattr(
        getattr(getattr(table_client, "_client", None), "_client", None), "_pipeline", None
    )
    if not isinstance(pipeline, Pipeline):
        _log.warning("Table Storage: unexpected client shape; transactions keep their threads")
        return False
    pipeline._prepare_multipart_mixed_request = _prepare_parts  # type: ignore[method-assign]
    return flat_multipart_bodies()


# --- multipart bodies without header re-parsing --------------------------------------
#
# azure-core flattens a transaction's body with the stdlib `email` generator under
# `email.policy.HTTP`, whose header registry parses every header again each time
# the generator reads it: about a quarter of a 5-operation transaction's CPU. The
# compat32 policy with the same line ending and no folding writes the same bytes
# (a test compares both on our transactions' shapes, non-ASCII included) without
# that parsing (3.7 -> 2.7 ms per 5-operation transaction, measured). azure-core
# uses this policy for that one call only; absent, nothing is changed.
FLAT_MULTIPART_POLICY = compat32.clone(linesep="\r\n", max_line_length=None)


def flat_multipart_bodies() -> bool:
    """Have azure-core flatten multipart bodies with FLAT_MULTIPART_POLICY; False
    when azure-core no longer has the hook this expects."""
    from azure.core.utils import _pipeline_transport_rest_shared as multipart

    if not hasattr(multipart, "HTTP") or not hasattr(multipart, "_prepare_multipart_body_helper"):
        _log.warning("Table Storage: unexpected azure-core shape; multipart bodies unchanged")
        return False
    multipart.HTTP = FLAT_MULTIPART_POLICY
    return True


def _prepare_parts(request: Any) -> None:
    """azure-core's Pipeline._prepare_multipart_mixed_request, in the calling thread."""
    info = request.multipart_mixed_info
    if not info:
        return
    parts, policies, options = info[0], info[1], info[3]
    for part in parts:
        if part.multipart_mixed_info:
            _prepare_parts(part)  # a changeset's own parts
        pipeline_request = PipelineRequest(part, PipelineContext(None, **options))
        for policy in policies:
            policy.on_request(pipeline_request)


def _parts(response: Any) -> list[Any]:
    """azure-core's response.parts() (its _parts_helper), in the calling thread."""
    parts: list[Any] = response._get_raw_parts()
    policies = response.request.multipart_mixed_info[1]
    for part in parts:
        context = PipelineContext(None)
        pipeline_request = PipelineRequest(part.request, context)
        pipeline_response = PipelineResponse(part.request, part, context=context)
        for policy in policies:
            policy.on_response(pipeline_request, pipeline_response)
    return parts


class _InLinePartsTransport(RequestsTransport):  # type: ignore[misc]
    def send(self, request: Any, **kwargs: Any) -> Any:
        telemetry.count_call("table")  # one Table Storage round trip (retries included)
        response = super().send(request, **kwargs)
        if getattr(request, "multipart_mixed_info", None):
            response.parts = functools.partial(_parts, response)
        return response


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
