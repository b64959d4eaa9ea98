"""Complete sign-ins (authorize -> Entra stand-in -> callback) against Azurite and the
Key Vault and Entra stand-ins.

Two phases:
1. Counting, with the host in this process: Table Storage round trips (adapter
   calls), Key Vault requests and Entra discovery / JWKS / token requests made
   by one warm callback; then the host thread's CPU per sign-in step.
2. Cost, with the host in its own process (`python -m devtools.funchost`): the
   host's CPU per status request, then (bench/compare.py) CPU per sign-in,
   callback latency and sign-ins per second side by side with the peer
   (bench/peer_flask.py), from /proc, so the stand-ins' RSA signing and the
   client's work are not counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.scale import times

TENANT = "demo"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
WARM_UP = 3
HOST_COMMAND = [sys.executable, "-m", "devtools.funchost"]
STATUS_REQUESTS = times(200)


@dataclass
class Stack:
    settings: dict[str, str]
    user_upn: str
    entra: Any
    vault: Any


@contextmanager
def stand_ins() -> Iterator[Stack]:
    from devtools.azurite import start_azurite
    from devtools.fake_entra import FakeEntra
    from devtools.fake_keyvault import FakeKeyVault
    from devtools.localca import ensure_local_ca
    from shared.container import Services
    from shared.settings import Settings
    from shared.store.secrets import client_secret_name
    from shared.tenants.model import OAuth2Config

    os.environ["REQUESTS_CA_BUNDLE"] = str(ensure_local_ca().bundle)
    azurite, vault, entra = start_azurite(), FakeKeyVault().serve(), FakeEntra().serve()
    try:
        tid = entra.tenant_ids[0]
        directory = entra.directory(tid)
        assert directory is not None
        app = next(iter(directory.apps.values()))
        values = {
            "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
            # One client signing in hundreds of times a minute: the sign-in throttle off.
            "AUTHORIZE_LIMIT_PER_MINUTE": "0",
            "KEY_VAULT_URI": vault.base_url,
            "TABLES_CONNECTION_STRING": azurite.connection_string,
            "AZURE_CREDENTIAL_MODE": "offline",
            "ENTRA_AUTHORITY_HOST": entra.base_url,
            "GRAPH_BASE_URL": entra.graph_base_url,
            "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
            # What the peer (bench/peer_flask.py) is configured with; the host ignores them.
            "PEER_ENTRA_TENANT_ID": tid,
            "PEER_CLIENT_ID": app.client_id,
            "PEER_CLIENT_SECRET": app.secrets[0].value,
        }
        seeding = Services(Settings.from_env(values))
        seeding.secrets.set_secret(client_secret_name(TENANT), app.secrets[0].value)
        seeding.configs.put_tenant(
            TENANT,
            "Demo",
            OAuth2Config(
                enabled=True,
                client_id=app.client_id,
                tenant_id=tid,
                client_secret_set=True,
                customer_id=CUSTOMER,
            ),
        )
        seeding.tables.close()
        upn = next(u.upn for u in directory.users.values() if u.enabled)
        yield Stack(values, upn, entra, vault)
    finally:
        entra.stop()
        vault.stop()
        azurite.stop()


def sign_in(
    http: requests.Session, base: str, upn: str, before_callback: Callable[[], None]
) -> None:
    start = http.get(
        f"{base}/api/auth/{TENANT}/authorize", params={"login_hint": upn}, allow_redirects=False
    )
    binding = start.headers["Set-Cookie"].split(";")[0]
    back = urlsplit(http.get(start.headers["Location"], allow_redirects=False).headers["Location"])
    before_callback()
    done = http.get(
        f"{base}{back.path}?{back.query}", headers={"Cookie": binding}, allow_redirects=False
    )
    assert "sso_error" not in done.headers.get("Location", ""), done.headers


# --- phase 1: what one warm callback fetches ---------------------------------------------


@contextmanager
def in_process_host(services: Any) -> Iterator[str]:
    """function_app served in this process with `services`; its base URL."""
    from devtools.funchost import FuncHost, load_app
    from shared.container import set_services

    set_services(services)
    host = FuncHost(load_app("function_app:app")).start()
    try:
        yield host.url
    finally:
        host.stop()
        set_services(None)
        services.tables.close()


def count_warm_callback(stack: Stack) -> dict[str, int]:
    from shared.container import Services
    from shared.settings import Settings
    from shared.store.tables import TableStore

    calls = [0]
    services = Services(Settings.from_env(stack.settings))
    tables = TableStore.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"])
    for name in ("get", "insert", "upsert", "update", "delete", "transact", "query"):
        method = getattr(tables, name)

        def counted(*args: object, _method: Any = method, **kwargs: object) -> object:
            calls[0] += 1  # one adapter call is one round trip
            return _method(*args, **kwargs)

        setattr(tables, name, counted)
    services.override("tables", tables)
    marks: dict[str, int] = {}

    def mark() -> None:
        marks["tables"] = calls[0]
        marks["vault"] = stack.vault.requests_seen
        marks["entra"] = len(stack.entra.requests_seen())

    with in_process_host(services) as url, requests.Session() as http:
        for _ in range(WARM_UP):
            sign_in(http, url, stack.user_upn, mark)
        sign_in(http, url, stack.user_upn, mark)
        within_a_minute = calls[0] - marks["tables"]
        entra_paths = [path for _, path in stack.entra.requests_seen()[marks["entra"] :]]
        vault = stack.vault.requests_seen - marks["vault"]
        # Their row changed behind this instance's back (another instance, an admin).
        set_back_last_login(tables, dt.timedelta(hours=1))
        sign_in(http, url, stack.user_upn, mark)
        later = calls[0] - marks["tables"]
    return {
        "tables": within_a_minute,
        "tables_later": later,
        "vault": vault,
        "discovery": sum("openid-configuration" in p for p in entra_paths),
        "jwks": sum(p.endswith("/keys") for p in entra_paths),
        "token": sum(p.endswith("/token") for p in entra_paths),
    }


def set_back_last_login(tables: Any, by: dt.timedelta) -> None:
    (row,) = tables.query("users", partition_key=TENANT, row_key_prefix="user:").rows
    tables.upsert("users", {**row.data, "last_login_at": row.data["last_login_at"] - by})


# Where a sign-in's host CPU goes. Steps are timed with the process CPU clock, which
# also counts the threads the Tables SDK starts for a transaction's body; the code
# redemption with the thread's own clock, since the Entra stand-in signing the
# tokens runs in this process too.
STEPS = (
    ("_exchange.redeem", "code redemption (MSAL, token endpoint, TLS)"),
    ("_exchange.validate", "ID-token validation"),
    (
        "_users.provision_with",
        "user point read + one transaction (state mark, user, session, audit)",
    ),
    ("_sessions.begin", "session: new refresh family (no I/O)"),
    ("_sessions.issue", "session: ES256 access token"),
    ("service:seal", "sealing the attempt into its state (authorize)"),
    ("service:open_state", "opening the state (callback)"),
)
THREAD_CLOCK_STEPS = {"_exchange.redeem"}


def cpu_by_step(stack: Stack, count: int = times(30)) -> list[tuple[str, float]]:
    """(step, host CPU ms per sign-in), host in this process."""
    from shared.container import Services
    from shared.settings import Settings

    spent: dict[str, float] = {label: 0.0 for _, label in STEPS}
    services = Services(Settings.from_env(stack.settings))
    signin = services.signin
    from shared.signin import service as signin_module

    restore: list[tuple[Any, str, Any]] = []
    for path, label in STEPS:
        if path.startswith("service:"):
            owner: Any = signin_module
            name = path.removeprefix("service:")
        else:
            owner_path, _, name = path.rpartition(".")
            owner = getattr(signin, owner_path) if owner_path else signin
        original = getattr(owner, name)

        clock = time.thread_time if path in THREAD_CLOCK_STEPS else time.process_time

        def timed(
            *args: Any,
            _original: Any = original,
            _label: str = label,
            _clock: Callable[[], float] = clock,
            **kwargs: Any,
        ) -> Any:
            start = _clock()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += _clock() - start

        setattr(owner, name, timed)
        restore.append((owner, name, original))
    try:
        with in_process_host(services) as url, requests.Session() as http:
            for _ in range(WARM_UP):
                sign_in(http, url, stack.user_upn, lambda: None)
            for label in spent:
                spent[label] = 0.0
            for _ in range(count):
                sign_in(http, url, stack.user_upn, lambda: None)
    finally:
        for owner, name, original in restore:
            setattr(owner, name, original)
    return [(label, seconds / count * 1000) for label, seconds in spent.items()]


# --- phase 2: the host in its own process ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def host_process(
    stack: Stack, module: list[str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The local Functions host (or `module`, e.g. the peer) in its own process."""
    command = [sys.executable, *module] if module else HOST_COMMAND
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        settings_file = Path(scratch) / "local.settings.json"
        settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": stack.settings}))
        env = {k: v for k, v in os.environ.items() if k not in stack.settings}
        process = subprocess.Popen(
            [*command, "--port", str(port), "--settings", str(settings_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("BENCH_SHOW_SERVER_LOG") else subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{base}/api/health", timeout=2)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the host process did not start") from None
                    time.sleep(0.2)
            yield process, base
        finally:
            process.terminate()
            process.wait(timeout=10)


def status_request_cpu(stack: Stack) -> float:
    """Host CPU ms per status request: the local host's own cost per request."""
    with host_process(stack) as (process, base), requests.Session() as http:
        for _ in range(WARM_UP):
            sign_in(http, base, stack.user_upn, lambda: None)
        cpu = process_cpu_seconds(process.pid)
        for _ in range(STATUS_REQUESTS):
            http.get(f"{base}/api/auth/{TENANT}/status")
        return (process_cpu_seconds(process.pid) - cpu) / STATUS_REQUESTS * 1000


# --- the baseline: what the Table Storage SDK alone costs -------------------------------


def table_call_floor(stack: Stack, count: int = times(200)) -> dict[str, float]:
    """Process CPU ms of bare azure-data-tables calls through the project's adapter
    against the same Azurite: a point read, an insert, a conditional delete and a
    3-operation transaction (the shapes of a sign-in's calls)."""
    import uuid

    from shared.store.rows import Op
    from shared.store.tables import TableStore

    tables = TableStore.from_connection_string(
        stack.settings["TABLES_CONNECTION_STRING"], prefix=f"bench{uuid.uuid4().hex[:8]}"
    )
    try:
        tables.insert("floor", {"PartitionKey": "p", "RowKey": "read", "value": "x" * 200})

        def read() -> None:
            tables.get("floor", "p", "read")

        def insert() -> None:
            tables.insert("floor", {"PartitionKey": "p", "RowKey": uuid.uuid4().hex, "v": 1})

        def delete() -> None:
            row = tables.insert("floor", {"PartitionKey": "p", "RowKey": uuid.uuid4().hex})
            tables.delete("floor", "p", row.row_key, etag=row.etag)

        def transaction() -> None:
            key = uuid.uuid4().hex
            tables.transact(
                "floor",
                [
                    Op("create", {"PartitionKey": "p", "RowKey": f"{key}{i}", "v": 1})
                    for i in range(3)
                ],
            )

        figures: dict[str, float] = {}
        for name, call in (
            ("read", read),
            ("insert", insert),
            ("delete", delete),
            ("tx3", transaction),
        ):
            for _ in range(20):
                call()
            start = time.process_time()
            for _ in range(count):
                call()
            figures[name] = (time.process_time() - start) / count * 1000
        figures["delete"] -= figures["insert"]  # each delete needed its own insert
        return figures
    finally:
        tables.close()


def cold_start(stack: Stack) -> dict[str, Any]:
    """`devtools.coldstart` in a fresh process: the status route and the login page
    answered on a new worker, and the heavy SDKs that this loaded."""
    result = subprocess.run(
        [sys.executable, "-m", "devtools.coldstart", TENANT],
        env={**os.environ, **stack.settings},
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    print("Complete sign-ins (authorize + Entra stand-in + callback)")
    with stand_ins() as stack:
        fresh = cold_start(stack)
        answers = ", ".join(f"{name} {code}" for name, code in fresh["answers"].items())
        print(
            f"  a fresh worker answering the status route and the login page ({answers}): "
            f"heavy SDKs loaded: {', '.join(fresh['heavy_sdks']) or 'none'} (goal: none)"
        )
        counts = count_warm_callback(stack)
        print(
            f"  Table Storage round trips in a warm callback: {counts['tables']} "
            f"(a user this instance saw lately), {counts['tables_later']} (their row changed "
            "elsewhere meanwhile: the conditional write fails, one read, one retry); "
            "goal <= 2 (the start writes nothing: its attempt is sealed in its state)"
        )
        print(
            f"  Key Vault requests: {counts['vault']}, Entra discovery: {counts['discovery']}, "
            f"JWKS: {counts['jwks']} (goal: 0 each); token redemptions: {counts['token']}"
        )
        from bench import cold

        cold.main(stack)
        print("  host CPU per sign-in by step (host in this process):")
        for label, cpu_ms in cpu_by_step(stack):
            print(f"    {cpu_ms:5.2f} ms  {label}")
        floor = table_call_floor(stack)
        sign_in_floor = floor["tx3"]
        print(
            "  baseline, the Tables SDK alone (same Azurite, this run): "
            f"point read {floor['read']:.2f} ms, insert {floor['insert']:.2f} ms, "
            f"conditional delete {floor['delete']:.2f} ms, 3-row transaction {floor['tx3']:.2f} ms"
        )
        print(
            f"    a sign-in's one Table call (a transaction, here 3 rows; a sign-in's has 5) "
            f"costs {sign_in_floor:.1f} ms of CPU before any other work"
        )
        from bench import sessions

        refresh_floor_ms = sessions.main(stack)
        from bench import throttle

        throttle.main(stack)
        print(
            f"  host CPU per status request (the local host's own cost, cached config): "
            f"{status_request_cpu(stack):.2f} ms; a sign-in is 2 requests"
        )
        from bench import scim

        scim.main(stack)
        from bench import compare

        compare.main(stack, refresh_floor_ms=refresh_floor_ms)


if __name__ == "__main__":
    main()
