"""GET /api/health: are Table Storage and Key Vault answering, and can every tenant
sign in? Never a secret. Answered from a probe at most 30 s old (shared.admin.health):
a flood of health requests is no flood of Key Vault calls."""

from __future__ import annotations

import hmac

import azure.functions as func

from functions import web
from shared.errors import EntraBridgeError
from shared.secret import Secret

bp = func.Blueprint()


@bp.route(route="api/health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.container import get_services

    try:
        services = get_services()
        report = services.health.report()
    except EntraBridgeError as error:  # a setting is missing or malformed
        failing = {"settings": f"failing: {error.description}"}
        return web.json_response({"status": "unavailable", "checks": failing}, 503)
    operator = _is_operator(req, services.settings.platform_admin_key)
    body = report.to_body(name_tenants=operator)
    return web.json_response(body, 503 if report.status == "unavailable" else 200)


def _is_operator(req: func.HttpRequest, key: Secret | None) -> bool:
    """The platform operators (their key) may see which tenants are degraded."""
    given = str(req.headers.get("X-Platform-Admin-Key") or "")
    if not given or key is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), key.reveal().encode())
