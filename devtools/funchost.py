"""A local stand-in for the Azure Functions host (dev and tests only).

Core Tools cannot be installed on these machines, so this serves the HTTP
functions of a `func.FunctionApp` (blueprints included) with werkzeug, the way
the host and the Python worker do: route templates under host.json's route
prefix (a template starting with "admin" or "runtime" is refused, prefix or
not, as the host refuses it), 404 for a path no function takes or a method the function does not
accept (the host has no 405), query, form and JSON bodies, response headers and
Set-Cookie lines rewritten as Azure rewrites them (see funchost_wire), a bare
500 for an unhandled exception, and local.settings.json's Values in the
environment (a variable already set wins). On a machine with Core Tools,
`func start` runs the same function_app.

    python -m devtools.funchost --port 7071 [--tls] [--tls-cert F --tls-key F]
                                [--app function_app:app] [--settings FILE]

Werkzeug's server closes the connection after each response and discards what
is left of the request, so a refused request's body is never read as the next
request.

Known differences from Azure: no keep-alive (see above); function keys are not
checked (Core Tools does not check them either); request headers whose name
has "_" are dropped by werkzeug; a function may take only its request (no
`context`, no other bindings); a cookie's Expires must be an HTTP date (the
worker's dateutil reads more formats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import azure.functions as func
from azure.functions.decorators.http import HttpTrigger
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.funchost_routes import RouteTemplate, parse_template, split_path
from devtools.funchost_wire import WireResponse, query_params, render_response, request_headers
from devtools.localca import PROJECT_ROOT, server_ssl_context

log = logging.getLogger("funchost")

# Azure Functions refuses larger request bodies (HTTP trigger limit, 100 MB).
MAX_REQUEST_BYTES = 100 * 1024 * 1024
_QUERY = re.compile(r"\?[^\s'\"]*")


@dataclass(frozen=True)
class Route:
    name: str
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: str
    handler: Callable[..., object]
    request_argument: str


# --- the app's functions ------------------------------------------------------------------

_functions_cache: dict[int, tuple[func.FunctionRegister, list[func.Function]]] = {}
_functions_lock = threading.Lock()


def registered_functions(app: func.FunctionRegister) -> list[func.Function]:
    """The app's functions (asked once per app: see below)."""
    # get_functions() refuses a second call on one app (it re-checks names against
    # those it saw the first time), so it is asked once per app.
    with _functions_lock:
        cached = _functions_cache.get(id(app))
        if cached is None or cached[0] is not app:
            cached = (app, list(app.get_functions()))
            _functions_cache[id(app)] = cached
        return cached[1]


def routes_of(app: func.FunctionRegister, prefix: str) -> list[Route]:
    """The app's HTTP functions, most specific template first (as the host tries them)."""
    routes = []
    for function in registered_functions(app):
        trigger = function.get_trigger()
        if not isinstance(trigger, HttpTrigger):
            continue
        name = function.get_function_name() or trigger.name
        route = str(trigger.route or name).strip("/")
        if is_reserved_route(route):
            # The host puts such a function in error and serves the others: a 404.
            log.error("function %s: %s", name, RESERVED_ROUTE_ERROR)
            continue
        template = "/".join(part for part in (prefix.strip("/"), route) if part)
        try:
            parsed = parse_template(template)
        except ValueError as error:
            raise ValueError(f"function {name}: {error}") from None
        methods = [
            str(getattr(method, "value", method)).upper() for method in trigger.methods or ()
        ]
        handler = function.get_user_function()
        _check_parameters(name, handler, trigger.name)
        routes.append(
            Route(
                name=name,
                template=parsed,
                methods=frozenset(methods) or None,
                auth_level=str(getattr(trigger.auth_level, "value", trigger.auth_level)),
                handler=handler,
                request_argument=trigger.name,
            )
        )
    routes.sort(key=lambda route: (route.template.precedence, route.template.text.lower()))
    return routes


@dataclass
class _RouteNode:
    routes: list[tuple[int, Route]] = field(default_factory=list)
    children: dict[str, _RouteNode] = field(default_factory=dict)


