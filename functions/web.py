"""HTTP glue shared by the trigger modules: one place that renders errors,
sets security headers, reads bodies and cookies.

Only `azure.functions` and the standard library are imported here, so the
status and health routes stay cheap to load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from shared import correlation, telemetry
from shared.errors import EntraBridgeError, InvalidRequest, PayloadTooLarge
from shared.json_input import JsonRefused, parse_json

log = logging.getLogger("entrabridge")

MAX_BODY_BYTES = 64 * 1024

_BASE_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
# Pages we render carry no script and no third-party resource.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def page_csp(form_destinations: Iterable[str] = ()) -> str:
    """PAGE_CSP whose forms' answers may also redirect to `form_destinations` (origins
    checked by shared.signin.redirects.form_destinations)."""
    extra = " ".join(form_destinations)
    return (
        PAGE_CSP.replace("form-action 'self'", f"form-action 'self' {extra}") if extra else PAGE_CSP
    )


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def headers(extra: Mapping[str, str] | None = None, *, csp: str = API_CSP) -> dict[str, str]:
    merged = dict(_BASE_HEADERS)
    merged["Content-Security-Policy"] = csp
    if extra:
        merged.update(extra)
    return merged


def json_response(
    body: object,
    status: int = 200,
    *,
    extra_headers: Mapping[str, str] | None = None,
    cookies: Iterable[str] = (),
) -> func.HttpResponse:
    response = func.HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        mimetype="application/json",
        charset="utf-8",
        headers=headers(extra_headers),
    )
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


def html_response(
    page: str,
    status: int = 200,
    *,
    csp: str = PAGE_CSP,
    cookies: Iterable[str] = (),
) -> func.HttpResponse:
    response = func.HttpResponse(
        page, status_code=status, mimetype="text/html", charset="utf-8", headers=headers(csp=csp)
    )
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


def redirect(location: str, *, cookies: Iterable[str] = (), status: int = 302) -> func.HttpResponse:
    response = func.HttpResponse(status_code=status, headers=headers({"Location": location}))
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


def error_response(error: EntraBridgeError) -> func.HttpResponse:
    extra = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    body = error.to_body()
    found = correlation.current()
    if found:
        body["correlation_id"] = found  # what support asks for
    return json_response(body, error.status, extra_headers=extra)


class Blueprint(func.Blueprint):
    """`func.Blueprint` whose HTTP functions each run under a new correlation id
    (shared.correlation), answered in `X-Correlation-Id`."""

    def route(self, *args: Any, **kwargs: Any) -> Callable[[Handler], Any]:
        register = super().route(*args, **kwargs)

        def decorator(handler: Handler) -> Any:
            @wraps(handler)
            def correlated(req: func.HttpRequest) -> func.HttpResponse:
                telemetry.configure_from_environment()  # once; imports nothing unless set
                with correlation.correlated() as found, telemetry.counting_calls(handler.__name__):
                    response = handler(req)
                    response.headers["X-Correlation-Id"] = found
                    return response

            return register(correlated)

        return decorator


def api(handler: Handler) -> Handler:
    """Turn contract errors into their JSON response; anything else into a bare 500.

    The exception is logged with its type only: messages of SDK errors can carry
    URLs with codes or tokens, so they never reach a log line or a client.
    """

    @wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except EntraBridgeError as error:
            if error.status >= 500:
                log.warning("%s %s -> %s", req.method, _route_of(req), error.code)
            return error_response(error)
        except Exception as error:
            log.error("%s %s failed: %s", req.method, _route_of(req), type(error).__name__)
            return json_response(
                {"error": "server_error", "error_description": "Internal error."}, 500
            )

    return wrapper


def _route_of(req: func.HttpRequest) -> str:
    # The path only: query strings carry codes and states.
    return str(req.url).split("?", 1)[0]


def body_bytes(req: func.HttpRequest) -> bytes:
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    return body


def json_body(req: func.HttpRequest) -> Any:
    """The JSON body, within limits (shared.json_input): anything else is a 400."""
    raw = body_bytes(req)
    if not raw:
        return None
    try:
        return parse_json(raw)
    except JsonRefused as refused:
        raise InvalidRequest(
            f"The body is not acceptable JSON: {refused}.", fields={"body": str(refused)}
        ) from None


def json_object_body(req: func.HttpRequest) -> dict[str, Any]:
    body = json_body(req)
    if not isinstance(body, dict):
        raise InvalidRequest(
            "The body must be a JSON object.", fields={"body": "not a JSON object"}
        )
    return body


def is_json(req: func.HttpRequest) -> bool:
    content_type = str(req.headers.get("Content-Type", ""))
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def form_or_json(req: func.HttpRequest) -> dict[str, str]:
    """Fields of a form-encoded or JSON object body, as strings (others dropped)."""
    if is_json(req):
        return {k: v for k, v in json_object_body(req).items() if isinstance(v, str)}
    raw = body_bytes(req)
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The form body is not UTF-8.", fields={"body": "not UTF-8"}) from exc


def tenant_of(req: func.HttpRequest) -> str:
    """The route's tenant slug; UnknownTenant (404) when it cannot name one."""
    from shared.tenants.model import slug_or_unknown_tenant

    return slug_or_unknown_tenant(req.route_params.get("tenant", ""))


def cookies(req: func.HttpRequest) -> dict[str, str]:
    # Not SimpleCookie: it drops every cookie once it meets one it cannot parse, which
    # would sign a user out because another site's cookie on the domain is odd.
    from shared.sessions.cookies import parse_cookie_header

    return parse_cookie_header(str(req.headers.get("Cookie", "")) or None)


def bearer_token(req: func.HttpRequest) -> str | None:
    value = str(req.headers.get("Authorization", ""))
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_ip(req: func.HttpRequest) -> str | None:
    """For the audit log and the sign-in throttle (shared.signin.throttle drops a port):
    the last X-Forwarded-For entry, the one Azure's front end appended (a client can send
    its own, which lands first)."""
    forwarded = str(req.headers.get("X-Forwarded-For", ""))
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last[:64] or None


def is_from_this_origin(req: func.HttpRequest, public_base_url: str) -> bool:
    """Not made by another site in someone's browser: the defence against cross-site
    request forgery (login CSRF, forged saves and sign-outs).

    Fetch Metadata when the browser sends it: `same-origin`, or `none` (the person
    typed the URL or used a bookmark). `same-site` is refused too: another port or a
    sibling subdomain is another application. Without Fetch Metadata, a same-origin
    Origin or Referer is required; an opaque Origin ("null") is refused. A POST with
    none of the three is no browser's (every browser sends Origin on a POST): an API
    client or a script, which holds whatever it sends and has no one to forge a
    request for, so it passes. A GET with none of them may be an older browser's
    navigation from another site's link (no Fetch Metadata, Referer hidden): refused."""
    site = req.headers.get("sec-fetch-site")
    if site is not None:
        return str(site).strip().lower() in ("same-origin", "none")
    own = urlsplit(public_base_url)
    for header in ("origin", "referer"):
        value = str(req.headers.get(header) or "")
        if value == "null":
            return False
        if value:
            seen = urlsplit(value)
            return (seen.scheme, seen.netloc) == (own.scheme, own.netloc)
    return str(req.method).upper() == "POST"
