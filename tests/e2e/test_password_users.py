"""Password users over HTTP, as an admin and a person would use them: the admin
creates the user, the person opens the invite link, chooses a password, is signed
in, and later signs in with it; refusals answer the contract's codes and change
nothing."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from tests.support.admin import ADMIN_TENANT, PLATFORM_KEY, AdminSystem
from tests.support.funchost import command_line
from tests.support.signin import set_cookies
from tests.support.system import tables_prefix_of

PASSWORD = "a phrase only she knows well"


def create(system: AdminSystem, email: str = "grace@partner.example") -> requests.Response:
    body = {"email": email, "name": "Grace Hopper", "provider": "password"}
    return system.call("POST", f"{ADMIN_TENANT}/users", json=body)


def grace_with_her_password(system: AdminSystem) -> None:
    """The tenant, and Grace, invited, who has set PASSWORD."""
    system.create_tenant()
    invite = create(system).json()["invite_url"]
    chosen = system.http.post(
        url(system, "set-password"), json={"token": token_of(invite), "password": PASSWORD}
    )
    assert chosen.status_code == 200, chosen.text


def url(system: AdminSystem, path: str) -> str:
    return f"{system.host.url}/api/auth/{ADMIN_TENANT}/{path}"


def throttle_rows(system: AdminSystem) -> list[tuple[str, str]]:
    """The tenant's throttle counts (per email, per address) as stored."""
    from shared.store.tenant_partition import TABLE

    rows = system.services.tables.scan_partition(TABLE, partition_key=ADMIN_TENANT)
    return sorted(
        (r.row_key, repr(sorted(r.data.items()))) for r in rows if "throttle" in r.row_key
    )


def token_of(invite_url: str) -> str:
    return urlsplit(invite_url).query.removeprefix("token=")


