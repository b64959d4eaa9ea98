"""What the Functions host and the Python worker do to a request and a response; pure logic.

Traced from azure-functions-host (RpcMessageConversionExtensions.ToRpcHttp,
RawScriptResult, ASP.NET Core ResponseCookies) and azure-functions-python-worker
(azure.functions.http.HttpResponseConverter, bindings/datumdef.py), so code that
works here behaves the same deployed:

- the function sees header names in lower case, a repeated header or query
  parameter joined with ",", and no query parameter whose value is empty;
- a response without Content-Type gets the mimetype, plus `; charset=` for
  text/* only;
- other response headers keep one value per name;
- every Set-Cookie header goes through `http.cookies.SimpleCookie` and is
  rewritten by ASP.NET Core: value percent-encoded (Uri.EscapeDataString),
  attributes lower case in a fixed order, and `domain=`/`path=` always present,
  empty when the function set none (azure-functions-python-worker#1902). A
  header SimpleCookie cannot parse (e.g. with `Partitioned`) is dropped.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from urllib.parse import quote

import azure.functions as func

_SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}
_SERVER_OWNED = {"content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # Names only, never values: what a developer should know about this response.
    warnings: list[str] = field(default_factory=list)


def query_params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for name, value in pairs:
        joined.setdefault(name, []).append(value)
    merged = {name: ",".join(values) for name, values in joined.items()}
    return {name: value for name, value in merged.items() if value != ""}


def request_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for name, value in pairs:
        joined.setdefault(name.lower(), []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def render_response(result: object, *, rewrite_cookies: bool = True) -> WireResponse:
    """The bytes Azure would send for a function's return value.

    Raises TypeError (or http.cookies.CookieError) where the worker would fail
    the invocation, which the host turns into a bare 500.
    """
    if isinstance(result, str):
        return WireResponse(
            200, [("Content-Type", "text/plain; charset=utf-8")], result.encode("utf-8")
        )
    if not isinstance(result, func.HttpResponse):
        raise TypeError(
            f"the function returned {type(result).__name__}; the worker accepts an"
            " HttpResponse or a str"
        )
    headers = list(result.headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = str(result.mimetype)
        text = mimetype.startswith("text/")
        headers.append(
            ("content-type", f"{mimetype}; charset={result.charset}" if text else mimetype)
        )
    raw_cookies = [value for name, value in headers if name.lower() == "set-cookie"]
    others = [(name, value) for name, value in headers if name.lower() != "set-cookie"]
    warnings: list[str] = []
    if rewrite_cookies:
        cookies = []
        for raw in raw_cookies:
            rendered, notes = azure_set_cookie(raw)
            cookies += rendered
            warnings += notes
    else:
        cookies = raw_cookies
    wire = _one_value_per_name(others) + [("Set-Cookie", cookie) for cookie in cookies]
    return WireResponse(int(result.status_code), wire, result.get_body(), warnings)


def _one_value_per_name(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # The worker builds a dict (the last value of an exact name wins); the host then
    # keeps the first of names that differ only in case.
    last = dict(headers)
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in last.items():
        if name.lower() in seen or name.lower() in _SERVER_OWNED:
            continue
        seen.add(name.lower())
        kept.append((name, value))
    return kept


def azure_set_cookie(header_value: str) -> tuple[list[str], list[str]]:
    """Set-Cookie lines Azure sends for one Set-Cookie header, and warnings (names only)."""
    jar: SimpleCookie = SimpleCookie()
    jar.load(header_value)
    if not jar:
        name = header_value.split("=", 1)[0].strip()
        return [], [
            f"cookie {name!r} was dropped: the worker's SimpleCookie cannot parse its"
            " Set-Cookie header (an attribute such as Partitioned, or a bad character)"
        ]
    lines: list[str] = []
    warnings: list[str] = []
    for name, morsel in jar.items():
        lines.append(_render(name, morsel))
        if name.startswith("__Host-"):
            warnings.append(
                f"cookie {name!r} leaves with 'domain=' as Azure sends it"
                " (azure-functions-python-worker#1902); Chromium and Firefox ESR keep it"
                " host-only (tests/browser/test_cookie_domain_engines.py); a host that"
                " writes its own name there breaks __Host-: see COOKIE_PREFIX in the README"
            )
    return lines, warnings


def _render(name: str, morsel: Morsel[str]) -> str:
    parts = [f"{name}={quote(morsel.value, safe='')}"]
    expires = _expires(morsel["expires"])
    if expires is not None:
        parts.append(f"expires={email.utils.format_datetime(expires, usegmt=True)}")
    max_age = morsel["max-age"]
    if max_age != "":
        try:
            parts.append(f"max-age={int(float(str(max_age)))}")
        except ValueError:
            raise TypeError(f"cookie {name!r}: Max-Age is not a number") from None
    # The worker sends Domain and Path even when empty; the host writes them out.
    parts.append(f"domain={morsel['domain']}")
    parts.append(f"path={morsel['path']}")
    if morsel["secure"]:
        parts.append("secure")
    same_site = _SAME_SITE.get(str(morsel["samesite"]).lower())
    if same_site:
        parts.append(f"samesite={same_site}")
    if morsel["httponly"]:
        parts.append("httponly")
    return "; ".join(parts)


def _expires(value: object) -> dt.datetime | None:
    if value in ("", None):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        # The worker's dateutil parser raises too, failing the invocation.
        raise TypeError("a cookie's Expires is not a date") from None
    # The worker keeps whole seconds since the epoch (naive dates as local time).
    return dt.datetime.fromtimestamp(int(parsed.timestamp()), dt.UTC)
