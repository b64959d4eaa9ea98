"""The names of the cookies the browser flow sets, by the prefix the operator chose.

`__Host-` (the default) makes the browser refuse a cookie with a Domain, a path
other than "/" or without Secure: no sibling subdomain can set or read ours
(which keeps the login-CSRF browser binding sound). `__Secure-` only requires
Secure: it is the fallback for a platform that adds a Domain to every cookie
(see README, "Known platform issue"), at the price of that protection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.sessions.types import SessionTokens

HOST_PREFIX = "__Host-"
SECURE_PREFIX = "__Secure-"
PREFIXES = (HOST_PREFIX, SECURE_PREFIX)


@dataclass(frozen=True)
class CookieNames:
    session: str
    refresh: str
    browser: str
    onboarding: str = f"{HOST_PREFIX}eb_onboarding"

    @classmethod
    def with_prefix(cls, prefix: str) -> CookieNames:
        if prefix not in PREFIXES:
            raise ValueError(f"cookie prefix must be one of {', '.join(PREFIXES)}")
        return cls(
            session=f"{prefix}eb_session",
            refresh=f"{prefix}eb_refresh",
            browser=f"{prefix}eb_browser",
            onboarding=f"{prefix}eb_onboarding",
        )


DEFAULT_NAMES = CookieNames.with_prefix(HOST_PREFIX)


# --- Set-Cookie and Cookie headers ---------------------------------------------------------

# The default names; the operator's choice is `Settings.cookie_names` (shared.sessions.cookies).
ACCESS_COOKIE = DEFAULT_NAMES.session
REFRESH_COOKIE = DEFAULT_NAMES.refresh
_ATTRIBUTES = "Path=/; HttpOnly; Secure; SameSite=Lax"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9._~+/=-]*$")
_COOKIE_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_MAX_COOKIES = 64


def session_cookies(
    access_token: str,
    refresh_token: str,
    *,
    access_ttl: int,
    refresh_ttl: int,
    names: CookieNames = DEFAULT_NAMES,
) -> list[str]:
    """Set-Cookie values for a new session (sign-in or refresh)."""
    return [
        _set_cookie(names.session, access_token, access_ttl),
        _set_cookie(names.refresh, refresh_token, refresh_ttl),
    ]


def cookies_for(tokens: SessionTokens, names: CookieNames = DEFAULT_NAMES) -> list[str]:
    """Set-Cookie values that hand `tokens` (a sign-in's or a renewal's) to the browser."""
    return session_cookies(
        tokens.access_token,
        tokens.refresh_token,
        access_ttl=tokens.expires_in,
        refresh_ttl=tokens.refresh_expires_in,
        names=names,
    )


def clear_session_cookies(names: CookieNames = DEFAULT_NAMES) -> list[str]:
    return [_set_cookie(names.session, "", 0), _set_cookie(names.refresh, "", 0)]


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """name -> value from a Cookie header; malformed pairs are skipped, first one wins.

    `SimpleCookie.load` drops every cookie after one it cannot parse (another
    site's cookie on a shared parent domain is enough), which would sign
    people out; this reads pair by pair instead.
    """
    jar: dict[str, str] = {}
    # A bounded number of pairs: the header is attacker-controlled.
    for pair in (header or "").split(";", _MAX_COOKIES)[:_MAX_COOKIES]:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _COOKIE_NAME.match(name) or name in jar:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        jar[name] = value
    return jar


def _set_cookie(name: str, value: str, max_age: int) -> str:
    if not _COOKIE_VALUE.match(value):
        raise ValueError(f"cookie {name} value has characters a cookie cannot carry")
    return f"{name}={value}; Max-Age={max(0, int(max_age))}; {_ATTRIBUTES}"


def browser_cookie(value: str, *, max_age: int, name: str = DEFAULT_NAMES.browser) -> str:
    """The browser-binding cookie of a sign-in attempt (its value's hash is stored with
    the attempt), living as long as the attempt."""
    # SameSite=Lax: the callback arrives as a top-level GET (response_mode=query),
    # which carries Lax cookies; a cross-site POST would not.
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
