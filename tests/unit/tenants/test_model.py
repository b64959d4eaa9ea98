"""Tenants and the config model: slugs, display names, readiness, entitlements, what
changed, masking, and the stored row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from shared.errors import InvalidRequest, UnknownTenant
from shared.secret import Secret, mask_secret
from shared.store.tenant_rows import config_from_entity, config_to_entity
from shared.tenants.model import (
    OAuth2Config,
    ProfileMapping,
    Tenant,
    changed_fields,
    default_config,
    is_admin,
    is_sso_ready,
    is_valid_slug,
    missing_for_enable,
    parse_tenant_put,
    profiles_for_groups,
    slug_or_unknown_tenant,
    stamp,
    validate_display_name,
    validate_slug,
)

CLIENT = "550e8400-e29b-41d4-a716-446655440000"
DIRECTORY = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
ENGINEERING = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d01"
SUPPORT = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d02"
ADMINS = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d03"
PROFILE_DEV = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e01"
PROFILE_OPS = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e02"

READY = OAuth2Config(
    enabled=True,
    client_id=CLIENT,
    tenant_id=DIRECTORY,
    customer_id=CUSTOMER,
    client_secret_set=True,
    profile_mappings=(
        ProfileMapping(PROFILE_DEV, ENGINEERING),
        ProfileMapping(PROFILE_OPS, ENGINEERING),
        ProfileMapping(PROFILE_OPS, SUPPORT),
    ),
    admin_group_ids=(ADMINS,),
    homepage_url="/app",
    login_page_url="https://app.example.com/login",
    allowed_return_origins=("https://app.example.com", "http://localhost:5173"),
    enforce_sso=True,
    button_label="Sign in with Contoso",
    client_secret_expires_on=dt.date(2028, 5, 15),
    updated_at=dt.datetime(2026, 4, 30, 9, 15, 30, 123456, tzinfo=dt.UTC),
    updated_by="admin@contoso.example",
)


# --- slugs -----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["abc", "contoso", "a-b", "0ab", "a1-2-3z", "a" * 63])
def test_slugs_of_the_contract_are_valid(slug: str) -> None:
    assert is_valid_slug(slug)
    assert validate_slug(slug) == slug
    assert slug_or_unknown_tenant(slug) == slug


@pytest.mark.parametrize(
    "slug",
    ["ab", "a" * 64, "-abc", "abc-", "Abc", "a_b", "a.b", "a/b", "a b", "abc\n", "ab\u00e7", "", 7],
)
def test_other_slugs_are_refused_as_a_bad_field_or_as_an_unknown_tenant(slug: object) -> None:
    assert not is_valid_slug(slug)
    with pytest.raises(InvalidRequest) as caught:
        validate_slug(slug)
    assert list(caught.value.fields) == ["tenant"]
    with pytest.raises(UnknownTenant):
        slug_or_unknown_tenant(slug)


# --- tenants and display names -----------------------------------------------------------


def test_a_tenant_has_a_slug_a_display_name_and_a_creation_time() -> None:
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tenant = Tenant("contoso", "Contoso Ltd", created)
    assert (tenant.slug, tenant.display_name, tenant.created_at) == (
        "contoso",
        "Contoso Ltd",
        created,
    )


def test_a_display_name_loses_surrounding_whitespace_and_may_be_200_characters() -> None:
    assert validate_display_name("  Contoso Ltd ") == "Contoso Ltd"
    assert validate_display_name("Ä" * 200) == "Ä" * 200


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 201, "Contoso\nLtd", "Contoso\x00", "Contoso\u202e", None, 5]
)
def test_a_bad_display_name_is_refused_naming_the_field(name: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_display_name(name)
    assert list(caught.value.fields) == ["display_name"]


def test_a_tenant_put_body_is_a_display_name_and_nothing_else() -> None:
    assert parse_tenant_put({"display_name": "Contoso"}) == "Contoso"
    with pytest.raises(InvalidRequest) as caught:
        parse_tenant_put({"name": "Contoso"})
    assert caught.value.fields == {"name": "unknown field", "display_name": "is required"}
    with pytest.raises(InvalidRequest) as caught:
        parse_tenant_put({"display_name": ""})
    assert list(caught.value.fields) == ["display_name"]
    with pytest.raises(InvalidRequest):
        parse_tenant_put(["Contoso"])


# --- readiness -------------------------------------------------------------------------------


def test_a_complete_enabled_config_is_ready_for_sign_in() -> None:
    assert is_sso_ready(READY)
    assert missing_for_enable(READY) == ()


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"client_id": None}, ("client_id",)),
        ({"client_secret_set": False}, ("client_secret",)),
        ({"tenant_id": None}, ("tenant_id",)),
        ({"customer_id": None}, ("customer_id",)),
    ],
)
def test_a_config_missing_a_part_is_not_ready(
    change: dict[str, object], missing: tuple[str, ...]
) -> None:
    config = dataclasses.replace(READY, **change)  # type: ignore[arg-type]
    assert not is_sso_ready(config)
    assert missing_for_enable(config) == missing


def test_a_disabled_config_is_not_ready_and_the_default_lacks_everything() -> None:
    assert not is_sso_ready(dataclasses.replace(READY, enabled=False))
    assert missing_for_enable(default_config()) == (
        "client_id",
        "client_secret",
        "tenant_id",
        "customer_id",
    )
    assert missing_for_enable(default_config(), secret_available=True) == (
        "client_id",
        "tenant_id",
        "customer_id",
    )


def test_the_default_config_is_the_contracts() -> None:
    config = default_config()
    assert config.enabled is False and config.enforce_sso is False
    assert (config.client_id, config.tenant_id, config.customer_id) == (None, None, None)
    assert config.homepage_url is None and config.login_page_url is None
    assert config.allowed_return_origins == () and config.profile_mappings == ()
    assert config.button_label == "Login with Microsoft"
    assert config.client_secret_set is False and config.client_secret_expires_on is None


# --- entitlements ------------------------------------------------------------------------------


def test_profiles_come_from_mapped_groups_sorted_and_once_each() -> None:
    assert profiles_for_groups(READY, [SUPPORT, ENGINEERING, "unmapped"]) == (
        PROFILE_DEV,
        PROFILE_OPS,
    )
    assert profiles_for_groups(READY, [SUPPORT.upper()]) == (PROFILE_OPS,)
    assert profiles_for_groups(READY, []) == ()
    assert profiles_for_groups(READY.profile_mappings, [ENGINEERING]) == (PROFILE_DEV, PROFILE_OPS)


def test_admins_are_members_of_an_admin_group() -> None:
    assert is_admin(READY, [ENGINEERING, ADMINS.upper()])
    assert not is_admin(READY, [ENGINEERING, SUPPORT])
    assert not is_admin(default_config(), [ADMINS])


# --- what changed ----------------------------------------------------------------------------


def test_changed_fields_name_what_differs_in_document_order() -> None:
    new = dataclasses.replace(
        READY, button_label="Go", enabled=False, profile_mappings=READY.profile_mappings[:1]
    )
    assert changed_fields(READY, new) == ("enabled", "profile_mappings", "button_label")
    assert changed_fields(READY, READY) == ()


def test_a_secret_change_is_client_secret_and_bookkeeping_is_not_a_change() -> None:
    assert changed_fields(READY, READY, new_secret=True) == ("client_secret",)
    first = dataclasses.replace(READY, client_secret_set=False)
    assert changed_fields(first, READY) == ("client_secret",)
    restamped = stamp(READY, at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC), by="someone else")
    assert changed_fields(READY, restamped) == ()
    assert (restamped.updated_by, restamped.updated_at) == (
        "someone else",
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )


# --- masking ---------------------------------------------------------------------------------


def test_a_masked_secret_shows_three_characters_and_short_ones_none() -> None:
    assert mask_secret("333~abcdefghijkl") == "333*****"
    assert mask_secret(Secret("abcdefgh")) == "abc*****"
    assert mask_secret("abcdefg") == "********"
    assert mask_secret("") == "********"
    assert mask_secret(None) is None


# --- the stored row --------------------------------------------------------------------------


def test_the_stored_row_round_trips_every_field() -> None:
    assert config_from_entity(config_to_entity(READY)) == READY
    timed = dataclasses.replace(
        READY, client_secret_expires_on=dt.datetime(2028, 5, 15, 8, 30, tzinfo=dt.UTC)
    )
    assert config_from_entity(config_to_entity(timed)) == timed
    assert config_from_entity(config_to_entity(default_config())) == default_config()


def test_the_stored_row_holds_only_strings_booleans_and_integers() -> None:
    for name, value in config_to_entity(READY).items():
        assert isinstance(value, str | bool | int), name


def test_500_mappings_fit_table_storage_string_limits_and_round_trip() -> None:
    config = dataclasses.replace(
        READY,
        profile_mappings=tuple(
            ProfileMapping(f"a1f0c3de-2b4d-4c6e-8f10-{i:012x}", f"0b7c41f8-6e0b-4f55-8a53-{i:012x}")
            for i in range(500)
        ),
    )
    entity = config_to_entity(config)
    # A string property is at most 64 KiB of UTF-16: 32,768 characters.
    assert all(len(v) <= 32_000 for v in entity.values() if isinstance(v, str))
    assert entity["profile_mappings_parts"] >= 2
    assert config_from_entity(entity) == config


def test_a_row_written_before_lists_were_split_still_reads() -> None:
    row = {
        "enabled": True,
        "client_id": CLIENT,
        "tenant_id": DIRECTORY,
        "customer_id": CUSTOMER,
        "profile_mappings": json.dumps([{"profile_id": PROFILE_DEV, "group_id": ENGINEERING}]),
        "admin_group_ids": json.dumps([ADMINS]),
        "homepage_url": "/",
        "login_page_url": "",
        "allowed_return_origins": "[]",
        "enforce_sso": False,
        "button_label": "Login with Microsoft",
        "client_secret_set": True,
        "client_secret_expires_on": "",
        "updated_at": "",
        "updated_by": "",
    }
    config = config_from_entity(row)
    assert is_sso_ready(config)
    assert config.profile_mappings == (ProfileMapping(PROFILE_DEV, ENGINEERING),)
    assert config.admin_group_ids == (ADMINS,)


@pytest.mark.parametrize(
    ("stored", "row_format", "read"),
    [
        ("/", None, None),  # the old default, which meant the hosted page: migrated
        ("/app", None, "/app"),
        ("", None, None),
        ("/", 2, "/"),  # set explicitly since homepage_url can be null: kept
        ("", 2, None),
        ("https://app.example.com/", 2, "https://app.example.com/"),
    ],
)
def test_homepage_url_rows_before_and_after_it_could_be_null(
    stored: str, row_format: int | None, read: str | None
) -> None:
    row = config_to_entity(READY)
    row["homepage_url"] = stored
    if row_format is None:
        del row["row_format"]
    else:
        row["row_format"] = row_format
    assert config_from_entity(row).homepage_url == read


@pytest.mark.parametrize("homepage", [None, "/", "/app"])
def test_homepage_url_survives_a_round_trip(homepage: str | None) -> None:
    config = dataclasses.replace(READY, homepage_url=homepage)
    assert config_from_entity(config_to_entity(config)).homepage_url == homepage


def test_parts_beyond_the_stored_count_are_ignored() -> None:
    entity = config_to_entity(READY)
    entity["profile_mappings_1"] = "garbage left by a longer list"
    assert config_from_entity(entity) == READY
