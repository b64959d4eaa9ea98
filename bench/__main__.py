"""`make bench`: sign-in cost figures, each against a baseline measured in the same run.

1. ID-token validation vs a bare `jwt.decode` with a pre-loaded key (goal <= 1.5x).
2. What `import function_app` and the status route load (goal: no MSAL, no
   azure-identity, no Key Vault SDK).
3. Complete sign-ins through the local host against the Entra and Key Vault
   stand-ins and Azurite: sign-ins per second at concurrency 1 and 8, host CPU
   ms per sign-in (the host runs in this process; the stand-ins too, so the
   figure is an upper bound), and Table Storage round trips per warm sign-in.
Benchmarks, not tests: they print figures and assert nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

ROUNDS = 3000


def bench_token_validation() -> None:
    from shared.tokens import validate_id_token

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tid, client = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc", "550e8400-e29b-41d4-a716-446655440000"
    nonce = hashlib.sha256(b"n").hexdigest()
    now = int(time.time())
    claims = {
        "aud": client,
        "iss": f"https://login.example/{tid}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "sub": "s",
        "oid": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "tid": tid,
        "ver": "2.0",
        "nonce": nonce,
        "email": "a@b.example",
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k"})
    public = key.public_key()
    keys = {"k": public}

    def bare() -> None:
        jwt.decode(token, public, algorithms=["RS256"], audience=client)

    def ours() -> None:
        validate_id_token(
            token,
            keys=keys,
            issuer_host="https://login.example",
            tenant_id=tid,
            client_id=client,
            nonce_hash=nonce,
            now=now,
        )

    results = {}
    for name, fn in (("bare jwt.decode", bare), ("validate_id_token", ours)):
        fn()
        started = time.perf_counter()
        for _ in range(ROUNDS):
            fn()
        results[name] = (time.perf_counter() - started) / ROUNDS
    ratio = results["validate_id_token"] / results["bare jwt.decode"]
    print("ID-token validation")
    for name, seconds in results.items():
        print(f"  {name:<20} {seconds * 1e6:8.1f} us  ({1 / seconds:,.0f}/s)")
    print(f"  ratio ours/bare      {ratio:8.2f}x  (goal <= 1.5x)")


def bench_cold_import() -> None:
    probe = (
        "import sys,time;t=time.perf_counter();import function_app;"
        "import functions.status;"
        "print(round((time.perf_counter()-t)*1000));"
        "print(','.join(m for m in ('msal','azure.identity','azure.keyvault.secrets')"
        " if m in sys.modules) or 'none')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time;t=time.perf_counter();import azure.functions;"
            "print(round((time.perf_counter()-t)*1000))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print("Cold import")
    print(f"  import function_app + status: {out[0]} ms (azure.functions alone: {baseline} ms)")
    print(f"  heavy SDKs loaded: {out[1]}  (goal: none)")


def bench_sign_ins() -> None:
    from devtools.azurite import start_azurite
    from devtools.fake_entra import FakeEntra
    from devtools.fake_keyvault import FakeKeyVault
    from devtools.funchost import FuncHost, load_app
    from devtools.localca import ensure_local_ca
    from shared.container import Services, set_services
    from shared.settings import Settings
    from shared.store.secrets import client_secret_name
    from shared.store.tables import TableStore
    from shared.tenants import OAuth2Config

    os.environ["REQUESTS_CA_BUNDLE"] = str(ensure_local_ca().bundle)
    azurite, vault, entra = start_azurite(), FakeKeyVault().serve(), FakeEntra().serve()
    tid = entra.tenant_ids[0]
    directory = entra.directory(tid)
    assert directory is not None
    app = next(iter(directory.apps.values()))
    user_upn = next(u.upn for u in directory.users.values() if u.enabled)
    calls = [0]

    host = FuncHost(load_app("function_app:app")).start()
    settings = Settings.from_env(
        {
            "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
            "KEY_VAULT_URI": vault.base_url,
            "TABLES_CONNECTION_STRING": azurite.connection_string,
            "AZURE_CREDENTIAL_MODE": "offline",
            "ENTRA_AUTHORITY_HOST": entra.base_url,
            "GRAPH_BASE_URL": entra.graph_base_url,
        }
    )
    services = Services(settings)
    tables = TableStore.from_connection_string(azurite.connection_string)
    for name in ("get", "insert", "upsert", "update", "delete", "transact", "query"):
        method = getattr(tables, name)

        def counted(*args: object, _method: object = method, **kwargs: object) -> object:
            calls[0] += 1  # one adapter call is one round trip (a claim+delete is two)
            return _method(*args, **kwargs)  # type: ignore[operator]

        setattr(tables, name, counted)
    services._built["tables"] = tables
    services.secrets.set_secret(client_secret_name("demo"), app.secrets[0].value)
    services.configs.put_tenant(
        "demo",
        "Demo",
        OAuth2Config(
            enabled=True,
            client_id=app.client_id,
            tenant_id=tid,
            client_secret_set=True,
            customer_id="46478538-4689-45b5-994c-d12a49c354b0",
        ),
    )
    set_services(services)

    def sign_in(http: requests.Session) -> int:
        start = http.get(
            f"{host.url}/api/auth/demo/authorize",
            params={"login_hint": user_upn},
            allow_redirects=False,
        )
        binding = start.headers["Set-Cookie"].split(";")[0]
        back = urlsplit(
            http.get(start.headers["Location"], allow_redirects=False).headers["Location"]
        )
        before = calls[0]
        done = http.get(
            f"{host.url}{back.path}?{back.query}",
            headers={"Cookie": binding},
            allow_redirects=False,
        )
        assert "sso_error" not in done.headers.get("Location", ""), done.headers
        return calls[0] - before

    try:
        with requests.Session() as http:
            for _ in range(3):
                sign_in(http)  # warm: keys, secrets, MSAL client, tables
            print("Complete sign-ins (authorize + Entra stand-in + callback)")
            trips = sign_in(http)
            print(f"  Table Storage round trips in a warm callback: {trips} (goal <= 4)")
        for concurrency, count in ((1, 30), (8, 80)):
            sessions = [requests.Session() for _ in range(concurrency)]
            cpu, wall = time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                work = [sessions[i % concurrency] for i in range(count)]
                list(pool.map(sign_in, work))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            for session in sessions:
                session.close()
            print(
                f"  concurrency {concurrency}: {count / wall:6.1f} sign-ins/s, "
                f"{cpu / count * 1000:5.1f} ms CPU per sign-in (host + stand-ins + client)"
            )
    finally:
        set_services(None)
        host.stop()
        entra.stop()
        vault.stop()
        azurite.stop()


if __name__ == "__main__":
    bench_token_validation()
    bench_cold_import()
    bench_sign_ins()
