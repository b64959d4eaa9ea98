"""A fresh worker's first complete sign-in, and what each SDK costs to import.

The host is started as a new process (as a new instance would be) and the
client starts a sign-in the moment the port answers; the clock runs from the
process's start to the callback's answer, so it covers the imports, the first
Table reads, the Key Vault reads (client secret, state key, session key), the
first Entra metadata and JWKS fetches and the MSAL client's construction.
The vault already holds the keys (a new instance of a running deployment).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.scale import times
from bench.signin import HOST_COMMAND, Stack, free_port, sign_in

RUNS = times(3, 1)  # fresh processes per figure (the median is taken)
SDKS = (
    "azure.functions",
    "requests",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "jwt",
    "azure.core",
    "azure.data.tables",
    "azure.keyvault.secrets",
    "azure.identity",
    "msal",
)


def import_costs() -> dict[str, float]:
    """Milliseconds to import each SDK alone in a fresh interpreter (median of 3)."""
    costs: dict[str, float] = {}
    for module in SDKS:
        probe = (
            f"import time;t=time.perf_counter();import {module};print((time.perf_counter()-t)*1000)"
        )
        runs = sorted(
            float(
                subprocess.run(
                    [sys.executable, "-c", probe], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(RUNS)
        )
        costs[module] = runs[len(runs) // 2]
    return costs


def first_sign_in(stack: Stack) -> tuple[float, float]:
    """(ms from process start until the port answers, ms until the first complete
    sign-in's callback has answered)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        settings_file = Path(scratch) / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": stack.settings}))
        env = {k: v for k, v in os.environ.items() if k not in stack.settings}
        started = time.perf_counter()
        process = subprocess.Popen(
            [*HOST_COMMAND, "--port", str(port), "--settings", str(settings_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if process.poll() is not None or time.perf_counter() - started > 30:
                        raise RuntimeError("the host process did not start") from None
                    time.sleep(0.005)
            listening = time.perf_counter()
            with requests.Session() as http:
                sign_in(http, f"http://127.0.0.1:{port}", stack.user_upn, lambda: None)
            done = time.perf_counter()
        finally:
            process.terminate()
            process.wait(timeout=10)
    return (listening - started) * 1000, (done - started) * 1000


def main(stack: Stack) -> None:
    runs = sorted(first_sign_in(stack) for _ in range(RUNS))
    listening, done = runs[len(runs) // 2]
    print(
        f"  a fresh worker's first complete sign-in: {done:.0f} ms from process start "
        f"(listening after {listening:.0f} ms; median of {RUNS}; goal < 1000 ms)"
    )
    costs = import_costs()
    listed = ", ".join(f"{module} {ms:.0f}" for module, ms in costs.items())
    print(f"  import cost of each SDK alone, ms (fresh interpreter, median of {RUNS}): {listed}")
