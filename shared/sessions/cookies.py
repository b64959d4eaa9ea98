"""The names of the cookies the browser flow sets, by the prefix the operator chose.

`__Host-` (the default) makes the browser refuse a cookie with a Domain, a path
other than "/" or without Secure: no sibling subdomain can set or read ours
(which keeps the login-CSRF browser binding sound). `__Secure-` only requires
Secure: it is the fallback for a platform that adds a Domain to every cookie
(see README, "Known platform issue"), at the price of that protection.
"""

from __future__ import annotations

from dataclasses import dataclass

HOST_PREFIX = "__Host-"
SECURE_PREFIX = "__Secure-"
PREFIXES = (HOST_PREFIX, SECURE_PREFIX)


@dataclass(frozen=True)
class CookieNames:
    session: str
    refresh: str
    browser: str

    @classmethod
    def with_prefix(cls, prefix: str) -> CookieNames:
        if prefix not in PREFIXES:
            raise ValueError(f"cookie prefix must be one of {', '.join(PREFIXES)}")
        return cls(
            session=f"{prefix}eb_session",
            refresh=f"{prefix}eb_refresh",
            browser=f"{prefix}eb_browser",
        )


DEFAULT_NAMES = CookieNames.with_prefix(HOST_PREFIX)
