"""Fault and attack switches. All off by default; `FakeEntra.reset()` turns them off.

Endpoints:
- `discovery_status`: the discovery document answers this HTTP status (e.g. 500, 503).
- `token_status`: the token endpoint answers this status with an Entra error body
  (500 -> server_error, 503 -> temporarily_unavailable).
- `token_retry_after`: a Retry-After header (seconds) on that fault answer.
- `token_body`: `json` (Entra's error body, the default), `html` (a page, as a proxy
  or a broken front end answers; with `token_status: 200`, a 200 that is not JSON),
  or JSON that is no object: `null`, `list` (`[]`); `truncated`: a token answer cut
  off mid-token (`TRUNCATED_TOKEN_BODY`: must never reach a log).
- `token_fault_times`: how many token requests get the fault before it switches itself
  off (0, the default: every one); `1` fails exactly the next redemption.
- `token_delay`: seconds the token endpoint waits before answering (a slow Entra).
- `jwks_down`: the keys document answers 503.
- `graph_status`: Graph answers this status (500, 503, 429 ...) ...
- `graph_fail_from_page`: ... starting at this 0-based page of a paged list (0: every call).
- `graph_next_link_base`: `@odata.nextLink` points at this origin instead of the stand-in's.
- `authorize_error`: `[error, error_description]`: every sign-in redirects back with it.

ID tokens (applied to every ID token issued while on):
- `unknown_key`: signed by a key that is not in the JWKS (its kid is unknown).
- `alg_none`: `alg: none`, no signature.
- `hs256_public_key`: HS256, keyed with the published key's public PEM.
- `wrong_issuer`: `iss` of a host that is not the authority.
- `wrong_audience`: `aud` is another app's client id.
- `extra_audience`: `aud` is a list: the app's client id and another.
- `wrong_tenant`: `tid` names another tenant (the `iss` stays right).
- `other_directory_issuer`: `iss` and `tid` of another directory hosted here, validly signed.
- `v1_token`: `ver` 1.0 and the v1 issuer `https://sts.windows.net/{tid}/`.
- `expired`: issued 2 h ago, expired 1 h ago.
- `not_yet_valid`: `nbf` 1 h ahead.
- `future_iat`: `iat` 1 h ahead.
- `missing_nonce` / `wrong_nonce`: no `nonce`, or one the client never sent.
- `missing_email`: no `email` even for a user who has one.
- `drop_claims`: claim names to leave out; `override_claims`: claims to set (last word).
- `extra_headers`: JOSE header fields to add (e.g. `{"jku": "https://evil.example/k"}`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TRUNCATED_TOKEN_BODY = '{"token_type":"Bearer","access_token":"eyJTRUNCATEDSECRET.eyJwYXJ0'

ENDPOINT_FAULTS = (
    "discovery_status",
    "token_status",
    "token_retry_after",
    "token_body",
    "token_fault_times",
    "token_delay",
    "jwks_down",
    "graph_status",
    "graph_fail_from_page",
    "graph_next_link_base",
    "authorize_error",
)
ID_TOKEN_ATTACKS = (
    "unknown_key",
    "alg_none",
    "hs256_public_key",
    "wrong_issuer",
    "wrong_audience",
    "extra_audience",
    "wrong_tenant",
    "other_directory_issuer",
    "v1_token",
    "expired",
    "not_yet_valid",
    "future_iat",
    "missing_nonce",
    "wrong_nonce",
    "missing_email",
    "drop_claims",
    "override_claims",
    "extra_headers",
)


@dataclass(frozen=True)
class Faults:
    discovery_status: int | None = None
    token_status: int | None = None
    token_retry_after: int | None = None
    token_body: str = "json"
    token_fault_times: int = 0
    token_delay: float = 0.0
    jwks_down: bool = False
    graph_status: int | None = None
    graph_fail_from_page: int = 0
    graph_next_link_base: str | None = None
    authorize_error: tuple[str, str] | None = None
    unknown_key: bool = False
    alg_none: bool = False
    hs256_public_key: bool = False
    wrong_issuer: bool = False
    wrong_audience: bool = False
    extra_audience: bool = False
    wrong_tenant: bool = False
    other_directory_issuer: bool = False
    v1_token: bool = False
    expired: bool = False
    not_yet_valid: bool = False
    future_iat: bool = False
    missing_nonce: bool = False
    wrong_nonce: bool = False
    missing_email: bool = False
    drop_claims: tuple[str, ...] = ()
    override_claims: Mapping[str, Any] = field(default_factory=dict)
    extra_headers: Mapping[str, Any] = field(default_factory=dict)

    def with_changes(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with these switches set; unknown names or wrong types raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"Unknown fault(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in changes.items()})

    def active(self) -> dict[str, Any]:
        """The switches that are on, as JSON-ready values."""
        default = Faults()
        result: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                result[f.name] = list(value) if isinstance(value, tuple) else value
        return result


def _coerce(name: str, value: Any) -> Any:
    if name in ("discovery_status", "token_status", "graph_status"):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
            raise ValueError(f"{name} must be an HTTP status code or null.")
        return value
    if name == "token_delay":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError("token_delay must be a number of seconds >= 0.")
        return float(value)
    if name == "token_retry_after":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("token_retry_after must be a number of seconds or null.")
        return value
    if name == "token_body":
        if value not in ("json", "html", "null", "list", "truncated"):
            raise ValueError("token_body must be 'json', 'html', 'null', 'list' or 'truncated'.")
        return value
    if name in ("graph_fail_from_page", "token_fault_times"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0.")
        return value
    if name == "graph_next_link_base":
        if value is not None and not isinstance(value, str):
            raise ValueError("graph_next_link_base must be an origin string or null.")
        return value.rstrip("/") if value else None
    if name == "authorize_error":
        if value is None:
            return None
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, str) for v in value)
        ):
            raise ValueError("authorize_error must be [error, error_description] or null.")
        return (value[0], value[1])
    if name == "drop_claims":
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError("drop_claims must be a list of claim names.")
        return tuple(value)
    if name in ("override_claims", "extra_headers"):
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a JSON object.")
        return dict(value)
    if not isinstance(value, bool):
        raise ValueError(f"{name} is a switch: true or false.")
    return value
