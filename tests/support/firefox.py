"""A second engine for the pages: Firefox ESR from Debian's package (`make setup`
installs it), driven over WebDriver BiDi by puppeteer-core (`npm ci` installs it;
nothing is downloaded, no geckodriver) through the Node script
`tests/browser/firefox/driver.mjs`, one JSON command a line.

Fixtures:
- `firefox`: one headless Firefox per test session (`Firefox`).
- `firefox_system`: function_app on its own HTTPS port, served by the local Functions
  host (which writes `domain=` on every cookie as Azure does), tenant `contoso`
  seeded as for `browser_system`, and a fresh Firefox context (no cookies).
Screenshots go to `test-artifacts/screenshots/` with a `firefox-` prefix.

A missing Firefox, Node or puppeteer-core fails the test with what to run; never a skip.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from devtools.azurite import Azurite
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from devtools.localca import PROJECT_ROOT
from shared.container import Services
from tests.support.browser import contoso_served

DRIVER = PROJECT_ROOT / "tests" / "browser" / "firefox" / "driver.mjs"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
START_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 30.0  # the driver gives up on a step after 10 s and says why

# A target: {"role": "button", "name": "Log out"} (exact accessible name), {"label": "Email"},
# {"css": "p.error"}, or {"css": "button", "text": "Sam"} (the first whose text has that).
Target = dict[str, str]


def role(kind: str, name: str) -> Target:
    return {"role": kind, "name": name}


def label(text: str) -> Target:
    return {"label": text}


def css(selector: str, *, text: str | None = None) -> Target:
    return {"css": selector} if text is None else {"css": selector, "text": text}


def firefox_path() -> str:
    """Debian's Firefox ESR (FIREFOX_PATH overrides); a clear failure, never a skip."""
    found = os.environ.get("FIREFOX_PATH") or shutil.which("firefox-esr") or shutil.which("firefox")
    if not found:
        pytest.fail("Firefox is not installed: run `make setup` (apt package `firefox-esr`).")
    return found


def node_path() -> str:
    found = shutil.which("node")
    if not found:
        pytest.fail("Node.js is not installed: it runs the Firefox driver (see `make setup`).")
    if not (PROJECT_ROOT / "node_modules" / "puppeteer-core").is_dir():
        pytest.fail("puppeteer-core is not installed: run `make setup` (it runs `npm ci`).")
    return found


class FirefoxError(AssertionError):
    """A step Firefox could not do (the driver's message, then Firefox's last output)."""


class Firefox:
    """One headless Firefox behind the Node driver; `call` sends one command."""

    def __init__(self, executable: str) -> None:
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._process = subprocess.Popen(
            [node_path(), str(DRIVER), executable],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            encoding="utf-8",
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="firefox driver", daemon=True)
        self._reader.start()
        ready = self._next(START_TIMEOUT_S, "start")
        self.version = str(ready["ready"])

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise FirefoxError(
                f"Firefox did not answer {what} in {timeout:.0f} s" + self._tail()
            ) from None
        if line is None:
            raise FirefoxError(f"the Firefox driver exited during {what}" + self._tail())
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _tail(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return "\n--- driver and Firefox output ---\n" + text[-4000:] if text else ""

    def call(self, op: str, **arguments: Any) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self._process.stdin.flush()
        answer = self._next(STEP_TIMEOUT_S, op)
        if not answer["ok"]:
            raise FirefoxError(f"{op} {arguments}: {answer['error']}")
        return answer["value"]

    def close(self) -> None:
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()  # the driver then closes Firefox
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        finally:
            self._reader.join(timeout=5)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._log.close()


@dataclass
class FirefoxPage:
    """The page of one fresh Firefox context, with the calls a test makes."""

    browser: Firefox

    def goto(self, url: str) -> int | None:
        """Open a URL; the final answer's status (redirects followed)."""
        status: int | None = self.browser.call("goto", url=url)["status"]
        return status

    def reload(self) -> None:
        self.browser.call("reload")

    def click(self, target: Target) -> None:
        self.browser.call("click", target=target, navigates=False)

    def click_and_wait(self, target: Target) -> int | None:
        """Click and wait for the page it leads to; that page's status."""
        status: int | None = self.browser.call("click", target=target, navigates=True)["status"]
        return status

    def fill(self, target: Target, value: str) -> None:
        self.browser.call("fill", target=target, value=value)

    def is_visible(self, target: Target) -> bool:
        return bool(self.browser.call("visible", target=target))

    def text(self, target: Target) -> str | None:
        found = self.browser.call("text", target=target)
        return None if found is None else str(found)

    @property
    def url(self) -> str:
        return str(self.browser.call("url"))

    def cookies(self) -> list[dict[str, Any]]:
        cookies: list[dict[str, Any]] = self.browser.call("cookies")
        return cookies

    def cookie(self, name: str) -> dict[str, Any] | None:
        found = [c for c in self.cookies() if c["name"] == name]
        return found[0] if found else None

    def shoot(self, name: str) -> Path:
        """A full-page screenshot kept as a test artefact, named `firefox-<name>.png`."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"firefox-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
        self.browser.call("screenshot", path=str(path))
        return path


def new_page(browser: Firefox) -> FirefoxPage:
    """A fresh browser context (no cookies) and its page; the previous one closes."""
    browser.call("newContext")
    return FirefoxPage(browser)


@pytest.fixture(scope="session")
def firefox() -> Iterator[Firefox]:
    browser = Firefox(firefox_path())
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class FirefoxSystem:
    host: FuncHost
    services: Services
    entra: FakeEntra
    page: FirefoxPage

    def url(self, path: str) -> str:
        return f"{self.host.url}{path}"


@pytest.fixture
def firefox_system(
    firefox: Firefox,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    fake_entra: FakeEntra,
    entra_directory: Any,
    request: pytest.FixtureRequest,
) -> Iterator[FirefoxSystem]:
    with contoso_served(azurite, fake_keyvault, fake_entra, entra_directory, request) as (
        host,
        services,
    ):
        yield FirefoxSystem(host, services, fake_entra, new_page(firefox))
