"""End-user sign-in routes: authorize, callback, token, me, logout.

Each handler parses the request, calls one service of `shared`, renders the
result. Services are reached through `shared.container.get_services()`, which
imports MSAL and the Azure SDKs only on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

import azure.functions as func

from functions import pages, web
from shared import correlation
from shared.errors import EntraBridgeError, InvalidRequest, InvalidState, UnknownTenant
from shared.sessions.cookies import browser_cookie
from shared.signin.transaction import FLOW_TTL, binding_hash, new_browser_binding
from shared.tenants.model import is_valid_slug

if TYPE_CHECKING:
    from shared.container import Services

bp = web.Blueprint()

_PASS_THROUGH = ("prompt", "login_hint", "domain_hint")
FLOW_SECONDS = int(FLOW_TTL.total_seconds())  # the binding cookie lives as long as the attempt
_PROMPTS = frozenset({"login", "none", "consent", "select_account"})


def _services() -> Services:
    from shared.container import get_services

    return get_services()


@bp.route(route="api/auth/{tenant}/authorize", methods=["GET"])
def authorize(req: func.HttpRequest) -> func.HttpResponse:
    """Errors are JSON, as for every API route, except for a person's browser
    navigating here (the login button): it is sent to the login page with
    `sso_error`, as after a failed callback, rather than shown JSON. A malformed
    request (a bad `prompt`, say) stays a JSON 400 naming the field: the
    application built that URL, not the person."""
    if not _is_browser_navigation(req):
        return _authorize_api(req)
    services = None
    try:
        services = _services()
        return _authorize(req)
    except EntraBridgeError as error:
        if error.code not in pages.MESSAGES:
            return web.error_response(error)
        if error.status >= 500:
            web.log.warning("GET authorize -> %s", error.code)
        return _failure_page(req.route_params.get("tenant", ""), error, services)
    except Exception as error:
        web.log.error("authorize failed: %s", type(error).__name__)
        return _failure_page(req.route_params.get("tenant", ""), None, services)


@web.api
def _authorize_api(req: func.HttpRequest) -> func.HttpResponse:
    return _authorize(req)


def _is_browser_navigation(req: func.HttpRequest) -> bool:
    """A browser loading the page (every current browser sends Sec-Fetch-Mode; an older
    one is recognised by asking for HTML); never a JSON-mode request."""
    if req.params.get("mode") == "json":
        return False
    fetch_mode = req.headers.get("sec-fetch-mode")
    if fetch_mode is not None:
        return str(fetch_mode) == "navigate"
    return "text/html" in str(req.headers.get("accept") or "")


def _authorize(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    mode = req.params.get("mode", "redirect")
    if mode not in ("redirect", "json"):
        raise InvalidRequest(fields={"mode": "must be 'redirect' or 'json'"})
    hints = {name: req.params.get(name) or None for name in _PASS_THROUGH}
    if hints["prompt"] is not None and hints["prompt"] not in _PROMPTS:
        raise InvalidRequest(fields={"prompt": "must be login, none, consent or select_account"})
    for name in ("login_hint", "domain_hint"):
        value = hints[name]
        if value is not None and len(value) > 256:
            raise InvalidRequest(fields={name: "must be at most 256 characters"})
    names = _services().settings.cookie_names
    cookie_value: str | None = web.cookies(req).get(names.browser)
    binding: str | None
    if mode == "redirect" and not cookie_value:
        cookie_value, binding = new_browser_binding()
    else:
        binding = _binding_of(cookie_value)
    started = _services().signin.start(
        tenant,
        mode="json" if mode == "json" else "redirect",
        return_to=req.params.get("return_to"),
        browser_binding=binding,
        ip=web.client_ip(req),
        **hints,
    )
    if mode == "json":
        return web.json_response(
            {"authorization_url": started.authorization_url, "state": started.state}
        )
    return web.redirect(
        started.authorization_url,
        cookies=[browser_cookie(cookie_value or "", max_age=FLOW_SECONDS, name=names.browser)],
    )


def _binding_of(cookie_value: str | None) -> str | None:
    return binding_hash(cookie_value) if cookie_value else None


@bp.route(route="api/auth/{tenant}/callback", methods=["GET", "POST"])
def callback(req: func.HttpRequest) -> func.HttpResponse:
    if req.method == "POST" and web.is_json(req):
        return _spa_callback(req)
    return _browser_callback(req)


@web.api
def _spa_callback(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    body = web.json_object_body(req)
    params = {k: body[k] for k in ("code", "state") if isinstance(body.get(k), str)}
    from shared.signin.results import Completed

    result = _services().signin.complete(
        tenant, params, spa=True, browser_cookie=None, ip=web.client_ip(req)
    )
    assert isinstance(result, Completed)  # SPA mode never hands off
    tokens = result.tokens
    return web.json_response(
        {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "user": result.user.to_public(),
        }
    )


def _browser_callback(req: func.HttpRequest) -> func.HttpResponse:
    """Redirect mode: success -> cookies + 302 to return_to; failure -> 302 with sso_error."""
    from shared.signin.results import Completed

    tenant = req.route_params.get("tenant", "")
    services = None
    try:
        tenant = web.tenant_of(req)
        services = _services()
        params = dict(req.params) if req.method == "GET" else web.form_or_json(req)
        result = services.signin.complete(
            tenant,
            params,
            spa=False,
            browser_cookie=web.cookies(req).get(services.settings.cookie_names.browser),
            ip=web.client_ip(req),
        )
    except EntraBridgeError as error:
        return _callback_failure(tenant, error, services)
    except Exception as error:
        web.log.error("callback failed: %s", type(error).__name__)
        return _callback_failure(tenant, None, services)
    if not isinstance(result, Completed):
        return web.redirect(result.location)
    from shared.sessions.cookies import cookies_for

    names = services.settings.cookie_names
    cookies = cookies_for(result.tokens, names)
    cookies.append(browser_cookie("", max_age=0, name=names.browser))  # the attempt is over
    return web.redirect(result.return_to, cookies=cookies)


def _callback_failure(
    tenant: str, error: EntraBridgeError | None, services: Services | None
) -> func.HttpResponse:
    if error is not None and error.code not in pages.MESSAGES:
        # Not a sign-in code (an oversized or undecodable form): no valid callback
        # request, so no valid state; the login page knows only the sign-in codes.
        error = InvalidState()
    return _failure_page(tenant, error, services)


def _failure_page(
    tenant: str, error: EntraBridgeError | None, services: Services | None
) -> func.HttpResponse:
    """The tenant's login page with `sso_error` (a hosted error page when there is no
    such tenant or no way to find its login page)."""
    code = error.code if error is not None else "sso_unavailable"
    if error is None or isinstance(error, UnknownTenant) or services is None:
        return pages.error_page(code, status=error.status if error else 500)
    try:
        config = services.signin.config_or_none(tenant)
        login_page = services.signin.login_page(tenant, config)
    except Exception:  # the page about the failure must not fail itself
        return pages.error_page(code, status=503)
    extra = {"sso_error": code}
    if error is not None and error.reference:
        # Only ever "AADSTS" and ASCII digits (shared.entra.client.aadsts_code).
        extra["sso_error_ref"] = error.reference
    if error is not None and error.retry_after:
        extra["sso_retry_after"] = str(error.retry_after)  # Entra's "come back in N s"
    found = correlation.current()
    if found:
        extra["sso_correlation"] = found  # the failed request's id, for support
    parts = urlsplit(login_page)  # keeps a #fragment of the tenant's page last
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return web.redirect(urlunsplit(parts._replace(query=query)))


@bp.route(route="api/auth/{tenant}/token", methods=["POST"])
@web.api
def token(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    fields = web.form_or_json(req)
    if fields.get("grant_type") != "refresh_token":
        raise InvalidRequest(fields={"grant_type": "must be 'refresh_token'"})
    from_cookie = False
    refresh_token = fields.get("refresh_token")
    names = _services().settings.cookie_names
    if not refresh_token:
        refresh_token = web.cookies(req).get(names.refresh)
        from_cookie = bool(refresh_token)
    if not refresh_token:
        raise InvalidRequest(fields={"refresh_token": "is required"})
    tokens = _services().sessions.refresh(tenant, refresh_token, ip=web.client_ip(req))
    cookies: list[str] = []
    if from_cookie:
        from shared.sessions.cookies import cookies_for

        cookies = cookies_for(tokens, names)
    return web.json_response(
        {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
        },
        cookies=cookies,
    )


@bp.route(route="api/auth/{tenant}/me", methods=["GET"])
@web.api
def me(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    services = _services()
    raw = web.bearer_token(req) or web.cookies(req).get(services.settings.cookie_names.session)
    user = services.sessions.current_user(tenant, raw)
    return web.json_response(user.to_public())


@bp.route(route="api/auth/{tenant}/logout", methods=["GET", "POST"])
def logout(req: func.HttpRequest) -> func.HttpResponse:
    if req.method == "POST":
        return _api_logout(req)
    return _browser_logout(req)


@web.api
def _api_logout(req: func.HttpRequest) -> func.HttpResponse:
    """POST: the session cookies, a Bearer token and/or a JSON refresh token, any of
    them; the cookies it was sent are cleared. The hosted page's log-out form (a
    browser navigation) is sent on to the login page. Cookies count only for a
    request from this origin: a sibling site's form post carries Lax cookies too."""
    from shared.sessions.cookies import clear_session_cookies

    tenant = web.tenant_of(req)
    services = _services()
    names = services.settings.cookie_names
    from_here = web.is_from_this_origin(req, services.settings.public_base_url)
    jar = web.cookies(req) if from_here else {}
    body = web.json_body(req) if web.is_json(req) else None
    refresh_token = body.get("refresh_token") if isinstance(body, dict) else None
    if not isinstance(refresh_token, str):
        refresh_token = None
    services.sessions.sign_out(
        tenant,
        access_tokens=(web.bearer_token(req), jar.get(names.session)),
        refresh_tokens=(refresh_token, jar.get(names.refresh)),
        ip=web.client_ip(req),
    )
    sent_cookies = names.session in jar or names.refresh in jar
    cookies = clear_session_cookies(names) if sent_cookies else []
    if _is_browser_navigation(req):
        # The hosted page's own form: back to the hosted page, on this origin (its CSP's
        # form-action 'self' also governs where the form's answer may redirect).
        from shared.signin.redirects import hosted_login_page

        hosted = hosted_login_page(services.settings.public_base_url, tenant)
        return web.redirect(hosted, cookies=cookies, status=303)
    return web.json_response({"status": "signed_out"}, cookies=cookies)


