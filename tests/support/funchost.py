"""Fixtures that serve a FunctionApp through the local Functions host over real HTTP."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from devtools.funchost import FuncHost, load_app
from devtools.localca import PROJECT_ROOT

SAMPLE_APP = "tests.integration.funchost_sample_app:app"


@pytest.fixture(scope="module")
def sample_host() -> Iterator[FuncHost]:
    """tests/integration/funchost_sample_app.py served on a free port (plain HTTP)."""
    with FuncHost(load_app(SAMPLE_APP), prefix="api") as host:
        yield host


# --- the host as its own process (`python -m devtools.funchost`) -------------------------

APP_SETTINGS = (
    "PUBLIC_BASE_URL",
    "KEY_VAULT_URI",
    "TABLES_ENDPOINT",
    "TABLES_CONNECTION_STRING",
    "AZURE_CREDENTIAL_MODE",
    "PLATFORM_ADMIN_KEY",
)


@contextmanager
def command_line(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """`python -m devtools.funchost --port 0 ARGS` from the project root; yields the URL
    it prints and what it printed at start-up."""
    environment = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    environment.update(env or {})
    command = [sys.executable, "-m", "devtools.funchost", "--port", "0", *args]
    with subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            yield printed_url(process)
        finally:
            process.terminate()
            process.communicate(timeout=10)


def printed_url(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    # Raw reads: select() cannot see what a buffered reader has already pulled in.
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    printed = b""
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while time.monotonic() < deadline and b"listening on " not in printed:
            if selector.select(timeout=deadline - time.monotonic()):
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    break
                printed += chunk
        # The route list follows the URL.
        while selector.select(timeout=0.5) and (chunk := os.read(descriptor, 65536)):
            printed += chunk
    text = printed.decode()
    found = re.search(r"listening on (\S+)", text)
    if found is None:
        raise AssertionError(f"the host printed no URL; it printed:\n{text}")
    return found.group(1), text