class RouteIndex:
    """The routes that may match a path, in the order given (precedence), found by
    walking the templates' leading literal segments: a request tries the handful of
    templates that share its path's start, not every one."""

    def __init__(self, routes: list[Route]) -> None:
        self._root = _RouteNode()
        for order, route in enumerate(routes):
            node = self._root
            for literal in route.template.literal_prefix:
                node = node.children.setdefault(literal, _RouteNode())
            node.routes.append((order, route))

    def candidates(self, path: Sequence[str]) -> list[Route]:
        node = self._root
        found = list(node.routes)
        for segment in path:
            child = node.children.get(segment.casefold())
            if child is None:
                break
            node = child
            found += node.routes
        found.sort(key=lambda entry: entry[0])
        return [route for _, route in found]


RESERVED_ROUTE_ERROR = "The specified route conflicts with one or more built in routes."


def is_reserved_route(route: str) -> bool:
    """The host's own check (ScriptHost.ValidateHttpFunction): a route template that
    starts with "admin" or "runtime", whatever the route prefix, is refused."""
    text = route.strip("/").lower()
    return text.startswith(("admin", "runtime"))


def _check_parameters(name: str, handler: Callable[..., object], argument: str) -> None:
    parameters = inspect.signature(handler).parameters
    if argument not in parameters:
        # The worker refuses to index such a function, so the app would not start in Azure.
        raise ValueError(
            f"function {name}: its HTTP trigger binds {argument!r} but the function has no"
            " parameter of that name"
        )
    others = [
        parameter
        for parameter in parameters.values()
        if parameter.name != argument
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if others:
        log.warning(
            "function %s needs %s, which the local host does not supply: calls will fail",
            name,
            ", ".join(repr(parameter.name) for parameter in others),
        )


def route_prefix(host_json: Path) -> str:
    """extensions.http.routePrefix from host.json: "api" when the file or the key is absent."""
    if not host_json.exists():
        return "api"
    try:
        config = json.loads(host_json.read_text(encoding="utf-8-sig"))
    except ValueError as error:
        raise ValueError(f"{host_json} is not valid JSON: {error}") from None
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def load_app(spec: str) -> func.FunctionRegister:
    """`module:attribute` (attribute defaults to `app`) -> the FunctionApp it names."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, func.FunctionRegister):
        raise SystemExit(f"{spec} is not an azure.functions.FunctionApp")
    return app


# --- local.settings.json ------------------------------------------------------------------


class LocalSettingsError(ValueError):
    """local.settings.json exists but cannot be used (names the file, never a value)."""


def read_local_settings(path: Path) -> dict[str, str]:
    """The Values of a local.settings.json as strings; {} when the file is absent."""
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise LocalSettingsError(
            f"{path} is not valid JSON ({error.msg}, line {error.lineno})"
        ) from None
    if not isinstance(document, dict):
        raise LocalSettingsError(f"{path} must hold a JSON object")
    if document.get("IsEncrypted") is True:
        raise LocalSettingsError(
            f"{path} is encrypted (IsEncrypted: true); decrypt it with"
            " `func settings decrypt` or write plain values"
        )
    values = document.get("Values", {})
    if not isinstance(values, dict):
        raise LocalSettingsError(f"{path}: Values must be an object")
    return {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in values.items()
        if value is not None
    }


def apply_settings(
    values: Mapping[str, str], environ: MutableMapping[str, str], *, root: Path
) -> tuple[dict[str, str], list[str]]:
    """Put values into environ where it has none; returns (applied, names skipped).

    A relative REQUESTS_CA_BUNDLE is made absolute against the project root, so
    the setting holds wherever the process later runs from.
    """
    applied: dict[str, str] = {}
    skipped: list[str] = []
    for name, value in values.items():
        if name in environ:
            skipped.append(name)
            continue
        if name == "REQUESTS_CA_BUNDLE" and value and not os.path.isabs(value):
            value = str((root / value).resolve())
        environ[name] = value
        applied[name] = value
    return applied, skipped


def load_local_settings(
    path: Path, environ: MutableMapping[str, str] | None = None, *, root: Path | None = None
) -> dict[str, str]:
    """local.settings.json's Values into the environment as `func start` does (the
    environment wins); root defaults to the file's folder. Returns what was applied."""
    target = os.environ if environ is None else environ
    applied, _ = apply_settings(read_local_settings(path), target, root=root or path.parent)
    return applied


