"""How many times each benchmark repeats its work.

`make bench` runs the full counts. With BENCH_SMOKE=1 every phase runs only a
few times: tests/e2e/test_bench_runs.py does that to prove `make bench` still
runs to the end after a change (its figures then mean nothing).
"""

from __future__ import annotations

import os

SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def times(full: int, smoke: int = 3) -> int:
    """`full`, or `smoke` in a smoke run."""
    return smoke if SMOKE else full
