"""Conditional requests (RFC 9110 13.1.1): the ETag an admin reads, the If-Match they send.

Pure. Our ETags are strong, quoted opaque tokens. `If-Match` may list several
(`"a", "b"`) or be `*` (any current version; none when the resource was never
written). Weak tags (`W/"..."`) never match: If-Match compares strongly.
"""

from __future__ import annotations

import re

from shared.errors import PreconditionFailed, PreconditionRequired

_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*')


def quoted(etag: str) -> str:
    return f'"{etag}"'


def check_if_match(header: str | None, current: str | None) -> None:
    """Pass, or raise: 428 when a version exists and no If-Match came, 412 when it is stale.

    `current` is None while nothing was written yet: then no If-Match is needed,
    and one that is sent cannot match.
    """
    if header is None or not header.strip():
        if current is not None:
            raise PreconditionRequired(
                "Send If-Match with the ETag of your last GET (the configuration exists)."
            )
        return
    if not _matches(header, current):
        raise PreconditionFailed(
            "The configuration changed since your GET (If-Match is stale): "
            "GET it again, reapply your change and retry."
        )


def _matches(header: str, current: str | None) -> bool:
    if current is None:
        return False
    if header.strip() == "*":
        return True
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match and not match.group(1) and match.group(2) == current:
            return True
    return False
