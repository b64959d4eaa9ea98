"""GET /api/health: placeholder until the storage and Key Vault checks land."""

import json

import azure.functions as func

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"status": "ok", "checks": {}}), mimetype="application/json"
    )
