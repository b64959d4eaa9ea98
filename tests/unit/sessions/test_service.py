"""SessionService on in-memory stores: tokens, rotation and reuse, sign-out, and
sessions that follow the user's row and the tenant's configuration.

Users sign in through the real sign-in service (Entra is the EntraDouble); time is
moved with a SessionService of our own whose clock a test holds."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.admin.auth import AdminCaller
from shared.errors import AccountDisabled, InvalidGrant, SsoDisabled, SsoUnavailable, Unauthorized
from shared.sessions.access import ACCESS_TOKEN_TTL, SessionClaims, issue_access_token
from shared.sessions.keys import SessionKeyRing, SigningKey
from shared.sessions.refresh import REFRESH_ABSOLUTE_TTL, REFRESH_IDLE_TTL
from shared.sessions.service import SessionService
from shared.signin.results import Completed
from shared.tenants.model import OAuth2Config, ProfileMapping
from shared.users import ROLE_TENANT_ADMIN
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id

IP = "192.0.2.7"
DAY = 24 * 3600


@dataclass
class Clock:
    """Epoch seconds a test moves by hand (starts now: the stores' expiry is real time)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sign_in(unit: UnitWorld, person: Person, tenant: str = "contoso") -> Completed:
    return unit.sign_in(person, tenant, ip=IP)


def person(*groups: str, email: str = "ada@contoso.example") -> Person:
    return Person(oid=random_id(), email=email, groups=groups)


def with_clock(unit: UnitWorld, clock: Clock) -> SessionService:
    return replace(unit.services.sessions, clock=clock)


def audit(unit: UnitWorld, tenant: str = "contoso") -> list[dict[str, Any]]:
    events, _ = unit.services.audit.list(tenant, limit=100, cursor=None)
    return events


def actions(unit: UnitWorld, tenant: str = "contoso") -> list[str]:
    return [str(event["action"]) for event in audit(unit, tenant)]


def admin_caller() -> AdminCaller:
    return AdminCaller(actor="platform_admin", platform=True)


# --- start ---------------------------------------------------------------------------


def test_a_started_session_s_access_token_names_the_user_tenant_provider_and_profiles(
    unit: UnitWorld,
) -> None:
    engineers, admins, profile = random_id(), random_id(), random_id()
    unit.tenant(mappings={engineers: profile}, admin_groups=(admins,))
    user = sign_in(unit, person(engineers, admins)).user

    tokens = unit.services.sessions.start_session(user, entra_session_id="entra-sid-1")

    claims = unit.services.sessions.verify("contoso", tokens.access_token)
    assert (claims.sub, claims.tenant, claims.sid) == (user.id, "contoso", tokens.session_id)
    assert claims.provider == "microsoft"
    assert claims.email == "ada@contoso.example"
    assert claims.profiles == (profile,)
    assert claims.roles == (ROLE_TENANT_ADMIN,)
    assert claims.exp - claims.iat == ACCESS_TOKEN_TTL == tokens.expires_in
    assert tokens.refresh_expires_in == REFRESH_ABSOLUTE_TTL
    me = unit.services.sessions.current_user("contoso", tokens.access_token)
    assert (me.id, me.profiles, me.roles) == (user.id, (profile,), (ROLE_TENANT_ADMIN,))


def test_each_session_of_a_user_is_its_own(unit: UnitWorld) -> None:
    unit.tenant()
    user = sign_in(unit, person()).user

    first = unit.services.sessions.start_session(user)
    second = unit.services.sessions.start_session(user)

    assert first.session_id != second.session_id
    assert first.refresh_token != second.refresh_token


def test_an_access_token_is_refused_on_another_tenant_s_routes(unit: UnitWorld) -> None:
    unit.tenant("contoso")
    unit.tenant("fabrikam")
    tokens = sign_in(unit, person(), "contoso").tokens

    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("fabrikam", tokens.access_token)
    with pytest.raises(Unauthorized):
        unit.services.sessions.current_user("fabrikam", tokens.access_token)


@pytest.mark.parametrize("raw", [None, "", "not-a-jwt", "a.b.c"])
def test_no_or_a_malformed_access_token_is_unauthorized(unit: UnitWorld, raw: str | None) -> None:
    unit.tenant()

    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", raw)


# --- refresh: rotation and reuse -------------------------------------------------------


def test_a_refresh_rotates_the_refresh_token_and_keeps_the_session(unit: UnitWorld) -> None:
    unit.tenant()
    first = sign_in(unit, person()).tokens

    second = unit.services.sessions.refresh("contoso", first.refresh_token, ip=IP)
    third = unit.services.sessions.refresh("contoso", second.refresh_token, ip=IP)

    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert first.session_id == second.session_id == third.session_id
    claims = unit.services.sessions.verify("contoso", third.access_token)
    assert claims.sid == first.session_id


def test_a_used_refresh_token_presented_again_revokes_the_whole_session(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    sessions = unit.services.sessions
    newest = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    with pytest.raises(InvalidGrant) as reused:
        sessions.refresh("contoso", done.tokens.refresh_token, ip="198.51.100.9")

    assert reused.value.code == "invalid_grant"
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", newest.refresh_token, ip=IP)
    for access_token in (newest.access_token, done.tokens.access_token):
        with pytest.raises(Unauthorized):
            sessions.verify("contoso", access_token)
    event = audit(unit)[0]
    assert event["action"] == "refresh_token_reused"
    assert (event["user_id"], event["code"], event["ip"]) == (
        done.user.id,
        "invalid_grant",
        "198.51.100.9",
    )


def test_a_refresh_that_cannot_read_the_signing_key_leaves_the_token_for_a_retry(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    # A fresh worker (nothing cached) while Key Vault is down.
    cold = replace(unit.services.sessions, keys=SessionKeyRing(unit.vault))
    unit.vault.fail_with = SsoUnavailable("Key Vault is down")
    with pytest.raises(SsoUnavailable):
        cold.refresh("contoso", done.tokens.refresh_token, ip=IP)

    unit.vault.fail_with = None
    retried = cold.refresh("contoso", done.tokens.refresh_token, ip=IP)

    assert (
        unit.services.sessions.verify("contoso", retried.access_token).sid == done.tokens.session_id
    )
    assert "refresh_token_reused" not in actions(unit)


def test_where_repeats_are_allowed_the_token_just_replaced_gets_the_same_successor(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    clock = Clock()
    sessions = with_clock(unit, clock)
    first = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
    clock.advance(29)

    again = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)

    # Both answers set the same refresh cookie, and it is the session's good token.
    assert again.refresh_token == first.refresh_token
    assert sessions.verify("contoso", again.access_token).sid == done.tokens.session_id
    newest = sessions.refresh("contoso", first.refresh_token, ip=IP)
    assert "refresh_token_reused" not in actions(unit)
    # Replaced twice over, the sign-in's token is a reuse again, window or not.
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", newest.refresh_token, ip=IP)
    assert actions(unit)[0] == "refresh_token_reused"


def test_a_repeat_after_the_window_or_at_the_token_endpoint_ends_the_session(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    for allow_repeat, wait in ((True, 31), (False, 1)):
        done = sign_in(unit, person(email=f"ada{wait}@contoso.example"))
        # Renewed where repeats are allowed (a settings page): its successor is kept.
        newest = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
        clock.advance(wait)
        with pytest.raises(InvalidGrant):
            sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=allow_repeat)
        with pytest.raises(InvalidGrant):  # the whole family has ended
            sessions.refresh("contoso", newest.refresh_token, ip=IP)


def test_two_renewals_racing_on_one_token_both_get_the_winners_successor(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both read the family before either writes: the loser's write fails on the etag,
    # and it must then read the winner's rotation as a repeat, not as a stolen copy.
    unit.tenant()
    done = sign_in(unit, person())
    sessions = unit.services.sessions
    store = sessions.refresh_tokens
    original = store.replace
    won: list[str] = []

    def replace_after_a_rival(family: Any, *, etag: str) -> None:
        if not won:
            won.append("rival")  # the rival's own write goes straight through
            won.append(
                sessions.refresh(
                    "contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True
                ).refresh_token
            )
        original(family, etag=etag)

    monkeypatch.setattr(store, "replace", replace_after_a_rival)
    loser = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)

    assert loser.refresh_token == won[1]
    assert "refresh_token_reused" not in actions(unit)
    monkeypatch.setattr(store, "replace", original)
    assert (
        sessions.refresh("contoso", loser.refresh_token, ip=IP).session_id == done.tokens.session_id
    )


def test_a_token_the_token_endpoint_rotated_is_no_repeat_at_the_pages(unit: UnitWorld) -> None:
    # A stolen copy of an API client's token, brought to a page that allows repeats
    # within 30 s of the client's own rotation: a reuse, as anywhere else.
    unit.tenant()
    done = sign_in(unit, person())
    sessions = unit.services.sessions
    newest = sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", newest.refresh_token, ip=IP)
    assert actions(unit)[0] == "refresh_token_reused"


def test_a_repeat_of_a_disabled_user_or_a_revoked_session_gets_nothing(unit: UnitWorld) -> None:
    unit.tenant()
    sessions = unit.services.sessions
    done = sign_in(unit, person())
    sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
    unit.services.users.set_disabled("contoso", done.user.id, True)
    with pytest.raises(AccountDisabled):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP, allow_repeat=True)
    other = sign_in(unit, person(email="bob@contoso.example"))
    sessions.refresh("contoso", other.tokens.refresh_token, ip=IP, allow_repeat=True)
    sessions.sign_out("contoso", access_tokens=[other.tokens.access_token], ip=IP)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", other.tokens.refresh_token, ip=IP, allow_repeat=True)


def test_a_reused_token_ends_only_its_own_session(unit: UnitWorld) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    sessions = unit.services.sessions
    other = sessions.start_session(done.user)
    sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    assert sessions.verify("contoso", other.access_token).sid == other.session_id
    sessions.refresh("contoso", other.refresh_token, ip=IP)


def test_a_wrong_secret_for_a_real_session_is_refused_without_ending_it(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    user_id, family_id, _ = tokens.refresh_token.split(".")
    guessed = f"{user_id}.{family_id}.{'A' * 43}"

    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("contoso", guessed, ip=IP)

    assert "refresh_token_reused" not in actions(unit)
    unit.services.sessions.refresh("contoso", tokens.refresh_token, ip=IP)


# --- refresh: refusals -----------------------------------------------------------------


def test_a_session_refreshed_every_six_days_ends_after_thirty_days(unit: UnitWorld) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    for _ in range(4):  # days 6 .. 24: each refresh is inside the 7-day idle window
        clock.advance(6 * DAY)
        tokens = sessions.refresh("contoso", tokens.refresh_token, ip=IP)
    clock.advance(REFRESH_ABSOLUTE_TTL - 24 * DAY)

    with pytest.raises(InvalidGrant) as refused:
        sessions.refresh("contoso", tokens.refresh_token, ip=IP)

    assert refused.value.description == "The refresh token has expired."


def test_a_refresh_one_second_before_the_thirty_days_still_works(unit: UnitWorld) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    for _ in range(4):
        clock.advance(6 * DAY)
        tokens = sessions.refresh("contoso", tokens.refresh_token, ip=IP)
    clock.advance(REFRESH_ABSOLUTE_TTL - 24 * DAY - 1)

    tokens = sessions.refresh("contoso", tokens.refresh_token, ip=IP)

    assert sessions.verify("contoso", tokens.access_token).tenant == "contoso"


def test_an_access_token_stops_working_when_its_session_reaches_thirty_days(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    for _ in range(4):
        clock.advance(6 * DAY)
        tokens = sessions.refresh("contoso", tokens.refresh_token, ip=IP)
    clock.advance(REFRESH_ABSOLUTE_TTL - 24 * DAY - 60)
    tokens = sessions.refresh("contoso", tokens.refresh_token, ip=IP)  # good for 15 minutes
    clock.advance(60)  # ... but the session ends now

    with pytest.raises(Unauthorized) as refused:
        sessions.verify("contoso", tokens.access_token)

    assert "session has expired" in refused.value.description


def test_a_refresh_token_unused_for_seven_days_is_refused(unit: UnitWorld) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    clock.advance(REFRESH_IDLE_TTL)

    with pytest.raises(InvalidGrant) as refused:
        sessions.refresh("contoso", tokens.refresh_token, ip=IP)

    assert "inactivity" in refused.value.description


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "user.family.secret.extra",
        # Our shape, but no such session.
        f"{random_id()}.{'F' * 22}.{'S' * 43}",
    ],
)
def test_a_malformed_or_unknown_refresh_token_is_an_invalid_grant(
    unit: UnitWorld, token: str
) -> None:
    unit.tenant()

    with pytest.raises(InvalidGrant) as refused:
        unit.services.sessions.refresh("contoso", token, ip=IP)

    assert refused.value.code == "invalid_grant"
    assert actions(unit) == []


def test_a_refresh_token_of_one_tenant_is_refused_by_another(unit: UnitWorld) -> None:
    unit.tenant("contoso")
    unit.tenant("fabrikam")
    ada = person()
    at_contoso = sign_in(unit, ada, "contoso")
    at_fabrikam = sign_in(unit, ada, "fabrikam")  # the same Entra identity: the same user id
    assert at_contoso.user.id == at_fabrikam.user.id

    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("fabrikam", at_contoso.tokens.refresh_token, ip=IP)

    # Nothing ended on either tenant.
    unit.services.sessions.refresh("contoso", at_contoso.tokens.refresh_token, ip=IP)
    unit.services.sessions.refresh("fabrikam", at_fabrikam.tokens.refresh_token, ip=IP)


# --- sign out --------------------------------------------------------------------------


def test_signing_out_with_the_access_token_ends_the_session(unit: UnitWorld) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions

    ended = sessions.sign_out("contoso", access_tokens=[tokens.access_token], ip=IP)

    assert ended is True
    with pytest.raises(Unauthorized):
        sessions.verify("contoso", tokens.access_token)
    with pytest.raises(Unauthorized):
        sessions.current_user("contoso", tokens.access_token)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", tokens.refresh_token, ip=IP)
    assert actions(unit)[0] == "sign_out"


def test_signing_out_with_the_refresh_token_ends_the_session(unit: UnitWorld) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions

    ended = sessions.sign_out("contoso", refresh_tokens=[tokens.refresh_token], ip=IP)

    assert ended is True
    with pytest.raises(Unauthorized):
        sessions.verify("contoso", tokens.access_token)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", tokens.refresh_token, ip=IP)


def test_signing_out_twice_is_harmless_and_audited_once(unit: UnitWorld) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions
    access, refresh = [tokens.access_token], [tokens.refresh_token]

    first = sessions.sign_out("contoso", access_tokens=access, refresh_tokens=refresh, ip=IP)
    second = sessions.sign_out("contoso", access_tokens=access, refresh_tokens=refresh, ip=IP)

    assert (first, second) == (True, False)
    assert actions(unit).count("sign_out") == 1
    assert "refresh_token_reused" not in actions(unit)


def test_signing_out_with_an_access_token_past_its_fifteen_minutes_ends_the_session(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    clock.advance(20 * 60)

    ended = sessions.sign_out("contoso", access_tokens=[tokens.access_token], ip=IP)

    assert ended is True
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", tokens.refresh_token, ip=IP)


def test_signing_out_with_nothing_or_garbage_ends_nothing(unit: UnitWorld) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions

    assert sessions.sign_out("contoso", ip=IP) is False
    assert (
        sessions.sign_out("contoso", access_tokens=[None, "x"], refresh_tokens=["y"], ip=IP)
        is False
    )

    assert "sign_out" not in actions(unit)
    assert sessions.verify("contoso", tokens.access_token).sid == tokens.session_id


def test_signing_out_ends_only_the_named_session(unit: UnitWorld) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    other = unit.services.sessions.start_session(done.user)

    unit.services.sessions.sign_out("contoso", access_tokens=[done.tokens.access_token], ip=IP)

    assert unit.services.sessions.verify("contoso", other.access_token).sid == other.session_id


def test_entra_logout_ends_the_sessions_of_that_entra_sign_in(unit: UnitWorld) -> None:
    unit.tenant()
    done = sign_in(unit, person())  # the EntraDouble's person carries an Entra sid
    elsewhere = unit.services.sessions.start_session(done.user, entra_session_id="another-sid")

    ended = unit.services.sessions.sign_out(
        "contoso", entra_session_id="00000000-0000-0000-0000-0000000000aa", ip=IP
    )

    assert ended is True
    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", done.tokens.access_token)
    assert unit.services.sessions.verify("contoso", elsewhere.access_token).sub == done.user.id


def test_signing_out_when_its_audit_event_cannot_be_written_still_signs_out(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Storage fails for the audit row only, after the session has ended: the person is
    # signed out (their cookies cleared), not sent a 503 whose retry ends nothing.
    unit.tenant()
    done = sign_in(unit, person())
    audit = unit.services.audit  # the store the sessions record their events in
    assert unit.services.sessions.audit is audit
    audit_tables = audit.tables

    class AuditRowRefused:
        def __getattr__(self, name: str) -> Any:
            return getattr(audit_tables, name)

        def insert(self, *_: Any, **__: Any) -> Any:
            raise SsoUnavailable("Table Storage could not be reached or failed the request.")

    monkeypatch.setattr(audit, "tables", AuditRowRefused())
    ended = unit.services.sessions.sign_out(
        "contoso", access_tokens=[done.tokens.access_token], ip=IP
    )

    assert ended is True
    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", done.tokens.access_token)


# --- the user's row --------------------------------------------------------------------


def test_a_disabled_user_cannot_refresh_and_their_session_ends(unit: UnitWorld) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    sessions = unit.services.sessions
    unit.services.users.set_disabled("contoso", done.user.id, True)

    with pytest.raises(AccountDisabled):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    with pytest.raises(Unauthorized):
        sessions.verify_token(done.tokens.access_token)
    # Enabled again, the ended session stays ended: they sign in again.
    unit.services.users.set_disabled("contoso", done.user.id, False)
    with pytest.raises(InvalidGrant):
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)


def test_a_disabled_user_s_access_token_no_longer_shows_who_they_are(unit: UnitWorld) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    unit.services.users.set_disabled("contoso", done.user.id, True)

    with pytest.raises(Unauthorized):
        unit.services.sessions.current_user("contoso", done.tokens.access_token)


def test_disabling_a_user_through_the_admin_api_ends_every_session_at_once(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    done = sign_in(unit, person())
    other = unit.services.sessions.start_session(done.user)

    unit.services.admin.set_user_disabled(
        admin_caller(), "contoso", done.user.id, {"disabled": True}, ip=IP
    )

    for access_token in (done.tokens.access_token, other.access_token):
        with pytest.raises(Unauthorized):
            unit.services.sessions.verify_token(access_token)
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("contoso", other.refresh_token, ip=IP)


# --- the tenant's configuration --------------------------------------------------------


def test_a_refresh_gives_the_profiles_of_the_current_mappings(unit: UnitWorld) -> None:
    engineers, old_profile, new_profile = random_id(), random_id(), random_id()
    config = unit.tenant(mappings={engineers: old_profile})
    done = sign_in(unit, person(engineers))
    assert done.user.profiles == (old_profile,)
    remapped = (ProfileMapping(group_id=engineers, profile_id=new_profile),)
    unit.services.configs.put_tenant(
        "contoso", "Contoso", replace(config, profile_mappings=remapped)
    )

    tokens = unit.services.sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    assert unit.services.sessions.verify("contoso", tokens.access_token).profiles == (new_profile,)
    stored = unit.services.users.get("contoso", done.user.id)
    assert stored is not None and stored.profiles == (new_profile,)


def test_who_am_i_shows_the_current_mappings_before_any_refresh(unit: UnitWorld) -> None:
    engineers, old_profile, new_profile = random_id(), random_id(), random_id()
    unit.tenant(mappings={engineers: old_profile})
    done = sign_in(unit, person(engineers))
    unit.tenant(mappings={engineers: new_profile})

    me = unit.services.sessions.current_user("contoso", done.tokens.access_token)

    assert me.profiles == (new_profile,)


def test_a_refresh_after_the_admin_group_is_removed_drops_the_admin_role(
    unit: UnitWorld,
) -> None:
    admins = random_id()
    config = unit.tenant(admin_groups=(admins,))
    done = sign_in(unit, person(admins))
    assert done.user.roles == (ROLE_TENANT_ADMIN,)
    unit.services.configs.put_tenant(
        "contoso", "Contoso", replace(config, admin_group_ids=(random_id(),))
    )

    tokens = unit.services.sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    assert unit.services.sessions.verify("contoso", tokens.access_token).roles == ()
    stored = unit.services.users.get("contoso", done.user.id)
    assert stored is not None and stored.roles == ()


def test_a_refresh_after_the_user_s_group_becomes_an_admin_group_grants_the_role(
    unit: UnitWorld,
) -> None:
    engineers = random_id()
    config = unit.tenant()
    done = sign_in(unit, person(engineers))
    assert done.user.roles == ()
    unit.services.configs.put_tenant(
        "contoso", "Contoso", replace(config, admin_group_ids=(engineers,))
    )

    tokens = unit.services.sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    assert unit.services.sessions.verify("contoso", tokens.access_token).roles == (
        ROLE_TENANT_ADMIN,
    )


def test_who_am_i_does_not_grant_a_role_the_user_s_row_lacks(unit: UnitWorld) -> None:
    engineers = random_id()
    config = unit.tenant()
    done = sign_in(unit, person(engineers))
    unit.services.configs.put_tenant(
        "contoso", "Contoso", replace(config, admin_group_ids=(engineers,))
    )

    me = unit.services.sessions.current_user("contoso", done.tokens.access_token)

    assert me.roles == ()


def signed_in_then_sso_off(unit: UnitWorld) -> tuple[OAuth2Config, Person, Completed]:
    """Ada signed in, then the tenant's SSO switched off: the configuration as it was
    (on), Ada, and her sign-in."""
    config = unit.tenant()
    ada = person()
    done = sign_in(unit, ada)
    unit.services.configs.put_tenant("contoso", "Contoso", replace(config, enabled=False))
    return config, ada, done


def test_a_refresh_after_sso_is_switched_off_is_refused_and_the_session_ends(
    unit: UnitWorld,
) -> None:
    config, _ada, done = signed_in_then_sso_off(unit)

    with pytest.raises(SsoDisabled):
        unit.services.sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)

    unit.services.configs.put_tenant("contoso", "Contoso", config)  # back on: still ended
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)
    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", done.tokens.access_token)


def test_an_access_token_is_refused_once_sso_is_switched_off(unit: UnitWorld) -> None:
    _config, _ada, done = signed_in_then_sso_off(unit)

    with pytest.raises(Unauthorized):
        unit.services.sessions.verify("contoso", done.tokens.access_token)
    with pytest.raises(Unauthorized):
        unit.services.sessions.current_user("contoso", done.tokens.access_token)


# --- access tokens that are not ours, or no longer valid -------------------------------


def claims_of(unit: UnitWorld, raw: str) -> SessionClaims:
    return unit.services.sessions.verify("contoso", raw)


def test_an_access_token_signed_by_an_unknown_key_is_unauthorized(unit: UnitWorld) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions
    stranger = SigningKey(kid="not-our-key", private_key=ec.generate_private_key(ec.SECP256R1()))
    forged = issue_access_token(
        key=stranger,
        claims=claims_of(unit, tokens.access_token),
        issuer=sessions.issuer,
        now=time.time(),
    )

    with pytest.raises(Unauthorized) as refused:
        sessions.verify("contoso", forged)

    assert "unknown key" in refused.value.description


def test_an_access_token_signed_by_our_key_id_with_another_key_is_unauthorized(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    tokens = sign_in(unit, person()).tokens
    sessions = unit.services.sessions
    impostor = SigningKey(
        kid=sessions.keys.current().kid, private_key=ec.generate_private_key(ec.SECP256R1())
    )
    forged = issue_access_token(
        key=impostor,
        claims=claims_of(unit, tokens.access_token),
        issuer=sessions.issuer,
        now=time.time(),
    )

    with pytest.raises(Unauthorized):
        sessions.verify("contoso", forged)


def test_an_access_token_is_refused_after_its_fifteen_minutes(unit: UnitWorld) -> None:
    unit.tenant()
    clock = Clock()
    sessions = with_clock(unit, clock)
    tokens = sessions.start_session(sign_in(unit, person()).user)
    clock.advance(ACCESS_TOKEN_TTL - 1)
    assert sessions.verify("contoso", tokens.access_token).sid == tokens.session_id
    clock.advance(60 + 1)  # past the 15 minutes and the verifier's leeway

    with pytest.raises(Unauthorized) as refused:
        sessions.verify("contoso", tokens.access_token)

    assert "expired" in refused.value.description
    # The session is not over: a refresh gives a new access token.
    fresh = sessions.refresh("contoso", tokens.refresh_token, ip=IP)
    assert sessions.verify("contoso", fresh.access_token).sid == tokens.session_id


def test_an_access_token_of_another_issuer_is_unauthorized(unit: UnitWorld) -> None:
    unit.tenant()
    user = sign_in(unit, person()).user
    # Another deployment with the same keys and the same store: only `iss` differs.
    elsewhere = replace(unit.services.sessions, public_base_url="https://auth.other.example")
    tokens = elsewhere.start_session(user)
    assert elsewhere.verify("contoso", tokens.access_token).sub == user.id

    with pytest.raises(Unauthorized) as refused:
        unit.services.sessions.verify("contoso", tokens.access_token)

    assert "iss" in refused.value.description


def test_moving_sso_to_another_directory_ends_the_sessions_of_the_old_one(
    unit: UnitWorld,
) -> None:
    # The old directory's people must not stay signed in once the tenant trusts another.
    config = unit.tenant()
    done = sign_in(unit, person())
    other = sign_in(unit, person(email="grace@contoso.example"))
    moved = replace(config, tenant_id=random_id())
    unit.advance(dt.timedelta(seconds=1))
    unit.services.configs.put_tenant("contoso", "Contoso", moved)
    sessions = unit.services.sessions

    with pytest.raises(SsoDisabled) as ended:
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)
    assert "another directory" in ended.value.description
    with pytest.raises(Unauthorized):
        sessions.verify("contoso", other.tokens.access_token)
    # Another client id in the same directory is the same people: nothing ends.
    unit.advance(dt.timedelta(seconds=1))
    unit.services.configs.put_tenant("contoso", "Contoso", config)
    unit.advance(dt.timedelta(seconds=1))
    again = sign_in(unit, person(email="alan@contoso.example"))
    unit.services.configs.put_tenant("contoso", "Contoso", replace(config, client_id=random_id()))
    assert sessions.refresh("contoso", again.tokens.refresh_token, ip=IP).access_token


def test_a_sign_in_finished_on_a_stale_configuration_after_a_move_ends_at_its_refresh(
    unit: UnitWorld,
) -> None:
    # This instance still has the old directory cached when another instance moves
    # the tenant to a new one: a sign-in here starts after the cut-off, through the
    # old directory. Its first refresh once the cache has caught up ends it.
    unit.moved_elsewhere(unit.tenant())
    late = sign_in(unit, person())
    unit.services.configs.forget("contoso")  # its 30 s are up (the cache runs on real time)

    with pytest.raises(SsoDisabled):
        unit.services.sessions.refresh("contoso", late.tokens.refresh_token, ip=IP)
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("contoso", late.tokens.refresh_token, ip=IP)


def test_a_session_begun_through_the_old_directory_after_a_move_is_refused_at_its_next_use(
    unit: UnitWorld,
) -> None:
    # As above, but the session's access token is used first (the admin API, or any
    # route that takes a Bearer token): it is refused there too, and the session ends.
    unit.moved_elsewhere(unit.tenant())
    late = sign_in(unit, person())
    unit.services.configs.forget("contoso")  # its 30 s are up (the cache runs on real time)

    with pytest.raises(Unauthorized) as refused:
        unit.services.sessions.verify_token(late.tokens.access_token)
    assert "another directory" in refused.value.description
    with pytest.raises(InvalidGrant):  # ended by that use, for good
        unit.services.sessions.refresh("contoso", late.tokens.refresh_token, ip=IP)


def test_sessions_ended_by_switching_sso_off_stay_ended_when_it_is_back_on(
    unit: UnitWorld,
) -> None:
    # A session nobody used while SSO was off was never refused; it must not come back.
    config, ada, done = signed_in_then_sso_off(unit)
    unit.advance(dt.timedelta(seconds=1))
    unit.services.configs.put_tenant("contoso", "Contoso", config)
    sessions = unit.services.sessions

    with pytest.raises(Unauthorized):
        sessions.verify("contoso", done.tokens.access_token)
    with pytest.raises(Unauthorized):
        sessions.current_user("contoso", done.tokens.access_token)
    with pytest.raises(InvalidGrant):  # ended by the first use above, for good
        sessions.refresh("contoso", done.tokens.refresh_token, ip=IP)
    # A sign-in after SSO is back starts a session that works.
    unit.advance(dt.timedelta(seconds=1))
    again = sign_in(unit, ada)
    assert sessions.verify("contoso", again.tokens.access_token).sub == again.user.id
    assert sessions.refresh("contoso", again.tokens.refresh_token, ip=IP).access_token
