"""A small FunctionApp exercising what the local Functions host must support.

Not a pytest plugin (tests/support/ is): the host imports it by name.
"""

import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
bp = func.Blueprint()


def _json(body: object) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="things/{tenant}/items/{item_id}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route": dict(req.route_params), "query": dict(req.params)})


@app.route(route="things/{tenant}/form", methods=["POST"])
def post_form(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.form))


@app.route(route="things/{tenant}/json", methods=["POST", "PUT"])
def post_json(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"got": req.get_json(), "url": req.url})


@app.route(route="anything")
def anything(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"method": req.method, "body": req.get_body().decode()})


@app.route(route="echo-headers", methods=["GET"])
def echo_headers(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.headers))


@app.route(route="cookies", methods=["GET"])
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("two cookies", status_code=302, headers={"Location": "/next"})
    response.headers.add("Set-Cookie", "a=1; Path=/; HttpOnly")
    response.headers.add("Set-Cookie", "b=2; Path=/; Secure")
    return response


@app.route(route="cookies/as-azure-sends-them", methods=["GET"])
def azure_cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("", status_code=204)
    response.headers.add(
        "Set-Cookie", "__Host-sid=a+b/c=; Max-Age=900; Path=/; HttpOnly; Secure; SameSite=Lax"
    )
    response.headers.add("Set-Cookie", "gone=1; Path=/; Secure; Partitioned")
    response.headers.add("Set-Cookie", "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return response


@app.route(route="page", methods=["GET"])
def page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "<p>hi</p>", mimetype="text/html", headers={"X-Custom": "1", "x-custom": "2"}
    )


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.route_params))


@app.route(route="versions/{number:int}", methods=["GET"])
def version_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "number", **req.route_params})


@app.route(route="versions/{name}", methods=["GET"])
def version_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "name", **req.route_params})


@app.route(route="versions/{name}/{page?}", methods=["GET"])
def version_page(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"by": "page", **req.route_params})


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret-detail-that-must-not-leak")


@app.route(route="env/{name}", methods=["GET"])
def env(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"value": os.environ.get(req.route_params["name"])})


# Registered before `latest` although it is more general: the host still prefers the literal.
@bp.route(route="bp/{anything}", methods=["GET"])
def from_blueprint(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"from": "blueprint", **req.route_params})


@bp.route(route="bp/latest", methods=["GET"])
def latest(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"from": "literal"})


app.register_functions(bp)
