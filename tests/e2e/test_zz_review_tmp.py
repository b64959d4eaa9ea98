"""TEMPORARY review probes (issue 12 review). Never commit; deleted after the run."""
from __future__ import annotations

from tests.e2e.test_session_revocation import ALL_ACCEPTED, ALL_REFUSED, answers, sign_in
from tests.support.signin import TENANT, SignInSystem
from tests.support.snapshots import audit_actions


def test_probe_cross_site_get_logout_with_made_up_sid(signin_system: SignInSystem) -> None:
    system = signin_system
    session = sign_in(system)
    answer = system.http.get(
        system.url(f"/api/auth/{TENANT}/logout?sid=anything"),
        headers={"Cookie": session.cookie_jar, "Sec-Fetch-Site": "cross-site",
                 "Sec-Fetch-Mode": "navigate", "Referer": "https://evil.example/"},
        allow_redirects=False,
    )
    print("status", answer.status_code, answer.headers.get("Location"), answer.headers.get("Set-Cookie"))
    print("after", answers(system.http, system.host.url, session))
    print("audit", audit_actions(system.services.tables)[:3])


def test_probe_same_site_post_logout(signin_system: SignInSystem) -> None:
    system = signin_system
    session = sign_in(system)
    answer = system.http.post(
        system.url(f"/api/auth/{TENANT}/logout"),
        data="x=1",
        headers={"Cookie": session.cookie_jar, "Sec-Fetch-Site": "same-site",
                 "Sec-Fetch-Mode": "navigate", "Content-Type": "application/x-www-form-urlencoded",
                 "Origin": "https://sibling.example"},
        allow_redirects=False,
    )
    print("status", answer.status_code, answer.headers.get("Location"))
    print("after", answers(system.http, system.host.url, session))
