"""The local Functions host serves registered functions as the real host would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devtools.azurite import free_port
from devtools.funchost import FuncHost, compile_template, load_app, load_local_settings
from devtools.localca import PROJECT_ROOT, ensure_local_ca


def test_route_parameters_and_query_reach_the_function(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/things/acme/items/42?x=1&y=two", timeout=5)
    assert response.status_code == 200
    assert response.json() == {
        "route": {"tenant": "acme", "item_id": "42"},
        "query": {"x": "1", "y": "two"},
    }


def test_unknown_path_is_404_and_wrong_method_is_405(sample_host: FuncHost) -> None:
    assert requests.get(f"{sample_host.url}/api/nothing/here", timeout=5).status_code == 404
    assert requests.get(f"{sample_host.url}/things/acme/items/42", timeout=5).status_code == 404
    assert (
        requests.delete(f"{sample_host.url}/api/things/acme/items/42", timeout=5).status_code == 405
    )


def test_form_and_json_bodies_are_parsed(sample_host: FuncHost) -> None:
    form = requests.post(
        f"{sample_host.url}/api/things/acme/form", data={"code": "c", "state": "s"}, timeout=5
    )
    assert form.json() == {"code": "c", "state": "s"}
    sent = requests.put(f"{sample_host.url}/api/things/acme/json", json={"a": [1, 2]}, timeout=5)
    assert sent.json() == {"got": {"a": [1, 2]}}


def test_several_set_cookie_headers_arrive_separately(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/cookies", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"] == "/next"
    raw = response.raw.headers.getlist("Set-Cookie")
    assert raw == ["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"]


def test_an_unhandled_exception_is_a_500_without_details(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/boom", timeout=5)
    assert response.status_code == 500
    assert "secret-detail" not in response.text and "Traceback" not in response.text


def test_keep_alive_survives_a_refused_request_with_a_body(sample_host: FuncHost) -> None:
    with requests.Session() as session:
        refused = session.post(f"{sample_host.url}/api/nothing", data=b"x" * 50_000, timeout=5)
        assert refused.status_code == 404
        after = session.get(f"{sample_host.url}/api/things/acme/items/1", timeout=5)
        assert after.status_code == 200
        assert after.json()["route"]["item_id"] == "1"


def test_route_templates_support_optional_and_catch_all_parameters() -> None:
    optional = compile_template("api/a/{x?}")
    assert optional.match("api/a") and optional.match("api/a/1")
    assert compile_template("api/{*rest}").match("api/a/b/c")
    assert not compile_template("api/{id}").match("api/a/b")


def test_local_settings_fill_the_environment_but_the_environment_wins(tmp_path: Path) -> None:
    settings = tmp_path / "local.settings.json"
    settings.write_text(
        '{"Values": {"PUBLIC_BASE_URL": "http://from-file", "KEY_VAULT_URI": "https://file",'
        ' "REQUESTS_CA_BUNDLE": ".local/ca/bundle.pem"}}'
    )
    environ = {"KEY_VAULT_URI": "https://from-env"}
    applied = load_local_settings(settings, environ)
    assert environ["PUBLIC_BASE_URL"] == "http://from-file"
    assert environ["KEY_VAULT_URI"] == "https://from-env"
    assert environ["REQUESTS_CA_BUNDLE"] == str(tmp_path / ".local/ca/bundle.pem")
    assert "KEY_VAULT_URI" not in applied


def test_tls_serves_https_trusted_through_the_local_ca() -> None:
    from devtools.localca import server_ssl_context

    ca = ensure_local_ca()
    host = FuncHost(
        load_app("tests.integration.funchost_sample_app:app"), ssl_context=server_ssl_context(ca)
    ).start()
    try:
        assert host.url.startswith("https://")
        response = requests.get(
            f"{host.url}/api/things/a/items/b", verify=str(ca.bundle), timeout=5
        )
        assert response.status_code == 200
    finally:
        host.stop()


def test_the_command_line_serves_function_app() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.funchost",
            "--port",
            str(port),
            "--settings",
            "/nonexistent.json",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        response = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
        assert response.status_code in (200, 503)
        assert response.json()["status"] in ("ok", "unavailable")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("path", ["/api/things/acme/items/1"])
def test_request_log_lines_never_contain_query_strings(
    sample_host: FuncHost, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="funchost"):
        requests.get(f"{sample_host.url}{path}?code=SECRET-CODE&state=S", timeout=5)
    assert any(path in record.getMessage() for record in caplog.records)
    assert all("SECRET-CODE" not in record.getMessage() for record in caplog.records)


def test_the_function_mimetype_becomes_the_content_type(sample_host: FuncHost) -> None:
    response = requests.get(f"{sample_host.url}/api/things/acme/items/42", timeout=5)
    assert response.headers["Content-Type"].startswith("application/json")
