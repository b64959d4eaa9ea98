"""return_to: paths on this origin and allow-listed origins only; no open redirects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.signin.redirects import form_destinations, origin_of, safe_return_to

_ESCAPE = re.compile(r"\\(?:([tnr0])|u([0-9a-fA-F]{4}))")
_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "0": "\0"}


def _expand(line: str) -> str:
    return _ESCAPE.sub(
        lambda m: _CONTROL[m.group(1)] if m.group(1) else chr(int(m.group(2), 16)), line
    )


PAYLOADS = [
    _expand(line)
    for line in (Path(__file__).parents[2] / "data" / "openredirects.txt")
    .read_text(encoding="utf-8")
    .split("\n")
    if line and line != "#" and not line.startswith("# ")
]
HOME = "https://auth.example.com"
DEFAULT = "https://auth.example.com/home"


def target(value: str | None, *, home: str = HOME) -> str:
    return safe_return_to(
        value,
        public_base_url=home,
        allowed_origins=["https://app.example.net", "not a url", "https://[::1"],
        default=DEFAULT,
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_known_open_redirect_payloads_fall_back_to_the_default(payload: str) -> None:
    assert target(payload) == DEFAULT


@pytest.mark.parametrize(
    "allowed",
    [
        "/",
        "/app",
        "/app/",
        "/app/settings?tab=sso#top",
        "/a%20b",
        "/a%2520b",
        "/search?q=a%2Fb&next=//not-a-location",
        "/report?url=https://evil.example",
        "/app#/route//with/slashes",
        "/files/..config",
        "/caf%C3%A9",
        "https://auth.example.com",
        "https://auth.example.com/after",
        "https://auth.example.com:443/after",
        "https://AUTH.example.com/after",
        "https://auth.example.com/#@evil.example",
        "https://app.example.net/dashboard?x=1",
        "https://APP.example.net/case",
        "HTTPS://app.example.net/",
    ],
)
def test_paths_and_allow_listed_origins_are_kept(allowed: str) -> None:
    assert target(allowed) == allowed


def test_an_http_public_base_url_allows_its_own_origin_for_local_development() -> None:
    local = "http://localhost:7071"
    assert target("http://localhost:7071/app", home=local) == "http://localhost:7071/app"
    assert target("http://localhost:7072/app", home=local) == DEFAULT
    assert target("http://app.example.net/", home=local) == DEFAULT


def test_an_allow_listed_origin_must_be_https() -> None:
    assert (
        safe_return_to(
            "http://app.example.net/",
            public_base_url=HOME,
            allowed_origins=["http://app.example.net"],
            default=DEFAULT,
        )
        == DEFAULT
    )


def test_a_raw_space_is_refused_because_a_location_must_be_a_valid_uri() -> None:
    assert target("/a b") == DEFAULT
    assert target("/a%20b") == "/a%20b"


def test_nothing_or_too_long_falls_back() -> None:
    assert target(None) == DEFAULT
    assert target("") == DEFAULT
    assert target("/" + "a" * 2047) == "/" + "a" * 2047
    assert target("/" + "a" * 2048) == DEFAULT


def test_no_origin_is_trusted_when_none_is_allow_listed() -> None:
    assert (
        safe_return_to(
            "https://app.example.net/",
            public_base_url=HOME,
            allowed_origins=[],
            default=DEFAULT,
        )
        == DEFAULT
    )


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Auth.Example.com/x?y#z", "https://auth.example.com"),
        ("https://auth.example.com:443", "https://auth.example.com"),
        ("http://localhost:80/", "http://localhost"),
        ("https://auth.example.com:8443/", "https://auth.example.com:8443"),
        ("/path", None),
        ("javascript:alert(1)", None),
        ("ftp://auth.example.com:21/", None),
        ("wss://auth.example.com/", None),
        ("https://[::1/", None),
        ("https://auth.example.com:99999", None),
    ],
)
def test_an_origin_is_scheme_host_and_non_default_port(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def test_the_corpus_is_substantial_and_covers_the_classic_families() -> None:
    assert len(PAYLOADS) >= 60
    assert any(p.startswith("//") for p in PAYLOADS)
    assert any(p.startswith("/\\") for p in PAYLOADS)
    assert any("%2f" in p.lower() for p in PAYLOADS)
    assert any("%25" in p for p in PAYLOADS)
    assert any("\t" in p for p in PAYLOADS)
    assert any(not p.isascii() for p in PAYLOADS)
    assert any("@evil" in p for p in PAYLOADS)


def test_form_destinations_are_the_homepage_and_allowed_origins_as_plain_origins() -> None:
    # They go into a CSP header: a value that is not a plain origin could add sources
    # or directives (`;`, spaces, quotes), so it is left out rather than escaped.
    found = form_destinations(
        "https://App.Example:443/home?x=1",
        ["https://partner.example:8443", "https://evil.example;script-src *", "/relative"],
    )
    assert found == ("https://app.example", "https://partner.example:8443")
    assert form_destinations("/", []) == ()
    assert form_destinations(None, ["https://a.example 'unsafe-inline'"]) == ()
