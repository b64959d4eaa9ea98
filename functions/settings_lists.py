"""The settings pages' Users and Audit tabs (GET/POST /api/auth/{tenant}/settings/users,
GET /api/auth/{tenant}/settings/audit), for a signed-in tenant admin, through the
admin API's own service: users paged, found by email, disabled or enabled (a
disable ends their sessions); the audit log newest first, paged, filtered by
action. Every value is escaped; POSTs need this site's page and the session's
CSRF token (functions/settings.py).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

import azure.functions as func

from functions import pages, web
from functions.settings import AdminSession, nav, refused_post, refused_post_page, serve
from shared.errors import EntraBridgeError, InvalidRequest
from shared.users import User

bp = web.Blueprint()
PAGE = 50


@bp.route(route="api/auth/{tenant}/settings/users", methods=["GET", "POST"])
def settings_users(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, _users_tab)


def _users_tab(req: func.HttpRequest, session: AdminSession) -> func.HttpResponse:
    admin = session.services.admin
    notice, status = "", 200
    if req.method == "POST":
        form = web.form_or_json(req)
        if refused_post(req, session, form):
            return refused_post_page()
        disabled = form.get("disabled") == "true"
        try:
            changed = admin.set_user_disabled(
                session.caller,
                session.tenant,
                form.get("user_id", ""),
                {"disabled": disabled},
                ip=web.client_ip(req),
            )
        except EntraBridgeError as refused:  # the page again, saying why, with its status
            notice = f"<p class=error role=alert>{escape(refused.description)}</p>"
            status = refused.status
        else:
            state = "disabled (their sessions have ended)" if disabled else "enabled"
            notice = f"<p class=saved role=status>{escape(changed.email)} is {state}.</p>"
    email = str(req.params.get("email") or "").strip()
    cursor = str(req.params.get("cursor") or "") or None
    try:
        if email:
            found = session.services.users.by_email(session.tenant, email)
            listed, next_cursor = ([found] if found else []), None
        else:
            listed, next_cursor = admin.list_users(session.tenant, limit=PAGE, cursor=cursor)
    except EntraBridgeError as error:
        notice += f"<p class=error role=alert>{escape(error.description)}</p>"
        status = status if status != 200 else error.status
        listed, next_cursor = [], None
    rows = "".join(_user_row(session, user) for user in listed) or (
        "<tr><td colspan=4>No user found.</td></tr>"
    )
    more = (
        f"<p><a href='?{escape(urlencode({'cursor': next_cursor}), quote=True)}'>Next page</a></p>"
        if next_cursor
        else ""
    )
    body = (
        f"<h1>Users</h1>{nav(session.tenant, 'settings/users')}{notice}"
        "<form method=get role=search><label for=email>Find by email</label>"
        f"<input id=email name=email {pages.EMAIL_INPUT} value='{escape(email, quote=True)}'>"
        "<button type=submit>Find</button></form>"
        "<table><caption>Users of this organisation</caption><thead><tr>"
        "<th scope=col>Name</th><th scope=col>Email</th><th scope=col>Sign-in</th>"
        f"<th scope=col>Status</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )
    return web.html_response(pages.page("Users", body), status)


def _user_row(session: AdminSession, user: User) -> str:
    action = escape(f"/api/auth/{session.tenant}/settings/users", quote=True)
    label = "Enable" if user.disabled else "Disable"
    switch = (
        f"<form method=post action='{action}'>"
        f"<input type=hidden name=csrf value='{session.csrf()}'>"
        f"<input type=hidden name=user_id value='{escape(user.id, quote=True)}'>"
        f"<input type=hidden name=disabled value='{'false' if user.disabled else 'true'}'>"
        f"<button type=submit aria-label='{label} {escape(user.email, quote=True)}'>{label}"
        "</button></form>"
    )
    status = "Disabled" if user.disabled else "Active"
    if user.managed_by_scim:
        # Entra's provisioning decides (a button would only meet managed_by_scim).
        switch = "<span class=managed>(managed by provisioning from Microsoft Entra ID)</span>"
    return (
        f"<tr><td>{escape(user.name)}</td><td>{escape(user.email)}</td>"
        f"<td>{escape(user.provider)}</td><td>{status} {switch}</td></tr>"
    )


@bp.route(route="api/auth/{tenant}/settings/audit", methods=["GET"])
def settings_audit(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, _audit_tab)


def _audit_tab(req: func.HttpRequest, session: AdminSession) -> func.HttpResponse:
    action = str(req.params.get("action") or "").strip()
    cursor = str(req.params.get("cursor") or "") or None
    notice, status = "", 200
    try:
        events, next_cursor = session.services.admin.list_audit(
            session.tenant, limit=PAGE, cursor=cursor
        )
    except InvalidRequest:  # a link to an older page that is not (any more) valid
        notice = (
            "<p class=error role=alert>That page of the log could not be found; "
            "the newest events are shown.</p>"
        )
        status = 400
        try:
            events, next_cursor = session.services.admin.list_audit(
                session.tenant, limit=PAGE, cursor=None
            )
        except EntraBridgeError as error:
            return pages.error_page(error.code, status=error.status)
    except EntraBridgeError as error:
        return pages.error_page(error.code, status=error.status)
    if action:  # within this page of events (the log pages by time)
        events = [event for event in events if event.get("action") == action]
    cells = ("at", "action", "actor", "code")
    rows = (
        "".join(
            "<tr>" + "".join(f"<td>{escape(str(e.get(c) or ''))}</td>" for c in cells) + "</tr>"
            for e in events
        )
        or "<tr><td colspan=4>No event.</td></tr>"
    )
    query = {"cursor": next_cursor, **({"action": action} if action else {})}
    more = (
        f"<p><a href='?{escape(urlencode(query), quote=True)}'>Older events</a></p>"
        if next_cursor
        else ""
    )
    body = (
        f"<h1>Audit log</h1>{nav(session.tenant, 'settings/audit')}{notice}"
        "<form method=get role=search><label for=action>Only this action</label>"
        f"<input id=action name=action value='{escape(action, quote=True)}'>"
        "<button type=submit>Filter</button></form>"
        "<table><caption>Newest first</caption><thead><tr><th scope=col>When</th>"
        "<th scope=col>Action</th><th scope=col>By</th><th scope=col>Code</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}"
    )
    return web.html_response(pages.page("Audit log", body), status)
