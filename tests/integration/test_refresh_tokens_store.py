"""Refresh-token families in real Azurite: rotation once, reuse revokes, logout revokes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.sessions import (
    RefreshConflict,
    RefreshRecord,
    RevokeFamily,
    Rotate,
    decide_refresh,
    new_refresh_token,
    next_record,
    start_family,
)
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.tables import TableStore

NOW = 1_800_000_000.0


def family(
    store: RefreshTokenTable, *, user: str = "u-1", sid: str | None = "entra-sid"
) -> tuple[str, RefreshRecord]:
    token, token_hash = new_refresh_token()
    record = start_family(
        user_id=user, tenant="acme", token_hash=token_hash, now=NOW, entra_sid=sid
    )
    store.create_family(record)
    return token, record


def test_a_rotated_token_cannot_be_rotated_again_and_its_reuse_revokes_the_family(
    table_store: TableStore,
) -> None:
    store = RefreshTokenTable(table_store)
    _, first = family(store)
    _, second_hash = new_refresh_token()
    second = next_record(first, token_hash=second_hash, now=NOW + 60)
    store.mark_used_and_insert_next(first, second)
    with pytest.raises(RefreshConflict):
        store.mark_used_and_insert_next(first, second)
    reused = store.get("acme", first.token_hash)
    decision = decide_refresh(reused, now=NOW + 120)
    assert isinstance(decision, RevokeFamily)
    store.revoke_family("acme", decision.record.family_id)
    current = store.get("acme", second.token_hash)
    assert current is not None and current.revoked


def test_parallel_rotations_of_one_token_have_one_winner(table_store: TableStore) -> None:
    store = RefreshTokenTable(table_store)
    _, first = family(store)

    def rotate(attempt: int) -> bool:
        decision = decide_refresh(store.get("acme", first.token_hash), now=NOW + 1)
        if not isinstance(decision, Rotate):
            return False
        _, next_hash = new_refresh_token()
        try:
            store.mark_used_and_insert_next(
                decision.record, next_record(decision.record, token_hash=next_hash, now=NOW + 1)
            )
        except RefreshConflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(rotate, range(8))) == 1


def test_disabling_a_user_and_entra_logout_revoke_their_families(table_store: TableStore) -> None:
    store = RefreshTokenTable(table_store)
    _, ada = family(store, user="ada", sid="sid-a")
    _, bob = family(store, user="bob", sid="sid-b")
    store.revoke_user("acme", "ada")
    assert store.get("acme", ada.token_hash).revoked  # type: ignore[union-attr]
    assert not store.get("acme", bob.token_hash).revoked  # type: ignore[union-attr]
    store.revoke_entra_session("acme", "sid-b")
    assert store.get("acme", bob.token_hash).revoked  # type: ignore[union-attr]


def test_an_unknown_token_reads_as_none(table_store: TableStore) -> None:
    assert RefreshTokenTable(table_store).get("acme", "0" * 64) is None
