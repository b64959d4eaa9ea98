"""AdminAuthenticator on in-memory stores: the platform key, and tenant admins' sessions.

No or a bad credential is Unauthorized (401); a good one that may not do this is
Forbidden (403). Admins sign in through the real sign-in service (EntraDouble)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminAuthenticator, AdminCaller
from shared.errors import Forbidden, Unauthorized
from shared.signin.results import Completed
from shared.users import ROLE_TENANT_ADMIN
from tests.support.entra_double import Person
from tests.support.unit_services import PLATFORM_KEY, UnitWorld, random_id

IP = "192.0.2.8"


def sign_in(unit: UnitWorld, person: Person, tenant: str = "contoso") -> Completed:
    return unit.sign_in(person, tenant, ip=IP)


def admin_of(unit: UnitWorld, tenant: str = "contoso") -> Completed:
    """A tenant with an admin group, and an admin of it signed in."""
    admins = random_id()
    unit.tenant(tenant, admin_groups=(admins,))
    done = sign_in(unit, Person(oid=random_id(), email="grace@contoso.example", groups=(admins,)))
    assert done.user.roles == (ROLE_TENANT_ADMIN,)
    return done


def as_bearer(unit: UnitWorld, bearer: str | None, tenant: str = "contoso") -> AdminCaller:
    return unit.services.admin_auth.authenticate(tenant, platform_key=None, bearer=bearer)


# --- the platform key ------------------------------------------------------------------


def test_the_platform_key_authenticates_a_platform_operator(unit: UnitWorld) -> None:
    caller = unit.services.admin_auth.authenticate(
        "contoso", platform_key=PLATFORM_KEY, bearer=None
    )

    assert caller == AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)


def test_the_platform_key_is_enough_for_platform_only_routes(unit: UnitWorld) -> None:
    caller = unit.services.admin_auth.authenticate(
        "contoso", platform_key=PLATFORM_KEY, bearer=None, platform_only=True
    )

    assert caller.platform is True


@pytest.mark.parametrize(
    "key", ["", "wrong", PLATFORM_KEY[:-1], PLATFORM_KEY + "x", PLATFORM_KEY.upper(), " "]
)
def test_a_wrong_or_empty_platform_key_is_unauthorized(unit: UnitWorld, key: str) -> None:
    with pytest.raises(Unauthorized):
        unit.services.admin_auth.authenticate("contoso", platform_key=key, bearer=None)


def test_a_wrong_platform_key_is_unauthorized_even_beside_a_valid_admin_token(
    unit: UnitWorld,
) -> None:
    admin = admin_of(unit)

    with pytest.raises(Unauthorized):
        unit.services.admin_auth.authenticate(
            "contoso", platform_key="wrong", bearer=admin.tokens.access_token
        )


@pytest.mark.parametrize("key", ["", PLATFORM_KEY])
def test_with_no_platform_key_configured_no_key_opens_the_platform_api(
    unit: UnitWorld, key: str
) -> None:
    closed: AdminAuthenticator = replace(unit.services.admin_auth, platform_key=None)

    with pytest.raises(Unauthorized):
        closed.authenticate("contoso", platform_key=key, bearer=None)


def test_no_credential_at_all_is_unauthorized(unit: UnitWorld) -> None:
    with pytest.raises(Unauthorized):
        as_bearer(unit, None)


@pytest.mark.parametrize("bearer", ["", "not-a-token"])
def test_a_bearer_that_is_not_our_access_token_is_unauthorized(
    unit: UnitWorld, bearer: str
) -> None:
    unit.tenant()

    with pytest.raises(Unauthorized):
        as_bearer(unit, bearer)


# --- tenant admins ---------------------------------------------------------------------


def test_a_tenant_admin_s_token_is_accepted_for_their_tenant(unit: UnitWorld) -> None:
    admin = admin_of(unit)

    caller = as_bearer(unit, admin.tokens.access_token)

    assert caller == AdminCaller(
        actor=f"user:{admin.user.id} <grace@contoso.example>",
        platform=False,
        user_id=admin.user.id,
    )


def test_a_tenant_admin_s_token_is_forbidden_on_another_tenant(unit: UnitWorld) -> None:
    admin = admin_of(unit, "contoso")
    unit.tenant("fabrikam", admin_groups=(random_id(),))

    with pytest.raises(Forbidden):
        as_bearer(unit, admin.tokens.access_token, tenant="fabrikam")


def test_a_tenant_admin_is_forbidden_platform_only_routes(unit: UnitWorld) -> None:
    admin = admin_of(unit)

    with pytest.raises(Forbidden):
        unit.services.admin_auth.authenticate(
            "contoso", platform_key=None, bearer=admin.tokens.access_token, platform_only=True
        )


def test_a_user_who_is_not_an_admin_is_forbidden(unit: UnitWorld) -> None:
    unit.tenant(admin_groups=(random_id(),))
    user = sign_in(unit, Person(oid=random_id(), email="lin@contoso.example"))

    with pytest.raises(Forbidden):
        as_bearer(unit, user.tokens.access_token)


def test_an_admin_whose_row_lost_the_role_is_forbidden_with_their_old_token(
    unit: UnitWorld,
) -> None:
    admin = admin_of(unit)
    unit.services.users.drop_role("contoso", ROLE_TENANT_ADMIN)  # the token still claims it

    with pytest.raises(Forbidden):
        as_bearer(unit, admin.tokens.access_token)


def test_a_disabled_admin_is_unauthorized(unit: UnitWorld) -> None:
    admin = admin_of(unit)
    unit.services.users.set_disabled("contoso", admin.user.id, True)

    with pytest.raises(Unauthorized):
        as_bearer(unit, admin.tokens.access_token)


def test_an_admin_disabled_through_the_admin_api_is_unauthorized(unit: UnitWorld) -> None:
    admin = admin_of(unit)
    operator = AdminCaller(actor=PLATFORM_ACTOR, platform=True)
    unit.services.admin.set_user_disabled(
        operator, "contoso", admin.user.id, {"disabled": True}, ip=IP
    )

    with pytest.raises(Unauthorized):
        as_bearer(unit, admin.tokens.access_token)


def test_a_signed_out_admin_s_token_is_unauthorized(unit: UnitWorld) -> None:
    admin = admin_of(unit)
    unit.services.sessions.sign_out("contoso", access_tokens=[admin.tokens.access_token], ip=IP)

    with pytest.raises(Unauthorized):
        as_bearer(unit, admin.tokens.access_token)


def test_an_admin_s_token_is_unauthorized_once_sso_is_switched_off(unit: UnitWorld) -> None:
    admin = admin_of(unit)
    config = unit.services.configs.get_config("contoso")
    assert config is not None
    unit.services.configs.put_tenant("contoso", "Contoso", replace(config, enabled=False))

    with pytest.raises(Unauthorized):
        as_bearer(unit, admin.tokens.access_token)
