"""The tenant admin's OAuth2 settings page: GET/POST /api/auth/{tenant}/settings.

For a signed-in tenant admin (the session cookie of an SSO sign-in, checked by
the admin API's own authenticator, renewed with the refresh cookie once the access
cookie has gone); anyone without a session goes to the login page, anyone else
gets a 403 page. A save goes through AdminService.put_config
with the ETag the page was rendered with, so the API's validation, audit and
lost-update check all hold: a bad field is shown next to its input and nothing
is saved; a save over someone else's newer one says so and keeps what was typed.
POSTs must come from this site's own page and carry the session's CSRF token.
Nothing secret is rendered: the client secret only in its masked form.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import azure.functions as func

from functions import pages, web
from shared.admin.settings_form import (
    body_from_form,
    csrf_ok,
    csrf_token,
    field_errors,
    mapping_rows,
)
from shared.errors import (
    EntraBridgeError,
    Forbidden,
    InvalidRequest,
    PreconditionFailed,
    SsoUnavailable,
    Unauthorized,
)

if TYPE_CHECKING:
    from shared.admin.auth import AdminCaller
    from shared.container import Services

bp = web.Blueprint()
log = logging.getLogger("entrabridge")

# The one script: "Copy" buttons beside the read-only values (progressive: without
# it the values are still there to select). Allowed by its hash only.
_COPY_SCRIPT = (
    "document.querySelectorAll('dd code').forEach(function(c){"
    "var b=document.createElement('button');b.type='button';b.className='copy';"
    "b.textContent='Copy';b.setAttribute('aria-label','Copy '+c.textContent);"
    "b.addEventListener('click',function(){navigator.clipboard.writeText(c.textContent)"
    ".then(function(){b.textContent='Copied';});});c.after(b);});"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_COPY_SCRIPT.encode()).digest()).decode()
_SETTINGS_CSP = web.PAGE_CSP.replace(
    "default-src 'none';", f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}';"
)


def _services() -> Services:
    from shared.container import get_services

    return get_services()


@dataclass(frozen=True)
class AdminSession:
    tenant: str
    services: Services
    caller: AdminCaller
    session_id: str  # the session's family id: what its CSRF token derives from
    # Set-Cookie values of a session renewed for this request: every answer carries them.
    renewed: tuple[str, ...] = field(default=(), repr=False)

    def csrf(self) -> str:
        """The token this session's forms carry."""
        return csrf_token(self.session_id, self.services.state_keys.current_key()[1].csrf_key)

    def csrf_ok(self, given: str | None) -> bool:
        keys = self.services.state_keys.keys_by_kid().values()
        return csrf_ok(given, self.session_id, [key.csrf_key for key in keys])

    def answer(self, response: func.HttpResponse) -> func.HttpResponse:
        """`response`, with the renewed session's cookies when this request renewed it
        (without them the browser would keep a refresh token that is used now)."""
        for cookie in self.renewed:
            response.headers.add("Set-Cookie", cookie)
        return response


def admin_session(req: func.HttpRequest) -> AdminSession | func.HttpResponse:
    """The signed-in tenant admin of the request, or the answer for anyone else: 303
    to the login page without a (live) session, the 403 page for a non-admin.

    The access cookie lasts 15 minutes; past that, a request from this site's own
    pages renews the session with its refresh cookie (rotating it, as the token
    endpoint does), so a form kept open longer is still saved, not lost to a
    sign-in."""
    renewed: tuple[str, ...] = ()
    try:
        tenant = web.tenant_of(req)
        services = _services()
        jar = web.cookies(req)
        token = jar.get(services.settings.cookie_names.session)
        try:
            caller = services.admin_auth.authenticate(tenant, platform_key=None, bearer=token)
        except Unauthorized:
            renewal = _renewed_session(req, services, tenant, jar)
            if renewal is None:
                return web.redirect(_login_then_back(req, services, tenant), status=303)
            token, renewed = renewal
            caller = services.admin_auth.authenticate(tenant, platform_key=None, bearer=token)
        assert token is not None
        sid = services.sessions.verify(tenant, token).sid
        return AdminSession(tenant, services, caller, sid, renewed)
    except Forbidden:
        response = _not_an_admin()
    except EntraBridgeError as error:
        response = pages.error_page(error.code, status=error.status)
    except Exception:
        if not renewed:
            raise  # the host's own 500, as for any other route
        log.exception("settings page: failed after renewing the session")
        response = pages.error_page("server_error", status=500)
    for cookie in renewed:  # a spent refresh token's successor must reach the browser
        response.headers.add("Set-Cookie", cookie)
    return response


