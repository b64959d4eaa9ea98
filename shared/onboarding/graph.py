"""The Microsoft Graph calls of one-click onboarding, app-only, in the customer's
directory: create the app registration from the custom (non-gallery) application
template, configure it, grant its delegated consent, give it a secret; find it
again by our tag; delete it.

Graph is eventually consistent: an application created a moment ago can answer
404 for seconds, and busy answers (429, 503) carry Retry-After. Every call here
is retried with bounded backoff, honouring Retry-After, within one deadline for
the whole onboarding (60 s); a 404 is retried only for what was just created. A
POST (it creates an app, a secret or a grant) is retried only when Graph surely
did not act on it (429, 503, no connection made): a repeated create would leave
a second app or a live secret nobody holds.
Anything else ends the onboarding: `GraphFailed` names the step and the status,
never a body (Graph's messages can echo what was sent).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
import urllib3

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CUSTOM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"  # Microsoft's documented id
# Microsoft Graph's delegated permissions (their ids are the same in every directory).
DELEGATED = {
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
    "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
}
DEADLINE_SECONDS = 60.0
_RETRIED = frozenset({429, 500, 502, 503, 504})
# A POST creates something (an app, a secret, a grant): it is sent again only when
# Graph surely did not act on it (throttled, or busy and saying so), never after a
# 500, 502, 504 or a lost answer, which may follow a change Graph made.
_RETRIED_POST = frozenset({429, 503})
_MAX_WAIT = 10.0


def _never_sent(error: requests.RequestException) -> bool:
    """The request surely never reached Graph: no connection was made."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


class GraphFailed(Exception):
    def __init__(self, step: str, status: int | None) -> None:
        self.step, self.status = step, status
        super().__init__(f"Graph {step} failed" + (f" ({status})" if status else ""))


@dataclass(frozen=True)
class CreatedApp:
    object_id: str
    app_id: str  # the client id
    service_principal_id: str | None


