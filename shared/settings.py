"""Typed settings, read once from the environment.

Nothing is read at import time: `get_settings()` builds them on first use, so
`import function_app` works with an empty environment. A missing or malformed
setting raises `SettingsError` naming it.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from shared.errors import ConfigurationError
from shared.secret import Secret
from shared.sessions.cookies import HOST_PREFIX, PREFIXES, CookieNames

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
DEFAULT_AUTHORIZE_LIMIT = 60  # sign-in starts per client IP and tenant per minute
DEFAULT_AUDIT_RETENTION_DAYS = 400  # over a year: a yearly review still finds last year
MAX_AUDIT_RETENTION_DAYS = 36500
MAX_AUTHORIZE_LIMIT = 9_999_999

CredentialMode = Literal["managed", "offline"]


class SettingsError(ConfigurationError):
    """A setting is missing or malformed; the message names it."""

    def __init__(self, name: str, problem: str) -> None:
        self.setting = name
        super().__init__(f"Setting '{name}' {problem}.")


_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    public_base_url: str
    key_vault_uri: str
    tables_endpoint: str | None
    tables_connection_string: Secret | None
    entra_authority_host: str = DEFAULT_AUTHORITY_HOST
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    platform_admin_key: Secret | None = None
    azure_credential_mode: CredentialMode = "managed"
    cookie_prefix: str = HOST_PREFIX
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    authorize_limit_per_minute: int = DEFAULT_AUTHORIZE_LIMIT
    # smtp[s]://[user[:password]@]host[:port]; None: no mail (links go to the admin).
    # Without a password in it, a user's is Key Vault's smtp-password (passwords.mail).
    smtp_url: Secret | None = None
    mail_from: str | None = None
    # The operator's multitenant app for one-click onboarding (its credential is in
    # Key Vault as `onboarding-client-credential`); None: onboarding is off.
    onboarding_client_id: str | None = None

    @property
    def cookie_names(self) -> CookieNames:
        return CookieNames.with_prefix(self.cookie_prefix)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        public_base_url = reader.origin("PUBLIC_BASE_URL")
        key_vault_uri = reader.url("KEY_VAULT_URI")
        tables_endpoint = reader.optional_url("TABLES_ENDPOINT")
        connection_string = reader.optional("TABLES_CONNECTION_STRING")
        if tables_endpoint is None and connection_string is None:
            raise SettingsError(
                "TABLES_ENDPOINT", "is missing (set it or TABLES_CONNECTION_STRING)"
            )
        mode = reader.optional("AZURE_CREDENTIAL_MODE") or "managed"
        if mode not in ("managed", "offline"):
            raise SettingsError("AZURE_CREDENTIAL_MODE", "must be 'managed' or 'offline'")
        if mode == "offline" and not is_loopback_url(key_vault_uri):
            raise SettingsError(
                "AZURE_CREDENTIAL_MODE",
                "is 'offline', which is only allowed when KEY_VAULT_URI is a loopback address",
            )
        admin_key = reader.optional("PLATFORM_ADMIN_KEY")
        if admin_key is not None and admin_key.startswith("@Microsoft.KeyVault("):
            # App Service passes an unresolved Key Vault reference through as its own
            # text, which names the vault: a guessable key. Fail closed: API shut.
            admin_key = None
        if admin_key is not None and len(admin_key) < 16:
            raise SettingsError("PLATFORM_ADMIN_KEY", "must be at least 16 characters")
        cookie_prefix = reader.optional("COOKIE_PREFIX") or HOST_PREFIX
        if cookie_prefix not in PREFIXES:
            raise SettingsError("COOKIE_PREFIX", f"must be {' or '.join(PREFIXES)}")
        audit_retention_days = reader.whole_number(
            "AUDIT_RETENTION_DAYS",
            DEFAULT_AUDIT_RETENTION_DAYS,
            low=1,
            high=MAX_AUDIT_RETENTION_DAYS,
            what="a whole number of days",
        )
        authorize_limit = reader.whole_number(
            "AUTHORIZE_LIMIT_PER_MINUTE",
            DEFAULT_AUTHORIZE_LIMIT,
            low=0,
            high=MAX_AUTHORIZE_LIMIT,
            what="a whole number (0: no limit)",
        )
        smtp_url = reader.optional("SMTP_URL")
        mail_from = reader.optional("MAIL_FROM")
        if smtp_url is not None:
            shape = "must be smtp://[user@]host[:port] or smtps://..., reserved characters encoded"
            parts = urlsplit(smtp_url)
            try:
                # The port is parsed when read: a user's password holding an unencoded
                # '#', '/' or '?' ends the authority early, and the ValueError would
                # quote it. Nothing of the value is said, as of any setting.
                parts.port  # noqa: B018
            except ValueError:
                raise SettingsError("SMTP_URL", shape) from None
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise SettingsError("SMTP_URL", shape)
            if parts.password is None and (
                parts.fragment or parts.query or parts.path not in ("", "/")
            ):
                raise SettingsError("SMTP_URL", shape)
            if mail_from is None or "@" not in mail_from:
                raise SettingsError("MAIL_FROM", "must be an email address when SMTP_URL is set")
        onboarding_client_id = reader.optional("ONBOARDING_CLIENT_ID")
        if onboarding_client_id is not None and not _GUID.fullmatch(onboarding_client_id.lower()):
            raise SettingsError(
                "ONBOARDING_CLIENT_ID", "must be an application (client) id, a GUID"
            )
        return cls(
            public_base_url=public_base_url,
            key_vault_uri=key_vault_uri,
            tables_endpoint=tables_endpoint,
            tables_connection_string=Secret(connection_string) if connection_string else None,
            entra_authority_host=reader.origin("ENTRA_AUTHORITY_HOST", DEFAULT_AUTHORITY_HOST),
            graph_base_url=reader.origin("GRAPH_BASE_URL", DEFAULT_GRAPH_BASE_URL),
            platform_admin_key=Secret(admin_key) if admin_key else None,
            azure_credential_mode="offline" if mode == "offline" else "managed",
            cookie_prefix=cookie_prefix,
            audit_retention_days=audit_retention_days,
            authorize_limit_per_minute=authorize_limit,
            smtp_url=Secret(smtp_url) if smtp_url else None,
            mail_from=mail_from if smtp_url else None,
            onboarding_client_id=onboarding_client_id.lower() if onboarding_client_id else None,
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise SettingsError(name, "is missing")
        return value

    def whole_number(self, name: str, default: int, *, low: int, high: int, what: str) -> int:
        value = self.optional(name)
        if value is None:
            return default
        # Digits only, and few of them: int() of thousands of digits raises.
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(high))):
            raise SettingsError(name, f"must be {what}")
        number = int(value)
        if not low <= number <= high:
            raise SettingsError(name, f"must be from {low} to {high}")
        return number

    def url(self, name: str, default: str | None = None) -> str:
        value = self.optional(name) or default
        if value is None:
            raise SettingsError(name, "is missing")
        return _checked_url(name, value)

    def optional_url(self, name: str) -> str | None:
        value = self.optional(name)
        return None if value is None else _checked_url(name, value)

    def origin(self, name: str, default: str | None = None) -> str:
        """An https origin (scheme://host[:port]); http only for loopback (local dev)."""
        value = self.url(name, default)
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SettingsError(name, "must be an origin like https://host[:port], without a path")
        return f"{parts.scheme}://{parts.netloc}"


def _checked_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SettingsError(name, "must be an absolute https:// URL")
    if parts.scheme == "http" and not is_loopback_url(value):
        raise SettingsError(name, "must use https:// (http is only allowed for loopback)")
    if parts.username or parts.password:
        raise SettingsError(name, "must not contain credentials")
    return value.rstrip("/")


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use (thread-safe enough: the result is immutable)."""
    return Settings.from_env()