def _login_then_back(req: func.HttpRequest, services: Services, tenant: str) -> str:
    """The tenant's login page; the hosted one brings the admin back to this page."""
    from shared.signin.redirects import hosted_login_page

    login = services.signin.login_page(tenant, services.signin.config_or_none(tenant))
    if login != hosted_login_page(services.settings.public_base_url, tenant):
        return login
    here = urlsplit(req.url)
    if req.method == "GET":
        back = here.path + (f"?{here.query}" if here.query else "")
    else:  # the page the form was on (the Connect button's route takes only its POST)
        back = here.path.removesuffix("/connect")
    return f"{login}?{urlencode({'return_to': back})}"


def serve(
    req: func.HttpRequest, handler: Callable[[func.HttpRequest, AdminSession], func.HttpResponse]
) -> func.HttpResponse:
    """`handler`'s answer for the signed-in tenant admin, or admin_session's for anyone
    else. Whatever `handler` ends in (a page, a refusal, an exception) carries the
    session's renewed cookies: without them the browser would keep a spent refresh
    token, and its next use would end the session as a reuse."""
    session = admin_session(req)
    if not isinstance(session, AdminSession):
        return session
    try:
        response = handler(req, session)
    except EntraBridgeError as error:
        response = pages.error_page(error.code, status=error.status)
    except Exception:
        log.exception("settings page %s failed", req.method)
        response = pages.error_page("server_error", status=500)
    return session.answer(response)


def _renewed_session(
    req: func.HttpRequest, services: Services, tenant: str, jar: dict[str, str]
) -> tuple[str, tuple[str, ...]] | None:
    """A new access token and the cookies of the renewed session, from the refresh
    cookie; None when there is nothing to renew with or it is refused. Only for a
    request from this site (or a typed URL): another site's link must not spend the
    person's refresh token."""
    from shared.sessions.cookies import cookies_for

    names = services.settings.cookie_names
    refresh_token = jar.get(names.refresh)
    if not refresh_token or not web.is_from_this_origin(req, services.settings.public_base_url):
        return None
    try:
        # A form sent twice, or tabs reloading together, bring the same token at once.
        tokens = services.sessions.refresh(
            tenant, refresh_token, ip=web.client_ip(req), allow_repeat=True
        )
    except SsoUnavailable:
        raise  # an outage, said as one (the token is left unspent for the retry)
    except EntraBridgeError:  # used, revoked, expired, another tenant's, a disabled user
        return None
    return tokens.access_token, tuple(cookies_for(tokens, names))


def refused_post(req: func.HttpRequest, session: AdminSession, form: dict[str, str]) -> bool:
    """True when a POST is not from this site's own page in this session."""
    own = web.is_from_this_origin(req, session.services.settings.public_base_url)
    return not own or not session.csrf_ok(form.get("csrf"))


def nav(tenant: str, current: str) -> str:
    links = (("settings", "OAuth2"), ("settings/users", "Users"), ("settings/audit", "Audit"))
    items = "".join(
        f"<li><a href='/api/auth/{escape(tenant)}/{path}'"
        + (" aria-current=page" if path == current else "")
        + f">{label}</a></li>"
        for path, label in links
    )
    return f"<nav aria-label='Settings'><ul class=tabs>{items}</ul></nav>"