def _browser_logout(req: func.HttpRequest) -> func.HttpResponse:
    """A browser, or Entra's front-channel logout iframe (only `sid`). Without `sid`, a
    request another site made (a link, an image) only gets a page whose button posts
    the log-out: a GET that acts would let any page sign people out."""
    from shared.sessions.cookies import clear_session_cookies

    tenant = req.route_params.get("tenant", "")
    if not is_valid_slug(tenant):
        return pages.error_page("unknown_tenant", status=404)
    services = _services()
    entra_sid = req.params.get("sid") or None
    from_here = web.is_from_this_origin(req, services.settings.public_base_url)
    if entra_sid is None and not from_here:
        return pages.logout_confirmation(f"/api/auth/{tenant}/logout")
    # From elsewhere with `sid` (Entra's front-channel iframe, which carries no Lax
    # cookies anyway): that Entra session only, never what the cookies name.
    jar = web.cookies(req) if from_here else {}
    names = services.settings.cookie_names
    try:
        services.sessions.sign_out(
            tenant,
            access_tokens=(jar.get(names.session),),
            refresh_tokens=(jar.get(names.refresh),),
            entra_session_id=entra_sid,
            ip=web.client_ip(req),
        )
        login_page = services.signin.login_page(tenant, services.signin.config_or_none(tenant))
    except EntraBridgeError as error:
        return pages.error_page(
            error.code, status=error.status, framed_by=services.settings.entra_authority_host
        )
    response = web.redirect(login_page, cookies=clear_session_cookies(names) if from_here else [])
    # Entra frames this URL for front-channel logout: allow exactly its origin.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; frame-ancestors {services.settings.entra_authority_host}"
    )
    return response
