"""GET /api/.well-known/jwks.json: the keys that verify entrabridge's access tokens."""

from __future__ import annotations

import azure.functions as func

from functions import web

bp = web.Blueprint()


@bp.route(route="api/.well-known/jwks.json", methods=["GET"])
@web.api
def jwks(req: func.HttpRequest) -> func.HttpResponse:
    from shared.container import get_services
    from shared.sessions.keys import jwks_document

    ring = get_services().session_keys
    ring.current()  # creates the first key on a fresh deployment
    return web.json_response(
        jwks_document(ring.verification_keys()),
        extra_headers={"Cache-Control": "public, max-age=300"},
    )