@bp.route(route="api/auth/{tenant}/settings", methods=["GET", "POST"])
def settings(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, _settings)


def _settings(req: func.HttpRequest, session: AdminSession) -> func.HttpResponse:
    tenant, services = session.tenant, session.services
    try:
        if req.method == "POST":
            return _save(req, session)
        document = services.admin.get_config(tenant)
        notice = (
            "<p class=saved role=status>Saved. It takes effect at once.</p>"
            if req.params.get("saved") == "1"
            else _onboarding_notice(req)
        )
        return _page(
            tenant,
            _values(document.body),
            document.body,
            etag=document.etag,
            csrf=session.csrf(),
            notice=notice,
            connect_to=_consent_origin(services),
        )
    except EntraBridgeError as error:
        return pages.error_page(error.code, status=error.status)


def _save(req: func.HttpRequest, session: AdminSession) -> func.HttpResponse:
    tenant, services = session.tenant, session.services
    caller = session.caller
    form = web.form_or_json(req)
    if refused_post(req, session, form):
        return refused_post_page()
    current = services.admin.get_config(tenant)
    extra_rows = 1 if "add_row" in form else 0
    page_args: dict[str, Any] = {
        "etag": form.get("etag") or None,
        "csrf": session.csrf(),
        "extra_rows": extra_rows,
        "connect_to": _consent_origin(services),
    }
    if extra_rows:
        return _page(tenant, dict(form), current.body, **page_args)
    removed = form.get("remove_row", "")
    if removed.isdigit():  # a row taken out of the table (saved with the next Save)
        kept = {
            k: v
            for k, v in form.items()
            if k not in (f"profile_id_{removed}", f"group_id_{removed}")
        }
        return _page(tenant, kept, current.body, **page_args)
    try:
        services.admin.put_config(
            caller,
            tenant,
            body_from_form(form),
            if_match=form.get("etag") or None,
            ip=web.client_ip(req),
        )
    except InvalidRequest as bad:
        notice = "<p class=error role=alert>Nothing was saved: see the fields below.</p>"
        return _page(tenant, dict(form), current.body, errors=bad.fields, notice=notice,
                     status=400, **page_args)  # fmt: skip
    except PreconditionFailed:
        notice = (
            "<p class=error role=alert>Someone else saved these settings after you opened "
            "this page. Nothing of yours was saved: your changes are below (a client "
            "secret you typed must be typed again). <a href=''>Reload</a> to see theirs, "
            "then apply yours again.</p>"
        )
        return _page(tenant, dict(form), current.body, notice=notice, status=409, **page_args)
    except Forbidden as refused:
        notice = f"<p class=error role=alert>{escape(refused.description)}</p>"
        return _page(tenant, dict(form), current.body, errors=refused.fields, notice=notice,
                     status=403, **page_args)  # fmt: skip
    except EntraBridgeError as refused:  # enforce_sso_unsafe and the like
        notice = f"<p class=error role=alert>{escape(refused.description)}</p>"
        return _page(tenant, dict(form), current.body, notice=notice,
                     status=refused.status, **page_args)  # fmt: skip
    return web.redirect(f"/api/auth/{tenant}/settings?saved=1", status=303)


@bp.route(route="api/auth/{tenant}/settings/connect", methods=["POST"])
def settings_connect(req: func.HttpRequest) -> func.HttpResponse:
    """The "Connect Microsoft" button: start one-click onboarding, on to Entra."""
    return serve(req, _connect)


