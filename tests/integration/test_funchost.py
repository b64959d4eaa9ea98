"""The local Functions host serves registered functions as the Azure host would, over real HTTP."""

from __future__ import annotations

import http.client
import json
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import azure.functions as func
import pytest
import requests

from devtools.funchost import (
    FuncHost,
    LocalSettingsError,
    load_app,
    load_local_settings,
    read_local_settings,
)
from devtools.localca import ensure_local_ca, server_ssl_context
from tests.support.funchost import SAMPLE_APP, command_line

# --- routing ------------------------------------------------------------------------------


def test_route_parameters_and_query_reach_the_function(sample_host: FuncHost) -> None:
    response = requests.get(
        f"{sample_host.url}/api/things/acme/items/42?x=1&y=two&x=3&empty=", timeout=5
    )
    assert response.status_code == 200
    # As the host hands them over: a repeated parameter joined, an empty one left out.
    assert response.json() == {
        "route": {"tenant": "acme", "item_id": "42"},
        "query": {"x": "1,3", "y": "two"},
    }


def test_the_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    app = load_app(SAMPLE_APP)
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": "v1"}}}')
    with FuncHost(app, root=tmp_path) as host:
        assert requests.get(f"{host.url}/v1/things/a/items/1", timeout=5).status_code == 200
        assert requests.get(f"{host.url}/api/things/a/items/1", timeout=5).status_code == 404
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    with FuncHost(app, root=tmp_path) as host:
        assert requests.get(f"{host.url}/things/a/items/1", timeout=5).status_code == 200


def test_without_host_json_the_prefix_is_api(tmp_path: Path) -> None:
    with FuncHost(load_app(SAMPLE_APP), root=tmp_path) as host:
        assert requests.get(f"{host.url}/api/things/a/items/1", timeout=5).status_code == 200


