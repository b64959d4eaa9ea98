"""A tenant admin who signed in through Entra manages their tenant with their session,
and what they change is what the next sign-in does: the local host, the Entra stand-in,
Azurite and the Key Vault stand-in, nothing mocked."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from shared.store.secrets import client_secret_name
from tests.support.signin import (
    PROFILE_ENGINEERS,
    PROFILE_SUPPORT,
    TENANT,
    SignInSystem,
    set_cookies,
)


def admin_call(
    system: SignInSystem, method: str, path: str, token: str, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} | kwargs.pop("headers", {})
    return system.http.request(
        method, system.url(f"/api/admin/tenants/{TENANT}/{path}"), headers=headers, **kwargs
    )


def signed_in(system: SignInSystem, user_key: str) -> dict[str, str]:
    answer = system.browser_sign_in(user_key)
    assert answer.status_code == 302, answer.text
    error = parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error")
    assert error is None, error
    return set_cookies(answer)


def replace_document(system: SignInSystem, token: str, **changes: Any) -> requests.Response:
    """GET the configuration, change fields, PUT it back with its ETag."""
    current = admin_call(system, "GET", "oauth2", token)
    assert current.status_code == 200, current.text
    return admin_call(
        system,
        "PUT",
        "oauth2",
        token,
        json=current.json() | changes,
        headers={"If-Match": current.headers["ETag"]},
    )


def sso_error(answer: requests.Response) -> str | None:
    return parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error", [None])[0]


def test_a_signed_in_admin_changes_mappings_and_the_next_sign_in_follows(
    signin_system: SignInSystem,
) -> None:
    admin = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    # Support members no longer get the support profile; engineering gets both.
    engineering = signin_system.directory.engineering
    changed = replace_document(
        signin_system,
        admin,
        profile_mappings=[
            {"profile_id": PROFILE_ENGINEERS, "group_id": engineering},
            {"profile_id": PROFILE_SUPPORT, "group_id": engineering},
        ],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is True
    oscar = signed_in(signin_system, "one_group")["__Host-eb_session"]
    me = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"), headers={"Authorization": f"Bearer {oscar}"}
    ).json()
    assert me["profiles"] == sorted([PROFILE_ENGINEERS, PROFILE_SUPPORT])
    events = admin_call(signin_system, "GET", "audit", admin).json()["events"]
    assert [e["action"] for e in events[:2]] == ["sign_in", "config_updated"]
    assert events[1]["actor"].endswith("<sam@contoso.example>")
    assert events[1]["fields"] == ["profile_mappings"]


def test_a_disabled_user_cannot_sign_in_or_refresh_until_enabled(
    signin_system: SignInSystem,
) -> None:
    admin = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    oscar_cookies = signed_in(signin_system, "one_group")
    listed = admin_call(signin_system, "GET", "users", admin).json()["users"]
    oscar = next(u for u in listed if u["email"] == "oscar@contoso.example")
    disabled = admin_call(
        signin_system, "PATCH", f"users/{oscar['id']}", admin, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    assert sso_error(signin_system.browser_sign_in("one_group")) == "account_disabled"
    refreshed = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": oscar_cookies["__Host-eb_refresh"]},
    )
    assert refreshed.status_code >= 400
    admin_call(signin_system, "PATCH", f"users/{oscar['id']}", admin, json={"disabled": False})
    assert sso_error(signin_system.browser_sign_in("one_group")) is None


def test_a_rotation_entra_does_not_know_yet_keeps_sign_in_working_and_is_audited(
    signin_system: SignInSystem,
) -> None:
    admin = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    rotated = admin_call(
        signin_system,
        "PUT",
        "oauth2/client-secret",
        admin,
        json={"value": "n0t-yet-registered-in-entra", "expires_on": "2099-01-01"},
    )
    assert rotated.status_code == 200, rotated.text
    assert sso_error(signin_system.browser_sign_in("one_group")) is None
    actions = [
        e["action"] for e in admin_call(signin_system, "GET", "audit", admin).json()["events"]
    ]
    assert "client_secret_rotated" in actions
    assert "client_secret_previous_version_used" in actions
    # Once Entra knows the new secret, it is the one used.
    directory = signin_system.directory
    signin_system.entra.add_client_secret(
        directory.tenant_id, directory.client_id, "n0t-yet-registered-in-entra"
    )
    signin_system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    assert sso_error(signin_system.browser_sign_in("no_groups")) is None
    name = client_secret_name(TENANT)
    current = signin_system.services.secrets.get_secret(name)
    assert current is not None and current.value.reveal() == "n0t-yet-registered-in-entra"


def test_removing_an_admin_group_ends_admin_power_at_once_and_sign_in_restores_it(
    signin_system: SignInSystem,
) -> None:
    cookies = signed_in(signin_system, "several_groups")
    admin = cookies["__Host-eb_session"]
    changed = replace_document(signin_system, admin, admin_group_ids=[])
    assert changed.status_code == 200, changed.text
    # The same, still unexpired access token: no longer an admin.
    assert admin_call(signin_system, "GET", "users", admin).status_code == 403
    refreshed = signin_system.http.post(
        signin_system.url(f"/api/auth/{TENANT}/token"),
        data={"grant_type": "refresh_token", "refresh_token": cookies["__Host-eb_refresh"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    # What the application reads from the new access token (signature checked by /me).
    renewed = refreshed.json()["access_token"]
    assert jwt.decode(renewed, options={"verify_signature": False})["roles"] == []
    me = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"), headers={"Authorization": f"Bearer {renewed}"}
    )
    assert me.status_code == 200 and me.json()["roles"] == []
    actions = [
        e["action"] for e in signin_system.services.audit.list(TENANT, limit=5, cursor=None)[0]
    ]
    assert actions[:2] == ["user_demoted", "config_updated"]
    # Back in the config: the next Entra sign-in of a member makes them admin again.
    config = signin_system.services.configs.get_config(TENANT)
    assert config is not None
    signin_system.services.configs.put_tenant(
        TENANT,
        "Contoso",
        dataclasses.replace(config, admin_group_ids=(signin_system.directory.admins,)),
    )
    again = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    assert admin_call(signin_system, "GET", "users", again).status_code == 200


def test_an_instance_with_a_stale_config_cache_does_not_grant_a_removed_admin_group(
    signin_system: SignInSystem,
) -> None:
    from shared.store.configs import ConfigStore

    services = signin_system.services
    cached = services.configs.get_config(TENANT)  # this instance now caches it for 30 s
    assert cached is not None and cached.admin_group_ids
    # Another instance removes the admin group; this one has not seen it yet.
    other_instance = ConfigStore(services.tables)
    other_instance.put_tenant(TENANT, "Contoso", dataclasses.replace(cached, admin_group_ids=()))
    assert services.configs.get_config(TENANT) == cached
    session = signed_in(signin_system, "several_groups")["__Host-eb_session"]
    assert admin_call(signin_system, "GET", "users", session).status_code == 403
    me = signin_system.http.get(
        signin_system.url(f"/api/auth/{TENANT}/me"), headers={"Authorization": f"Bearer {session}"}
    )
    assert me.json()["roles"] == []


def test_a_rotation_made_on_another_instance_is_picked_up_when_entra_refuses_the_old_secret(
    signin_system: SignInSystem,
) -> None:
    from shared.admin.auth import PLATFORM_ACTOR, AdminCaller
    from shared.container import Services

    services = signin_system.services
    assert sso_error(signin_system.browser_sign_in("one_group")) is None  # caches warm here
    # Another instance (its own caches, the same storage and vault) rotates the secret,
    # and Entra stops accepting the old one.
    other = Services(services.settings)
    other.override("tables", services.tables)
    directory = signin_system.directory
    signin_system.entra.add_client_secret(
        directory.tenant_id, directory.client_id, "r0tated-elsewhere-secret"
    )
    other.admin.put_client_secret(
        AdminCaller(actor=PLATFORM_ACTOR, platform=True),
        TENANT,
        {"value": "r0tated-elsewhere-secret", "expires_on": "2099-01-01"},
        ip=None,
    )
    signin_system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    other.secrets.close()
    # This instance still has the old configuration cached: the refusal makes it re-read.
    assert sso_error(signin_system.browser_sign_in("no_groups")) is None
    actions = [e["action"] for e in services.audit.list(TENANT, limit=5, cursor=None)[0]]
    assert "client_secret_reloaded" in actions