def _connect(req: func.HttpRequest, session: AdminSession) -> func.HttpResponse:
    from functions.onboarding import binding_cookie
    from shared.store.onboarding import LIFETIME

    try:
        form = web.form_or_json(req)
    except EntraBridgeError as error:  # not a form, or too large: a page, never a 500
        return pages.error_page(error.code, status=error.status)
    if refused_post(req, session, form):
        return refused_post_page()
    services = session.services
    try:
        started = services.onboarding.start(
            session.caller,
            session.tenant,
            {"return_to": f"/api/auth/{session.tenant}/settings"},
            ip=web.client_ip(req),
        )
    except EntraBridgeError as error:
        return pages.error_page(error.code, status=error.status)
    assert started.binding_cookie is not None  # a tenant admin's session, never the key
    cookie = binding_cookie(
        services.settings.cookie_names.onboarding,
        started.binding_cookie,
        max_age=int(LIFETIME.total_seconds()),
    )
    return web.redirect(started.consent_url, cookies=[cookie], status=303)


def _consent_origin(services: Services) -> str | None:
    """Entra's origin when one-click onboarding is offered here, else None."""
    if services.settings.onboarding_client_id is None:
        return None
    return services.settings.entra_authority_host


_ONBOARDING_ERRORS = {
    "consent_denied": "The consent was declined in Microsoft Entra ID; nothing was changed.",
    "consent_failed": "Microsoft Entra ID did not give the consent; nothing was changed.",
    "invalid_state": "That consent answer did not belong to this request; nothing was changed.",
    "consumer_tenant": "A personal Microsoft account cannot connect an organisation; sign in "
    "to the consent screen with an administrator of your organisation's directory.",
    "graph_failed": "Microsoft Entra ID could not set up the app registration; nothing was "
    "left behind and nothing was changed. Please try again in a few minutes.",
}


def _onboarding_notice(req: func.HttpRequest) -> str:
    """What one-click onboarding's return (`onboarding=...` on this page) says."""
    if req.params.get("onboarding") == "connected":
        missing = str(req.params.get("onboarding_missing") or "")
        if missing:
            return (
                "<p class=saved role=status>Microsoft is connected. Before sign-in can be "
                f"enabled, fill in: {escape(missing.replace(',', ', '))}.</p>"
            )
        return "<p class=saved role=status>Microsoft is connected and sign-in is enabled.</p>"
    code = str(req.params.get("onboarding_error") or "")
    if code:
        message = _ONBOARDING_ERRORS.get(code, "Connecting Microsoft did not work.")
        return f"<p class=error role=alert>{escape(message)} (code: {escape(code)})</p>"
    return ""


# --- rendering ---------------------------------------------------------------------------


def _not_an_admin() -> func.HttpResponse:
    body = (
        "<h1>Tenant admins only</h1><p>These settings are for your organisation's "
        "administrators (members of an admin group in Microsoft Entra ID). Ask one of them, "
        "or sign in with an administrator account.</p>"
    )
    return web.html_response(pages.page("Tenant admins only", body), 403)


def refused_post_page() -> func.HttpResponse:
    body = (
        "<h1>Not saved</h1><p>This form must be sent from the settings page itself, in "
        "the session that opened it. Open the settings page again and save from there.</p>"
    )
    return web.html_response(pages.page("Not saved", body), 403)


def _values(document: dict[str, Any]) -> dict[str, str]:
    """The form's values for a configuration document."""
    values = {
        name: str(document.get(name) or "")
        for name in ("client_id", "tenant_id", "customer_id", "homepage_url", "login_page_url")
    }
    values["button_label"] = str(document.get("button_label") or "")
    values["client_secret_expires_on"] = str(document.get("client_secret_expires_on") or "")
    values["admin_group_ids"] = "\n".join(document.get("admin_group_ids") or [])
    values["allowed_return_origins"] = "\n".join(document.get("allowed_return_origins") or [])
    for flag in ("enabled", "enforce_sso", "jit_provisioning"):
        if document.get(flag):
            values[flag] = "on"
    for index, row in enumerate(document.get("profile_mappings") or []):
        values[f"profile_id_{index}"] = row["profile_id"]
        values[f"group_id_{index}"] = row["group_id"]
    return values


_UNPLACED = "<!--unplaced errors-->"


