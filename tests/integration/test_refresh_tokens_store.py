"""Refresh-token families in real Azurite: rotation once, reuse revokes, logout revokes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from shared.sessions.refresh import (
    RefreshConflict,
    RefreshFamily,
    RefreshTokenId,
    RevokeFamily,
    Rotate,
    decide_refresh,
    hash_refresh_token,
    parse_refresh_token,
    rotated,
    start_family,
)
from shared.store.refresh_tokens import RefreshTokenTable
from shared.store.rows import Tables

NOW = 1_800_000_000.0
ADA = "7c1f2a9e-0b3d-4e5f-8a6b-9c0d1e2f3a4b"
BOB = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"
DIRECTORY = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"  # the Entra tenant they signed in through


def started(
    store: RefreshTokenTable, *, user: str = ADA, sid: str | None = "entra-sid"
) -> tuple[RefreshFamily, str]:
    family, token = start_family(
        user_id=user, tenant="acme", now=NOW, entra_sid=sid, directory=DIRECTORY
    )
    store.create(family)
    return family, token


def stored(store: RefreshTokenTable, token: str) -> tuple[RefreshFamily, str]:
    token_id = parse_refresh_token(token)
    assert token_id is not None
    found = store.get("acme", token_id)
    assert found is not None
    return found


def test_a_family_reads_back_as_written_and_a_rotation_replaces_it(
    any_tables: Tables,
) -> None:
    store = RefreshTokenTable(any_tables)
    first, token = started(store)
    family, etag = stored(store, token)
    assert family == first
    assert family.directory == DIRECTORY
    second, new_token = rotated(family, presented=token, now=NOW + 60)
    store.replace(second, etag=etag)
    assert stored(store, new_token)[0] == second
    assert isinstance(decide_refresh(second, hash_refresh_token(new_token), now=NOW + 61), Rotate)


def test_a_rotated_token_cannot_be_rotated_again_and_its_reuse_revokes_the_family(
    any_tables: Tables,
) -> None:
    store = RefreshTokenTable(any_tables)
    _, token = started(store)
    family, etag = stored(store, token)
    second, new_token = rotated(family, presented=token, now=NOW + 60)
    store.replace(second, etag=etag)
    with pytest.raises(RefreshConflict):  # the same read, used twice
        store.replace(rotated(family, presented=token, now=NOW + 60)[0], etag=etag)
    reread, _ = stored(store, token)
    decision = decide_refresh(reread, hash_refresh_token(token), now=NOW + 120)
    assert isinstance(decision, RevokeFamily)
    store.revoke_family("acme", decision.family.user_id, decision.family.family_id)
    assert stored(store, new_token)[0].revoked


def test_parallel_rotations_of_one_token_have_one_winner(any_tables: Tables) -> None:
    store = RefreshTokenTable(any_tables)
    _, token = started(store)

    def rotate(attempt: int) -> bool:
        family, etag = stored(store, token)
        decision = decide_refresh(family, hash_refresh_token(token), now=NOW + 1)
        if not isinstance(decision, Rotate):
            return False
        try:
            store.replace(rotated(decision.family, presented=token, now=NOW + 1)[0], etag=etag)
        except RefreshConflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(rotate, range(8))) == 1


def test_a_revocation_racing_a_rotation_still_revokes(any_tables: Tables) -> None:
    store = RefreshTokenTable(any_tables)
    _, token = started(store)
    family, etag = stored(store, token)
    successor, new_token = rotated(family, presented=token, now=NOW + 1)
    store.replace(successor, etag=etag)  # lands between the revoker's read and write
    store.revoke_family("acme", ADA, family.family_id)
    assert stored(store, new_token)[0].revoked


def test_disabling_a_user_and_entra_logout_revoke_their_families(any_tables: Tables) -> None:
    store = RefreshTokenTable(any_tables)
    _, ada_first = started(store, user=ADA, sid="sid-a")
    _, ada_second = started(store, user=ADA, sid=None)
    _, bob = started(store, user=BOB, sid="sid-b")
    _, bob_other = started(store, user=BOB, sid="sid-b:x")  # ':' cannot widen a sid match
    store.revoke_user("acme", ADA)
    assert stored(store, ada_first)[0].revoked and stored(store, ada_second)[0].revoked
    assert not stored(store, bob)[0].revoked
    store.revoke_entra_session("acme", "sid-b")
    assert stored(store, bob)[0].revoked
    assert not stored(store, bob_other)[0].revoked


def test_an_unknown_family_reads_as_none_and_an_expired_one_as_gone(
    any_tables: Tables,
) -> None:
    store = RefreshTokenTable(any_tables)
    assert store.get("acme", RefreshTokenId(user_id=ADA, family_id="f" * 22)) is None
    family, token = start_family(user_id=ADA, tenant="acme", now=NOW)
    store.create(replace(family, expires_at=any_tables.clock().timestamp() - 1))
    token_id = parse_refresh_token(token)
    assert token_id is not None and store.get("acme", token_id) is None
