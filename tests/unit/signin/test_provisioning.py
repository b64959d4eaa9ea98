"""JIT provisioning decisions: create, update, refuse. Pure, no store."""

import datetime as dt

import pytest

from shared.errors import AccountConflict, AccountDisabled, ProviderMismatch
from shared.signin.provisioning import CreateUser, SignInIdentity, UpdateUser, decide_sign_in
from shared.users import Entitlements, User, email_key

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TID = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
OID = "11111111-2222-3333-4444-555555555555"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
PROFILE_A = "aaaaaaaa-0000-0000-0000-000000000001"


def identity(email: str = "Ada@Example.com", oid: str = OID) -> SignInIdentity:
    return SignInIdentity(tenant_id=TID, object_id=oid, email=email, name="Ada", group_ids=())


def user(**overrides: object) -> User:
    values: dict[str, object] = {
        "id": "u-1",
        "tenant": "acme",
        "email": "ada@example.com",
        "name": "Ada Old",
        "provider": "microsoft",
        "customer_id": CUSTOMER,
        "profiles": ("old-profile",),
        "roles": (),
        "disabled": False,
        "created_at": NOW - dt.timedelta(days=30),
        "last_login_at": NOW - dt.timedelta(days=1),
        "entra_tenant_id": TID,
        "entra_object_id": OID,
    }
    values.update(overrides)
    return User(**values)  # type: ignore[arg-type]


def decide(
    *, by_oid: User | None = None, by_email: User | None = None, ident: SignInIdentity | None = None
) -> CreateUser | UpdateUser:
    return decide_sign_in(
        ident or identity(),
        tenant="acme",
        customer_id=CUSTOMER,
        entitlements=Entitlements(profiles=(PROFILE_A,), roles=("tenant_admin",)),
        by_object_id=by_oid,
        by_email=by_email,
        new_user_id="u-new",
        now=NOW,
    )


def test_first_sign_in_creates_a_microsoft_user_with_the_mapped_profiles() -> None:
    decision = decide()
    assert isinstance(decision, CreateUser)
    created = decision.user
    assert (created.id, created.provider, created.customer_id) == ("u-new", "microsoft", CUSTOMER)
    assert created.profiles == (PROFILE_A,)
    assert created.roles == ("tenant_admin",)
    assert (created.entra_tenant_id, created.entra_object_id) == (TID, OID)
    assert created.created_at == created.last_login_at == NOW


def test_returning_user_gets_current_email_name_and_profiles() -> None:
    decision = decide(by_oid=user(), by_email=user())
    assert isinstance(decision, UpdateUser)
    assert decision.after.email == "Ada@Example.com"
    assert decision.after.name == "Ada"
    assert decision.after.profiles == (PROFILE_A,)
    assert decision.after.last_login_at == NOW
    assert decision.after.created_at == decision.before.created_at
    assert not decision.email_changed  # same address, other case


def test_returning_user_with_a_new_email_is_updated_and_reports_the_change() -> None:
    decision = decide(by_oid=user(), ident=identity(email="ada.l@example.com"))
    assert isinstance(decision, UpdateUser)
    assert decision.email_changed


def test_password_user_with_the_same_email_refuses_provider_mismatch() -> None:
    with pytest.raises(ProviderMismatch):
        decide(by_email=user(provider="password", entra_tenant_id=None, entra_object_id=None))


def test_another_entra_identity_holding_the_email_refuses_account_conflict() -> None:
    other = user(id="u-other", entra_object_id="99999999-2222-3333-4444-555555555555")
    with pytest.raises(AccountConflict):
        decide(by_email=other)
    with pytest.raises(AccountConflict):
        decide(by_oid=user(), by_email=other, ident=identity(email="taken@example.com"))


def test_disabled_user_is_refused() -> None:
    with pytest.raises(AccountDisabled):
        decide(by_oid=user(disabled=True), by_email=user(disabled=True))


def test_user_object_matches_the_contract_fields() -> None:
    public = user().to_public()
    assert set(public) == {
        "id",
        "tenant",
        "email",
        "name",
        "provider",
        "customer_id",
        "profiles",
        "roles",
        "disabled",
        "created_at",
        "last_login_at",
    }
    assert public["created_at"] == "2026-10-24T12:00:00Z"


def test_email_key_ignores_case_and_surrounding_space() -> None:
    assert email_key("  Ada@Example.COM ") == "ada@example.com"


def test_aadsts_codes_are_kept_whole_including_seven_digit_ones() -> None:
    from shared.entra.client import aadsts_code

    assert aadsts_code("AADSTS7000215: Invalid client secret provided.") == "AADSTS7000215"
    assert aadsts_code("AADSTS50105: not assigned") == "AADSTS50105"
    assert aadsts_code("no code here") is None


def test_only_ascii_digits_make_an_aadsts_code() -> None:
    # The number is shown on the login page and kept in the audit log: nothing but
    # "AADSTS" and ASCII digits may come through from Entra's (or anyone's) redirect.
    from shared.entra.client import aadsts_code

    assert aadsts_code("AADSTS\u0661\u0662\u0663\u0664\u0665: spoofed") is None
    assert aadsts_code("AADSTS123456789 too long") is None
    assert aadsts_code("see AADSTS50105.") == "AADSTS50105"
