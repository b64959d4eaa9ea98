"""PUT .../oauth2 and .../oauth2/client-secret bodies: accepted as the contract says, or
refused with every bad field named, and never a secret in an error."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shared.errors import InvalidRequest
from shared.secret import mask_secret
from shared.tenants.document import render_config_document
from shared.tenants.model import OAuth2Config, ProfileMapping, default_config
from shared.tenants.validation import (
    ConfigUpdate,
    parse_client_secret_put,
    parse_config_put,
)

CLIENT = "550e8400-e29b-41d4-a716-446655440000"
DIRECTORY = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
GROUP_A = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d01"
GROUP_B = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d02"
PROFILE_A = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e01"
PROFILE_B = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e02"
RAW_SECRET = "Qm8~x.Stored-Secret_0123456789abcdef"
MASKED = mask_secret(RAW_SECRET)
NEW_SECRET = "Zz9~y.New-Secret_9876543210fedcba"
TODAY = dt.date(2026, 5, 1)

STORED = OAuth2Config(
    enabled=True,
    client_id=CLIENT,
    tenant_id=DIRECTORY,
    customer_id=CUSTOMER,
    profile_mappings=(ProfileMapping(PROFILE_A, GROUP_A), ProfileMapping(PROFILE_B, GROUP_B)),
    admin_group_ids=(GROUP_B,),
    homepage_url="/app",
    login_page_url="https://app.example.com/login",
    allowed_return_origins=("https://app.example.com",),
    enforce_sso=True,
    button_label="Sign in with Contoso",
    client_secret_set=True,
    client_secret_expires_on=dt.date(2027, 1, 31),
    updated_at=dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC),
    updated_by="platform",
)


def document(config: OAuth2Config = STORED, masked: str | None = MASKED) -> dict[str, Any]:
    """The GET body exactly as a client receives it (through JSON)."""
    rendered = render_config_document(
        config,
        masked_secret=masked,
        slug="contoso",
        public_base_url="https://auth.example.com",
        authority_host="https://login.microsoftonline.com",
        today=TODAY,
    )
    loaded: dict[str, Any] = json.loads(json.dumps(rendered))
    return loaded


def put(
    body: object,
    *,
    current: OAuth2Config = STORED,
    masked: str | None = MASKED,
    today: dt.date | None = None,
) -> ConfigUpdate:
    return parse_config_put(body, current=current, current_masked_secret=masked, today=today)


def refusal(body: object, **kwargs: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        put(body, **kwargs)
    return caught.value


def bad_fields(body: object, **kwargs: Any) -> dict[str, str]:
    return refusal(body, **kwargs).fields


def with_field(name: str, value: object) -> dict[str, Any]:
    body = document()
    body[name] = value
    return body


# --- round trips ---------------------------------------------------------------------


def test_a_get_document_sent_back_as_it_came_is_a_valid_put_that_changes_nothing() -> None:
    update = put(document())
    assert update.config == STORED
    assert update.new_client_secret is None
    assert update.changed_fields == ()


def test_the_default_document_sent_back_is_valid_and_stays_the_default() -> None:
    update = put(document(default_config(), None), current=default_config(), masked=None)
    assert update.config == default_config()
    assert update.changed_fields == ()


def test_read_only_fields_are_ignored_whatever_they_say() -> None:
    body = document()
    body.update(
        provider="google",
        endpoints={"token_uri": "https://evil.example/token"},
        scopes=["Directory.ReadWrite.All"],
        field_mappings={"email": "upn"},
        client_secret_set=False,
        client_secret_days_left=9999,
        client_secret_expiring_soon=False,
        updated_at="1999-01-01T00:00:00Z",
        updated_by="mallory",
    )
    update = put(body)
    assert update.config == STORED
    assert update.changed_fields == ()


@pytest.mark.parametrize("value", [None, "/", "/app", "https://app.example.com/home"])
def test_homepage_url_is_null_for_the_hosted_page_or_used_as_set(value: str | None) -> None:
    assert put({"homepage_url": value}).config.homepage_url == value


def test_a_put_replaces_the_config_so_absent_fields_take_their_defaults() -> None:
    update = put({})
    config = update.config
    assert (config.enabled, config.client_id, config.profile_mappings) == (False, None, ())
    assert config.homepage_url is None and config.button_label == "Login with Microsoft"
    # The secret and its date are not part of a replace: absent keeps them.
    assert config.client_secret_set is True
    assert config.client_secret_expires_on == STORED.client_secret_expires_on
    assert "client_secret" not in update.changed_fields
    assert {"enabled", "client_id", "profile_mappings", "button_label"} <= set(
        update.changed_fields
    )


def test_ids_are_stored_in_canonical_lowercase() -> None:
    body = with_field("client_id", CLIENT.upper())
    body["profile_mappings"] = [{"profile_id": PROFILE_A.upper(), "group_id": GROUP_A.upper()}]
    body["admin_group_ids"] = [GROUP_B.upper()]
    config = put(body).config
    assert config.client_id == CLIENT
    assert config.profile_mappings == (ProfileMapping(PROFILE_A, GROUP_A),)
    assert config.admin_group_ids == (GROUP_B,)


# --- one bad field at a time -------------------------------------------------------------

ODATA = "46478538-4689-45b5-994c-d12a49c354b0' or PartitionKey ne '"
BAD_VALUES: list[tuple[str, object, str]] = [
    ("enabled", "true", "enabled"),
    ("enabled", 1, "enabled"),
    ("enabled", None, "enabled"),
    ("enforce_sso", "false", "enforce_sso"),
    ("enforce_sso", 0, "enforce_sso"),
    ("client_id", "not-a-uuid", "client_id"),
    ("client_id", 550, "client_id"),
    ("client_id", CLIENT.replace("-", ""), "client_id"),
    ("client_id", "{" + CLIENT + "}", "client_id"),
    ("client_id", "urn:uuid:" + CLIENT, "client_id"),
    ("client_id", " " + CLIENT, "client_id"),
    ("client_id", CLIENT + "\n", "client_id"),
    ("client_id", "00000000-0000-0000-0000-000000000000", "client_id"),
    ("client_id", ODATA, "client_id"),
    ("tenant_id", "common", "tenant_id"),
    ("tenant_id", "organizations", "tenant_id"),
    ("tenant_id", "consumers", "tenant_id"),
    ("tenant_id", "Common", "tenant_id"),
    ("tenant_id", CONSUMER_TENANT, "tenant_id"),
    ("tenant_id", CONSUMER_TENANT.upper(), "tenant_id"),
    ("tenant_id", "contoso.onmicrosoft.com", "tenant_id"),
    ("customer_id", ODATA, "customer_id"),
    ("customer_id", "46478538-4689-45b5-994c-d12a49c354b0 ", "customer_id"),
    ("homepage_url", "//evil.example", "homepage_url"),
    ("homepage_url", "/\\evil.example", "homepage_url"),
    ("homepage_url", "http://app.example.com/", "homepage_url"),
    ("homepage_url", "javascript:alert(1)", "homepage_url"),
    ("homepage_url", "app/home", "homepage_url"),
    ("homepage_url", "", "homepage_url"),
    ("homepage_url", "https://user:pw@app.example.com/", "homepage_url"),
    ("homepage_url", "https://app.example.com/a b", "homepage_url"),
    ("homepage_url", "https:///no-host", "homepage_url"),
    ("homepage_url", "https://exa_mple.com/", "homepage_url"),
    ("homepage_url", "https://app.example.com:99999/", "homepage_url"),
    ("homepage_url", "ftp://app.example.com/", "homepage_url"),
    ("homepage_url", "/caf\u00e9", "homepage_url"),
    ("homepage_url", "/" + "a" * 2048, "homepage_url"),
    ("login_page_url", "//evil.example/login", "login_page_url"),
    ("login_page_url", "login", "login_page_url"),
    ("login_page_url", 42, "login_page_url"),
    ("allowed_return_origins", "https://app.example.com", "allowed_return_origins"),
    ("allowed_return_origins", ["https://app.example.com/path"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["https://app.example.com?x=1"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["https://app.example.com#top"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["http://app.example.com"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["https://*.example.com"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["https://u@app.example.com"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["app.example.com"], "allowed_return_origins[0]"),
    ("allowed_return_origins", ["javascript://x"], "allowed_return_origins[0]"),
    ("allowed_return_origins", [None], "allowed_return_origins[0]"),
    ("button_label", "", "button_label"),
    ("button_label", "   ", "button_label"),
    ("button_label", "x" * 65, "button_label"),
    ("button_label", "Log in\nnow", "button_label"),
    ("button_label", "Log in\u202e", "button_label"),
    ("button_label", 5, "button_label"),
    ("button_label", None, "button_label"),
    ("client_secret_expires_on", "15/05/2028", "client_secret_expires_on"),
    ("client_secret_expires_on", "2028-13-01", "client_secret_expires_on"),
    ("client_secret_expires_on", "2028-05-15T10:00:00", "client_secret_expires_on"),
    ("client_secret_expires_on", 20280515, "client_secret_expires_on"),
    ("profile_mappings", "x", "profile_mappings"),
    ("profile_mappings", {"profile_id": PROFILE_A, "group_id": GROUP_A}, "profile_mappings"),
    ("profile_mappings", None, "profile_mappings"),
    (
        "profile_mappings",
        [{"profile_id": ODATA, "group_id": GROUP_A}],
        "profile_mappings[0].profile_id",
    ),
    ("admin_group_ids", GROUP_A, "admin_group_ids"),
    ("admin_group_ids", ["Engineering"], "admin_group_ids[0]"),
    ("admin_group_ids", [ODATA], "admin_group_ids[0]"),
    ("client_secret", 12345, "client_secret"),
    ("client_secret", "", "client_secret"),
    ("client_secret", "x" * 1025, "client_secret"),
    ("client_secret", "abc\x00defghijk", "client_secret"),
    ("client_secret", " padded-secret-value", "client_secret"),
    ("client_secret", "zzz*****", "client_secret"),
    ("client_secret", "********", "client_secret"),
]


@pytest.mark.parametrize(("field", "value", "named"), BAD_VALUES)
def test_a_bad_value_is_a_400_naming_exactly_that_field(
    field: str, value: object, named: str
) -> None:
    error = refusal(with_field(field, value))
    assert error.status == 400 and error.code == "invalid_request"
    assert list(error.fields) == [named]


def test_every_bad_field_is_named_at_once() -> None:
    body = document()
    body.update(
        client_id="nope",
        homepage_url="//evil.example",
        button_label="",
        admin_group_ids=[GROUP_A, "x"],
        colour="red",
    )
    assert set(bad_fields(body)) == {
        "client_id",
        "homepage_url",
        "button_label",
        "admin_group_ids[1]",
        "colour",
    }


def test_unknown_fields_are_named() -> None:
    fields = bad_fields({"enabled": False, "colour": "red", "clientId": CLIENT})
    assert fields == {"colour": "unknown field", "clientId": "unknown field"}


def test_a_flood_of_unknown_fields_gets_a_bounded_answer() -> None:
    error = refusal({f"f{i}": 1 for i in range(5000)})
    assert len(error.fields) == 100
    assert "5000" in error.description


@pytest.mark.parametrize("body", [[], "enabled", None, 3, True])
def test_a_body_that_is_not_a_json_object_is_refused(body: object) -> None:
    error = refusal(body)
    assert error.code == "invalid_request"
    assert "object" in error.description


def test_the_consumer_tenant_and_multi_tenant_names_are_refused_as_one_directory_per_config() -> (
    None
):
    for value in (CONSUMER_TENANT, "common", "organizations"):
        problem = bad_fields(with_field("tenant_id", value))["tenant_id"]
        assert "one directory per tenant config" in problem


def test_odata_shaped_ids_are_refused_as_not_uuids() -> None:
    problem = bad_fields(with_field("client_id", ODATA))["client_id"]
    assert "UUID" in problem


def test_null_clears_the_optional_ids_and_the_login_page() -> None:
    body = document()
    body.update(enabled=False, client_id=None, tenant_id=None, customer_id=None)
    body["login_page_url"] = None
    config = put(body).config
    assert (config.client_id, config.tenant_id, config.customer_id) == (None, None, None)
    assert config.login_page_url is None


@pytest.mark.parametrize(
    "url", ["/", "/app/settings?tab=sso#top", "/a%20b", "https://app.example.com/x?y=1"]
)
def test_paths_and_https_urls_are_accepted_as_pages(url: str) -> None:
    body = document()
    body.update(homepage_url=url, login_page_url=url)
    config = put(body).config
    assert (config.homepage_url, config.login_page_url) == (url, url)


def test_http_pages_and_origins_are_accepted_only_for_loopback() -> None:
    body = document()
    body.update(
        homepage_url="http://localhost:5173/home",
        allowed_return_origins=["http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]"],
    )
    config = put(body).config
    assert config.homepage_url == "http://localhost:5173/home"
    assert config.allowed_return_origins == (
        "http://localhost:5173",
        "http://127.0.0.1:8080",
        "http://[::1]",
    )


def test_origins_are_normalised_so_they_compare_with_return_to() -> None:
    body = with_field(
        "allowed_return_origins",
        ["HTTPS://App.Example.com/", "https://api.example.com:443", "https://dev.example.com:8443"],
    )
    assert put(body).config.allowed_return_origins == (
        "https://app.example.com",
        "https://api.example.com",
        "https://dev.example.com:8443",
    )


def test_an_origin_listed_twice_is_refused_even_when_spelled_differently() -> None:
    body = with_field(
        "allowed_return_origins", ["https://app.example.com", "https://APP.example.com/"]
    )
    assert bad_fields(body) == {"allowed_return_origins[1]": "duplicates allowed_return_origins[0]"}


def test_at_most_20_origins() -> None:
    origins = [f"https://app{i}.example.com" for i in range(21)]
    assert list(bad_fields(with_field("allowed_return_origins", origins))) == [
        "allowed_return_origins"
    ]
    assert (
        len(put(with_field("allowed_return_origins", origins[:20])).config.allowed_return_origins)
        == 20
    )


# --- profile mappings and admin groups -------------------------------------------------------


def uuid_n(prefix: str, n: int) -> str:
    return f"{prefix}{n:012x}"


def test_a_mapping_listed_twice_is_refused_naming_the_second_index() -> None:
    mappings = [
        {"profile_id": PROFILE_A, "group_id": GROUP_A},
        {"profile_id": PROFILE_B, "group_id": GROUP_A},
        {"profile_id": PROFILE_A, "group_id": GROUP_B},
        {"profile_id": PROFILE_A.upper(), "group_id": GROUP_A},
    ]
    assert bad_fields(with_field("profile_mappings", mappings)) == {
        "profile_mappings[3]": "duplicates profile_mappings[0]"
    }


def test_one_group_may_give_several_profiles_and_one_profile_may_come_from_several_groups() -> None:
    mappings = [
        {"profile_id": PROFILE_A, "group_id": GROUP_A},
        {"profile_id": PROFILE_B, "group_id": GROUP_A},
        {"profile_id": PROFILE_A, "group_id": GROUP_B},
    ]
    assert len(put(with_field("profile_mappings", mappings)).config.profile_mappings) == 3


def test_up_to_500_mappings_are_accepted_and_501_refused() -> None:
    mappings = [
        {"profile_id": PROFILE_A, "group_id": uuid_n("0b7c41f8-6e0b-4f55-8a53-", i)}
        for i in range(501)
    ]
    assert len(put(with_field("profile_mappings", mappings[:500])).config.profile_mappings) == 500
    assert list(bad_fields(with_field("profile_mappings", mappings))) == ["profile_mappings"]


def test_each_bad_mapping_is_named_by_index_and_part() -> None:
    mappings: list[object] = [
        {"profile_id": PROFILE_A, "group_id": GROUP_A},
        {"profile_id": "admins", "group_id": GROUP_B},
        "Engineering",
        {"profile_id": PROFILE_B},
        {"profile_id": PROFILE_B, "group_id": GROUP_B, "group_name": "Support"},
        {"profile_id": PROFILE_B, "group_id": None},
    ]
    assert set(bad_fields(with_field("profile_mappings", mappings))) == {
        "profile_mappings[1].profile_id",
        "profile_mappings[2]",
        "profile_mappings[3].group_id",
        "profile_mappings[4].group_name",
        "profile_mappings[5].group_id",
    }


def test_admin_groups_are_at_most_100_and_each_once() -> None:
    groups = [uuid_n("0b7c41f8-6e0b-4f55-8a53-", i) for i in range(101)]
    assert len(put(with_field("admin_group_ids", groups[:100])).config.admin_group_ids) == 100
    assert list(bad_fields(with_field("admin_group_ids", groups))) == ["admin_group_ids"]
    assert bad_fields(with_field("admin_group_ids", [GROUP_A, GROUP_B, GROUP_A.upper()])) == {
        "admin_group_ids[2]": "duplicates admin_group_ids[0]"
    }


# --- enabling --------------------------------------------------------------------------------


def test_enabling_with_nothing_set_names_every_missing_part() -> None:
    error = refusal({"enabled": True}, current=default_config(), masked=None)
    assert set(error.fields) == {"client_id", "client_secret", "tenant_id", "customer_id"}
    assert "enabled" in error.description


def test_enabling_names_only_what_is_still_missing() -> None:
    body = {"enabled": True, "client_id": CLIENT, "client_secret": NEW_SECRET}
    fields = bad_fields(body, current=default_config(), masked=None)
    assert set(fields) == {"tenant_id", "customer_id"}


def test_enabling_with_a_stored_secret_and_every_id_is_accepted() -> None:
    body = {"enabled": True, "client_id": CLIENT, "tenant_id": DIRECTORY, "customer_id": CUSTOMER}
    assert put(body).config.enabled is True


def test_enabling_with_a_bad_id_names_the_bad_value_not_a_missing_one() -> None:
    body = {"enabled": True, "client_id": "x", "tenant_id": DIRECTORY, "customer_id": CUSTOMER}
    assert "UUID" in bad_fields(body)["client_id"]


def test_a_disabled_config_may_be_incomplete() -> None:
    update = put({"enabled": False, "client_id": CLIENT}, current=default_config(), masked=None)
    assert update.config.client_id == CLIENT and update.config.client_secret_set is False


# --- the client secret in a config PUT -------------------------------------------------------


@pytest.mark.parametrize("sent", ["(absent)", None, MASKED])
def test_an_absent_null_or_masked_secret_keeps_the_stored_one(sent: str | None) -> None:
    body = document()
    if sent == "(absent)":
        del body["client_secret"]
    else:
        body["client_secret"] = sent
    update = put(body)
    assert update.new_client_secret is None
    assert update.config == STORED
    assert "client_secret" not in update.changed_fields


def test_a_new_secret_is_returned_wrapped_and_reported_by_name_only() -> None:
    body = with_field("client_secret", NEW_SECRET)
    del body["client_secret_expires_on"]
    update = put(body)
    assert update.new_client_secret is not None
    assert update.new_client_secret.reveal() == NEW_SECRET
    assert NEW_SECRET not in repr(update)
    assert update.changed_fields == ("client_secret", "client_secret_expires_on")
    # Sent without its date, a new secret has none (the stored date was the old one's).
    assert update.config.client_secret_expires_on is None


def test_a_new_secret_with_its_expiry() -> None:
    body = with_field("client_secret", NEW_SECRET)
    body["client_secret_expires_on"] = "2028-05-15T10:00:00.123456789+02:00"
    update = put(body, today=TODAY)
    assert update.config.client_secret_expires_on == dt.datetime(
        2028, 5, 15, 8, 0, 0, 123456, tzinfo=dt.UTC
    )


def test_a_new_secret_that_already_expired_is_refused_when_today_is_known() -> None:
    body = with_field("client_secret", NEW_SECRET)
    body["client_secret_expires_on"] = "2026-04-30"
    assert list(bad_fields(body, today=TODAY)) == ["client_secret_expires_on"]


def test_the_first_secret_sets_client_secret_set() -> None:
    update = put({"client_secret": NEW_SECRET}, current=default_config(), masked=None)
    assert update.config.client_secret_set is True
    assert update.changed_fields == ("client_secret",)


def test_no_error_body_ever_contains_the_secret() -> None:
    cases: list[dict[str, Any]] = [
        {**with_field("client_secret", NEW_SECRET), "client_id": "bad"},
        with_field("client_secret", NEW_SECRET + "\x07"),
        with_field("client_secret", " " + NEW_SECRET),
        with_field("client_secret", NEW_SECRET * 40),
    ]
    for body in cases:
        error = refusal(body)
        shown = json.dumps(error.to_body()) + str(error) + repr(error.args)
        assert NEW_SECRET not in shown
        assert RAW_SECRET not in shown


# --- PUT .../oauth2/client-secret -------------------------------------------------------------


def secret_put(body: object, now: dt.datetime | None = None) -> tuple[Any, dt.date]:
    return parse_client_secret_put(body, today=TODAY, now=now)


def secret_refusal(body: object, now: dt.datetime | None = None) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        secret_put(body, now)
    assert NEW_SECRET not in json.dumps(caught.value.to_body())
    return caught.value.fields


def test_a_secret_with_a_future_date_is_accepted() -> None:
    secret, expires = secret_put({"value": NEW_SECRET, "expires_on": "2028-05-15"})
    assert secret.reveal() == NEW_SECRET and expires == dt.date(2028, 5, 15)


def test_a_secret_with_a_future_rfc3339_time_is_accepted_in_utc() -> None:
    _, expires = secret_put({"value": NEW_SECRET, "expires_on": "2028-05-15t23:30:00-01:00"})
    assert expires == dt.datetime(2028, 5, 16, 0, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("expires_on", ["2026-05-01", "2026-04-30", "2020-01-01T00:00:00Z"])
def test_an_expiry_that_is_not_in_the_future_is_refused(expires_on: str) -> None:
    assert list(secret_refusal({"value": NEW_SECRET, "expires_on": expires_on})) == ["expires_on"]


def test_a_time_earlier_today_is_refused_when_the_time_is_known() -> None:
    now = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    body = {"value": NEW_SECRET, "expires_on": "2026-05-01T11:59:59Z"}
    assert list(secret_refusal(body, now)) == ["expires_on"]
    later = {"value": NEW_SECRET, "expires_on": "2026-05-01T12:00:01Z"}
    assert secret_put(later, now)[1] == dt.datetime(2026, 5, 1, 12, 0, 1, tzinfo=dt.UTC)


def test_both_parts_are_required_and_named() -> None:
    assert secret_refusal({}) == {"value": "is required", "expires_on": "is required"}
    assert set(secret_refusal({"value": None, "expires_on": None})) == {"value", "expires_on"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"value": 7, "expires_on": "2028-05-15"}, {"value"}),
        ({"value": "", "expires_on": "2028-05-15"}, {"value"}),
        ({"value": "abc*****", "expires_on": "2028-05-15"}, {"value"}),
        ({"value": NEW_SECRET + "\n", "expires_on": "2028-05-15"}, {"value"}),
        ({"value": NEW_SECRET, "expires_on": "next year"}, {"expires_on"}),
        ({"value": NEW_SECRET, "expires_on": "2028-02-30"}, {"expires_on"}),
        ({"value": NEW_SECRET, "expires_on": "2028-05-15", "version": "1"}, {"version"}),
        ({"value": NEW_SECRET + "\x00", "expires_on": 2028}, {"value", "expires_on"}),
    ],
)
def test_a_bad_secret_body_names_each_bad_part(body: dict[str, Any], named: set[str]) -> None:
    assert set(secret_refusal(body)) == named


def test_a_secret_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        secret_put([NEW_SECRET, "2028-05-15"])
