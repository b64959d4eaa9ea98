"""The sign-in start throttle's window logic, with the shared counts kept in a dict
(the Table adapter behind them is tested against Azurite in tests/e2e)."""

from __future__ import annotations

import logging

import pytest

from shared.errors import SsoUnavailable, TooManyAttempts
from shared.signin.throttle import Throttle, client_address, client_key


class Counts:
    def __init__(self) -> None:
        self.totals: dict[tuple[str, str, int], int] = {}
        self.calls = 0
        self.failing = False

    def add(self, tenant: str, client: str, window_start: int, count: int) -> int:
        self.calls += 1
        if self.failing:
            raise SsoUnavailable("storage down")
        key = (tenant, client, window_start)
        self.totals[key] = self.totals.get(key, 0) + count
        return self.totals[key]


def admitted(throttle: Throttle, tenant: str, ip: str, tries: int) -> int:
    passed = 0
    for _ in range(tries):
        try:
            throttle.admit(tenant, ip)
            passed += 1
        except TooManyAttempts:
            pass
    return passed


def test_sixty_a_minute_then_429_until_the_window_ends() -> None:
    now = [1_000_040.0]  # 20 s into a minute window (1,000,020 is one)
    throttle = Throttle(Counts(), clock=lambda: now[0])
    assert admitted(throttle, "acme", "203.0.113.7", 60) == 60
    with pytest.raises(TooManyAttempts) as refused:
        throttle.admit("acme", "203.0.113.7")
    assert refused.value.status == 429 and refused.value.retry_after == 40
    assert admitted(throttle, "acme", "203.0.113.8", 5) == 5  # another client
    assert admitted(throttle, "globex", "203.0.113.7", 5) == 5  # another tenant
    now[0] += 40  # the next window
    assert admitted(throttle, "acme", "203.0.113.7", 60) == 60


def test_the_shared_count_is_written_every_step_not_every_start() -> None:
    counts = Counts()
    throttle = Throttle(counts, clock=lambda: 60.0)
    admitted(throttle, "acme", "198.51.100.1", 60)
    assert counts.calls == 6
    assert counts.totals == {("acme", client_key("198.51.100.1"), 60): 60}


def test_instances_share_the_count_each_at_most_a_step_late() -> None:
    counts = Counts()
    instances = [Throttle(counts, clock=lambda: 120.0) for _ in range(3)]
    assert admitted(instances[0], "acme", "192.0.2.1", 100) == 60
    # The others learn the total at their first write of the window.
    assert admitted(instances[1], "acme", "192.0.2.1", 100) == 10
    assert admitted(instances[2], "acme", "192.0.2.1", 100) == 10
    assert admitted(instances[0], "acme", "192.0.2.1", 1) == 0


def test_a_failing_shared_store_leaves_each_instance_its_own_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts = Counts()
    counts.failing = True
    throttle = Throttle(counts, clock=lambda: 180.0)
    with caplog.at_level(logging.WARNING, logger="entrabridge.throttle"):
        assert admitted(throttle, "acme", "192.0.2.9", 100) == 60
    assert any("counting locally" in r.getMessage() for r in caplog.records)


def test_no_limit_when_switched_off_and_memory_bounded() -> None:
    assert admitted(Throttle(Counts(), limit=0), "acme", "192.0.2.1", 500) == 500
    throttle = Throttle(Counts(), max_tracked=100, clock=lambda: 240.0)
    for n in range(1000):
        throttle.admit("acme", f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._windows) <= 100


def test_the_client_key_is_a_hash_never_the_ip() -> None:
    key = client_key("203.0.113.7")
    assert "203" not in key and len(key) == 16
    assert client_key("203.0.113.7") == key != client_key("203.0.113.8")
    assert client_key(None) == client_key(None)


@pytest.mark.parametrize(
    ("forwarded", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),  # a front end's address:port
        ("[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:1", "2001:db8:1:2::/64"),  # any address of the /64
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
        (None, "no-ip"),
    ],
)
def test_a_client_is_its_address_without_port_and_an_ipv6_client_its_64(
    forwarded: str | None, counted_as: str
) -> None:
    assert client_address(forwarded) == counted_as


def test_new_ports_and_new_ipv6_addresses_of_one_network_share_one_count() -> None:
    throttle = Throttle(Counts(), clock=lambda: 300.0)
    ports = [f"203.0.113.7:{port}" for port in range(40000, 40100)]
    assert sum(admitted(throttle, "acme", ip, 1) for ip in ports) == 60
    v6 = [f"2001:db8:1:2::{n:x}" for n in range(100)]
    assert sum(admitted(throttle, "acme", ip, 1) for ip in v6) == 60
    assert admitted(throttle, "acme", "2001:db8:1:3::1", 1) == 1  # the next /64
