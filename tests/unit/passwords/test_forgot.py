"""'Forgot password?': a reset link for password users only, one mail per five
minutes, nothing written for anyone else, and the link sets a new password once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
from shared.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidGrant,
    InvalidLink,
    SsoUnavailable,
    Unauthorized,
)
from shared.passwords.hashing import hash_password
from shared.secret import Secret
from shared.users import User
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id, table_calls

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
    box, url = invited(unit)
    assert box.sent == [(EMAIL, url)]  # the invite went by mail too
    box.sent.clear()
    unit.services.passwords.set_password("contoso", token(url), OLD, ip=None)
    return box


def invited(unit: UnitWorld) -> tuple[Outbox, str]:
    """The tenant, its mail caught, and Grace invited: the outbox and her invite link."""
    unit.tenant()
    box = Outbox()
    unit.services.passwords.mail = box  # type: ignore[method-assign]
    # The reset work runs after the answer, in a thread in production; here at once.
    unit.services.passwords.in_background = run_now
    body = {"email": EMAIL, "name": "Grace", "provider": "password"}
    _, url = unit.services.user_creation.create(PLATFORM, "contoso", body, ip=None)
    assert url is not None
    return box, url


def run_now(job: Callable[[], None]) -> None:
    job()


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


def test_a_reset_ends_every_session_the_old_password_gave(unit: UnitWorld, outbox: Outbox) -> None:
    # Someone who had the old password (a thief, another browser) is signed out.
    _, before = unit.services.passwords.sign_in("contoso", EMAIL, OLD, ip=None)
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    _, after = unit.services.passwords.set_password(
        "contoso", token(outbox.sent[0][1]), NEW, ip=None
    )
    with pytest.raises(Unauthorized):
        unit.services.sessions.current_user("contoso", before.access_token)
    with pytest.raises(InvalidGrant):
        unit.services.sessions.refresh("contoso", before.refresh_token, ip=None)
    # The session the reset itself starts is the one that lives on.
    assert unit.services.sessions.current_user("contoso", after.access_token).email == EMAIL
    assert unit.services.sessions.refresh("contoso", after.refresh_token, ip=None).access_token


def test_an_older_reset_link_dies_when_a_newer_one_sets_the_password(
    unit: UnitWorld, outbox: Outbox
) -> None:
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    unit.advance(dt.timedelta(minutes=6))
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    (_, first), (_, second) = outbox.sent
    unit.services.passwords.set_password("contoso", token(second), NEW, ip=None)
    with pytest.raises(InvalidLink):
        unit.services.passwords.set_password("contoso", token(first), OLD, ip=None)
    # The refused link changed nothing: the newer password still signs in.
    assert unit.services.passwords.sign_in("contoso", EMAIL, NEW, ip=None)[0].email == EMAIL


def test_an_unused_invite_dies_when_a_reset_sets_the_password(unit: UnitWorld) -> None:
    box, invite = invited(unit)
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)  # before using the invite
    reset = box.sent[-1][1]
    unit.services.passwords.set_password("contoso", token(reset), NEW, ip=None)
    with pytest.raises(InvalidLink):
        unit.services.passwords.set_password("contoso", token(invite), OLD, ip=None)
    assert unit.services.passwords.sign_in("contoso", EMAIL, NEW, ip=None)[0].email == EMAIL


def test_a_rehash_never_brings_back_a_password_changed_meanwhile(
    unit: UnitWorld, outbox: Outbox
) -> None:
    store = unit.services.passwords.passwords
    grace = unit.services.users.by_email("contoso", EMAIL)
    assert grace is not None
    read_at_sign_in = store.password_row("contoso", grace.id)
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    unit.services.passwords.set_password("contoso", token(outbox.sent[0][1]), NEW, ip=None)
    # A sign-in with the old password that read the row before the reset, rehashing late:
    store.rehash("contoso", grace.id, hash_password(OLD), current=read_at_sign_in)
    with pytest.raises(InvalidCredentials):
        unit.services.passwords.sign_in("contoso", EMAIL, OLD, ip=None)
    assert unit.services.passwords.sign_in("contoso", EMAIL, NEW, ip=None)[0].email == EMAIL


def test_the_answer_comes_before_anything_is_written_for_an_account(
    unit: UnitWorld, outbox: Outbox
) -> None:
    # What the request does is the same for an account and for nobody (a read by
    # email); the link is written and mailed afterwards, so its time names no one.
    later: list[Callable[[], None]] = []
    unit.services.passwords.in_background = later.append
    rows = unit.tables.row_count("users")
    unit.services.passwords.forgot("contoso", "nobody@partner.example", ip=None)
    assert later == [] and unit.tables.row_count("users") == rows
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)
    assert len(later) == 1 and unit.tables.row_count("users") == rows and outbox.sent == []
    later[0]()
    [(to, link)] = outbox.sent
    assert to == EMAIL
    unit.services.passwords.set_password("contoso", token(link), NEW, ip=None)


def test_asking_costs_the_same_storage_calls_whoever_the_email_names(
    unit: UnitWorld, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A password user, a Microsoft user and nobody: the same reads before the answer
    # (one Table round trip more is measurable from outside, in Azure).
    unit.sign_in(Person(oid=random_id(), email="ada@contoso.example"))
    unit.services.passwords.in_background = lambda job: None
    calls = table_calls(unit, monkeypatch)
    made: dict[str, list[str]] = {}
    for email in (EMAIL, "ada@contoso.example", "nobody@partner.example"):
        calls.clear()
        unit.services.passwords.forgot("contoso", email, ip=None)
        made[email] = list(calls)
    assert len({tuple(c) for c in made.values()}) == 1, made


def test_a_reset_that_cannot_be_written_is_logged_without_its_link(
    unit: UnitWorld, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    def storage_down(*args: object, **kwargs: object) -> None:
        raise SsoUnavailable("Table Storage could not be reached.")

    unit.services.passwords.tables.apply = storage_down  # type: ignore[method-assign,assignment]
    unit.services.passwords.forgot("contoso", EMAIL, ip=None)  # no exception reaches anyone
    assert outbox.sent == []
    assert "Password reset for a user of contoso not sent: SsoUnavailable" in caplog.text
    assert "token=" not in caplog.text


def test_a_reset_whose_mail_cannot_be_prepared_prints_no_sdk_text(
    unit: UnitWorld, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # The tenant's name is read for the mail after the link is written; a storage error
    # there chains the SDK's text (request URLs, a SAS signature in them). It used to
    # escape the background thread, whose default handler printed it all to stderr.
    import threading
    import time

    from shared.passwords.service import _in_thread

    _, url = invited(unit)
    unit.services.passwords.set_password("contoso", token(url), OLD, ip=None)
    passwords = unit.services.passwords
    passwords.mail = type(passwords).mail.__get__(passwords)  # type: ignore[method-assign]
    passwords.mailer = object()  # type: ignore[assignment]  # mail is configured

    def tenant_unreadable(tenant: str) -> None:
        try:
            raise OSError("GET https://acct.table.core.windows.net/Tables?sig=SUPERSECRET")
        except OSError as sdk:
            raise SsoUnavailable("Table Storage could not be reached.") from sdk

    passwords.configs.get_tenant = tenant_unreadable  # type: ignore[method-assign]
    finished: list[Callable[[], None]] = []
    passwords.in_background = finished.append
    passwords.forgot("contoso", EMAIL, ip=None)
    [job] = finished
    _in_thread(job)  # as in production: its own thread
    deadline = time.monotonic() + 5
    while any(t.name == "password-after-answer" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    printed = capfd.readouterr().err
    assert "SUPERSECRET" not in printed + caplog.text and "Traceback" not in printed
    assert "Password reset for a user of contoso not sent: SsoUnavailable" in caplog.text


def live_sessions(unit: UnitWorld, user_id: str) -> int:
    rows = unit.tables.scan_partition(
        "users", partition_key="contoso", row_key_prefix=f"session:{user_id}:"
    )
    return sum(1 for row in rows if not row.data.get("revoked"))


def _while_the_hash_is_checked(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], object]
) -> None:
    """Run `meanwhile` inside the next password check (argon2 takes ~0.1 s: the window
    in which another request may change the account)."""
    import shared.passwords.service as service
    from shared.passwords.hashing import verify_password as real

    fired: list[bool] = []

    def verify(stored: str | None, password: Secret) -> bool:
        ok = real(stored, password)
        if not fired:
            fired.append(True)
            meanwhile()
        return ok

    monkeypatch.setattr(service, "verify_password", verify)


def test_a_sign_in_with_the_old_password_racing_a_reset_gets_no_session(
    unit: UnitWorld, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = unit.services.passwords
    passwords.forgot("contoso", EMAIL, ip=None)
    [(_, link)] = outbox.sent
    _while_the_hash_is_checked(
        monkeypatch, lambda: passwords.set_password("contoso", token(link), NEW, ip=None)
    )
    with pytest.raises(InvalidCredentials):
        passwords.sign_in("contoso", EMAIL, OLD, ip="198.51.100.66")
    grace = unit.services.users.by_email("contoso", EMAIL)
    assert grace is not None
    assert live_sessions(unit, grace.id) == 1  # only the one the reset itself started


def test_a_sign_in_racing_a_disable_gets_no_session_that_re_enabling_revives(
    unit: UnitWorld, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    grace = unit.services.users.by_email("contoso", EMAIL)
    assert grace is not None
    _while_the_hash_is_checked(
        monkeypatch,
        lambda: unit.services.admin.set_user_disabled(
            PLATFORM, "contoso", grace.id, {"disabled": True}, ip=None
        ),
    )
    with pytest.raises(AccountDisabled):
        unit.services.passwords.sign_in("contoso", EMAIL, OLD, ip=None)
    unit.services.admin.set_user_disabled(
        PLATFORM, "contoso", grace.id, {"disabled": False}, ip=None
    )
    assert live_sessions(unit, grace.id) == 0
