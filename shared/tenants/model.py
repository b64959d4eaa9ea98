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
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidRequest, UnknownTenant
from shared.settings import Secret

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
    # Operational state, not configuration: the secret the config names was last
    # found missing or unreadable in Key Vault (by a sign-in or the health probe).
    # The status route and login page, which cannot ask Key Vault, read it here.
    # Never written by a configuration write (which clears it: a new write is a
    # new chance); see ConfigStore.mark_client_secret.
    client_secret_unavailable: bool = False


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


# --- secrets as shown -------------------------------------------------------------

MASK = "*****"


def mask_secret(value: str | Secret | None) -> str | None:
    """The display form: the first 3 characters, then ``*****``; all asterisks when short."""
    if value is None:
        return None
    text = value.reveal() if isinstance(value, Secret) else value
    if len(text) < 8:
        # Three characters of a short value are too much of it.
        return "*" * 8
    return f"{text[:3]}{MASK}"


def looks_masked(value: str) -> bool:
    """Whether a string has the shape `mask_secret` produces."""
    return len(value) == 8 and value.endswith(MASK)


# --- dates and times --------------------------------------------------------------


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a "Z" (seconds; fractions only when there are some)."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


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


# --- stored form: the `tenants` row ---------------------------------------------------

# Table Storage strings are UTF-16 and at most 64 KiB: 500 mappings as JSON
# are ~47,000 characters, so long JSON is split across numbered properties.
_CHUNK = 30_000
# 2: homepage_url "" is null (the hosted page) and "/" is "/" (see _homepage).
ROW_FORMAT = 2
SECRET_UNAVAILABLE = "client_secret_unavailable"  # noqa: S105 (a property name)
_LISTS = ("profile_mappings", "admin_group_ids", "allowed_return_origins")


def config_to_entity(config: OAuth2Config) -> dict[str, Any]:
    """Flat Table Storage properties (str/bool/int; lists as JSON); never a secret."""
    entity: dict[str, Any] = {
        "enabled": config.enabled,
        "client_id": config.client_id or "",
        "tenant_id": config.tenant_id or "",
        "customer_id": config.customer_id or "",
        "homepage_url": config.homepage_url or "",
        "row_format": ROW_FORMAT,
        "login_page_url": config.login_page_url or "",
        "enforce_sso": config.enforce_sso,
        "button_label": config.button_label,
        "client_secret_set": config.client_secret_set,
        "client_secret_expires_on": (
            format_expiry(config.client_secret_expires_on)
            if config.client_secret_expires_on
            else ""
        ),
        "updated_at": config.updated_at.astimezone(dt.UTC).isoformat() if config.updated_at else "",
        "updated_by": config.updated_by or "",
        "client_secret_version": config.client_secret_version or "",
        "client_secret_previous_version": config.client_secret_previous_version or "",
    }
    lists: dict[str, list[Any]] = {
        "profile_mappings": [
            {"profile_id": m.profile_id, "group_id": m.group_id} for m in config.profile_mappings
        ],
        "admin_group_ids": list(config.admin_group_ids),
        "allowed_return_origins": list(config.allowed_return_origins),
    }
    for name, items in lists.items():
        entity.update(_chunks(name, json.dumps(items, separators=(",", ":"))))
    return entity


def config_from_entity(data: Mapping[str, Any]) -> OAuth2Config:
    """The config of a stored row (rows written before a field existed get its default)."""

    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value) if value else None

    lists = {name: _joined(data, name) for name in _LISTS}
    expires = text("client_secret_expires_on")
    updated_at = text("updated_at")
    return OAuth2Config(
        enabled=data.get("enabled") is True,
        client_id=text("client_id"),
        tenant_id=text("tenant_id"),
        customer_id=text("customer_id"),
        profile_mappings=tuple(
            ProfileMapping(str(m["profile_id"]), str(m["group_id"]))
            for m in lists["profile_mappings"]
            if isinstance(m, dict)
        ),
        admin_group_ids=tuple(str(g) for g in lists["admin_group_ids"]),
        homepage_url=_homepage(data),
        login_page_url=text("login_page_url"),
        allowed_return_origins=tuple(str(o) for o in lists["allowed_return_origins"]),
        enforce_sso=data.get("enforce_sso") is True,
        button_label=text("button_label") or DEFAULT_BUTTON_LABEL,
        client_secret_set=data.get("client_secret_set") is True,
        client_secret_expires_on=parse_expiry(expires) if expires else None,
        updated_at=dt.datetime.fromisoformat(updated_at) if updated_at else None,
        updated_by=text("updated_by"),
        client_secret_version=text("client_secret_version"),
        client_secret_previous_version=text("client_secret_previous_version"),
        client_secret_unavailable=data.get(SECRET_UNAVAILABLE) is True,
    )


def _homepage(data: Mapping[str, Any]) -> str | None:
    value = str(data.get("homepage_url") or "") or None
    if value == "/" and not isinstance(data.get("row_format"), int):
        # Rows written before homepage_url could be null held "/" as the default, and
        # "/" then meant the hosted page: read as null, so none of them changes where
        # sign-ins land. (An explicit "/" cannot be told apart there; it meant the same.)
        return None
    return value


def _chunks(name: str, text: str) -> dict[str, Any]:
    parts = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    out: dict[str, Any] = {name: parts[0], f"{name}_parts": len(parts)}
    out.update({f"{name}_{i}": part for i, part in enumerate(parts[1:], start=1)})
    return out


def _joined(data: Mapping[str, Any], name: str) -> list[Any]:
    count = data.get(f"{name}_parts")
    count = count if isinstance(count, int) and count > 0 else 1
    text = str(data.get(name) or "") + "".join(
        str(data.get(f"{name}_{i}") or "") for i in range(1, count)
    )
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []
