"""SCIM throughput, as Entra's provisioning service loads it: user creates and group
member patches per second through the local host (one client, requests in a row,
as Entra sends them per tenant), and Table Storage round trips per request (one
adapter call is one round trip). The baseline in the same run: a bare point read
of Table Storage through the same adapter, as requests per second. Printed by
`make bench` (bench/signin.py runs it on the same stand-ins).

Goal (issue 17): at most 3 Table round trips per SCIM request; Entra sends up to
~100 operations a minute per tenant, so a few requests per second is ample.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests

from bench.scale import times
from bench.signin import TENANT, Stack, in_process_host

COUNT = times(150)
SCIM_JSON = {"Content-Type": "application/scim+json"}
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _counted_tables(stack: Stack) -> tuple[Any, list[int]]:
    from shared.store.tables import TableStore

    calls = [0]
    tables = TableStore.from_connection_string(stack.settings["TABLES_CONNECTION_STRING"])
    for name in ("get", "insert", "upsert", "update", "delete", "transact", "query"):
        method = getattr(tables, name)

        def counted(*args: object, _method: Any = method, **kwargs: object) -> object:
            calls[0] += 1
            return _method(*args, **kwargs)

        setattr(tables, name, counted)
    return tables, calls


def _user(n: int) -> dict[str, Any]:
    return {
        "schemas": [CORE],
        "externalId": str(uuid.uuid4()),
        "userName": f"bench-{n}-{uuid.uuid4().hex[:8]}@demo.example",
        "active": True,
        "displayName": f"Bench User {n}",
        "emails": [{"primary": True, "type": "work", "value": f"bench-{n}@demo.example"}],
    }


def main(stack: Stack) -> None:
    from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
    from shared.container import Services
    from shared.settings import Settings

    tables, calls = _counted_tables(stack)
    services = Services(Settings.from_env(stack.settings))
    services.override("tables", tables)
    token = services.scim.new_token(
        AdminCaller(actor=PLATFORM_ACTOR, platform=True), TENANT, ip=None
    )["token"]
    auth = {"Authorization": f"Bearer {token}"}
    with in_process_host(services) as url, requests.Session() as http:
        base = f"{url}/api/scim/v2/{TENANT}"

        def post(path: str, body: object) -> dict[str, Any]:
            answer = http.post(f"{base}{path}", data=json.dumps(body), headers=auth | SCIM_JSON)
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        group = post(
            "/Groups",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "externalId": str(uuid.uuid4()),
                "displayName": f"Bench {uuid.uuid4().hex[:6]}",
            },
        )
        for n in range(5):  # warm: the first request imports scim2-models
            post("/Users", _user(-n - 1))

        before, started = calls[0], time.perf_counter()
        created = [post("/Users", _user(n))["id"] for n in range(COUNT)]
        create_rate = COUNT / (time.perf_counter() - started)
        create_trips = (calls[0] - before) / COUNT

        before, started = calls[0], time.perf_counter()
        for user_id in created:
            answer = http.patch(
                f"{base}/Groups/{group['id']}",
                data=json.dumps(
                    {
                        "schemas": [PATCH],
                        "Operations": [
                            {"op": "Add", "path": "members", "value": [{"value": user_id}]}
                        ],
                    }
                ),
                headers=auth | SCIM_JSON,
            )
            assert answer.status_code == 200, answer.text
        patch_rate = COUNT / (time.perf_counter() - started)
        patch_trips = (calls[0] - before) / COUNT

        before, started = calls[0], time.perf_counter()
        for _ in range(COUNT):
            tables.get("users", TENANT, "scimtoken")
        read_rate = COUNT / (time.perf_counter() - started)

    print("SCIM (Entra's provisioning load; one client, requests in a row)")
    print(f"  baseline: a bare Table Storage point read, {read_rate:6.0f}/s")
    print(
        f"  POST /Users (create)           {create_rate:6.1f}/s ({create_rate / read_rate:.3f}x"
        f" the read), {create_trips:.1f} Table round trips per request (goal <= 3; the"
        " token is read once per 30 s per instance)"
    )
    print(
        f"  PATCH /Groups/{{id}} +1 member   {patch_rate:6.1f}/s ({patch_rate / read_rate:.3f}x"
        f" the read), {patch_trips:.1f} Table round trips per request (goal <= 3: the group"
        " with its members in one range read while under 1,000, the member, the write)"
    )
