"""The audit log in real Azurite: newest first, paged, field names only."""

from __future__ import annotations

import datetime as dt

from shared.store.audit import AuditStore
from shared.store.rows import Tables


def test_events_come_back_newest_first_across_pages(any_tables: Tables) -> None:
    start = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    ticks = iter(start + dt.timedelta(seconds=i) for i in range(5))
    audit = AuditStore(any_tables, clock=lambda: next(ticks))
    for index in range(5):
        audit.record(
            "acme", "sign_in", actor=f"user-{index}", ip="203.0.113.9", user_id=f"u{index}"
        )
    first, cursor = audit.list("acme", limit=3, cursor=None)
    second, last = audit.list("acme", limit=3, cursor=cursor)
    assert [e["actor"] for e in first + second] == [f"user-{i}" for i in range(4, -1, -1)]
    assert last is None
    assert first[0] == {
        "at": "2026-11-23T12:00:04Z",
        "action": "sign_in",
        "actor": "user-4",
        "ip": "203.0.113.9",
        "fields": [],
        "user_id": "u4",
    }


def test_config_changes_record_field_names_and_refusals_their_code(any_tables: Tables) -> None:
    audit = AuditStore(any_tables)
    audit.record("acme", "config_updated", actor="platform", fields=("client_secret", "enabled"))
    audit.record("acme", "sign_in_refused", actor="anonymous", code="invalid_state")
    events, _ = audit.list("acme", limit=10, cursor=None)
    assert events[0]["code"] == "invalid_state" and "user_id" not in events[0]
    assert events[1]["fields"] == ["client_secret", "enabled"]


def test_the_log_holds_only_audit_events_of_a_partition_shared_with_users_and_sessions(
    any_tables: Tables,
) -> None:
    # Users, their email index, sessions and the Entra-sid index share the tenant's
    # partition with the log; before "audit:" and after it in RowKey order.
    for row_key in ("user:u1", "email:a%40b.example", "session:u1:f1", "esid:s1:u1:f1", "b"):
        any_tables.insert("users", {"PartitionKey": "acme", "RowKey": row_key, "x": 1})
    audit = AuditStore(any_tables)
    audit.record("acme", "sign_in", actor="u1")
    events, cursor = audit.list("acme", limit=10, cursor=None)
    assert [e["action"] for e in events] == ["sign_in"] and cursor is None
