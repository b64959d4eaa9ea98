"""The Entra ID stand-in for tests: a generated directory, one server per session
reset before each test, and helpers that drive MSAL's auth-code flow against it.

Fixtures:
- `entra_directory`: the ids and users of the test directory (`EntraTestDirectory`).
- `fake_entra`: the session's `FakeEntra`, reset (no faults, initial keys and
  directory) for each test, with REQUESTS_CA_BUNDLE set to the local CA bundle.
- `make_fake_entra`: builds extra servers (own port, own directory) stopped after the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import msal
import pytest
import requests

from devtools.fake_entra import FakeEntra
from devtools.localca import ensure_local_ca

_NS = uuid.UUID("0b7d2f5e-2f1c-4c65-8d0e-5a1f3c2b9e40")
TEST_REDIRECT_URI = "https://127.0.0.1:7071/api/auth/contoso/callback"


def stable_id(name: str) -> str:
    """The same UUID for the same name in every process (xdist workers agree)."""
    return str(uuid.uuid5(_NS, name))


@dataclass(frozen=True)
class EntraUser:
    oid: str
    upn: str
    name: str
    email: str | None
    security_groups: frozenset[str]  # what a `groups` claim (or Graph, filtered) must list


@dataclass(frozen=True)
class EntraTestDirectory:
    """Contoso (the tenant under test) and Fabrikam (another tenant on the same stand-in)."""

    tenant_id: str = stable_id("tenant:contoso")
    other_tenant_id: str = stable_id("tenant:fabrikam")
    client_id: str = stable_id("app:contoso-entrabridge")
    client_secret: str = "contoso-test-client-secret-value"
    expired_secret: str = "contoso-expired-client-secret-value"
    second_client_id: str = stable_id("app:contoso-other-app")
    second_client_secret: str = "contoso-other-app-secret-value"
    other_client_id: str = stable_id("app:fabrikam-entrabridge")
    other_client_secret: str = "fabrikam-test-client-secret-value"
    redirect_uri: str = TEST_REDIRECT_URI
    engineering: str = stable_id("group:engineering")
    platform: str = stable_id("group:platform")  # nested in engineering
    support: str = stable_id("group:support")
    admins: str = stable_id("group:admins")
    all_company: str = stable_id("group:all-company")  # Microsoft 365 group: not security
    global_reader: str = stable_id("role:global-reader")
    bulk_groups: tuple[str, ...] = tuple(stable_id(f"group:bulk-{n:03d}") for n in range(250))
    users: Mapping[str, EntraUser] = field(default_factory=dict)
    # One-click onboarding: the operator's multitenant app, and Northwind, a directory
    # with no app of ours yet (the onboarding makes one).
    onboarding_client_id: str = stable_id("app:onboarding")
    onboarding_client_secret: str = "onboarding-test-secret-value"
    onboarding_redirect_uri: str = "https://127.0.0.1:7071/api/onboarding/microsoft/callback"
    northwind_tenant_id: str = stable_id("tenant:northwind")
    northwind_staff: str = stable_id("group:northwind-staff")

    def __post_init__(self) -> None:
        def user(key: str, name: str, groups: set[str], *, email: bool = True) -> EntraUser:
            upn = f"{key}@contoso.example"
            return EntraUser(
                stable_id(f"user:{key}"), upn, name, upn if email else None, frozenset(groups)
            )

        eng, plat, sup, adm = self.engineering, self.platform, self.support, self.admins
        object.__setattr__(
            self,
            "users",
            {
                "no_groups": user("nora", "Nora Nogroups", set()),
                "one_group": user("oscar", "Oscar One", {eng}),
                "several_groups": user("sam", "Sam Several", {plat, eng, sup, adm}),
                "many_groups": user("mona", "Mona Many", set(self.bulk_groups)),
                "no_email": user("ned", "Ned Noemail", {sup}, email=False),
                "disabled": user("dora", "Dora Disabled", {eng}),
                "unassigned": user("una", "Una Unassigned", {eng}),
            },
        )

    @property
    def northwind_user(self) -> EntraUser:
        return EntraUser(
            stable_id("user:nina"),
            "nina@northwind.example",
            "Nina Northwind",
            "nina@northwind.example",
            frozenset({self.northwind_staff}),
        )

    @property
    def other_user(self) -> EntraUser:
        return EntraUser(
            stable_id("user:frank"),
            "frank@fabrikam.example",
            "Frank Fabrikam",
            "frank@fabrikam.example",
            frozenset(),
        )

    def document(self) -> dict[str, Any]:
        """The directory file's JSON."""
        u = self.users
        groups: list[dict[str, Any]] = [
            {"id": self.engineering, "name": "Engineering"},
            {"id": self.platform, "name": "Platform team", "member_of": [self.engineering]},
            {"id": self.support, "name": "Support"},
            {"id": self.admins, "name": "entrabridge admins"},
            {
                "id": self.all_company,
                "name": "All company",
                "security_enabled": False,
                "types": ["Unified"],
            },
        ]
        groups += [{"id": g, "name": f"Bulk group {n:03d}"} for n, g in enumerate(self.bulk_groups)]

        def entry(key: str, groups: list[str], **extra: Any) -> dict[str, Any]:
            person = u[key]
            data: dict[str, Any] = {
                "oid": person.oid,
                "upn": person.upn,
                "name": person.name,
                "groups": groups,
                **extra,
            }
            if person.email:
                data["email"] = person.email
            return data

        users = [
            entry("no_groups", []),
            entry("one_group", [self.engineering]),
            entry(
                "several_groups",
                [self.platform, self.support, self.admins, self.all_company],
                roles=[self.global_reader],
            ),
            entry("many_groups", [*self.bulk_groups, self.all_company], roles=[self.global_reader]),
            entry("no_email", [self.support]),
            entry("disabled", [self.engineering], enabled=False),
            entry(
                "unassigned",
                [self.engineering],
                sign_in_error={
                    "error": "access_denied",
                    "error_description": "AADSTS50105: The signed in user 'una@contoso.example' is "
                    "not assigned to a role for the application.",
                },
            ),
        ]
        frank = self.other_user
        return {
            "directories": [
                {
                    "tenant_id": self.tenant_id,
                    "name": "Contoso",
                    "groups": groups,
                    "roles": [
                        {
                            "id": self.global_reader,
                            "name": "Global Reader",
                            "template_id": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
                        }
                    ],
                    "users": users,
                    "apps": [
                        {
                            "client_id": self.client_id,
                            "name": "entrabridge (tests)",
                            "redirect_uris": [self.redirect_uri],
                            "secrets": [
                                {"value": self.client_secret, "expires": "2099-01-01T00:00:00Z"},
                                {"value": self.expired_secret, "expires": "2020-01-01T00:00:00Z"},
                            ],
                            "front_channel_logout_url": "https://127.0.0.1:7071/api/auth/contoso/logout",
                        },
                        {
                            "client_id": self.second_client_id,
                            "name": "Another Contoso app",
                            "redirect_uris": [self.redirect_uri],
                            "secrets": [{"value": self.second_client_secret}],
                        },
                    ],
                },
                {
                    "tenant_id": self.other_tenant_id,
                    "name": "Fabrikam",
                    "users": [
                        {
                            "oid": frank.oid,
                            "upn": frank.upn,
                            "name": frank.name,
                            "email": frank.email,
                        }
                    ],
                    "apps": [
                        {
                            "client_id": self.other_client_id,
                            "name": "entrabridge (Fabrikam)",
                            "redirect_uris": [self.redirect_uri],
                            "secrets": [{"value": self.other_client_secret}],
                        }
                    ],
                },
                {
                    "tenant_id": self.northwind_tenant_id,
                    "name": "Northwind",
                    "groups": [{"id": self.northwind_staff, "name": "Staff"}],
                    "users": [
                        {
                            "oid": self.northwind_user.oid,
                            "upn": self.northwind_user.upn,
                            "name": self.northwind_user.name,
                            "email": self.northwind_user.email,
                            "groups": [self.northwind_staff],
                        }
                    ],
                },
            ],
            "multitenant_apps": [
                {
                    "client_id": self.onboarding_client_id,
                    "name": "entrabridge onboarding (tests)",
                    "redirect_uris": [self.onboarding_redirect_uri],
                    "secrets": [{"value": self.onboarding_client_secret}],
                }
            ],
        }