def test_an_invited_person_sets_a_password_in_the_browser_then_signs_in(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    system.create_tenant()
    created = create(system)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["provider"], answer["email"]) == ("password", "grace@partner.example")
    invite = answer["invite_url"]
    assert invite.startswith(f"{system.services.settings.public_base_url}/api/auth/acme/")

    page = system.http.get(url(system, "set-password"), params={"token": token_of(invite)})
    assert page.status_code == 200 and "grace@partner.example" in page.text
    assert "autocomplete=new-password" in page.text

    # The form, sent from the page as a browser sends it (its own Origin).
    own = {"Origin": system.services.settings.public_base_url}
    weak = system.http.post(
        url(system, "set-password"),
        data={"token": token_of(invite), "password": "Password1234"},
        headers=own,
        allow_redirects=False,
    )
    assert weak.status_code == 400 and "too common" in weak.text  # the link still works

    elsewhere = system.http.post(  # another site's form: refused, the link still works
        url(system, "set-password"),
        data={"token": token_of(invite), "password": PASSWORD},
        headers={"Origin": "https://attacker.example"},
        allow_redirects=False,
    )
    assert elsewhere.status_code == 403 and "Set-Cookie" not in elsewhere.headers
    chosen = system.http.post(
        url(system, "set-password"),
        data={"token": token_of(invite), "password": PASSWORD},
        headers=own,
        allow_redirects=False,
    )
    assert chosen.status_code == 302
    assert {"__Host-eb_session", "__Host-eb_refresh"} <= set(set_cookies(chosen))

    again = system.http.get(url(system, "set-password"), params={"token": token_of(invite)})
    assert again.status_code == 400 and "already used or has expired" in again.text

    signed_in = system.http.post(
        url(system, "password"), json={"email": "GRACE@partner.example", "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    me = system.http.get(
        url(system, "me"),
        headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"},
    )
    assert (me.json()["email"], me.json()["provider"]) == ("grace@partner.example", "password")
    assert system.audit_actions()[:3] == ["sign_in", "password_set", "user_created"]


def test_wrong_password_and_unknown_email_answer_alike_and_in_about_the_same_time(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    system.create_tenant()
    people = [f"person{n}@partner.example" for n in range(20)]
    for email in people:
        invite = create(system, email=email).json()["invite_url"]
        chosen = system.http.post(
            url(system, "set-password"), json={"token": token_of(invite), "password": PASSWORD}
        )
        assert chosen.status_code == 200, chosen.text

    def attempt(email: str, n: int) -> tuple[float, requests.Response]:
        # One try per email and per address: the throttle stays out of the way. The
        # host runs in this process: its CPU time is the work an attacker's clock
        # would see, which a loaded test machine's wall time would blur at random.
        started = time.process_time()
        answer = system.http.post(
            url(system, "password"),
            json={"email": email, "password": "not her phrase, no"},
            headers={"X-Forwarded-For": f"10.0.{n // 200}.{n % 200 + 1}"},
        )
        return time.process_time() - started, answer

    # Interleaved, so both kinds meet the same machine load.
    wrong, unknown = [], []
    for n, email in enumerate(people):
        wrong.append(attempt(email, n))
        unknown.append(attempt(f"nobody{n}@partner.example", 100 + n))
    bodies = {(a.status_code, a.json()["error"]) for _, a in wrong + unknown}
    assert bodies == {(401, "invalid_credentials")}
    ratio = statistics.median(t for t, _ in unknown) / statistics.median(t for t, _ in wrong)
    assert 0.75 <= ratio <= 1.25, ratio


def test_guessing_is_throttled_with_a_retry_after(admin_system: AdminSystem) -> None:
    system = admin_system
    grace_with_her_password(system)
    guess = {"email": "grace@partner.example", "password": "not her phrase, no"}
    statuses = [system.http.post(url(system, "password"), json=guess).status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = system.http.post(
        url(system, "password"), json={"email": "grace@partner.example", "password": PASSWORD}
    )
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_attempts"
    assert locked.headers["Retry-After"] == "15"
    # Written just after each answer (so its time names no account): wait for them.
    deadline = time.monotonic() + 5
    while True:
        events, _ = system.services.audit.list(ADMIN_TENANT, limit=20, cursor=None)
        refused = [e for e in events if e["action"] == "sign_in_refused"]
        if len(refused) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(refused) == 5 and {e["code"] for e in refused} == {"invalid_credentials"}


def test_the_login_form_throttled_says_when_to_come_back(admin_system: AdminSystem) -> None:
    system = admin_system
    grace_with_her_password(system)
    form = {"email": "grace@partner.example", "password": "not her phrase, no"}
    same_site = {"Sec-Fetch-Site": "same-origin"}

    def post() -> requests.Response:
        return system.http.post(
            url(system, "password"), data=form, headers=same_site, allow_redirects=False
        )

    assert [post().status_code for _ in range(5)] == [401] * 5
    locked = post()
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "15"
    assert "Try again in 15 seconds" in locked.text


def test_another_sites_form_cannot_sign_anyone_in(admin_system: AdminSystem) -> None:
    # Login CSRF: a form on another site posting someone's credentials to us.
    system = admin_system
    grace_with_her_password(system)
    form = {"email": "grace@partner.example", "password": PASSWORD}
    # An opaque origin ("null": a sandboxed frame, a data: page) is no proof either.
    for headers in (
        {"Origin": "https://attacker.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        refused = system.http.post(
            url(system, "password"), data=form, headers=headers, allow_redirects=False
        )
        assert refused.status_code == 403, headers
        assert "Set-Cookie" not in refused.headers
    same = system.http.post(
        url(system, "password"),
        data=form,
        headers={"Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert same.status_code == 302 and "__Host-eb_session" in set_cookies(same)
    # A client that is no browser (nothing says where it came from) posts the form as
    # the contract describes it: no other site can have made it send this.
    client = system.http.post(url(system, "password"), data=form, allow_redirects=False)
    assert client.status_code == 302 and "__Host-eb_session" in set_cookies(client)


def test_an_email_in_use_is_409_and_a_bad_body_names_its_fields(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    system.create_tenant()
    assert create(system).status_code == 201
    taken = create(system, email="Grace@Partner.example")
    assert taken.status_code == 409 and taken.json()["error"] == "email_in_use"
    bad = system.call("POST", f"{ADMIN_TENANT}/users", json={"email": "x", "provider": "ldap"})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"email", "name", "provider"}
    listed = system.call("GET", f"{ADMIN_TENANT}/users").json()["users"]
    assert [u["email"] for u in listed] == ["grace@partner.example"]


def test_a_sign_in_body_without_its_fields_is_a_400_naming_them_and_counts_nothing(
    admin_system: AdminSystem,
) -> None:
    system = admin_system
    grace_with_her_password(system)
    before = throttle_rows(system)
    bodies: tuple[tuple[dict[str, Any], set[str]], ...] = (
        ({}, {"email", "password"}),
        ({"email": 5, "password": ["x"]}, {"email", "password"}),
        ({"password": PASSWORD}, {"email"}),
        ({"email": "grace@partner.example", "password": ""}, {"password"}),
        ({"email": "   ", "password": PASSWORD}, {"email"}),
    )
    for body, named in bodies:
        refused = system.http.post(url(system, "password"), json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["error"] == "invalid_request"
        assert set(refused.json()["fields"]) == named, body
    forgot = system.http.post(url(system, "password/forgot"), json={"email": None})
    assert forgot.status_code == 400 and set(forgot.json()["fields"]) == {"email"}
    form = system.http.post(
        url(system, "password"),
        data={"email": "", "password": ""},
        headers={"Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert form.status_code == 400 and "Enter your email address and password." in form.text
    # Spaces are no email, but may be a password (the policy takes them): only the
    # email is asked for again, and where the person was going is kept.
    spaced = system.http.post(
        url(system, "password"),
        data={"email": "  ", "password": " " * 12, "return_to": f"/api/auth/{ADMIN_TENANT}/me"},
        headers={"Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )
    assert spaced.status_code == 400 and "Enter your email address." in spaced.text
    assert f"name=return_to value='/api/auth/{ADMIN_TENANT}/me'" in spaced.text
    # None of them counted against Grace, nor against the address: five wrong
    # passwords still come before the first wait, and then hers works after it.
    assert throttle_rows(system) == before


def test_a_password_holding_half_a_utf16_pair_is_refused_not_a_crash(
    admin_system: AdminSystem,
) -> None:
    # "\ud800" is valid in a JSON string but has no UTF-8 form: choosing it is a 400
    # naming the field (the link stays usable), signing in with it a wrong password.
    system = admin_system
    system.create_tenant()
    invite = create(system, email="ada@partner.example").json()["invite_url"]
    odd = "a long phrase \ud800 of my own"
    refused = system.http.post(
        url(system, "set-password"), json={"token": token_of(invite), "password": odd}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert "password" in refused.json()["fields"]
    chosen = system.http.post(
        url(system, "set-password"), json={"token": token_of(invite), "password": PASSWORD}
    )
    assert chosen.status_code == 200, chosen.text
    for email in ("ada@partner.example", "nobody@partner.example"):
        wrong = system.http.post(url(system, "password"), json={"email": email, "password": odd})
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_credentials")


def test_creating_users_needs_an_admin_credential(admin_system: AdminSystem) -> None:
    system = admin_system
    system.create_tenant()
    refused = system.call(
        "POST",
        f"{ADMIN_TENANT}/users",
        key=None,
        json={"email": "a@b.example", "name": "A", "provider": "password"},
    )
    assert refused.status_code == 401
    assert system.call("GET", f"{ADMIN_TENANT}/users").json()["users"] == []


def test_another_host_process_sees_the_same_failures(
    admin_system: AdminSystem,
    azurite: Azurite,
    fake_keyvault: FakeKeyVault,
    request: pytest.FixtureRequest,
) -> None:
    # Another instance: `python -m devtools.funchost` in its own process, same tables.
    system = admin_system
    grace_with_her_password(system)
    settings = system.services.settings
    env = {
        "PUBLIC_BASE_URL": settings.public_base_url,
        "KEY_VAULT_URI": fake_keyvault.base_url,
        "TABLES_CONNECTION_STRING": azurite.connection_string,
        "AZURE_CREDENTIAL_MODE": "offline",
        "PLATFORM_ADMIN_KEY": PLATFORM_KEY,
        "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
    }
    arguments = ("--settings", "/nonexistent/local.settings.json")
    prefix = ("--tables-prefix", tables_prefix_of(request))
    guess = {"email": "grace@partner.example", "password": "a wrong long guess"}
    with command_line(*arguments, *prefix, env=env) as (other, _):
        statuses = [
            requests.post(f"{other}/api/auth/{ADMIN_TENANT}/password", json=guess, timeout=10)
            for _ in range(5)
        ]
    assert [answer.status_code for answer in statuses] == [401] * 5
    locked = system.http.post(
        url(system, "password"), json={"email": "grace@partner.example", "password": PASSWORD}
    )
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "15"
