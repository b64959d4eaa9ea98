"""Where a user may be sent after sign-in: no open redirects.

Accepted: a path on this origin (`/app?x=1#y`), or an absolute https URL whose
origin (scheme, host, port) is exactly PUBLIC_BASE_URL's or one the tenant
allow-listed. Anything else falls back to the default: `//evil`, `/\\evil`,
other schemes, userinfo, dot segments, control characters, whitespace,
non-ASCII text, and the percent-encoded (once or more) forms of all of these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import SplitResult, unquote, urlsplit

_MAX_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Raw: printable ASCII only. Browsers strip tabs and newlines inside URLs, and
# non-ASCII invites lookalikes and lossy header encoding.
_BAD_RAW = re.compile(r"[^\x21-\x7e]")
# Decoded (which includes raw): a space inside a path is harmless; controls are not,
# nor backslashes, which browsers read as `/`.
_BAD_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")
# `//`, `/./`, `/../` (also with whitespace inside) anywhere in a path: a dot segment
# turns `/a/..//evil` into `//evil` for any code that normalises the path and
# redirects again, and `/ /evil` is how oauth2-proxy's corpus probes trimming.
_BAD_PATH = re.compile(r"/\s*(?:\.{1,2}\s*)?/|/\s*\.{1,2}\s*$")
_DECODE_ROUNDS = 4


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]`, lowercased, default port dropped; None if not absolute."""
    try:
        parts = urlsplit(url)
        return _origin(parts)
    except ValueError:
        return None


def safe_return_to(
    value: str | None, *, public_base_url: str, allowed_origins: Sequence[str], default: str
) -> str:
    """`value` if it is a safe place to send the user after sign-in, else `default`."""
    if not value or len(value) > _MAX_LENGTH or _BAD_RAW.search(value):
        return default
    decoded = _fully_decoded(value)
    if decoded is None or _BAD_DECODED.search(decoded):
        return default
    if value.startswith("/"):
        return default if _bad_path(value) else value
    try:
        parts = urlsplit(value)
        origin = _origin(parts)
    except ValueError:
        return default
    if origin is None or parts.username is not None or "@" in parts.netloc:
        return default
    if _bad_path(parts.path):
        return default
    home = origin_of(public_base_url)
    if origin == home:
        return value  # may be http for a local development origin
    trusted = {origin_of(o) for o in allowed_origins}
    return value if parts.scheme.lower() == "https" and origin in trusted else default


def _origin(parts: SplitResult) -> str | None:
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    port = parts.port  # ValueError for a port that is not a number in range
    shown = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{parts.hostname.lower()}{shown}"


def _bad_path(value: str) -> bool:
    """Checks the path only, raw and decoded: `//` in a query (`?next=//x`) is data."""
    path = value.split("?", 1)[0].split("#", 1)[0]
    decoded = _fully_decoded(path) or path
    return any(_BAD_PATH.search(p) for p in (path, decoded))


def _fully_decoded(value: str) -> str | None:
    """Percent-decoded until stable; None if it is still changing (nested encoding)."""
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(value)
        if decoded == value:
            return value
        value = decoded
    return None


# What a CSP source may hold for an origin (no space, `;` or quote to break out).
_CSP_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(?::[0-9]{1,5})?")


def form_destinations(homepage_url: str | None, allowed_origins: Sequence[str]) -> tuple[str, ...]:
    """The other origins a sign-in form's answer may redirect to (the tenant's homepage,
    its allowed return origins), as CSP `form-action` sources: browsers check the
    redirect after a form post against it. Anything not a plain origin is left out."""
    found = [origin_of(url) for url in (homepage_url or "", *allowed_origins)]
    return tuple(
        sorted({o for o in found if o is not None and _CSP_ORIGIN.fullmatch(o) is not None})
    )


def hosted_login_page(public_base_url: str, tenant: str) -> str:
    """The tenant's login page this service hosts (GET /api/auth/{tenant}/login)."""
    return f"{public_base_url}/api/auth/{tenant}/login"
