"""A small FunctionApp that exercises what the local host must support."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="things/{tenant}/items/{item_id}", methods=["GET"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    body = {"route": dict(req.route_params), "query": dict(req.params)}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="things/{tenant}/form", methods=["POST"])
def post_form(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.form)), mimetype="application/json")


@app.route(route="things/{tenant}/json", methods=["POST", "PUT"])
def post_json(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"got": req.get_json()}), mimetype="application/json")


@app.route(route="cookies", methods=["GET"])
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("two cookies", status_code=302, headers={"Location": "/next"})
    response.headers.add("Set-Cookie", "a=1; Path=/; HttpOnly")
    response.headers.add("Set-Cookie", "b=2; Path=/; Secure")
    return response


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret-detail-that-must-not-leak")
