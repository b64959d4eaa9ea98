"""GET /api/auth/{tenant}/status: public sign-in options of a tenant (cheap to load)."""

from __future__ import annotations

import azure.functions as func

from functions import web

bp = web.Blueprint()


@bp.route(route="api/auth/{tenant}/status", methods=["GET"])
@web.api
def status(req: func.HttpRequest) -> func.HttpResponse:
    from shared.container import get_services
    from shared.signin.status import sign_in_status

    tenant = web.tenant_of(req)
    services = get_services()
    status = sign_in_status(
        services.configs, tenant, public_base_url=services.settings.public_base_url
    )
    return web.json_response(status.to_body())
