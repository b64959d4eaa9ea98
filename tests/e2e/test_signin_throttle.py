"""Sign-in starts are bounded per client IP and tenant (60 a minute), as an anonymous
client sees it over HTTP: the 61st is a 429 with Retry-After and writes nothing;
another client or tenant is unaffected; a person's browser lands on the login page
saying so; instances share the count through Table Storage; unknown and SSO-off
tenants write nothing at all. The client IP is the one Azure's front end appends
to X-Forwarded-For (the last entry), which the tests send as it would.
"""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.azurite import Azurite, connection_string
from shared.container import Services
from shared.errors import TooManyAttempts
from shared.signin.throttle import Throttle
from shared.store.tables import TableStore
from shared.store.throttle import ThrottleCounts
from shared.tenants.model import OAuth2Config
from tests.support.signin import TENANT, SignInSystem
from tests.support.snapshots import partition_snapshot
from tests.support.system import tables_prefix_of

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


def written(system: SignInSystem, tenant: str = TENANT) -> int:
    """Rows of the tenant's partition but the throttle's counts: a sign-in start writes
    none (its transaction travels sealed in its state), admitted or refused."""
    rows = system.services.tables.scan_partition("users", partition_key=tenant)
    return sum(1 for row in rows if not row.row_key.startswith("throttle:"))


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
    assert written(system) == 0
    refused = authorize(system, ME)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == "30"
    assert written(system) == 0
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
    assert query["sso_retry_after"] == ["30"]  # the end of this minute's window
    page = system.http.get(system.url(urlsplit(answer.headers["Location"]).path), params=query)
    assert "Too many sign-in attempts" in page.text and "Try again in" in page.text


def test_another_instance_shares_the_count(
    signin_system: SignInSystem, azurite: Azurite, request: pytest.FixtureRequest
) -> None:
    system = signin_system
    for _ in range(60):
        assert authorize(system, ME).status_code == 200
    # Another instance: its own Services (its own memory), the same tables.
    other = Services(system.services.settings)
    other.override(
        "tables",
        TableStore.from_connection_string(
            azurite.connection_string, prefix=tables_prefix_of(request)
        ),
    )
    other.override("throttle", Throttle(ThrottleCounts(other.tables), clock=lambda: NOW))
    passed = 0
    try:
        for _ in range(30):
            try:
                other.signin.start(TENANT, mode="json", return_to=None, browser_binding=None, ip=ME)
                passed += 1
            except TooManyAttempts:
                continue
    finally:
        other.tables.close()
    assert passed == 10  # it learns the shared 60 at its first write (every 10 starts)
    assert written(system) == 0
    assert authorize(system, ME).status_code == 429  # and the first saw its 10


def test_after_the_minute_the_client_may_start_again(signin_system: SignInSystem) -> None:
    system = signin_system
    services = system.services
    now = [NOW]
    services.override("throttle", Throttle(ThrottleCounts(services.tables), clock=lambda: now[0]))
    services.rebuild("signin")
    for _ in range(60):
        assert authorize(system, ME).status_code == 200
    assert authorize(system, ME).status_code == 429
    now[0] += 29  # one second before the Retry-After ends
    refused = authorize(system, ME)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    now[0] += 1
    assert authorize(system, ME).status_code == 200
    assert written(system) == 0


def test_a_failing_shared_count_neither_locks_out_nor_lets_everyone_through(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    services = system.services
    # Table Storage that refuses every connection (a port nobody listens on): the real
    # failure, not a stand-in. Each instance then keeps its own count.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    broken = TableStore.from_connection_string(connection_string(closed_port))
    services.override("throttle", Throttle(ThrottleCounts(broken), clock=lambda: NOW))
    services.rebuild("signin")
    try:
        for _ in range(60):
            assert authorize(system, ME).status_code == 200
        refused = authorize(system, ME)
        assert refused.status_code == 429 and refused.json()["error"] == "too_many_attempts"
        assert authorize(system, "198.51.100.23").status_code == 200  # nobody else refused
    finally:
        broken.close()
    assert written(system) == 0
    assert throttle_rows(system) == []


def test_unknown_and_sso_off_tenants_write_nothing(signin_system: SignInSystem) -> None:
    system = signin_system
    services: Services = system.services
    services.configs.put_tenant("dormant", "Dormant", OAuth2Config(enabled=False))
    for tenant, status in (("nosuch", 404), ("dormant", 403)):
        for _ in range(70):
            assert authorize(system, ME, tenant=tenant).status_code == status
        assert written(system, tenant) == 0
        assert throttle_rows(system, tenant) == []
        assert partition_snapshot(services.tables, tenant) == {}
