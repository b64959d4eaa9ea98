"""The README's "Password users and Enforce SSO" walkthrough runs as written against
the local host (only the host's address, the platform key and temporary files
differ), on a `demo` tenant whose SSO works and whose admin signed in lately."""

from __future__ import annotations

from pathlib import Path

from shared.users import ROLE_TENANT_ADMIN
from tests.support.admin import PLATFORM_KEY, AdminSystem, complete_config
from tests.support.readme import run_walkthrough


def test_the_readme_password_walkthrough_works(admin_system: AdminSystem, tmp_path: Path) -> None:
    system = admin_system
    system.create_tenant("demo", "Demo")
    assert system.configure("demo", **complete_config()).status_code == 200
    system.add_user("demo", roles=(ROLE_TENANT_ADMIN,))  # signed in with Microsoft just now

    output = run_walkthrough(
        "Password users and Enforce SSO",
        api=f"{system.host.url}/api",
        key=PLATFORM_KEY,
        scratch=tmp_path,
    )
    assert '"error"' not in output
    assert system.services.admin.get_config("demo").body["enforce_sso"] is False
    actions = system.audit_actions("demo")
    assert actions[:5] == [
        "config_updated",  # off again
        "config_updated",  # Enforce SSO on
        "sign_in",  # with the password
        "password_set",
        "user_created",
    ]
