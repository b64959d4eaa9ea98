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
