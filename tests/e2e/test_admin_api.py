"""The admin API over HTTP as operators and tenant admins use it: the local host,
Azurite and the Key Vault stand-in; nothing is mocked."""

from __future__ import annotations

import datetime as dt

from shared.store.secrets import client_secret_name
from shared.users import ROLE_TENANT_ADMIN
from tests.support.admin import (
    ADMIN_TENANT,
    ENTRA_TENANT_ID,
    GROUP_A,
    GROUP_B,
    NEXT_YEAR,
    PROFILE_A,
    PROFILE_B,
    SECRET,
    AdminSystem,
    complete_config,
)


def test_an_operator_creates_a_tenant_and_renames_it(admin_system: AdminSystem) -> None:
    created = admin_system.call("PUT", "acme", json={"display_name": "Acme"})
    assert created.status_code == 201
    assert created.json() == {"tenant": "acme", "display_name": "Acme"}
    renamed = admin_system.call("PUT", "acme", json={"display_name": "  Acme Corp "})
    assert renamed.status_code == 200
    assert renamed.json() == {"tenant": "acme", "display_name": "Acme Corp"}
    status = admin_system.http.get(f"{admin_system.host.url}/api/auth/acme/status")
    assert status.status_code == 200
    assert status.json()["sso_enabled"] is False
    assert admin_system.audit_actions() == ["tenant_renamed", "tenant_created"]


def test_a_new_tenant_reads_the_default_document_without_an_etag(
    admin_system: AdminSystem,
) -> None:
    admin_system.create_tenant()
    answer = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2")
    assert answer.status_code == 200
    assert "ETag" not in answer.headers
    document = answer.json()
    assert document["enabled"] is False
    assert document["provider"] == "microsoft"
    assert document["client_secret"] is None and document["client_secret_set"] is False
    assert document["profile_mappings"] == [] and document["tenant_id"] is None
    assert document["endpoints"]["redirect_uri"] == (
        f"https://127.0.0.1:7071/api/auth/{ADMIN_TENANT}/callback"
    )
    assert document["endpoints"]["authorization_uri"] is None
    assert document["scopes"] == ["openid", "profile", "email", "User.Read", "offline_access"]


def test_the_first_put_needs_no_if_match_and_stores_the_secret_in_key_vault(
    admin_system: AdminSystem,
) -> None:
    admin_system.create_tenant()
    answer = admin_system.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=complete_config(),
        # A client-sent entry first; the one Azure's front end appends last.
        headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.9"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"].startswith('"')
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    document = answer.json()
    assert document["enabled"] is True
    assert document["client_secret"] == SECRET[:3] + "*****"
    assert SECRET not in answer.text
    assert document["client_secret_set"] is True
    assert document["client_secret_expires_on"] == NEXT_YEAR
    assert document["client_secret_days_left"] >= 364
    assert document["client_secret_expiring_soon"] is False
    assert document["endpoints"]["token_uri"] == (
        f"https://login.microsoftonline.com/{ENTRA_TENANT_ID}/oauth2/v2.0/token"
    )
    assert document["updated_by"] == "platform_admin"
    # The secret is in Key Vault (with its expiry), and nowhere in Table Storage.
    stored = admin_system.services.secrets.get_secret(client_secret_name(ADMIN_TENANT))
    assert stored is not None and stored.value.reveal() == SECRET
    assert stored.expires_on is not None and stored.expires_on.date().isoformat() == NEXT_YEAR
    row = admin_system.services.tables.get("tenants", "tenant", ADMIN_TENANT)
    assert row is not None and SECRET not in str(row.data)
    # Mappings are in the profilemappings table too.
    mapped = admin_system.services.configs.mappings.list(ADMIN_TENANT)
    assert {(m.group_id, m.profile_id) for m in mapped} == {
        (GROUP_A, PROFILE_A),
        (GROUP_B, PROFILE_B),
    }
    # Sign-in sees it at once on this instance.
    status = admin_system.http.get(f"{admin_system.host.url}/api/auth/{ADMIN_TENANT}/status")
    assert status.json()["sso_enabled"] is True
    events, _ = admin_system.services.audit.list(ADMIN_TENANT, limit=10, cursor=None)
    assert events[0]["action"] == "config_created"
    assert events[0]["ip"] == "203.0.113.9"
    assert "client_secret" in events[0]["fields"] and "profile_mappings" in events[0]["fields"]
    assert SECRET not in str(events)