@dataclass
class GraphSteps:
    http: requests.Session
    base_url: str  # e.g. https://graph.microsoft.com
    access_token: str = field(repr=False)
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    deadline: float = field(default=0.0)
    retries: int = 0  # how many calls were retried (audited)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = self.monotonic() + DEADLINE_SECONDS

    # --- the steps -----------------------------------------------------------------------

    def find_app(self, tag: str) -> CreatedApp | None:
        filter_ = f"tags/any(t:t eq '{tag}')"
        found = self._call(
            "list_applications", "GET", f"/v1.0/applications?$filter={quote(filter_)}"
        )
        apps = found.get("value") if isinstance(found, dict) else None
        for app in apps or ():
            if isinstance(app, dict) and app.get("id") and app.get("appId"):
                return CreatedApp(str(app["id"]), str(app["appId"]), None)
        return None

    def instantiate(self, display_name: str) -> CreatedApp:
        made = self._call(
            "instantiate",
            "POST",
            f"/v1.0/applicationTemplates/{CUSTOM_APP_TEMPLATE}/instantiate",
            {"displayName": display_name},
        )
        application = _object(made, "application", "instantiate")
        principal = _object(made, "servicePrincipal", "instantiate")
        return CreatedApp(
            object_id=_text(application, "id", "instantiate"),
            app_id=_text(application, "appId", "instantiate"),
            service_principal_id=_text(principal, "id", "instantiate"),
        )

    def configure(self, app: CreatedApp, *, redirect_uri: str, logout_url: str, tag: str) -> None:
        self._call(
            "patch_application",
            "PATCH",
            f"/v1.0/applications/{app.object_id}",
            {
                "signInAudience": "AzureADMyOrg",
                "web": {"redirectUris": [redirect_uri], "logoutUrl": logout_url},
                "groupMembershipClaims": "SecurityGroup",
                "optionalClaims": {"idToken": [{"name": "email", "essential": False}]},
                "requiredResourceAccess": [
                    {
                        "resourceAppId": GRAPH_APP_ID,
                        "resourceAccess": [
                            {"id": permission, "type": "Scope"} for permission in DELEGATED.values()
                        ],
                    }
                ],
                "tags": [tag],
            },
            just_created=True,
        )

    def service_principal_of(self, app_id: str, *, just_created: bool = False) -> str:
        found = self._call(
            "service_principals",
            "GET",
            _principals_of(app_id),
        )
        principals = found.get("value") if isinstance(found, dict) else None
        for principal in principals or ():
            if isinstance(principal, dict) and principal.get("id"):
                return str(principal["id"])
        if just_created:  # replication: Graph lists it a little later
            return self._wait_for_principal(app_id)
        raise GraphFailed("service_principals", 404)

    def grant_consent(self, client_principal: str, graph_principal: str) -> None:
        self._call(
            "permission_grant",
            "POST",
            "/v1.0/oauth2PermissionGrants",
            {
                "clientId": client_principal,
                "consentType": "AllPrincipals",
                "resourceId": graph_principal,
                "scope": " ".join(DELEGATED),
            },
            just_created=True,
        )

    def add_secret(self, app: CreatedApp, *, now: dt.datetime) -> tuple[str, dt.datetime]:
        ends = now + dt.timedelta(days=730)  # 24 months
        made = self._call(
            "add_password",
            "POST",
            f"/v1.0/applications/{app.object_id}/addPassword",
            {
                "passwordCredential": {
                    "displayName": f"entrabridge {now.date().isoformat()}",
                    "endDateTime": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            },
            just_created=True,
        )
        secret = _text(made, "secretText", "add_password")
        return secret, ends

    def delete(self, app: CreatedApp) -> None:
        self._call("delete_application", "DELETE", f"/v1.0/applications/{app.object_id}")

    # --- the call, retried ---------------------------------------------------------------

    def _wait_for_principal(self, app_id: str) -> str:
        attempt = 0
        while True:
            attempt += 1
            self._pause("service_principals", None, attempt, 404)
            found = self._call(
                "service_principals",
                "GET",
                _principals_of(app_id),
            )
            for principal in (found.get("value") if isinstance(found, dict) else None) or ():
                if isinstance(principal, dict) and principal.get("id"):
                    return str(principal["id"])

    def _call(
        self,
        step: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        just_created: bool = False,
    ) -> Any:
        attempt = 0
        creates = method == "POST"
        while True:
            attempt += 1
            try:
                answer = self.http.request(
                    method,
                    f"{self.base_url}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.access_token}"},
                    timeout=(3, 15),
                )
            except requests.RequestException as error:
                if creates and not _never_sent(error):
                    raise GraphFailed(step, None) from error
                self._pause(step, None, attempt, None)
                continue
            if answer.status_code < 300:
                if answer.status_code == 204 or not answer.content:
                    return None
                try:
                    return answer.json()
                except ValueError:
                    raise GraphFailed(step, answer.status_code) from None
            statuses = _RETRIED_POST if creates else _RETRIED
            retried = answer.status_code in statuses or (just_created and answer.status_code == 404)
            if not retried:
                raise GraphFailed(step, answer.status_code)
            self._pause(step, answer.headers.get("Retry-After"), attempt, answer.status_code)

    def _pause(self, step: str, retry_after: str | None, attempt: int, status: int | None) -> None:
        """Wait before the next try (Retry-After, else 0.5 s doubling up to 10 s); give
        up when that would pass the deadline."""
        wait = min(0.5 * 2 ** (attempt - 1), _MAX_WAIT)
        if retry_after is not None and retry_after.strip().isdigit():
            wait = min(float(retry_after.strip()), DEADLINE_SECONDS)
        if self.monotonic() + wait > self.deadline:
            raise GraphFailed(step, status)
        self.retries += 1
        self.sleep(wait)


def _principals_of(app_id: str) -> str:
    return "/v1.0/servicePrincipals?$filter=" + quote(f"appId eq '{app_id}'")


def _object(value: Any, key: str, step: str) -> Mapping[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    if not isinstance(found, dict):
        raise GraphFailed(step, None)
    return found


def _text(value: Any, key: str, step: str) -> str:
    found = value.get(key) if isinstance(value, Mapping) else None
    if not isinstance(found, str) or not found:
        raise GraphFailed(step, None)
    return found
