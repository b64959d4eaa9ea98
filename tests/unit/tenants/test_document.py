"""The configuration document an admin reads: the contract's shape, derived endpoints,
the secret's status, and the secret itself only ever masked."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shared.secret import mask_secret
from shared.tenants.document import render_client_secret_answer, render_config_document
from shared.tenants.model import (
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
    OAuth2Config,
    ProfileMapping,
    default_config,
)

DIRECTORY = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CLIENT = "550e8400-e29b-41d4-a716-446655440000"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
GROUP = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d01"
PROFILE = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e01"
RAW_SECRET = "333~Raw.Secret-Value_abcdefghijklmnop"
TODAY = dt.date(2026, 5, 1)
AUTHORITY = "https://login.microsoftonline.com"

CONFIG = OAuth2Config(
    enabled=True,
    client_id=CLIENT,
    tenant_id=DIRECTORY,
    customer_id=CUSTOMER,
    profile_mappings=(ProfileMapping(PROFILE, GROUP),),
    admin_group_ids=(GROUP,),
    client_secret_set=True,
    client_secret_expires_on=dt.date(2028, 5, 15),
    updated_at=dt.datetime(2026, 4, 30, 9, 15, tzinfo=dt.UTC),
    updated_by="admin@contoso.example",
)


def render(
    config: OAuth2Config = CONFIG,
    masked: str | None = mask_secret(RAW_SECRET),
    today: dt.date = TODAY,
) -> dict[str, Any]:
    return render_config_document(
        config,
        masked_secret=masked,
        slug="contoso",
        public_base_url="https://auth.example.com",
        authority_host=AUTHORITY,
        today=today,
    )


def test_the_document_has_the_contract_fields_and_values() -> None:
    doc = render()
    assert doc["provider"] == "microsoft"
    assert doc["client_secret"] == "333*****"
    assert doc["client_secret_set"] is True
    assert doc["client_secret_expires_on"] == "2028-05-15"
    assert doc["profile_mappings"] == [{"profile_id": PROFILE, "group_id": GROUP}]
    assert doc["scopes"] == ["openid", "profile", "email", "User.Read", "offline_access"]
    assert doc["field_mappings"] == {
        "email": "email",
        "name": "name",
        "user_id": "oid",
        "roles": "groups",
    }
    assert doc["updated_at"] == "2026-04-30T09:15:00Z"
    assert doc["updated_by"] == "admin@contoso.example"
    json.dumps(doc)  # plain JSON throughout


def test_endpoints_are_derived_from_the_directory_and_our_public_url() -> None:
    assert render()["endpoints"] == {
        "authorization_uri": f"{AUTHORITY}/{DIRECTORY}/oauth2/v2.0/authorize",
        "token_uri": f"{AUTHORITY}/{DIRECTORY}/oauth2/v2.0/token",
        "issuer": f"{AUTHORITY}/{DIRECTORY}/v2.0",
        "jwks_uri": f"{AUTHORITY}/{DIRECTORY}/discovery/v2.0/keys",
        "redirect_uri": "https://auth.example.com/api/auth/contoso/callback",
        "front_channel_logout_uri": "https://auth.example.com/api/auth/contoso/logout",
    }


def test_the_default_document_is_the_contracts_with_directory_endpoints_null() -> None:
    doc = render(default_config(), None)
    expected: dict[str, object] = {
        "enabled": False,
        "client_id": None,
        "client_secret": None,
        "client_secret_set": False,
        "client_secret_expires_on": None,
        "tenant_id": None,
        "customer_id": None,
        "profile_mappings": [],
        "admin_group_ids": [],
        "homepage_url": None,
        "login_page_url": None,
        "allowed_return_origins": [],
        "enforce_sso": False,
        "button_label": "Login with Microsoft",
        "updated_at": None,
        "updated_by": None,
        "client_secret_days_left": None,
        "client_secret_expiring_soon": False,
    }
    assert {k: doc[k] for k in expected} == expected
    endpoints = doc["endpoints"]
    assert [k for k, v in endpoints.items() if v is None] == [
        "authorization_uri",
        "token_uri",
        "issuer",
        "jwks_uri",
    ]
    assert endpoints["redirect_uri"] == "https://auth.example.com/api/auth/contoso/callback"


def test_every_field_of_the_document_is_either_writable_or_read_only() -> None:
    # This is what makes a GET body a valid PUT body.
    assert set(render()) == set(WRITABLE_FIELDS) | set(READ_ONLY_FIELDS)


def test_the_raw_secret_is_never_in_the_document() -> None:
    text = json.dumps(render())
    assert RAW_SECRET not in text
    assert RAW_SECRET[:4] not in text


def test_a_raw_secret_passed_by_mistake_is_refused_rather_than_shown() -> None:
    with pytest.raises(ValueError, match="masked") as caught:
        render(masked=RAW_SECRET)
    assert RAW_SECRET not in str(caught.value)


def test_no_secret_is_shown_when_none_is_stored() -> None:
    doc = render(OAuth2Config(), "abc*****")
    assert doc["client_secret"] is None and doc["client_secret_set"] is False


@pytest.mark.parametrize(
    ("expires_on", "days_left", "soon"),
    [
        (dt.date(2026, 5, 31), 30, False),
        (dt.date(2026, 5, 30), 29, True),
        (dt.date(2026, 5, 1), 0, True),
        (dt.date(2026, 4, 20), -11, True),
        (dt.datetime(2026, 7, 1, 23, 0, tzinfo=dt.UTC), 61, False),
    ],
)
def test_the_secret_status_flags_less_than_30_days_left(
    expires_on: dt.date, days_left: int, soon: bool
) -> None:
    doc = render(OAuth2Config(client_secret_set=True, client_secret_expires_on=expires_on))
    assert doc["client_secret_days_left"] == days_left
    assert doc["client_secret_expiring_soon"] is soon


def test_a_secret_without_an_expiry_has_no_days_left_and_is_not_flagged() -> None:
    doc = render(OAuth2Config(client_secret_set=True))
    assert doc["client_secret_days_left"] is None
    assert doc["client_secret_expiring_soon"] is False


def test_a_time_expiry_is_shown_as_rfc3339_utc() -> None:
    expires = dt.datetime(2028, 5, 15, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    doc = render(OAuth2Config(client_secret_set=True, client_secret_expires_on=expires))
    assert doc["client_secret_expires_on"] == "2028-05-15T08:30:00Z"


def test_the_client_secret_route_answers_the_masked_value_and_its_status() -> None:
    answer = render_client_secret_answer(
        mask_secret(RAW_SECRET) or "", dt.date(2026, 5, 20), today=TODAY
    )
    assert answer == {
        "client_secret": "333*****",
        "client_secret_expires_on": "2026-05-20",
        "client_secret_days_left": 19,
        "client_secret_expiring_soon": True,
    }
    with pytest.raises(ValueError, match="masked"):
        render_client_secret_answer(RAW_SECRET, dt.date(2026, 5, 20), today=TODAY)
