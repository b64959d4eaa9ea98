"""`make bench`: sign-in cost figures, each against a baseline measured in the same run.

1. ID-token validation vs a bare `jwt.decode` with a pre-loaded key (goal <= 1.5x).
2. What `import function_app` and the status route load (goal: no MSAL, no
   azure-identity, no Key Vault SDK).
3. Complete sign-ins through the local host against the Entra and Key Vault
   stand-ins and Azurite (`bench/signin.py`): Table Storage round trips and
   Key Vault / discovery / JWKS fetches per warm callback, sign-ins per second
   at concurrency 1 and 8, and the host process's CPU ms per sign-in; the cost of
   the session revocation check per `/me` and per admin request next to the
   request's own (`bench/sessions.py`); what the sign-in start throttle adds per
   `authorize`, for each way of sharing its count, and what a refused start costs
   (`bench/throttle.py`); SCIM user creates and group member patches per second
   and their Table round trips (`bench/scim.py`).
Benchmarks, not tests: they print figures and assert nothing.
"""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.scale import times

ROUNDS = times(3000, 20)
ROUND_SIZE = times(200, 10)


def bench_token_validation() -> None:
    from shared.entra.id_tokens import validate_id_token

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

    # Alternating rounds, median of each: a machine's noise falls on both alike.
    samples: dict[str, list[float]] = {"bare jwt.decode": [], "validate_id_token": []}
    calls = {"bare jwt.decode": bare, "validate_id_token": ours}
    for fn in calls.values():
        fn()
    for _ in range(ROUNDS // ROUND_SIZE):
        for name, fn in calls.items():
            started = time.perf_counter()
            for _ in range(ROUND_SIZE):
                fn()
            samples[name].append((time.perf_counter() - started) / ROUND_SIZE)
    results = {name: statistics.median(values) for name, values in samples.items()}
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
    print(f"  heavy SDKs loaded by the import: {out[1]}  (goal: none)")


if __name__ == "__main__":
    bench_token_validation()
    bench_cold_import()
    from bench import signin

    signin.main()
