"""Pure parts of the admin API: If-Match, paging limits, user ids, the disable patch,
and who the authenticator lets in (tokens and users from in-memory fakes: the
verifier's own checks are tested in test_sessions.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminAuthenticator
from shared.admin.etags import check_if_match, quoted
from shared.admin.input import check_user_id, parse_disabled_patch, parse_limit
from shared.errors import (
    Forbidden,
    InvalidRequest,
    PreconditionFailed,
    PreconditionRequired,
    Unauthorized,
)
from shared.secret import Secret
from shared.sessions.access import SessionClaims
from shared.users import ROLE_TENANT_ADMIN, User

# --- If-Match ----------------------------------------------------------------------------


def test_no_if_match_is_fine_before_the_first_write_and_428_after() -> None:
    check_if_match(None, None)
    with pytest.raises(PreconditionRequired):
        check_if_match(None, "abc")
    with pytest.raises(PreconditionRequired):
        check_if_match("  ", "abc")


@pytest.mark.parametrize("header", ['"abc"', ' "abc" ', '"x", "abc"', "*"])
def test_a_matching_if_match_passes(header: str) -> None:
    check_if_match(header, "abc")


@pytest.mark.parametrize("header", ['"abd"', 'W/"abc"', "abc", '"abc', '"x", W/"abc"', '""'])
def test_a_stale_weak_or_malformed_if_match_is_412(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, "abc")


@pytest.mark.parametrize("header", ["*", '"abc"'])
def test_an_if_match_before_the_first_write_cannot_match(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, None)


def test_etags_are_sent_quoted() -> None:
    assert quoted("abc") == '"abc"'


# --- paging and users ----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "limit"), [(None, 100), ("", 100), ("1", 1), ("1000", 1000)])
def test_limits_from_1_to_1000_are_accepted(raw: str | None, limit: int) -> None:
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "1001", "-5", "1e3", "10.0", "ten", "٣"])
def test_other_limits_are_refused_naming_limit(raw: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_limit(raw)
    assert set(refused.value.fields) == {"limit"}


def test_user_ids_are_canonical_uuids() -> None:
    assert check_user_id("0E000000-0000-4000-8000-000000000001") == (
        "0e000000-0000-4000-8000-000000000001"
    )
    for bad in (
        "",
        "x",
        "{0e000000-0000-4000-8000-000000000001}",
        "0e0000000000400080000000000000001",
    ):
        with pytest.raises(InvalidRequest):
            check_user_id(bad)


def test_the_disable_patch_takes_exactly_a_boolean() -> None:
    assert parse_disabled_patch({"disabled": True}) is True
    assert parse_disabled_patch({"disabled": False}) is False
    bad_bodies: list[object] = [{}, {"disabled": 1}, {"disabled": None}, {"disabled": True, "x": 1}]
    for bad in [*bad_bodies, []]:
        with pytest.raises(InvalidRequest):
            parse_disabled_patch(bad)


# --- the authenticator -----------------------------------------------------------------------


class Tokens:
    def __init__(self, claims: SessionClaims | None) -> None:
        self.claims = claims

    def verify_token(self, raw: str | None) -> SessionClaims:
        if raw != "good" or self.claims is None:
            raise Unauthorized()
        return self.claims


class Users:
    def __init__(self, *users: User) -> None:
        self.users = {(u.tenant, u.id): u for u in users}

    def get(self, tenant: str, user_id: str) -> User | None:
        return self.users.get((tenant, user_id))


def user(*, roles: tuple[str, ...] = (ROLE_TENANT_ADMIN,), disabled: bool = False) -> User:
    return User(
        id="u1",
        tenant="acme",
        email="a@acme.example",
        name="A",
        provider="microsoft",
        customer_id=None,
        profiles=(),
        roles=roles,
        disabled=disabled,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        last_login_at=None,
    )


def claims(*, tenant: str = "acme", roles: tuple[str, ...] = (ROLE_TENANT_ADMIN,)) -> SessionClaims:
    return SessionClaims(sub="u1", tenant=tenant, sid="s", provider="microsoft", roles=roles)


def authenticator(
    key: str | None = "k" * 32, token: SessionClaims | None = None, *users: User
) -> AdminAuthenticator:
    return AdminAuthenticator(
        platform_key=Secret(key) if key else None, tokens=Tokens(token), users=Users(*users)
    )


def test_the_platform_key_lets_operators_in_everywhere() -> None:
    caller = authenticator().authenticate("any", platform_key="k" * 32, bearer=None)
    assert caller.platform and caller.actor == PLATFORM_ACTOR


@pytest.mark.parametrize("key", ["k" * 31, "k" * 33, "K" * 32, "", "k" * 31 + "é"])
def test_a_wrong_platform_key_is_401_even_beside_a_good_token(key: str) -> None:
    auth = authenticator("k" * 32, claims(), user())
    with pytest.raises(Unauthorized):
        auth.authenticate("acme", platform_key=key, bearer="good")


def test_without_a_configured_key_no_platform_key_opens_anything() -> None:
    for key in ("", "None", "k" * 32):
        with pytest.raises(Unauthorized):
            authenticator(None).authenticate("acme", platform_key=key, bearer=None)


def test_a_tenant_admin_gets_in_to_their_own_tenant_only() -> None:
    auth = authenticator("k" * 32, claims(), user())
    caller = auth.authenticate("acme", platform_key=None, bearer="good")
    assert not caller.platform and caller.user_id == "u1"
    assert caller.actor == "user:u1 <a@acme.example>"
    with pytest.raises(Forbidden):
        auth.authenticate("globex", platform_key=None, bearer="good")
    with pytest.raises(Forbidden):
        auth.authenticate("acme", platform_key=None, bearer="good", platform_only=True)


def test_no_credential_or_a_bad_token_is_401() -> None:
    auth = authenticator("k" * 32, claims(), user())
    with pytest.raises(Unauthorized):
        auth.authenticate("acme", platform_key=None, bearer=None)
    with pytest.raises(Unauthorized):
        auth.authenticate("acme", platform_key=None, bearer="forged")


def test_a_token_without_the_role_or_for_a_demoted_user_is_403() -> None:
    with pytest.raises(Forbidden):
        authenticator("k", claims(roles=()), user()).authenticate(
            "acme", platform_key=None, bearer="good"
        )
    with pytest.raises(Forbidden):
        authenticator("k", claims(), user(roles=())).authenticate(
            "acme", platform_key=None, bearer="good"
        )


def test_a_token_of_a_disabled_or_deleted_user_is_401() -> None:
    with pytest.raises(Unauthorized):
        authenticator("k", claims(), user(disabled=True)).authenticate(
            "acme", platform_key=None, bearer="good"
        )
    with pytest.raises(Unauthorized):
        authenticator("k", claims()).authenticate("acme", platform_key=None, bearer="good")
