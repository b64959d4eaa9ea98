"""The auth transaction (state) over HTTP: each way a callback's state can be wrong
ends on the login page with its code and leaves the user partition as it was; and
the callback shapes Entra and SPAs use besides a GET query."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.support.signin import TENANT, SignInSystem, set_cookies
from tests.support.snapshots import Snapshot, partition_snapshot


def sso_error(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", ["none"])[0]


def stored(system: SignInSystem) -> Snapshot:
    return partition_snapshot(system.services.tables, TENANT)


def with_state(path_and_query: str, state: str) -> str:
    parts = urlsplit(path_and_query)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return f"{parts.path}?{urlencode(query)}"


@pytest.fixture
def store_clock(signin_system: SignInSystem) -> Iterator[list[dt.timedelta]]:
    """The services' and Table Storage's clocks (a state's expiry is judged by the
    sign-in service, a row's by the store), shifted by the list's one element; put
    back after the test."""
    services = signin_system.services
    tables = services.tables
    original_tables, original_services = tables.clock, services.clock
    shift = [dt.timedelta(0)]
    tables.clock = lambda: original_tables() + shift[0]
    services.clock = lambda: original_services() + shift[0].total_seconds()
    services.rebuild("signin", "sessions", "admin")
    yield shift
    tables.clock, services.clock = original_tables, original_services
    services.rebuild("signin", "sessions", "admin")


def test_a_state_older_than_ten_minutes_is_invalid_state(
    signin_system: SignInSystem, store_clock: list[dt.timedelta]
) -> None:
    system = signin_system
    fresh_cookie, fresh = system.to_entra_and_back("one_group")
    stale_cookie, stale = system.to_entra_and_back("several_groups")
    store_clock[0] = dt.timedelta(minutes=9)
    assert sso_error(system.callback(fresh, cookie=f"__Host-eb_browser={fresh_cookie}")) == "none"
    store_clock[0] = dt.timedelta(minutes=11)
    before = stored(system)
    answer = system.callback(stale, cookie=f"__Host-eb_browser={stale_cookie}")
    assert sso_error(answer) == "invalid_state"
    assert stored(system) == before


def test_a_state_nobody_issued_is_invalid_state(signin_system: SignInSystem) -> None:
    system = signin_system
    binding, back = system.to_entra_and_back("one_group")
    before = stored(system)
    forged = with_state(back, secrets.token_urlsafe(24))
    assert sso_error(system.callback(forged, cookie=f"__Host-eb_browser={binding}")) == (
        "invalid_state"
    )
    assert stored(system) == before


def test_a_replayed_callback_is_invalid_state_and_writes_nothing(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    binding, back = system.to_entra_and_back("one_group")
    assert sso_error(system.callback(back, cookie=f"__Host-eb_browser={binding}")) == "none"
    before = stored(system)
    replay = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert sso_error(replay) == "invalid_state"
    assert "__Host-eb_session" not in set_cookies(replay)
    assert stored(system) == before  # no second session, no last_login_at bump


def test_a_callback_without_the_browser_cookie_is_invalid_state(
    signin_system: SignInSystem,
) -> None:
    # Login CSRF: someone else's code and state, delivered to a browser that did not
    # start that sign-in, must not sign it in.
    system = signin_system
    _binding, back = system.to_entra_and_back("one_group")
    before = stored(system)
    answer = system.callback(back, cookie="")
    assert sso_error(answer) == "invalid_state"
    assert "__Host-eb_session" not in set_cookies(answer)
    assert stored(system) == before


def test_sso_switched_off_between_authorize_and_callback_is_sso_disabled(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    binding, back = system.to_entra_and_back("one_group")
    config = system.services.configs.get_config(TENANT)
    assert config is not None
    system.services.configs.put_tenant(
        TENANT, "Contoso", dataclasses.replace(config, enabled=False)
    )
    before = stored(system)
    answer = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    assert sso_error(answer) == "sso_disabled"
    assert stored(system) == before


# --- callback shapes --------------------------------------------------------------------


def test_a_form_post_callback_signs_in(signin_system: SignInSystem) -> None:
    # Entra's response_mode=form_post: code and state (and session_state) as a form.
    system = signin_system
    binding, back = system.to_entra_and_back("one_group", return_to="/app/inbox")
    query = parse_qs(urlsplit(back).query)
    answer = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"),
        data={
            "code": query["code"][0],
            "state": query["state"][0],
            "session_state": secrets.token_hex(16),
        },
        headers={"Cookie": f"__Host-eb_browser={binding}"},
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/app/inbox"
    session = set_cookies(answer)["__Host-eb_session"]
    me = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"), headers={"Cookie": f"__Host-eb_session={session}"}
    )
    assert me.status_code == 200 and me.json()["email"] == "oscar@contoso.example"


def test_a_json_mode_attempt_coming_back_through_the_browser_is_handed_to_the_spa(
    signin_system: SignInSystem,
) -> None:
    # The SPA asked for JSON mode, but Entra redirects the browser to the callback:
    # the callback passes code and state on to the SPA's return_to, which finishes
    # the sign-in with its JSON POST.
    system = signin_system
    started = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"),
        params={
            "mode": "json",
            "return_to": "/spa/signed-in?tab=1",
            "login_hint": system.directory.users["one_group"].upn,
        },
    )
    assert started.status_code == 200, started.text
    state = started.json()["state"]
    at_entra = system.http.get(started.json()["authorization_url"], allow_redirects=False)
    back = urlsplit(at_entra.headers["Location"])
    code = parse_qs(back.query)["code"][0]
    before = stored(system)
    handed = system.http.get(system.url(f"{back.path}?{back.query}"), allow_redirects=False)
    assert handed.status_code == 302, handed.text
    target = urlsplit(handed.headers["Location"])
    assert target.path == "/spa/signed-in"
    assert parse_qs(target.query) == {"tab": ["1"], "code": [code], "state": [state]}
    assert "__Host-eb_session" not in set_cookies(handed)
    assert stored(system) == before  # nobody signed in yet: the SPA finishes it
    finished = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"), json={"code": code, "state": state}
    )
    assert finished.status_code == 200, finished.text
    assert finished.json()["user"]["email"] == "oscar@contoso.example"
