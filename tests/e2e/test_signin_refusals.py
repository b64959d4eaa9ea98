"""Each contract error code of the callback, reached by the situation that causes it,
over HTTP, with nothing written to the user store."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from shared.sessions.refresh import parse_refresh_token
from shared.store.secrets import client_secret_name
from shared.users import User
from tests.support.signin import TENANT, SignInSystem, set_cookies
from tests.support.snapshots import Snapshot, partition_snapshot

# What a browser sends when a person follows a link or submits a form.
BROWSER_NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"}


def sso_error(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", ["none"])[0]


def users(system: SignInSystem) -> list[User]:
    return system.services.users.list(TENANT, limit=1000, cursor=None)[0]


def stored(system: SignInSystem, tenant: str = TENANT) -> Snapshot:
    """The tenant's user partition but its audit log (a refusal may only add events)."""
    return partition_snapshot(system.services.tables, tenant)


def test_entra_refusing_the_sign_in_is_idp_error_and_markup_is_not_reflected(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.set_faults(
        authorize_error=["access_denied", "AADSTS50105: <script>alert(1)</script> not assigned"]
    )
    before = stored(signin_system)
    answer = signin_system.browser_sign_in("one_group")
    assert sso_error(answer) == "idp_error"
    assert stored(signin_system) == before
    page = signin_system.http.get(
        signin_system.url(urlsplit(answer.headers["Location"]).path)
        + "?"
        + urlsplit(answer.headers["Location"]).query
    )
    assert (
        "<script>" not in page.text
        and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    )
    assert users(signin_system) == []


def test_a_client_secret_entra_no_longer_knows_is_sso_idp_rejected(
    signin_system: SignInSystem,
) -> None:
    directory = signin_system.directory
    signin_system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "sso_idp_rejected"
    assert users(signin_system) == []
    assert stored(signin_system) == before


def test_a_rotated_secret_not_yet_live_falls_back_to_the_previous_version(
    signin_system: SignInSystem,
) -> None:
    # The right secret is stored; a newer, wrong one is added (a rotation not yet
    # registered in Entra): sign-in still works with the previous version.
    signin_system.services.secrets.set_secret(client_secret_name(TENANT), "new-but-not-in-entra")
    answer = signin_system.browser_sign_in("one_group")
    assert sso_error(answer) == "none"
    actions = [
        e["action"] for e in signin_system.services.audit.list(TENANT, limit=10, cursor=None)[0]
    ]
    assert "client_secret_previous_version_used" in actions


def test_entra_token_endpoint_failing_is_sso_unavailable(signin_system: SignInSystem) -> None:
    signin_system.entra.set_faults(token_status=500)
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "sso_unavailable"
    assert users(signin_system) == []
    assert stored(signin_system) == before


def test_keys_unreachable_on_a_cold_instance_is_sso_unavailable(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.set_faults(jwks_down=True)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "sso_unavailable"
    assert users(signin_system) == []


def test_keys_unreachable_with_cached_keys_still_signs_in(signin_system: SignInSystem) -> None:
    assert sso_error(signin_system.browser_sign_in("one_group")) == "none"
    signin_system.entra.set_faults(jwks_down=True)
    assert sso_error(signin_system.browser_sign_in("several_groups")) == "none"


def test_a_password_user_with_the_email_is_provider_mismatch(signin_system: SignInSystem) -> None:
    now = dt.datetime.now(dt.UTC)
    signin_system.services.users.insert_password_user(
        User(
            id="pw-1",
            tenant=TENANT,
            email="oscar@contoso.example",
            name="Oscar",
            provider="password",
            customer_id=None,
            profiles=(),
            roles=(),
            disabled=False,
            created_at=now,
            last_login_at=None,
        )
    )
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "provider_mismatch"
    assert [u.id for u in users(signin_system)] == ["pw-1"]
    assert stored(signin_system) == before


def test_another_entra_identity_with_the_email_is_account_conflict(
    signin_system: SignInSystem,
) -> None:
    directory = signin_system.directory
    assert sso_error(signin_system.browser_sign_in("one_group")) == "none"
    signin_system.entra.update_user(
        directory.tenant_id, directory.users["no_groups"].oid, email="oscar@contoso.example"
    )
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("no_groups")) == "account_conflict"
    assert len(users(signin_system)) == 1
    assert stored(signin_system) == before  # Oscar's rows untouched, no session for Nora


def test_a_disabled_user_is_refused(signin_system: SignInSystem) -> None:
    assert sso_error(signin_system.browser_sign_in("one_group")) == "none"
    user = users(signin_system)[0]
    signin_system.services.users.set_disabled(TENANT, user.id, True)
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "account_disabled"
    assert stored(signin_system) == before  # no new session, no last_login_at bump


def test_unknown_tenant_and_disabled_sso(signin_system: SignInSystem) -> None:
    unknown = signin_system.http.get(
        signin_system.url("/api/auth/nobody-here/callback?code=c&state=s"), allow_redirects=False
    )
    assert unknown.status_code == 404 and "unknown_tenant" in unknown.text
    from shared.tenants.model import OAuth2Config

    signin_system.services.configs.put_tenant("dormant", "Dormant", OAuth2Config())
    api = signin_system.http.get(
        signin_system.url("/api/auth/dormant/authorize"), allow_redirects=False
    )
    assert api.status_code == 403 and api.json()["error"] == "sso_disabled"
    off = signin_system.http.get(  # a person's browser following the login button
        signin_system.url("/api/auth/dormant/authorize"),
        headers=BROWSER_NAVIGATION,
        allow_redirects=False,
    )
    assert off.status_code == 302 and sso_error(off) == "sso_disabled"
    landing = urlsplit(off.headers["Location"])
    page = signin_system.http.get(signin_system.url(f"{landing.path}?{landing.query}"))
    assert "Single sign-on is not enabled for this organisation." in page.text
    as_json = signin_system.http.get(
        signin_system.url("/api/auth/dormant/authorize"), params={"mode": "json"}
    )
    assert as_json.status_code == 403 and as_json.json()["error"] == "sso_disabled"
    nowhere = signin_system.http.get(
        signin_system.url("/api/auth/nobody-here/authorize"),
        headers=BROWSER_NAVIGATION,
        allow_redirects=False,
    )
    assert nowhere.status_code == 404 and "This organisation is not known here." in nowhere.text
    api_nowhere = signin_system.http.get(signin_system.url("/api/auth/nobody-here/authorize"))
    assert api_nowhere.status_code == 404 and api_nowhere.json()["error"] == "unknown_tenant"
    bad = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/authorize"),
        params={"prompt": "evil"},
        headers=BROWSER_NAVIGATION,
    )
    assert bad.status_code == 400 and list(bad.json()["fields"]) == ["prompt"]