ENTRA_TEST_DIRECTORY = EntraTestDirectory()


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def entra_directory() -> EntraTestDirectory:
    return ENTRA_TEST_DIRECTORY


@pytest.fixture(scope="session")
def entra_server(entra_directory: EntraTestDirectory) -> Iterator[FakeEntra]:
    entra = FakeEntra(entra_directory.document()).serve()
    yield entra
    entra.stop()


@pytest.fixture
def fake_entra(entra_server: FakeEntra, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEntra]:
    """The session's stand-in, back to its initial state, trusted by `requests`."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ensure_local_ca().bundle))
    entra_server.reset()
    yield entra_server
    entra_server.reset()


@pytest.fixture
def make_fake_entra(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., FakeEntra]]:
    """`make_fake_entra(directory=None, **FakeEntra kwargs)`: a new server on its own port."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ensure_local_ca().bundle))
    started: list[FakeEntra] = []

    def make(directory: Mapping[str, Any] | None = None, **kwargs: Any) -> FakeEntra:
        entra = FakeEntra(directory or ENTRA_TEST_DIRECTORY.document(), **kwargs).serve()
        started.append(entra)
        return entra

    yield make
    for entra in started:
        entra.stop()


# --- helpers: drive the flow the way the app and a browser would ----------------------


def msal_client(
    entra: FakeEntra,
    http: requests.Session,
    *,
    tenant_id: str = ENTRA_TEST_DIRECTORY.tenant_id,
    client_id: str = ENTRA_TEST_DIRECTORY.client_id,
    secret: str = ENTRA_TEST_DIRECTORY.client_secret,
) -> msal.ConfidentialClientApplication:
    """MSAL as the app builds it: known authority, no instance discovery, our session."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=entra.authority(tenant_id),
        instance_discovery=False,
        http_client=http,
    )


def start_flow(
    client: msal.ConfidentialClientApplication,
    *,
    redirect_uri: str = TEST_REDIRECT_URI,
    login_hint: str | None = None,
    response_mode: str = "form_post",
    scopes: tuple[str, ...] = ("User.Read", "email"),
) -> dict[str, Any]:
    """`initiate_auth_code_flow`. MSAL 1.39 warns (UserWarning) on any response_mode but
    form_post, so a query-mode flow must be started inside `pytest.warns`."""
    flow: dict[str, Any] = client.initiate_auth_code_flow(
        list(scopes),
        redirect_uri=redirect_uri,
        login_hint=login_hint,
        response_mode=response_mode,
    )
    return flow


@dataclass(frozen=True)
class AuthorizeAnswer:
    """Where the authorize endpoint sent the browser, and with which parameters."""

    status: int
    target: str  # the redirect URI (302 Location without query, or the form_post action)
    params: dict[str, str]
    html: str = ""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str]] = []  # (name, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.action:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values.get("name", "")] = values.get("value", "")
        elif tag == "button" and values.get("name"):
            self.buttons.append((values["name"], values.get("value", "")))


def parse_form(html: str) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """(action, hidden fields, submit buttons) of the first form of a page."""
    parser = _FormParser()
    parser.feed(html)
    return parser.action, parser.fields, parser.buttons


def follow_authorize(http: requests.Session, url: str) -> AuthorizeAnswer:
    """GET the authorize URL like a browser, stopping before the app's redirect URI."""
    response = http.get(url, allow_redirects=False, timeout=10)
    return read_authorize_answer(response)


