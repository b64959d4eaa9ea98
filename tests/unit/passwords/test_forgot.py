"""'Forgot password?': a reset link for password users only, one mail per five
minutes, nothing written for anyone else, and the link sets a new password once."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import InvalidCredentials, InvalidLink
from shared.secret import Secret
from shared.users import User
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
OLD, NEW = Secret("a phrase only she knows well"), Secret("another phrase she picked later")
EMAIL = "grace@partner.example"


class Outbox:
    """Mail as the service hands it over (the SMTP transport has its own test)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, user: User, compose: object, link: str) -> None:
        self.sent.append((user.email, link))


@pytest.fixture
def outbox(unit: UnitWorld) -> Outbox:
    unit.tenant()
    box = Outbox()
    unit.services.passwords.mail = box  # type: ignore[method-assign]
    body = {"email": EMAIL, "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    assert box.sent == [(EMAIL, url)]  # the invite went by mail too
    box.sent.clear()
    unit.services.passwords.set_password("contoso", token(url), OLD, ip=None)
    return box


def token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_reset_link_sets_a_new_password_once(unit: UnitWorld, outbox: Outbox) -> None:
    unit.services.passwords.forgot("contoso", "GRACE@partner.example", ip=None)
    [(to, link)] = outbox.sent
    assert to == EMAIL
    unit.services.passwords.set_password("contoso", token(link), NEW, ip=None)
    with pytest.raises(InvalidCredentials):
        unit.services.passwords.sign_in("contoso", EMAIL, OLD, ip=None)
    assert unit.services.passwords.sign_in("contoso", EMAIL, NEW, ip=None)[0].email == EMAIL
    with pytest.raises(InvalidLink):
        unit.services.passwords.set_password("contoso", token(link), OLD, ip=None)


def test_a_reset_link_lasts_an_hour(unit: UnitWorld, outbox: Outbox) -> None:
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    unit.advance(dt.timedelta(hours=1, seconds=1))
    with pytest.raises(InvalidLink):
        unit.services.passwords.set_password("contoso", token(outbox.sent[0][1]), NEW, ip=None)


def test_one_mail_per_five_minutes(unit: UnitWorld, outbox: Outbox) -> None:
    for _ in range(3):
        unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    assert len(outbox.sent) == 1
    unit.advance(dt.timedelta(minutes=5))
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    assert len(outbox.sent) == 2


def test_nobody_else_gets_a_link_and_nothing_is_written(unit: UnitWorld, outbox: Outbox) -> None:
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))  # signs in with Microsoft
    before = unit.tables.row_count("users")
    for email in ("nobody@partner.example", "ada@contoso.example", ""):
        unit.services.passwords.forgot("contoso", email, ip=None)
    assert outbox.sent == [] and unit.tables.row_count("users") == before
