"""Every route fuzzed from docs/openapi.yaml with schemathesis, against the local host
on Azurite and the stand-ins: no answer is a 5xx, and every answer's status code,
content type, headers and body are the ones the document describes.

Deterministic (derandomized Hypothesis: the seed is derived from the test's name, no
example database) and bounded: EXAMPLES cases per operation. Requests name the
configured tenant `contoso` (a random slug would only ever meet 404) and, in turn
(chosen from the case itself, so a shrinking failure keeps its caller), carry either
the platform key with a signed-in tenant admin's bearer token or that token alone, so
the handlers behind both kinds of admin authentication are reached (SCIM routes carry
the tenant's SCIM token, as Entra does); a `user_id` is,
in turn, that user's real id (a random one would only ever meet 404).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.localca import PROJECT_ROOT
from tests.support.signin import TENANT, SignInSystem, set_cookies

EXAMPLES = 200  # ~6,400 requests, ~1 minute on one core
PLATFORM_KEY = "test-platform-admin-key-0123456789"
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
    token: str
    user_id: str
    http: requests.Session
    scim_token: str


@pytest.fixture
def fuzzed(signin_system: SignInSystem) -> Iterator[Fuzzed]:
    # Sam is in contoso's admins group: a tenant admin.
    token = set_cookies(signin_system.browser_sign_in("several_groups"))["__Host-eb_session"]
    me = signin_system.http.get(
        f"{signin_system.host.url}/api/auth/{TENANT}/me",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert me.status_code == 200, me.text
    # One-click onboarding set up as an operator would (else its routes only answer
    # 503 onboarding_not_configured, a server error to the fuzzer).
    from tests.support.entra import ENTRA_TEST_DIRECTORY as directory

    signin_system.services.settings = dataclasses.replace(
        signin_system.services.settings, onboarding_client_id=directory.onboarding_client_id
    )
    made = signin_system.http.post(
        f"{signin_system.host.url}/api/admin/tenants/{TENANT}/scim-token",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert made.status_code == 201, made.text
    yield Fuzzed(
        signin_system.host.url, token, me.json()["id"], signin_system.http, made.json()["token"]
    )


def _turn(case: schemathesis.Case[Any]) -> int:
    """0 or 1, the same for the same case (stable while Hypothesis shrinks it)."""
    # Not the body's repr as is: an absent body is a sentinel whose repr holds an address.
    body = None if isinstance(case.body, NotSet) else case.body
    drawn = repr((case.path_parameters, case.query, body, case.headers))
    return zlib.crc32(drawn.encode("utf-8", "surrogatepass")) % 2


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case: schemathesis.Case[Any], fuzzed: Fuzzed) -> None:
    turn = _turn(case)
    path = dict(case.path_parameters or {})
    if "tenant" in path:
        path["tenant"] = TENANT
    if "user_id" in path and turn:
        path["user_id"] = fuzzed.user_id
    case.path_parameters = path
    caller = {"Authorization": f"Bearer {fuzzed.token}"}
    if case.path.startswith("/api/scim/"):
        caller = {"Authorization": f"Bearer {fuzzed.scim_token}"}  # what Entra sends
    elif not turn:
        caller["X-Platform-Admin-Key"] = PLATFORM_KEY
    headers = {**caller, **dict(case.headers or {})}
    case.call_and_validate(
        base_url=fuzzed.base_url,
        session=fuzzed.http,
        headers=headers,
        checks=CHECKS,
        allow_redirects=False,
    )
