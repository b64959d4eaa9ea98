"""How a tenant's Entra credential stands today (pure): healthy, expiring (under 30
days left), expired, or unknown (no expiry recorded). Only tenants whose sign-in
needs the credential (SSO enabled, a secret set) are assessed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from shared.tenants.model import OAuth2Config

EXPIRING_DAYS = 30
Standing = Literal["healthy", "expiring", "expired", "unknown"]


@dataclass(frozen=True)
class CredentialStanding:
    tenant: str
    standing: Standing
    days_left: int | None  # negative once expired; None when unknown
    # Which credential, in words for the audit event (an admin reads it).
    credential: str = "client secret"

    @property
    def needs_attention(self) -> bool:
        return self.standing in ("expiring", "expired")


def assess(tenant: str, config: OAuth2Config, *, today: dt.date) -> CredentialStanding | None:
    """None when the tenant's sign-in does not use a credential of ours."""
    if not config.enabled or not config.client_secret_set:
        return None
    credential = (
        "client certificate" if config.credential_type == "certificate" else "client secret"
    )
    expires = config.client_secret_expires_on
    if expires is None:
        return CredentialStanding(tenant, "unknown", None, credential)
    day = expires.date() if isinstance(expires, dt.datetime) else expires
    days_left = (day - today).days
    if days_left < 0:
        return CredentialStanding(tenant, "expired", days_left, credential)
    if days_left < EXPIRING_DAYS:
        return CredentialStanding(tenant, "expiring", days_left, credential)
    return CredentialStanding(tenant, "healthy", days_left, credential)


def assess_in_use(
    tenant: str, config: OAuth2Config, *, today: dt.date
) -> CredentialStanding | None:
    """`assess` of the credential sign-in relies on: while the current one is pending
    (made, maybe not yet uploaded to Entra, never used), sign-in may still run on
    the previous one, so whichever of the two expires first is the one that counts.
    (The login page keeps `assess`: it must not hide the button that proves the new
    one.)"""
    standing = assess(tenant, config, today=today)
    previous = config.client_secret_previous_expires_on
    if standing is None or not config.client_secret_pending or previous is None:
        return standing
    fallback = assess(tenant, replace(config, client_secret_expires_on=previous), today=today)
    if fallback is None or fallback.days_left is None:
        return standing
    if standing.days_left is None or fallback.days_left < standing.days_left:
        # Its kind is not kept with it: named by its role.
        return replace(fallback, credential="previous credential (the new one is unused yet)")
    return standing


def counts(standings: Iterable[CredentialStanding]) -> dict[str, int]:
    """Expiring and expired, counted (what /api/health shows: no tenant names)."""
    found = list(standings)
    return {
        "expiring": sum(s.standing == "expiring" for s in found),
        "expired": sum(s.standing == "expired" for s in found),
    }
