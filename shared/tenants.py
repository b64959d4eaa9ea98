"""Tenants and their OAuth2 configuration: the model sign-in reads.

Pure. Field names follow the contract's configuration document. Validation
of admin input (issue 5) builds on this model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
DEFAULT_BUTTON_LABEL = "Login with Microsoft"


def is_valid_slug(value: str) -> bool:
    return bool(SLUG.match(value))


@dataclass(frozen=True)
class ProfileMapping:
    profile_id: str
    group_id: str


@dataclass(frozen=True)
class OAuth2Config:
    enabled: bool = False
    client_id: str | None = None
    tenant_id: str | None = None
    customer_id: str | None = None
    profile_mappings: tuple[ProfileMapping, ...] = ()
    admin_group_ids: tuple[str, ...] = ()
    homepage_url: str = "/"
    login_page_url: str | None = None
    allowed_return_origins: tuple[str, ...] = ()
    enforce_sso: bool = False
    button_label: str = DEFAULT_BUTTON_LABEL
    client_secret_set: bool = False
    client_secret_expires_on: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None


def is_sso_ready(config: OAuth2Config) -> bool:
    """Enabled, and every part a sign-in needs is there."""
    return bool(
        config.enabled
        and config.client_id
        and config.tenant_id
        and config.customer_id
        and config.client_secret_set
    )


def profiles_for_groups(config: OAuth2Config, group_ids: Iterable[str]) -> tuple[str, ...]:
    """Profiles of the mapped groups the user is in, sorted, once each (by object id only)."""
    groups = {g.lower() for g in group_ids}
    return tuple(
        sorted({m.profile_id for m in config.profile_mappings if m.group_id.lower() in groups})
    )


def is_admin(config: OAuth2Config, group_ids: Iterable[str]) -> bool:
    groups = {g.lower() for g in group_ids}
    return any(g.lower() in groups for g in config.admin_group_ids)


def config_to_entity(config: OAuth2Config) -> dict[str, Any]:
    """Flat Table Storage properties (lists as JSON); no secret is ever part of it."""
    return {
        "enabled": config.enabled,
        "client_id": config.client_id or "",
        "tenant_id": config.tenant_id or "",
        "customer_id": config.customer_id or "",
        "profile_mappings": json.dumps(
            [{"profile_id": m.profile_id, "group_id": m.group_id} for m in config.profile_mappings]
        ),
        "admin_group_ids": json.dumps(list(config.admin_group_ids)),
        "homepage_url": config.homepage_url,
        "login_page_url": config.login_page_url or "",
        "allowed_return_origins": json.dumps(list(config.allowed_return_origins)),
        "enforce_sso": config.enforce_sso,
        "button_label": config.button_label,
        "client_secret_set": config.client_secret_set,
        "client_secret_expires_on": config.client_secret_expires_on or "",
        "updated_at": config.updated_at or "",
        "updated_by": config.updated_by or "",
    }


def config_from_entity(data: Mapping[str, Any]) -> OAuth2Config:
    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value) if value else None

    def listed(name: str) -> list[Any]:
        value = json.loads(str(data.get(name) or "[]"))
        return value if isinstance(value, list) else []

    return OAuth2Config(
        enabled=data.get("enabled") is True,
        client_id=text("client_id"),
        tenant_id=text("tenant_id"),
        customer_id=text("customer_id"),
        profile_mappings=tuple(
            ProfileMapping(str(m["profile_id"]), str(m["group_id"]))
            for m in listed("profile_mappings")
            if isinstance(m, dict)
        ),
        admin_group_ids=tuple(str(g) for g in listed("admin_group_ids")),
        homepage_url=text("homepage_url") or "/",
        login_page_url=text("login_page_url"),
        allowed_return_origins=tuple(str(o) for o in listed("allowed_return_origins")),
        enforce_sso=data.get("enforce_sso") is True,
        button_label=text("button_label") or DEFAULT_BUTTON_LABEL,
        client_secret_set=data.get("client_secret_set") is True,
        client_secret_expires_on=text("client_secret_expires_on"),
        updated_at=text("updated_at"),
        updated_by=text("updated_by"),
    )
