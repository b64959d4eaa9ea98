"""Sign-in starts are bounded per client IP and tenant (60 a minute), as an anonymous
client sees it over HTTP: the 61st is a 429 with Retry-After and writes nothing;
another client or tenant is unaffected; a person's browser lands on the login page
saying so; instances share the count through Table Storage; unknown and SSO-off
tenants write nothing at all. The client IP is the one Azure's front end appends
to X-Forwarded-For (the last entry), which the tests send as it would.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.container import Services
from shared.errors import TooManyAttempts
from shared.signin.throttle import Throttle
from shared.store.throttle import ThrottleCounts
from shared.tenants.model import OAuth2Config
from tests.support.signin import TENANT, SignInSystem
from tests.support.snapshots import partition_snapshot

ME = "203.0.113.7"
NOW = 1_800_000_030.0  # half a minute into a window, for every test here


@pytest.fixture(autouse=True)
def fixed_minute(signin_system: SignInSystem) -> None:
    """The throttle's windows are wall-clock minutes: a test must not straddle two."""
    services = signin_system.services
    services.override("throttle", Throttle(ThrottleCounts(services.tables), clock=lambda: NOW))
    services.rebuild("signin")


def authorize(
    system: SignInSystem, ip: str, *, tenant: str = TENANT, browser: bool = False
) -> requests.Response:
    headers = {"X-Forwarded-For": f"10.9.8.7, {ip}"}  # a client-chosen entry, then Azure's
    if browser:
        headers |= {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}
    return system.http.get(
        system.url(f"/api/auth/{tenant}/authorize"),
        params={} if browser else {"mode": "json"},
        headers=headers,
        allow_redirects=False,
    )


def flows(system: SignInSystem, tenant: str = TENANT) -> int:
    return len(list(system.services.tables.scan_partition("authflows", partition_key=tenant)))


def throttle_rows(system: SignInSystem, tenant: str = TENANT) -> list[dict[str, object]]:
    rows = system.services.tables.scan_partition(
        "users", partition_key=tenant, row_key_prefix="throttle:"
    )
    return [row.data for row in rows]


def test_the_61st_start_in_a_minute_is_a_429_that_writes_nothing(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    for _ in range(60):
        assert authorize(system, ME).status_code == 200
    assert flows(system) == 60
    refused = authorize(system, ME)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == "30"
    assert flows(system) == 60  # the refused start wrote no auth transaction
    assert authorize(system, "198.51.100.23").status_code == 200  # another client
    # The shared count names a hash of the client, never its address.
    rows = throttle_rows(system)
    assert sum(int(str(row["count"])) for row in rows) == 60
    assert not any(ME in str(value) for row in rows for value in row.values())


def test_a_throttled_person_lands_on_the_login_page_saying_when(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    statuses = {authorize(system, ME).status_code for _ in range(60)}
    assert statuses == {200}
    answer = authorize(system, ME, browser=True)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["sso_error"] == ["too_many_attempts"]
    page = system.http.get(system.url(urlsplit(answer.headers["Location"]).path), params=query)
    assert "Too many sign-in attempts" in page.text and "Try again in" in page.text


def test_another_instance_shares_the_count(signin_system: SignInSystem) -> None:
    system = signin_system
    for _ in range(60):
        assert authorize(system, ME).status_code == 200
    # Another instance: its own memory, the same tables.
    other = Throttle(ThrottleCounts(system.services.tables), clock=lambda: NOW)
    passed = 0
    for _ in range(30):
        try:
            other.admit(TENANT, ME)
            passed += 1
        except TooManyAttempts:
            continue
    assert passed == 10  # it learns the shared 60 at its first write (every 10 starts)


def test_unknown_and_sso_off_tenants_write_nothing(signin_system: SignInSystem) -> None:
    system = signin_system
    services: Services = system.services
    services.configs.put_tenant("dormant", "Dormant", OAuth2Config(enabled=False))
    for tenant, status in (("nosuch", 404), ("dormant", 403)):
        for _ in range(70):
            assert authorize(system, ME, tenant=tenant).status_code == status
        assert flows(system, tenant) == 0
        assert throttle_rows(system, tenant) == []
        assert partition_snapshot(services.tables, tenant) == {}
