"""Hosted pages: the login page (GET /api/auth/{tenant}/login) and the error page.

The login page shows who is signed in (name, email, profiles, a log-out button)
when the request carries a valid session cookie: it is where a sign-in lands
when the tenant has no homepage of its own.

No script and no third-party resource; every value is HTML-escaped; the
`sso_error` code only selects one of our own messages (nothing reflected).
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import azure.functions as func

from functions import web
from shared import correlation
from shared.errors import EntraBridgeError, describe_wait, person_messages

if TYPE_CHECKING:
    from shared.signin.status import SignInStatus
    from shared.users import User

bp = web.Blueprint()

_AADSTS_REFERENCE = re.compile(r"AADSTS[0-9]{4,8}")

MESSAGES = person_messages()
# An email field that sends what was typed (see the login form).
EMAIL_INPUT = "type=text inputmode=email spellcheck=false autocapitalize=none"
_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}"
    "main{max-width:420px;margin:64px auto;background:#fff;padding:32px;border-radius:8px;"
    "box-shadow:0 2px 8px #0002}a.button{display:block;text-align:center;padding:12px;"
    "background:#2f2f2f;color:#fff;text-decoration:none;border-radius:4px}"
    ".org{color:#484644;margin-top:-8px}.error{color:#a4262c;margin-bottom:16px}"
    ".or{text-align:center;color:#484644;margin:20px 0}"
    "button{width:100%;padding:12px;border:1px solid #2f2f2f;background:#fff;"
    "border-radius:4px;font:inherit;cursor:pointer}code{font-size:.9em}"
    "label{display:block;margin-bottom:4px}input{display:block;width:100%;padding:10px;"
    "margin-bottom:16px;box-sizing:border-box;border:1px solid #605e5c;border-radius:4px;"
    "font:inherit}table{width:100%;border-collapse:collapse}td{padding:2px}"
    "td input{margin:0}.check{display:flex;gap:8px;align-items:center;margin:12px 0}"
    ".check input{width:auto;margin:0}.saved{color:#0b6a0b}dd{margin:0 0 8px}"
    "textarea{display:block;width:100%;box-sizing:border-box;margin-bottom:16px}"
    "main:has(form[action$=settings]),main:has(nav){max-width:720px}"
    ".tabs{display:flex;gap:16px;list-style:none;padding:0}[aria-current=page]{font-weight:bold}"
    "td form{display:inline}td button,.copy{width:auto;padding:2px 8px;margin-left:8px}"
    "th{text-align:left}.visually-hidden{position:absolute;width:1px;height:1px;"
    "overflow:hidden;clip:rect(0 0 0 0)}"
    "details{margin-top:16px}summary{cursor:pointer;color:#0f5ca8}"
)


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def error_page(code: str, *, status: int, framed_by: str | None = None) -> func.HttpResponse:
    """`framed_by`: the one origin allowed to frame the page (Entra's front-channel
    logout frames the logout route); nobody otherwise."""
    message = MESSAGES.get(code, "Sign-in failed.")
    found = correlation.current()
    support = f"<p>Support reference: <code>{found}</code></p>" if found else ""
    body = (
        f"<h1>Sign-in failed</h1><p class=error>{escape(message)}</p>"
        f"<p>Code: {escape(code)}</p>{support}"
    )
    csp = web.PAGE_CSP
    if framed_by is not None:
        csp = csp.replace("frame-ancestors 'none'", f"frame-ancestors {framed_by}")
    return web.html_response(page("Sign-in failed", body), status, csp=csp)


@bp.route(route="api/auth/{tenant}/login", methods=["GET"])
def login(req: func.HttpRequest) -> func.HttpResponse:
    from shared.container import get_services
    from shared.tenants.model import is_valid_slug

    tenant = req.route_params.get("tenant", "")
    if not is_valid_slug(tenant):
        return error_page("unknown_tenant", status=404)
    from shared.signin.status import sign_in_status

    try:
        services = get_services()
        status = sign_in_status(
            services.configs, tenant, public_base_url=services.settings.public_base_url
        )
    except EntraBridgeError as error:
        return error_page(error.code, status=error.status)
    signed_in = _signed_in_user(req, tenant)
    if signed_in is not None:
        return web.html_response(page("Signed in", _signed_in_body(tenant, signed_in)))
    code = req.params.get("sso_error")
    notice = (
        f"<p class=error role=alert>{escape(MESSAGES[code])}{_retry_hint(req)}{_reference(req)}</p>"
        if code in MESSAGES
        else ""
    )
    return login_page(status, notice=notice, return_to=kept_return_to(req, tenant))


def kept_return_to(req: func.HttpRequest, tenant: str, *, requested: str | None = None) -> str:
    """The page's `return_to` (query, or `requested`) when a sign-in may go there, else
    "": carried on by the password form and the Microsoft button, never rendered raw."""
    from shared.container import get_services

    wanted = requested if requested is not None else req.params.get("return_to")
    if not wanted:
        return ""
    signin = get_services().signin
    config = signin.config_or_none(tenant)
    return (signin.safe_return_to(config, wanted) or "") if config is not None else ""


def login_page(
    status: SignInStatus,
    *,
    notice: str = "",
    http_status: int = 200,
    email: str = "",
    return_to: str = "",
) -> func.HttpResponse:
    """The sign-in page: the email and password form, then the tenant's Microsoft
    button; only the button while Enforce SSO is on. `notice` is our own markup;
    `email`, the address a refused attempt was made with (never the password);
    `return_to`, a checked place (kept_return_to) both ways of signing in go to."""
    tenant = status.tenant
    organisation = f"<p class=org>{escape(status.display_name)}</p>" if status.display_name else ""
    parts = ["<h1>Sign in</h1>", organisation, notice]
    if not status.enforce_sso:
        action = escape(f"/api/auth/{tenant}/password", quote=True)
        forgot = escape(f"/api/auth/{tenant}/password/forgot", quote=True)
        parts.append(
            f"<form method=post action='{action}'>"
            "<label for=email>Email</label>"
            # Not type=email: browsers send an IDN domain as punycode (no account has
            # it so) and refuse a non-ASCII local part, both of which accounts may have.
            f"<input id=email name=email {EMAIL_INPUT} autocomplete=username required"
            f" value='{escape(email, quote=True)}'>"
            "<label for=password>Password</label>"
            "<input id=password name=password type=password "
            "autocomplete=current-password required>"
            + (
                f"<input type=hidden name=return_to value='{escape(return_to, quote=True)}'>"
                if return_to
                else ""
            )
            + "<button type=submit>Sign in</button></form>"
            "<details><summary>Forgot password?</summary>"
            f"<form method=post action='{forgot}'>"
            "<label for=reset-email>Your account's email</label>"
            f"<input id=reset-email name=email {EMAIL_INPUT} autocomplete=username required>"
            "<button type=submit>Email me a reset link</button></form></details>"
        )
    if status.sso_enabled:
        if not status.enforce_sso:
            parts.append("<p class=or>Or continue with</p>")
        authorize = status.authorize_url
        if return_to:
            authorize += "?" + urlencode({"return_to": return_to})
        parts.append(
            f"<a class=button href='{escape(authorize, quote=True)}'>"
            f"{escape(status.button_label)}</a>"
        )
    else:
        parts.append(f"<p class=or>{escape(MESSAGES['sso_disabled'])}</p>")
    # Signed in, the person is sent to the homepage or a return_to, often on the
    # application's own origin: browsers check that redirect against form-action.
    csp = web.page_csp(status.form_destinations)
    return web.html_response(page("Sign in", "".join(parts)), http_status, csp=csp)


def error_notice(code: str, retry_after: int | None = None) -> str:
    """The notice of a refusal (one of our messages; nothing of the request)."""
    wait = f" Try again in {describe_wait(retry_after)}." if retry_after else ""
    return f"<p class=error role=alert>{escape(MESSAGES.get(code, 'Sign-in failed.'))}{wait}</p>"


def _retry_hint(req: func.HttpRequest) -> str:
    """When to come back (Entra's Retry-After, or our own sign-in throttle): only whole
    seconds up to an hour are shown (the URL is anyone's to write)."""
    seconds = req.params.get("sso_retry_after") or ""
    if not (seconds.isascii() and seconds.isdigit() and 0 < len(seconds) <= 4):
        return ""
    value = int(seconds)
    if not 0 < value <= 3600:
        return ""
    return f" Try again in {describe_wait(value)}."


def _reference(req: func.HttpRequest) -> str:
    """Entra's error number for the admin to look up; anything else in the parameter
    is ignored (the URL is anyone's to write)."""
    reference = req.params.get("sso_error_ref") or ""
    shown = ""
    if _AADSTS_REFERENCE.fullmatch(reference):
        shown = f" <span class=ref>Reference for your administrator: {reference}</span>"
    request_id = req.params.get("sso_correlation") or ""
    if correlation.SHAPE.fullmatch(request_id):  # our hex ids only: the URL is anyone's
        shown += f" <span class=ref>Support reference: {request_id}</span>"
    return shown


def _signed_in_user(req: func.HttpRequest, tenant: str) -> User | None:
    """The user of a valid session cookie, else None (the page then offers sign-in)."""
    from shared.container import get_services

    services = get_services()
    raw = web.cookies(req).get(services.settings.cookie_names.session)
    if not raw:
        return None
    try:
        return services.sessions.current_user(tenant, raw)
    except EntraBridgeError:
        return None


def _signed_in_body(tenant: str, user: User) -> str:
    """Who is signed in, their profiles and roles, and a sign-out button (every value
    escaped: names and emails come from the directory)."""
    profiles = "".join(f"<li><code>{escape(p)}</code></li>" for p in user.profiles)
    roles = ", ".join(escape(r) for r in user.roles) or "none"
    logout = escape(f"/api/auth/{tenant}/logout", quote=True)
    return (
        f"<h1>Signed in</h1><p><strong>{escape(user.name)}</strong><br>{escape(user.email)}</p>"
        f"<h2>Profiles</h2>"
        + (f"<ul>{profiles}</ul>" if profiles else "<p>No profile: no mapped group.</p>")
        + f"<p>Roles: {roles}</p>"
        f"<form method=post action='{logout}'><button type=submit>Log out</button></form>"
    )


def logout_confirmation(logout_path: str) -> func.HttpResponse:
    """What a log-out link from another site gets: a button, so only the person ends
    their session (the POST carries SameSite=Lax cookies only from this site)."""
    action = escape(logout_path, quote=True)
    body = (
        "<h1>Log out?</h1><p>Another site sent you here to log out.</p>"
        f"<form method=post action='{action}'><button type=submit>Log out</button></form>"
    )
    return web.html_response(page("Log out", body))
