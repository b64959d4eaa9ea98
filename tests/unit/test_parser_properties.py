"""Properties of the pure parsers that take input from anyone, checked by Hypothesis
over arbitrary input: each either answers or refuses with its own error, never
anything else, and what it accepts keeps its promise.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.admin.input import parse_limit
from shared.errors import InvalidRequest
from shared.json_input import JsonRefused, parse_json
from shared.signin.redirects import origin_of, safe_return_to
from shared.store.rows import (
    cursor_scope,
    decode_cursor,
    encode_cursor,
    key_part,
    key_problem,
    text_key,
)
from shared.tenants.model import OAuth2Config
from shared.tenants.validation import parse_config_put

PROPERTIES = settings(max_examples=300, deadline=None, derandomize=True)
BASE = "https://auth.example.com"
ALLOWED = ["https://app.example.com", "https://spa.example.org:8443"]
DEFAULT = f"{BASE}/api/auth/acme/login"
SCOPE = cursor_scope("users", "acme", "user:")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@PROPERTIES
@given(json_values)
def test_json_within_the_limits_reads_back_as_written(value: Any) -> None:
    assert parse_json(json.dumps(value)) == value


@PROPERTIES
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_input_is_json_or_a_refusal_never_a_crash(raw: str | bytes) -> None:
    with contextlib.suppress(JsonRefused):  # any other exception fails the test
        parse_json(raw)


@PROPERTIES
@given(st.integers(min_value=1, max_value=200))
def test_nesting_past_the_limit_is_refused(depth: int) -> None:
    text = "[" * depth + "]" * depth
    if depth <= 32:
        parse_json(text)
    else:
        try:
            parse_json(text)
        except JsonRefused as refused:
            assert "nested" in str(refused)
        else:
            raise AssertionError("accepted nesting past the limit")


sendable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@PROPERTIES
@given(sendable, st.none() | sendable)
def test_a_cursor_reads_back_as_the_token_it_was_made_from(pk: str, rk: str | None) -> None:
    token = {"PartitionKey": pk, **({"RowKey": rk} if rk is not None else {})}
    assert decode_cursor(encode_cursor(token, SCOPE), SCOPE) == token


@PROPERTIES
@given(sendable, st.none() | sendable, st.text(max_size=30), st.text(max_size=30))
def test_a_cursor_of_another_list_is_a_400_naming_cursor(
    pk: str, rk: str | None, tenant: str, other: str
) -> None:
    token = {"PartitionKey": pk, **({"RowKey": rk} if rk is not None else {})}
    made_for = cursor_scope("users", tenant, "user:")
    for used_on in (cursor_scope("users", other, "user:"), cursor_scope("audit", tenant, "")):
        if used_on == made_for:
            continue  # the same list (tenant == other)
        try:
            decode_cursor(encode_cursor(token, made_for), used_on)
        except InvalidRequest as refused:
            assert list(refused.fields) == ["cursor"]
        else:
            raise AssertionError("a cursor paged a list it was not made for")


@PROPERTIES
@given(st.text(max_size=3000))
def test_any_cursor_is_a_token_or_a_400_naming_cursor(cursor: str) -> None:
    try:
        token = decode_cursor(cursor, SCOPE)
    except InvalidRequest as refused:
        assert list(refused.fields) == ["cursor"]
    else:
        assert set(token) <= {"PartitionKey", "RowKey"}


@PROPERTIES
@given(st.text(max_size=200))
def test_any_text_becomes_a_key_part_table_storage_accepts(text: str) -> None:
    part = key_part(text)
    assert key_problem(part) is None or len(part) > 512
    assert part.isascii()


@PROPERTIES
@given(st.text(max_size=50), st.text(max_size=50))
def test_key_parts_of_different_texts_differ(a: str, b: str) -> None:
    assert (key_part(a) == key_part(b)) == (a == b)


key_texts = st.text(max_size=40) | st.text(min_size=80, max_size=1200)


@PROPERTIES
@given(st.sampled_from(["email:", "scimname:", "scimgname:"]), key_texts)
def test_any_text_of_any_length_becomes_a_key_table_storage_accepts(prefix: str, text: str) -> None:
    key = text_key(prefix, text)
    assert key_problem(key) is None and key.startswith(prefix)
    if key_problem(prefix + key_part(text)) is None:
        assert key == prefix + key_part(text)  # keys that always fitted are kept as they were


@PROPERTIES
@given(key_texts, key_texts)
def test_keys_of_different_texts_differ_at_any_length(a: str, b: str) -> None:
    assert (text_key("p:", a) == text_key("p:", b)) == (a == b)


@PROPERTIES
@given(st.text(max_size=10))
def test_any_limit_is_a_page_size_or_a_400_naming_limit(value: str) -> None:
    try:
        assert 1 <= parse_limit(value) <= 1000
    except InvalidRequest as refused:
        assert list(refused.fields) == ["limit"]


urlish = st.one_of(
    st.text(max_size=80),
    st.builds(lambda p: "/" + p, st.text(max_size=60)),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}{path}",
        st.sampled_from(["https", "http", "javascript", "HTTPS", "ftp", ""]),
        st.sampled_from(
            [
                "app.example.com",
                "auth.example.com",
                "evil.example",
                "app.example.com.evil",
                "spa.example.org:8443",
                "spa.example.org",
                "user@app.example.com",
                "",
                "\\evil",
            ]
        ),
        st.text(max_size=30),
    ),
)


@PROPERTIES
@given(urlish)
def test_a_return_to_is_the_default_or_somewhere_allowed(value: str) -> None:
    result = safe_return_to(value, public_base_url=BASE, allowed_origins=ALLOWED, default=DEFAULT)
    if result == DEFAULT:
        return
    assert result == value
    if result.startswith("/"):
        assert not result.startswith("//") and "\\" not in result
        assert urlsplit(BASE + result).netloc == "auth.example.com"
    else:
        assert origin_of(result) in {origin_of(BASE), *map(origin_of, ALLOWED)}
        assert "@" not in urlsplit(result).netloc


config_fields = st.sampled_from(
    [
        "enabled",
        "client_id",
        "tenant_id",
        "customer_id",
        "profile_mappings",
        "admin_group_ids",
        "homepage_url",
        "login_page_url",
        "allowed_return_origins",
        "enforce_sso",
        "jit_provisioning",
        "button_label",
        "client_secret",
        "client_secret_expires_on",
        "provider",
        "endpoints",
        "unknown",
    ]
)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.dictionaries(config_fields, json_values, max_size=8) | json_values)
def test_any_config_body_is_a_config_or_a_400_naming_real_fields(body: Any) -> None:
    try:
        update = parse_config_put(body, current=OAuth2Config(), current_masked_secret=None)
    except InvalidRequest as refused:
        assert refused.fields
        # Named: the fields sent, the body itself, or what `enabled: true` still needs.
        needed_to_enable = {"client_id", "client_secret", "tenant_id", "customer_id"}
        sent = set(body) if isinstance(body, dict) else set()
        # "profile_mappings[0]" names its list; a sent key may hold "[" itself
        named = {
            name if name in sent else (name.split("[", 1)[0] or name) for name in refused.fields
        }
        assert named <= sent | {"body"} | needed_to_enable
    else:
        assert isinstance(update.config, OAuth2Config)
