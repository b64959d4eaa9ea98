"""Admin API input that is not a configuration document: paging, user ids, the
user patch, tenant slugs in paths. Pure: a bad value is a 400 naming its field,
a slug that cannot name a tenant a 404."""

from __future__ import annotations

import uuid

from shared.errors import InvalidRequest

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def parse_limit(value: str | None) -> int:
    """`limit` of a paged list: 1-1000, default 100."""
    if value is None or value == "":
        return DEFAULT_PAGE
    # The length first: int() of 4,301+ digits raises instead of answering.
    if len(value) > 4 or not value.isascii() or not value.isdigit():
        raise InvalidRequest(fields={"limit": f"must be a whole number from 1 to {MAX_PAGE}"})
    if not 1 <= int(value) <= MAX_PAGE:
        raise InvalidRequest(fields={"limit": f"must be a whole number from 1 to {MAX_PAGE}"})
    return int(value)


def parse_disabled_patch(body: object) -> bool:
    """`PATCH .../users/{id}` body `{"disabled": true|false}`."""
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The body must be a JSON object.", fields={"body": "not a JSON object"}
        )
    problems = {str(k)[:100]: "unknown field" for k in list(body)[:20] if k != "disabled"}
    if "disabled" not in body:
        problems["disabled"] = "is required"
    elif not isinstance(body["disabled"], bool):
        problems["disabled"] = "must be true or false"
    if problems:
        raise InvalidRequest("The change is not valid.", fields=problems)
    return bool(body["disabled"])


def check_user_id(value: str) -> str:
    """User ids are UUIDs; anything else names no user (and never reaches a query)."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise InvalidRequest(fields={"user_id": "must be a user id (a UUID)"}) from None
    if str(parsed) != value.lower() or len(value) != 36:
        raise InvalidRequest(fields={"user_id": "must be a user id (a UUID)"})
    return value.lower()
