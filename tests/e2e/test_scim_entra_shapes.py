"""The rest of the request shapes Microsoft documents for Entra's SCIM client, over
HTTP against Azurite (the provisioning cycle and the refusals are in test_scim.py):
paging, PATCH without a path and with a value filter, PUT, many members in one
PATCH, a group's rename and deletion."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.test_scim import CORE, GROUP, PATCH, Scim, scim  # noqa: F401 (the fixture)
from tests.support.signin import PROFILE_ENGINEERS


def new_user(scim: Scim, n: int) -> dict[str, Any]:  # noqa: F811
    body = {
        "schemas": [CORE],
        "externalId": str(uuid.uuid4()),
        "userName": f"person{n}@contoso.example",
        "active": True,
        "displayName": f"Person {n}",
        "emails": [{"primary": True, "type": "work", "value": f"person{n}@contoso.example"}],
    }
    created = scim("POST", "/Users", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def test_paging_with_start_index_and_count(scim: Scim) -> None:  # noqa: F811
    made = {new_user(scim, n)["id"] for n in range(5)}
    seen: set[str] = set()
    for start in (1, 3, 5):
        page = scim("GET", "/Users", params={"startIndex": str(start), "count": "2"}).json()
        assert page["totalResults"] == 5 and page["startIndex"] == start
        seen |= {r["id"] for r in page.get("Resources", [])}
    assert seen == made
    empty = scim("GET", "/Users", params={"startIndex": "6", "count": "2"}).json()
    assert empty["totalResults"] == 5 and empty.get("Resources", []) == []


def test_patch_without_path_with_a_value_filter_and_put(scim: Scim) -> None:  # noqa: F811
    user = new_user(scim, 1)
    patched = scim(
        "PATCH",
        f"/Users/{user['id']}",
        json=ops(
            {"op": "Add", "value": {"displayName": "Person One", "name.familyName": "One"}},
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "p1@contoso.example",
            },
        ),
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["displayName"] == "Person One" and body["name"]["familyName"] == "One"
    assert body["emails"][0]["value"] == "p1@contoso.example"
    found = scim(
        "GET", "/Users", params={"filter": 'emails[type eq "work"].value eq "p1@contoso.example"'}
    )
    assert [r["id"] for r in found.json()["Resources"]] == [user["id"]]

    replaced = scim(
        "PUT",
        f"/Users/{user['id']}",
        json={
            "schemas": [CORE],
            "externalId": user["externalId"],
            "userName": user["userName"],
            "active": True,
            "displayName": "P. One",
        },
        headers={"If-Match": patched.headers["ETag"]},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["displayName"] == "P. One" and "emails" not in replaced.json()


def test_many_members_rename_and_delete_of_a_group(scim: Scim) -> None:  # noqa: F811
    people = [new_user(scim, n)["id"] for n in range(40)]  # past one transaction's worth
    engineering = scim.system.directory.engineering
    group = scim(
        "POST",
        "/Groups",
        json={"schemas": [GROUP], "externalId": engineering, "displayName": "Eng"},
    ).json()
    added = scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=ops({"op": "Add", "path": "members", "value": [{"value": p} for p in people]}),
    )
    assert added.status_code == 200, added.text
    assert len(added.json()["members"]) == 40
    renamed = scim(
        "PATCH",
        f"/Groups/{group['id']}",
        json=ops({"op": "Replace", "path": "displayName", "value": "Engineering"}),
    )
    assert renamed.json()["displayName"] == "Engineering"
    by_name = scim(
        "GET",
        "/Groups",
        params={"filter": 'displayName eq "Engineering"', "excludedAttributes": "members"},
    ).json()
    assert [g["id"] for g in by_name["Resources"]] == [group["id"]]
    assert "members" not in by_name["Resources"][0]
    users = scim.system.services.users
    assert all(users.get("contoso", p).profiles == (PROFILE_ENGINEERS,) for p in people)  # type: ignore[union-attr]

    assert scim("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert scim("GET", f"/Groups/{group['id']}").status_code == 404
    assert all(users.get("contoso", p).profiles == () for p in people)  # type: ignore[union-attr]


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_a_manager_as_entra_sends_it(scim: Scim) -> None:  # noqa: F811
    """Entra sends the manager's id without the `$ref` RFC 7643 requires: `{"value"}` in
    a POST, the bare id in a PATCH. The service fills `$ref` in; a manager set to
    nothing, or removed, is gone."""
    boss = new_user(scim, 1)
    body = {
        "schemas": [CORE, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": "ada@contoso.example",
        "active": True,
        ENTERPRISE: {"department": "Engines", "manager": {"value": boss["id"]}},
    }
    created = scim("POST", "/Users", json=body)
    assert created.status_code == 201, created.text
    manager = created.json()[ENTERPRISE]["manager"]
    assert manager["value"] == boss["id"]
    assert manager["$ref"] == boss["meta"]["location"]

    other = new_user(scim, 2)
    user_url = f"/Users/{created.json()['id']}"
    path = f"{ENTERPRISE}:manager"
    patched = scim("PATCH", user_url, json=ops({"op": "Add", "path": path, "value": other["id"]}))
    assert patched.status_code == 200, patched.text
    assert patched.json()[ENTERPRISE]["manager"]["$ref"] == other["meta"]["location"]
    read = scim("GET", user_url).json()
    assert read[ENTERPRISE]["manager"]["value"] == other["id"]

    cleared = scim("PATCH", user_url, json=ops({"op": "Replace", "path": path, "value": ""}))
    assert cleared.status_code == 200, cleared.text
    assert "manager" not in cleared.json()[ENTERPRISE]
    assert cleared.json()[ENTERPRISE]["department"] == "Engines"

    scim("PATCH", user_url, json=ops({"op": "Replace", "path": path, "value": boss["id"]}))
    removed = scim("PATCH", user_url, json=ops({"op": "Remove", "path": path}))
    assert removed.status_code == 200, removed.text
    assert "manager" not in removed.json()[ENTERPRISE]


def test_a_manager_that_is_not_an_id_is_refused_and_changes_nothing(
    scim: Scim,  # noqa: F811
) -> None:
    user = new_user(scim, 1)
    path = f"{ENTERPRISE}:manager"
    refused = scim(
        "PATCH", f"/Users/{user['id']}", json=ops({"op": "Add", "path": path, "value": [1, 2]})
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim("GET", f"/Users/{user['id']}").json() == user
