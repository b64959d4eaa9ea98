"""entrabridge against its peer (bench/peer_flask.py), in the same run, on the same
stand-ins and Azurite, driven by the same client.

For each system, served by werkzeug in its own process: 200 complete sign-ins
of one user at concurrency 1 (server-process CPU from /proc, callback latency
p50/p95 as the client sees it), then sign-ins per second at concurrency 8;
three repeats, the median of each figure. Ratios are entrabridge / peer.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from bench.signin import TENANT, WARM_UP, Stack, host_process, process_cpu_seconds

SIGN_INS = 200
CONCURRENT_SIGN_INS = 200
REPEATS = 3
PEER_COMMAND = ["-m", "bench.peer_flask"]


@dataclass(frozen=True)
class Figures:
    cpu_ms: float  # server CPU per complete sign-in, concurrency 1
    callback_p50_ms: float
    callback_p95_ms: float
    rate_c8: float  # complete sign-ins per second at concurrency 8


def timed_sign_in(http: requests.Session, base: str, upn: str) -> float:
    """One complete sign-in; the callback's wall time in seconds."""
    start = http.get(
        f"{base}/api/auth/{TENANT}/authorize", params={"login_hint": upn}, allow_redirects=False
    )
    cookie = start.headers["Set-Cookie"].split(";")[0]
    back = urlsplit(http.get(start.headers["Location"], allow_redirects=False).headers["Location"])
    began = time.perf_counter()
    done = http.get(
        f"{base}{back.path}?{back.query}", headers={"Cookie": cookie}, allow_redirects=False
    )
    took = time.perf_counter() - began
    location = done.headers.get("Location", "")
    if done.status_code != 302 or "sso_error" in location:
        raise RuntimeError(f"a sign-in failed: {done.status_code} {location}")
    return took


def measure(stack: Stack, command: list[str] | None) -> Figures:
    runs: list[Figures] = []
    with host_process(stack, command) as (process, base):
        with requests.Session() as http:
            for _ in range(WARM_UP):
                timed_sign_in(http, base, stack.user_upn)
        for _ in range(REPEATS):
            with requests.Session() as http:
                cpu = process_cpu_seconds(process.pid)
                latencies = [timed_sign_in(http, base, stack.user_upn) for _ in range(SIGN_INS)]
                cpu = process_cpu_seconds(process.pid) - cpu
            sessions = [requests.Session() for _ in range(8)]
            wall = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda http: timed_sign_in(http, base, stack.user_upn),
                        [sessions[i % 8] for i in range(CONCURRENT_SIGN_INS)],
                    )
                )
            wall = time.perf_counter() - wall
            for session in sessions:
                session.close()
            cuts = statistics.quantiles(latencies, n=20)
            runs.append(
                Figures(
                    cpu_ms=cpu / SIGN_INS * 1000,
                    callback_p50_ms=statistics.median(latencies) * 1000,
                    callback_p95_ms=cuts[18] * 1000,
                    rate_c8=CONCURRENT_SIGN_INS / wall,
                )
            )
    return Figures(
        cpu_ms=statistics.median(r.cpu_ms for r in runs),
        callback_p50_ms=statistics.median(r.callback_p50_ms for r in runs),
        callback_p95_ms=statistics.median(r.callback_p95_ms for r in runs),
        rate_c8=statistics.median(r.rate_c8 for r in runs),
    )


def main(stack: Stack) -> tuple[Figures, Figures]:
    ours = measure(stack, None)
    peer = measure(stack, PEER_COMMAND)
    print(
        f"  against the peer (bench/peer_flask.py: Flask + Authlib, tuned), {SIGN_INS} sign-ins "
        f"at concurrency 1 and {CONCURRENT_SIGN_INS} at 8, median of {REPEATS}:"
    )
    rows = (
        ("server CPU per sign-in", "ms", ours.cpu_ms, peer.cpu_ms, "<= 1.0x"),
        ("callback p50", "ms", ours.callback_p50_ms, peer.callback_p50_ms, "<= 1.0x"),
        ("callback p95", "ms", ours.callback_p95_ms, peer.callback_p95_ms, ""),
        ("sign-ins/s at concurrency 8", "/s", ours.rate_c8, peer.rate_c8, ">= 1.0x"),
    )
    for label, unit, mine, theirs, goal in rows:
        goal_text = f" (goal {goal})" if goal else ""
        print(
            f"    {label:<28} entrabridge {mine:6.1f} {unit}, peer {theirs:6.1f} {unit}: "
            f"{mine / theirs:4.2f}x{goal_text}"
        )
    return ours, peer
