"""Bad input and bad credentials on the admin API: each gets its status and contract
error code, names the bad field, leaks no secret, and changes nothing (read back)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.container import Services, set_services
from shared.store.secrets import client_secret_name
from shared.users import ROLE_TENANT_ADMIN
from tests.support.admin import (
    ADMIN_TENANT,
    CLIENT_ID,
    GROUP_A,
    NEXT_YEAR,
    PLATFORM_KEY,
    PROFILE_A,
    SECRET,
    AdminSystem,
    complete_config,
)

CONFIG = complete_config()


def snapshot(system: AdminSystem, tenant: str = ADMIN_TENANT) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    document = system.call("GET", f"{tenant}/oauth2")
    name = client_secret_name(tenant)
    users, _ = system.services.users.list(tenant, limit=1000, cursor=None)
    tenant_row = system.services.configs.get_tenant(tenant)
    return {
        "document": document.json(),
        "etag": document.headers.get("ETag"),
        "display_name": tenant_row.display_name if tenant_row else None,
        "secret_versions": len(system.services.secrets.list_versions(name)),
        "mappings": system.services.configs.mappings.list(tenant),
        "users": sorted((u.id, u.disabled) for u in users),
        "audit": len(system.services.audit.list(tenant, limit=1000, cursor=None)[0]),
    }


@pytest.fixture
def configured(admin_system: AdminSystem) -> AdminSystem:
    admin_system.create_tenant()
    answer = admin_system.call("PUT", f"{ADMIN_TENANT}/oauth2", json=CONFIG)
    assert answer.status_code == 200, answer.text
    return admin_system


def put_config(system: AdminSystem, body: Any, **kwargs: Any) -> Any:
    etag = system.call("GET", f"{ADMIN_TENANT}/oauth2").headers["ETag"]
    return system.call(
        "PUT", f"{ADMIN_TENANT}/oauth2", json=body, headers={"If-Match": etag}, **kwargs
    )


def assert_error(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error"] == code
    assert body["error_description"]
    assert SECRET not in answer.text
    return body


# --- bodies -------------------------------------------------------------------------------


def test_malformed_json_is_refused_and_changes_nothing(configured: AdminSystem) -> None:
    before = snapshot(configured)
    etag = before["etag"]
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        data='{"enabled": false,',
        headers={"If-Match": etag, "Content-Type": "application/json"},
    )
    assert assert_error(answer, 400, "invalid_request")["fields"] == {"body": "not valid JSON"}
    assert snapshot(configured) == before


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_a_body_that_is_not_an_object_is_refused(configured: AdminSystem, body: Any) -> None:
    before = snapshot(configured)
    answer = put_config(configured, body)
    assert "body" in assert_error(answer, 400, "invalid_request")["fields"]
    assert snapshot(configured) == before


def test_wrong_types_and_non_uuid_ids_are_each_named(configured: AdminSystem) -> None:
    before = snapshot(configured)
    bad = CONFIG | {
        "enabled": "yes",
        "client_id": "not-a-uuid",
        "tenant_id": "common",
        "customer_id": 12,
        "profile_mappings": [{"profile_id": PROFILE_A, "group_id": "' or 1 eq 1"}],
        "admin_group_ids": "all",
        "homepage_url": "javascript:alert(1)",
        "allowed_return_origins": ["https://ok.example", "https://evil.example/path"],
        "button_label": "",
    }
    fields = assert_error(put_config(configured, bad), 400, "invalid_request")["fields"]
    assert set(fields) == {
        "enabled",
        "client_id",
        "tenant_id",
        "customer_id",
        "profile_mappings[0].group_id",
        "admin_group_ids",
        "homepage_url",
        "allowed_return_origins[1]",
        "button_label",
    }
    assert snapshot(configured) == before


def test_the_consumer_tenant_is_refused(configured: AdminSystem) -> None:
    before = snapshot(configured)
    answer = put_config(configured, CONFIG | {"tenant_id": "9188040d-6c67-4c5b-b112-36a304b66dad"})
    assert "tenant_id" in assert_error(answer, 400, "invalid_request")["fields"]
    assert snapshot(configured) == before


def test_unknown_fields_are_refused(configured: AdminSystem) -> None:
    before = snapshot(configured)
    answer = put_config(
        configured, CONFIG | {"colour": "blue", "client_secret": "an0ther-secret-value"}
    )
    body = assert_error(answer, 400, "invalid_request")
    assert body["fields"] == {"colour": "unknown field"}
    assert "an0ther-secret-value" not in answer.text
    # The valid new secret in the refused body was not stored.
    assert snapshot(configured) == before


def test_duplicate_mappings_and_too_many_mappings_are_refused(configured: AdminSystem) -> None:
    before = snapshot(configured)
    twice = [{"profile_id": PROFILE_A, "group_id": GROUP_A}] * 2
    answer = put_config(configured, CONFIG | {"profile_mappings": twice})
    assert assert_error(answer, 400, "invalid_request")["fields"] == {
        "profile_mappings[1]": "duplicates profile_mappings[0]"
    }
    many = [
        {"profile_id": PROFILE_A, "group_id": f"00000000-0000-4000-8000-{i:012d}"}
        for i in range(501)
    ]
    answer = put_config(configured, CONFIG | {"profile_mappings": many})
    assert "profile_mappings" in assert_error(answer, 400, "invalid_request")["fields"]
    assert snapshot(configured) == before


def test_enabled_with_missing_parts_names_each_missing_part(admin_system: AdminSystem) -> None:
    admin_system.create_tenant()
    before = snapshot(admin_system)
    answer = admin_system.call(
        "PUT", f"{ADMIN_TENANT}/oauth2", json={"enabled": True, "client_id": CLIENT_ID}
    )
    body = assert_error(answer, 400, "invalid_request")
    assert set(body["fields"]) == {"client_secret", "tenant_id", "customer_id"}
    assert "enabled cannot be true" in body["error_description"]
    assert snapshot(admin_system) == before


def test_a_body_over_64_kib_is_refused_with_413(configured: AdminSystem) -> None:
    before = snapshot(configured)
    etag = before["etag"]
    huge = json.dumps(CONFIG | {"button_label": "x" * (65 * 1024)})
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        data=huge,
        headers={"If-Match": etag, "Content-Type": "application/json"},
    )
    assert_error(answer, 413, "payload_too_large")
    assert snapshot(configured) == before


def test_a_past_expiry_for_a_new_secret_is_refused_and_the_vault_is_untouched(
    configured: AdminSystem,
) -> None:
    before = snapshot(configured)
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2/client-secret",
        json={"value": "n3w-secret-value-abcdefghij", "expires_on": "2020-01-01"},
    )
    assert assert_error(answer, 400, "invalid_request")["fields"] == {
        "expires_on": "must be in the future"
    }
    assert "n3w-secret-value" not in answer.text
    answer = configured.call(
        "PUT", f"{ADMIN_TENANT}/oauth2/client-secret", json={"value": 42, "extra": 1}
    )
    assert set(assert_error(answer, 400, "invalid_request")["fields"]) == {
        "value",
        "expires_on",
        "extra",
    }
    assert snapshot(configured) == before


def test_no_secret_appears_in_a_get_or_an_error(configured: AdminSystem) -> None:
    document = configured.call("GET", f"{ADMIN_TENANT}/oauth2")
    assert SECRET not in document.text
    assert document.json()["client_secret"] == SECRET[:3] + "*****"
    answer = put_config(configured, CONFIG | {"client_secret": " " + SECRET, "enabled": 1})
    assert_error(answer, 400, "invalid_request")


# --- preconditions ---------------------------------------------------------------------------


def test_a_put_without_if_match_on_an_existing_config_is_428(configured: AdminSystem) -> None:
    before = snapshot(configured)
    answer = configured.call("PUT", f"{ADMIN_TENANT}/oauth2", json=CONFIG | {"enabled": False})
    assert_error(answer, 428, "precondition_required")
    assert snapshot(configured) == before


@pytest.mark.parametrize("if_match", ['"stale"', 'W/"{etag}"', "{etag}", '"other", "more"'])
def test_a_stale_or_weak_if_match_is_412(configured: AdminSystem, if_match: str) -> None:
    before = snapshot(configured)
    etag = before["etag"]
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=CONFIG | {"enabled": False},
        headers={"If-Match": if_match.format(etag=etag.strip('"'))},
    )
    assert_error(answer, 412, "precondition_failed")
    assert snapshot(configured) == before


def test_of_two_admins_with_the_same_etag_only_the_first_wins(configured: AdminSystem) -> None:
    etag = configured.call("GET", f"{ADMIN_TENANT}/oauth2").headers["ETag"]
    first = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=CONFIG | {"button_label": "First"},
        headers={"If-Match": etag},
    )
    assert first.status_code == 200
    second = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=CONFIG | {"button_label": "Second"},
        headers={"If-Match": etag},
    )
    assert_error(second, 412, "precondition_failed")
    assert configured.call("GET", f"{ADMIN_TENANT}/oauth2").json()["button_label"] == "First"


def test_a_rename_does_not_make_the_etag_stale(configured: AdminSystem) -> None:
    etag = configured.call("GET", f"{ADMIN_TENANT}/oauth2").headers["ETag"]
    configured.call("PUT", ADMIN_TENANT, json={"display_name": "Acme Renamed"})
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        json=CONFIG | {"button_label": "Sign in with Acme"},
        headers={"If-Match": etag},
    )
    assert answer.status_code == 200, answer.text


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "{t}/oauth2"),
        ("PUT", "{t}/oauth2"),
        ("PUT", "{t}/oauth2/client-secret"),
        ("GET", "{t}/users"),
        ("PATCH", "{t}/users/00000000-0000-4000-8000-000000000001"),
        ("GET", "{t}/audit"),
        ("PUT", "{t}"),
    ],
)
def test_every_admin_route_needs_a_credential(
    configured: AdminSystem, method: str, path: str
) -> None:
    before = snapshot(configured)
    body = {"display_name": "X"} if path == "{t}" else CONFIG
    answer = configured.call(method, path.format(t=ADMIN_TENANT), key=None, json=body)
    assert_error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(configured) == before


@pytest.mark.parametrize(
    "key",
    [
        PLATFORM_KEY[:-1] + ("0" if PLATFORM_KEY[-1] != "0" else "1"),
        PLATFORM_KEY[:-1],
        PLATFORM_KEY + "x",
        PLATFORM_KEY.upper(),
        "",
        PLATFORM_KEY[::-1],
    ],
)
def test_a_platform_key_wrong_by_one_character_is_401(configured: AdminSystem, key: str) -> None:
    before = snapshot(configured)
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2/client-secret",
        key=key,
        json={"value": "abcdefghijkl", "expires_on": NEXT_YEAR},
    )
    assert_error(answer, 401, "unauthorized")
    assert snapshot(configured) == before


def test_with_no_platform_key_configured_the_platform_api_is_closed(
    configured: AdminSystem,
) -> None:
    settings = dataclasses.replace(configured.services.settings, platform_admin_key=None)
    closed = Services(settings)
    closed.override("tables", configured.services.tables)
    set_services(closed)
    try:
        answer = configured.call("PUT", "newtenant", json={"display_name": "New"})
        assert_error(answer, 401, "unauthorized")
        answer = configured.call("PUT", "newtenant", key="", json={"display_name": "New"})
        assert_error(answer, 401, "unauthorized")
    finally:
        set_services(configured.services)
    assert configured.services.configs.get_tenant("newtenant") is None


def test_another_tenants_admin_gets_403_everywhere(configured: AdminSystem) -> None:
    configured.create_tenant("globex", "Globex")
    assert configured.call("PUT", "globex/oauth2", json=CONFIG).status_code == 200  # SSO on
    outsider = configured.admin_token("globex")
    victim = configured.add_user()
    before = snapshot(configured)
    for method, path, body in [
        ("GET", "oauth2", None),
        ("PUT", "oauth2", CONFIG | {"enabled": False}),
        ("PUT", "oauth2/client-secret", {"value": "abcdefghijkl", "expires_on": NEXT_YEAR}),
        ("GET", "users", None),
        ("PATCH", f"users/{victim.id}", {"disabled": True}),
        ("GET", "audit", None),
        ("PUT", "", {"display_name": "Pwned"}),
    ]:
        answer = configured.call(
            method,
            f"{ADMIN_TENANT}/{path}".rstrip("/"),
            key=None,
            token=outsider,
            json=body,
            headers={"If-Match": before["etag"]},
        )
        assert_error(answer, 403, "forbidden")
    assert snapshot(configured) == before


def test_a_user_without_the_admin_role_gets_403(configured: AdminSystem) -> None:
    plain = configured.add_user()
    token = configured.services.sessions.start_session(plain, entra_session_id=None).access_token
    before = snapshot(configured)
    answer = configured.call("GET", f"{ADMIN_TENANT}/users", key=None, token=token)
    assert_error(answer, 403, "forbidden")
    answer = configured.call(
        "PATCH", f"{ADMIN_TENANT}/users/{plain.id}", key=None, token=token, json={"disabled": True}
    )
    assert_error(answer, 403, "forbidden")
    assert snapshot(configured) == before


def test_a_tenant_admin_cannot_create_or_rename_tenants(configured: AdminSystem) -> None:
    token = configured.admin_token()
    before = snapshot(configured)
    answer = configured.call(
        "PUT", ADMIN_TENANT, key=None, token=token, json={"display_name": "Mine"}
    )
    assert_error(answer, 403, "forbidden")
    assert snapshot(configured) == before


def test_an_expired_admin_token_is_401(configured: AdminSystem) -> None:
    admin = configured.add_user(roles=(ROLE_TENANT_ADMIN,))
    past = dataclasses.replace(configured.services.sessions, clock=lambda: time.time() - 3600)
    expired = past.start_session(admin, entra_session_id=None).access_token
    before = snapshot(configured)
    answer = configured.call("GET", f"{ADMIN_TENANT}/users", key=None, token=expired)
    assert_error(answer, 401, "unauthorized")
    assert snapshot(configured) == before


def test_forged_admin_tokens_are_401(configured: AdminSystem) -> None:
    admin = configured.add_user(roles=(ROLE_TENANT_ADMIN,))
    genuine = configured.admin_token(user=admin)
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    # Our own ES256 key with the real kid: a valid signature by the wrong key.
    attacker = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = [
        jwt.encode(claims, attacker, algorithm="ES256", headers={"kid": header["kid"]}),
        jwt.encode(claims, "", algorithm="none", headers={"kid": header["kid"]}),
        jwt.encode(
            claims,
            "shared-secret-0123456789abcdef-0123",
            algorithm="HS256",
            headers={"kid": header["kid"]},
        ),
        genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),
        "not-a-token",
    ]
    before = snapshot(configured)
    for token in forged:
        answer = configured.call("GET", f"{ADMIN_TENANT}/oauth2", key=None, token=token)
        assert_error(answer, 401, "unauthorized")
    assert snapshot(configured) == before


def test_a_disabled_admins_token_stops_working_at_once(configured: AdminSystem) -> None:
    admin = configured.add_user(roles=(ROLE_TENANT_ADMIN,))
    token = configured.admin_token(user=admin)
    assert configured.call("GET", f"{ADMIN_TENANT}/users", key=None, token=token).status_code == 200
    configured.call("PATCH", f"{ADMIN_TENANT}/users/{admin.id}", json={"disabled": True})
    answer = configured.call("GET", f"{ADMIN_TENANT}/users", key=None, token=token)
    assert_error(answer, 401, "unauthorized")


def test_an_admin_cannot_disable_themselves(configured: AdminSystem) -> None:
    admin = configured.add_user(roles=(ROLE_TENANT_ADMIN,))
    token = configured.admin_token(user=admin)
    before = snapshot(configured)
    answer = configured.call(
        "PATCH", f"{ADMIN_TENANT}/users/{admin.id}", key=None, token=token, json={"disabled": True}
    )
    assert "disabled" in assert_error(answer, 400, "invalid_request")["fields"]
    assert snapshot(configured) == before


# --- ids, paging, tenants --------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_id",
    [
        "not-a-uuid",
        "x' or PartitionKey ne 'x",
        "00000000-0000-4000-8000-00000000000Z",
        "%27%20or%201%20eq%201",
    ],
)
def test_odata_shaped_and_malformed_user_ids_are_400(configured: AdminSystem, user_id: str) -> None:
    configured.add_user()
    before = snapshot(configured)
    answer = configured.call("PATCH", f"{ADMIN_TENANT}/users/{user_id}", json={"disabled": True})
    assert assert_error(answer, 400, "invalid_request")["fields"] == {
        "user_id": "must be a user id (a UUID)"
    }
    assert snapshot(configured) == before


def test_an_unknown_user_is_404_not_found(configured: AdminSystem) -> None:
    before = snapshot(configured)
    answer = configured.call(
        "PATCH",
        f"{ADMIN_TENANT}/users/00000000-0000-4000-8000-000000000001",
        json={"disabled": True},
    )
    assert_error(answer, 404, "not_found")
    assert snapshot(configured) == before


@pytest.mark.parametrize("body", [{}, {"disabled": "true"}, {"disabled": True, "email": "x@y.z"}])
def test_a_bad_user_patch_is_refused(configured: AdminSystem, body: dict[str, Any]) -> None:
    user = configured.add_user()
    before = snapshot(configured)
    answer = configured.call("PATCH", f"{ADMIN_TENANT}/users/{user.id}", json=body)
    assert_error(answer, 400, "invalid_request")
    assert snapshot(configured) == before


def test_odata_shaped_emails_are_data_not_filters(configured: AdminSystem) -> None:
    tricky = configured.add_user(email="o'hara' or RowKey ne ''@acme.example")
    plain = configured.add_user()
    listed = configured.call("GET", f"{ADMIN_TENANT}/users").json()["users"]
    assert {u["id"]: u["email"] for u in listed} == {
        tricky.id: "o'hara' or RowKey ne ''@acme.example",
        plain.id: plain.email,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "eyJwayI6ICJ4JyBvciAxIGVxIDEifQ"}, "cursor"),
    ],
)
def test_bad_paging_parameters_are_400(
    configured: AdminSystem, params: dict[str, str], field: str
) -> None:
    for route in ("users", "audit"):
        answer = configured.call("GET", f"{ADMIN_TENANT}/{route}", params=params)
        assert field in assert_error(answer, 400, "invalid_request")["fields"]


def test_a_cursor_cannot_reach_another_tenant(configured: AdminSystem) -> None:
    configured.create_tenant("globex", "Globex")
    for _ in range(3):
        configured.add_user("globex")
    page = configured.call("GET", "globex/users", params={"limit": "1"}).json()
    assert page["next"] is not None
    for route in ("users", "audit"):  # another tenant's list, or another kind of list
        mine = configured.call(
            "GET", f"{ADMIN_TENANT}/{route}", params={"limit": "1000", "cursor": page["next"]}
        )
        assert "cursor" in assert_error(mine, 400, "invalid_request")["fields"]
    theirs = configured.call("GET", "globex/users", params={"limit": "1", "cursor": page["next"]})
    assert theirs.status_code == 200


def test_an_unknown_tenant_is_404_and_a_bad_slug_is_named(admin_system: AdminSystem) -> None:
    assert_error(admin_system.call("GET", "nosuch/oauth2"), 404, "unknown_tenant")
    assert_error(admin_system.call("GET", "nosuch/users"), 404, "unknown_tenant")
    answer = admin_system.call("PUT", "nosuch/oauth2", json=CONFIG)
    assert_error(answer, 404, "unknown_tenant")
    answer = admin_system.call("PUT", "Bad_Slug", json={"display_name": "Bad"})
    assert "tenant" in assert_error(answer, 400, "invalid_request")["fields"]
    answer = admin_system.call("PUT", "okslug", json={"display_name": "", "extra": 1})
    assert set(assert_error(answer, 400, "invalid_request")["fields"]) == {"display_name", "extra"}
    assert admin_system.services.configs.get_tenant("okslug") is None
    assert admin_system.services.configs.get_tenant("nosuch") is None


@pytest.mark.parametrize("expires_on", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"])
def test_an_expiry_beyond_the_calendar_is_a_400_not_a_crash(
    configured: AdminSystem, expires_on: str
) -> None:
    before = snapshot(configured)
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2/client-secret",
        json={"value": "n3w-secret-value-abcdefghij", "expires_on": expires_on},
    )
    assert "expires_on" in assert_error(answer, 400, "invalid_request")["fields"]
    assert snapshot(configured) == before


def test_deeply_nested_json_is_a_400_not_a_crash(configured: AdminSystem) -> None:
    before = snapshot(configured)
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        data="[" * 30000 + "]" * 30000,
        headers={"If-Match": before["etag"], "Content-Type": "application/json"},
    )
    assert assert_error(answer, 400, "invalid_request")["fields"] == {
        "body": "nested deeper than 32 levels"
    }
    assert snapshot(configured) == before


def test_refused_credentials_are_logged_without_the_credential(
    configured: AdminSystem, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = PLATFORM_KEY + "-wrong"
    with caplog.at_level("WARNING", logger="entrabridge"):
        answer = configured.call(
            "GET", f"{ADMIN_TENANT}/users", key=wrong, headers={"X-Forwarded-For": "198.51.100.7"}
        )
    assert answer.status_code == 401
    assert "refused 401 (credential: platform key, ip: 198.51.100.7)" in caplog.text
    assert wrong not in caplog.text and PLATFORM_KEY not in caplog.text


def test_a_tenant_admin_cannot_move_the_tenant_to_another_customer(
    configured: AdminSystem,
) -> None:
    token = configured.admin_token()
    before = snapshot(configured)
    answer = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        key=None,
        token=token,
        json=before["document"] | {"customer_id": "00000000-0000-4000-8000-0000000000cc"},
        headers={"If-Match": before["etag"]},
    )
    assert assert_error(answer, 403, "forbidden")["fields"] == {
        "customer_id": "is set by platform operators"
    }
    assert snapshot(configured) == before
    # Sending the document back unchanged is fine for a tenant admin.
    same = configured.call(
        "PUT",
        f"{ADMIN_TENANT}/oauth2",
        key=None,
        token=token,
        json=before["document"] | {"enforce_sso": True},
        headers={"If-Match": before["etag"]},
    )
    assert same.status_code == 200, same.text
