"""What the sign-in start throttle adds to an anonymous `authorize`.

The options for sharing the count across instances, each measured against the
same Azurite with the host in this process (JSON-mode starts from one client,
the limit raised so nothing is refused while measuring):
- no throttle (the baseline: a start writes nothing, its attempt sealed in its state);
- a shared row read and written on every start (a fixed-window counter row per
  client and minute, optimistic concurrency): `step` 1;
- a local count added to the shared row every 10 starts (what runs): `step` 10.
Then what a refused start costs. Figures: Table Storage calls per start (adapter
calls, one round trip each), the start's p50 wall time, and the throttle's own
wall and CPU time per start.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import requests

from bench.scale import times
from bench.sessions import Timer
from bench.signin import TENANT, Stack, in_process_host

STARTS = times(300)
TABLE_CALLS = ("get", "insert", "upsert", "update", "delete", "transact", "query")


class CountedTables:
    """Counts the adapter calls of one TableStore (one call is one round trip)."""

    def __init__(self, tables: Any) -> None:
        self.calls = 0
        for name in TABLE_CALLS:
            method = getattr(tables, name)

            def counted(*args: object, _method: Any = method, **kwargs: object) -> object:
                self.calls += 1
                return _method(*args, **kwargs)

            setattr(tables, name, counted)


def _services(stack: Stack, step: int | None) -> tuple[Any, CountedTables, Timer]:
    from shared.container import Services
    from shared.settings import Settings
    from shared.signin.throttle import Throttle
    from shared.store.tables import TableStore
    from shared.store.throttle import ThrottleCounts

    services = Services(Settings.from_env(stack.settings))
    tables = TableStore.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"])
    counted = CountedTables(tables)
    services.override("tables", tables)
    throttle = Throttle(ThrottleCounts(tables), limit=0 if step is None else 10**6, step=step or 1)
    timer = Timer(throttle.admit)
    throttle.admit = timer  # type: ignore[method-assign]
    services.override("throttle", throttle)
    return services, counted, timer


def _starts(http: requests.Session, url: str, ip: str, count: int, status: int) -> list[float]:
    walls = []
    for _ in range(count):
        start = time.perf_counter()
        answer = http.get(url, params={"mode": "json"}, headers={"X-Forwarded-For": ip})
        walls.append(time.perf_counter() - start)
        assert answer.status_code == status, answer.text
    return walls


def main(stack: Stack) -> None:
    print("  sign-in start throttle: the extra cost per authorize (host in process, one client):")
    options = (
        ("no throttle (baseline)", None),
        ("shared row every start (step 1)", 1),
        ("local count, shared every 10 (runs)", 10),
    )
    baseline = 0.0
    for n, (label, step) in enumerate(options):
        services, counted, timer = _services(stack, step)
        with in_process_host(services) as base, requests.Session() as http:
            url = f"{base}/api/auth/{TENANT}/authorize"
            _starts(http, url, f"198.51.100.{n}", 10, 200)  # warm: config, secret, tables
            counted.calls = 0
            timer.reset()
            walls = _starts(http, url, f"203.0.113.{n}", STARTS, 200)
            calls = counted.calls / STARTS
            baseline = calls if step is None else baseline
            print(
                f"    {label:<37} {calls:4.2f} Table calls/start "
                f"({calls - baseline:+4.2f}), p50 {statistics.median(walls) * 1000:5.2f} ms; "
                f"throttle {timer.wall / STARTS * 1000:5.3f} ms wall, "
                f"{timer.cpu / STARTS * 1000:5.3f} ms CPU per start"
            )
    services, counted, timer = _services(stack, 10)
    services.override("throttle", _limited(services, 60))
    with in_process_host(services) as base, requests.Session() as http:
        url = f"{base}/api/auth/{TENANT}/authorize"
        _starts(http, url, "192.0.2.1", 60, 200)
        counted.calls = 0
        cpu = time.process_time()
        walls = _starts(http, url, "192.0.2.1", STARTS, 429)
        cpu = (time.process_time() - cpu) / STARTS
        print(
            f"    a refused start (past 60 a minute): {counted.calls / STARTS:4.2f} Table calls, "
            f"p50 {statistics.median(walls) * 1000:5.2f} ms wall, "
            f"{cpu * 1000:5.2f} ms CPU (host and client)"
        )


def _limited(services: Any, limit: int) -> Any:
    from shared.signin.throttle import Throttle
    from shared.store.throttle import ThrottleCounts

    minute = time.time() // 60 * 60 + 30  # one window throughout: none ends mid-run
    return Throttle(ThrottleCounts(services.tables), limit=limit, clock=lambda: minute)
