"""The OAuth2 configuration document an admin reads (the contract's shape).

Pure. Besides the stored fields it carries read-only parts derived from them
(`provider`, `endpoints`, `scopes`, `field_mappings`) and the secret's status
(`client_secret_set`, `client_secret_expires_on`, `client_secret_days_left`,
`client_secret_expiring_soon`). The secret itself only ever appears masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.secret import looks_masked
from shared.tenants.model import OAuth2Config, format_expiry, format_time

PROVIDER = "microsoft"
# What sign-in asks Entra for and which claims become which user attributes.
SCOPES = ("openid", "profile", "email", "User.Read", "offline_access")
FIELD_MAPPINGS = {"email": "email", "name": "name", "user_id": "oid", "roles": "groups"}
EXPIRING_SOON_DAYS = 30


def endpoints(
    tenant_id: str | None, *, slug: str, public_base_url: str, authority_host: str
) -> dict[str, str | None]:
    """Entra's endpoints for the directory (None until `tenant_id` is set) and ours."""
    authority = f"{authority_host.rstrip('/')}/{tenant_id}" if tenant_id else None
    ours = f"{public_base_url.rstrip('/')}/api/auth/{slug}"
    return {
        "authorization_uri": f"{authority}/oauth2/v2.0/authorize" if authority else None,
        "token_uri": f"{authority}/oauth2/v2.0/token" if authority else None,
        "issuer": f"{authority}/v2.0" if authority else None,
        "jwks_uri": f"{authority}/discovery/v2.0/keys" if authority else None,
        "redirect_uri": f"{ours}/callback",
        "front_channel_logout_uri": f"{ours}/logout",
    }


def secret_status(
    *, client_secret_set: bool, expires_on: dt.date | None, today: dt.date
) -> dict[str, Any]:
    """`client_secret_days_left` (negative once expired) and `client_secret_expiring_soon`."""
    if not client_secret_set or expires_on is None:
        return {"client_secret_days_left": None, "client_secret_expiring_soon": False}
    day = expires_on.date() if isinstance(expires_on, dt.datetime) else expires_on
    days_left = (day - today).days
    return {
        "client_secret_days_left": days_left,
        "client_secret_expiring_soon": days_left < EXPIRING_SOON_DAYS,
    }


def credential_status(config: OAuth2Config, *, today: dt.date) -> dict[str, Any]:
    """`credential_expires_in_days` of the credential sign-in uses (the client secret)."""
    days = secret_status(
        client_secret_set=config.client_secret_set,
        expires_on=config.client_secret_expires_on,
        today=today,
    )["client_secret_days_left"]
    return {"credential_expires_in_days": days}


def render_config_document(
    config: OAuth2Config,
    *,
    masked_secret: str | None,
    slug: str,
    public_base_url: str,
    authority_host: str,
    today: dt.date,
) -> dict[str, Any]:
    """The GET document. `masked_secret` must already be masked (`mask_secret`)."""
    return {
        "enabled": config.enabled,
        "provider": PROVIDER,
        "client_id": config.client_id,
        "client_secret": _masked(masked_secret) if config.client_secret_set else None,
        "client_secret_set": config.client_secret_set,
        "client_secret_expires_on": _expiry(config.client_secret_expires_on),
        **secret_status(
            client_secret_set=config.client_secret_set,
            expires_on=config.client_secret_expires_on,
            today=today,
        ),
        "credential_type": config.credential_type,
        **credential_status(config, today=today),
        "tenant_id": config.tenant_id,
        "customer_id": config.customer_id,
        "profile_mappings": [
            {"profile_id": m.profile_id, "group_id": m.group_id} for m in config.profile_mappings
        ],
        "admin_group_ids": list(config.admin_group_ids),
        "homepage_url": config.homepage_url,
        "login_page_url": config.login_page_url,
        "allowed_return_origins": list(config.allowed_return_origins),
        "enforce_sso": config.enforce_sso,
        "jit_provisioning": config.jit_provisioning,
        "button_label": config.button_label,
        "endpoints": endpoints(
            config.tenant_id,
            slug=slug,
            public_base_url=public_base_url,
            authority_host=authority_host,
        ),
        "scopes": list(SCOPES),
        "field_mappings": dict(FIELD_MAPPINGS),
        "updated_at": format_time(config.updated_at) if config.updated_at else None,
        "updated_by": config.updated_by,
    }


def render_client_secret_answer(
    masked_secret: str, expires_on: dt.date, *, today: dt.date
) -> dict[str, Any]:
    """What `PUT .../oauth2/client-secret` answers: the masked value and its status."""
    return {
        "client_secret": _masked(masked_secret),
        "client_secret_expires_on": format_expiry(expires_on),
        **secret_status(client_secret_set=True, expires_on=expires_on, today=today),
    }


def _expiry(value: dt.date | None) -> str | None:
    return format_expiry(value) if value is not None else None


def _masked(value: str | None) -> str | None:
    # A caller handing over the raw secret by mistake must not put it in a response.
    if value is not None and not looks_masked(value):
        raise ValueError("masked_secret must be a masked value (see mask_secret)")
    return value
