"""A tenant wired end to end: the app served by the local host, talking to Azurite,
the Key Vault stand-in and the Entra stand-in, with tenant `contoso` configured."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from shared.container import Services
from shared.store.secrets import client_secret_name
from shared.tenants.model import OAuth2Config, ProfileMapping

if TYPE_CHECKING:
    from tests.support.entra import EntraTestDirectory

TENANT = "contoso"
CUSTOMER_ID = "46478538-4689-45b5-994c-d12a49c354b0"
PROFILE_ENGINEERS = "e0000000-0000-4000-8000-000000000001"
PROFILE_SUPPORT = "e0000000-0000-4000-8000-000000000002"
PROFILE_BULK = "e0000000-0000-4000-8000-000000000003"


@dataclass
class SignInSystem:
    host: FuncHost
    services: Services
    entra: FakeEntra
    directory: EntraTestDirectory
    http: requests.Session

    def url(self, path: str) -> str:
        return f"{self.host.url}{path}"

    def to_entra_and_back(
        self,
        user_key: str,
        *,
        return_to: str | None = None,
        browser_cookie: str = "__Host-eb_browser",
    ) -> tuple[str, str]:
        """authorize -> Entra (login_hint) -> the redirect back: (binding cookie, callback
        path and query), the callback not yet called."""
        params = {"login_hint": self.directory.users[user_key].upn}
        if return_to is not None:
            params["return_to"] = return_to
        started = self.http.get(
            self.url(f"/api/auth/{TENANT}/authorize"), params=params, allow_redirects=False
        )
        assert started.status_code == 302, started.text
        binding = set_cookies(started)[browser_cookie]
        at_entra = self.http.get(started.headers["Location"], allow_redirects=False)
        assert at_entra.status_code == 302, at_entra.text
        back = urlsplit(at_entra.headers["Location"])
        return binding, f"{back.path}?{back.query}"

    def callback(self, path_and_query: str, *, cookie: str) -> requests.Response:
        return self.http.get(
            self.url(path_and_query), headers={"Cookie": cookie}, allow_redirects=False
        )

    def browser_sign_in(self, user_key: str, *, return_to: str = "/app") -> requests.Response:
        """A whole browser sign-in; the callback's answer."""
        binding, back = self.to_entra_and_back(user_key, return_to=return_to)
        return self.callback(back, cookie=f"__Host-eb_browser={binding}")


def set_cookies(response: requests.Response) -> dict[str, str]:
    """Name -> value of every Set-Cookie (read raw: these cookies are Secure)."""
    found: dict[str, str] = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        match = re.match(r"\s*([^=;]+)=([^;]*)", header)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def seed_contoso(services: Services, directory: EntraTestDirectory) -> None:
    """Tenant `contoso`, SSO on against the test directory: its client secret in Key
    Vault, Engineering/Support/a bulk group mapped, the admins group."""
    services.secrets.set_secret(client_secret_name(TENANT), directory.client_secret)
    services.configs.put_tenant(
        TENANT,
        "Contoso",
        OAuth2Config(
            enabled=True,
            client_id=directory.client_id,
            tenant_id=directory.tenant_id,
            customer_id=CUSTOMER_ID,
            client_secret_set=True,
            profile_mappings=(
                ProfileMapping(PROFILE_ENGINEERS, directory.engineering),
                ProfileMapping(PROFILE_SUPPORT, directory.support),
                ProfileMapping(PROFILE_BULK, directory.bulk_groups[-1]),
            ),
            admin_group_ids=(directory.admins,),
        ),
    )


@pytest.fixture
def signin_system(
    app_host: FuncHost,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    request: pytest.FixtureRequest,
) -> Iterator[SignInSystem]:
    # Imported here: fixture modules are plugins, loaded in name order.
    from tests.support.system import installed_services, make_settings

    settings = make_settings(
        azurite,
        fake_keyvault,
        ENTRA_AUTHORITY_HOST=fake_entra.base_url,
        GRAPH_BASE_URL=fake_entra.graph_base_url,
    )
    with installed_services(settings, azurite, request) as services:
        seed_contoso(services, entra_directory)
        with requests.Session() as http:
            yield SignInSystem(app_host, services, fake_entra, entra_directory, http)
