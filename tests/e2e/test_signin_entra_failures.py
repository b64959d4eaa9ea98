"""One failed answer from Entra's token endpoint concerns one person's sign-in only.

Whole sign-ins over HTTP through the local host and the Entra stand-in: person A's
redemption meets a fault (a 500 or 429 with Retry-After, a 200 that is not JSON);
person B, signing in right after on the same instance, is not refused with A's
answer: the stand-in sees B's token request and B gets a session. A is told when
to come back where Entra said so, and every refusal is one WARNING log line.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.signin import TENANT, SignInSystem, set_cookies
from tests.support.snapshots import audit_actions


def token_posts(system: SignInSystem) -> int:
    seen = system.entra.requests_seen()
    return sum(1 for method, path in seen if method == "POST" and path.endswith("/token"))


def query_of(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def spa_code(system: SignInSystem, user_key: str) -> dict[str, str]:
    """An SPA's sign-in up to the callback: {"code", "state"}."""
    upn = system.directory.users[user_key].upn
    started = system.http.get(
        system.url(f"/api/auth/{TENANT}/authorize"), params={"mode": "json", "login_hint": upn}
    ).json()
    back = system.http.get(started["authorization_url"], allow_redirects=False)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    return {"code": code, "state": started["state"]}


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        ({"token_status": 500, "token_retry_after": 600}, None),
        ({"token_status": 429, "token_retry_after": 600}, "600"),
        ({"token_status": 503, "token_retry_after": 30}, "30"),
        ({"token_status": 200, "token_body": "html"}, None),
    ],
    ids=["500-retry-after-600", "429-retry-after-600", "503-retry-after-30", "200-not-json"],
)
def test_one_persons_failed_redemption_does_not_refuse_the_next_person(
    signin_system: SignInSystem, fault: dict[str, Any], retry_after: str | None
) -> None:
    system = signin_system
    binding_a, back_a = system.to_entra_and_back("one_group")
    binding_b, back_b = system.to_entra_and_back("several_groups")
    system.entra.set_faults(**fault, token_fault_times=1)

    refused = query_of(system.callback(back_a, cookie=f"__Host-eb_browser={binding_a}"))
    assert refused["sso_error"] == "sso_unavailable"
    assert refused.get("sso_retry_after") == retry_after
    before = token_posts(system)

    signed_in = system.callback(back_b, cookie=f"__Host-eb_browser={binding_b}")
    assert "sso_error" not in query_of(signed_in)
    assert "__Host-eb_session" in set_cookies(signed_in)
    assert token_posts(system) == before + 1  # B's code went to Entra
    assert audit_actions(system.services.tables)[:2] == [
        ("sign_in", None),
        ("sign_in_refused", "sso_unavailable"),
    ]


def test_the_login_page_says_when_entra_asked_to_come_back(signin_system: SignInSystem) -> None:
    system = signin_system
    binding, back = system.to_entra_and_back("one_group")
    system.entra.set_faults(token_status=429, token_retry_after=600, token_fault_times=1)
    refused = system.callback(back, cookie=f"__Host-eb_browser={binding}")
    page = system.http.get(
        system.url(urlsplit(refused.headers["Location"]).path), params=query_of(refused)
    )
    assert page.status_code == 200
    assert "temporarily unavailable" in page.text
    assert "Try again in 10 minutes." in page.text
    # A URL anyone can write shows nothing but whole seconds up to an hour.
    for forged in ("600<script>", "99999", "-5", "0", "1e3"):
        crafted = system.http.get(
            system.url(f"/api/auth/{TENANT}/login"),
            params={"sso_error": "sso_unavailable", "sso_retry_after": forged},
        )
        assert "Try again in" not in crafted.text and "<script>" not in crafted.text


def test_an_spa_is_told_when_to_retry_and_the_next_spa_sign_in_works(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    first, second = spa_code(system, "one_group"), spa_code(system, "several_groups")
    system.entra.set_faults(token_status=429, token_retry_after=120, token_fault_times=1)
    callback = system.url(f"/api/auth/{TENANT}/callback")

    refused = system.http.post(callback, json=first)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "120"
    assert refused.json()["error"] == "sso_unavailable"
    assert "try again in 2 minutes" in refused.json()["error_description"]

    answered = system.http.post(callback, json=second)
    assert answered.status_code == 200, answered.text
    assert answered.json()["user"]["email"] == system.directory.users["several_groups"].upn


@pytest.mark.parametrize("spa", [False, True], ids=["redirect", "json"])
def test_every_refused_callback_is_one_warning_line_without_code_or_state(
    signin_system: SignInSystem, caplog: pytest.LogCaptureFixture, spa: bool
) -> None:
    system = signin_system
    # An answer cut off mid-token: MSAL would log its text; no log line may hold it.
    system.entra.set_faults(token_status=200, token_body="truncated", token_fault_times=1)
    if spa:
        sent = spa_code(system, "one_group")
        with caplog.at_level(logging.INFO):  # what the Functions host forwards
            answer = system.http.post(system.url(f"/api/auth/{TENANT}/callback"), json=sent)
        assert answer.status_code == 503
        secrets = [sent["code"], sent["state"]]
    else:
        binding, back = system.to_entra_and_back("one_group")
        with caplog.at_level(logging.INFO):  # what the Functions host forwards
            answer = system.callback(back, cookie=f"__Host-eb_browser={binding}")
        assert query_of(answer)["sso_error"] == "sso_unavailable"
        secrets = [*parse_qs(urlsplit(back).query)["code"], binding]
    everything = [r.getMessage() + str(r.exc_text or "") for r in caplog.records]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("entrabridge")]
    refusals = [line for line in lines if "refused" in line]
    assert len(refusals) == 1, lines
    assert "code=sso_unavailable" in refusals[0]
    assert "cause=JSONDecodeError" in refusals[0]
    for line in everything:  # every logger at INFO and up: ours, MSAL's, the SDKs'
        assert not any(secret in line for secret in [*secrets, "TRUNCATEDSECRET"]), line
