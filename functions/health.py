"""GET /api/health: are Table Storage and Key Vault answering? Never a secret."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from functions import web
from shared.errors import EntraBridgeError

bp = func.Blueprint()


@bp.route(route="api/health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.container import get_services

    try:
        services = get_services()
        probes: dict[str, Callable[[], None]] = {
            "table_storage": lambda: services.tables.ping(),
            "key_vault": lambda: services.secrets.ping(),
        }
    except EntraBridgeError as error:  # a setting is missing or malformed
        return _answer({"settings": f"failing: {error.description}"})
    checks: dict[str, str] = {"settings": "ok"}
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except EntraBridgeError:
            checks[name] = "unavailable"
    return _answer(checks)


def _answer(checks: dict[str, str]) -> func.HttpResponse:
    healthy = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return web.json_response(body, 200 if healthy else 503)
