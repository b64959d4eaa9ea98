"""The admin API end to end: the app served by the local host on Azurite and the Key
Vault stand-in, with helpers to call it as an operator or as a tenant admin."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from shared.container import Services
from shared.signin.provisioning import SignInIdentity
from shared.users import ROLE_TENANT_ADMIN, Entitlements, User

PLATFORM_KEY = "test-platform-admin-key-0123456789"
ADMIN_TENANT = "acme"
ENTRA_TENANT_ID = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CLIENT_ID = "550e8400-e29b-41d4-a716-446655440000"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
GROUP_A = "a0000000-0000-4000-8000-00000000000a"
GROUP_B = "b0000000-0000-4000-8000-00000000000b"
PROFILE_A = "c0000000-0000-4000-8000-00000000000a"
PROFILE_B = "d0000000-0000-4000-8000-00000000000b"
SECRET = "s3cr3t~value-0123456789abcdef"
NEXT_YEAR = (dt.date.today() + dt.timedelta(days=365)).isoformat()


def complete_config() -> dict[str, Any]:
    """A configuration body that can be enabled: ids, a secret, two mappings, an admin group."""
    return {
        "enabled": True,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "client_secret_expires_on": NEXT_YEAR,
        "tenant_id": ENTRA_TENANT_ID,
        "customer_id": CUSTOMER,
        "profile_mappings": [
            {"profile_id": PROFILE_A, "group_id": GROUP_A},
            {"profile_id": PROFILE_B, "group_id": GROUP_B},
        ],
        "admin_group_ids": [GROUP_A],
    }


@dataclass
class AdminSystem:
    host: FuncHost
    services: Services
    http: requests.Session

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = PLATFORM_KEY,
        token: str | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """`path` below /api/admin/tenants/; the platform key unless `key=None`."""
        sent = dict(headers or {})
        if key is not None:
            sent["X-Platform-Admin-Key"] = key
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method,
            f"{self.host.url}/api/admin/tenants/{path}",
            json=json,
            data=data,
            headers=sent,
            params=params,
            allow_redirects=False,
        )

    def create_tenant(self, slug: str = ADMIN_TENANT, name: str = "Acme") -> None:
        answer = self.call("PUT", slug, json={"display_name": name})
        assert answer.status_code in (200, 201), answer.text

    def configure(self, slug: str = ADMIN_TENANT, **fields: Any) -> requests.Response:
        """GET then PUT the configuration with `fields` changed (If-Match from the GET)."""
        current = self.call("GET", f"{slug}/oauth2")
        assert current.status_code == 200, current.text
        body = dict(current.json()) | fields
        headers = {"If-Match": current.headers["ETag"]} if "ETag" in current.headers else {}
        return self.call("PUT", f"{slug}/oauth2", json=body, headers=headers)

    def add_user(
        self,
        slug: str = ADMIN_TENANT,
        *,
        email: str | None = None,
        roles: tuple[str, ...] = (),
        profiles: tuple[str, ...] = (),
        group_ids: tuple[str, ...] = (),
    ) -> User:
        """A user as a sign-in would have made them (the real store's provisioning);
        `group_ids` are what a refresh recomputes their profiles and roles from."""
        oid = str(uuid.uuid4())
        return self.services.users.provision(
            SignInIdentity(
                tenant_id=ENTRA_TENANT_ID,
                object_id=oid,
                email=email or f"{oid[:8]}@{slug}.example",
                name=f"User {oid[:8]}",
                group_ids=group_ids,
            ),
            tenant=slug,
            customer_id=CUSTOMER,
            entitlements=Entitlements(profiles=profiles, roles=roles),
            now=dt.datetime.now(dt.UTC),
        )

    def admin_token(self, slug: str = ADMIN_TENANT, *, user: User | None = None) -> str:
        """A tenant admin's session access token, issued as sign-in issues them."""
        admin = user or self.add_user(slug, roles=(ROLE_TENANT_ADMIN,))
        return self.services.sessions.start_session(admin, entra_session_id=None).access_token

    def audit_actions(self, slug: str = ADMIN_TENANT) -> list[str]:
        events, _ = self.services.audit.list(slug, limit=1000, cursor=None)
        return [str(e["action"]) for e in events]


@pytest.fixture
def admin_system(
    app_host: FuncHost,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    request: pytest.FixtureRequest,
) -> Iterator[AdminSystem]:
    # Imported here: fixture modules are plugins, loaded in name order.
    from tests.support.system import installed_services, make_settings

    settings = make_settings(azurite, fake_keyvault, PLATFORM_ADMIN_KEY=PLATFORM_KEY)
    with installed_services(settings, azurite, request) as services, requests.Session() as http:
        yield AdminSystem(app_host, services, http)
