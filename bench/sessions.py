"""What ending sessions at once costs: the revocation check on every request; and
what a refresh spends, step by step.

An access token is accepted only while its session's family row is there and not
revoked: one Table point read (and, for a Microsoft session, the tenant's config
through the per-instance cache). Measured with the host in this process against
Azurite: per `/me` and per admin request (GET users), the check's wall time and
CPU next to the whole request's, both from the same run. A rotating refresh
(`POST /token`) is timed the same way, each of its steps next to the whole request.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from bench.scale import times
from bench.signin import CUSTOMER, TENANT, Stack, in_process_host

REQUESTS = times(200)
PLATFORM_KEY = "bench-platform-admin-key-0123456789"


class Timer:
    """Wraps a callable: wall and process CPU seconds spent inside it."""

    def __init__(self, target: Callable[..., Any]) -> None:
        self.target = target
        self.wall = 0.0
        self.cpu = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return self.target(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def reset(self) -> None:
        self.wall = self.cpu = 0.0


def _admin_tokens(services: Any, directory: str) -> tuple[str, str]:
    """(access token, refresh token) of a new session for a new tenant admin of the
    tenant's Entra `directory` (a session from another directory ends at once)."""
    from shared.signin.provisioning import SignInIdentity
    from shared.users import ROLE_TENANT_ADMIN, Entitlements

    oid = str(uuid.uuid4())
    admin = services.users.provision(
        SignInIdentity(
            tenant_id=directory,
            object_id=oid,
            email=f"{oid[:8]}@bench.example",
            name="Bench admin",
            group_ids=(),
        ),
        tenant=TENANT,
        customer_id=CUSTOMER,
        entitlements=Entitlements(profiles=(), roles=(ROLE_TENANT_ADMIN,)),
        now=dt.datetime.now(dt.UTC),
    )
    tokens = services.sessions.start_session(admin)
    return tokens.access_token, tokens.refresh_token


def _measure(
    http: requests.Session, url: str, headers: dict[str, str], check: Timer
) -> tuple[float, float, float, float]:
    """(request wall ms p50, request CPU ms mean, check wall ms mean, check CPU ms mean);
    the in-process host and client share the CPU clock, so request CPU includes the
    client's small share."""
    for _ in range(10):
        answer = http.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
    check.reset()
    walls: list[float] = []
    cpu_start = time.process_time()
    for _ in range(REQUESTS):
        start = time.perf_counter()
        answer = http.get(url, headers=headers)
        walls.append(time.perf_counter() - start)
        assert answer.status_code == 200, answer.text
    cpu = (time.process_time() - cpu_start) / REQUESTS
    return (
        statistics.median(walls) * 1000,
        cpu * 1000,
        check.wall / REQUESTS * 1000,
        check.cpu / REQUESTS * 1000,
    )


def main(stack: Stack) -> float:
    """Prints the figures; returns a refresh's Table calls and access token (CPU ms)."""
    from shared.container import Services
    from shared.settings import Settings

    settings = Settings.from_env(stack.settings | {"PLATFORM_ADMIN_KEY": PLATFORM_KEY})
    services = Services(settings)
    sessions = services.sessions
    check = Timer(sessions._live_family)
    sessions._live_family = check  # type: ignore[method-assign]
    token, refresh_token = _admin_tokens(services, stack.entra.tenant_ids[0])
    bearer = {"Authorization": f"Bearer {token}"}
    print("  revocation check per request (one point read of the session row, host in process):")
    with in_process_host(services) as base, requests.Session() as http:
        routes = (
            ("/me", f"{base}/api/auth/{TENANT}/me"),
            ("admin GET users", f"{base}/api/admin/tenants/{TENANT}/users?limit=10"),
        )
        for label, url in routes:
            wall, cpu, check_wall, check_cpu = _measure(http, url, bearer, check)
            print(
                f"    {label:<16} request p50 {wall:5.2f} ms wall, {cpu:5.2f} ms CPU; "
                f"the check {check_wall:5.2f} ms wall ({check_wall / wall:4.2f}x), "
                f"{check_cpu:5.2f} ms CPU ({check_cpu / cpu:4.2f}x)"
            )
        return refresh_by_step(services, base, http, refresh_token)


REFRESH_STEPS = (
    ("refresh_tokens.get", "family point read"),
    ("users.get", "user point read (disabled? groups for the profiles)"),
    ("refresh_tokens.replace", "conditional replace of the family (rotation)"),
    ("_tokens", "ES256 access token"),
)
# A family refreshed every 15 minutes holds its full list of used-token fingerprints
# after about a day: measure that steady state, not a fresh family's small row.
REFRESH_WARM_UP = times(120)


def refresh_by_step(services: Any, base: str, http: requests.Session, token: str) -> float:
    """Prints a refresh's CPU by step; returns what its Table calls and access token
    alone cost (ms): the part no request handling can shave off."""
    sessions = services.sessions
    timers: list[tuple[str, Timer]] = []
    for path, label in REFRESH_STEPS:
        owner_path, _, name = path.rpartition(".")
        owner = getattr(sessions, owner_path) if owner_path else sessions
        timer = Timer(getattr(owner, name))
        setattr(owner, name, timer)
        timers.append((label, timer))
    url = f"{base}/api/auth/{TENANT}/token"

    def rotate(current: str) -> str:
        answer = http.post(url, json={"grant_type": "refresh_token", "refresh_token": current})
        assert answer.status_code == 200, answer.text
        rotated: str = answer.json()["refresh_token"]
        return rotated

    for _ in range(REFRESH_WARM_UP):
        token = rotate(token)
    for _, timer in timers:
        timer.reset()
    cpu_start = time.process_time()
    for _ in range(REQUESTS):
        token = rotate(token)
    request_cpu = (time.process_time() - cpu_start) / REQUESTS * 1000
    steps = [(label, timer.cpu / REQUESTS * 1000) for label, timer in timers]
    print(f"  a rotating refresh by step (host in process): {request_cpu:.2f} ms CPU per request")
    for label, cpu in steps:
        print(f"    {cpu:5.2f} ms  {label}")
    tables = sum(cpu for _, cpu in steps[:3])
    rest = request_cpu - sum(cpu for _, cpu in steps)
    print(
        f"    {rest:5.2f} ms  the rest: the request's handling (host, JSON, cookies), "
        f"and the client's share\n"
        f"    its 3 Table round trips: {tables:.2f} ms; a warm sign-in makes 1 (see above)"
    )
    return tables + steps[3][1]