def test_spa_mode_returns_tokens_as_json(signin_system: SignInSystem) -> None:
    system = signin_system
    upn = system.directory.users["one_group"].upn
    started = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"),
        params={"mode": "json", "login_hint": upn},
    ).json()
    back = urlsplit(
        system.http.get(started["authorization_url"], allow_redirects=False).headers["Location"]
    )
    code = parse_qs(back.query)["code"][0]
    answer = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"), json={"code": code, "state": started["state"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["user"]["email"] == upn
    assert body["expires_in"] == 900 and body["refresh_token"]
    replay = system.http.post(
        system.url(f"/api/auth/{TENANT}/callback"), json={"code": code, "state": started["state"]}
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_state"


def test_front_channel_logout_with_only_sid_ends_that_entra_session(
    signin_system: SignInSystem,
) -> None:
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    token_id = parse_refresh_token(cookies["__Host-eb_refresh"])
    assert token_id is not None
    found = signin_system.services.sessions.refresh_tokens.get(TENANT, token_id)
    assert found is not None
    record = found[0]
    assert record is not None and record.entra_sid
    out = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/logout"),
        params={"sid": record.entra_sid},
        allow_redirects=False,
    )
    assert out.status_code == 302
    refreshed = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    )
    assert refreshed.status_code == 400


def test_me_without_a_session_is_unauthorized(signin_system: SignInSystem) -> None:
    answer = signin_system.http.get(signin_system.url(f"/api/auth/{TENANT}/me"))
    assert answer.status_code == 401 and answer.json() == {
        "error": "unauthorized",
        "error_description": "A valid credential is required.",
        "correlation_id": answer.headers["X-Correlation-Id"],
    }


def test_a_state_from_another_tenant_is_invalid_state(signin_system: SignInSystem) -> None:
    system = signin_system
    config = system.services.configs.get_config(TENANT)
    assert config is not None
    system.services.configs.put_tenant("fabrikam-app", "Other", config)
    system.services.secrets.set_secret(
        client_secret_name("fabrikam-app"), system.directory.client_secret
    )
    binding, back = system.to_entra_and_back("one_group")
    before = (stored(system), stored(system, "fabrikam-app"))
    query = back.split("?", 1)[1]
    elsewhere = system.callback(
        f"/api/auth/fabrikam-app/callback?{query}", cookie=f"__Host-eb_browser={binding}"
    )
    assert sso_error(elsewhere) == "invalid_state"
    assert (stored(system), stored(system, "fabrikam-app")) == before


