"""HTTP glue: cookies are read one by one, so a malformed cookie spoils nothing."""

import azure.functions as func

from functions import web


def test_a_malformed_cookie_does_not_hide_the_session_cookie() -> None:
    req = func.HttpRequest(
        "GET",
        "https://h/api/x",
        headers={"Cookie": 'theme={"x":1}; __Host-eb_session=tok'},
        body=b"",
    )
    assert web.cookies(req)["__Host-eb_session"] == "tok"


BASE = "https://auth.example.com"


def _from(method: str, **headers: str) -> bool:
    req = func.HttpRequest(method, f"{BASE}/api/x", headers=headers, body=b"")
    return web.is_from_this_origin(req, BASE)


def test_what_counts_as_this_sites_own_request() -> None:
    ours: tuple[tuple[str, dict[str, str]], ...] = (
        ("POST", {"Sec-Fetch-Site": "same-origin"}),
        ("GET", {"Sec-Fetch-Site": "none"}),  # typed, or a bookmark
        ("POST", {"Origin": BASE}),
        ("GET", {"Referer": f"{BASE}/api/auth/acme/login"}),
        ("POST", {}),  # no browser's: every browser sends Origin on a POST
    )
    theirs: tuple[tuple[str, dict[str, str]], ...] = (
        ("POST", {"Sec-Fetch-Site": "cross-site", "Origin": BASE}),  # Fetch Metadata wins
        ("GET", {"Sec-Fetch-Site": "same-site"}),  # a sibling subdomain's app
        ("POST", {"Origin": "https://evil.example"}),
        ("POST", {"Origin": "null"}),  # a sandboxed frame, a redirected re-POST
        ("GET", {"Referer": "https://evil.example/page"}),
        ("GET", {}),  # an older browser's navigation from a link hiding its Referer
    )
    for method, headers in ours:
        assert _from(method, **headers), (method, headers)
    for method, headers in theirs:
        assert not _from(method, **headers), (method, headers)
