"""One-click onboarding routes: the admin API's start, and Entra's redirect back.

`POST /api/admin/tenants/{tenant}/onboarding/microsoft` answers the consent URL
and sets the browser-binding cookie (the callback must come back to the browser
that started it). `GET /api/onboarding/microsoft/callback` always ends in a 302 to
the request's return_to with `onboarding=connected` or `onboarding_error=<code>`,
or, when the state names no request of this browser, the hosted error page.
"""

from __future__ import annotations

from html import escape

import azure.functions as func

from functions import pages, web
from functions.admin import _admin_api, _caller, _services, _tenant
from shared.store.onboarding import LIFETIME

bp = web.Blueprint()


def binding_cookie(name: str, value: str, *, max_age: int) -> str:
    # SameSite=Lax: Entra's redirect back is a top-level GET, which carries it.
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"


@bp.route(route="api/admin/tenants/{tenant}/onboarding/microsoft", methods=["POST"])
@_admin_api
def onboarding_start(req: func.HttpRequest) -> func.HttpResponse:
    caller = _caller(req)
    services = _services()
    body = web.json_body(req)
    started = services.onboarding.start(caller, _tenant(req), body, ip=web.client_ip(req))
    cookies = (
        [
            binding_cookie(
                services.settings.cookie_names.onboarding,
                started.binding_cookie,
                max_age=int(LIFETIME.total_seconds()),
            )
        ]
        if started.binding_cookie
        else []
    )
    return web.json_response({"consent_url": started.consent_url}, cookies=cookies)


@bp.route(route="api/onboarding/microsoft/callback", methods=["GET"])
def onboarding_callback(req: func.HttpRequest) -> func.HttpResponse:
    services = _services()
    name = services.settings.cookie_names.onboarding
    try:
        params = {str(k): str(v) for k, v in req.params.items()}
        location = services.onboarding.finish(
            params, web.cookies(req).get(name), ip=web.client_ip(req)
        )
    except Exception as error:  # never a trace: the type in the log, a page for the admin
        web.log.error("onboarding callback failed: %s", type(error).__name__)
        return _failed_page(500, "Something went wrong on our side. Please try again.")
    clear = binding_cookie(name, "", max_age=0)
    if location is None:
        return _failed_page(
            400,
            "This link has expired, was used already, or was opened in another browser "
            "than the one that started it. Start again from your organisation's settings page.",
            cookies=[clear],
        )
    return web.redirect(location, cookies=[clear])


def _failed_page(
    status: int, message: str, *, cookies: list[str] | None = None
) -> func.HttpResponse:
    code = "<p>Code: invalid_state</p>" if status == 400 else ""
    body = (
        "<h1>Connecting Microsoft did not work</h1>"
        f"<p class=error role=alert>{escape(message)}</p>{code}"
    )
    return web.html_response(pages.page("Connect Microsoft", body), status, cookies=cookies or [])
