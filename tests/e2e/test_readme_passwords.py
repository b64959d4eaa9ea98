"""The README's "Password users and Enforce SSO" walkthrough runs as written against
the local host (only the host's address, the platform key and temporary files
differ), on a `demo` tenant whose SSO works and whose admin signed in lately."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.users import ROLE_TENANT_ADMIN
from tests.support.admin import PLATFORM_KEY, AdminSystem, complete_config

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    section = README.read_text().split("## Password users and Enforce SSO", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    assert blocks, "the README's password section has no sh block"
    return str(blocks[0])


def test_the_readme_password_walkthrough_works(admin_system: AdminSystem, tmp_path: Path) -> None:
    system = admin_system
    system.create_tenant("demo", "Demo")
    assert system.configure("demo", **complete_config()).status_code == 200
    system.add_user("demo", roles=(ROLE_TENANT_ADMIN,))  # signed in with Microsoft just now

    script = walkthrough()
    script = re.sub(r"^API=.*$", f"API={system.host.url}/api", script, flags=re.M)
    script = re.sub(r"^KEY=.*$", f'KEY="X-Platform-Admin-Key: {PLATFORM_KEY}"', script, flags=re.M)
    script = script.replace("/tmp/", f"{tmp_path}/")
    script = script.replace("curl -s ", "curl -sSf ")  # an HTTP error fails the script
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert '"error"' not in run.stdout
    assert system.services.admin.get_config("demo").body["enforce_sso"] is False
    actions = system.audit_actions("demo")
    assert actions[:5] == [
        "config_updated",  # off again
        "config_updated",  # Enforce SSO on
        "sign_in",  # with the password
        "password_set",
        "user_created",
    ]
