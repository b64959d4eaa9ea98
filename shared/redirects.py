"""Where a user may be sent after sign-in: no open redirects.

Accepted: a path on this origin (`/app?x=1#y`), or an absolute https URL whose
origin is exactly PUBLIC_BASE_URL's or one the tenant allow-listed. Anything
else (`//evil`, `/\\evil`, other schemes, userinfo, control characters,
encoded slashes and backslashes) falls back to the default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

_MAX_LENGTH = 2048
_BAD_RAW = re.compile(r"[\x00-\x20\x7f\\]")
# Once decoded, a space inside a path is harmless; controls and backslashes are not.
_BAD_DECODED = re.compile(r"[\x00-\x1f\x7f\\]")


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}"


def safe_return_to(
    value: str | None, *, public_base_url: str, allowed_origins: Sequence[str], default: str
) -> str:
    if not value or len(value) > _MAX_LENGTH:
        return default
    # Decode twice so encoded (and double-encoded) slashes and backslashes are seen.
    decoded = unquote(unquote(value))
    if _BAD_RAW.search(value) or _BAD_DECODED.search(decoded):
        return default
    if value.startswith("/"):
        if decoded.startswith("//") or value.startswith("//"):
            return default  # protocol-relative: another host
        return value
    try:
        parts = urlsplit(value)
        origin = origin_of(value)
    except ValueError:
        return default
    if parts.scheme.lower() != "https" and origin != origin_of(public_base_url):
        return default
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return default
    trusted = {origin_of(public_base_url), *(origin_of(o) for o in allowed_origins)}
    return value if origin is not None and origin in trusted else default
