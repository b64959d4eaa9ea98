"""What two browser engines do with the Set-Cookie lines the Azure host writes, measured
rather than assumed (the README's cookie paragraph rests on this): Debian's Chromium
(Playwright) and Firefox ESR (WebDriver BiDi, tests/support/firefox.py).

A small HTTPS server, reached as https://localhost:<port>, sends each cookie in the
exact form the host gives it (devtools.funchost_wire.azure_set_cookie: `domain=` always
written, empty when the app set none) and echoes the Cookie header it gets back:
- `__Host-empty`: what the app sends today, Azure adds `domain=` (empty);
- `__Host-named`: the other form reported from Azure, `domain=<the app's host name>`;
- `__Secure-named`: the `COOKIE_PREFIX=__Secure-` fallback under that same Domain.
Then the app's way of deleting (`max-age=0`, again with `domain=`) for both kept ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape
from typing import Any

import pytest
from playwright.sync_api import Browser

from devtools.funchost_wire import azure_set_cookie
from devtools.tls_server import BackgroundTlsServer
from tests.support.firefox import Firefox, css, new_page

HOST = "app.localhost"  # both engines resolve *.localhost to loopback themselves
ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Lax"
GONE = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
SET = [
    f"__Host-empty=1; {ATTRIBUTES}",
    f"__Host-named=1; Domain={HOST}; {ATTRIBUTES}",
    f"__Secure-named=1; Domain={HOST}; {ATTRIBUTES}",
]
DELETE = [
    f"__Host-empty=; {GONE}; {ATTRIBUTES}",
    f"__Secure-named=; {GONE}; Domain={HOST}; {ATTRIBUTES}",
]

# Both engines, measured: the empty Domain is ignored (a host-only cookie: kept, sent
# back, not sent to a subdomain, deleted); a Domain naming the host makes a `__Host-`
# cookie be refused, while a `__Secure-` one is kept as a domain cookie (so a
# subdomain gets it too, and could set one of its own: what `__Host-` prevents).
EXPECTED = {
    "sent": ["__Host-empty", "__Secure-named"],
    "stored": {"__Host-empty": HOST, "__Secure-named": f".{HOST}"},
    "sent to a subdomain": ["__Secure-named"],
    "sent after delete": [],
}


def on_the_wire(lines: list[str]) -> list[str]:
    """Each Set-Cookie as the Azure host writes it out."""
    wire: list[str] = []
    for line in lines:
        written, _ = azure_set_cookie(line)
        wire += written
    return wire


def cookie_lab(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
    if path == "/set":
        headers += [("Set-Cookie", line) for line in on_the_wire(SET)]
    elif path == "/delete":
        headers += [("Set-Cookie", line) for line in on_the_wire(DELETE)]
    sent = escape(environ.get("HTTP_COOKIE", ""))
    start_response("200 OK", headers)
    return [f"<!doctype html><title>cookies</title><pre id=sent>{sent}</pre>".encode()]


@pytest.fixture
def lab() -> Iterator[str]:
    server = BackgroundTlsServer(cookie_lab, host="127.0.0.1", port=0, name="cookie-lab")
    try:
        yield server.base_url(HOST)
    finally:
        server.stop()


def names(cookie_header: str) -> list[str]:
    return sorted(pair.split("=", 1)[0].strip() for pair in cookie_header.split(";") if pair)


def measure(
    visit: Callable[[str], str], stored: Callable[[], list[dict[str, Any]]], url: str
) -> dict[str, Any]:
    """`visit(url)` opens a page and answers what it shows as sent; `stored()` is the
    browser's own cookie list."""
    visit(f"{url}/set")
    sent = names(visit(f"{url}/echo"))
    kept = {str(c["name"]): str(c["domain"]) for c in stored()}
    to_subdomain = names(visit(f"{url.replace('//', '//sub.', 1)}/echo"))
    visit(f"{url}/delete")
    return {
        "sent": sent,
        "stored": kept,
        "sent to a subdomain": to_subdomain,
        "sent after delete": names(visit(f"{url}/echo")),
    }


def test_chromium_keeps_an_empty_domain_host_only(chromium: Browser, lab: str) -> None:
    context = chromium.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()

        def visit(url: str) -> str:
            page.goto(url)
            return page.locator("#sent").inner_text()

        def stored() -> list[dict[str, Any]]:
            return [dict(c) for c in context.cookies()]

        assert measure(visit, stored, lab) == EXPECTED
    finally:
        context.close()


def test_firefox_keeps_an_empty_domain_host_only(firefox: Firefox, lab: str) -> None:
    page = new_page(firefox)

    def visit(url: str) -> str:
        page.goto(url)
        return page.text(css("#sent")) or ""

    assert measure(visit, page.cookies, lab) == EXPECTED
