"""Sessions after sign-in, as a browser and an application use them: refresh by cookie,
logout twice, and no token ever written to the audit log."""

from __future__ import annotations

import json

from tests.support.signin import TENANT, SignInSystem, set_cookies


def test_a_browser_refreshes_with_its_cookie_and_gets_new_cookies(
    signin_system: SignInSystem,
) -> None:
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    answer = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token"},
        headers={"Cookie": f"__Host-eb_refresh={cookies['__Host-eb_refresh']}"},
    )
    assert answer.status_code == 200, answer.text
    renewed = set_cookies(answer)
    assert renewed["__Host-eb_refresh"] == answer.json()["refresh_token"]
    assert renewed["__Host-eb_refresh"] != cookies["__Host-eb_refresh"]
    assert renewed["__Host-eb_session"] == answer.json()["access_token"]
    me = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"),
        headers={"Cookie": f"__Host-eb_session={renewed['__Host-eb_session']}"},
    )
    assert me.status_code == 200


def test_logging_out_twice_is_not_an_error(signin_system: SignInSystem) -> None:
    cookies = set_cookies(signin_system.browser_sign_in("one_group"))
    jar = "; ".join(f"{name}={value}" for name, value in cookies.items())
    for _ in range(2):
        out = signin_system.http.get(
            signin_system.url(f"/api/auth/{TENANT}/logout"),
            headers={"Cookie": jar, "Sec-Fetch-Site": "same-origin"},  # the app's own link
            allow_redirects=False,
        )
        assert out.status_code == 302
        cleared = set_cookies(out)
        assert cleared["__Host-eb_session"] == "" and cleared["__Host-eb_refresh"] == ""
    refreshed = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    )
    assert refreshed.status_code == 400


def test_no_token_or_code_reaches_the_audit_log(signin_system: SignInSystem) -> None:
    binding, back = signin_system.to_entra_and_back("one_group")
    code = back.split("code=", 1)[1].split("&", 1)[0]
    answer = signin_system.callback(back, cookie=f"__Host-eb_browser={binding}")
    cookies = set_cookies(answer)
    rotated = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    ).json()
    signin_system.http.post(  # a reuse: audited as refresh_token_reused
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    )
    # A refresh token names its user and session (ids, not secrets): its random part
    # is the credential.
    secrets = {
        code,
        binding,
        cookies["__Host-eb_session"],
        rotated["access_token"],
        cookies["__Host-eb_refresh"].rsplit(".", 1)[-1],
        rotated["refresh_token"].rsplit(".", 1)[-1],
    }
    events, _ = signin_system.services.audit.list(TENANT, limit=100, cursor=None)
    assert {"sign_in", "refresh_token_reused"} <= {e["action"] for e in events}
    logged = json.dumps(events)
    assert all(secret not in logged for secret in secrets)
