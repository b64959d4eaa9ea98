"""Enforce SSO: it cannot lock a tenant out, and while on it closes every password
route and makes new users SSO users only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import EnforceSsoUnsafe, InvalidGrant, SsoRequired, Unauthorized
from shared.secret import Secret
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)


def put(unit: UnitWorld, **fields: Any) -> dict[str, Any]:
    admin = unit.services.admin
    current = admin.get_config("contoso")
    written = admin.put_config(
        PLATFORM, "contoso", current.body | fields, if_match=current.etag, ip=None
    )
    return written.body


def with_sso_admin(unit: UnitWorld) -> None:
    admins = random_id()
    unit.tenant(admin_groups=(admins,))
    unit.sign_in(Person(oid=random_id(), email="boss@contoso.example", groups=(admins,)))


def test_enforce_sso_is_refused_while_sso_is_off_and_nothing_changes(unit: UnitWorld) -> None:
    unit.tenant(enabled=False)
    before = unit.services.admin.get_config("contoso")
    with pytest.raises(EnforceSsoUnsafe):
        put(unit, enforce_sso=True)
    assert unit.services.admin.get_config("contoso") == before


def test_enforce_sso_is_refused_until_a_tenant_admin_has_signed_in_with_microsoft(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))  # not an admin
    with pytest.raises(EnforceSsoUnsafe):
        put(unit, enforce_sso=True)


def test_an_admin_sign_in_older_than_30_days_does_not_count(unit: UnitWorld) -> None:
    with_sso_admin(unit)
    unit.advance(dt.timedelta(days=31))
    with pytest.raises(EnforceSsoUnsafe):
        put(unit, enforce_sso=True)


def test_with_a_recent_sso_admin_it_turns_on_and_closes_the_password_routes(
    unit: UnitWorld,
) -> None:
    with_sso_admin(unit)
    assert put(unit, enforce_sso=True)["enforce_sso"] is True
    passwords = unit.services.passwords
    with pytest.raises(SsoRequired):
        passwords.sign_in("contoso", "grace@partner.example", Secret("any long phrase"), ip=None)
    with pytest.raises(SsoRequired):
        passwords.set_password("contoso", "a-token", Secret("any long phrase"), ip=None)
    body = {"email": "grace@partner.example", "name": "Grace", "provider": "password"}
    with pytest.raises(SsoRequired):
        unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    sso_user = body | {"provider": "microsoft"}
    assert unit.services.user_creation.create(PLATFORM, "contoso", sso_user, ip=None)[1] is None


def test_switching_sso_off_while_enforced_reopens_every_password_route_alike(
    unit: UnitWorld,
) -> None:
    # Enforce SSO stays on in the document, but with SSO off it is not in effect: the
    # password routes work again, so creating a password user works too (one rule
    # for all of them, never a user who could be created but not sign in, or the
    # other way round).
    with_sso_admin(unit)
    put(unit, enforce_sso=True)
    assert put(unit, enabled=False)["enforce_sso"] is True
    body = {"email": "grace@partner.example", "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    token = url.split("token=", 1)[1]
    phrase = Secret("a phrase only she knows well")
    user, _ = unit.services.passwords.set_password("contoso", token, phrase, ip=None)
    assert user.email == "grace@partner.example"


def test_the_platform_operator_can_always_turn_it_off(unit: UnitWorld) -> None:
    with_sso_admin(unit)
    put(unit, enforce_sso=True)
    unit.advance(dt.timedelta(days=60))  # no recent admin sign-in any more
    assert put(unit, enforce_sso=False)["enforce_sso"] is False
    events, _ = unit.services.audit.list("contoso", limit=10, cursor=None)
    assert [e["fields"] for e in events if e["action"] == "config_updated"][:2] == [
        ["enforce_sso"],
        ["enforce_sso"],
    ]


def test_turning_it_on_ends_the_password_sessions_already_running(unit: UnitWorld) -> None:
    with_sso_admin(unit)
    body = {"email": "grace@partner.example", "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    token = url.split("token=", 1)[1]
    phrase = Secret("a phrase only she knows well")
    _, tokens = unit.services.passwords.set_password("contoso", token, phrase, ip=None)
    assert (
        unit.services.sessions.current_user("contoso", tokens.access_token).provider == "password"
    )

    put(unit, enforce_sso=True)

    with pytest.raises(SsoRequired):
        unit.services.sessions.refresh("contoso", tokens.refresh_token, ip=None)
    with pytest.raises(Unauthorized):  # the session has ended
        unit.services.sessions.current_user("contoso", tokens.access_token)


def test_sessions_it_ended_stay_ended_when_it_is_turned_off_again(unit: UnitWorld) -> None:
    # Not used while it was on, they were never refused; they must not come back.
    with_sso_admin(unit)
    body = {"email": "grace@partner.example", "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    phrase = Secret("a phrase only she knows well")
    _, before = unit.services.passwords.set_password(
        "contoso", url.split("token=", 1)[1], phrase, ip=None
    )
    put(unit, enforce_sso=True)
    unit.advance(dt.timedelta(seconds=1))
    put(unit, enforce_sso=False)

    with pytest.raises(Unauthorized):
        unit.services.sessions.current_user("contoso", before.access_token)
    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", before.access_token)
    with pytest.raises(InvalidGrant):  # ended by the first use above, for good
        unit.services.sessions.refresh("contoso", before.refresh_token, ip=None)
    # A sign-in after it is off again starts a session that works.
    unit.advance(dt.timedelta(seconds=1))
    _, after = unit.services.passwords.sign_in("contoso", "grace@partner.example", phrase, ip=None)
    assert unit.services.sessions.current_user("contoso", after.access_token).email
    assert unit.services.sessions.refresh("contoso", after.refresh_token, ip=None).access_token
