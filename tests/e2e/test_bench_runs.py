"""`make bench` still runs to the end: every phase, a few times each (BENCH_SMOKE=1).

The benchmark is not run by anything else in `make test`, and a change to the
product can break it (a session from another directory ending at once once made
its revocation phase fail). Its figures in a smoke run mean nothing; only that
each phase ran and printed its figures is checked here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One line each phase prints once it has measured.
PHASE_FIGURES = (
    "ratio ours/bare",
    "heavy SDKs loaded by the import",
    "Table Storage round trips in a warm callback",
    "a fresh worker's first complete sign-in",
    "host CPU per sign-in by step",
    "baseline, the Tables SDK alone",
    "revocation check per request",
    "a rotating refresh by step",
    "a refused start (past 60 a minute)",
    "host CPU per status request",
    "POST /Users (create)",
    "PATCH /Groups/{id} +1 member",
    "refresh (rotating)",
    "sign-ins/s at concurrency 8",
)


def test_make_bench_runs_every_phase_to_the_end() -> None:
    environment = {**os.environ, "BENCH_SMOKE": "1"}
    environment.pop("BENCH_SHOW_SERVER_LOG", None)
    run = subprocess.run(
        [sys.executable, "-m", "bench"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    missing = [figure for figure in PHASE_FIGURES if figure not in run.stdout]
    assert missing == [], run.stdout[-4000:]
