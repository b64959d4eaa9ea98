"""Start and stop Azurite's Table service (the npm package in node_modules/).

Used by the tests (in memory, a free port) and by `make dev` (persisted under
.local/azurite on :10002). Azurite refuses --inMemoryPersistence together
with --location, so exactly one of them is passed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.localca import PROJECT_ROOT

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, only valid for Azurite.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_TABLE = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"


class AzuriteMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


@dataclass
class Azurite:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_azurite(*, port: int | None = None, location: Path | None = None) -> Azurite:
    """Start Azurite Table on 127.0.0.1 and wait until it accepts connections."""
    if not AZURITE_TABLE.exists():
        raise AzuriteMissing(f"{AZURITE_TABLE} is missing: run `make setup` (npm ci) first.")
    chosen = port or free_port()
    if port is not None and _accepting(chosen):
        raise RuntimeError(f"port {chosen} is already in use (another Azurite or `make dev`?)")
    command = [
        str(AZURITE_TABLE),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(chosen),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
    ]
    if location is None:
        command.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        command += ["--location", str(location)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT
    )
    azurite = Azurite(port=chosen, process=process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {process.returncode} on port {chosen}")
        try:
            with socket.create_connection(("127.0.0.1", chosen), timeout=0.5):
                return azurite
        except OSError:
            time.sleep(0.1)
    azurite.stop()
    raise RuntimeError(f"Azurite did not start on port {chosen} within 30 s")
