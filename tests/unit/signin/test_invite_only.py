"""Users an admin creates for Microsoft sign-in, and invite-only tenants: the first
sign-in with the email claims the user and fixes its Entra identity; later sign-ins
use that identity, never the email; on an invite-only tenant nobody else gets in."""

from __future__ import annotations

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import AccountConflict, UserNotProvisioned
from shared.users import User
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id

PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)


def pending(unit: UnitWorld, email: str = "ada@contoso.example") -> User:
    body = {"email": email, "name": "Ada (invited)", "provider": "microsoft"}
    user, link = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert link is None and user.entra_object_id is None
    return user


def test_the_first_sign_in_with_the_email_claims_the_user_an_admin_created(
    unit: UnitWorld,
) -> None:
    engineers, profile = random_id(), random_id()
    unit.tenant(mappings={engineers: profile})
    invited = pending(unit)
    ada = Person(oid=random_id(), email="ADA@contoso.example", groups=(engineers,))

    done = unit.sign_in(ada)

    assert done.user.id == invited.id  # the admin's user, not a new one
    assert (done.user.entra_object_id, done.user.profiles) == (ada.oid, (profile,))
    assert [u.id for u in unit.services.users.list("contoso", limit=10, cursor=None)[0]] == [
        invited.id
    ]


def test_later_sign_ins_follow_the_identity_even_when_the_email_changes(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    invited = pending(unit)
    oid = random_id()
    unit.sign_in(Person(oid=oid, email="ada@contoso.example"))
    renamed = unit.sign_in(Person(oid=oid, email="ada.lovelace@contoso.example"))
    assert (renamed.user.id, renamed.user.email) == (invited.id, "ada.lovelace@contoso.example")
    # The old address is free again; the claim is never made twice.
    with pytest.raises(AccountConflict):
        unit.sign_in(Person(oid=random_id(), email="ada.lovelace@contoso.example"))


def test_a_claimed_user_cannot_be_claimed_by_another_identity(unit: UnitWorld) -> None:
    unit.tenant()
    pending(unit)
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))
    with pytest.raises(AccountConflict):
        unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))


def test_an_invite_only_tenant_lets_in_only_the_users_created_beforehand(
    unit: UnitWorld,
) -> None:
    unit.tenant(jit_provisioning=False)
    invited = pending(unit)
    before = unit.tables.row_count("users")
    with pytest.raises(UserNotProvisioned):
        unit.sign_in(Person(oid=random_id(), email="stranger@contoso.example"))
    events, _ = unit.services.audit.list("contoso", limit=10, cursor=None)
    assert [(e["action"], e.get("code")) for e in events][:1] == [
        ("sign_in_refused", "user_not_provisioned")
    ]
    assert unit.tables.row_count("users") == before + 2  # the refusal's event and state mark
    assert unit.sign_in(Person(oid=random_id(), email="ada@contoso.example")).user.id == invited.id