def test_storage_stopping_mid_sign_in_is_sso_unavailable_with_nothing_half_written(
    signin_system: SignInSystem, tmp_path: Path
) -> None:
    """Azurite (persisting to disk) is stopped after the callback has consumed the
    auth transaction and read the user, just before the sign-in's transaction; then
    started again from the same files to see what landed."""
    from devtools.azurite import start_azurite
    from shared.store.rows import Op
    from shared.store.tables import TableStore
    from shared.tenants.model import OAuth2Config

    system = signin_system
    private = start_azurite(location=tmp_path)
    restarted = None
    try:
        config = system.services.configs.get_config(TENANT)
        assert isinstance(config, OAuth2Config)
        tables = TableStore.from_connection_string(private.connection_string)
        system.services.override("tables", tables)
        system.services.rebuild("configs", "users", "audit", "sessions", "signin")
        system.services.configs.put_tenant(TENANT, "Contoso", config)
        original = TableStore.apply

        def storage_stops_first(self: TableStore, table: str, ops: list[Op]) -> list[str | None]:
            private.stop()
            return original(self, table, ops)

        tables.apply = storage_stops_first.__get__(tables)  # type: ignore[method-assign]
        answer = system.browser_sign_in("one_group")
        assert not private.running()
        assert "sso_unavailable" in answer.headers.get("Location", "")
        assert "__Host-eb_session" not in set_cookies(answer)

        restarted = start_azurite(port=private.port, location=tmp_path)
        after = TableStore.from_connection_string(restarted.connection_string)
        rows = after.query("users", partition_key=TENANT, limit=1000).rows
        assert [row.row_key for row in rows] == []  # no user, session, index or event
        assert after.query("authflows", partition_key=TENANT, limit=1000).rows == []
        after.close()
    finally:
        private.stop()
        if restarted is not None:
            restarted.stop()


def test_entra_token_endpoint_timing_out_is_sso_unavailable(signin_system: SignInSystem) -> None:
    from shared.entra.client import EntraClient
    from shared.http import TimeoutSession

    # The production client with a shorter read timeout, so the test waits 0.5 s, not 10.
    services = signin_system.services
    impatient = EntraClient(
        authority_host=services.settings.entra_authority_host,
        graph_base_url=services.settings.graph_base_url,
        http=TimeoutSession(read_timeout=0.5),
    )
    services.override("entra", impatient)
    signin_system.entra.set_faults(token_delay=2.0)
    before = stored(signin_system)
    assert sso_error(signin_system.browser_sign_in("one_group")) == "sso_unavailable"
    assert users(signin_system) == []
    assert stored(signin_system) == before


def test_a_callback_for_an_unknown_tenant_shows_the_hosted_error_page(
    signin_system: SignInSystem,
) -> None:
    binding, back = signin_system.to_entra_and_back("one_group")
    answer = signin_system.callback(
        back.replace(f"/api/auth/{TENANT}/", "/api/auth/nosuch/"),
        cookie=f"__Host-eb_browser={binding}",
    )
    assert answer.status_code == 404
    assert "This organisation is not known here." in answer.text
    assert "Set-Cookie" not in answer.headers
    assert users(signin_system) == []


def test_an_oversized_form_post_callback_is_invalid_state(signin_system: SignInSystem) -> None:
    binding, back = signin_system.to_entra_and_back("one_group")
    query = parse_qs(urlsplit(back).query)
    answer = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/callback"),
        data={"code": query["code"][0], "state": query["state"][0], "pad": "x" * 70_000},
        headers={"Cookie": f"__Host-eb_browser={binding}"},
        allow_redirects=False,
    )
    assert sso_error(answer) == "invalid_state"
    assert users(signin_system) == []


def test_a_malformed_client_info_in_the_redirect_does_not_stop_a_sign_in(
    signin_system: SignInSystem,
) -> None:
    # client_info is an unsigned routing hint in Entra's redirect; MSAL parsed the
    # browser's copy before redeeming, so a malformed one read as an outage
    # (sso_unavailable) or a bad ID token. The token answer carries its own.
    s = signin_system
    for client_info in (
        "!!!!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(json.dumps("uid utid").encode()).decode(),
        base64.urlsafe_b64encode(b"[" * 20000 + b"]" * 20000).decode(),
    ):
        binding, back = s.to_entra_and_back("one_group")
        params = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        params["client_info"] = client_info  # form_post: the same fields in the body
        answer = s.http.post(
            s.url(urlsplit(back).path),
            data=params,
            headers={"Cookie": f"__Host-eb_browser={binding}"},
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text
        assert "sso_error" not in answer.headers["Location"]
        assert "__Host-eb_session" in set_cookies(answer)
