"""SCIM provisioning for one tenant at a time: who may call it, and its token.

Every SCIM request carries the tenant's SCIM token (`Authorization: Bearer`);
it is compared by hash in constant time (shared.store.scim_tokens) before
anything else is read, so a token of one tenant is a 401 on every other, and an
unknown tenant looks like a wrong token. Tenant admins (or operators) make the
token through the admin API: it is answered once, and a new one replaces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from scim2_models import Group, SearchRequest

from shared.admin.auth import AdminCaller
from shared.errors import UnknownTenant
from shared.scim.groups import ScimGroups
from shared.scim.protocol import ScimError, ScimUser, scim_error_of, speaking_scim
from shared.scim.queries import SEARCH_FIELDS, check_filter, list_response
from shared.scim.users import ScimUsers
from shared.signin.ports import AuditLog
from shared.store.rows import Op, Tables
from shared.store.scim_tokens import new_scim_token
from shared.store.tenant_partition import TABLE
from shared.tenants.model import OAuth2Config, slug_or_unknown_tenant
from shared.users import rfc3339


class TenantConfigs(Protocol):
    def get_config(self, tenant: str) -> OAuth2Config | None: ...

    def get_tenant(self, tenant: str) -> object | None: ...


class ScimTokens(Protocol):
    def replace_op(self, tenant: str, token: str, *, now: dt.datetime, actor: str) -> Op: ...

    def revoke(self, tenant: str) -> bool: ...

    def matches(self, tenant: str, token: str) -> bool: ...

    def forget(self, tenant: str) -> None: ...


@dataclass
class ScimService:
    tables: Tables
    configs: TenantConfigs
    tokens: ScimTokens
    audit: AuditLog
    users: ScimUsers
    groups: ScimGroups
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def authenticate(self, tenant: str, bearer: str | None) -> OAuth2Config:
        """The tenant's configuration for a caller holding its SCIM token; 401 else."""
        refused = ScimError(401, "A valid SCIM token of this tenant is required.")
        try:
            slug = slug_or_unknown_tenant(tenant)
        except UnknownTenant:
            raise refused from None
        if not bearer or not self.tokens.matches(slug, bearer):
            raise refused
        config = self.configs.get_config(slug)
        if config is None:
            raise refused
        return config

    @speaking_scim
    def search_everything(self, tenant: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """POST /.search: Users and Groups at once (RFC 7644 3.4.3). A filter that names
        what only one of them has selects nothing of the other (3.4.2.1)."""
        wanted = {k: v for k, v in params.items() if k in SEARCH_FIELDS}
        try:
            search = SearchRequest[ScimUser | Group].model_validate(wanted)
        except Exception as exc:  # mapped to a SCIM error, or raised again
            raise scim_error_of(exc) from exc
        text = str(search.filter) if search.filter is not None else None
        found: list[Any] = []
        understood = text is None
        for model, matches in (
            (ScimUser, lambda: self.users.matches(tenant, text)),
            (Group, lambda: self.groups.matches(tenant, text, with_members=True)),
        ):
            if text is not None:
                try:
                    check_filter(model, text)
                except ScimError:
                    continue
                understood = True
            found += matches()
        if not understood:
            refusal = "The filter names no attribute of a User or a Group."
            raise ScimError(400, refusal, "invalidFilter")
        return list_response(ScimUser | Group, search, found)

    # --- the admin API's token routes --------------------------------------------------

    def new_token(self, caller: AdminCaller, tenant: str, *, ip: str | None) -> dict[str, str]:
        """A new SCIM token for the tenant, replacing any earlier one: shown once."""
        slug = self._tenant(tenant)
        token, now = new_scim_token(), self.clock()
        try:
            self.tables.transact(
                TABLE,
                [
                    self.tokens.replace_op(slug, token, now=now, actor=caller.actor),
                    self.audit.event(slug, "scim_token_created", actor=caller.actor, ip=ip),
                ],
            )
        finally:
            self.tokens.forget(slug)  # a check that read the old row meanwhile keeps nothing
        return {"token": token, "created_at": rfc3339(now)}

    def revoke_token(self, caller: AdminCaller, tenant: str, *, ip: str | None) -> None:
        slug = self._tenant(tenant)
        if self.tokens.revoke(slug):
            self.audit.record(slug, "scim_token_revoked", actor=caller.actor, ip=ip)

    def _tenant(self, tenant: str) -> str:
        slug = slug_or_unknown_tenant(tenant)
        if self.configs.get_tenant(slug) is None:
            raise UnknownTenant()
        return slug
