"""Tenants and their OAuth2 configuration: the model sign-in and the admin API share.

Pure: no I/O. Field names follow the contract's configuration document.
Admin input is validated in `shared.tenants.validation`; the document an admin
reads is rendered by `shared.tenants.document`; `profilemappings` rows come from
`shared.tenants.mappings`. The `tenants` row (a flat Table Storage entity) is
built and read here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

from shared.errors import InvalidRequest, UnknownTenant
from shared.users import rfc3339

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
DEFAULT_BUTTON_LABEL = "Login with Microsoft"
DISPLAY_NAME_MAX = 200

# The fields an admin writes, in document order; "client_secret" stands for the
# secret itself (its value is never part of the model).
WRITABLE_FIELDS = (
    "enabled",
    "client_id",
    "client_secret",
    "client_secret_expires_on",
    "tenant_id",
    "customer_id",
    "profile_mappings",
    "admin_group_ids",
    "homepage_url",
    "login_page_url",
    "allowed_return_origins",
    "enforce_sso",
    "jit_provisioning",
    "button_label",
)
# In the document an admin reads but not theirs to write: a PUT ignores them, so
# a GET body sent back as it came is a valid PUT body.
READ_ONLY_FIELDS = (
    "provider",
    "endpoints",
    "scopes",
    "field_mappings",
    "client_secret_set",
    "client_secret_days_left",
    "client_secret_expiring_soon",
    "credential_expires_in_days",
    "credential_type",
    "updated_at",
    "updated_by",
)
# Needed before `enabled` may be true (the contract's list).
REQUIRED_WHEN_ENABLED = ("client_id", "client_secret", "tenant_id", "customer_id")

# Categories refused in every free text: controls, format characters (bidi
# overrides, zero-width), line/paragraph separators, lone surrogates (which
# cannot even be stored as UTF-8).
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_chars(value: str) -> bool:
    return any(unicodedata.category(c) in _BAD_CATEGORIES for c in value)


# --- tenants ------------------------------------------------------------------


def is_valid_slug(value: object) -> bool:
    # fullmatch: `$` would let a trailing newline through.
    return isinstance(value, str) and SLUG.fullmatch(value) is not None


def validate_slug(value: object) -> str:
    """The slug, or InvalidRequest naming field "tenant" (admin routes)."""
    if not is_valid_slug(value):
        raise InvalidRequest(
            "The tenant is not a valid slug.",
            fields={
                "tenant": "must be 3-63 lowercase letters, digits or '-', "
                "starting and ending with a letter or digit"
            },
        )
    assert isinstance(value, str)
    return value


def slug_or_unknown_tenant(value: object) -> str:
    """The slug, or UnknownTenant: a malformed slug names no tenant (sign-in routes)."""
    if not is_valid_slug(value):
        raise UnknownTenant()
    assert isinstance(value, str)
    return value


@dataclass(frozen=True)
class Tenant:
    slug: str
    display_name: str
    created_at: dt.datetime | None = None


def display_name_problem(value: object) -> str | None:
    """What is wrong with a display name, or None."""
    if not isinstance(value, str):
        return "must be a string"
    text = value.strip()
    if not 1 <= len(text) <= DISPLAY_NAME_MAX:
        return f"must be 1-{DISPLAY_NAME_MAX} characters"
    if has_control_chars(text):
        return "must not contain control characters"
    return None


def validate_display_name(value: object) -> str:
    """The display name without surrounding whitespace, else InvalidRequest naming it."""
    problem = display_name_problem(value)
    if problem:
        raise InvalidRequest("The display name is not valid.", fields={"display_name": problem})
    assert isinstance(value, str)
    return value.strip()


def parse_tenant_put(body: object) -> str:
    """`PUT /api/admin/tenants/{tenant}` body `{"display_name"}` -> the display name."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    fields = {str(k)[:100]: "unknown field" for k in list(body)[:20] if k != "display_name"}
    if "display_name" not in body:
        fields["display_name"] = "is required"
    else:
        problem = display_name_problem(body["display_name"])
        if problem:
            fields["display_name"] = problem
    if fields:
        raise InvalidRequest("The tenant is not valid.", fields=fields)
    return str(body["display_name"]).strip()


# --- the configuration ----------------------------------------------------------


@dataclass(frozen=True)
class ProfileMapping:
    """Members of Entra group `group_id` get profile `profile_id` (both lowercase UUIDs)."""

    profile_id: str
    group_id: str


