"""Password users' routes: sign in with a password, set a password from an invite link.

Each answers a browser form (cookies and a redirect, or a page that says what
went wrong) or an SPA's JSON (the SPA callback's body, or the contract's JSON
error), and calls `shared.passwords.service.PasswordService` for the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import azure.functions as func

from functions import pages, web
from shared.errors import EntraBridgeError, Forbidden, InvalidRequest
from shared.secret import Secret
from shared.signin.redirects import form_destinations

if TYPE_CHECKING:
    from shared.container import Services
    from shared.sessions.types import SessionTokens
    from shared.users import User

bp = web.Blueprint()
_MAX_FIELD = 1024  # an email, a password, a token: far below it
_CREDENTIALS = ("email", "password")
_LABELS = {"email": "email address", "password": "password"}


def _services() -> Services:
    from shared.container import get_services

    return get_services()


@bp.route(route="api/auth/{tenant}/password", methods=["POST"])
def password_sign_in(req: func.HttpRequest) -> func.HttpResponse:
    if web.is_json(req):
        return _password_sign_in_json(req)
    email = ""  # shown again on a refusal, so the person only retypes the password
    return_to = ""  # and where they were going, still
    try:
        tenant = web.tenant_of(req)
        _from_this_site(req)
        body = web.form_or_json(req)
        # Kept for the page again, whatever else is wrong.
        email, return_to = body.get("email", ""), body.get("return_to", "")
        fields = _checked(body, "email", "password", "return_to", required=_CREDENTIALS)
        services = _services()
        _, tokens = services.passwords.sign_in(
            tenant, fields["email"], Secret(fields["password"]), ip=web.client_ip(req)
        )
        config = services.signin.config_or_none(tenant)
        assert config is not None  # sign_in refused an unknown tenant
        location = services.signin.return_to(tenant, config, fields["return_to"] or None)
    except EntraBridgeError as error:
        return _login_again(req, error, email=email, return_to=return_to)
    return _signed_in_redirect(services, tokens, location)


def _login_again(
    req: func.HttpRequest, error: EntraBridgeError, *, email: str = "", return_to: str = ""
) -> func.HttpResponse:
    """The login page again, saying why, with the refusal's status and the `email`
    typed (the hosted error page when there is no login page to show)."""
    from shared.signin.status import sign_in_status

    try:
        services = _services()
        status = sign_in_status(
            services.configs,
            web.tenant_of(req),
            public_base_url=services.settings.public_base_url,
        )
    except EntraBridgeError:
        page = pages.error_page(error.code, status=error.status)
    else:
        notice = pages.error_notice(error.code, error.retry_after)
        missing = [n for n, problem in (error.fields or {}).items() if problem == "is required"]
        if isinstance(error, InvalidRequest) and missing:
            named = " and ".join(_LABELS.get(name, name) for name in sorted(missing))
            notice = f"<p class=error role=alert>Enter your {escape(named)}.</p>"
        kept = pages.kept_return_to(req, status.tenant, requested=return_to)
        page = pages.login_page(
            status, notice=notice, http_status=error.status, email=email, return_to=kept
        )
    if error.retry_after is not None:  # a throttled form says when, as the JSON answer does
        page.headers["Retry-After"] = str(error.retry_after)
    return page


@web.api
def _password_sign_in_json(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    fields = _fields(req, "email", "password", required=_CREDENTIALS)
    user, tokens = _services().passwords.sign_in(
        tenant, fields["email"], Secret(fields["password"]), ip=web.client_ip(req)
    )
    return _session_json(user, tokens)


@bp.route(route="api/auth/{tenant}/password/forgot", methods=["POST"])
def forgot_password(req: func.HttpRequest) -> func.HttpResponse:
    """Always 202 (when the tenant takes passwords): nobody learns whether the email
    has an account."""
    if web.is_json(req):
        return _forgot_json(req)
    try:
        tenant = web.tenant_of(req)
        _from_this_site(req)
        fields = _fields(req, "email", required=("email",))
        _services().passwords.forgot(tenant, fields["email"], ip=web.client_ip(req))
    except EntraBridgeError as error:
        return _login_again(req, error)
    body = (
        "<h1>Check your email</h1><p>If a password account uses that address, a link to "
        "choose a new password is on its way. It works once, for one hour.</p>"
    )
    return web.html_response(pages.page("Check your email", body), 202)


@web.api
def _forgot_json(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    fields = _fields(req, "email", required=("email",))
    _services().passwords.forgot(tenant, fields["email"], ip=web.client_ip(req))
    return web.json_response({"status": "accepted"}, 202)


@bp.route(route="api/auth/{tenant}/set-password", methods=["GET", "POST"])
def set_password(req: func.HttpRequest) -> func.HttpResponse:
    if req.method == "POST" and web.is_json(req):
        return _set_password_json(req)
    tenant = req.route_params.get("tenant", "")
    try:
        tenant = web.tenant_of(req)
        services = _services()
        if req.method == "GET":
            token = str(req.params.get("token") or "")
            user = services.passwords.link_user(tenant, token)
            return _set_password_page(tenant, token, user, problem=None, services=services)
        _from_this_site(req)
        fields = _fields(req, "token", "password")
        user = services.passwords.link_user(tenant, fields["token"])
        try:
            _, tokens = services.passwords.set_password(
                tenant, fields["token"], Secret(fields["password"]), ip=web.client_ip(req)
            )
        except InvalidRequest as refused:
            problem = refused.fields.get("password", refused.description)
            return _set_password_page(
                tenant, fields["token"], user, problem=problem, services=services
            )
        config = services.signin.config_or_none(tenant)
        assert config is not None
        location = services.signin.homepage(tenant, config)
    except EntraBridgeError as error:
        return pages.error_page(error.code, status=error.status)
    return _signed_in_redirect(services, tokens, location)


@web.api
def _set_password_json(req: func.HttpRequest) -> func.HttpResponse:
    tenant = web.tenant_of(req)
    fields = _fields(req, "token", "password")
    user, tokens = _services().passwords.set_password(
        tenant, fields["token"], Secret(fields["password"]), ip=web.client_ip(req)
    )
    return _session_json(user, tokens)


# --- rendering ---------------------------------------------------------------------------


def _from_this_site(req: func.HttpRequest) -> None:
    """A form that signs someone in or sends mail must come from this site's own pages
    (login CSRF: another site's form would sign the person into its account)."""
    if not web.is_from_this_origin(req, _services().settings.public_base_url):
        raise Forbidden("This form must be sent from this site's own page.")


def _fields(req: func.HttpRequest, *names: str, required: tuple[str, ...] = ()) -> dict[str, str]:
    """The named fields of a form or JSON body (see `_checked`)."""
    body: dict[str, Any] = web.json_object_body(req) if web.is_json(req) else web.form_or_json(req)
    return _checked(body, *names, required=required)


def _checked(
    body: Mapping[str, Any], *names: str, required: tuple[str, ...] = ()
) -> dict[str, str]:
    """The named fields of `body` ("" when absent); InvalidRequest naming each field
    that is not a string, is absurdly long, or is `required` and empty: before
    anything is counted or written."""
    found: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name in names:
        value = body.get(name, "")
        if not isinstance(value, str):
            problems[name] = "must be a string"
        elif len(value) > _MAX_FIELD:
            problems[name] = f"must be a string of at most {_MAX_FIELD} characters"
        elif name in required and not (value.strip() if name == "email" else value):
            problems[name] = "is required"
        else:
            found[name] = value
    if problems:
        raise InvalidRequest(f"Check these fields: {', '.join(sorted(problems))}.", fields=problems)
    return found


def _signed_in_redirect(
    services: Services, tokens: SessionTokens, location: str
) -> func.HttpResponse:
    from shared.sessions.cookies import cookies_for

    cookies = cookies_for(tokens, services.settings.cookie_names)
    # 302, as the contract says for a browser's form (browsers follow it with a GET).
    return web.redirect(location, cookies=cookies, status=302)


def _session_json(user: User, tokens: SessionTokens) -> func.HttpResponse:
    return web.json_response(
        {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "user": user.to_public(),
        }
    )


def _set_password_page(
    tenant: str, token: str, user: User, *, problem: str | None, services: Services
) -> func.HttpResponse:
    action = escape(f"/api/auth/{tenant}/set-password", quote=True)
    notice = f"<p class=error id=problem>The password {escape(problem)}.</p>" if problem else ""
    described = " aria-describedby=problem" if problem else ""
    body = (
        f"<h1>Choose your password</h1><p>For <strong>{escape(user.email)}</strong>. "
        "At least 12 characters: a phrase of your own is best.</p>"
        f"{notice}<form method=post action='{action}'>"
        f"<input type=hidden name=token value='{escape(token, quote=True)}'>"
        "<label for=password>New password</label>"
        "<input id=password name=password type=password autocomplete=new-password "
        f"minlength=12 maxlength=128 required{described}>"
        "<button type=submit>Set password and sign in</button></form>"
    )
    status = 400 if problem else 200
    # Its answer sends the person to the tenant's homepage, often on another origin:
    # browsers check that redirect against form-action.
    config = services.signin.config_or_none(tenant)
    destinations = (
        form_destinations(config.homepage_url, config.allowed_return_origins) if config else ()
    )
    page = pages.page("Choose your password", body)
    return web.html_response(page, status, csp=web.page_csp(destinations))
