"""One id per request, so support can find one failed sign-in: the same id in the
answer's X-Correlation-Id, its JSON error, its log lines and the audit event it
wrote; a failed sign-in carries it to the login page, which shows it."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.signin import TENANT, SignInSystem


def test_a_refused_sign_in_can_be_found_by_its_id(
    signin_system: SignInSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    system = signin_system
    system.entra.set_faults(token_status=400, token_fault_times=1)  # Entra refuses once
    answer = system.browser_sign_in("one_group")
    assert answer.status_code == 302
    found = answer.headers["X-Correlation-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", found)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["sso_correlation"] == [found]
    events, _ = system.services.audit.list(TENANT, limit=10, cursor=None)
    refused = next(e for e in events if e["action"] == "sign_in_refused")
    assert refused["correlation_id"] == found
    assert any(found in record.getMessage() for record in caplog.records)

    page = system.http.get(system.url(urlsplit(answer.headers["Location"]).path), params=query)
    assert f"Support reference: {found}" in page.text
    assert page.headers["X-Correlation-Id"] != found  # the page is a request of its own


def test_a_json_error_names_its_request(signin_system: SignInSystem) -> None:
    answer = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        json={"grant_type": "refresh_token", "refresh_token": "not-ours"},
    )
    assert answer.status_code == 400
    assert answer.json()["correlation_id"] == answer.headers["X-Correlation-Id"]


def test_a_forged_reference_is_not_shown(signin_system: SignInSystem) -> None:
    page = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/login"),
        params={"sso_error": "idp_error", "sso_correlation": "<script>x</script>"},
    )
    assert "Support reference" not in page.text and "<script>x" not in page.text
