"""SignInService on in-memory stores: provisioning decisions, lock-in, re-sync, the state.

The service, the container and every adapter are the production code; only the
stores (MemoryTables, MemoryVault) and Entra (EntraDouble) are in memory. The
helpers here are shared with test_service_refusals.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import (
    AccountConflict,
    AccountDisabled,
    InvalidState,
    ProviderMismatch,
    SsoDisabled,
    SsoUnavailable,
)
from shared.sessions.keys import SESSION_KEY_SECRET
from shared.signin.results import Completed, SpaHandoff
from shared.signin.transaction import Mode, new_browser_binding
from shared.store import configs, mappings, tenant_partition
from shared.store.rows import Op
from shared.users import PROVIDER_MICROSOFT, PROVIDER_PASSWORD, ROLE_TENANT_ADMIN, User
from tests.support.entra_double import Person
from tests.support.unit_services import (
    CUSTOMER_ID,
    ENTRA_TENANT_ID,
    PUBLIC_BASE_URL,
    UnitWorld,
    random_id,
)

IP = "192.0.2.1"
PLATFORM = AdminCaller(actor=PLATFORM_ACTOR, platform=True, user_id=None)
# Every table a sign-in could write to.
TABLES = (configs.TABLE, mappings.TABLE, tenant_partition.TABLE)


@dataclass(frozen=True)
class Attempt:
    """A sign-in started at `tenant`'s route: its state, and the cookie of the browser
    that started it (None in JSON mode)."""

    tenant: str
    state: str
    cookie: str | None


def start(
    unit: UnitWorld, tenant: str = "contoso", *, mode: Mode = "redirect", ip: str = IP
) -> Attempt:
    cookie, binding = new_browser_binding()
    started = unit.services.signin.start(
        tenant,
        mode=mode,
        return_to=None,
        browser_binding=binding if mode == "redirect" else None,
        ip=ip,
    )
    return Attempt(tenant, started.state, cookie if mode == "redirect" else None)


def complete(
    unit: UnitWorld,
    attempt: Attempt,
    params: Mapping[str, str],
    *,
    tenant: str | None = None,
    cookie: str | None = None,
    spa: bool = False,
) -> Completed | SpaHandoff:
    """The callback with `params` and the attempt's state, at `tenant`'s route (default:
    the attempt's), from the attempt's browser unless `cookie` says another one's; `spa`:
    the SPA's JSON POST, which carries no cookie."""
    return unit.services.signin.complete(
        tenant or attempt.tenant,
        {"state": attempt.state, **params},
        spa=spa,
        browser_cookie=None if spa else (cookie or attempt.cookie),
        ip=IP,
    )


def sign_in(unit: UnitWorld, person: Person, tenant: str = "contoso") -> Completed:
    attempt = start(unit, tenant)
    done = complete(unit, attempt, {"code": unit.entra.signs_in(person)})
    assert isinstance(done, Completed)
    return done


def users(unit: UnitWorld, tenant: str = "contoso") -> list[User]:
    return unit.services.users.list(tenant, limit=100, cursor=None)[0]


def audited(unit: UnitWorld, tenant: str = "contoso") -> list[tuple[str, str]]:
    """The tenant's audit log as an admin reads it: (action, code or ""), sorted."""
    events, _ = unit.services.audit.list(tenant, limit=100, cursor=None)
    return sorted((str(e["action"]), str(e.get("code", ""))) for e in events)


def row_counts(unit: UnitWorld) -> dict[str, int]:
    return {table: unit.tables.row_count(table) for table in TABLES}


def password_user(email: str, tenant: str = "contoso") -> User:
    return User(
        id=random_id(),
        tenant=tenant,
        email=email,
        name="Ada (password)",
        provider=PROVIDER_PASSWORD,
        customer_id=CUSTOMER_ID,
        profiles=(),
        roles=(),
        disabled=False,
        created_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        last_login_at=None,
    )


# --- provisioning -----------------------------------------------------------------------


def test_a_first_sign_in_creates_the_user_with_the_profiles_of_their_groups(
    unit: UnitWorld,
) -> None:
    engineers, profile = random_id(), random_id()
    unit.tenant(mappings={engineers: profile})
    ada = Person(oid=random_id(), email="ada@contoso.example", groups=(engineers,))

    done = sign_in(unit, ada)

    assert done.user.email == "ada@contoso.example"
    assert done.user.profiles == (profile,)
    claims = unit.services.sessions.verify_token(done.tokens.access_token)
    assert claims.sub == done.user.id


def test_a_first_sign_in_stores_the_user_under_their_entra_identity_and_audits_it(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    oid = random_id()

    done = sign_in(unit, Person(oid=oid, email="ada@contoso.example", name="Ada Lovelace"))

    stored = unit.services.users.get("contoso", done.user.id)
    assert stored is not None
    assert (stored.entra_tenant_id, stored.entra_object_id) == (ENTRA_TENANT_ID, oid)
    assert (stored.email, stored.name) == ("ada@contoso.example", "Ada Lovelace")
    assert (stored.provider, stored.customer_id) == (PROVIDER_MICROSOFT, CUSTOMER_ID)
    assert audited(unit) == [("sign_in", "")]


def test_a_second_sign_in_updates_the_same_user_with_their_new_name_email_and_groups(
    unit: UnitWorld,
) -> None:
    old_group, new_group, old_profile, new_profile = (random_id() for _ in range(4))
    unit.tenant(mappings={old_group: old_profile, new_group: new_profile})
    oid = random_id()
    first = sign_in(unit, Person(oid=oid, email="ada@contoso.example", groups=(old_group,)))

    again = Person(oid=oid, email="ada.king@contoso.example", name="Ada King", groups=(new_group,))
    second = sign_in(unit, again)

    assert second.user.id == first.user.id
    assert users(unit) == [second.user]
    assert (second.user.email, second.user.name) == ("ada.king@contoso.example", "Ada King")
    assert second.user.profiles == (new_profile,)


def test_an_email_given_up_by_its_account_is_free_for_another_account(unit: UnitWorld) -> None:
    unit.tenant()
    oid = random_id()
    sign_in(unit, Person(oid=oid, email="ada@contoso.example"))
    sign_in(unit, Person(oid=oid, email="ada.king@contoso.example"))

    newcomer = sign_in(unit, Person(oid=random_id(), email="ada@contoso.example"))

    assert sorted(u.email for u in users(unit)) == [
        "ada.king@contoso.example",
        "ada@contoso.example",
    ]
    assert newcomer.user.email == "ada@contoso.example"


def test_a_group_lost_in_entra_takes_its_profile_away_at_the_next_sign_in(
    unit: UnitWorld,
) -> None:
    kept, lost, kept_profile, lost_profile = (random_id() for _ in range(4))
    unit.tenant(mappings={kept: kept_profile, lost: lost_profile})
    oid = random_id()
    first = sign_in(unit, Person(oid=oid, email="ada@contoso.example", groups=(kept, lost)))
    assert first.user.profiles == tuple(sorted((kept_profile, lost_profile)))

    second = sign_in(unit, Person(oid=oid, email="ada@contoso.example", groups=(kept,)))

    assert second.user.profiles == (kept_profile,)
    stored = unit.services.users.get("contoso", second.user.id)
    assert stored is not None and stored.profiles == (kept_profile,)


def test_a_person_in_no_mapped_group_signs_in_without_profiles(unit: UnitWorld) -> None:
    unit.tenant(mappings={random_id(): random_id()})
    outsider = Person(oid=random_id(), email="ada@contoso.example", groups=(random_id(),))

    done = sign_in(unit, outsider)

    assert done.user.profiles == ()


def test_a_member_of_an_admin_group_signs_in_as_tenant_admin(unit: UnitWorld) -> None:
    admins = random_id()
    unit.tenant(admin_groups=(admins,))

    admin = sign_in(unit, Person(oid=random_id(), email="ada@contoso.example", groups=(admins,)))
    member = sign_in(unit, Person(oid=random_id(), email="bob@contoso.example"))

    assert admin.user.roles == (ROLE_TENANT_ADMIN,)
    assert unit.services.sessions.verify_token(admin.tokens.access_token).roles == (
        ROLE_TENANT_ADMIN,
    )
    assert member.user.roles == ()


def test_an_admin_group_of_the_old_directory_grants_nothing_after_a_move_on_a_stale_instance(
    unit: UnitWorld,
) -> None:
    # Another instance moves the tenant to a new directory and keeps the admin group
    # ids as they were (a GET body sent back with tenant_id edited). This instance
    # still has the old directory cached for up to 30 s: a member of the old admin
    # group who signs in here must not come away as tenant_admin.
    admins = random_id()
    unit.moved_elsewhere(unit.tenant(admin_groups=(admins,)))

    with pytest.raises(SsoDisabled) as refused:
        sign_in(unit, Person(oid=random_id(), email="ada@contoso.example", groups=(admins,)))

    assert "another Microsoft Entra directory" in refused.value.description
    assert users(unit) == []


def test_leaving_the_admin_group_takes_the_role_away_at_the_next_sign_in(
    unit: UnitWorld,
) -> None:
    admins = random_id()
    unit.tenant(admin_groups=(admins,))
    oid = random_id()
    sign_in(unit, Person(oid=oid, email="ada@contoso.example", groups=(admins,)))

    done = sign_in(unit, Person(oid=oid, email="ada@contoso.example", groups=()))

    assert done.user.roles == ()
    assert unit.services.sessions.verify_token(done.tokens.access_token).roles == ()


def test_groups_past_the_overage_limit_are_read_from_graph(unit: UnitWorld) -> None:
    engineers, profile = random_id(), random_id()
    unit.tenant(mappings={engineers: profile})
    many = (*(random_id() for _ in range(3)), engineers)
    ada = Person(oid=random_id(), email="ada@contoso.example", groups=many, overage=True)

    done = sign_in(unit, ada)

    assert done.user.profiles == (profile,)


def test_another_microsoft_account_with_an_email_already_held_is_refused_and_creates_nothing(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    ada = sign_in(unit, Person(oid=random_id(), email="ada@contoso.example")).user
    impostor = Person(oid=random_id(), email="ADA@contoso.example", name="Mallory")

    with pytest.raises(AccountConflict):
        sign_in(unit, impostor)

    assert users(unit) == [ada]
    assert audited(unit) == [("sign_in", ""), ("sign_in_refused", "account_conflict")]


def test_a_password_users_email_cannot_sign_in_with_microsoft(unit: UnitWorld) -> None:
    unit.tenant()
    holder = password_user("ada@contoso.example")
    unit.services.users.insert_password_user(holder)

    with pytest.raises(ProviderMismatch):
        sign_in(unit, Person(oid=random_id(), email="ada@contoso.example"))

    assert users(unit) == [holder]
    assert audited(unit) == [("sign_in_refused", "provider_mismatch")]


def test_a_disabled_user_is_refused_and_gets_no_session(unit: UnitWorld) -> None:
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    user = sign_in(unit, ada).user
    unit.services.users.set_disabled("contoso", user.id, True)
    attempt = start(unit)
    before = row_counts(unit)[tenant_partition.TABLE]

    with pytest.raises(AccountDisabled):
        complete(unit, attempt, {"code": unit.entra.signs_in(ada)})

    # Two rows more in the tenant's partition: the refusal's audit event and its state's
    # "used" mark; no session.
    assert row_counts(unit)[tenant_partition.TABLE] == before + 2
    assert audited(unit) == [("sign_in", ""), ("sign_in_refused", "account_disabled")]
    stored = unit.services.users.get("contoso", user.id)
    assert stored is not None and stored.disabled


def test_a_sign_in_racing_a_disable_gets_no_session_that_re_enabling_revives(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ada signed in a moment ago on another instance: this one reads her row (nothing
    # cached here), and an admin disables her between that read and the sign-in's write.
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    user = sign_in(unit, ada).user
    disabled_while_writing(unit, user, monkeypatch)
    attempt = start(unit)
    with pytest.raises(AccountDisabled):
        complete(unit, attempt, {"code": unit.entra.signs_in(ada)})
    monkeypatch.undo()
    assert ("sign_in_refused", "account_disabled") in audited(unit)

    unit.services.admin.set_user_disabled(
        PLATFORM, "contoso", user.id, {"disabled": False}, ip=None
    )
    families = unit.tables.scan_partition(
        tenant_partition.TABLE, partition_key="contoso", row_key_prefix=f"session:{user.id}:"
    )
    assert [row for row in families if not row.data.get("revoked")] == []


def test_a_sign_in_racing_a_disable_is_refused_as_disabled_when_storage_then_fails(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As above, and storage fails when the sign-in ends the session it wrote: the
    # person is still told their account is disabled (not to retry a storage
    # failure), and no token of that session leaves.
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    user = sign_in(unit, ada).user
    tables = disabled_while_writing(unit, user, monkeypatch)

    def storage_down(*_: Any, **__: Any) -> None:
        raise SsoUnavailable("Table Storage could not be reached or failed the request.")

    families = unit.services.sessions.refresh_tokens
    monkeypatch.setattr(families, "tables", _Hooked(tables, tables.apply, update=storage_down))
    attempt = start(unit)
    with pytest.raises(AccountDisabled):
        complete(unit, attempt, {"code": unit.entra.signs_in(ada)})


def test_key_vault_failing_the_session_key_refuses_the_sign_in_with_nothing_stored(
    unit: UnitWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new instance while Key Vault is down for its session signing key (the state key
    # and the client secret were read): the person is told the service is unavailable
    # (503, retry), not that their sign-in was replayed; no user, no session, and no
    # "sign_in" in the audit log. Key Vault is an edge of the world: its failure is
    # injected by name.
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    attempt = start(unit)
    read_now = unit.vault.read_now

    def session_key_unreadable(name: str, version: str | None) -> Any:
        if name == SESSION_KEY_SECRET:
            raise SsoUnavailable("Key Vault could not be reached.")
        return read_now(name, version)

    monkeypatch.setattr(unit.vault, "read_now", session_key_unreadable)
    before = row_counts(unit)[tenant_partition.TABLE]
    with pytest.raises(SsoUnavailable):
        complete(unit, attempt, {"code": unit.entra.signs_in(ada)})

    assert users(unit) == []
    assert audited(unit) == [("sign_in_refused", "sso_unavailable")]
    # The refusal's audit event and its state's "used" mark; no session, no user.
    assert row_counts(unit)[tenant_partition.TABLE] == before + 2

    monkeypatch.undo()  # Key Vault is back: a new attempt signs her in
    assert sign_in(unit, ada).user.email == "ada@contoso.example"


def disabled_while_writing(unit: UnitWorld, user: User, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An admin disables `user` between this instance's read of their row (nothing is
    cached here: they signed in on another instance) and the sign-in's write, once.
    The user store's own tables, unhooked."""
    store = unit.services.users
    store._recent.forget(user.tenant, user.id)
    tables = store.tables
    fired: list[bool] = []

    def apply_after_a_disable(table: str, operations: Sequence[Op]) -> list[str | None]:
        if not fired:
            fired.append(True)
            unit.services.admin.set_user_disabled(
                PLATFORM, user.tenant, user.id, {"disabled": True}, ip=None
            )
        return tables.apply(table, operations)

    monkeypatch.setattr(store, "tables", _Hooked(tables, apply_after_a_disable))
    return tables


class _Hooked:
    """`tables` with `apply` (and any method named in `others`) replaced."""

    def __init__(
        self,
        tables: Any,
        apply: Callable[[str, Sequence[Op]], list[str | None]],
        **others: Callable[..., Any],
    ):
        self._tables, self.apply = tables, apply
        for name, method in others.items():
            setattr(self, name, method)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tables, name)


# --- the state --------------------------------------------------------------------------


def test_a_state_completes_a_sign_in_only_once(unit: UnitWorld) -> None:
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    attempt = start(unit)
    complete(unit, attempt, {"code": unit.entra.signs_in(ada)})

    with pytest.raises(InvalidState):
        complete(unit, attempt, {"code": unit.entra.signs_in(ada)})
    # The replay is nobody's attempt: not audited, and no second session.
    assert audited(unit) == [("sign_in", "")]


def test_a_start_writes_nothing_and_a_callback_marks_its_state_used(unit: UnitWorld) -> None:
    unit.tenant()
    before = row_counts(unit)
    attempt = start(unit)
    assert row_counts(unit) == before  # the attempt travels sealed in its state
    complete(unit, attempt, {"code": unit.entra.signs_in(Person(random_id(), "a@b.example"))})
    marks = unit.tables.query(
        tenant_partition.TABLE, partition_key="contoso", row_key_prefix="stateused:"
    ).rows
    assert len(marks) == 1


def test_a_state_from_another_browser_is_refused_and_its_own_browser_can_still_finish(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    attempt = start(unit)
    code = unit.entra.signs_in(ada)
    other_browser, _ = new_browser_binding()

    with pytest.raises(InvalidState):
        complete(unit, attempt, {"code": code}, cookie=other_browser)

    assert isinstance(complete(unit, attempt, {"code": code}), Completed)
    assert audited(unit) == [("sign_in", "")]


def test_a_callback_without_the_browser_cookie_is_refused(unit: UnitWorld) -> None:
    unit.tenant()
    attempt = start(unit)
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    with pytest.raises(InvalidState):
        unit.services.signin.complete(
            "contoso", {"code": code, "state": attempt.state}, spa=False, browser_cookie=None, ip=IP
        )


def test_an_unknown_state_is_refused(unit: UnitWorld) -> None:
    unit.tenant()
    made_up = Attempt("contoso", "made-up-state", new_browser_binding()[0])
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    with pytest.raises(InvalidState):
        complete(unit, made_up, {"code": code})

    assert users(unit) == []


@pytest.mark.parametrize(
    ("later", "finishes"),
    [(dt.timedelta(minutes=9, seconds=50), True), (dt.timedelta(minutes=10, seconds=1), False)],
    ids=["within-ten-minutes", "past-ten-minutes"],
)
def test_a_state_is_good_for_ten_minutes(
    unit: UnitWorld, later: dt.timedelta, finishes: bool
) -> None:
    unit.tenant()
    attempt = start(unit)
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))
    unit.advance(later)

    if finishes:
        assert isinstance(complete(unit, attempt, {"code": code}), Completed)
    else:
        with pytest.raises(InvalidState):
            complete(unit, attempt, {"code": code})


def test_a_state_is_refused_at_another_tenants_callback_and_stays_usable_at_its_own(
    unit: UnitWorld,
) -> None:
    unit.tenant("contoso")
    unit.tenant("fabrikam")
    attempt = start(unit, "contoso")
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    with pytest.raises(InvalidState):
        complete(unit, attempt, {"code": code}, tenant="fabrikam")

    assert users(unit, "fabrikam") == []
    assert isinstance(complete(unit, attempt, {"code": code}), Completed)


# --- JSON (SPA) mode --------------------------------------------------------------------


def test_a_json_mode_sign_in_completes_without_a_browser_cookie(unit: UnitWorld) -> None:
    unit.tenant()
    attempt = start(unit, mode="json")
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    done = complete(unit, attempt, {"code": code}, spa=True)

    assert isinstance(done, Completed)
    assert done.user.email == "ada@contoso.example"


def test_a_json_mode_state_at_the_browser_callback_is_handed_to_the_spa(unit: UnitWorld) -> None:
    unit.tenant()
    attempt = start(unit, mode="json")
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    handoff = complete(unit, attempt, {"code": code})

    assert isinstance(handoff, SpaHandoff)
    location = urlsplit(handoff.location)
    assert f"{location.scheme}://{location.netloc}" == PUBLIC_BASE_URL
    assert parse_qs(location.query) == {"code": [code], "state": [attempt.state]}
    assert users(unit) == []
    assert isinstance(complete(unit, attempt, {"code": code}, spa=True), Completed)


def test_a_redirect_mode_state_cannot_be_completed_by_the_spa(unit: UnitWorld) -> None:
    unit.tenant()
    attempt = start(unit)
    code = unit.entra.signs_in(Person(oid=random_id(), email="ada@contoso.example"))

    with pytest.raises(InvalidState):
        complete(unit, attempt, {"code": code}, spa=True)

    assert isinstance(complete(unit, attempt, {"code": code}), Completed)


def test_a_used_state_spelled_otherwise_is_still_a_replay(unit: UnitWorld) -> None:
    unit.tenant()
    ada = Person(oid=random_id(), email="ada@contoso.example")
    attempt = start(unit)
    complete(unit, attempt, {"code": unit.entra.signs_in(ada)})
    for respelled in (attempt.state + "~~~~", attempt.state + "=="):
        replay = Attempt(attempt.tenant, respelled, attempt.cookie)
        with pytest.raises(InvalidState):
            complete(unit, replay, {"code": unit.entra.signs_in(ada)})
    assert [action for action, _ in audited(unit)].count("sign_in") == 1