def test_an_unknown_path_is_a_bare_404(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/nothing/here", timeout=5)
    assert response.status_code == 404
    assert response.content == b""
    assert requests.get(f"{sample_host.url}/things/acme/items/42", timeout=5).status_code == 404


def test_a_method_the_function_does_not_take_is_404_as_in_azure(sample_host: FuncHost) -> None:
    # The Functions host has no 405: a known route with another method is not found
    # (azure-functions-host#10098), HEAD on a GET-only route included (#11625).
    url = f"{sample_host.url}/api/things/acme/items/42"
    assert requests.delete(url, timeout=5).status_code == 404
    assert requests.head(url, timeout=5).status_code == 404
    assert requests.get(url, timeout=5).status_code == 200


def test_a_function_without_methods_takes_every_method(sample_host: FuncHost) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = requests.request(method, f"{sample_host.url}/api/anything", data="x", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"method": method, "body": "x"}


def test_literal_segments_and_constraints_win_whatever_the_registration_order(
    sample_host: FuncHost,
) -> None:
    def get(path: str) -> object:
        return requests.get(f"{sample_host.url}/api/{path}", timeout=5).json()

    assert get("versions/42") == {"by": "number", "number": "42"}
    assert get("versions/latest") == {"by": "name", "name": "latest"}
    assert get("versions/latest/") == {"by": "name", "name": "latest"}
    assert get("versions/latest/3") == {"by": "page", "name": "latest", "page": "3"}
    assert get("bp/latest") == {"from": "literal"}
    assert get("bp/other") == {"from": "blueprint", "anything": "other"}


def test_a_catch_all_parameter_takes_the_rest_of_the_path(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/files/a/b%2Fc/d%20e.txt", timeout=5)
    # Decoded as Kestrel decodes a path: everything but an encoded slash.
    assert response.json() == {"path": "a/b%2Fc/d e.txt"}
    assert requests.get(f"{sample_host.url}/api/files", timeout=5).json() == {}


def test_a_template_the_local_host_cannot_honour_stops_it_at_start_up() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="at/{when:datetime}")
    def at(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    with pytest.raises(ValueError, match=r"function at: .*'datetime' is not supported"):
        FuncHost(app)


@pytest.mark.parametrize("route", ["admin/tenants/{tenant}", "Admin", "/runtime/x", "administer"])
def test_a_route_in_the_hosts_reserved_space_is_refused_as_the_host_refuses_it(
    route: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The host refuses templates starting with "admin" or "runtime" whatever the route
    # prefix: the function is in error and its path answers 404; the others still serve.
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route=route, methods=["GET"])
    def reserved(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("reached")

    @app.route(route="api/admin/x", methods=["GET"])
    def allowed(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("allowed")

    with caplog.at_level("ERROR", logger="funchost"):
        host = FuncHost(app, prefix="api").start()
    try:
        path = route.strip("/").replace("{tenant}", "t")
        assert requests.get(f"{host.url}/api/{path}", timeout=5).status_code == 404
        assert requests.get(f"{host.url}/api/api/admin/x", timeout=5).text == "allowed"
    finally:
        host.stop()
    assert "conflicts with one or more built in routes" in caplog.text


def test_no_route_of_function_app_is_in_the_hosts_reserved_space() -> None:
    from devtools.funchost import is_reserved_route, load_app, registered_functions

    triggers = [f.get_trigger() for f in registered_functions(load_app("function_app:app"))]
    routes = [str(getattr(trigger, "route", "")) for trigger in triggers]
    assert routes and not [route for route in routes if is_reserved_route(route)]


def test_a_function_whose_parameter_is_not_the_trigger_name_stops_it_at_start_up() -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="misnamed")
    def misnamed(request: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("")

    # The worker refuses to index it, so Azure would not run it either.
    with pytest.raises(ValueError, match="binds 'req'"):
        FuncHost(app)


# --- requests -----------------------------------------------------------------------------


def test_form_and_json_bodies_are_read_as_in_azure(sample_host: FuncHost) -> None:
    form = requests.post(
        f"{sample_host.url}/api/things/acme/form", data={"code": "c", "state": "s"}, timeout=5
    )
    assert form.json() == {"code": "c", "state": "s"}
    sent = requests.put(
        f"{sample_host.url}/api/things/acme/json?x=1", json={"a": [1, 2]}, timeout=5
    )
    assert sent.json() == {
        "got": {"a": [1, 2]},
        "url": f"{sample_host.url}/api/things/acme/json?x=1",
    }


def test_a_chunked_body_reaches_the_function_empty_as_in_azure(
    sample_host: FuncHost, caplog: pytest.LogCaptureFixture
) -> None:
    # The host passes a body only with a Content-Length (azure-functions-host#7930).
    with caplog.at_level("INFO", logger="funchost"):
        chunked = requests.post(
            f"{sample_host.url}/api/anything", data=iter([b"a", b"b"]), timeout=5
        )
    assert chunked.json() == {"method": "POST", "body": ""}
    assert any("chunked body" in record.getMessage() for record in caplog.records)


def test_headers_reach_the_function_lower_cased_and_repeats_joined(sample_host: FuncHost) -> None:
    address = urlsplit(sample_host.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.putrequest("GET", "/api/echo-headers")
        connection.putheader("X-Repeated", "one")
        connection.putheader("X-Repeated", "two")
        connection.putheader("X-Single", "Value Kept")
        connection.endheaders()
        headers = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert headers["x-repeated"] == "one,two"
    assert headers["x-single"] == "Value Kept"
    assert all(name == name.lower() for name in headers)


def test_a_refused_request_body_is_never_taken_for_the_next_request(
    sample_host: FuncHost,
) -> None:
    # A body shaped like a request: a host that answered without reading it and kept
    # the connection open would run it as a second request.
    smuggled = b"GET /api/boom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = (
        f"POST /api/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    ).encode()
    received = _exchange(sample_host, head + smuggled)
    assert received.startswith(b"HTTP/1.1 404")
    assert received.count(b"HTTP/1.1 ") == 1

    with requests.Session() as session:
        refused = session.post(f"{sample_host.url}/api/nothing", data=b"x" * 50_000, timeout=5)
        assert refused.status_code == 404
        after = session.get(f"{sample_host.url}/api/things/acme/items/1", timeout=5)
        assert after.status_code == 200
        assert after.json()["route"]["item_id"] == "1"


def test_a_body_over_the_azure_limit_is_refused_with_413_before_it_is_read(
    sample_host: FuncHost,
) -> None:
    head = b"POST /api/anything HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000000\r\n\r\n"
    assert _exchange(sample_host, head).startswith(b"HTTP/1.1 413")


# --- responses ----------------------------------------------------------------------------


def test_two_set_cookie_headers_arrive_as_two_lines(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/cookies", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"] == "/next"
    assert response.raw.headers.getlist("Set-Cookie") == [
        "a=1; domain=; path=/; httponly",
        "b=2; domain=; path=/; secure",
    ]


def test_set_cookie_lines_are_rewritten_as_the_worker_and_host_rewrite_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level("WARNING", logger="funchost"),
        FuncHost(load_app(SAMPLE_APP), prefix="api") as host,
    ):
        response = requests.get(f"{host.url}/api/cookies/as-azure-sends-them", timeout=5)
    assert response.raw.headers.getlist("Set-Cookie") == [
        # Value percent-encoded by ASP.NET Core, attributes lower case in its order,
        # an empty Domain added (azure-functions-python-worker#1902).
        "__Host-sid=a%2Bb%2Fc%3D; max-age=900; domain=; path=/; secure; samesite=lax; httponly",
        # `gone` had Partitioned, which SimpleCookie cannot parse: Azure drops it.
        "old=; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=; path=",
    ]
    warnings = " ".join(record.getMessage() for record in caplog.records)
    assert "'__Host-sid'" in warnings and "'gone' was dropped" in warnings
    assert "a+b/c" not in warnings


def test_raw_cookie_mode_sends_set_cookie_as_written() -> None:
    with FuncHost(load_app(SAMPLE_APP), prefix="api", rewrite_cookies=False) as host:
        response = requests.get(f"{host.url}/api/cookies", allow_redirects=False, timeout=5)
    assert response.raw.headers.getlist("Set-Cookie") == [
        "a=1; Path=/; HttpOnly",
        "b=2; Path=/; Secure",
    ]


def test_the_content_type_is_built_as_the_worker_builds_it(sample_host: FuncHost) -> None:
    as_json = requests.get(f"{sample_host.url}/api/things/acme/items/42", timeout=5)
    assert as_json.headers["Content-Type"] == "application/json"
    page = requests.get(f"{sample_host.url}/api/page", timeout=5)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.raw.headers.getlist("X-Custom") == ["1"]


def test_an_unhandled_exception_is_a_bare_500_and_a_logged_traceback(
    sample_host: FuncHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="funchost"):
        response = requests.get(f"{sample_host.url}/api/boom", timeout=5)
    assert response.status_code == 500
    assert response.content == b""
    failures = [record for record in caplog.records if record.exc_info]
    assert len(failures) == 1
    assert "boom" in failures[0].getMessage()
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is RuntimeError


def test_request_log_lines_hold_method_path_status_and_time_only(
    sample_host: FuncHost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="funchost"):
        requests.post(
            f"{sample_host.url}/api/things/acme/form?code=SECRET-CODE&state=S",
            data={"password": "SECRET-BODY"},
            headers={"Authorization": "Bearer SECRET-TOKEN"},
            timeout=5,
        )
        # werkzeug logs a malformed request line whole: its query must be cut out.
        _exchange(sample_host, b"GET /x?code=SECRET-CODE extra HTTP/1.1\r\n\r\n")
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        re.fullmatch(r"POST /api/things/acme/form -> 200 \(\d+\.\d ms\)", m) for m in messages
    )
    assert not [message for message in messages if "SECRET" in message]


# --- TLS and lifecycle --------------------------------------------------------------------


def test_tls_serves_https_that_the_local_ca_bundle_trusts(monkeypatch: pytest.MonkeyPatch) -> None:
    ca = ensure_local_ca()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    with FuncHost(load_app(SAMPLE_APP), prefix="api", ssl_context=server_ssl_context(ca)) as host:
        assert host.url.startswith("https://")
        response = requests.get(f"{host.url}/api/things/a/items/b", timeout=5)
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{host.url}/api/things/a/items/b", verify=_system_bundle(), timeout=5)


def test_a_stopped_host_frees_its_port() -> None:
    host = FuncHost(load_app(SAMPLE_APP), prefix="api").start()
    address = urlsplit(host.url)
    host.stop()
    with pytest.raises(OSError):
        socket.create_connection((address.hostname or "", address.port or 0), timeout=2).close()
    never_started = FuncHost(load_app(SAMPLE_APP), prefix="api")
    never_started.stop()  # returns: nothing was serving
    FuncHost(load_app(SAMPLE_APP), prefix="api").start().stop()  # stopped before its thread ran


# --- local.settings.json ------------------------------------------------------------------


def test_local_settings_fill_the_environment_but_the_environment_wins(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {
                    "PUBLIC_BASE_URL": "http://from-file",
                    "KEY_VAULT_URI": "https://from-file",
                    "REQUESTS_CA_BUNDLE": ".local/ca/bundle.pem",
                    "RETRIES": 3,
                },
            }
        )
    )
    root = tmp_path / "project"
    environ = {"KEY_VAULT_URI": "https://from-env"}
    applied = load_local_settings(settings, environ, root=root)
    assert environ == {
        "PUBLIC_BASE_URL": "http://from-file",
        "KEY_VAULT_URI": "https://from-env",
        "REQUESTS_CA_BUNDLE": str(root / ".local/ca/bundle.pem"),
        "RETRIES": "3",
    }
    assert "KEY_VAULT_URI" not in applied


def test_without_local_settings_the_environment_is_left_alone(tmp_path: Path) -> None:
    environ = {"A": "1"}
    assert load_local_settings(tmp_path / "local.settings.json", environ) == {}
    assert environ == {"A": "1"}


def test_unusable_local_settings_are_named_without_their_values(tmp_path: Path) -> None:
    broken = tmp_path / "local.settings.json"
    broken.write_text('{"Values": {"PLATFORM_ADMIN_KEY": "hunter2-secret",}}')
    with pytest.raises(LocalSettingsError) as raised:
        read_local_settings(broken)
    assert str(broken) in str(raised.value) and "hunter2" not in str(raised.value)
    broken.write_text('{"IsEncrypted": true, "Values": {"A": "x"}}')
    with pytest.raises(LocalSettingsError, match="encrypted"):
        read_local_settings(broken)


# --- command line -------------------------------------------------------------------------


def test_the_command_line_serves_function_app_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    ca = ensure_local_ca()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    with command_line("--tls", "--settings", "/nonexistent/local.settings.json") as (url, _):
        assert url.startswith("https://127.0.0.1:")
        response = requests.get(f"{url}/api/health", timeout=30)
    # function_app's own health route answered (503 when no storage is configured here).
    assert response.status_code in (200, 503)
    assert set(response.json()) == {"status", "checks"}


def test_the_command_line_loads_local_settings_before_the_app_and_the_environment_wins(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(
        json.dumps({"Values": {"FUNCHOST_T_FILE": "from-file", "FUNCHOST_T_BOTH": "from-file"}})
    )
    env = {"FUNCHOST_T_BOTH": "from-env"}
    with command_line("--app", SAMPLE_APP, "--settings", str(settings), env=env) as (url, out):
        # The project's host.json has an empty route prefix (see functions/admin.py).
        from_file = requests.get(f"{url}/env/FUNCHOST_T_FILE", timeout=5).json()
        both = requests.get(f"{url}/env/FUNCHOST_T_BOTH", timeout=5).json()
    assert from_file == {"value": "from-file"}
    assert both == {"value": "from-env"}
    assert "Skipping 'FUNCHOST_T_BOTH'" in out
    assert "get_item: [GET] " in out


# --- helpers ------------------------------------------------------------------------------


def _exchange(host: FuncHost, data: bytes) -> bytes:
    """Send raw bytes on one connection; what came back until it closed or went quiet."""
    address = urlsplit(host.url)
    received = b""
    with socket.create_connection((address.hostname or "", address.port or 0), timeout=2) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def _system_bundle() -> str:
    return next(
        path
        for path in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
        if Path(path).exists()
    )