@dataclass(frozen=True)
class OAuth2Config:
    """The stored, non-secret configuration. Ids are lowercase UUIDs.

    `client_secret_expires_on` is a date, or an aware UTC datetime when the
    admin gave a time. `client_secret_set` says a secret is in Key Vault.
    """

    enabled: bool = False
    client_id: str | None = None
    tenant_id: str | None = None
    customer_id: str | None = None
    profile_mappings: tuple[ProfileMapping, ...] = ()
    admin_group_ids: tuple[str, ...] = ()
    # None: the hosted page (signed-in view); a set value, "/" too, is used as it is.
    homepage_url: str | None = None
    login_page_url: str | None = None
    allowed_return_origins: tuple[str, ...] = ()
    enforce_sso: bool = False
    # False: invite-only, an SSO sign-in needs a user created beforehand.
    jit_provisioning: bool = True
    button_label: str = DEFAULT_BUTTON_LABEL
    client_secret_set: bool = False
    client_secret_expires_on: dt.date | None = None
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    # The Key Vault versions sign-in uses: the current secret, and the one before it
    # (tried once while Entra does not know the new one yet). Never in the document.
    # None on rows written without them (seeding): sign-in then reads the newest.
    client_secret_version: str | None = None
    client_secret_previous_version: str | None = None
    # "secret" or "certificate": which kind of credential the current version is
    # (shown in the document; set by the credential routes, not by a PUT).
    credential_type: str = "secret"
    # Operational state, not configuration: the secret the config names was last
    # found missing or unreadable in Key Vault (by a sign-in or the health probe).
    # The status route and login page, which cannot ask Key Vault, read it here.
    # Never written by a configuration write (which clears it: a new write is a
    # new chance); see ConfigStore.mark_client_secret.
    client_secret_unavailable: bool = False
    # Operational state too: the current version was stored by a rotation (a new
    # secret, a certificate) and has not yet signed anyone in. While it is pending, a
    # further rotation keeps the previous version (the one known to work) rather
    # than demoting the untried one to fallback. Cleared by the first sign-in it
    # redeems (ConfigStore.mark_client_secret_proven); never in the document.
    client_secret_pending: bool = False
    # When the previous version expires (kept with it at each rotation): while the
    # current one is pending, sign-in may still rely on the previous one, and the
    # credential watch warns about whichever expires first. Never in the document.
    client_secret_previous_expires_on: dt.date | None = None
    # Sessions started before these times (epoch seconds) have ended: single sign-on
    # went off (Microsoft sessions) or Enforce SSO went on (password sessions). Set by
    # the store on each configuration write (sessions_ended_by); never in the document.
    sso_sessions_after: float = 0.0
    password_sessions_after: float = 0.0


def default_config() -> OAuth2Config:
    """What a tenant has before its first configuration PUT."""
    return OAuth2Config()


def stamp(config: OAuth2Config, *, at: dt.datetime, by: str) -> OAuth2Config:
    """The config marked as changed by `by` at `at` (the admin API does this on write)."""
    return dataclasses.replace(config, updated_at=at, updated_by=by)


def missing_for_enable(
    config: OAuth2Config, *, secret_available: bool | None = None
) -> tuple[str, ...]:
    """What `enabled: true` still lacks, in the contract's order (empty when complete)."""
    secret = config.client_secret_set if secret_available is None else secret_available
    present = {
        "client_id": bool(config.client_id),
        "client_secret": secret,
        "tenant_id": bool(config.tenant_id),
        "customer_id": bool(config.customer_id),
    }
    return tuple(name for name in REQUIRED_WHEN_ENABLED if not present[name])


def is_sso_ready(config: OAuth2Config) -> bool:
    """Enabled, and every part a sign-in needs is there."""
    return config.enabled and not missing_for_enable(config)


def sso_enforced(config: OAuth2Config) -> bool:
    """Enforce SSO is in effect: on, and SSO usable. While SSO is off or incomplete the
    password routes stay open (and password users may be created), so turning SSO
    off never locks a tenant out."""
    return config.enforce_sso and is_sso_ready(config)


def profiles_for_groups(
    config: OAuth2Config | Iterable[ProfileMapping], group_ids: Iterable[str]
) -> tuple[str, ...]:
    """Profiles of the mapped groups the user is in, sorted, once each (by object id only)."""
    mappings = config.profile_mappings if isinstance(config, OAuth2Config) else config
    groups = {g.lower() for g in group_ids}
    return tuple(sorted({m.profile_id.lower() for m in mappings if m.group_id.lower() in groups}))


def is_admin(config: OAuth2Config, group_ids: Iterable[str]) -> bool:
    groups = {g.lower() for g in group_ids}
    return any(g.lower() in groups for g in config.admin_group_ids)


def changed_fields(
    old: OAuth2Config, new: OAuth2Config, *, new_secret: bool = False
) -> tuple[str, ...]:
    """Names of the writable fields that differ, in document order, for the audit log.

    A secret change (a new value, or one appearing) is "client_secret"; its value
    is never involved.
    """
    changed = []
    for name in WRITABLE_FIELDS:
        if name == "client_secret":
            differs = new_secret or old.client_secret_set != new.client_secret_set
        else:
            differs = getattr(old, name) != getattr(new, name)
        if differs:
            changed.append(name)
    return tuple(changed)


# --- dates and times --------------------------------------------------------------


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a "Z" (seconds; fractions only when there are some)."""
    return rfc3339(value, keep_fractions=True)


def format_expiry(value: dt.date) -> str:
    """`YYYY-MM-DD` for a date, RFC 3339 for a time."""
    return format_time(value) if isinstance(value, dt.datetime) else value.isoformat()


def parse_expiry(text: str) -> dt.date:
    """Inverse of `format_expiry` (ValueError on anything else)."""
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a time needs an offset")
    return value.astimezone(dt.UTC)


def sessions_ended_by(old: OAuth2Config | None, new: OAuth2Config, now: float) -> OAuth2Config:
    """`new` with the session cut-offs a write from `old` to `new` sets: single sign-on
    going off, or moving to another Entra directory, ends every Microsoft session,
    Enforce SSO going on every password one, for good (switching back later revives
    none). Cut-offs only ever move forward."""
    sso_after = max(new.sso_sessions_after, old.sso_sessions_after if old else 0.0)
    password_after = max(new.password_sessions_after, old.password_sessions_after if old else 0.0)
    if old is not None and is_sso_ready(old) and not is_sso_ready(new):
        sso_after = now
    if old is not None and is_sso_ready(old) and directory_of(old) != directory_of(new):
        sso_after = now  # the old directory's people are no longer this tenant's
    if sso_enforced(new) and not (old is not None and sso_enforced(old)):
        password_after = now
    return replace(new, sso_sessions_after=sso_after, password_sessions_after=password_after)


def directory_of(config: OAuth2Config) -> str:
    """The Entra directory (tenant id) SSO trusts, lower case; "" when none is set."""
    return (config.tenant_id or "").lower()
