"""Every route fuzzed from docs/openapi.yaml with schemathesis, against the local host
on Azurite and the stand-ins: no answer is a 5xx, and every answer's status code,
content type, headers and body are the ones the document describes.

Deterministic (derandomized Hypothesis) and bounded: EXAMPLES cases per operation.
Requests name the configured tenant `contoso` (a random slug would only ever meet
404) and carry the platform key and a signed-in user's bearer token, so the
handlers behind authentication are reached too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.localca import PROJECT_ROOT
from tests.support.signin import TENANT, SignInSystem, set_cookies

EXAMPLES = 50
SCHEMA = schemathesis.openapi.from_path(PROJECT_ROOT / "docs" / "openapi.yaml")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Fuzzed:
    base_url: str
    headers: dict[str, str]
    http: requests.Session


@pytest.fixture
def fuzzed(signin_system: SignInSystem) -> Iterator[Fuzzed]:
    session = set_cookies(signin_system.browser_sign_in("several_groups"))["__Host-eb_session"]
    headers = {
        "X-Platform-Admin-Key": "test-platform-admin-key-0123456789",
        "Authorization": f"Bearer {session}",
    }
    yield Fuzzed(signin_system.host.url, headers, signin_system.http)


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case: schemathesis.Case[Any], fuzzed: Fuzzed) -> None:
    if "tenant" in (case.path_parameters or {}):
        case.path_parameters = {**(case.path_parameters or {}), "tenant": TENANT}
    headers = {**fuzzed.headers, **dict(case.headers or {})}
    case.call_and_validate(
        base_url=fuzzed.base_url,
        session=fuzzed.http,
        headers=headers,
        checks=CHECKS,
        allow_redirects=False,
    )
