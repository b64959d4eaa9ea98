"""Live sessions follow the tenant's configuration: after an admin changes it, the
next refresh and /me answer with the profiles and roles it gives now (computed from
the groups stored at sign-in), and SSO switched off ends Microsoft sessions.

Changes are made through the admin API of the same host, so they apply at once
here; another instance's configuration cache may lag by its TTL (30 s), which the
docs state. Rows are read back: the user row follows, the family is revoked.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from shared.sessions.refresh import parse_refresh_token
from shared.users import ROLE_TENANT_ADMIN
from tests.support.signin import (
    PROFILE_ENGINEERS,
    PROFILE_SUPPORT,
    TENANT,
    SignInSystem,
    set_cookies,
)
from tests.support.snapshots import audit_actions

PLATFORM = {"X-Platform-Admin-Key": "test-platform-admin-key-0123456789"}
PROFILE_PLATFORM = "e0000000-0000-4000-8000-000000000009"


def change_config(system: SignInSystem, **fields: Any) -> None:
    """GET, change, PUT with If-Match, as an operator would."""
    url = system.url(f"/api/admin/tenants/{TENANT}/oauth2")
    current = system.http.get(url, headers=PLATFORM)
    assert current.status_code == 200, current.text
    body = current.json() | fields
    put = system.http.put(url, json=body, headers=PLATFORM | {"If-Match": current.headers["ETag"]})
    assert put.status_code == 200, put.text


class Person:
    """Sam (Engineering, Platform, Support, admins) signed in through the browser."""

    def __init__(self, system: SignInSystem, user_key: str = "several_groups") -> None:
        self.system = system
        cookies = set_cookies(system.browser_sign_in(user_key))
        self.access_token = cookies["__Host-eb_session"]
        self.refresh_token = cookies["__Host-eb_refresh"]

    def me(self) -> requests.Response:
        return self.system.http.get(
            self.system.url(f"/api/auth/{TENANT}/me"),
            headers={"Authorization": f"Bearer {self.access_token}"},
        )

    def refresh(self) -> requests.Response:
        answer = self.system.http.post(
            self.system.url(f"/api/auth/{TENANT}/token"),
            data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
        )
        if answer.status_code == 200:
            self.access_token = answer.json()["access_token"]
            self.refresh_token = answer.json()["refresh_token"]
        return answer

    def token_claims(self) -> dict[str, Any]:
        # The signature is the app's business (tested elsewhere); here: what it says.
        claims: dict[str, Any] = jwt.decode(self.access_token, options={"verify_signature": False})
        return claims

    def admin_users(self) -> int:
        return self.system.http.get(
            self.system.url(f"/api/admin/tenants/{TENANT}/users"),
            headers={"Authorization": f"Bearer {self.access_token}"},
        ).status_code


def stored_user(system: SignInSystem) -> Any:
    (user,) = system.services.users.list(TENANT, limit=10, cursor=None)[0]
    return user


def test_a_removed_mapping_leaves_the_profiles_at_the_next_refresh_and_me(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    sam = Person(system)
    assert sam.me().json()["profiles"] == sorted([PROFILE_ENGINEERS, PROFILE_SUPPORT])
    engineering_only = {"profile_id": PROFILE_ENGINEERS, "group_id": system.directory.engineering}
    change_config(system, profile_mappings=[engineering_only])
    assert sam.me().json()["profiles"] == [PROFILE_ENGINEERS]  # the old token, answered now
    assert sam.refresh().status_code == 200
    assert sam.token_claims()["profiles"] == [PROFILE_ENGINEERS]
    assert stored_user(system).profiles == (PROFILE_ENGINEERS,)  # the admin list agrees


def test_a_mapping_added_for_a_group_the_person_is_in_applies_without_signing_in_again(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    sam = Person(system)
    current = system.http.get(
        system.url(f"/api/admin/tenants/{TENANT}/oauth2"), headers=PLATFORM
    ).json()
    mappings = [
        *current["profile_mappings"],
        {"profile_id": PROFILE_PLATFORM, "group_id": system.directory.platform},
    ]
    change_config(system, profile_mappings=mappings)
    assert PROFILE_PLATFORM in sam.me().json()["profiles"]
    assert sam.refresh().status_code == 200
    assert PROFILE_PLATFORM in sam.token_claims()["profiles"]


def test_sso_switched_off_refuses_the_refresh_and_ends_the_session(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    sam = Person(system)
    assert sam.admin_users() == 200
    change_config(system, enabled=False)

    refused = sam.refresh()
    assert refused.status_code == 403 and refused.json()["error"] == "sso_disabled"
    token_id = parse_refresh_token(sam.refresh_token)
    assert token_id is not None
    found = system.services.sessions.refresh_tokens.get(TENANT, token_id)
    assert found is not None and found[0].revoked  # ended, not just refused once
    assert sam.me().status_code == 401
    assert sam.admin_users() == 401  # a tenant admin's token stops listing users
    # Back on: the ended session stays ended; a new sign-in works.
    change_config(system, enabled=True)
    assert sam.refresh().status_code == 400
    assert Person(system).me().status_code == 200


def test_sso_switched_off_ends_the_session_at_me_too(signin_system: SignInSystem) -> None:
    system = signin_system
    sam = Person(system)
    change_config(system, enabled=False)
    answer = sam.me()
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    assert "switched off" in answer.json()["error_description"]
    assert sam.refresh().status_code in (400, 403)


def test_an_admin_group_removed_takes_the_role_from_me_the_refresh_and_the_admin_api(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    sam = Person(system)
    assert sam.me().json()["roles"] == [ROLE_TENANT_ADMIN]
    change_config(system, admin_group_ids=[])
    assert sam.me().json()["roles"] == []
    assert sam.admin_users() == 403
    assert sam.refresh().status_code == 200
    assert sam.token_claims()["roles"] == []
    assert sam.admin_users() == 403
    assert ROLE_TENANT_ADMIN not in stored_user(system).roles
    assert ("user_demoted", None) in audit_actions(system.services.tables)


def test_an_admin_group_added_grants_the_role_at_the_next_refresh(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    oscar = Person(system, "one_group")  # Engineering only
    assert oscar.me().json()["roles"] == []
    change_config(system, admin_group_ids=[system.directory.admins, system.directory.engineering])
    assert oscar.me().json()["roles"] == []  # /me grants nothing: its token never had it
    assert oscar.admin_users() == 403
    assert oscar.refresh().status_code == 200
    assert oscar.token_claims()["roles"] == [ROLE_TENANT_ADMIN]
    assert ROLE_TENANT_ADMIN in stored_user(system).roles
    assert oscar.admin_users() == 200


@pytest.mark.parametrize("user_key", ["many_groups"])
def test_groups_from_graph_on_overage_are_kept_and_followed_too(
    signin_system: SignInSystem, user_key: str
) -> None:
    system = signin_system
    mona = Person(system, user_key)  # 251 groups: the token has none, Graph lists them
    assert mona.me().json()["profiles"]
    stored = stored_user(system)
    assert stored.group_ids is not None and len(stored.group_ids) == 250
    change_config(system, profile_mappings=[])
    assert mona.me().json()["profiles"] == []
    assert mona.refresh().status_code == 200
    assert mona.token_claims()["profiles"] == []


def test_a_person_in_no_group_is_stored_with_no_groups_not_unknown(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    nora = Person(system, "no_groups")
    assert stored_user(system).group_ids == ()  # known to be none: recomputed, not kept as is
    assert nora.refresh().status_code == 200
    assert nora.token_claims()["profiles"] == [] and nora.token_claims()["roles"] == []
