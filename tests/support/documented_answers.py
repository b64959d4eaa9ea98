"""Every answer the app gives in a test is one docs/openapi.yaml documents.

Each test served by the in-process host (`app_host`, and the browser suite's own
hosts) records the status every function answered, by route and method; after
the test, a status that the spec does not list for that operation fails it,
naming the operation. The fuzz suite checks the same for what it can reach
anonymously; this covers the signed-in, admin, SCIM and page answers the e2e and
browser tests reach."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
import yaml

from devtools.funchost import FuncHost, Route
from devtools.localca import PROJECT_ROOT

SPEC_PATH = PROJECT_ROOT / "docs" / "openapi.yaml"


@cache
def _documented() -> dict[tuple[str, str], frozenset[str]]:
    """(METHOD, path) -> the response keys the spec lists ('200', '4XX', 'default')."""
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return {
        (method.upper(), path): frozenset(str(status) for status in operation["responses"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }


def spec_path(route: Route) -> str:
    """`{id:guid}`, `{*rest}` and `{x?}` alike, as the spec writes them: `{id}`, `{rest}`."""
    return re.sub(r"\{\**([^}:=?]+)[^}]*\}", r"{\1}", "/" + route.template.text.strip("/"))


def is_documented(route: Route, method: str, status: int) -> bool:
    listed = _documented().get((method, spec_path(route)))
    if listed is None:
        return False
    return bool({str(status), f"{str(status)[0]}XX", "default"} & listed)


@contextmanager
def answers_documented(host: FuncHost) -> Iterator[None]:
    """While inside, every answer `host`'s functions give must be in the spec; on
    leaving, an AssertionError names those that are not."""
    seen: set[tuple[str, str, int]] = set()
    lock = threading.Lock()

    def record(route: Route, method: str, status: int) -> None:
        if not is_documented(route, method, status):
            with lock:
                seen.add((method, spec_path(route), status))

    host.app.on_answer = record
    try:
        yield
    finally:
        host.app.on_answer = None
    assert not seen, f"answers docs/openapi.yaml does not list: {sorted(seen)}"


@pytest.fixture(autouse=True)
def answers_are_documented(request: pytest.FixtureRequest) -> Iterator[None]:
    # The browser suite's hosts check themselves (tests/support/browser.py).
    if "app_host" not in request.fixturenames:
        yield
        return
    with answers_documented(request.getfixturevalue("app_host")):
        yield
