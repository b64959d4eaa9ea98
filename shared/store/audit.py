"""The audit log in Table Storage: newest first, paged, never a secret.

RowKey = inverted timestamp + random suffix, so a plain partition scan reads
newest first. Events carry field *names* only (a new secret is the field
`client_secret`), error codes, and the caller's IP as the front end saw it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.provisioning import rfc3339
from shared.store.tables import TableStore

TABLE = "audit"
_MAX_TICKS = 10**19


@dataclass
class AuditStore:
    tables: TableStore
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
    ) -> None:
        at = self.clock()
        micros = int(at.timestamp() * 1_000_000)
        row_key = f"{_MAX_TICKS - micros:020d}-{secrets.token_hex(4)}"
        self.tables.insert(
            TABLE,
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
            },
        )

    def list(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        page = self.tables.query(TABLE, partition_key=tenant, limit=limit, cursor=cursor)
        return [_event(row.data) for row in page.rows], page.next_cursor


def _event(data: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "at": rfc3339(data["at"]) if isinstance(data.get("at"), dt.datetime) else None,
        "action": data.get("action"),
        "actor": data.get("actor"),
        "ip": data.get("ip") or None,
        "fields": json.loads(str(data.get("fields") or "[]")),
    }
    for optional in ("user_id", "code"):
        if data.get(optional):
            event[optional] = data[optional]
    return event
