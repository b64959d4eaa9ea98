"""The stand-in's HTML: the sign-in page, error pages, form_post and sign-out pages.

Every value is escaped; pages load nothing from elsewhere and cannot be framed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from html import escape

from werkzeug.wrappers import Response

from devtools.fake_entra.directory import AppRegistration, Directory, User
from devtools.fake_entra.errors import AadError

USER_FIELD = "stand_in_user"  # the button a person clicks on the sign-in page

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;padding:32px;box-shadow:0 2px 6px #0003}
h1{font-size:1.4em;font-weight:600;margin-top:0}
.note{color:#555;font-size:.9em}
ul{list-style:none;padding:0}
button{width:100%;text-align:left;padding:10px 12px;margin:4px 0;border:1px solid #ccc;
background:#fff;cursor:pointer;font-size:1em}
button:hover{background:#eef4ff}
.upn{display:block;color:#555;font-size:.85em}
.off{color:#a00}
code{word-break:break-all}
"""


def _page(title: str, body: str, *, status: int = 200, script_nonce: str | None = None) -> Response:
    script_src = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    response = Response(html, status=status, mimetype="text/html")
    # No form-action: Chrome applies it to the redirect that follows a form post.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src {script_src}; "
        "frame-src https: http:; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )


def sign_in_page(
    directory: Directory,
    app: AppRegistration,
    *,
    action: str,
    params: Mapping[str, str],
    users: Iterable[User],
    hint_unknown: str | None = None,
) -> Response:
    """A person picks a user; the choice posts back to the authorize endpoint."""
    items = []
    for user in users:
        state = ' <span class="off">(disabled)</span>' if not user.enabled else ""
        items.append(
            f'<li><button type="submit" name="{USER_FIELD}" value="{escape(user.oid)}">'
            f'{escape(user.name)}{state}<span class="upn">{escape(user.upn)}</span>'
            "</button></li>"
        )
    unknown = (
        f'<p class="off">No account {escape(hint_unknown)} in this directory.</p>'
        if hint_unknown
        else ""
    )
    body = (
        "<h1>Sign in</h1>"
        f"<p>to <b>{escape(app.name)}</b><br>"
        f'<span class="note">directory {escape(directory.name)} '
        f"({escape(directory.tenant_id)})</span></p>{unknown}"
        f'<form method="post" action="{escape(action)}">{_hidden(params)}'
        f"<ul>{''.join(items) or '<li>This directory has no users.</li>'}</ul></form>"
        '<p class="note">Microsoft Entra ID stand-in for local development: '
        "pick an account, no password is asked.</p>"
    )
    return _page("Sign in to your account", body)


def error_page(failure: AadError, *, request_id: str) -> Response:
    """Entra's "Sorry, but we're having trouble signing you in" page: no redirect."""
    body = (
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f"<p><code>{escape(failure.description)}</code></p>"
        f'<p class="note">Request Id: {escape(request_id)}</p>'
    )
    return _page("Sign in to your account", body, status=failure.status)


def form_post_page(redirect_uri: str, fields: Mapping[str, str]) -> Response:
    """response_mode=form_post: a form that posts itself to the redirect URI."""
    nonce = secrets.token_urlsafe(16)
    body = (
        f'<form method="post" action="{escape(redirect_uri)}">{_hidden(fields)}'
        "<noscript><p>Script is disabled. Click Submit to continue.</p>"
        '<button type="submit">Submit</button></noscript></form>'
        f'<script nonce="{nonce}">document.forms[0].submit();</script>'
    )
    return _page("Working...", body, script_nonce=nonce)


def signed_out_page(frames: Iterable[str], next_url: str | None) -> Response:
    """Sign-out: front-channel logout iframes for each app, then on to `next_url`."""
    iframes = "".join(
        f'<iframe src="{escape(url)}" width="0" height="0" hidden></iframe>' for url in frames
    )
    onward = ""
    nonce = None
    if next_url:
        nonce = secrets.token_urlsafe(16)
        onward = (
            f'<p><a href="{escape(next_url)}">Continue</a></p>'
            f'<script nonce="{nonce}">setTimeout(function(){{window.location.replace('
            f"document.links[0].href)}},1000);</script>"
        )
    body = f"<h1>You signed out of your account</h1>{iframes}{onward}"
    return _page("Sign out", body, script_nonce=nonce)
