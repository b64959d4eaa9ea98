"""Certificate credentials end to end: a tenant admin makes a certificate through the
admin API (the private key stays in Key Vault), sign-in keeps working with the
previous credential until Entra has the certificate, then authenticates with a
signed client assertion that the Entra stand-in verifies (signature by the
uploaded certificate, audience, expiry, jti; tests/integration/test_fake_entra_assertions.py
checks each refusal)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from tests.e2e.test_admin_with_signin import admin_call, signed_in
from tests.support.signin import SignInSystem


def sso_error(answer: requests.Response) -> str | None:
    found = parse_qs(urlsplit(answer.headers["Location"]).query).get("sso_error")
    return found[0] if found else None


def test_a_certificate_replaces_the_secret_without_a_failed_sign_in(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    admin = signed_in(system, "several_groups")["__Host-eb_session"]
    made = admin_call(system, "POST", "oauth2/client-certificate", admin)
    assert made.status_code == 201, made.text
    answer = made.json()
    assert set(answer) == {"certificate_pem", "thumbprint", "expires_on"}
    assert answer["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in made.text
    assert len(answer["thumbprint"]) == 40
    document = admin_call(system, "GET", "oauth2", admin).json()
    assert document["credential_type"] == "certificate"
    assert 360 <= document["credential_expires_in_days"] <= 366
    assert "PRIVATE KEY" not in str(document)

    # Entra does not have the certificate yet: sign-in goes on with the secret.
    before_upload = system.browser_sign_in("one_group")
    assert before_upload.status_code == 302 and sso_error(before_upload) is None

    # The admin uploads it, and the old secret is removed from the app registration:
    # only the certificate can authenticate now.
    directory = system.directory
    system.entra.add_certificate(
        directory.tenant_id, directory.client_id, answer["certificate_pem"]
    )
    system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    for _ in range(2):
        with_certificate = system.browser_sign_in("one_group")
        assert with_certificate.status_code == 302 and sso_error(with_certificate) is None
    events = admin_call(system, "GET", "audit", admin).json()["events"]
    created = next(e for e in events if e["action"] == "client_certificate_created")
    assert created["fields"] == ["client_certificate"] and answer["thumbprint"] in created["detail"]


def test_a_certificate_entra_does_not_have_fails_once_nothing_else_works(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    admin = signed_in(system, "several_groups")["__Host-eb_session"]
    assert admin_call(system, "POST", "oauth2/client-certificate", admin).status_code == 201
    directory = system.directory
    system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    refused = system.browser_sign_in("one_group")
    assert sso_error(refused) == "sso_idp_rejected"
    # The certificate was refused (AADSTS700027), then the previous secret (7000215):
    # the reference is the last answer's.
    reference = parse_qs(urlsplit(refused.headers["Location"]).query).get("sso_error_ref")
    assert reference == ["AADSTS7000215"]


def test_one_certificate_replaces_another_without_a_failed_sign_in(
    signin_system: SignInSystem,
) -> None:
    system = signin_system
    directory = system.directory
    admin = signed_in(system, "several_groups")["__Host-eb_session"]
    first = admin_call(system, "POST", "oauth2/client-certificate", admin).json()
    system.entra.add_certificate(directory.tenant_id, directory.client_id, first["certificate_pem"])
    system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    assert sso_error(system.browser_sign_in("one_group")) is None  # by the first certificate

    # Rotation: the second certificate is made before Entra has it; sign-in goes on
    # with the first, then, once uploaded and the first removed, with the second alone.
    second = admin_call(system, "POST", "oauth2/client-certificate", admin).json()
    assert second["thumbprint"] != first["thumbprint"]
    assert sso_error(system.browser_sign_in("one_group")) is None
    system.entra.add_certificate(
        directory.tenant_id, directory.client_id, second["certificate_pem"]
    )
    system.entra.remove_certificate(
        directory.tenant_id, directory.client_id, first["certificate_pem"]
    )
    assert sso_error(system.browser_sign_in("one_group")) is None


def test_a_second_certificate_made_before_the_first_was_uploaded_keeps_the_secret_working(
    signin_system: SignInSystem,
) -> None:
    # The admin makes a certificate twice (a retry, a lost PEM) before uploading any:
    # the secret that works must stay the fallback, not the first, never-used one.
    system = signin_system
    directory = system.directory
    admin = signed_in(system, "several_groups")["__Host-eb_session"]
    assert admin_call(system, "POST", "oauth2/client-certificate", admin).status_code == 201
    second = admin_call(system, "POST", "oauth2/client-certificate", admin).json()
    assert sso_error(system.browser_sign_in("one_group")) is None  # by the secret

    system.entra.add_certificate(
        directory.tenant_id, directory.client_id, second["certificate_pem"]
    )
    system.entra.remove_client_secret(
        directory.tenant_id, directory.client_id, directory.client_secret
    )
    assert sso_error(system.browser_sign_in("one_group")) is None  # by the second
    # Proven now: a third one keeps the second as the fallback.
    assert admin_call(system, "POST", "oauth2/client-certificate", admin).status_code == 201
    assert sso_error(system.browser_sign_in("one_group")) is None
