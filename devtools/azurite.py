"""Start and stop Azurite's Table service (the npm package in node_modules/).

Used by the tests (in memory, a free port), `make dev` (persisted under
.local/azurite on :10002) and end-to-end runs. Azurite refuses
--inMemoryPersistence together with --location, so exactly one is passed.

    with start_azurite() as azurite:
        TableServiceClient.from_connection_string(azurite.connection_string)
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from devtools.localca import PROJECT_ROOT

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, only valid for Azurite.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_TABLE = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"
_START_ATTEMPTS = 3  # a free port can be taken by someone else before Azurite binds it


class AzuriteMissing(RuntimeError):
    """Azurite is not installed in node_modules/."""


class AzuriteFailed(RuntimeError):
    """Azurite exited or did not start listening."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepting(port: int, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
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
    """A running Azurite Table service; `stop()` (or leaving a `with`) ends it."""

    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def connection_string(self) -> str:
        return connection_string(self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate and wait (kill if it will not go); safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        """What Azurite printed (for error messages)."""
        if self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace").strip()

    def __enter__(self) -> Azurite:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_azurite(
    *, port: int | None = None, location: Path | None = None, timeout: float = 30
) -> Azurite:
    """Start Azurite Table on 127.0.0.1 and return once it accepts connections.

    `port=None` picks a free one; `location=None` keeps everything in memory."""
    if not AZURITE_TABLE.exists():
        raise AzuriteMissing(
            f"Azurite is not installed ({AZURITE_TABLE} is missing): run `make setup` first."
        )
    if port is not None and accepting(port):
        raise AzuriteFailed(f"port {port} is already in use (another Azurite or `make dev`?)")
    attempts = 1 if port is not None else _START_ATTEMPTS
    for attempt in range(attempts):
        try:
            return _start_once(port or free_port(), location, timeout)
        except AzuriteFailed:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start_once(port: int, location: Path | None, timeout: float) -> Azurite:
    command = [
        str(AZURITE_TABLE),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        "--disableTelemetry",
        "--skipApiVersionCheck",  # the SDK may be newer than this Azurite
        "--loose",
    ]
    if location is None:
        command.append("--inMemoryPersistence")
    else:
        location.mkdir(parents=True, exist_ok=True)
        command += ["--location", str(location)]
    # Output goes to a file, not a pipe: nobody reads a pipe while Azurite runs,
    # and a full pipe would block it.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Azurite.stop)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
    except OSError as error:
        log.close()
        raise AzuriteFailed(f"Azurite could not be run: {error}") from error
    azurite = Azurite(port=port, process=process, log=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = azurite.output()
            azurite.stop()
            raise AzuriteFailed(
                f"Azurite exited with code {process.returncode} on port {port}: {output}"
            )
        if accepting(port, timeout=0.2):
            return azurite
        time.sleep(0.05)
    output = azurite.output()
    azurite.stop()
    raise AzuriteFailed(f"Azurite did not listen on port {port} within {timeout:g} s: {output}")
