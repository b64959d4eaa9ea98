"""Password hashes (argon2id) and the password rules."""

from __future__ import annotations

import statistics
import time

import pytest

from shared.passwords.hashing import hash_password, needs_rehash, verify_password
from shared.passwords.policy import password_problem
from shared.secret import Secret

GOOD = Secret("correct staple of battery horses")


def test_a_hash_verifies_its_password_only_and_names_argon2id() -> None:
    encoded = hash_password(GOOD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert GOOD.reveal() not in encoded
    assert verify_password(encoded, GOOD)
    assert not verify_password(encoded, Secret("correct staple of battery horse"))
    assert hash_password(GOOD) != encoded  # salted
    assert not needs_rehash(encoded)


def test_a_hash_with_weaker_parameters_still_verifies_and_asks_for_an_upgrade() -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD.reveal())
    assert verify_password(old, GOOD)
    assert needs_rehash(old)


def test_no_hash_never_verifies_but_costs_what_a_real_check_costs() -> None:
    encoded = hash_password(GOOD)
    assert not verify_password(None, GOOD)
    assert not verify_password("not a hash", GOOD)

    # CPU time, not wall time: the work done is what an attacker's clock would see,
    # and a loaded test machine stretches wall time at random. Interleaved pairs.
    runs: dict[str | None, list[float]] = {encoded: [], None: []}
    for _ in range(7):
        for stored in (encoded, None):
            started = time.process_time()
            verify_password(stored, Secret("a wrong password guess"))
            runs[stored].append(time.process_time() - started)
    known, unknown = (statistics.median(runs[stored]) for stored in (encoded, None))
    assert 0.6 < unknown / known < 1.6  # the same work: no account enumeration by time


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12"),
        ("x" * 129, "at most 128"),
        ("Password1234!", "too common"),
        ("qwertyuiop123", "too common"),
        ("123456789012", "too common"),
        ("aaaaaaaaaaaaaaa", "too common"),
        ("passwordpassword", "too common"),
        ("monkeymonkey99", "too common"),
        ("!!Welcome2026!!", "too common"),
        ("ada.lovelace2026x", "email"),
        ("a long phrase \ud800 of my own", "lone surrogate"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password: str, problem: str) -> None:
    found = password_problem(password, email="ada.lovelace@example.com")
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "password",
    ["correct staple of battery horses", "Tiny-Green-Submarine-41", "été à Zürich, 1987 !"],
)
def test_a_phrase_of_ones_own_is_accepted(password: str) -> None:
    assert password_problem(password, email="ada@example.com") is None


def test_a_password_with_a_lone_surrogate_is_checked_and_never_matches() -> None:
    # Valid in a JSON string, not text: signing in with one is a wrong password, not a
    # crash, whether or not the account has a hash.
    stored = hash_password(Secret("a long phrase of my own"))
    for encoded in (stored, None):
        assert verify_password(encoded, Secret("a long phrase \ud800 of my own")) is False
