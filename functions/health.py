"""GET /api/health: are Table Storage and Key Vault answering, and can every tenant
sign in? Never a secret. Answered from a probe at most 30 s old (shared.admin.health):
a flood of health requests is no flood of Key Vault calls."""

from __future__ import annotations

import azure.functions as func

from functions import web
from shared.errors import EntraBridgeError

bp = web.Blueprint()


@bp.route(route="api/health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.admin.auth import is_platform_key
    from shared.container import get_services

    try:
        services = get_services()
        report = services.health.report()
    except EntraBridgeError as error:  # a setting is missing or malformed
        failing = {"settings": f"failing: {error.description}"}
        return web.json_response({"status": "unavailable", "checks": failing}, 503)
    # Only the platform operators (their key) see which tenants are degraded.
    given = req.headers.get("X-Platform-Admin-Key")
    operator = is_platform_key(given, services.settings.platform_admin_key)
    body = report.to_body(name_tenants=operator)
    return web.json_response(body, 503 if report.status == "unavailable" else 200)
