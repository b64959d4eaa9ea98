"""Password guessing is slowed down for every instance at once: per email (known or
not, so a 429 names no account) and per client address."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import InvalidCredentials, SsoUnavailable, TooManyAttempts
from shared.secret import Secret
from tests.support.unit_services import UnitWorld, unit_world

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
RIGHT = Secret("a phrase only she knows well")
WRONG = Secret("not her phrase at all, no")
EMAIL = "grace@partner.example"


@pytest.fixture
def grace(unit: UnitWorld) -> UnitWorld:
    unit.tenant()
    body = {"email": EMAIL, "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    token = parse_qs(urlsplit(url).query)["token"][0]
    unit.services.passwords.set_password("contoso", token, RIGHT, ip=None)
    return unit


def attempt(unit: UnitWorld, password: Secret, *, email: str = EMAIL, ip: str = "192.0.2.1") -> str:
    try:
        unit.services.passwords.sign_in("contoso", email, password, ip=ip)
    except InvalidCredentials:
        return "refused"
    except TooManyAttempts as throttled:
        return f"429 {throttled.retry_after}"
    return "signed in"


@pytest.mark.parametrize("email", [EMAIL, "nobody@partner.example"])
def test_after_five_failures_an_email_waits_even_with_the_right_password(
    grace: UnitWorld, email: str
) -> None:
    assert [attempt(grace, WRONG, email=email) for _ in range(5)] == ["refused"] * 5
    assert attempt(grace, RIGHT, email=email) == "429 15"
    assert attempt(grace, RIGHT, email=email, ip="198.51.100.7") == "429 15"  # any network


def test_the_wait_doubles_up_to_a_limit_and_a_success_clears_it(grace: UnitWorld) -> None:
    for _ in range(5):
        attempt(grace, WRONG)
    waits = []
    for _ in range(8):
        grace.advance(dt.timedelta(minutes=15))
        assert attempt(grace, WRONG) == "refused"
        waits.append(attempt(grace, WRONG))
    assert waits == [
        "429 30",
        "429 60",
        "429 120",
        "429 240",
        "429 480",
        "429 900",
        "429 900",
        "429 900",
    ]
    grace.advance(dt.timedelta(minutes=15))
    assert attempt(grace, RIGHT) == "signed in"
    assert [attempt(grace, WRONG) for _ in range(5)] == ["refused"] * 5  # counted from 0


def test_a_slow_guesser_for_a_day_only_ever_meets_the_longest_wait(grace: UnitWorld) -> None:
    # One guess every 15 minutes, from addresses that change: the email's count grows
    # without end; the owner must still get in once the lock is over.
    answers = []
    for guess in range(100):
        grace.advance(dt.timedelta(minutes=15))
        answers.append(attempt(grace, WRONG, ip=f"198.51.100.{guess % 200}"))
        answers.append(attempt(grace, WRONG, ip=f"203.0.113.{guess % 200}"))
    # Refused, then told to wait; from the tenth wait on, always the longest one.
    assert set(answers[::2]) == {"refused"}
    assert set(answers[1 + 2 * 10 :: 2]) == {"429 900"}
    grace.advance(dt.timedelta(minutes=15))
    assert attempt(grace, RIGHT) == "signed in"


def test_thirty_failures_from_one_address_stop_it_for_the_window(grace: UnitWorld) -> None:
    for n in range(30):
        assert attempt(grace, WRONG, email=f"guess{n}@partner.example") == "refused"
    refused = attempt(grace, RIGHT)
    assert refused.startswith("429 ") and 0 < int(refused.split()[1]) <= 600
    assert attempt(grace, RIGHT, ip="198.51.100.7") == "signed in"  # another address
    grace.advance(dt.timedelta(minutes=10))
    assert attempt(grace, RIGHT) == "signed in"


def test_every_instance_sees_the_same_counts(grace: UnitWorld) -> None:
    other = unit_world()  # a second instance: its own memory, the same storage
    other.services.override("tables", grace.tables)
    other.services.override("secrets", grace.vault)
    other.clock.offset = grace.clock.offset
    for _ in range(5):
        attempt(grace, WRONG)
    assert attempt(other, RIGHT) == "429 15"


def test_guesses_sent_at_once_get_no_more_checks_than_guesses_sent_in_turn(
    grace: UnitWorld,
) -> None:
    # Each attempt is counted before its password is checked: 40 at once, from 40
    # addresses, still get at most the 5 free checks; the rest are refused unchecked.
    checked: list[str] = []
    real = grace.services.passwords.passwords.password_row

    def password_row(tenant: str, user_id: str) -> Any:  # read only for a check
        checked.append(user_id)
        return real(tenant, user_id)

    grace.services.passwords.passwords.password_row = password_row  # type: ignore[method-assign]
    start = threading.Barrier(40)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        start.wait()
        try:
            outcomes.append(attempt(grace, WRONG, ip=f"198.51.100.{n}"))
        except SsoUnavailable:  # the count kept changing under the others: not checked
            outcomes.append("busy")

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("refused") <= 5 and len(checked) <= 5
    assert len(outcomes) == 40
    assert all(o in ("refused", "busy") or o.startswith("429") for o in outcomes)


def test_a_success_is_not_counted_against_the_network(grace: UnitWorld) -> None:
    # 40 good sign-ins from one address (a shared office NAT) use up nothing.
    assert {attempt(grace, RIGHT) for _ in range(40)} == {"signed in"}
    assert attempt(grace, WRONG) == "refused"