def read_authorize_answer(response: requests.Response) -> AuthorizeAnswer:
    if response.status_code == 302:
        location = urlsplit(response.headers["Location"])
        raw = location.fragment or location.query
        target = location._replace(query="", fragment="").geturl()
        return AuthorizeAnswer(302, target, dict(parse_qsl(raw)))
    action, fields, _ = parse_form(response.text)
    return AuthorizeAnswer(response.status_code, action, fields, response.text)


def sign_in(
    entra: FakeEntra,
    http: requests.Session,
    user: EntraUser,
    *,
    client: msal.ConfidentialClientApplication | None = None,
) -> dict[str, Any]:
    """The whole code flow for one user (form_post, login_hint); MSAL's result dict."""
    app = client or msal_client(entra, http)
    flow = start_flow(app, login_hint=user.upn)
    answer = follow_authorize(http, flow["auth_uri"])
    result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, answer.params)
    return result


def verified_claims(
    entra: FakeEntra,
    http: requests.Session,
    id_token: str,
    *,
    tenant_id: str = ENTRA_TEST_DIRECTORY.tenant_id,
    client_id: str = ENTRA_TEST_DIRECTORY.client_id,
) -> dict[str, Any]:
    """Check the token's RS256 signature against the published JWKS (over HTTPS)."""
    jwks = http.get(entra.jwks_uri(tenant_id), timeout=10).json()
    kid = jwt.get_unverified_header(id_token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    claims: dict[str, Any] = jwt.decode(
        id_token,
        key=jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience=client_id,
        issuer=entra.issuer(tenant_id),
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"], "strict_aud": True},
    )
    return claims
