"""A tenant's public sign-in options (the status route and the hosted login page).

Apart from `shared.signin.service` on purpose: answering needs only the tenant's
configuration, so these routes load neither MSAL nor the Key Vault SDK nor
azure-identity (about 450 ms of a cold start).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared.errors import UnknownTenant
from shared.expiry.assess import assess
from shared.signin.redirects import form_destinations
from shared.tenants.model import is_sso_ready

if TYPE_CHECKING:
    from shared.store.configs import TenantRecord


class ConfigReader(Protocol):
    def cached_tenant(self, tenant: str) -> TenantRecord | None: ...


@dataclass(frozen=True)
class SignInStatus:
    tenant: str
    sso_enabled: bool
    authorize_url: str
    button_label: str
    enforce_sso: bool
    display_name: str = ""  # for the page; not part of the status route's answer
    # Why SSO is off although the configuration enables it (the credential expired,
    # or its secret is missing in Key Vault); None otherwise.
    unavailable_reason: str | None = None
    # Origins the login form's answer may redirect to (its CSP form-action); not part
    # of the status route's answer.
    form_destinations: tuple[str, ...] = ()

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "tenant": self.tenant,
            "sso_enabled": self.sso_enabled,
            "provider": "microsoft",
            "authorize_url": self.authorize_url,
            "button_label": self.button_label,
            "enforce_sso": self.enforce_sso,
        }
        if self.unavailable_reason:
            body["unavailable_reason"] = self.unavailable_reason
        return body


def sign_in_status(configs: ConfigReader, tenant: str, *, public_base_url: str) -> SignInStatus:
    """The tenant's options; `UnknownTenant` when there is no such tenant."""
    record = configs.cached_tenant(tenant)
    if record is None:
        raise UnknownTenant()
    config = record.config
    # A secret last found missing in Key Vault, or past its expiry, would only lead
    # to an error page.
    reason = None
    if is_sso_ready(config):
        standing = assess(tenant, config, today=dt.datetime.now(dt.UTC).date())
        if config.client_secret_unavailable:
            reason = "client_secret_unavailable"
        elif standing is not None and standing.standing == "expired":
            reason = "credential_expired"
    ready = is_sso_ready(config) and reason is None
    return SignInStatus(
        tenant=tenant,
        sso_enabled=ready,
        authorize_url=f"{public_base_url}/api/auth/{tenant}/authorize",
        button_label=config.button_label,
        enforce_sso=config.enforce_sso and ready,
        display_name=record.display_name,
        unavailable_reason=reason,
        form_destinations=form_destinations(config.homepage_url, config.allowed_return_origins),
    )
