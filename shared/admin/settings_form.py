"""The settings page's form as the admin API's configuration document, and back.

Pure. The page (functions/settings.py) posts flat form fields; `body_from_form`
makes the `PUT .../oauth2` body of them, so a save goes through the very same
service, validation and ETag check as the API. Mapping rows are numbered
fields (`profile_id_0`, `group_id_0`, ...); lists are one value per line; an
empty client secret keeps the stored one.

The CSRF token is derived from the session (its family id, which only the
session's own HttpOnly cookies carry): another site can neither read nor guess
it, and it changes with every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

from shared.tenants.validation import MAX_MAPPINGS

# Every mapping the API allows, plus the page's blank rows: a save never drops a row
# (more filled rows than the API takes are refused by its validation, never cut).
MAX_ROWS = MAX_MAPPINGS + 100
_TEXT_FIELDS = ("client_id", "tenant_id", "customer_id", "homepage_url", "login_page_url")


def csrf_token(session_id: str, key: bytes) -> str:
    """The settings forms' token for a session: keyed, so knowing the session id (it is
    the `sid` of every access token the application receives) is not enough."""
    mac = hmac.new(key, f"entrabridge-settings|{session_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def csrf_ok(given: str | None, session_id: str, keys: Iterable[bytes]) -> bool:
    """`given` is the session's token under one of `keys` (the current key and the one
    before it: a page opened before a rotation still saves)."""
    if not given:
        return False
    return any(hmac.compare_digest(str(given), csrf_token(session_id, key)) for key in keys)


def body_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The configuration document the form describes (to PUT as it is)."""
    body: dict[str, Any] = {
        "enabled": "enabled" in form,
        "enforce_sso": "enforce_sso" in form,
        "jit_provisioning": "jit_provisioning" in form,
        "button_label": form.get("button_label", "").strip() or None,
        "profile_mappings": mapping_rows(form),
        "admin_group_ids": _lines(form.get("admin_group_ids", "")),
        "allowed_return_origins": _lines(form.get("allowed_return_origins", "")),
    }
    if body["button_label"] is None:
        del body["button_label"]  # the default label
    for name in _TEXT_FIELDS:
        value = form.get(name, "").strip()
        body[name] = value or None
    secret = form.get("client_secret", "")
    if secret:
        body["client_secret"] = secret
    expires = form.get("client_secret_expires_on", "").strip()
    if expires:
        body["client_secret_expires_on"] = expires
    return body


def mapping_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The filled rows of the profile -> group table, in order (empty rows dropped)."""
    rows = []
    for index in range(MAX_ROWS):
        profile = form.get(f"profile_id_{index}", "").strip()
        group = form.get(f"group_id_{index}", "").strip()
        if profile or group:
            rows.append({"profile_id": profile, "group_id": group})
    return rows


_ITEM = re.compile(r"(?P<list>[a-z_]+)\[(?P<index>[0-9]+)\](?:\.(?P<key>[a-z_]+))?")
_LINE_LISTS = ("admin_group_ids", "allowed_return_origins")  # textareas, one per line


def field_errors(errors: Mapping[str, str]) -> dict[str, list[str]]:
    """The configuration's errors by the page control that shows them: a list item's
    (`admin_group_ids[1]`, `profile_mappings[0].group_id`) goes to its textarea,
    saying which entry, or to its row's input (`group_id_0`; the page's rows are
    the document's, in order); any other field's to the control of that name."""
    placed: dict[str, list[str]] = {}
    for name, problem in errors.items():
        item = _ITEM.fullmatch(name)
        control, message = name, problem
        if item is not None:
            index, key = int(item["index"]), item["key"]
            if item["list"] in _LINE_LISTS:
                control, message = item["list"], f"entry {index + 1}: {problem}"
            elif item["list"] == "profile_mappings" and key in ("profile_id", "group_id"):
                control = f"{key}_{index}"
            elif item["list"] == "profile_mappings":
                control, message = "profile_mappings", f"row {index + 1}: {problem}"
        placed.setdefault(control, []).append(message)
    return placed


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
