"""One-click "Connect Microsoft" end to end: the local host on Azurite and the Key
Vault stand-in, the Entra stand-in as the customer's directory (its consent page
through the authorize endpoint, the code redeemed for the admin's ID token,
client credentials, and Graph creating the app registration), nothing mocked.
Northwind is a directory with no app of ours: the onboarding makes one, and Nina
signs in through it right after."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost
from shared.container import Services
from shared.onboarding.service import CONSUMER_TENANT, CREDENTIAL_SECRET
from shared.store.secrets import client_secret_name
from shared.tenants.model import OAuth2Config
from tests.support.entra import EntraTestDirectory

PLATFORM_KEY = "test-platform-admin-key-0123456789"
PUBLIC = "https://127.0.0.1:7071"
TENANT = "northwind"
CUSTOMER = "0f8fad5b-d9cb-469f-a165-70867728950e"


@dataclass
class Onboarding:
    host: FuncHost
    services: Services
    entra: FakeEntra
    directory: EntraTestDirectory
    http: requests.Session

    def start(self, tenant: str = TENANT, body: Any = None) -> requests.Response:
        return self.http.post(
            f"{self.host.url}/api/admin/tenants/{tenant}/onboarding/microsoft",
            headers={"X-Platform-Admin-Key": PLATFORM_KEY},
            json=body,
        )

    def consent(
        self, consent_url: str, *, decision: str = "accept", tenant: str | None = None
    ) -> str:
        """The admin at Entra's consent page; the callback URL Entra sends them to,
        pointed at the local host."""
        page = self.http.get(consent_url)
        assert page.status_code == 200, page.text
        assert "Permissions requested" in page.text
        back = self.http.post(
            consent_url,
            data={"decision": decision, "tenant": tenant or self.directory.northwind_tenant_id},
            allow_redirects=False,
        )
        assert back.status_code == 302, back.text
        location = back.headers["Location"]
        assert location.startswith(f"{PUBLIC}/api/onboarding/microsoft/callback?")
        return location.replace(PUBLIC, self.host.url, 1)

    def callback(self, url: str, cookie: str | None = None) -> requests.Response:
        headers = {"Cookie": cookie} if cookie else {}
        return self.http.get(url, headers=headers, allow_redirects=False)

    def config(self, tenant: str = TENANT) -> OAuth2Config:
        found = self.services.configs.read_now(tenant)
        assert found is not None
        return found

    def sign_in(self, tenant: str = TENANT) -> requests.Response:
        """Nina's whole browser sign-in to `tenant`; the callback's answer."""
        person = self.directory.northwind_user
        started = self.http.get(
            f"{self.host.url}/api/auth/{tenant}/authorize",
            params={"login_hint": person.upn},
            allow_redirects=False,
        )
        assert started.status_code == 302, started.text
        cookie = started.headers["Set-Cookie"].split(";")[0]
        at_entra = self.http.get(started.headers["Location"], allow_redirects=False)
        assert at_entra.status_code == 302, at_entra.text
        back = urlsplit(at_entra.headers["Location"])
        return self.http.get(
            f"{self.host.url}{back.path}?{back.query}",
            headers={"Cookie": cookie},
            allow_redirects=False,
        )


@pytest.fixture
def onboarding(
    app_host: FuncHost,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    request: pytest.FixtureRequest,
) -> Iterator[Onboarding]:
    from tests.support.system import installed_services, make_settings

    settings = make_settings(
        azurite,
        fake_keyvault,
        ENTRA_AUTHORITY_HOST=fake_entra.base_url,
        GRAPH_BASE_URL=fake_entra.graph_base_url,
        ONBOARDING_CLIENT_ID=entra_directory.onboarding_client_id,
    )
    with installed_services(settings, azurite, request) as services:
        services.secrets.set_secret(CREDENTIAL_SECRET, entra_directory.onboarding_client_secret)
        services.configs.put_tenant(TENANT, "Northwind", OAuth2Config(customer_id=CUSTOMER))
        with requests.Session() as http:
            yield Onboarding(app_host, services, fake_entra, entra_directory, http)


def outcome(answer: requests.Response) -> dict[str, list[str]]:
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def test_an_operator_connects_a_new_customer_and_its_people_sign_in_at_once(
    onboarding: Onboarding, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = onboarding.start(body={"return_to": "/api/auth/northwind/login"})
    assert started.status_code == 200, started.text
    consent_url = started.json()["consent_url"]
    authorize = f"{onboarding.entra.base_url}/organizations/oauth2/v2.0/authorize?"
    assert consent_url.startswith(authorize)
    query = parse_qs(urlsplit(consent_url).query)
    assert query["client_id"] == [onboarding.directory.onboarding_client_id]
    assert query["redirect_uri"] == [f"{PUBLIC}/api/onboarding/microsoft/callback"]
    assert {"openid", "https://graph.microsoft.com/.default"} <= set(query["scope"][0].split())
    assert query["response_type"] == ["code"] and query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"] and len(query["nonce"][0]) == 64

    done = onboarding.callback(onboarding.consent(consent_url))
    assert done.status_code == 302, done.text
    assert done.headers["Location"] == f"{PUBLIC}/api/auth/northwind/login?onboarding=connected"

    northwind = onboarding.directory.northwind_tenant_id
    (app,) = onboarding.entra.onboarded_apps(northwind)
    assert app["web"]["redirectUris"] == [f"{PUBLIC}/api/auth/northwind/callback"]
    assert app["web"]["logoutUrl"] == f"{PUBLIC}/api/auth/northwind/logout"
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["groupMembershipClaims"] == "SecurityGroup"
    assert {"name": "email", "essential": False} in app["optionalClaims"]["idToken"]
    (grant,) = onboarding.entra.permission_grants(northwind)
    assert grant["consentType"] == "AllPrincipals"
    assert set(grant["scope"].split()) == {
        "openid",
        "profile",
        "email",
        "offline_access",
        "User.Read",
    }
    config = onboarding.config()
    assert (config.client_id, config.tenant_id, config.enabled) == (app["appId"], northwind, True)
    assert config.client_secret_expires_on is not None

    signed_in = onboarding.sign_in()
    assert signed_in.status_code == 302, signed_in.text
    assert "sso_error" not in signed_in.headers["Location"]

    # The secret went to Key Vault and nowhere else: not in an answer, a log, the audit.
    secret = onboarding.services.secrets.get_secret(client_secret_name(TENANT))
    assert secret is not None
    value = secret.value.reveal()
    events, _ = onboarding.services.audit.list(TENANT, limit=100, cursor=None)
    assert value not in str(events) + started.text + str(done.headers) + caplog.text
    actions = [e["action"] for e in events if e["action"].startswith("onboarding_")]
    assert actions == [
        "onboarding_connected",
        "onboarding_secret_added",
        "onboarding_app_created",
        "onboarding_consented",
        "onboarding_started",
    ]


def test_running_it_again_reuses_the_app_and_only_adds_a_secret(onboarding: Onboarding) -> None:
    versions = []
    for _ in range(2):
        consent_url = onboarding.start().json()["consent_url"]
        done = onboarding.callback(onboarding.consent(consent_url))
        assert outcome(done)["onboarding"] == ["connected"]
        versions.append(onboarding.config().client_secret_version)
    (app,) = onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id)
    assert len(app["passwordCredentials"]) == 2
    # The same app's secret from the first run stays the fallback while the new one
    # reaches every Entra replica.
    assert onboarding.config().client_secret_previous_version == versions[0] != versions[1]
    assert onboarding.sign_in().headers["Location"].find("sso_error") == -1


def test_a_refused_consent_changes_nothing_and_says_so(onboarding: Onboarding) -> None:
    consent_url = onboarding.start().json()["consent_url"]
    done = onboarding.callback(onboarding.consent(consent_url, decision="cancel"))
    assert outcome(done)["onboarding_error"] == ["consent_denied"]
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []
    assert onboarding.config().client_id is None


def test_a_state_replayed_unknown_or_from_another_browser_is_refused(
    onboarding: Onboarding,
) -> None:
    # A tenant admin's start (bearer token) binds the consent to their browser.
    admin = _tenant_admin_token(onboarding)
    started = onboarding.http.post(
        f"{onboarding.host.url}/api/admin/tenants/{TENANT}/onboarding/microsoft",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert started.status_code == 200, started.text
    binding = re.match(r"([^=]+=[^;]+)", started.headers["Set-Cookie"])
    assert binding and "httponly" in started.headers["Set-Cookie"].lower()
    callback = onboarding.consent(started.json()["consent_url"])
    elsewhere = onboarding.callback(callback)  # another browser: no cookie
    assert elsewhere.status_code == 400 and "another browser" in elsewhere.text
    # That attempt used the state up: the right browser now gets the same page.
    again = onboarding.callback(callback, cookie=binding.group(1))
    assert again.status_code == 400
    unknown = onboarding.callback(
        f"{onboarding.host.url}/api/onboarding/microsoft/callback?state=forged&admin_consent=True"
        f"&tenant={onboarding.directory.northwind_tenant_id}"
    )
    assert unknown.status_code == 400
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []


def test_a_consent_that_comes_back_after_ten_minutes_is_refused(onboarding: Onboarding) -> None:
    callback = onboarding.consent(onboarding.start().json()["consent_url"])
    tables = onboarding.services.tables
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)
    tables.clock = lambda: later
    expired = onboarding.callback(callback)
    assert expired.status_code == 400 and "expired" in expired.text
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []


def test_the_right_browser_finishes_a_bound_start(onboarding: Onboarding) -> None:
    admin = _tenant_admin_token(onboarding)
    started = onboarding.http.post(
        f"{onboarding.host.url}/api/admin/tenants/{TENANT}/onboarding/microsoft",
        headers={"Authorization": f"Bearer {admin}"},
    )
    binding = started.headers["Set-Cookie"].split(";")[0]
    done = onboarding.callback(onboarding.consent(started.json()["consent_url"]), cookie=binding)
    assert outcome(done)["onboarding"] == ["connected"]


def test_a_consumer_account_and_another_directory_are_refused(
    onboarding: Onboarding, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in hosts no personal-account directory, so the verified ID token's
    # directory is given here: the one step of the callback not run for real.
    service = onboarding.services.onboarding
    monkeypatch.setattr(service, "consenting_directory", lambda token, nonce: CONSUMER_TENANT)
    consumer = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(consumer)["onboarding_error"] == ["consumer_tenant"]
    monkeypatch.undo()

    # A tenant that names its directory cannot be re-pointed at another one.
    onboarding.services.configs.put_tenant(
        "contoso",
        "Contoso",
        OAuth2Config(customer_id=CUSTOMER, tenant_id=onboarding.directory.tenant_id),
    )
    other = onboarding.callback(
        onboarding.consent(onboarding.start("contoso").json()["consent_url"])
    )
    assert outcome(other)["onboarding_error"] == ["invalid_state"]
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []


def test_an_unsigned_answer_naming_a_directory_builds_nothing(onboarding: Onboarding) -> None:
    # The admin-consent endpoint's answer names the directory as a bare parameter. A
    # customer holding a state for their own tenant writes Northwind's id (ids are
    # public) instead of going to Entra: only a code that redeems for a verified ID
    # token names a directory.
    northwind = onboarding.directory.northwind_tenant_id
    state = parse_qs(urlsplit(onboarding.start().json()["consent_url"]).query)["state"][0]
    forged = onboarding.callback(
        f"{onboarding.host.url}/api/onboarding/microsoft/callback"
        f"?admin_consent=True&tenant={northwind}&state={state}"
    )
    assert outcome(forged)["onboarding_error"] == ["invalid_state"]
    assert onboarding.entra.onboarded_apps(northwind) == []
    config = onboarding.config()
    assert config.tenant_id is None and not config.enabled and not config.client_secret_set


def test_a_code_from_another_consent_does_not_redeem_for_this_one(onboarding: Onboarding) -> None:
    # Two starts; the admin's code of the second sent back with the first's state:
    # the first's PKCE verifier does not fit it, so Entra refuses and nothing is built.
    onboarding.services.configs.put_tenant("acme", "Acme", OAuth2Config(customer_id=CUSTOMER))
    first = parse_qs(urlsplit(onboarding.start("acme").json()["consent_url"]).query)["state"][0]
    theirs = urlsplit(onboarding.consent(onboarding.start().json()["consent_url"]))
    code = parse_qs(theirs.query)["code"][0]
    swapped = onboarding.callback(
        f"{onboarding.host.url}/api/onboarding/microsoft/callback?code={code}&state={first}"
    )
    assert outcome(swapped)["onboarding_error"] == ["consent_failed"]
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []
    acme = onboarding.config("acme")
    assert acme.tenant_id is None and not acme.client_secret_set


def test_a_forged_answer_naming_another_customers_directory_builds_nothing(
    onboarding: Onboarding,
) -> None:
    # Northwind connected; someone of Northwind's directory (proven by their ID token,
    # which proves membership, not that they run it) starts onboarding for another
    # tenant: a directory another tenant uses is refused unless the operator named it.
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding"] == ["connected"]
    northwind = onboarding.directory.northwind_tenant_id
    apps_before = onboarding.entra.onboarded_apps(northwind)
    onboarding.services.configs.put_tenant("acme", "Acme", OAuth2Config(customer_id=CUSTOMER))
    again = onboarding.callback(onboarding.consent(onboarding.start("acme").json()["consent_url"]))
    assert outcome(again)["onboarding_error"] == ["invalid_state"]
    assert onboarding.entra.onboarded_apps(northwind) == apps_before  # no app made there
    acme = onboarding.config("acme")
    assert acme.tenant_id is None and not acme.enabled and not acme.client_secret_set


def test_a_directory_once_onboarded_stays_its_tenants_after_it_disconnects(
    onboarding: Onboarding,
) -> None:
    # Northwind connected, then cleared its directory. A plain member of Northwind's
    # directory (a signed ID token proves membership, not that they run it) who
    # administers another tenant here must not get that directory: only the
    # tenant that first onboarded it, or one the operator names it for.
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding"] == ["connected"]
    onboarding.services.configs.put_tenant(TENANT, "Northwind", OAuth2Config(customer_id=CUSTOMER))
    onboarding.services.configs.put_tenant("acme", "Acme", OAuth2Config(customer_id=CUSTOMER))
    member = onboarding.directory.northwind_user.upn
    consent_url = onboarding.start("acme").json()["consent_url"] + f"&login_hint={member}"
    taken = onboarding.callback(onboarding.consent(consent_url))
    assert outcome(taken)["onboarding_error"] == ["invalid_state"]
    assert onboarding.config("acme").tenant_id is None
    # Northwind itself connects it again.
    again = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(again)["onboarding"] == ["connected"]
    assert onboarding.config().tenant_id == onboarding.directory.northwind_tenant_id


STEPS = (
    "list_applications",
    "instantiate",
    "patch_application",
    "service_principals",
    "permission_grant",
    "add_password",
)


@pytest.mark.parametrize("step", STEPS)
def test_each_graph_step_failing_once_is_retried(onboarding: Onboarding, step: str) -> None:
    onboarding.entra.set_onboarding_faults(
        step_faults={
            step: {"status": 503 if step != "instantiate" else 429, "times": 1, "retry_after": 1}
        }
    )
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding"] == ["connected"]
    assert len(onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id)) == 1


def test_graphs_replication_delay_is_waited_out(onboarding: Onboarding) -> None:
    onboarding.entra.set_onboarding_faults(replication_404s=3)
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding"] == ["connected"]


@pytest.mark.parametrize("step", ["patch_application", "permission_grant", "add_password"])
def test_a_step_failing_for_good_leaves_no_orphan_and_no_change(
    onboarding: Onboarding, step: str
) -> None:
    onboarding.entra.set_onboarding_faults(step_faults={step: {"status": 403, "times": 0}})
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding_error"] == ["graph_failed"]
    assert onboarding.entra.onboarded_apps(onboarding.directory.northwind_tenant_id) == []
    assert onboarding.config().client_id is None
    events, _ = onboarding.services.audit.list(TENANT, limit=20, cursor=None)
    assert "onboarding_app_deleted" in [e["action"] for e in events]


@pytest.mark.parametrize("step", ["instantiate", "add_password", "permission_grant"])
def test_a_create_graph_may_have_made_is_never_sent_twice(
    onboarding: Onboarding, step: str
) -> None:
    # Graph acts, then the answer is lost (a gateway's 504): sending the POST again
    # would make a second app, a second live secret nobody holds, or a grant that
    # conflicts. The onboarding fails instead, and the run's app is deleted.
    onboarding.entra.set_onboarding_faults(
        step_faults={step: {"status": 504, "times": 1, "after_acting": True}}
    )
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding_error"] == ["graph_failed"]
    directory = onboarding.directory.northwind_tenant_id
    made = onboarding.entra.onboarded_apps(directory)
    # The instantiate whose answer was lost leaves the one app Graph made (its id
    # never reached us); every later step's app is ours, and deleted.
    assert len(made) == (1 if step == "instantiate" else 0)
    assert onboarding.config().client_id is None


def test_a_failed_clean_up_is_audited(onboarding: Onboarding) -> None:
    onboarding.entra.set_onboarding_faults(
        step_faults={
            "add_password": {"status": 400, "times": 0},
            "delete_application": {"status": 400, "times": 0},
        }
    )
    done = onboarding.callback(onboarding.consent(onboarding.start().json()["consent_url"]))
    assert outcome(done)["onboarding_error"] == ["graph_failed"]
    events, _ = onboarding.services.audit.list(TENANT, limit=20, cursor=None)
    assert "onboarding_cleanup_failed" in [e["action"] for e in events]


def test_return_to_must_be_allowed_and_onboarding_must_be_configured(
    onboarding: Onboarding,
) -> None:
    refused = onboarding.start(body={"return_to": "https://evil.example/steal"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request" and "return_to" in refused.json()["fields"]
    onboarding.services.settings = dataclasses.replace(
        onboarding.services.settings, onboarding_client_id=None
    )
    onboarding.services.rebuild("onboarding")
    off = onboarding.start()
    assert off.status_code == 503 and off.json()["error"] == "onboarding_not_configured"


def _tenant_admin_token(onboarding: Onboarding) -> str:
    """A signed-in tenant admin of Northwind, whose SSO already works (with some app:
    a tenant admin can only sign in where SSO is on); onboarding replaces the app."""
    import datetime as dt
    import uuid

    onboarding.services.secrets.set_secret(client_secret_name(TENANT), "an-earlier-app-secret")
    onboarding.services.configs.put_tenant(
        TENANT,
        "Northwind",
        OAuth2Config(
            enabled=True,
            customer_id=CUSTOMER,
            client_id="11111111-2222-4333-8444-555555555555",
            tenant_id=onboarding.directory.northwind_tenant_id,
            client_secret_set=True,
        ),
    )

    from shared.signin.provisioning import SignInIdentity
    from shared.users import ROLE_TENANT_ADMIN, Entitlements

    admin = onboarding.services.users.provision(
        SignInIdentity(
            tenant_id=onboarding.directory.northwind_tenant_id,
            object_id=str(uuid.uuid4()),
            email="boss@northwind.example",
            name="Boss",
            group_ids=(),
        ),
        tenant=TENANT,
        customer_id=CUSTOMER,
        entitlements=Entitlements(profiles=(), roles=(ROLE_TENANT_ADMIN,)),
        now=dt.datetime.now(dt.UTC),
    )
    return onboarding.services.sessions.start_session(admin).access_token
