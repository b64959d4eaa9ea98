"""Password users: invite links, setting a password, signing in with one.

A password user is created by an admin (shared.admin.user_creation) with an
invite link; the link's page sets the first password and signs the person in.
Signing in answers the same `invalid_credentials`, in about the same time, for
a wrong password, an unknown email and a user who signs in with Microsoft
(lock-in: a user's provider never changes), so nobody learns which accounts
exist; a disabled account is told so only after its password was right.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from shared.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidLink,
    InvalidRequest,
    SsoRequired,
    TooManyAttempts,
    UnknownTenant,
    describe_wait,
)
from shared.passwords.hashing import hash_password, needs_rehash, verify_password
from shared.passwords.mail import Mailer, reset_text
from shared.passwords.policy import password_problem
from shared.passwords.throttle import (
    IP_FAILURES,
    AccountFailures,
    after_failure,
    ip_window,
    locked_for,
)
from shared.secret import Secret
from shared.sessions.types import SessionTokens
from shared.signin.ports import AuditLog
from shared.signin.throttle import client_key
from shared.store.configs import TenantRecord
from shared.store.password_throttle import PasswordFailures
from shared.store.passwords import PasswordLink, PasswordRow, PasswordStore, new_link_token
from shared.store.rows import Tables, TransactionFailed
from shared.store.tenant_partition import TABLE
from shared.tenants.model import OAuth2Config, sso_enforced
from shared.users import PROVIDER_PASSWORD, User

log = logging.getLogger("entrabridge.passwords")
# An id no user has: an unknown email reads a user's rows all the same (timing).
_NOBODY = "00000000-0000-0000-0000-000000000000"


def _in_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=_guarded(job), name="password-after-answer", daemon=True).start()


def _guarded(job: Callable[[], None]) -> Callable[[], None]:
    """`job`, whose failure is logged by its type only: the thread's default handler
    would print the whole chain to stderr (an SDK error's text quotes request URLs)."""

    def run() -> None:
        try:
            job()
        except Exception as error:
            log.error("work after a password answer failed: %s", type(error).__name__)

    return run


class Configs(Protocol):
    def get_config(self, tenant: str) -> OAuth2Config | None: ...

    def get_tenant(self, tenant: str) -> TenantRecord | None: ...


class Users(Protocol):
    def get(self, tenant: str, user_id: str) -> User | None: ...

    def by_email(self, tenant: str, email: str) -> User | None: ...


class Sessions(Protocol):
    def start_session(
        self, user: User, *, entra_session_id: str | None = None
    ) -> SessionTokens: ...

    def end_session(self, tenant: str, refresh_token: str) -> None: ...


class RevokeSessions(Protocol):
    def __call__(self, tenant: str, user_id: str) -> None: ...


class IpCounts(Protocol):
    def count(self, tenant: str, client: str, window_start: int) -> int: ...

    def add(self, tenant: str, client: str, window_start: int, count: int) -> int: ...


@dataclass
class PasswordService:
    public_base_url: str
    configs: Configs
    users: Users
    passwords: PasswordStore
    tables: Tables
    sessions: Sessions
    audit: AuditLog
    failures: PasswordFailures
    ip_counts: IpCounts
    revoke_sessions: RevokeSessions
    mailer: Mailer | None = None
    # Runs work nobody waits for after the answer (a reset link, the audit of a wrong
    # password): a daemon thread, so the answer's time does not depend on it.
    in_background: Callable[[Callable[[], None]], None] = field(default=_in_thread)
    clock: Callable[[], float] = field(default=time.time)

    def link_url(self, tenant: str, token: str) -> str:
        return f"{self.public_base_url}/api/auth/{tenant}/set-password?token={token}"

    # --- set-password ---------------------------------------------------------------

    def link_user(self, tenant: str, token: str) -> User:
        """Whose link this is (for the set-password page); InvalidLink otherwise."""
        self._tenant(tenant)
        return self._linked(tenant, token)[1]

    def set_password(
        self, tenant: str, token: str, password: Secret, *, ip: str | None
    ) -> tuple[User, SessionTokens]:
        """Set the linked user's password (the link is used up in the same write) and
        start their session."""
        self._tenant(tenant)
        link, user = self._linked(tenant, token)
        if user.disabled:
            raise AccountDisabled()
        problem = password_problem(password.reveal(), email=user.email)
        if problem is not None:
            raise InvalidRequest("The password is not accepted.", fields={"password": problem})
        current = self.passwords.password_row(tenant, user.id)
        ops = self.passwords.set_ops(
            tenant, user.id, hash_password(password), link=link, current=current
        )
        if ops is None:
            raise InvalidLink()  # a password was set since this link was made
        action = "password_set" if link.purpose == "invite" else "password_reset"
        event = self.audit.event(tenant, action, actor=user.id, ip=ip, user_id=user.id)
        try:
            self.tables.apply(TABLE, [*ops, event])
        except TransactionFailed:
            raise InvalidLink() from None  # used meanwhile (another tab, another link)
        # A new password ends every session the old one gave, a thief's included;
        # after the write, so no sign-in with the old password slips in between.
        self.revoke_sessions(tenant, user.id)
        return user, self.sessions.start_session(user)

    def _linked(self, tenant: str, token: str) -> tuple[PasswordLink, User]:
        link = self.passwords.find_link(tenant, token)
        user = self.users.get(tenant, link.user_id) if link is not None else None
        if link is None or user is None or user.provider != PROVIDER_PASSWORD:
            raise InvalidLink()
        return link, user

    # --- forgot password ------------------------------------------------------------

    def forgot(self, tenant: str, email: str, *, ip: str | None) -> None:
        """Mail a reset link (1 h, single use) to the password user with this email, if
        there is one; whoever asks learns nothing either way: the caller answers 202,
        and for a password user the link is written and mailed after that, off the
        request (`in_background`), so the answer's time does not name accounts."""
        self._tenant(tenant)
        user = self._by_email(tenant, email)
        if user is None or user.provider != PROVIDER_PASSWORD or user.disabled:
            return
        self.in_background(partial(self._send_reset, user, ip=ip))

    def _by_email(self, tenant: str, email: str) -> User | None:
        """The user with this email, in the same Table reads whether or not there is
        one (timing names no account): an email found reads its index row and then
        the user's row, so one not found reads a user row nobody has."""
        user = self.users.by_email(tenant, email) if email else None
        if user is None:
            self.users.get(tenant, _NOBODY)
        return user

    def _send_reset(self, user: User, *, ip: str | None) -> None:
        tenant = user.tenant
        try:
            now = self._now()
            if not self.passwords.claim_reset_slot(tenant, user.id, now):
                return
            generation = self.passwords.password_row(tenant, user.id).generation
            token = new_link_token()
            link = self.passwords.link_op(
                tenant, user.id, token, "reset", now, generation=generation
            )
            event = self.audit.event(
                tenant, "password_reset_requested", actor="anonymous", ip=ip, user_id=user.id
            )
            self.tables.apply(TABLE, [link, event])
            self.mail(user, reset_text, self.link_url(tenant, token))
        except Exception as error:  # no one waits for this answer: log it, never the link
            log.error("Password reset for a user of %s not sent: %s", tenant, type(error).__name__)

    def mail(
        self, user: User, compose: Callable[[str, str, str], tuple[str, str]], link: str
    ) -> None:
        """Send `compose`'s message to `user` from another thread (no mail configured:
        nothing; the admin has invite links in the API's answer)."""
        mailer = self.mailer
        if mailer is None:
            return
        record = self.configs.get_tenant(user.tenant)
        organisation = record.display_name if record is not None else user.tenant
        subject, text = compose(user.name, organisation, link)
        threading.Thread(
            target=mailer.send, args=(user.email, subject, text), name="mail", daemon=True
        ).start()

    # --- sign-in --------------------------------------------------------------------

    def sign_in(
        self, tenant: str, email: str, password: Secret, *, ip: str | None
    ) -> tuple[User, SessionTokens]:
        self._tenant(tenant)
        now = self._now()
        window = self._reserve_attempt(tenant, email, ip, now)
        # The same reads and the same hash work whoever asks (timing names no account).
        user = self._by_email(tenant, email)
        row = self.passwords.password_row(tenant, user.id if user else _NOBODY)
        stored = row.hash
        may_use_password = user is not None and user.provider == PROVIDER_PASSWORD
        if not verify_password(stored if may_use_password else None, password):
            # Counted already (_reserve_attempt): a failure stays counted.
            if user is not None:
                # After the answer: a write only for accounts would time-stamp them.
                self.in_background(partial(self._audit_refusal, tenant, user.id, ip))
            raise InvalidCredentials()
        assert user is not None and stored is not None
        self.failures.clear_account(tenant, email)
        self.ip_counts.add(tenant, client_key(ip), window, -1)  # a success is no failure
        if user.disabled:
            self.audit.record(
                tenant, "sign_in_refused", actor=user.id, ip=ip, user_id=user.id,
                code=AccountDisabled.code,
            )  # fmt: skip
            raise AccountDisabled()
        if needs_rehash(stored):
            self.passwords.rehash(tenant, user.id, hash_password(password), current=row)
        tokens = self.sessions.start_session(user)
        # A new password or a disable that landed while the hash was being checked
        # revoked the user's sessions before this one's row existed: end it here.
        self._still_allowed(user, row, tokens, ip=ip)
        self.audit.record(tenant, "sign_in", actor=user.id, ip=ip, user_id=user.id)
        return user, tokens

    def _audit_refusal(self, tenant: str, user_id: str, ip: str | None) -> None:
        try:
            self.audit.record(
                tenant,
                "sign_in_refused",
                actor="anonymous",
                ip=ip,
                user_id=user_id,
                code=InvalidCredentials.code,
            )
        except Exception as error:  # nobody waits for it: log the kind only
            kind = type(error).__name__
            log.error("Refused sign-in of a user of %s not audited: %s", tenant, kind)

    def _still_allowed(
        self, user: User, read: PasswordRow, tokens: SessionTokens, *, ip: str | None
    ) -> None:
        """After the session is written: the password row is of the generation the
        password was checked against and the user is not disabled, else the session
        ends (a rehash keeps the generation, a set moves it on)."""
        now_row = self.passwords.password_row(user.tenant, user.id)
        now_user = self.users.get(user.tenant, user.id)
        if now_row.generation == read.generation and now_user is not None and not now_user.disabled:
            return
        self.sessions.end_session(user.tenant, tokens.refresh_token)
        refusal = AccountDisabled if now_user is None or now_user.disabled else InvalidCredentials
        self.audit.record(
            user.tenant, "sign_in_refused", actor=user.id, ip=ip, user_id=user.id,
            code=refusal.code,
        )  # fmt: skip
        raise refusal()

    def _reserve_attempt(self, tenant: str, email: str, ip: str | None, now: dt.datetime) -> int:
        """Count this attempt as a failure before any password is checked (a success
        takes it back), so guesses sent at once cannot all be checked before one is
        counted; TooManyAttempts, nothing checked, while the email is locked or the
        client has used up its window. The client's window, to take a success back."""
        window, left = ip_window(self.clock())
        client = client_key(ip)
        if self.ip_counts.count(tenant, client, window) >= IP_FAILURES:
            raise self._ip_refusal(left)

        def counted(account: AccountFailures) -> AccountFailures:
            wait = locked_for(account, now)
            if wait:  # raised before anything is written
                raise TooManyAttempts(
                    f"Too many failed sign-ins for this email. Try again in {describe_wait(wait)}.",
                    retry_after=wait,
                )
            return after_failure(account, now)

        self.failures.change_account(tenant, email, counted, now)
        if self.ip_counts.add(tenant, client, window, 1) > IP_FAILURES:
            raise self._ip_refusal(left)  # its own count stays: it was an attempt
        return window

    @staticmethod
    def _ip_refusal(left: int) -> TooManyAttempts:
        return TooManyAttempts(
            f"Too many failed sign-ins from your network. Try again in {describe_wait(left)}.",
            retry_after=left,
        )

    def _tenant(self, tenant: str) -> OAuth2Config:
        """The tenant's configuration; SsoRequired while Enforce SSO is on (every
        password route is closed then: the login page shows only Microsoft's button)."""
        config = self.configs.get_config(tenant)
        if config is None:
            raise UnknownTenant()
        if sso_enforced(config):
            raise SsoRequired()
        return config

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)