def _page(
    tenant: str,
    values: dict[str, str],
    document: dict[str, Any],
    *,
    etag: str | None,
    csrf: str,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
    extra_rows: int = 0,
    connect_to: str | None = None,
) -> func.HttpResponse:
    errors = dict(errors or {})
    if values.get("client_secret", "").strip():
        # The page never shows a secret back: one typed before this answer is gone
        # from the form, and saving it as it now stands would keep the old one.
        retype = "was not saved: type it again (a secret is never shown back)"
        errors["client_secret"] = "; ".join(filter(None, (errors.get("client_secret"), retype)))
    placed = field_errors(errors)

    def error_of(name: str, *, hint: str = "") -> tuple[str, str]:
        """(the control's attributes, the message before it); `hint`: the id of a hint
        the control is described by as well (one aria-describedby naming both)."""
        problems = placed.pop(name, None)
        if problems is None:
            return (f" aria-describedby={hint}" if hint else ""), ""
        described = f"err-{name} {hint}".strip()
        return (
            f" aria-invalid=true aria-describedby='{described}'",
            f"<p class=error id=err-{name}>{escape('; '.join(problems))}</p>",
        )

    def text(name: str, label: str, *, kind: str = "text", readonly: bool = False) -> str:
        attributes, message = error_of(name)
        lock = " readonly" if readonly else ""
        value = escape(values.get(name, ""), quote=True)
        return (
            f"<label for={name}>{escape(label)}</label>{message}"
            f"<input id={name} name={name} type={kind} value='{value}'{lock}{attributes}>"
        )

    def checkbox(name: str, label: str) -> str:
        checked = " checked" if values.get(name) else ""
        return (
            f"<label class=check><input type=checkbox name={name}{checked}> {escape(label)}</label>"
        )

    def lines(name: str, label: str) -> str:
        attributes, message = error_of(name)
        return (
            f"<label for={name}>{escape(label)} (one per line)</label>{message}"
            f"<textarea id={name} name={name} rows=3{attributes}>"
            f"{escape(values.get(name, ''))}</textarea>"
        )

    rows = mapping_rows(values)
    rows += [{"profile_id": "", "group_id": ""}] * (1 + extra_rows)
    mapping_error = error_of("profile_mappings")

    def cell(name: str, label: str, value: str) -> str:
        attributes, message = error_of(name)
        return (
            f"<td><input aria-label='{escape(label, quote=True)}' name={name} "
            f"value='{escape(value, quote=True)}'{attributes}>{message}</td>"
        )

    table = "".join(
        "<tr>"
        + cell(f"profile_id_{i}", f"Profile ID, row {i + 1}", row["profile_id"])
        + cell(f"group_id_{i}", f"Entra group ID, row {i + 1}", row["group_id"])
        + "<td>"
        + (
            f"<button type=submit name=remove_row value={i} formnovalidate "
            f"aria-label='Remove row {i + 1}'>Remove</button>"
            if row["profile_id"] or row["group_id"]
            else ""
        )
        + "</td></tr>"
        for i, row in enumerate(rows)
    )
    endpoints = document.get("endpoints") or {}
    derived = "".join(
        f"<dt>{escape(str(name).replace('_', ' ').capitalize())}</dt>"
        f"<dd><code>{escape(str(value))}</code></dd>"
        for name, value in endpoints.items()
        if value
    )
    scopes = escape(" ".join(document.get("scopes") or []))
    fields = "".join(
        f"<dt>{escape(str(k))}</dt><dd><code>{escape(str(v))}</code></dd>"
        for k, v in (document.get("field_mappings") or {}).items()
    )
    secret_error = error_of("client_secret", hint="secret-hint")
    masked = document.get("client_secret")
    secret_hint = (
        f"Stored: <code>{escape(str(masked))}</code>. Leave empty to keep it."
        if masked
        else "None stored yet."
    )
    connect_form = (
        "<h2>Connect Microsoft in one click</h2><p>An administrator of your Microsoft "
        "Entra ID approves one consent screen; the app registration, its redirect URI, "
        "secret, group claims and consent are then made for you and filled in below.</p>"
        f"<form method=post action='{escape(f'/api/auth/{tenant}/settings/connect', quote=True)}'>"
        f"<input type=hidden name=csrf value='{escape(csrf, quote=True)}'>"
        "<button type=submit>Connect Microsoft</button></form>"
        if connect_to
        else ""
    )
    body = (
        f"<h1>OAuth2 settings</h1>{nav(tenant, 'settings')}"
        f"{notice}{_UNPLACED}{connect_form}"
        f"<form method=post action='{escape(f'/api/auth/{tenant}/settings', quote=True)}'>"
        f"<input type=hidden name=csrf value='{escape(csrf, quote=True)}'>"
        f"<input type=hidden name=etag value='{escape(etag or '', quote=True)}'>"
        f"{checkbox('enabled', 'Enable OAuth2')}"
        "<p>OAuth2 provider: <strong>Microsoft</strong></p>"
        f"{text('client_id', 'Client ID')}{text('tenant_id', 'Tenant ID')}"
        f"<label for=client_secret>Client secret</label>{secret_error[1]}"
        f"<p class=hint id=secret-hint>{secret_hint}</p>"
        "<input id=client_secret name=client_secret type=password autocomplete=off"
        f"{secret_error[0]}>"
        f"{text('client_secret_expires_on', 'Client secret expires on', kind='date')}"
        f"<h2>Read-only values for Entra</h2><dl>{derived}<dt>Scopes</dt>"
        f"<dd><code>{scopes}</code></dd></dl><h2>Field mappings</h2><dl>{fields}</dl>"
        "<h2>Custom settings: mapping</h2>"
        f"{text('customer_id', 'Customer ID', readonly=True)}"
        f"{mapping_error[1]}<table><caption>Profile ID to Entra group ID</caption>"
        "<thead><tr><th scope=col>Profile ID</th><th scope=col>Entra group ID</th>"
        "<th scope=col><span class=visually-hidden>Remove</span></th></tr></thead>"
        f"<tbody>{table}</tbody></table>"
        "<button type=submit name=add_row value=1 formnovalidate>+ Add profile</button>"
        f"{lines('admin_group_ids', 'Admin group IDs')}"
        f"{text('homepage_url', 'Homepage URL')}{text('login_page_url', 'Login page URL')}"
        f"{lines('allowed_return_origins', 'Allowed return origins')}"
        f"{text('button_label', 'Button label')}"
        f"{checkbox('enforce_sso', 'Enforce SSO (only Microsoft sign-in)')}"
        f"{checkbox('jit_provisioning', 'Create users on first sign-in (off: invite-only)')}"
        "<button type=submit>Save</button></form>"
        f"<p><a href='{escape(f'/api/auth/{tenant}/login', quote=True)}' target=_blank "
        "rel=noopener>Test sign-in</a>: open it in a private window and check that the "
        "button shows, the user is created and their profiles are assigned.</p>"
        f"<script>{_COPY_SCRIPT}</script>"
    )
    # Every error is shown: one no control took (none today) is listed at the top.
    unplaced = "".join(
        f"<li>{escape(name)}: {escape('; '.join(problems))}</li>"
        for name, problems in placed.items()
    )
    body = body.replace(_UNPLACED, f"<ul class=error>{unplaced}</ul>" if unplaced else "", 1)
    # The button's form is answered with a redirect to Entra's consent screen, which
    # browsers check against form-action: Entra's origin is allowed then, and only then.
    csp = (
        _SETTINGS_CSP.replace("form-action 'self'", f"form-action 'self' {connect_to}")
        if connect_to
        else _SETTINGS_CSP
    )
    return web.html_response(pages.page("OAuth2 settings", body), status, csp=csp)