def test_a_get_body_sent_back_with_its_etag_is_a_valid_put_that_changes_nothing(
    admin_system: AdminSystem,
) -> None:
    admin_system.create_tenant()
    admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json=complete_config())
    before = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2")
    again = admin_system.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=before.json(),
        headers={"If-Match": before.headers["ETag"]},
    )
    assert again.status_code == 200, again.text
    assert again.json() == before.json()
    assert again.headers["ETag"] == before.headers["ETag"]
    stored = admin_system.services.secrets.get_secret(client_secret_name(ADMIN_TENANT))
    assert stored is not None and stored.value.reveal() == SECRET
    assert admin_system.audit_actions().count("config_updated") == 0  # created, then no change


def test_mappings_are_replaced_and_the_table_follows(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json=complete_config())
    changed = admin_system.configure(
        profile_mappings=[{"profile_id": PROFILE_B, "group_id": GROUP_A}],
        button_label="Sign in with Acme",
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["profile_mappings"] == [{"profile_id": PROFILE_B, "group_id": GROUP_A}]
    mapped = admin_system.services.configs.mappings.list(ADMIN_TENANT)
    assert [(m.group_id, m.profile_id) for m in mapped] == [(GROUP_A, PROFILE_B)]
    events, _ = admin_system.services.audit.list(ADMIN_TENANT, limit=1, cursor=None)
    assert events[0]["fields"] == ["profile_mappings", "button_label"]


def test_the_client_secret_route_adds_a_key_vault_version_and_keeps_the_previous(
    admin_system: AdminSystem,
) -> None:
    admin_system.create_tenant()
    admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json=complete_config())
    etag_before = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2").headers["ETag"]
    answer = admin_system.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2/client-secret",
        json={"value": "n3w-secret-value-abcdefghij", "expires_on": "2031-01-31T12:00:00Z"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["client_secret"] == "n3w*****"
    assert body["client_secret_expires_on"] == "2031-01-31T12:00:00Z"
    assert "n3w-secret-value" not in answer.text
    name = client_secret_name(ADMIN_TENANT)
    versions = admin_system.services.secrets.list_versions(name)
    assert len(versions) == 2
    current = admin_system.services.secrets.get_secret(name)
    assert current is not None and current.value.reveal() == "n3w-secret-value-abcdefghij"
    previous = admin_system.services.secrets.get_secret_version(name, versions[1].version)
    assert previous is not None and previous.value.reveal() == SECRET
    document = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2")
    assert document.json()["client_secret_expires_on"] == "2031-01-31T12:00:00Z"
    assert document.headers["ETag"] != etag_before
    events, _ = admin_system.services.audit.list(ADMIN_TENANT, limit=1, cursor=None)
    assert events[0]["action"] == "client_secret_rotated"
    assert events[0]["fields"] == ["client_secret"]


def test_a_secret_expiring_within_30_days_is_flagged(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    answer = admin_system.call(
        "PUT", f"{ADMIN_TENANT}/oauth2/client-secret", json={"value": SECRET, "expires_on": soon}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_secret_days_left"] == 10
    assert answer.json()["client_secret_expiring_soon"] is True
    document = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2").json()
    assert document["client_secret_set"] is True
    assert document["client_secret_expiring_soon"] is True


def test_a_tenant_admin_reads_and_changes_their_own_tenant(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json=complete_config())
    admin = admin_system.add_user(roles=(ROLE_TENANT_ADMIN,), email="boss@acme.example")
    token = admin_system.admin_token(user=admin)
    current = admin_system.call("GET", f"{ADMIN_TENANT}/oauth2", key=None, token=token)
    assert current.status_code == 200, current.text
    changed = admin_system.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        key=None,
        token=token,
        json=current.json() | {"enforce_sso": True},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enforce_sso"] is True
    assert changed.json()["updated_by"] == f"user:{admin.id} <boss@acme.example>"
    events, _ = admin_system.services.audit.list(ADMIN_TENANT, limit=1, cursor=None)
    assert events[0]["actor"] == f"user:{admin.id} <boss@acme.example>"


def test_users_are_listed_in_pages_with_a_cursor(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    made = {admin_system.add_user().id for _ in range(5)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = admin_system.call("GET", f"{ADMIN_TENANT}/users", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["users"]) <= 2
        seen += [user["id"] for user in page["users"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    assert pages >= 3
    first = admin_system.call("GET", f"{ADMIN_TENANT}/users").json()["users"][0]
    assert set(first) == {
        "id", "tenant", "email", "name", "provider", "customer_id", "profiles", "roles",
        "disabled", "created_at", "last_login_at",
    }  # fmt: skip


def test_disabling_a_user_revokes_their_refresh_tokens_and_enabling_restores_sign_in(
    admin_system: AdminSystem,
) -> None:
    admin_system.create_tenant()
    user = admin_system.add_user()
    session = admin_system.services.sessions.start_session(user, entra_session_id=None)
    disabled = admin_system.call(
        "PATCH", f"{ADMIN_TENANT}/users/{user.id}", json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True and disabled.json()["id"] == user.id
    refreshed = admin_system.http.post(
        f"{admin_system.host.url}/api/auth/{ADMIN_TENANT}/token",
        data={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
    )
    assert refreshed.status_code >= 400
    me = admin_system.http.get(
        f"{admin_system.host.url}/api/auth/{ADMIN_TENANT}/me",
        headers={"Authorization": f"Bearer {session.access_token}"},
    )
    assert me.status_code == 401
    enabled = admin_system.call(
        "PATCH", f"{ADMIN_TENANT}/users/{user.id}", json={"disabled": False}
    )
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    stored = admin_system.services.users.get(ADMIN_TENANT, user.id)
    assert stored is not None and stored.disabled is False
    assert admin_system.audit_actions()[:2] == ["user_enabled", "user_disabled"]


def test_the_audit_log_lists_newest_first_in_pages(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    for label in ("One", "Two", "Three"):
        admin_system.configure(button_label=label)
    first = admin_system.call("GET", f"{ADMIN_TENANT}/audit", params={"limit": "2"})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["action"] for e in page["events"]] == ["config_updated", "config_updated"]
    assert page["events"][0]["at"] >= page["events"][1]["at"]
    assert page["events"][0]["actor"] == "platform_admin"
    assert page["next"] is not None
    rest = admin_system.call(
        "GET", f"{ADMIN_TENANT}/audit", params={"limit": "1000", "cursor": page["next"]}
    ).json()
    assert [e["action"] for e in rest["events"]] == ["config_created", "tenant_created"]
    assert rest["next"] is None


def test_500_mappings_are_stored_and_indexed(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    many = [
        {"profile_id": PROFILE_A, "group_id": f"00000000-0000-4000-8000-{i:012d}"}
        for i in range(500)
    ]
    answer = admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json={"profile_mappings": many})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["profile_mappings"]) == 500
    assert len(admin_system.services.configs.mappings.list(ADMIN_TENANT)) == 500
    fewer = admin_system.configure(profile_mappings=many[:3])
    assert fewer.status_code == 200, fewer.text
    assert len(admin_system.services.configs.mappings.list(ADMIN_TENANT)) == 3
