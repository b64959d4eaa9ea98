"""SignInService's refusals on in-memory stores: what is refused before any write,
what is audited, the client secret (rotation, missing) and the start throttle."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.errors import (
    IdpError,
    InvalidState,
    SsoDisabled,
    SsoIdpRejected,
    SsoNoEmailClaim,
    TooManyAttempts,
    UnknownTenant,
)
from shared.signin.results import Completed
from shared.signin.transaction import new_browser_binding
from shared.store.secrets import client_secret_name
from tests.support.entra_double import Person
from tests.support.unit_services import CLIENT_ID, UnitWorld, random_id, unit_world
from tests.unit.signin.test_service import (
    IP,
    Attempt,
    audited,
    complete,
    row_counts,
    sign_in,
    start,
    users,
)

ADA = Person(oid="0b6c2f7e-3c1d-4e5a-9b8f-7a6d5c4b3a21", email="ada@contoso.example")

# --- refused before any write -----------------------------------------------------------


def test_an_unknown_tenant_is_refused_at_start_and_at_callback_writing_nothing(
    unit: UnitWorld,
) -> None:
    before = row_counts(unit)

    with pytest.raises(UnknownTenant):
        start(unit, "nowhere")
    with pytest.raises(UnknownTenant):
        complete(unit, Attempt("nowhere", "some-state", "cookie"), {"code": "a-code"})

    assert row_counts(unit) == before


def test_a_tenant_with_sso_disabled_refuses_to_start_writing_nothing(unit: UnitWorld) -> None:
    unit.tenant(enabled=False)
    before = row_counts(unit)

    with pytest.raises(SsoDisabled):
        start(unit)

    assert row_counts(unit) == before


def test_a_sign_in_under_way_when_sso_is_turned_off_is_refused(unit: UnitWorld) -> None:
    config = unit.tenant()
    attempt = start(unit)
    unit.services.configs.put_tenant("contoso", "Contoso", replace(config, enabled=False))

    with pytest.raises(SsoDisabled):
        complete(unit, attempt, {"code": unit.entra.signs_in(ADA)})

    assert users(unit) == []


def test_an_anonymous_callback_writes_nothing(unit: UnitWorld) -> None:
    unit.tenant()
    stranger = Attempt("contoso", "a-state-we-never-issued", new_browser_binding()[0])
    before = row_counts(unit)

    with pytest.raises(InvalidState):
        complete(unit, stranger, {"code": unit.entra.signs_in(ADA)})
    with pytest.raises(IdpError):
        complete(unit, stranger, {"error": "access_denied"})

    assert row_counts(unit) == before
    assert audited(unit) == []


# --- refused attempts of ours are audited ---------------------------------------------


def test_a_token_without_an_email_is_refused_and_audited(unit: UnitWorld) -> None:
    unit.tenant()

    with pytest.raises(SsoNoEmailClaim):
        sign_in(unit, Person(oid=random_id(), email=None))

    assert users(unit) == []
    assert audited(unit) == [("sign_in_refused", "sso_no_email_claim")]


def test_entras_error_redirect_ends_the_attempt_and_is_audited_with_its_aadsts_code(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    attempt = start(unit)
    declined = {"error": "access_denied", "error_description": "AADSTS65004: User declined."}

    with pytest.raises(IdpError) as refused:
        complete(unit, attempt, declined)
    with pytest.raises(InvalidState):
        complete(unit, attempt, {"code": unit.entra.signs_in(ADA)})

    assert refused.value.reference == "AADSTS65004"
    events, _ = unit.services.audit.list("contoso", limit=100, cursor=None)
    assert [(e["action"], e.get("code"), e.get("detail"), e["ip"]) for e in events] == [
        ("sign_in_refused", "idp_error", "AADSTS65004", IP)
    ]


def test_an_error_redirect_from_another_browser_does_not_end_the_attempt(
    unit: UnitWorld,
) -> None:
    unit.tenant()
    attempt = start(unit)
    other_browser, _ = new_browser_binding()

    with pytest.raises(IdpError):
        complete(unit, attempt, {"error": "access_denied"}, cookie=other_browser)

    assert audited(unit) == []
    assert isinstance(complete(unit, attempt, {"code": unit.entra.signs_in(ADA)}), Completed)


# --- the client secret ------------------------------------------------------------------


@pytest.mark.parametrize("pinned", [True, False], ids=["versions-pinned", "newest-version"])
def test_while_entra_knows_only_the_previous_secret_it_signs_in_once_and_is_audited(
    unit: UnitWorld, pinned: bool
) -> None:
    config = unit.tenant(client_secret="old-secret")
    old = config.client_secret_version
    new = unit.vault.set_secret(client_secret_name("contoso"), "new-secret").version
    rotated = replace(
        config,
        client_secret_version=new if pinned else None,
        client_secret_previous_version=old if pinned else None,
    )
    unit.services.configs.put_tenant("contoso", "Contoso", rotated)
    unit.entra.accepted_secrets[CLIENT_ID] = {"old-secret"}

    done = sign_in(unit, ADA)

    assert [c.secret_version for c in unit.entra.redeemed_with] == [new, old]
    assert audited(unit) == [("client_secret_previous_version_used", ""), ("sign_in", "")]
    assert users(unit) == [done.user]


def test_when_entra_refuses_every_secret_version_the_sign_in_is_refused(
    unit: UnitWorld,
) -> None:
    config = unit.tenant(client_secret="old-secret")
    old = config.client_secret_version
    new = unit.vault.set_secret(client_secret_name("contoso"), "new-secret").version
    rotated = replace(config, client_secret_version=new, client_secret_previous_version=old)
    unit.services.configs.put_tenant("contoso", "Contoso", rotated)
    unit.entra.accepted_secrets[CLIENT_ID] = {"a-secret-nobody-stored"}

    with pytest.raises(SsoIdpRejected) as refused:
        sign_in(unit, ADA)

    assert (refused.value.code, refused.value.reference) == ("sso_idp_rejected", "AADSTS7000215")
    assert [c.secret_version for c in unit.entra.redeemed_with] == [new, old]
    assert users(unit) == []
    assert audited(unit) == [
        ("client_secret_previous_version_used", ""),
        ("sign_in_refused", "sso_idp_rejected"),
    ]


def test_a_client_secret_missing_from_the_vault_turns_sign_in_off_and_marks_the_tenant(
    unit: UnitWorld,
) -> None:
    config = unit.tenant()
    gone = replace(config, client_secret_version="f" * 32)  # a version the vault lacks
    unit.services.configs.put_tenant("contoso", "Contoso", gone)

    with pytest.raises(SsoDisabled):
        start(unit)

    marked = unit.services.configs.read_now("contoso")
    assert marked is not None and marked.client_secret_unavailable


# --- the start throttle -----------------------------------------------------------------


def test_starts_past_the_limit_per_minute_from_one_ip_are_refused_and_others_are_not() -> None:
    unit = unit_world(AUTHORIZE_LIMIT_PER_MINUTE="3")
    unit.tenant()
    unit.services.throttle.clock = lambda: 1_800_000_030.0  # mid-minute: no window turns over
    for _ in range(3):
        start(unit, ip="198.51.100.7")

    with pytest.raises(TooManyAttempts) as refused:
        start(unit, ip="198.51.100.7")

    assert refused.value.retry_after == 30
    start(unit, ip="198.51.100.8")  # another client: not refused
