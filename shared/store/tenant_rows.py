"""The `tenants` row as Table Storage holds a configuration: flat properties (lists
as JSON, split over numbered properties past 30,000 characters), never a secret.
Rows written before a field existed read as its default."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from shared.tenants.model import (
    DEFAULT_BUTTON_LABEL,
    OAuth2Config,
    ProfileMapping,
    format_expiry,
    parse_expiry,
)

# Table Storage strings are UTF-16 and at most 64 KiB: 500 mappings as JSON
# are ~47,000 characters, so long JSON is split across numbered properties.
_CHUNK = 30_000
# 2: homepage_url "" is null (the hosted page) and "/" is "/" (see _homepage).
ROW_FORMAT = 2
SECRET_UNAVAILABLE = "client_secret_unavailable"  # noqa: S105 (a property name)
SECRET_PENDING = "client_secret_pending"  # noqa: S105 (a property name)
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
        "jit_provisioning": config.jit_provisioning,
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
        "credential_type": config.credential_type,
        SECRET_PENDING: config.client_secret_pending,
        "client_secret_previous_expires_on": (
            format_expiry(config.client_secret_previous_expires_on)
            if config.client_secret_previous_expires_on
            else ""
        ),
        # Whole milliseconds, rounded up: a session begun before a cut-off stays before it.
        "sso_sessions_after_ms": math.ceil(config.sso_sessions_after * 1000),
        "password_sessions_after_ms": math.ceil(config.password_sessions_after * 1000),
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
    previous_expires = text("client_secret_previous_expires_on")
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
        jit_provisioning=data.get("jit_provisioning") is not False,  # rows before it: on
        button_label=text("button_label") or DEFAULT_BUTTON_LABEL,
        client_secret_set=data.get("client_secret_set") is True,
        client_secret_expires_on=parse_expiry(expires) if expires else None,
        updated_at=dt.datetime.fromisoformat(updated_at) if updated_at else None,
        updated_by=text("updated_by"),
        client_secret_version=text("client_secret_version"),
        client_secret_previous_version=text("client_secret_previous_version"),
        credential_type="certificate" if data.get("credential_type") == "certificate" else "secret",
        client_secret_unavailable=data.get(SECRET_UNAVAILABLE) is True,
        client_secret_pending=data.get(SECRET_PENDING) is True,
        client_secret_previous_expires_on=(
            parse_expiry(previous_expires) if previous_expires else None
        ),
        sso_sessions_after=_seconds(data.get("sso_sessions_after_ms")),
        password_sessions_after=_seconds(data.get("password_sessions_after_ms")),
    )


def _seconds(milliseconds: object) -> float:
    if isinstance(milliseconds, int) and not isinstance(milliseconds, bool):
        return milliseconds / 1000
    return 0.0


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
