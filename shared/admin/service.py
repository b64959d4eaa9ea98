"""The admin API's operations: tenants, OAuth2 configuration, client secrets, users, audit.

Callers are authenticated first (`shared.admin.auth`). Every operation
validates all of its input before it writes anything, so a refused request
changes nothing; every change is audited with field names only (a new secret
is the field `client_secret`, never its value).

A new client secret goes to Key Vault before the configuration row, which then
names its version (and the version it replaces, sign-in's fallback): a
configuration never names a secret the vault lacks, and sign-in uses only
versions a configuration names. If the row write then fails or loses a race,
the new version is simply never named: the refused request leaves sign-in as
it was, and a concurrent request's secret as that request recorded it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.admin.auth import AdminCaller
from shared.admin.etags import check_if_match, quoted
from shared.admin.input import check_user_id, parse_disabled_patch
from shared.admin.ports import AuditLog, Sessions, Tenants, Users, Vault
from shared.entra.certificates import new_certificate
from shared.errors import (
    EnforceSsoUnsafe,
    Forbidden,
    InvalidRequest,
    ManagedByScim,
    NotFound,
    PreconditionFailed,
    SsoUnavailable,
    UnknownTenant,
)
from shared.secret import Secret, mask_secret
from shared.settings import Settings
from shared.signin.client_secrets import ClientSecrets
from shared.store.configs import TenantRecord
from shared.store.rows import EtagMismatch
from shared.store.secrets import SecretValue, client_secret_name
from shared.tenants.document import render_client_secret_answer, render_config_document
from shared.tenants.model import (
    OAuth2Config,
    directory_of,
    format_expiry,
    is_sso_ready,
    missing_for_enable,
    parse_tenant_put,
    slug_or_unknown_tenant,
    stamp,
    validate_slug,
)
from shared.tenants.validation import parse_client_secret_put, parse_config_put
from shared.users import PROVIDER_MICROSOFT, ROLE_TENANT_ADMIN, User, rfc3339

log = logging.getLogger(__name__)

_ATTEMPTS = 5
# Tag on each client-secret version: the expiry as the admin gave it (a date or a time).
EXPIRES_TAG = "expires-on"


@dataclass(frozen=True)
class Document:
    """A configuration document and its ETag (None before the first PUT)."""

    body: dict[str, Any]
    etag: str | None


@dataclass
class AdminService:
    settings: Settings
    configs: Tenants
    secrets: Vault
    users: Users
    refresh_tokens: Sessions
    audit: AuditLog
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    # --- tenants ---------------------------------------------------------------------

    def put_tenant(
        self, caller: AdminCaller, tenant: str, body: object, *, ip: str | None
    ) -> tuple[dict[str, str], bool]:
        """Create (True) or rename (False); answers `{"tenant", "display_name"}`."""
        if not caller.platform:
            raise Forbidden("Only platform operators may create or rename tenants.")
        slug = validate_slug(tenant)
        display_name = parse_tenant_put(body)
        record, outcome = self.configs.create_or_rename(slug, display_name)
        if outcome != "unchanged":
            self.audit.record(
                slug, f"tenant_{outcome}", actor=caller.actor, ip=ip, fields=("display_name",)
            )
        return {"tenant": record.slug, "display_name": record.display_name}, outcome == "created"

    # --- the OAuth2 configuration ----------------------------------------------------

    def get_config(self, tenant: str) -> Document:
        record = self._tenant(tenant)
        return self._document(record, self._current_secret(record))

    def put_config(
        self,
        caller: AdminCaller,
        tenant: str,
        body: object,
        *,
        if_match: str | None,
        ip: str | None,
    ) -> Document:
        record = self._tenant(tenant)
        check_if_match(if_match, record.config_etag)
        current_secret = self._current_secret(record)
        update = parse_config_put(
            body,
            current=record.config,
            current_masked_secret=mask_secret(current_secret.value) if current_secret else None,
            today=self._today(),
            now=self.clock(),
        )
        if not caller.platform and "customer_id" in update.changed_fields:
            # It binds the tenant's users to one customer record of the application:
            # a tenant admin must not move them into another customer's.
            raise Forbidden(
                "Only platform operators may change customer_id.",
                fields={"customer_id": "is set by platform operators"},
            )
        if record.configured and not update.changed_fields:
            # Nothing to change: the same document and ETag, nothing written or audited.
            return self._document(record, current_secret)
        if update.config.enforce_sso and not record.config.enforce_sso:
            self._check_enforce_sso_safe(tenant, update.config)
        config = stamp(update.config, at=self.clock(), by=caller.actor)
        new_secret = update.new_client_secret
        if new_secret is not None:
            version = self._store_secret(tenant, new_secret, config.client_secret_expires_on)
            config = _pinned(config, version, before=record.config, current=current_secret)
        try:
            written = self.configs.replace_config(record, config)
        except EtagMismatch:
            if new_secret is not None:
                self._undo_new_secret(record, current_secret)
            raise PreconditionFailed(
                "The configuration changed while this request ran: GET it again and retry."
            ) from None
        except Exception:
            if new_secret is not None:
                self._undo_new_secret(record, current_secret)
            raise
        self.audit.record(
            tenant,
            "config_updated" if record.configured else "config_created",
            actor=caller.actor,
            ip=ip,
            fields=update.changed_fields,
        )
        if set(record.config.admin_group_ids) - set(config.admin_group_ids):
            self._demote_admins(caller, tenant, ip=ip)
        shown = new_secret if new_secret is not None else current_secret
        return self._document(written, shown)

    def _check_enforce_sso_safe(self, tenant: str, config: OAuth2Config) -> None:
        """Turning Enforce SSO on closes every password sign-in: only when SSO works and
        a tenant admin has recently signed in with it, so someone can still get in to
        turn it off (and the platform operator always can)."""
        if not is_sso_ready(config):
            raise EnforceSsoUnsafe("Enforce SSO needs SSO enabled and fully configured first.")
        since = self.clock() - ENFORCE_SSO_WINDOW
        cursor: str | None = None
        while True:
            users, cursor = self.users.list(tenant, limit=1000, cursor=cursor)
            if any(_recent_sso_admin(user, since) for user in users):
                return
            if cursor is None:
                raise EnforceSsoUnsafe()

    def _demote_admins(self, caller: AdminCaller, tenant: str, *, ip: str | None) -> None:
        """An admin group was removed: nobody keeps tenant_admin on the strength of a
        past sign-in. The role is taken from every holder (the admin API and token
        refreshes read it from the user row, so it ends at once, short of access
        tokens already issued); the next Entra sign-in or refresh gives it back to
        members of a remaining admin group (shared.tenants.entitlements)."""
        for user_id in self.users.drop_role(tenant, ROLE_TENANT_ADMIN):
            self.audit.record(
                tenant,
                "user_demoted",
                actor=caller.actor,
                ip=ip,
                fields=("roles",),
                user_id=user_id,
            )

    def put_client_secret(
        self, caller: AdminCaller, tenant: str, body: object, *, ip: str | None
    ) -> dict[str, Any]:
        record = self._tenant(tenant)
        now = self.clock()
        secret, expires = parse_client_secret_put(body, today=now.date(), now=now)
        previous = self._current_secret(record)
        version = self._store_secret(tenant, secret, expires)
        try:
            self._mark_secret_set(record, expires, version, previous, at=now, by=caller.actor)
        except Exception:
            self._undo_new_secret(record, previous)
            raise
        self.audit.record(
            tenant, "client_secret_rotated", actor=caller.actor, ip=ip, fields=("client_secret",)
        )
        masked = mask_secret(secret)
        assert masked is not None
        return render_client_secret_answer(masked, expires, today=now.date())

    def create_client_certificate(
        self, caller: AdminCaller, tenant: str, *, ip: str | None
    ) -> dict[str, Any]:
        """A key pair and self-signed certificate for the tenant's app registration: the
        private key goes to Key Vault with the certificate (as the tenant's credential,
        the version in use until now kept as the previous one, so sign-in goes on
        with it until Entra has the new certificate); the answer is the public
        certificate for the admin to upload, never the key."""
        record = self._tenant(tenant)
        now = self.clock()
        made = new_certificate(subject=f"entrabridge {tenant}", now=now)
        previous = self._current_secret(record)
        version = self._store_secret(tenant, Secret(made.bundle_pem), made.expires_on)
        try:
            self._mark_secret_set(
                record,
                made.expires_on,
                version,
                previous,
                at=now,
                by=caller.actor,
                credential_type="certificate",
            )
        except Exception:
            self._undo_new_secret(record, previous)
            raise
        self.audit.record(
            tenant,
            "client_certificate_created",
            actor=caller.actor,
            ip=ip,
            fields=("client_certificate",),
            detail=f"thumbprint {made.thumbprint}",
        )
        return {
            "certificate_pem": made.certificate_pem,
            "thumbprint": made.thumbprint,
            "expires_on": rfc3339(made.expires_on),
        }

    def connect_app(
        self,
        tenant: str,
        *,
        client_id: str,
        directory_id: str,
        secret: Secret,
        expires: dt.date,
        actor: str,
    ) -> tuple[str, ...]:
        """One-click onboarding's result: the app it made (or found) becomes the
        tenant's, with its new secret (stored in Key Vault first). The credential in
        use until now stays the fallback when it is the same app's (a run again: the
        new secret may take a moment to reach every Entra replica); another app's is
        not kept. Enabled when nothing else is missing; what is still missing,
        otherwise."""
        record = self._tenant(tenant)
        now = self.clock()
        first = record
        try:
            previous = self._current_secret(record)
        except Exception:  # unreadable: nothing to restore, and onboarding is the repair
            previous = None
        version = self._store_secret(tenant, secret, expires)
        try:
            for _ in range(_ATTEMPTS):
                connected = dataclasses.replace(
                    record.config,
                    client_id=client_id,
                    tenant_id=directory_id,
                    client_secret_expires_on=expires,
                    credential_type="secret",  # what onboarding stores, whatever was before
                )
                same_app = (record.config.client_id, directory_of(record.config)) == (
                    client_id,
                    directory_id.lower(),
                )
                connected = _pinned(
                    connected,
                    version,
                    before=record.config if same_app else OAuth2Config(),
                    current=None,
                )
                missing = missing_for_enable(connected)
                connected = dataclasses.replace(connected, enabled=not missing)
                try:
                    self.configs.replace_config(record, stamp(connected, at=now, by=actor))
                    return missing
                except EtagMismatch:
                    record = self._tenant(tenant)
            raise SsoUnavailable("The configuration kept changing; please retry.")
        except Exception:
            # The app this secret belongs to is deleted next: sign-in must not read it.
            self._undo_new_secret(first, previous)
            raise

    def _mark_secret_set(
        self,
        record: TenantRecord,
        expires: dt.date,
        version: str,
        current: SecretValue | None,
        *,
        at: dt.datetime,
        by: str,
        credential_type: str = "secret",
    ) -> None:
        """Make `version` the config's secret, whatever else changed meanwhile (the
        version it replaces, read afresh on each attempt, becomes the previous one)."""
        for _ in range(_ATTEMPTS):
            config = _pinned(
                dataclasses.replace(
                    record.config,
                    client_secret_expires_on=expires,
                    credential_type=credential_type,
                ),
                version,
                before=record.config,
                current=current,
            )
            try:
                self.configs.replace_config(record, stamp(config, at=at, by=by))
                return
            except EtagMismatch:
                record = self._tenant(record.slug)
        raise SsoUnavailable("The configuration kept changing; please retry.")

    # --- users -------------------------------------------------------------------------

    def list_users(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[User], str | None]:
        self._tenant(tenant)
        return self.users.list(tenant, limit=limit, cursor=cursor)

    def set_user_disabled(
        self, caller: AdminCaller, tenant: str, user_id: str, body: object, *, ip: str | None
    ) -> User:
        self._tenant(tenant)
        user_id = check_user_id(user_id)
        if isinstance(body, dict) and {"email", "name"} & body.keys():
            # What SCIM owns is said to be so, before the body's shape (only `disabled`
            # is ever changed here) is refused for anyone else.
            owner = self.users.get(tenant, user_id)
            if owner is not None and owner.managed_by_scim:
                raise ManagedByScim()
        disabled = parse_disabled_patch(body)
        if disabled and caller.user_id == user_id:
            raise InvalidRequest(
                "You cannot disable your own account (another admin or an operator can).",
                fields={"disabled": "cannot disable the signed-in admin's own account"},
            )
        before = self.users.get(tenant, user_id)
        if before is None:
            raise NotFound("No such user in this tenant.")
        if before.managed_by_scim:
            raise ManagedByScim()
        user = (
            before
            if before.disabled == disabled
            else self.users.set_disabled(tenant, user_id, disabled)
        )
        if disabled:
            # Also when already disabled: a retry after a failed revocation finishes it.
            self.refresh_tokens.revoke_user(tenant, user_id)
        if before.disabled != disabled:
            self.audit.record(
                tenant,
                "user_disabled" if disabled else "user_enabled",
                actor=caller.actor,
                ip=ip,
                fields=("disabled",),
                user_id=user_id,
            )
        return user

    # --- audit -------------------------------------------------------------------------

    def list_audit(
        self, tenant: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        self._tenant(tenant)
        return self.audit.list(tenant, limit=limit, cursor=cursor)

    # --- internals ---------------------------------------------------------------------

    def _tenant(self, tenant: str) -> TenantRecord:
        record = self.configs.get_tenant(slug_or_unknown_tenant(tenant))
        if record is None:
            raise UnknownTenant()
        return record

    def _today(self) -> dt.date:
        return self.clock().date()

    def _current_secret(self, record: TenantRecord) -> SecretValue | None:
        """The secret sign-in uses (see `ClientSecrets.in_use`)."""
        if not record.config.client_secret_set:
            return None
        return ClientSecrets(self.secrets).in_use(record.slug, record.config)

    def _document(self, record: TenantRecord, secret: SecretValue | Secret | None) -> Document:
        shown = secret.value if isinstance(secret, SecretValue) else secret
        body = render_config_document(
            record.config,
            masked_secret=mask_secret(shown),
            slug=record.slug,
            public_base_url=self.settings.public_base_url,
            authority_host=self.settings.entra_authority_host,
            today=self._today(),
        )
        return Document(body, quoted(record.config_etag) if record.config_etag else None)

    def _store_secret(self, tenant: str, secret: Secret, expires: dt.date | None) -> str:
        """A new Key Vault version (expiry as attribute and tag); its version id."""
        stored = self.secrets.set_secret(
            client_secret_name(tenant),
            secret,
            tags={EXPIRES_TAG: format_expiry(expires)} if expires else {},
            expires_on=_expiry_instant(expires),
        )
        return stored.version

    def _undo_new_secret(self, record: TenantRecord, previous: SecretValue | None) -> None:
        """After a request that stored a secret failed to record it in the config.

        A config that names its version never reads the orphan: nothing to undo (a
        concurrent request's secret, if any, stays exactly as it recorded it). A
        config without versions reads the newest, so the previous value is stored
        again as the newest. Best effort: the request's own error is what the caller
        must see, so a failure here is only logged."""
        if record.config.client_secret_version or previous is None:
            return
        try:
            self.secrets.set_secret(
                client_secret_name(record.slug),
                previous.value,
                tags=dict(previous.tags),
                expires_on=previous.expires_on,
            )
        except Exception as error:
            log.error(
                "tenant %s: could not restore the previous client secret: %s",
                record.slug,
                type(error).__name__,
            )


def _pinned(
    config: OAuth2Config, version: str, *, before: OAuth2Config, current: SecretValue | None
) -> OAuth2Config:
    """`config` using secret `version` (pending until it signs someone in), the one in
    use until now kept as the previous; while that one is itself pending (never
    used), the previous stays the one before it, known to work."""
    replaced = before.client_secret_version or (current.version if current else None)
    replaced_expires = before.client_secret_expires_on
    if before.client_secret_pending and before.client_secret_previous_version:
        replaced = before.client_secret_previous_version
        replaced_expires = before.client_secret_previous_expires_on
    kept = replaced is not None and replaced != version
    return dataclasses.replace(
        config,
        client_secret_set=True,
        client_secret_version=version,
        client_secret_previous_version=replaced if kept else None,
        client_secret_previous_expires_on=replaced_expires if kept else None,
        client_secret_pending=True,
    )


def _expiry_instant(expires: dt.date | None) -> dt.datetime | None:
    """Key Vault's `expires` attribute: a time as given, a date as the end of that day (UTC)."""
    if expires is None:
        return None
    if isinstance(expires, dt.datetime):
        return expires
    return dt.datetime.combine(expires, dt.time.max, tzinfo=dt.UTC).replace(microsecond=0)


ENFORCE_SSO_WINDOW = dt.timedelta(days=30)


def _recent_sso_admin(user: User, since: dt.datetime) -> bool:
    return (
        user.provider == PROVIDER_MICROSOFT
        and ROLE_TENANT_ADMIN in user.roles
        and not user.disabled
        and user.last_login_at is not None
        and user.last_login_at >= since
    )
