"""Admin input for a tenant's OAuth2 configuration and client secret: parsed or refused.

Pure. Every problem is collected and raised as ONE `InvalidRequest` whose
`fields` name each bad field (list items as `profile_mappings[3].group_id`),
so an admin fixes everything in one round. Messages never repeat a value
(a client secret must not end up in an error body or a log).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.errors import InvalidRequest
from shared.secret import Secret
from shared.tenants.fields import (
    FieldProblem,
    is_in_future,
    nullable,
    parse_bool,
    parse_button_label,
    parse_client_secret,
    parse_expiry_input,
    parse_location,
    parse_origin,
    parse_tenant_id,
    parse_uuid,
)
from shared.tenants.model import (
    DEFAULT_BUTTON_LABEL,
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
    OAuth2Config,
    ProfileMapping,
    changed_fields,
    missing_for_enable,
)

MAX_MAPPINGS = 500
MAX_ADMIN_GROUPS = 100
MAX_ORIGINS = 20
# Beyond this many problems the body is hostile or nonsense; naming more helps nobody.
MAX_PROBLEMS = 100

_MAPPING_KEYS = ("profile_id", "group_id")

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigUpdate:
    """A valid PUT: the new config, a new client secret if one was sent, what changed."""

    config: OAuth2Config
    new_client_secret: Secret | None
    changed_fields: tuple[str, ...]


def parse_config_put(
    body: object,
    *,
    current: OAuth2Config,
    current_masked_secret: str | None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> ConfigUpdate:
    """Validate a `PUT .../oauth2` body against the stored config.

    The body replaces the config: an absent field takes its default, except
    `client_secret` (absent, null or the masked value keep the stored secret)
    and `client_secret_expires_on` (absent keeps the stored date unless a new
    secret comes with the body). Read-only fields are ignored, unknown ones
    refused. With `today`, a new secret's expiry must not be in the past (with `now`
    too, an expiry time must be after it, as on the client-secret route).
    """
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The body must be a JSON object.", fields={"body": "not a JSON object"}
        )
    problems: dict[str, str] = {}
    known = set(WRITABLE_FIELDS) | set(READ_ONLY_FIELDS)
    for name in body:
        if name not in known:
            problems[_shown(name)] = "unknown field"

    def field(name: str, parse: Callable[[Any], T], default: T) -> T:
        if name not in body:
            return default
        try:
            return parse(body[name])
        except FieldProblem as bad:
            problems[name] = bad.problem
            return default

    def listed(name: str, parse: Callable[[Any, dict[str, str]], T], default: T) -> T:
        return field(name, lambda value: parse(value, problems), default)

    no_mappings: tuple[ProfileMapping, ...] = ()
    no_ids: tuple[str, ...] = ()
    enabled = field("enabled", parse_bool, False)
    client_id = field("client_id", nullable(parse_uuid), None)
    tenant_id = field("tenant_id", nullable(parse_tenant_id), None)
    customer_id = field("customer_id", nullable(parse_uuid), None)
    mappings = listed("profile_mappings", _mappings, no_mappings)
    admin_groups = listed("admin_group_ids", _admin_groups, no_ids)
    homepage_url = field("homepage_url", nullable(parse_location), None)
    login_page_url = field("login_page_url", nullable(parse_location), None)
    origins = listed("allowed_return_origins", _origins, no_ids)
    enforce_sso = field("enforce_sso", parse_bool, False)
    jit_provisioning = field("jit_provisioning", parse_bool, True)
    button_label = field("button_label", parse_button_label, DEFAULT_BUTTON_LABEL)
    new_secret = field(
        "client_secret", lambda v: parse_client_secret(v, current_masked_secret), None
    )
    if "client_secret_expires_on" in body:
        expires = field("client_secret_expires_on", nullable(parse_expiry_input), None)
    else:
        # The date describes the stored secret; a new secret without one has none.
        expires = None if new_secret is not None else current.client_secret_expires_on
    if (
        new_secret is not None
        and expires is not None
        and today is not None
        and not is_in_future(expires, today=today, now=now)
    ):
        problems.setdefault("client_secret_expires_on", "must be in the future for a new secret")

    config = OAuth2Config(
        enabled=enabled,
        client_id=client_id,
        tenant_id=tenant_id,
        customer_id=customer_id,
        profile_mappings=mappings,
        admin_group_ids=admin_groups,
        homepage_url=homepage_url,
        login_page_url=login_page_url,
        allowed_return_origins=origins,
        enforce_sso=enforce_sso,
        jit_provisioning=jit_provisioning,
        button_label=button_label,
        client_secret_set=current.client_secret_set or new_secret is not None,
        client_secret_expires_on=expires,
        updated_at=current.updated_at,
        updated_by=current.updated_by,
        client_secret_version=current.client_secret_version,
        client_secret_previous_version=current.client_secret_previous_version,
        client_secret_pending=current.client_secret_pending,
        client_secret_previous_expires_on=current.client_secret_previous_expires_on,
        # A secret given in this PUT makes the credential a secret again.
        credential_type="secret" if new_secret is not None else current.credential_type,
    )
    description = "The configuration is not valid."
    if enabled:
        missing = [name for name in missing_for_enable(config) if name not in problems]
        for name in missing:
            problems[name] = "is required when enabled is true"
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            description = f"enabled cannot be true while {', '.join(missing)} {verb} missing."
    if problems:
        raise _invalid(description, problems)
    return ConfigUpdate(
        config=config,
        new_client_secret=new_secret,
        changed_fields=changed_fields(current, config, new_secret=new_secret is not None),
    )


def parse_client_secret_put(
    body: object, *, today: dt.date, now: dt.datetime | None = None
) -> tuple[Secret, dt.date]:
    """`PUT .../oauth2/client-secret` body `{"value", "expires_on"}` -> (secret, expiry).

    The expiry is a date, or an aware UTC datetime when a time was given; it
    must be in the future (a date after `today`; a time after `now` when given,
    else on or after `today`).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    problems = {_shown(k): "unknown field" for k in body if k not in ("value", "expires_on")}
    secret: Secret | None = None
    expires: dt.date | None = None
    if "value" not in body or body["value"] is None:
        problems["value"] = "is required"
    else:
        try:
            secret = parse_client_secret(body["value"], None)
        except FieldProblem as bad:
            problems["value"] = bad.problem
    if "expires_on" not in body or body["expires_on"] is None:
        problems["expires_on"] = "is required"
    else:
        try:
            expires = parse_expiry_input(body["expires_on"])
        except FieldProblem as bad:
            problems["expires_on"] = bad.problem
        else:
            if not is_in_future(expires, today=today, now=now):
                problems["expires_on"] = "must be in the future"
    if problems or secret is None or expires is None:
        raise _invalid("The client secret is not valid.", problems)
    return secret, expires


