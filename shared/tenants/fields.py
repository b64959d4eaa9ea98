"""Single values of admin input: parsed to their stored form, or a `FieldProblem`.

Pure. A problem says what is wrong in words an admin can act on and never
repeats the value (it may be a secret).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from shared.secret import Secret, looks_masked
from shared.settings import is_loopback_url
from shared.tenants.model import has_control_chars

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
MAX_URL = 2048
MAX_ORIGIN = 300
MAX_LABEL = 64
MAX_SECRET = 1024

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_MULTI_TENANT = frozenset({"common", "organizations", "consumers"})
_URL_CHARS = re.compile(r"[!-~]+")  # printable ASCII, no space
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")

T = TypeVar("T")


class FieldProblem(Exception):
    """What is wrong with one value (the message, never the value)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def nullable(parse: Callable[[Any], T]) -> Callable[[Any], T | None]:
    return lambda value: None if value is None else parse(value)


def parse_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise FieldProblem("must be true or false")
    return value


def parse_uuid(value: object) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise FieldProblem("must be a UUID like 550e8400-e29b-41d4-a716-446655440000")
    if value == _NIL_UUID:
        raise FieldProblem("must not be the nil UUID")
    return value.lower()


def uuid_or_none(value: object) -> str | None:
    """`parse_uuid` for a value that may simply not be one (surrounding spaces ignored)."""
    try:
        return parse_uuid(value.strip() if isinstance(value, str) else value)
    except FieldProblem:
        return None


def parse_tenant_id(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in _MULTI_TENANT:
        raise FieldProblem(
            "must be your directory's tenant id (a UUID): 'common', 'organizations' and "
            "'consumers' are not allowed (one directory per tenant config)"
        )
    tenant_id = parse_uuid(value)
    if tenant_id == CONSUMER_TENANT:
        raise FieldProblem(
            "must not be the consumer (personal Microsoft account) tenant: "
            "one directory per tenant config"
        )
    return tenant_id


def parse_button_label(value: object) -> str:
    if not isinstance(value, str):
        raise FieldProblem("must be a string")
    if not value.strip() or len(value) > MAX_LABEL:
        raise FieldProblem(f"must be 1-{MAX_LABEL} characters")
    if has_control_chars(value):
        raise FieldProblem("must not contain control characters")
    return value


def parse_client_secret(value: object, current_masked: str | None) -> Secret | None:
    """None keeps the stored secret; a Secret is a new one."""
    if value is None or (current_masked is not None and value == current_masked):
        return None
    if not isinstance(value, str):
        raise FieldProblem("must be a string, or null to keep the stored secret")
    if not value or len(value) > MAX_SECRET:
        raise FieldProblem(f"must be 1-{MAX_SECRET} characters")
    if has_control_chars(value):
        raise FieldProblem("must not contain control characters")
    if value != value.strip():
        raise FieldProblem("must not start or end with whitespace")
    if looks_masked(value):
        # Most likely a GET body of another tenant or an older secret sent back.
        raise FieldProblem(
            "is a masked value (as a GET shows it) that is not the stored secret's: "
            "send a new secret in full"
        )
    return Secret(value)


def parse_expiry_input(value: object) -> dt.date:
    problem = "must be a date YYYY-MM-DD or an RFC 3339 time like 2028-05-15T00:00:00Z"
    if not isinstance(value, str):
        raise FieldProblem(problem)
    try:
        if _DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
        match = _TIME.fullmatch(value)
        if match:
            day, clock, fraction, offset = match.groups()
            # Python reads at most 6 fractional digits; RFC 3339 allows more.
            fraction = (fraction or "")[:7]
            offset = "+00:00" if offset in ("Z", "z") else offset
            return dt.datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}").astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across midnight
        pass
    raise FieldProblem(problem)


def is_in_future(expires: dt.date, *, today: dt.date, now: dt.datetime | None) -> bool:
    if isinstance(expires, dt.datetime):
        return expires > now if now is not None else expires.date() >= today
    return expires > today


def parse_location(value: object) -> str:
    """A path on this origin ("/app") or an absolute https URL (http only for loopback)."""
    if not isinstance(value, str):
        raise FieldProblem("must be a path like /app or an https:// URL")
    if not value or len(value) > MAX_URL:
        raise FieldProblem(f"must be 1-{MAX_URL} characters")
    if not _URL_CHARS.fullmatch(value) or "\\" in value:
        raise FieldProblem("must be printable ASCII without spaces or backslashes (percent-encode)")
    if value.startswith("/"):
        if value.startswith("//"):
            raise FieldProblem("must not start with // (that would name another host)")
        return value
    _checked_absolute(value, "must be a path like /app or an https:// URL")
    return value


def parse_origin(value: object) -> str:
    """An origin, normalised: lowercase, no default port, no trailing slash."""
    shape = "must be an origin like https://app.example.com[:port]"
    if not isinstance(value, str) or not value or len(value) > MAX_ORIGIN:
        raise FieldProblem(shape)
    if not _URL_CHARS.fullmatch(value) or "\\" in value:
        raise FieldProblem(shape)
    parts = _checked_absolute(value, shape)
    if parts.path not in ("", "/") or "?" in value or "#" in value:
        raise FieldProblem(f"{shape}, without a path, query or fragment")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def _checked_absolute(value: str, shape: str) -> SplitResult:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise FieldProblem(shape) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise FieldProblem(shape)
    if parts.scheme == "http" and not is_loopback_url(value):
        raise FieldProblem("must use https:// (http only for localhost in development)")
    if "@" in parts.netloc:
        raise FieldProblem("must not contain a user name or password")
    if port == 0 or not _valid_host(parts.hostname, bracketed=parts.netloc.startswith("[")):
        raise FieldProblem(shape)
    return parts


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))
