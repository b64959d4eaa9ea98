"""The Entra stand-in's fault switches that the other sign-in tests leave alone, each
driven through a whole browser sign-in over HTTP: the code the user is sent back
with, and the tenant's user partition unchanged (a refusal only adds audit events)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.tenants.model import ProfileMapping
from tests.support.signin import PROFILE_BULK, TENANT, SignInSystem, set_cookies
from tests.support.snapshots import Snapshot, audit_actions, partition_snapshot

PROFILE_ALL_COMPANY = "e0000000-0000-4000-8000-000000000004"


def sso_error(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", ["none"])[0]


def stored(system: SignInSystem) -> Snapshot:
    return partition_snapshot(system.services.tables, TENANT)


def me(system: SignInSystem, answer: requests.Response) -> dict[str, object]:
    session = set_cookies(answer)["__Host-eb_session"]
    found = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"), headers={"Authorization": f"Bearer {session}"}
    )
    assert found.status_code == 200, found.text
    body: dict[str, object] = found.json()
    return body


def assert_refused(system: SignInSystem, user_key: str, code: str) -> None:
    """The sign-in ends on the login page with `code`, no session, nothing stored but
    the refusal's audit event."""
    before = stored(system)
    answer = system.browser_sign_in(user_key)
    assert sso_error(answer) == code
    assert "__Host-eb_session" not in set_cookies(answer)
    assert stored(system) == before
    assert audit_actions(system.services.tables)[0] == ("sign_in_refused", code)


# --- Graph (groups overage) -------------------------------------------------------------


@pytest.mark.parametrize("failing_page", [1, 2])
def test_graph_failing_on_a_later_page_is_sso_unavailable_never_no_groups(
    signin_system: SignInSystem, failing_page: int
) -> None:
    # Mona's 251 groups come in three pages of 100; the mapped one is on the last. A
    # client that stops at the failing page and keeps what it has would sign her in
    # with fewer (or no) profiles.
    signin_system.entra.set_faults(graph_status=503, graph_fail_from_page=failing_page)
    assert_refused(signin_system, "many_groups", "sso_unavailable")
    assert stored(signin_system) == {}


def test_a_returning_overage_user_keeps_their_profiles_when_graph_fails(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    assert me(system, system.browser_sign_in("many_groups"))["profiles"] == [PROFILE_BULK]
    system.entra.set_faults(graph_status=500, graph_fail_from_page=1)
    assert_refused(system, "many_groups", "sso_unavailable")
    (user,) = system.services.users.list(TENANT, limit=10, cursor=None)[0]
    assert user.profiles == (PROFILE_BULK,)
    # Graph back: the next sign-in goes through (and writes: a new session).
    system.entra.clear_faults()
    before = stored(system)
    assert me(system, system.browser_sign_in("many_groups"))["profiles"] == [PROFILE_BULK]
    assert stored(system) != before


@pytest.fixture
def other_origin() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP server on another origin: its URL and the paths it was asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = b'{"value": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_graph_next_link_to_another_origin_is_sso_unavailable_and_not_followed(
    signin_system: SignInSystem, other_origin: tuple[str, list[str]]
) -> None:
    # Following it would send the user's Graph token to that origin, and its (empty)
    # page would end the list early.
    url, seen = other_origin
    signin_system.entra.set_faults(graph_next_link_base=url)
    assert_refused(signin_system, "many_groups", "sso_unavailable")
    assert seen == []


def test_a_mapped_group_graph_reports_as_not_security_enabled_grants_nothing(
    signin_system: SignInSystem,
) -> None:
    # "All company" is a Microsoft 365 group (securityEnabled false); Mona is in it and
    # in 250 security groups, so her groups come from Graph, which lists both kinds.
    system = signin_system
    config = system.services.configs.get_config(TENANT)
    assert config is not None
    system.services.configs.put_tenant(
        TENANT,
        "Contoso",
        dataclasses.replace(
            config,
            profile_mappings=(
                *config.profile_mappings,
                ProfileMapping(PROFILE_ALL_COMPANY, system.directory.all_company),
            ),
        ),
    )
    assert me(system, system.browser_sign_in("many_groups"))["profiles"] == [PROFILE_BULK]


# --- Entra's endpoints ------------------------------------------------------------------


def test_discovery_failing_at_authorize_is_sso_unavailable_and_starts_nothing(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    system.entra.set_faults(discovery_status=500)
    answer = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"),
        params={"login_hint": system.directory.users["one_group"].upn},
        headers={"Sec-Fetch-Mode": "navigate"},
        allow_redirects=False,
    )
    # A browser lands on the login page, which says why, not on raw JSON.
    assert answer.status_code == 302, answer.text
    assert sso_error(answer) == "sso_unavailable"
    assert "__Host-eb_browser" not in answer.headers.get("Set-Cookie", "")
    assert system.services.tables.query("authflows", partition_key=TENANT).rows == []
    for params in ({"mode": "json"}, {}):  # an SPA, or a client that is no browser
        api = system.http.get(system.url(f"/api/auth/{TENANT}/authorize"), params=params)
        assert api.status_code == 503 and api.json()["error"] == "sso_unavailable"
    assert stored(system) == {}
    # Entra back: the same browser signs in.
    system.entra.clear_faults()
    assert sso_error(system.browser_sign_in("one_group")) == "none"


def test_token_endpoint_temporarily_unavailable_is_sso_unavailable(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.set_faults(token_status=503)
    assert_refused(signin_system, "one_group", "sso_unavailable")


# --- ID token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://evil.example/keys"},
        {"x5u": "https://evil.example/cert.pem"},
        {"crit": ["exp"]},
        {"jwk": {"kty": "RSA", "n": "sXch", "e": "AQAB"}},
        {"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]},
    ],
    ids=["jku", "x5u", "crit", "jwk", "x5c"],
)
def test_an_id_token_header_pointing_elsewhere_or_demanding_extensions_is_refused(
    signin_system: SignInSystem, header: dict[str, object]
) -> None:
    # The token is otherwise valid: signed by the directory's key, right claims.
    signin_system.entra.set_faults(extra_headers=header)
    assert_refused(signin_system, "one_group", "invalid_id_token")


def test_without_an_email_claim_the_upn_is_the_email(signin_system: SignInSystem) -> None:
    # Oscar's mailbox differs from his UPN here, so the address he ends up with shows
    # which claim it came from.
    system = signin_system
    oscar = system.directory.users["one_group"]
    system.entra.update_user(system.directory.tenant_id, oscar.oid, email="o.one@mail.example")
    system.entra.set_faults(missing_email=True)
    assert me(system, system.browser_sign_in("one_group"))["email"] == oscar.upn
    system.entra.clear_faults()
    assert me(system, system.browser_sign_in("one_group"))["email"] == "o.one@mail.example"