# --- lists ----------------------------------------------------------------------------


def _unique_list(
    value: object,
    problems: dict[str, str],
    *,
    name: str,
    limit: int,
    item: Callable[[Any], T],
    what: str,
) -> tuple[T, ...]:
    if not isinstance(value, list):
        raise FieldProblem(f"must be a list of {what}")
    if len(value) > limit:
        raise FieldProblem(f"must have at most {limit} entries")
    seen: dict[T, int] = {}
    for index, raw in enumerate(value):
        try:
            parsed = item(raw)
        except FieldProblem as bad:
            problems[f"{name}[{index}]"] = bad.problem
            continue
        if parsed in seen:
            problems[f"{name}[{index}]"] = f"duplicates {name}[{seen[parsed]}]"
        else:
            seen[parsed] = index
    return tuple(seen)


def _admin_groups(value: object, problems: dict[str, str]) -> tuple[str, ...]:
    return _unique_list(
        value,
        problems,
        name="admin_group_ids",
        limit=MAX_ADMIN_GROUPS,
        item=parse_uuid,
        what="group UUIDs",
    )


def _origins(value: object, problems: dict[str, str]) -> tuple[str, ...]:
    return _unique_list(
        value,
        problems,
        name="allowed_return_origins",
        limit=MAX_ORIGINS,
        item=parse_origin,
        what="origins like https://app.example.com",
    )


def _mappings(value: object, problems: dict[str, str]) -> tuple[ProfileMapping, ...]:
    if not isinstance(value, list):
        raise FieldProblem('must be a list of {"profile_id", "group_id"} objects')
    if len(value) > MAX_MAPPINGS:
        raise FieldProblem(f"must have at most {MAX_MAPPINGS} mappings")
    seen: dict[ProfileMapping, int] = {}
    for index, item in enumerate(value):
        at = f"profile_mappings[{index}]"
        if not isinstance(item, dict):
            problems[at] = 'must be an object {"profile_id", "group_id"}'
            continue
        for key in item:
            if key not in _MAPPING_KEYS:
                problems[f"{at}.{_shown(key)}"] = "unknown field"
        ids: dict[str, str] = {}
        for key in _MAPPING_KEYS:
            if item.get(key) is None:
                problems[f"{at}.{key}"] = "is required"
                continue
            try:
                ids[key] = parse_uuid(item[key])
            except FieldProblem as bad:
                problems[f"{at}.{key}"] = bad.problem
        if len(ids) < len(_MAPPING_KEYS):
            continue
        mapping = ProfileMapping(profile_id=ids["profile_id"], group_id=ids["group_id"])
        if mapping in seen:
            problems[at] = f"duplicates profile_mappings[{seen[mapping]}]"
        else:
            seen[mapping] = index
    return tuple(seen)


# --- errors -----------------------------------------------------------------------------


def _shown(name: object) -> str:
    """A field name as it appears in `fields` (long names cut, so errors stay small)."""
    text = str(name)
    return text if len(text) <= 100 else f"{text[:100]}..."


def _invalid(description: str, problems: dict[str, str]) -> InvalidRequest:
    if len(problems) > MAX_PROBLEMS:
        description = f"{description} The first {MAX_PROBLEMS} of {len(problems)} problems."
        problems = dict(list(problems.items())[:MAX_PROBLEMS])
    return InvalidRequest(description, fields=problems)
