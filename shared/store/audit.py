"""The audit log in Table Storage: newest first, paged, never a secret.

Events live in the tenant's partition (shared.store.tenant_partition) under
RowKey `audit:` + inverted timestamp + random suffix, so a range read gives
them newest first, and a sign-in writes its event in its own transaction.
Events carry field *names* only (a new secret is the field `client_secret`),
error codes, and the caller's IP as the front end saw it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import correlation
from shared.store.rows import Op, Tables
from shared.store.tenant_partition import TABLE
from shared.users import rfc3339

_PREFIX = "audit:"
_MAX_TICKS = 10**19


@dataclass
class AuditStore:
    tables: Tables
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def record(
        self,
        tenant: str,
        action: str,
        *,
        actor: str,
        ip: str | None = None,
        fields: tuple[str, ...] = (),
        user_id: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        event = self.event(
            tenant,
            action,
            actor=actor,
            ip=ip,
            fields=fields,
            user_id=user_id,
            code=code,
            detail=detail,
        )
        self.tables.insert(TABLE, event.entity)

    def event(
        self,
        tenant: str,
        action: str,
        *,
        actor: str,
        ip: str | None = None,
        fields: tuple[str, ...] = (),
        user_id: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> Op:
        """The event as a row to write in a caller's transaction (see `record`)."""
        at = self.clock()
        micros = int(at.timestamp() * 1_000_000)
        row_key = f"{_PREFIX}{_MAX_TICKS - micros:020d}-{secrets.token_hex(4)}"
        return Op(
            "create",
            {
                "PartitionKey": tenant,
                "RowKey": row_key,
                "at": at,
                "action": action[:64],
                "actor": actor[:256],
                "ip": (ip or "")[:64],
                "fields": json.dumps(list(fields)),
                "user_id": user_id or "",
                "code": code or "",
                "detail": (detail or "")[:128],
                # The request's id (shared.correlation), also in its answer and logs.
                "correlation_id": correlation.current() or "",
            },
        )

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        page = self.tables.query(
            TABLE, partition_key=tenant, row_key_prefix=_PREFIX, limit=limit, cursor=cursor
        )
        return [_event(row.data) for row in page.rows], page.next_cursor


def _event(data: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "at": rfc3339(data["at"]) if isinstance(data.get("at"), dt.datetime) else None,
        "action": data.get("action"),
        "actor": data.get("actor"),
        "ip": data.get("ip") or None,
        "fields": json.loads(str(data.get("fields") or "[]")),
    }
    for optional in ("user_id", "code", "detail", "correlation_id"):
        if data.get(optional):
            event[optional] = data[optional]
    return event


def older_than(moment: dt.datetime) -> tuple[str, str]:
    """The RowKey range (from, before) of a partition's events recorded before `moment`:
    the keys invert time, so older events sort after newer ones, up to the prefix's end."""
    micros = int(moment.timestamp() * 1_000_000)
    return f"{_PREFIX}{_MAX_TICKS - micros:020d}", _PREFIX[:-1] + chr(ord(_PREFIX[-1]) + 1)
