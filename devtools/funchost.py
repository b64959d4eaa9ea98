"""A local stand-in for the Azure Functions host (dev and tests only).

Core Tools cannot be installed on these machines, so this serves the HTTP
functions registered in a `func.FunctionApp` with werkzeug, the way the host
does: route templates under the host.json route prefix, 404/405, query, form
and JSON bodies, several Set-Cookie headers, settings from local.settings.json
(the environment wins). On a machine with Core Tools, `func start` runs the
same function_app.

    python -m devtools.funchost --port 7071 [--tls] [--tls-cert F --tls-key F]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.localca import PROJECT_ROOT, server_ssl_context

log = logging.getLogger("funchost")
_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?(\?)?\}")


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: every method
    handler: Callable[[func.HttpRequest], func.HttpResponse]


def compile_template(template: str) -> re.Pattern[str]:
    """`auth/{tenant}/callback` -> a regex with named groups; `{x?}` optional, `{*rest}`."""
    pattern = ""
    position = 0
    for match in _PARAM.finditer(template):
        pattern += re.escape(template[position : match.start()])
        catch_all, name, optional = match.group(1), match.group(2), match.group(3)
        body = ".+" if catch_all else "[^/]+"
        if optional:
            if pattern.endswith("/"):
                pattern = pattern[:-1] + f"(?:/(?P<{name}>{body}))?"
            else:
                pattern += f"(?P<{name}>{body})?"
        else:
            pattern += f"(?P<{name}>{body})"
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile(f"^{pattern}$", re.IGNORECASE)


def route_prefix(host_json: Path) -> str:
    try:
        config = json.loads(host_json.read_text())
    except (OSError, ValueError):
        return "api"
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


_functions_cache: dict[int, tuple[func.FunctionApp, list[Any]]] = {}
_functions_lock = threading.Lock()


def _functions(app: func.FunctionApp) -> list[Any]:
    # FunctionApp.get_functions() refuses to run twice on one app (it re-validates
    # names against what it registered the first time), so ask once per app.
    with _functions_lock:
        cached = _functions_cache.get(id(app))
        if cached is None or cached[0] is not app:
            cached = (app, list(app.get_functions()))
            _functions_cache[id(app)] = cached
        return cached[1]


def routes_of(app: func.FunctionApp, prefix: str) -> list[Route]:
    routes = []
    for function in _functions(app):
        trigger = function.get_trigger()
        if not isinstance(trigger, func.decorators.http.HttpTrigger):
            continue
        name = function.get_function_name() or trigger.name
        template = (trigger.route or name).strip("/")
        full = f"{prefix}/{template}" if prefix else template
        methods = (
            frozenset(str(getattr(m, "value", m)).upper() for m in trigger.methods)
            if trigger.methods
            else None
        )
        routes.append(
            Route(
                name=name,
                template=full,
                pattern=compile_template(full),
                methods=methods,
                handler=function.get_user_function(),
            )
        )
    return routes


def load_local_settings(
    path: Path, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Put local.settings.json's Values into the environment, as `func start` does.

    A variable already set wins. A relative REQUESTS_CA_BUNDLE is made absolute
    against the file's folder. Returns what was applied.
    """
    env = os.environ if environ is None else environ
    if not path.exists():
        return {}
    values = json.loads(path.read_text()).get("Values", {})
    applied: dict[str, str] = {}
    for name, value in values.items():
        if name in env or value is None:
            continue
        text = str(value)
        if name == "REQUESTS_CA_BUNDLE" and text and not os.path.isabs(text):
            text = str((path.parent / text).resolve())
        env[name] = text
        applied[name] = text
    return applied


class FunctionsWsgiApp:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        # Read the whole body first, even for a request refused below: leftover bytes
        # would be parsed as the next request on a keep-alive connection.
        body = request.get_data(cache=True)
        response = self._dispatch(request, body)
        elapsed = (time.perf_counter() - started) * 1000
        # Path only: query strings carry authorization codes and states.
        log.info(
            "%s %s -> %d (%.1f ms)", request.method, request.path, response.status_code, elapsed
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request, body: bytes) -> Response:
        path = request.path.strip("/")
        path_matched = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            path_matched = True
            if route.methods is not None and request.method.upper() not in route.methods:
                continue
            route_params = {k: v for k, v in match.groupdict().items() if v is not None}
            return self._invoke(route, request, body, route_params)
        if path_matched:
            return _json(405, {"error": "method_not_allowed"})
        return _json(404, {"error": "not_found"})

    @staticmethod
    def _invoke(
        route: Route, request: Request, body: bytes, route_params: Mapping[str, str]
    ) -> Response:
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers.items()),
            params=request.args.to_dict(flat=True),
            route_params=dict(route_params),
            body=body,
        )
        try:
            result = route.handler(http_request)
        except Exception:
            print(f"funchost: function {route.name} raised:", file=sys.stderr)
            traceback.print_exc()
            return _json(500, {"error": "internal_error"})
        return _to_werkzeug(result)


def _to_werkzeug(result: func.HttpResponse) -> Response:
    response = Response(result.get_body(), status=result.status_code)
    # Iterating azure.functions' response headers yields (name, value) pairs, one per
    # value, so several Set-Cookie headers stay separate.
    for name, value in list(result.headers):
        response.headers.add(name, value)
    has_type = any(name.lower() == "content-type" for name, _ in result.headers)
    if not has_type and result.mimetype:
        charset = f"; charset={result.charset}" if result.charset else ""
        response.headers["Content-Type"] = f"{result.mimetype}{charset}"
    return response


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's own log line has the query string; ours (above) does not."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class FuncHost:
    """Serve a FunctionApp on 127.0.0.1 in a background thread (tests, `make dev`)."""

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        prefix: str | None = None,
    ) -> None:
        resolved_prefix = route_prefix(PROJECT_ROOT / "host.json") if prefix is None else prefix
        self.routes = routes_of(app, resolved_prefix)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            FunctionsWsgiApp(self.routes),
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=ssl_context,
        )
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{host}:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def start(self) -> FuncHost:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def load_app(spec: str) -> func.FunctionApp:
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not isinstance(app, func.FunctionApp):
        raise SystemExit(f"{spec} is not an azure.functions.FunctionApp")
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--app", default="function_app:app")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    parser.add_argument("--tls", action="store_true", help="HTTPS with the local CA")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    load_local_settings(args.settings)
    sys.path.insert(0, os.getcwd())
    context: ssl.SSLContext | None = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(args.tls_cert), str(args.tls_key))
    elif args.tls:
        context = server_ssl_context()
    host = FuncHost(load_app(args.app), host=args.host, port=args.port, ssl_context=context)
    print(f"Functions host (local stand-in) listening on {host.url}", flush=True)
    for route in host.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "ANY"
        print(f"  {route.name}: [{methods}] {host.url}/{route.template}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        host.serve_forever()


if __name__ == "__main__":
    main()