# --- HTTP ---------------------------------------------------------------------------------


class FunctionsWsgiApp:
    """Routes a request to its function and answers as the Functions host would."""

    def __init__(self, routes: list[Route], *, rewrite_cookies: bool = True) -> None:
        self.routes = routes
        self._index = RouteIndex(routes)
        self.rewrite_cookies = rewrite_cookies
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()
        # Told of every answer a function gives (tests check answers against the spec).
        self.on_answer: Callable[[Route, str, int], None] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        started = time.perf_counter()
        note = ""
        try:
            # The whole body is read before any answer, a refusal included: bytes left
            # unread must never be taken for the next request.
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            response, note = _bare(413), " (body over the 100 MB limit)"
        else:
            if request.content_length is None and body:
                # The host hands a body to the worker only with a Content-Length
                # (azure-functions-host#7930): a chunked body arrives empty.
                body, note = b"", " (chunked body: the function gets none, as in Azure)"
            response, routing_note = self._dispatch(request, body)
            note += routing_note
        elapsed = (time.perf_counter() - started) * 1000
        # Method, path, status and time only: query strings carry codes and states,
        # headers carry cookies and keys, bodies carry anything.
        log.info(
            "%s %s -> %d (%.1f ms)%s",
            request.method,
            request.path,
            response.status_code,
            elapsed,
            note,
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request, body: bytes) -> tuple[Response, str]:
        path = split_path(_raw_path(request.environ))
        method = request.method.upper()
        refused: Route | None = None
        for route in self._index.candidates(path):
            route_params = route.template.match(path)
            if route_params is None:
                continue
            if route.methods is not None and method not in route.methods:
                refused = refused or route
                continue
            response = self._invoke(route, request, body, route_params)
            if self.on_answer is not None:
                self.on_answer(route, method, response.status_code)
            return response, ""
        if refused is not None and refused.methods is not None:
            allowed = ",".join(sorted(refused.methods))
            return _bare(404), f" ({refused.name} takes {allowed}; the host answers 404)"
        return _bare(404), ""

    def _invoke(
        self, route: Route, request: Request, body: bytes, route_params: dict[str, str]
    ) -> Response:
        http_request = func.HttpRequest(
            method=request.method,
            url=f"{request.scheme}://{request.host}{_raw_target(request.environ)}",
            headers=request_headers(request.headers.items()),
            params=query_params(request.args.items(multi=True)),
            route_params=route_params,
            body=body,
        )
        try:
            result = route.handler(**{route.request_argument: http_request})
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            wire = render_response(result, rewrite_cookies=self.rewrite_cookies)
        except Exception:
            # Azure logs the failure and answers a bare 500: nothing reaches the client.
            log.exception("function %s failed", route.name)
            return _bare(500)
        self._warn(route, wire)
        return _to_werkzeug(wire)

    def _warn(self, route: Route, wire: WireResponse) -> None:
        for warning in wire.warnings:
            with self._warned_lock:
                if warning in self._warned:
                    continue
                self._warned.add(warning)
            log.warning("function %s: %s", route.name, warning)


async def _awaited(awaitable: Any) -> object:
    return await awaitable


