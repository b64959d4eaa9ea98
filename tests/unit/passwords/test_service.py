"""Password users on the in-memory world: an admin creates them with an invite link,
the link sets the first password once, the password signs them in; every refusal
is one answer that names no account, and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import (
    AccountDisabled,
    EmailInUse,
    Forbidden,
    InvalidCredentials,
    InvalidLink,
    InvalidRequest,
    ProviderMismatch,
)
from shared.secret import Secret
from shared.users import User
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id, table_calls

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
TENANT_ADMIN = AdminCaller(actor="user:x", platform=False, user_id="x")
PROFILE = random_id()
PASSWORD = Secret("a phrase only she knows well")


def invite(
    unit: UnitWorld, email: str = "grace@partner.example", **extra: object
) -> tuple[User, str]:
    body = {"email": email, "name": "Grace Hopper", "provider": "password", **extra}
    user, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip="192.0.2.9")
    assert url is not None
    return user, parse_qs(urlsplit(url).query)["token"][0]


def actions(unit: UnitWorld) -> list[str]:
    events, _ = unit.services.audit.list("contoso", limit=100, cursor=None)
    return [str(event["action"]) for event in events]


def test_an_invited_user_sets_a_password_and_is_signed_in(unit: UnitWorld) -> None:
    unit.tenant()
    user, token = invite(unit, profiles=[profile := random_id()])
    assert (user.provider, user.profiles, user.roles) == ("password", (profile,), ())
    assert unit.services.passwords.link_user("contoso", token) == user

    signed_in, tokens = unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)

    claims = unit.services.sessions.verify("contoso", tokens.access_token)
    assert (claims.sub, claims.provider) == (user.id, "password")
    assert signed_in.id == user.id
    assert actions(unit) == ["password_set", "user_created"]


def test_an_email_too_long_for_a_table_key_still_makes_one_user_who_signs_in(
    unit: UnitWorld,
) -> None:
    # 200 non-ASCII characters are a valid address, but not a Table key once encoded.
    email = "\u00e9l\u00e8ve" * 12 + "@" + "\u00e9\u00e7\u00f4l\u00eb" * 30 + ".example"
    unit.tenant()
    user, token = invite(unit, email=email)
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)
    signed_in, _ = unit.services.passwords.sign_in("contoso", email.upper(), PASSWORD, ip=None)
    assert signed_in.id == user.id and unit.services.users.by_email("contoso", email) == user
    with pytest.raises(EmailInUse):
        invite(unit, email=email)


def test_an_invite_link_works_once(unit: UnitWorld) -> None:
    unit.tenant()
    _, token = invite(unit)
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)
    for attempt in (
        lambda: unit.services.passwords.set_password(
            "contoso", token, Secret("another long phrase x"), ip=None
        ),
        lambda: unit.services.passwords.link_user("contoso", token),
    ):
        with pytest.raises(InvalidLink):
            attempt()
    # The first password stands.
    user, _ = unit.services.passwords.sign_in("contoso", "grace@partner.example", PASSWORD, ip=None)
    assert user.email == "grace@partner.example"


def test_an_invite_link_expires_after_72_hours(unit: UnitWorld) -> None:
    unit.tenant()
    _, token = invite(unit)
    unit.advance(dt.timedelta(hours=72, seconds=1))
    with pytest.raises(InvalidLink):
        unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)


def test_unknown_or_foreign_links_are_invalid(unit: UnitWorld) -> None:
    unit.tenant()
    unit.tenant("fabrikam")
    _, token = invite(unit)
    for tenant, candidate in (("contoso", "made-up"), ("contoso", ""), ("fabrikam", token)):
        with pytest.raises(InvalidLink):
            unit.services.passwords.link_user(tenant, candidate)


def test_a_weak_password_is_refused_naming_the_field_and_the_link_still_works(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    _, token = invite(unit)
    with pytest.raises(InvalidRequest) as refused:
        unit.services.passwords.set_password("contoso", token, Secret("Password1234"), ip=None)
    assert set(refused.value.fields) == {"password"}
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)


def test_wrong_password_unknown_email_and_sso_user_get_one_answer(unit: UnitWorld) -> None:
    unit.tenant()
    _, token = invite(unit)
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))
    attempts = (
        ("grace@partner.example", Secret("not her phrase at all")),
        ("nobody@partner.example", PASSWORD),
        ("ada@contoso.example", PASSWORD),  # signs in with Microsoft only
        ("", PASSWORD),
    )
    answers = set()
    for email, password in attempts:
        with pytest.raises(InvalidCredentials) as refused:
            unit.services.passwords.sign_in("contoso", email, password, ip=None)
        answers.add((refused.value.status, refused.value.description))
    assert answers == {(401, "The email or password is not correct.")}


def test_a_disabled_password_user_is_told_only_after_the_right_password(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    user, token = invite(unit)
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)
    unit.services.users.set_disabled("contoso", user.id, True)
    with pytest.raises(InvalidCredentials):
        unit.services.passwords.sign_in(
            "contoso", "grace@partner.example", Secret("a wrong guess, long"), ip=None
        )
    with pytest.raises(AccountDisabled):
        unit.services.passwords.sign_in("contoso", "grace@partner.example", PASSWORD, ip=None)


def test_a_password_user_cannot_sign_in_with_microsoft(unit: UnitWorld) -> None:
    unit.tenant()
    user, _ = invite(unit, email="ada@contoso.example")
    with pytest.raises(ProviderMismatch):
        unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))
    stored = unit.services.users.get("contoso", user.id)
    assert stored is not None and stored.provider == "password"


def test_an_email_in_use_is_refused_and_nothing_is_written(unit: UnitWorld) -> None:
    unit.tenant()
    invite(unit)
    before = unit.tables.row_count("users")
    with pytest.raises(EmailInUse):
        invite(unit, email="GRACE@partner.example")
    assert unit.tables.row_count("users") == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "name", "provider"}),
        ({"email": "x", "name": "X", "provider": "password"}, {"email"}),
        ({"email": "a@b.example", "name": " ", "provider": "ldap"}, {"name", "provider"}),
        (
            {
                "email": "a@b.example",
                "name": "A",
                "provider": "microsoft",
                "profiles": [random_id()],
            },
            {"profiles"},
        ),
        ({"email": "a@b.example", "name": "A", "provider": "password", "role": "x"}, {"role"}),
    ],
)
def test_a_bad_user_is_refused_naming_its_fields(
    unit: UnitWorld, body: dict[str, object], fields: set[str]
) -> None:
    unit.tenant()
    with pytest.raises(InvalidRequest) as refused:
        unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert set(refused.value.fields) == fields
    assert unit.services.users.list("contoso", limit=10, cursor=None)[0] == []


def test_only_a_platform_operator_gives_another_customer_id(unit: UnitWorld) -> None:
    unit.tenant()
    body = {
        "email": "a@b.example",
        "name": "A",
        "provider": "microsoft",
        "customer_id": random_id(),
    }
    with pytest.raises(Forbidden):
        unit.services.user_creation.create(TENANT_ADMIN, "contoso", body, ip=None)
    user, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is None and user.customer_id == body["customer_id"]


def test_a_wrong_password_costs_the_same_storage_calls_whoever_the_email_names(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing names no account: a password user, a Microsoft user and nobody make the
    # same calls before the answer (the refusal's audit comes after it).
    unit.tenant()
    _, token = invite(unit)
    unit.services.passwords.set_password("contoso", token, PASSWORD, ip=None)
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))
    later: list[Callable[[], None]] = []
    unit.services.passwords.in_background = later.append
    calls = table_calls(unit, monkeypatch)
    made: dict[str, list[str]] = {}
    for n, email in enumerate(("grace@partner.example", "ada@contoso.example", "no@one.example")):
        calls.clear()
        with pytest.raises(InvalidCredentials):
            unit.services.passwords.sign_in(
                "contoso", email, Secret("not her phrase at all"), ip=f"198.51.100.{n}"
            )
        made[email] = list(calls)
    assert len({tuple(c) for c in made.values()}) == 1, made
