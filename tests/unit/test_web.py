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
