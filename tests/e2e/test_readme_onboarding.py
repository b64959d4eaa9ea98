"""The README's "Connect Microsoft in one click" walkthrough runs as written against
the local host (its address, the platform key and the Entra stand-in differ), and
the consent link it prints, opened and accepted as the README says, connects the
new customer."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.e2e.test_onboarding import PLATFORM_KEY, PUBLIC, Onboarding, onboarding  # noqa: F401
from tests.support.readme import run_walkthrough


def test_the_readme_onboarding_walkthrough_works(onboarding: Onboarding) -> None:  # noqa: F811
    output = run_walkthrough(
        "Connect Microsoft in one click",
        api=f"{onboarding.host.url}/api",
        key=PLATFORM_KEY,
        variables={"DIRECTORY": onboarding.directory.northwind_tenant_id},
    )
    found = re.findall(r'"consent_url":\s*"([^"]+)"', output)
    assert found, output
    consent_url = found[-1]
    # "open consent_url in a browser, choose Demo Corp, Accept" (here: Northwind, the
    # directory this stand-in hosts for it, given as DIRECTORY above)
    done = onboarding.callback(onboarding.consent(consent_url))
    assert done.status_code == 302, done.text
    location = urlsplit(done.headers["Location"])
    assert location.path == "/api/auth/globex/login"
    assert parse_qs(location.query) == {"onboarding": ["connected"]}
    config = onboarding.config("globex")
    assert config.enabled and config.tenant_id == onboarding.directory.northwind_tenant_id
    assert onboarding.sign_in("globex").headers["Location"].startswith(PUBLIC)
