"""Real browsers for the pages: Playwright driving Debian's Chromium (`make setup`
installs it; Playwright's own browser download is never used), with the app served
over HTTPS at its PUBLIC_BASE_URL so redirects, Secure cookies and CSP behave as
deployed.

Fixtures:
- `chromium`: one headless Chromium per test session.
- `browser_system`: function_app on its own HTTPS port (the local CA), tenant
  `contoso` seeded as for `signin_system`, the Entra stand-in knowing this
  host's redirect URI; `page` opens a fresh browser context (no cookies).
Screenshots go to `test-artifacts/screenshots/` (`shoot`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from devtools.azurite import Azurite
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost, load_app
from devtools.localca import PROJECT_ROOT, server_ssl_context
from shared.container import Services

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    """Debian's Chromium (CHROMIUM_PATH overrides); a clear failure, never a skip."""
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is not installed: run `make setup` (apt package `chromium`).")
    return found


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI and these machines run as root, where Chromium's sandbox
        # cannot start.
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class BrowserSystem:
    host: FuncHost
    services: Services
    entra: FakeEntra
    context: BrowserContext
    page: Page

    def url(self, path: str) -> str:
        return f"{self.host.url}{path}"

    def shoot(self, name: str) -> Path:
        """A full-page screenshot kept as a test artefact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def cookie(self, name: str) -> str | None:
        found = [c for c in self.context.cookies() if c.get("name") == name]
        return str(found[0].get("value")) if found else None


@contextmanager
def contoso_served(
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    fake_entra: FakeEntra,
    entra_directory: Any,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[FuncHost, Services]]:
    """The app served over HTTPS by the local host (which writes `domain=` on every
    cookie, as Azure does), its redirect URI known to the Entra stand-in, and tenant
    `contoso` seeded on this test's own tables: what every browser test starts from."""
    from tests.support.documented_answers import answers_documented
    from tests.support.signin import TENANT, seed_contoso
    from tests.support.system import installed_services, make_settings

    host = FuncHost(load_app("function_app:app"), ssl_context=server_ssl_context()).start()
    fake_entra.add_redirect_uri(
        entra_directory.tenant_id,
        entra_directory.client_id,
        f"{host.url}/api/auth/{TENANT}/callback",
    )
    settings = make_settings(
        azurite,
        fake_keyvault,
        PUBLIC_BASE_URL=host.url,
        ENTRA_AUTHORITY_HOST=fake_entra.base_url,
        GRAPH_BASE_URL=fake_entra.graph_base_url,
    )
    try:
        with installed_services(settings, azurite, request) as services, answers_documented(host):
            seed_contoso(services, entra_directory)
            yield host, services
    finally:
        host.stop()


@pytest.fixture
def browser_system(
    chromium: Browser,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    fake_entra: FakeEntra,
    entra_directory: Any,
    request: pytest.FixtureRequest,
) -> Iterator[BrowserSystem]:
    with contoso_served(azurite, fake_keyvault, fake_entra, entra_directory, request) as (
        host,
        services,
    ):
        # The local CA is not in the browser's trust store: accept it here only.
        context = chromium.new_context(ignore_https_errors=True)
        try:
            yield BrowserSystem(host, services, fake_entra, context, context.new_page())
        finally:
            context.close()
