"""Every user of `make dev`'s demo directory signs in (or is refused) as the README says.

The same pieces as `make dev`: the Entra stand-in serving
devtools/fake_entra/demo_directory.json, the `demo` tenant seeded by
devtools/demo_tenant.py, PUBLIC_BASE_URL http://127.0.0.1:7071 (the redirect URI
the demo app registration lists), Azurite and the Key Vault stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.azurite import Azurite
from devtools.demo_tenant import DEMO_DIRECTORY, DEMO_TENANT, profile_id, seed_demo_tenant
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from tests.support.signin import set_cookies
from tests.support.system import installed_services, make_settings


@dataclass
class Demo:
    host: FuncHost
    http: requests.Session

    def sign_in(self, upn: str) -> requests.Response:
        """authorize -> the stand-in (login_hint picks the user) -> callback."""
        started = self.http.get(
            f"{self.host.url}/api/auth/{DEMO_TENANT}/authorize",
            params={"login_hint": upn},
            allow_redirects=False,
        )
        assert started.status_code == 302, started.text
        binding = set_cookies(started)["__Host-eb_browser"]
        at_entra = self.http.get(started.headers["Location"], allow_redirects=False)
        assert at_entra.status_code == 302, at_entra.text
        back = urlsplit(at_entra.headers["Location"])
        assert back.netloc == "127.0.0.1:7071"  # the registered redirect URI, exactly
        return self.http.get(
            f"{self.host.url}{back.path}?{back.query}",
            headers={"Cookie": f"__Host-eb_browser={binding}"},
            allow_redirects=False,
        )

    def me(self, answer: requests.Response) -> dict[str, Any]:
        token = set_cookies(answer)["__Host-eb_session"]
        me = self.http.get(
            f"{self.host.url}/api/auth/{DEMO_TENANT}/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert me.status_code == 200, me.text
        body: dict[str, Any] = me.json()
        return body


@pytest.fixture
def demo(
    app_host: FuncHost,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    make_fake_entra: Callable[..., FakeEntra],
    request: pytest.FixtureRequest,
) -> Iterator[Demo]:
    entra = make_fake_entra(json.loads(DEMO_DIRECTORY.read_text()))
    settings = make_settings(
        azurite,
        fake_keyvault,
        PUBLIC_BASE_URL="http://127.0.0.1:7071",
        ENTRA_AUTHORITY_HOST=entra.base_url,
        GRAPH_BASE_URL=entra.graph_base_url,
    )
    with installed_services(settings, azurite, request) as services:
        seed_demo_tenant(services)
        with requests.Session() as http:
            yield Demo(app_host, http)


def sso_error(answer: requests.Response) -> str | None:
    query = parse_qs(urlsplit(answer.headers.get("Location", "")).query)
    return query.get("sso_error", [None])[0]


ENGINEERING, SUPPORT, PROJECT_250 = (
    profile_id(name) for name in ("Engineering", "Support", "Project group 250")
)


@pytest.mark.parametrize(
    ("upn", "profiles", "roles"),
    [
        ("ada@demo.example", [], []),
        ("grace@demo.example", [ENGINEERING], []),
        # Platform team is nested in Engineering; tenant admins gives the role.
        ("alan@demo.example", sorted([ENGINEERING, SUPPORT]), ["tenant_admin"]),
        # 252 groups (Engineering among them): the overage form, resolved through Graph.
        ("katherine@demo.example", sorted([ENGINEERING, PROJECT_250]), []),
        # No email claim: the sign-in name, an address, stands in.
        ("edsger@demo.example", [SUPPORT], []),
    ],
)
def test_demo_users_sign_in_with_the_profiles_their_groups_give(
    demo: Demo, upn: str, profiles: list[str], roles: list[str]
) -> None:
    answer = demo.sign_in(upn)
    assert answer.status_code == 302 and sso_error(answer) is None, answer.headers
    user = demo.me(answer)
    assert user["email"] == upn
    assert sorted(user["profiles"]) == profiles
    assert user["roles"] == roles


@pytest.mark.parametrize(
    ("upn", "code", "message"),
    [
        # Ken: no email, and a phone number to sign in with.
        ("+15550100", "sso_no_email_claim", "has no email address this application can use"),
        # Barbara is disabled in the directory; Margaret is not assigned to the app.
        ("barbara@demo.example", "idp_error", "did not complete the sign-in"),
        ("margaret@demo.example", "idp_error", "did not complete the sign-in"),
    ],
)
def test_demo_users_who_cannot_sign_in_get_the_page_that_says_why(
    demo: Demo, upn: str, code: str, message: str
) -> None:
    answer = demo.sign_in(upn)
    assert sso_error(answer) == code
    assert "__Host-eb_session" not in set_cookies(answer)
    landing = urlsplit(answer.headers["Location"])
    if upn.startswith("margaret"):  # the demo directory's AADSTS50105
        assert parse_qs(landing.query)["sso_error_ref"] == ["AADSTS50105"]
    assert landing.path == f"/api/auth/{DEMO_TENANT}/login"
    page = demo.http.get(f"{demo.host.url}{landing.path}?{landing.query}")
    assert page.status_code == 200 and message in page.text
