"""The auth transaction: one per sign-in attempt, sealed into its own state
(shared.signin.sealed_state) and used exactly once (shared.store.used_states).

It bundles what MSAL's `initiate_auth_code_flow` made (nonce, PKCE verifier,
redirect URI) with where to send the user afterwards and how the attempt is
bound to the browser that started it (login-CSRF defence): in redirect mode the
hash of an HttpOnly cookie, in JSON (SPA) mode nothing the browser carries, so
only the SPA's JSON POST may finish it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

FLOW_TTL = dt.timedelta(minutes=10)

Mode = Literal["redirect", "json"]


@dataclass(frozen=True)
class AuthTransaction:
    tenant: str
    state: str = field(repr=False)  # sealed: it holds the PKCE verifier
    msal_flow: dict[str, Any] = field(repr=False)
    mode: Mode
    return_to: str
    browser_binding: str | None  # sha256 hex of the browser cookie (redirect mode)
    created_at: dt.datetime
    expires_at: dt.datetime


def new_browser_binding() -> tuple[str, str]:
    """A fresh cookie value and the hash stored with the transaction."""
    value = secrets.token_urlsafe(32)
    return value, binding_hash(value)


def binding_hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("utf-8")).hexdigest()


def bound_to_browser(transaction: AuthTransaction, cookie_value: str | None) -> bool:
    if transaction.browser_binding is None or not cookie_value:
        return False
    return hmac.compare_digest(transaction.browser_binding, binding_hash(cookie_value))
