"""What an anonymous caller cannot make us write: a made-up callback or a logout
without a credential leaves no audit row (it is logged instead, a bounded number of
lines per minute), and nothing lands for a tenant that does not exist yet.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.signin import TENANT, SignInSystem
from tests.support.snapshots import audit_actions, partition_snapshot

PLATFORM = {"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"}


def test_made_up_callbacks_and_empty_logouts_write_nothing(
    signin_system: SignInSystem, caplog: pytest.LogCaptureFixture
) -> None:
    system = signin_system
    before = partition_snapshot(system.services.tables, TENANT)
    callback = system.url(f"/api/auth/{TENANT}/callback")
    logout = system.url(f"/api/auth/{TENANT}/logout")
    with caplog.at_level(logging.WARNING, logger="entrabridge"):
        for _ in range(40):
            state = secrets.token_urlsafe(32)
            browser = system.http.get(
                callback, params={"code": "x", "state": state}, allow_redirects=False
            )
            assert "sso_error=invalid_state" in browser.headers["Location"]
            spa = system.http.post(callback, json={"code": "x", "state": state})
            assert spa.status_code == 400 and spa.json()["error"] == "invalid_state"
            with_error = system.http.get(
                callback,
                params={"error": "access_denied", "state": state},
                allow_redirects=False,
            )
            assert "sso_error=idp_error" in with_error.headers["Location"]
            out = system.http.post(logout)
            assert out.status_code == 200 and out.json() == {"status": "signed_out"}
    assert partition_snapshot(system.services.tables, TENANT) == before
    assert audit_actions(system.services.tables) == []
    refusals = [r for r in caplog.records if "no attempt of ours" in r.getMessage()]
    assert 1 <= len(refusals) <= 60  # 120 refusals, a bounded number of lines


def test_logouts_for_a_tenant_that_does_not_exist_yet_leave_nothing_for_it(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    for _ in range(10):
        out = system.http.post(system.url("/api/auth/ghost/logout"))
        assert out.status_code == 200
        page = system.http.get(
            system.url("/api/auth/ghost/logout"),
            headers={"Sec-Fetch-Site": "same-origin"},
            allow_redirects=False,
        )
        assert page.status_code == 302
    created = system.http.put(
        system.url("/api/admin/tenants/ghost"), json={"display_name": "Ghost"}, headers=PLATFORM
    )
    assert created.status_code == 201
    audit = system.http.get(system.url("/api/admin/tenants/ghost/audit"), headers=PLATFORM)
    assert audit.status_code == 200
    assert [event["action"] for event in audit.json()["events"]] == ["tenant_created"]


def test_replaying_a_started_sign_ins_state_without_its_browser_writes_nothing(
    signin_system: SignInSystem,
) -> None:
    # Anyone can start a sign-in and read its state from the redirect; replayed with
    # another browser's binding, it is no attempt of theirs: logged, not audited.
    system = signin_system
    started = system.http.get(system.url(f"/api/auth/{TENANT}/authorize"), allow_redirects=False)
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    before = partition_snapshot(system.services.tables, TENANT)
    for _ in range(20):
        answer = system.http.get(
            system.url(f"/api/auth/{TENANT}/callback"),
            params={"code": "x", "state": state},
            headers={"Cookie": "__Host-eb_browser=someone-elses"},
            allow_redirects=False,
        )
        assert "sso_error=invalid_state" in answer.headers["Location"]
    assert partition_snapshot(system.services.tables, TENANT) == before
