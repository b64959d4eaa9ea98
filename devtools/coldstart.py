"""What a fresh worker loads to answer the status route and the hosted login page.

`python -m devtools.coldstart TENANT` (settings from the environment, as on a
new instance): imports `function_app`, calls the registered `status` and
`login` functions once each, and prints one JSON line: the import time, each
answer's status code, and which heavy SDKs ended up loaded. Used by `make
bench` and tests/integration/test_cold_start.py.
"""

from __future__ import annotations

import json
import sys
import time

HEAVY_SDKS = ("msal", "azure.identity", "azure.keyvault.secrets")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devtools.coldstart TENANT", file=sys.stderr)
        return 2
    tenant = argv[0]
    started = time.perf_counter()
    import azure.functions as func

    from function_app import app

    import_ms = (time.perf_counter() - started) * 1000
    from devtools.funchost import registered_functions

    answers: dict[str, int] = {}
    for function in registered_functions(app):
        name = function.get_function_name()
        if name not in ("status", "login"):
            continue
        request = func.HttpRequest(
            method="GET",
            url=f"http://127.0.0.1/api/auth/{tenant}/{name}",
            headers={},
            params={},
            route_params={"tenant": tenant},
            body=b"",
        )
        answers[name] = function.get_user_function()(request).status_code
    loaded = [module for module in HEAVY_SDKS if module in sys.modules]
    print(json.dumps({"import_ms": round(import_ms), "answers": answers, "heavy_sdks": loaded}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
