"""Input that used to crash a handler (500) is a clean 400 naming the problem, and
changes nothing: huge integers, deep nesting, NaN, a lone surrogate in a state, an
oversized `limit`, a deeply nested cursor. Sent as an anonymous client (or an
operator for the admin routes) would, rows read back afterwards.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from shared.store.rows import cursor_scope
from shared.store.tenant_partition import TABLE
from tests.support.signin import TENANT, SignInSystem
from tests.support.snapshots import partition_snapshot

PLATFORM = {"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"}
HUGE = "1" * 4301
DEEP = "[" * 1000 + "]" * 1000
USER_ID = "00000000-0000-4000-8000-000000000000"


def routes(system: SignInSystem) -> list[tuple[str, str, dict[str, str]]]:
    auth, admin = f"/api/auth/{TENANT}", f"/api/admin/tenants/{TENANT}"
    return [
        ("POST", f"{auth}/callback", {}),
        ("POST", f"{auth}/token", {}),
        ("POST", f"{auth}/logout", {}),
        ("PUT", admin, PLATFORM),
        ("PUT", f"{admin}/oauth2", PLATFORM),
        ("PUT", f"{admin}/oauth2/client-secret", PLATFORM),
        ("PATCH", f"{admin}/users/{USER_ID}", PLATFORM),
    ]


def stored(system: SignInSystem) -> Any:
    return (
        partition_snapshot(system.services.tables, TENANT),
        system.services.configs.get_tenant(TENANT),
    )


@pytest.mark.parametrize(
    "body",
    [
        f'{{"code": "x", "state": "y", "grant_type": "refresh_token", "n": {HUGE}}}',
        f'{{"value": {HUGE}}}',
        f'{{"a": {DEEP}}}',
        DEEP,
        '{"a": NaN}',
        '{"a": 1e999}',
        f'{{"a": {HUGE}.5}}',
    ],
    ids=["huge-int-among-fields", "huge-int", "deep-in-object", "deep", "nan", "inf", "huge-float"],
)
def test_a_json_body_we_do_not_accept_is_a_400_on_every_route(
    signin_system: SignInSystem, body: str
) -> None:
    system = signin_system
    before = stored(system)
    for method, path, headers in routes(system):
        answer = system.http.request(
            method,
            system.url(path),
            data=body,
            headers={"Content-Type": "application/json", "If-Match": "*", **headers},
        )
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        assert answer.json()["error"] == "invalid_request", path
        assert "body" in answer.json().get("fields", {}), path
    assert stored(system) == before


def test_a_body_over_64_kib_is_a_413_on_every_route(signin_system: SignInSystem) -> None:
    system = signin_system
    before = stored(system)
    body = json.dumps({"code": "x", "state": "y", "pad": "x" * (65 * 1024)})
    for method, path, headers in routes(system):
        answer = system.http.request(
            method,
            system.url(path),
            data=body,
            headers={"Content-Type": "application/json", "If-Match": "*", **headers},
        )
        assert answer.status_code == 413, (path, answer.status_code, answer.text)
        assert answer.json()["error"] == "payload_too_large", path
    assert stored(system) == before


@pytest.mark.parametrize("state", ["\ud800", "\udfff tail", "a\ud83d"])
def test_a_lone_surrogate_in_an_spa_state_is_invalid_state(
    signin_system: SignInSystem, state: str
) -> None:
    system = signin_system
    before = stored(system)
    answer = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"), json={"code": "x", "state": state}
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_state"
    browser = system.http.get(
        system.url(f"/api/auth/{TENANT}/callback"),
        params={"code": "x", "state": state.encode("utf-8", "surrogatepass").decode("latin-1")},
        allow_redirects=False,
    )
    assert browser.status_code == 302 and "sso_error=invalid_state" in browser.headers["Location"]
    assert stored(system) == before


def cursor_of(what: str, token: str) -> str:
    """A cursor as this API makes them for `what`'s list, around a made-up token."""
    scope = cursor_scope(TABLE, TENANT, {"users": "user:", "audit": "audit:"}[what])
    raw = '{"s": "' + scope + '", ' + token + "}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def admin_list(system: SignInSystem, what: str, **params: str) -> requests.Response:
    return system.http.get(
        system.url(f"/api/admin/tenants/{TENANT}/{what}"), params=params, headers=PLATFORM
    )


@pytest.mark.parametrize("what", ["users", "audit"])
def test_a_cursor_made_like_the_api_makes_them_is_accepted(
    signin_system: SignInSystem, what: str
) -> None:
    # The control for the surrogate cases below: their cursors fail on the surrogate.
    cursor = cursor_of(what, f'"pk": "{TENANT}", "rk": null')
    answer = admin_list(signin_system, what, cursor=cursor)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("what", ["users", "audit"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "9" * 4301),
        ("limit", "0" * 5000 + "1"),
        ("cursor", base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")),
        ("cursor", base64.urlsafe_b64encode(b'{"pk": ' + HUGE.encode() + b"}").decode()),
        ("cursor", '"pk": "\\ud800", "rk": null'),
        ("cursor", '"pk": "contoso", "rk": "user:\\udfff"'),
        ("cursor", "x" * 5000),
    ],
    ids=[
        "limit-huge",
        "limit-zeros",
        "cursor-deep",
        "cursor-huge-int",
        "cursor-surrogate-pk",
        "cursor-surrogate-rk",
        "long",
    ],
)
def test_paging_parameters_that_crashed_are_a_400_naming_them(
    signin_system: SignInSystem, what: str, name: str, value: str
) -> None:
    if value.startswith('"pk"'):  # a token inside a cursor of the right list
        value = cursor_of(what, value)
    answer = admin_list(signin_system, what, **{name: value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert list(answer.json()["fields"]) == [name]
