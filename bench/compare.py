"""entrabridge against its peer (bench/peer_flask.py), in the same run, on the same
stand-ins and Azurite, driven by the same client.

For each system, served by werkzeug in its own process (both up at once): 200
complete sign-ins of one user at concurrency 1 (server-process CPU from /proc,
callback latency p50/p95 as the client sees it), then sign-ins per second at
concurrency 8; three repeats, interleaved between the systems, the median of
each figure. Ratios are entrabridge / peer.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from bench.scale import times
from bench.signin import TENANT, WARM_UP, Stack, host_process, process_cpu_seconds

SIGN_INS = times(200)
CONCURRENT_SIGN_INS = times(200, 8)
REPEATS = times(3, 1)
PEER_COMMAND = ["-m", "bench.peer_flask"]


@dataclass(frozen=True)
class Figures:
    cpu_ms: float  # server CPU per complete sign-in, concurrency 1
    callback_p50_ms: float
    callback_p95_ms: float
    rate_c8: float  # complete sign-ins per second at concurrency 8
    refresh_cpu_ms: float | None = None  # server CPU per refresh (entrabridge only)
    trivial_cpu_ms: float = 0.0  # server CPU per trivial request: the server's own cost


def refresh_token_of(response: requests.Response) -> str | None:
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name.endswith("eb_refresh"):
            return rest.split(";")[0]
    return None


def refresh_cpu(process_pid: int, base: str, http: requests.Session, token: str) -> float:
    """Server CPU ms per refresh (rotating: each answer's token is the next one used)."""
    url = f"{base}/api/auth/{TENANT}/token"
    for _ in range(WARM_UP):
        token = http.post(url, json={"grant_type": "refresh_token", "refresh_token": token}).json()[
            "refresh_token"
        ]
    cpu = process_cpu_seconds(process_pid)
    for _ in range(SIGN_INS):
        answer = http.post(url, json={"grant_type": "refresh_token", "refresh_token": token})
        token = answer.json()["refresh_token"]
    return (process_cpu_seconds(process_pid) - cpu) / SIGN_INS * 1000


def timed_sign_in(http: requests.Session, base: str, upn: str) -> float:
    """One complete sign-in; the callback's wall time in seconds."""
    return sign_in_once(http, base, upn)[0]


def sign_in_once(http: requests.Session, base: str, upn: str) -> tuple[float, requests.Response]:
    """One complete sign-in: the callback's wall time in seconds, and its answer."""
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
    _check(done)
    return took, done


def _check(done: requests.Response) -> None:
    location = done.headers.get("Location", "")
    if done.status_code != 302 or "sso_error" in location:
        raise RuntimeError(f"a sign-in failed: {done.status_code} {location}")


def one_repeat(process_pid: int, base: str, upn: str) -> Figures:
    """One repeat: SIGN_INS sign-ins at concurrency 1, then CONCURRENT_SIGN_INS at 8."""
    with requests.Session() as http:
        cpu = process_cpu_seconds(process_pid)
        latencies = [timed_sign_in(http, base, upn) for _ in range(SIGN_INS)]
        cpu = process_cpu_seconds(process_pid) - cpu
    sessions = [requests.Session() for _ in range(8)]
    wall = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda http: timed_sign_in(http, base, upn),
                [sessions[i % 8] for i in range(CONCURRENT_SIGN_INS)],
            )
        )
    wall = time.perf_counter() - wall
    for session in sessions:
        session.close()
    cuts = statistics.quantiles(latencies, n=20)
    return Figures(
        cpu_ms=cpu / SIGN_INS * 1000,
        callback_p50_ms=statistics.median(latencies) * 1000,
        callback_p95_ms=cuts[18] * 1000,
        rate_c8=CONCURRENT_SIGN_INS / wall,
    )


def trivial_cpu(process_pid: int, base: str, path: str) -> float:
    with requests.Session() as http:
        cpu = process_cpu_seconds(process_pid)
        for _ in range(SIGN_INS):
            http.get(f"{base}{path}")
        return (process_cpu_seconds(process_pid) - cpu) / SIGN_INS * 1000


def median_figures(runs: list[Figures], *, trivial_ms: float, refresh_ms: float | None) -> Figures:
    return Figures(
        refresh_cpu_ms=refresh_ms,
        trivial_cpu_ms=trivial_ms,
        cpu_ms=statistics.median(r.cpu_ms for r in runs),
        callback_p50_ms=statistics.median(r.callback_p50_ms for r in runs),
        callback_p95_ms=statistics.median(r.callback_p95_ms for r in runs),
        rate_c8=statistics.median(r.rate_c8 for r in runs),
    )


def measure_both(stack: Stack) -> tuple[Figures, Figures]:
    """Both systems up at once, their repeats interleaved (ours, peer; then peer,
    ours; ...): a machine's drift during the run falls on both alike."""
    with ExitStack() as up:
        servers = {
            "ours": up.enter_context(host_process(stack, None)),
            "peer": up.enter_context(host_process(stack, PEER_COMMAND)),
        }
        for _, base in servers.values():
            with requests.Session() as http:
                for _ in range(WARM_UP):
                    timed_sign_in(http, base, stack.user_upn)
        runs: dict[str, list[Figures]] = {"ours": [], "peer": []}
        for repeat in range(REPEATS):
            order = ("ours", "peer") if repeat % 2 == 0 else ("peer", "ours")
            for name in order:
                process, base = servers[name]
                runs[name].append(one_repeat(process.pid, base, stack.user_upn))
        ours_process, ours_base = servers["ours"]
        peer_process, peer_base = servers["peer"]
        with requests.Session() as http:
            token = refresh_token_of(sign_in_once(http, ours_base, stack.user_upn)[1])
            assert token is not None, "the callback set no refresh cookie"
            refresh_ms = refresh_cpu(ours_process.pid, ours_base, http, token)
        ours = median_figures(
            runs["ours"],
            trivial_ms=trivial_cpu(ours_process.pid, ours_base, f"/api/auth/{TENANT}/status"),
            refresh_ms=refresh_ms,
        )
        peer = median_figures(
            runs["peer"],
            trivial_ms=trivial_cpu(peer_process.pid, peer_base, "/api/health"),
            refresh_ms=None,  # the peer has no refresh tokens
        )
    return ours, peer


def main(stack: Stack, *, refresh_floor_ms: float | None = None) -> tuple[Figures, Figures]:
    ours, peer = measure_both(stack)
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
    print(
        f"    a trivial request's server CPU (status route / peer's health): entrabridge "
        f"{ours.trivial_cpu_ms:.2f} ms, peer {peer.trivial_cpu_ms:.2f} ms: the servers' own "
        "cost, paid twice per sign-in"
    )
    if ours.refresh_cpu_ms is not None:
        print(
            f"    refresh (rotating)          entrabridge {ours.refresh_cpu_ms:6.1f} ms CPU: "
            f"{ours.refresh_cpu_ms / ours.cpu_ms:4.2f}x a sign-in's (goal <= 0.5x)"
        )
        if refresh_floor_ms is not None:
            print(
                f"      of which its 3 Table calls and its access token alone (by step, "
                f"above): {refresh_floor_ms:.1f} ms = {refresh_floor_ms / ours.cpu_ms:4.2f}x "
                "a sign-in's, before the request is handled"
            )
    for label, unit, mine, theirs, goal in rows:
        goal_text = f" (goal {goal})" if goal else ""
        print(
            f"    {label:<28} entrabridge {mine:6.1f} {unit}, peer {theirs:6.1f} {unit}: "
            f"{mine / theirs:4.2f}x{goal_text}"
        )
    return ours, peer
