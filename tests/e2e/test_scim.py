"""SCIM provisioning over HTTP as Microsoft Entra's provisioning service drives it:
the local host, Azurite, the Key Vault and Entra stand-ins, nothing mocked. The
request shapes are the ones Microsoft documents for its SCIM client; the token
comes from the admin API as a tenant admin signed in through Entra makes it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.e2e.test_admin_with_signin import admin_call, signed_in
from tests.support.signin import PROFILE_ENGINEERS, TENANT, SignInSystem, set_cookies

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """Entra's side of the conversation: the Tenant URL and the secret token."""

    def __init__(self, system: SignInSystem, token: str, admin: str) -> None:
        self.system, self.token, self.admin = system, token, admin
        self.base = system.url(f"/api/scim/v2/{TENANT}")

    def admin_token(self) -> str:
        """The session of the tenant admin who made the SCIM token."""
        return self.admin

    def __call__(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if "json" in kwargs:
            headers["Content-Type"] = "application/scim+json"
            kwargs["data"] = json.dumps(kwargs.pop("json"))
        return self.system.http.request(
            method, f"{self.base}{path}", headers=headers | kwargs.pop("headers", {}), **kwargs
        )


@pytest.fixture
def scim(signin_system: SignInSystem) -> Scim:
    admin = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    made = admin_call(signin_system, "POST", "scim-token", admin)
    assert made.status_code == 201, made.text
    assert set(made.json()) == {"token", "created_at"}
    return Scim(signin_system, made.json()["token"], admin)


def entra_user(key: str, system: SignInSystem) -> dict[str, Any]:
    person = system.directory.users[key]
    return {
        "schemas": [CORE, ENTERPRISE],
        "externalId": person.oid,
        "userName": person.upn,
        "active": True,
        "displayName": person.name,
        "emails": [{"primary": True, "type": "work", "value": person.upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": person.name, "familyName": "F", "givenName": "G"},
        "roles": [],
        ENTERPRISE: {"department": "Engineering"},
    }


def sso_error(answer: requests.Response) -> str | None:
    return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", [None])[0]


def test_a_provisioning_cycle_as_entra_runs_it(scim: Scim) -> None:
    system = scim.system
    oscar = system.directory.users["one_group"]

    # Entra looks the user up first; none: 200 with an empty list.
    lookup = scim("GET", "/Users", params={"filter": f'userName eq "{oscar.upn}"'})
    assert lookup.status_code == 200, lookup.text
    assert lookup.headers["Content-Type"].startswith("application/scim+json")
    assert lookup.json()["totalResults"] == 0

    created = scim("POST", "/Users", json=entra_user("one_group", system))
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["Location"] == user["meta"]["location"]
    assert created.headers["ETag"] == user["meta"]["version"]
    found = scim("GET", "/Users", params={"filter": f'externalId eq "{oscar.oid}"'})
    assert [r["id"] for r in found.json()["Resources"]] == [user["id"]]

    none = scim(
        "GET",
        "/Groups",
        params={"filter": 'displayName eq "Engineering"', "excludedAttributes": "members"},
    )
    assert none.status_code == 200 and none.json()["totalResults"] == 0
    group = scim(
        "POST",
        "/Groups",
        json={
            "schemas": [GROUP],
            "externalId": system.directory.engineering,
            "displayName": "Engineering",
            "meta": {"resourceType": "Group"},
        },
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    joined = scim(
        "PATCH",
        f"/Groups/{group_id}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": user["id"]}]}],
        },
    )
    assert joined.status_code in (200, 204), joined.text
    listed = admin_call(system, "GET", "users", scim.admin_token(), params={"limit": "100"})
    oscar_row = next(u for u in listed.json()["users"] if u["id"] == user["id"])
    assert oscar_row["profiles"] == [PROFILE_ENGINEERS] and oscar_row["last_login_at"] is None

    # Oscar signs in: the user SCIM made, not a second one.
    answer = system.browser_sign_in("one_group")
    assert answer.status_code == 302 and sso_error(answer) is None
    session = set_cookies(answer)
    me = system.http.get(
        system.url(f"/api/auth/{TENANT}/me"),
        headers={"Authorization": f"Bearer {session['__Host-eb_session']}"},
    )
    assert me.json()["id"] == user["id"]
    emails = [
        u["email"] for u in admin_call(system, "GET", "users", scim.admin_token()).json()["users"]
    ]
    assert emails.count(oscar.upn) == 1

    # He leaves the group in Entra: the profile goes now, and his next refresh shows it.
    left = scim(
        "PATCH",
        f"/Groups/{group_id}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"value": user["id"]}]}],
        },
    )
    assert left.status_code in (200, 204), left.text
    refreshed = system.http.post(
        system.url(f"/api/auth/{TENANT}/token"),
        json={"grant_type": "refresh_token", "refresh_token": session["__Host-eb_refresh"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    claims = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert claims["profiles"] == []

    # He leaves the company: deactivated (Entra's PATCH), no sign-in, no refresh.
    gone = scim(
        "PATCH",
        f"/Users/{user['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
    )
    assert gone.status_code == 200 and gone.json()["active"] is False
    again = system.http.post(
        system.url(f"/api/auth/{TENANT}/token"),
        json={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert sso_error(system.browser_sign_in("one_group")) == "account_disabled"

    deleted = scim("DELETE", f"/Users/{user['id']}")
    assert deleted.status_code == 204
    missing = scim("GET", f"/Users/{user['id']}")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == [ERROR] and missing.json()["status"] == "404"


def test_refusals_are_scim_errors_and_change_nothing(scim: Scim) -> None:
    system = scim.system
    for token in ("wrong-token", scim.token + "x"):
        refused = scim("GET", "/Users", token=token)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.json()["schemas"] == [ERROR]
    no_token = system.http.get(f"{scim.base}/Users")
    assert no_token.status_code == 401
    other_tenant = system.http.get(
        system.url("/api/scim/v2/fabrikam/Users"),
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    assert other_tenant.status_code == 401

    bad_filter = scim("GET", "/Users", params={"filter": 'userName eq "unterminated'})
    assert bad_filter.status_code == 400 and bad_filter.json()["scimType"] == "invalidFilter"
    not_json = scim(
        "POST", "/Users", data=b"{not json", headers={"Content-Type": "application/scim+json"}
    )
    assert not_json.status_code == 400 and not_json.json()["scimType"] == "invalidSyntax"
    no_user_name = scim("POST", "/Users", json={"schemas": [CORE], "active": True})
    assert no_user_name.status_code == 400 and "userName" in no_user_name.json()["detail"]
    assert scim("GET", "/Users").json()["totalResults"] == 0

    first = scim("POST", "/Users", json=entra_user("no_groups", system))
    assert first.status_code == 201
    twice = scim("POST", "/Users", json=entra_user("no_groups", system))
    assert twice.status_code == 409 and twice.json()["scimType"] == "uniqueness"
    stale = scim(
        "PUT",
        f"/Users/{first.json()['id']}",
        json=entra_user("no_groups", system),
        headers={"If-Match": 'W/"not-the-version"'},
    )
    assert stale.status_code == 412
    assert scim("GET", "/Users").json()["totalResults"] == 1


def test_a_method_an_endpoint_does_not_take_is_405_and_an_unknown_path_404(scim: Scim) -> None:
    # Both as SCIM errors, never the host's bare answers (docs/scim.md).
    for method, path in (
        ("DELETE", "/Users"),
        ("PATCH", "/Groups"),
        ("POST", "/ServiceProviderConfig"),
        ("GET", "/.search"),
        ("POST", "/Users/some-id"),
    ):
        answer = scim(method, path)
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.json()["schemas"] == [ERROR]
    for method, path in (
        ("GET", "/Users/some-id/x"),
        ("GET", "/Schemas/a/b"),
        ("GET", "/ServiceProviderConfig/x"),
        ("GET", "/Bulk"),
        ("DELETE", "/Me"),
    ):
        answer = scim(method, path)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["schemas"] == [ERROR]


def test_revoking_the_token_locks_entra_out(scim: Scim) -> None:
    assert scim("GET", "/ServiceProviderConfig").status_code == 200
    revoked = admin_call(scim.system, "DELETE", "scim-token", scim.admin_token())
    assert revoked.status_code == 204
    assert scim("GET", "/ServiceProviderConfig").status_code == 401