def _raw_target(environ: Mapping[str, Any]) -> str:
    """The request target as the client sent it (path and query, still encoded)."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw.startswith("/"):
        return raw
    path = str(environ.get("PATH_INFO", "/"))
    query = str(environ.get("QUERY_STRING", ""))
    return f"{path}?{query}" if query else path


def _raw_path(environ: Mapping[str, Any]) -> str:
    return _raw_target(environ).split("?", 1)[0]


def _to_werkzeug(wire: WireResponse) -> Response:
    response = Response(wire.body, status=wire.status, headers=wire.headers)
    return response


def _bare(status: int) -> Response:
    # The host's own 404/413/500 have no body and no Content-Type.
    response = Response(b"", status=status)
    del response.headers["Content-Type"]
    return response


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's request line carries the query string: FunctionsWsgiApp logs instead."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log(self, type: str, message: str, *args: Any) -> None:
        # Errors (bad request lines, TLS failures) are kept, without query strings.
        text = message % args if args else message
        log.warning("%s", _QUERY.sub("?...", text))


class FuncHost:
    """Serve a FunctionApp over HTTP(S): in a background thread (`start()`, tests and
    `make dev`) or in the calling thread (`serve_forever()`, the command line).

    The port is bound on construction (port 0 picks a free one; see `url`).
    """

    def __init__(
        self,
        app: func.FunctionRegister,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        prefix: str | None = None,
        root: Path | None = None,
        rewrite_cookies: bool = True,
    ) -> None:
        resolved = route_prefix((root or PROJECT_ROOT) / "host.json") if prefix is None else prefix
        self.routes = routes_of(app, resolved)
        self.app = FunctionsWsgiApp(self.routes, rewrite_cookies=rewrite_cookies)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=ssl_context,
        )
        scheme = "https" if ssl_context else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{self._server.server_port}"
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._closed = False
        self._close_lock = threading.Lock()

    def start(self) -> FuncHost:
        # Marked before the thread runs, so an immediate stop() still shuts it down.
        self._serving.set()
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"funchost {self.url}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until stop() (from another thread) or KeyboardInterrupt."""
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    def stop(self) -> None:
        if self._serving.is_set():
            self._server.shutdown()  # waits for serve_forever to return
            self._serving.clear()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._server.server_close()

    def __enter__(self) -> FuncHost:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def banner(host: FuncHost) -> str:
    """What `func start` prints: the URL and each function's methods and URL."""
    lines = [f"Functions host (local stand-in) listening on {host.url}", "", "Functions:"]
    for route in host.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
        # Core Tools does not check function keys locally either.
        level = "" if route.auth_level.lower() == "anonymous" else f" (auth: {route.auth_level})"
        lines.append(f"    {route.name}: [{methods}] {host.url}/{route.template.text}{level}")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------


def _ssl_context(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> ssl.SSLContext | None:
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(args.tls_cert), str(args.tls_key))
        return context
    return server_ssl_context() if args.tls else None


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.funchost",
        description="Serve function_app's HTTP functions locally, as `func start` would.",
    )
    parser.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--app", default="function_app:app", help="module:attribute")
    parser.add_argument("--settings", type=Path, help="default: ./local.settings.json")
    parser.add_argument("--tls", action="store_true", help="HTTPS with the local CA")
    parser.add_argument("--tls-cert", type=Path, help="HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="... and this key (PEM)")
    parser.add_argument(
        "--raw-cookies",
        action="store_true",
        help="send Set-Cookie headers as written, without Azure's rewriting",
    )
    parser.add_argument(
        "--tables-prefix",
        help="name the app's tables with this prefix (tests: private tables on a shared Azurite)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # azure-core logs every outbound request at INFO; the app's own logs stay visible.
    logging.getLogger("azure").setLevel(logging.WARNING)

    root = Path.cwd()
    settings = args.settings or root / "local.settings.json"
    try:
        _, skipped = apply_settings(read_local_settings(settings), os.environ, root=root)
    except LocalSettingsError as error:
        parser.exit(2, f"funchost: {error}\n")
    for name in skipped:
        print(f"Skipping '{name}' from {settings.name}: already set in the environment.")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    context = _ssl_context(args, parser)
    if args.tables_prefix:
        _use_tables_prefix(args.tables_prefix)
    host = FuncHost(
        load_app(args.app),
        host=args.host,
        port=args.port,
        ssl_context=context,
        root=root,
        rewrite_cookies=not args.raw_cookies,
    )
    print(banner(host), flush=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with contextlib.suppress(KeyboardInterrupt):
        host.serve_forever()


def _use_tables_prefix(prefix: str) -> None:
    from shared.container import Services, set_services
    from shared.settings import get_settings
    from shared.store.tables import TableStore

    settings = get_settings()
    if settings.tables_connection_string is None:
        raise SystemExit("funchost: --tables-prefix needs TABLES_CONNECTION_STRING")
    services = Services(settings)
    connection = settings.tables_connection_string.reveal()
    tables = TableStore.from_connection_string(connection, prefix=prefix)
    services.override("tables", tables)
    set_services(services)


if __name__ == "__main__":
    main()
