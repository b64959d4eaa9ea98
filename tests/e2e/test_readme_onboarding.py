"""The README's "Connect Microsoft in one click" walkthrough runs as written against
the local host (its address, the platform key and the Entra stand-in differ), and
the consent link it prints, opened and accepted as the README says, connects the
new customer."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.e2e.test_onboarding import PLATFORM_KEY, PUBLIC, Onboarding, onboarding  # noqa: F401

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    section = README.read_text().split("## Connect Microsoft in one click", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    assert blocks, "the README's onboarding section has no sh block"
    return str(blocks[0])


def test_the_readme_onboarding_walkthrough_works(onboarding: Onboarding) -> None:  # noqa: F811
    script = walkthrough()
    script = re.sub(r"^API=.*$", f"API={onboarding.host.url}/api", script, flags=re.M)
    script = re.sub(r"^KEY=.*$", f'KEY="X-Platform-Admin-Key: {PLATFORM_KEY}"', script, flags=re.M)
    script = script.replace("curl -s ", "curl -sSf ")
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    found = re.findall(r'"consent_url":\s*"([^"]+)"', run.stdout)
    assert found, run.stdout
    consent_url = found[-1]
    # "open consent_url in a browser, choose Demo Corp, Accept" (here: Northwind)
    done = onboarding.callback(onboarding.consent(consent_url))
    assert done.status_code == 302, done.text
    location = urlsplit(done.headers["Location"])
    assert location.path == "/api/auth/globex/login"
    assert parse_qs(location.query) == {"onboarding": ["connected"]}
    config = onboarding.config("globex")
    assert config.enabled and config.tenant_id == onboarding.directory.northwind_tenant_id
    assert onboarding.sign_in("globex").headers["Location"].startswith(PUBLIC)
