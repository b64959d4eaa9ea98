"""The daily credential-watch timer as the Functions host runs it, against Azurite:
registered for 06:00 UTC, it audits an expiring and an expired secret once, and
/api/health counts them without naming any tenant."""

from __future__ import annotations

import datetime as dt

import pytest

from devtools.azurite import Azurite
from devtools.fake_keyvault import FakeKeyVault
from shared.tenants.model import OAuth2Config
from tests.integration.test_housekeeping import PastDueTimer
from tests.support.system import installed_services, make_settings


def test_the_timer_audits_expiring_and_expired_secrets_once(
    azurite: Azurite, fake_keyvault: FakeKeyVault, request: pytest.FixtureRequest
) -> None:
    # The host's scheduler cannot run here (no Core Tools): the registered function
    # is called as the host calls it when the schedule fires.
    from devtools.funchost import registered_functions
    from function_app import app

    (timer,) = [
        f for f in registered_functions(app) if f.get_function_name() == "watch_credential_expiry"
    ]
    binding = timer.get_trigger()
    assert binding is not None
    assert binding.get_dict_repr()["schedule"] == "0 0 6 * * *"
    # A run that skipped a failing tenant fails, and the host runs it again that day
    # (the worker hands this policy to the host when it indexes the functions).
    retry = timer.get_settings_dict("retry_policy")
    assert retry is not None and retry["strategy"] == "exponential_backoff"
    assert int(retry["max_retry_count"]) >= 3
    today = dt.datetime.now(dt.UTC).date()
    with installed_services(make_settings(azurite, fake_keyvault), azurite, request) as services:
        for slug, days in (("acme", 12), ("globex", -3), ("initech", 300)):
            services.configs.put_tenant(
                slug,
                slug.title(),
                OAuth2Config(
                    enabled=True,
                    client_secret_set=True,
                    client_secret_expires_on=today + dt.timedelta(days=days),
                ),
            )
        timer.get_user_function()(PastDueTimer())
        timer.get_user_function()(PastDueTimer())  # a second instance, the same day

        def actions(slug: str) -> list[str]:
            events, _ = services.audit.list(slug, limit=10, cursor=None)
            return [e["action"] for e in events]

        assert actions("acme") == ["credential_expiring"]
        assert actions("globex") == ["credential_expired"]
        assert actions("initech") == []
