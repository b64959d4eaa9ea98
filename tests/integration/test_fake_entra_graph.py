"""Groups overage in the ID token, and the Graph reads that resolve it, over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devtools.fake_entra import FakeEntra
from tests.support.entra import EntraTestDirectory, sign_in, verified_claims

MEMBERS = "/v1.0/me/transitiveMemberOf"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def all_pages(
    http: requests.Session, first_url: str, token: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Follow @odata.nextLink to the end: (every item, every URL fetched)."""
    items: list[dict[str, Any]] = []
    urls: list[str] = []
    url: str | None = first_url
    while url:
        urls.append(url)
        response = http.get(url, headers=bearer(token), timeout=10)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["value"])
        url = page.get("@odata.nextLink")
    return items, urls


def test_a_user_over_the_limit_gets_the_overage_form_and_graph_lists_every_group(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["many_groups"]
    result = sign_in(fake_entra, http, user)
    claims = verified_claims(fake_entra, http, result["id_token"])

    tid = entra_directory.tenant_id
    assert "groups" not in claims
    assert claims["_claim_names"] == {"groups": "src1"}
    assert claims["_claim_sources"] == {
        "src1": {"endpoint": f"https://graph.windows.net/{tid}/users/{user.oid}/getMemberObjects"}
    }

    first = f"{fake_entra.graph_base_url}{MEMBERS}?$select=id,securityEnabled"
    items, urls = all_pages(http, first, result["access_token"])

    assert len(urls) == 3  # 250 security groups + a Microsoft 365 group + a role, 100 a page
    assert all(u.startswith(fake_entra.graph_base_url + MEMBERS + "?") for u in urls[1:])
    security = {
        i["id"]
        for i in items
        if i["@odata.type"] == "#microsoft.graph.group" and i["securityEnabled"]
    }
    assert security == user.security_groups
    others = {(i["@odata.type"], i["id"]) for i in items} - {
        ("#microsoft.graph.group", g) for g in security
    }
    assert others == {
        ("#microsoft.graph.group", entra_directory.all_company),
        ("#microsoft.graph.directoryRole", entra_directory.global_reader),
    }


def test_the_groups_limit_can_be_set_per_stand_in(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["several_groups"]  # four security groups
    fake_entra.groups_limit = 3
    over = sign_in(fake_entra, http, user)["id_token_claims"]
    fake_entra.groups_limit = 4
    at_limit = sign_in(fake_entra, http, user)["id_token_claims"]

    assert "groups" not in over and over["_claim_names"] == {"groups": "src1"}
    assert set(at_limit["groups"]) == user.security_groups


def test_the_group_cast_lists_groups_only_with_the_selected_fields(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    result = sign_in(fake_entra, http, entra_directory.users["several_groups"])
    url = (
        f"{fake_entra.graph_base_url}{MEMBERS}/microsoft.graph.group"
        "?$select=id,securityEnabled&$top=100"
    )
    items, _ = all_pages(http, url, result["access_token"])

    assert {i["@odata.type"] for i in items} == {"#microsoft.graph.group"}
    assert all(set(i) == {"@odata.type", "id", "securityEnabled"} for i in items)
    assert {i["id"] for i in items if not i["securityEnabled"]} == {entra_directory.all_company}


@pytest.mark.parametrize(("top", "page_size"), [("10", 10), ("500", 100)])
def test_pages_follow_top_but_never_exceed_100(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    top: str,
    page_size: int,
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["many_groups"])["access_token"]
    url = f"{fake_entra.graph_base_url}{MEMBERS}?$select=id&$top={top}"
    first = http.get(url, headers=bearer(token), timeout=10).json()

    assert len(first["value"]) == page_size
    next_query = urlsplit(first["@odata.nextLink"]).query
    assert f"$top={top}" in next_query and "$skiptoken=" in next_query
    items, _ = all_pages(http, url, token)
    assert len(items) == 252 and len({i["id"] for i in items}) == 252


def test_bad_paging_parameters_are_refused(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["one_group"])["access_token"]
    base = f"{fake_entra.graph_base_url}{MEMBERS}"
    for query in ("?$top=0", "?$top=abc", "?$skiptoken=forged", "?$filter=id%20eq%20'x'"):
        response = http.get(base + query, headers=bearer(token), timeout=10)
        assert response.status_code == 400, query


def test_me_describes_the_signed_in_user(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["no_email"]
    token = sign_in(fake_entra, http, user)["access_token"]
    me = http.get(f"{fake_entra.graph_base_url}/v1.0/me", headers=bearer(token), timeout=10)

    body = me.json()
    assert body["id"] == user.oid and body["userPrincipalName"] == user.upn
    assert body["displayName"] == user.name and body["mail"] is None
    selected = http.get(
        f"{fake_entra.graph_base_url}/v1.0/me?$select=id,displayName",
        headers=bearer(token),
        timeout=10,
    ).json()
    assert set(selected) == {"@odata.context", "id", "displayName"}


def test_get_member_objects_can_return_security_groups_only(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    user = entra_directory.users["several_groups"]
    token = sign_in(fake_entra, http, user)["access_token"]
    response = http.post(
        f"{fake_entra.graph_base_url}/v1.0/me/getMemberObjects",
        json={"securityEnabledOnly": True},
        headers=bearer(token),
        timeout=10,
    )
    assert set(response.json()["value"]) == user.security_groups


def test_userinfo_answers_the_same_sub_as_the_id_token(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    result = sign_in(fake_entra, http, entra_directory.users["one_group"])
    info = http.get(
        f"{fake_entra.base_url}/oidc/userinfo", headers=bearer(result["access_token"]), timeout=10
    ).json()
    assert info["sub"] == result["id_token_claims"]["sub"]
    assert info["email"] == entra_directory.users["one_group"].email


@pytest.mark.parametrize("kind", ["none", "garbage", "id_token", "expired"])
def test_graph_accepts_only_live_access_tokens_it_issued(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session, kind: str
) -> None:
    result = sign_in(fake_entra, http, entra_directory.users["one_group"])
    headers = {
        "none": {},
        "garbage": bearer("eyJhbGciOiJub25lIn0.e30."),
        "id_token": bearer(result["id_token"]),
        "expired": bearer(result["access_token"]),
    }[kind]
    if kind == "expired":
        fake_entra.expire_access_tokens()

    response = http.get(f"{fake_entra.graph_base_url}/v1.0/me", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("status", [500, 503])
def test_the_graph_fault_fails_every_call(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session, status: int
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["one_group"])["access_token"]
    fake_entra.set_faults(graph_status=status)
    for path in ("/v1.0/me", f"{MEMBERS}?$select=id"):
        response = http.get(fake_entra.graph_base_url + path, headers=bearer(token), timeout=10)
        assert response.status_code == status
        assert "error" in response.json()


def test_the_graph_fault_can_start_at_a_later_page(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["many_groups"])["access_token"]
    fake_entra.set_faults(graph_status=503, graph_fail_from_page=1)
    first = http.get(
        f"{fake_entra.graph_base_url}{MEMBERS}?$select=id", headers=bearer(token), timeout=10
    )
    assert first.status_code == 200
    second = http.get(first.json()["@odata.nextLink"], headers=bearer(token), timeout=10)
    assert second.status_code == 503 and second.headers["Retry-After"]


def test_the_next_link_can_be_pointed_at_another_origin(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    token = sign_in(fake_entra, http, entra_directory.users["many_groups"])["access_token"]
    fake_entra.set_faults(graph_next_link_base="https://graph.attacker.invalid")
    page = http.get(
        f"{fake_entra.graph_base_url}{MEMBERS}?$select=id", headers=bearer(token), timeout=10
    ).json()
    assert page["@odata.nextLink"].startswith(f"https://graph.attacker.invalid{MEMBERS}?")
