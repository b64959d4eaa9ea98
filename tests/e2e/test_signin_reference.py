"""When Entra refuses, its AADSTS number reaches the person (to quote to their admin)
and the audit log, and nothing else from Entra's redirect is shown."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support.signin import TENANT, SignInSystem


def test_the_aadsts_number_of_a_refusal_is_shown_and_audited(
    signin_system: SignInSystem,
) -> None:
    signin_system.entra.set_faults(
        authorize_error=["access_denied", "AADSTS50105: <b>Call +1 555 0100</b> not assigned"]
    )
    answer = signin_system.browser_sign_in("one_group")
    landing = urlsplit(answer.headers["Location"])
    query = parse_qs(landing.query)
    correlation = answer.headers["X-Correlation-Id"]  # for support (test_correlation.py)
    assert query == {
        "sso_error": ["idp_error"],
        "sso_error_ref": ["AADSTS50105"],
        "sso_correlation": [correlation],
    }
    page = signin_system.http.get(signin_system.url(f"{landing.path}?{landing.query}"))
    assert "Reference for your administrator: AADSTS50105" in page.text
    assert "555" not in page.text and "<b>" not in page.text
    events, _ = signin_system.services.audit.list(TENANT, limit=10, cursor=None)
    refused = [e for e in events if e["action"] == "sign_in_refused"]
    assert refused and refused[0]["code"] == "idp_error"
    assert refused[0]["detail"] == "AADSTS50105"


@pytest.mark.parametrize(
    "reference",
    ["<script>alert(1)</script>", "AADSTS50105 call +1 555 0100", "AADSTS", "aadsts50105", ""],
)
def test_a_login_url_cannot_put_other_text_on_the_page(
    signin_system: SignInSystem, reference: str
) -> None:
    query = urlencode({"sso_error": "idp_error", "sso_error_ref": reference})
    page = signin_system.http.get(signin_system.url(f"/api/auth/{TENANT}/login?{query}"))
    assert page.status_code == 200
    assert "Microsoft Entra ID did not complete the sign-in." in page.text
    assert "Reference for your administrator" not in page.text
    assert "555" not in page.text and "<script>alert" not in page.text


def test_a_refused_code_exchange_is_audited_with_its_aadsts_number(
    signin_system: SignInSystem,
) -> None:
    # Entra no longer knows the client secret: AADSTS7000215 in its token answer.
    signin_system.entra.remove_client_secret(
        signin_system.directory.tenant_id,
        signin_system.directory.client_id,
        signin_system.directory.client_secret,
    )
    answer = signin_system.browser_sign_in("one_group")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["sso_error"] == ["sso_idp_rejected"]
    assert query["sso_error_ref"][0].startswith("AADSTS")
    events, _ = signin_system.services.audit.list(TENANT, limit=10, cursor=None)
    refused = [e for e in events if e["action"] == "sign_in_refused"]
    assert refused[0]["detail"] == query["sso_error_ref"][0]


def test_the_error_goes_into_the_query_of_a_login_page_with_a_fragment(
    signin_system: SignInSystem,
) -> None:
    import dataclasses

    config = signin_system.services.configs.get_config(TENANT)
    assert config is not None
    signin_system.services.configs.put_tenant(
        TENANT,
        "Contoso",
        dataclasses.replace(config, login_page_url="https://app.example/login?lang=en#sign-in"),
    )
    signin_system.services.configs.forget(TENANT)
    signin_system.entra.set_faults(authorize_error=["access_denied", "AADSTS50105: no"])
    answer = signin_system.browser_sign_in("one_group")
    correlation = answer.headers["X-Correlation-Id"]
    assert answer.headers["Location"] == (
        "https://app.example/login?lang=en&sso_error=idp_error&sso_error_ref=AADSTS50105"
        f"&sso_correlation={correlation}#sign-in"
    )
