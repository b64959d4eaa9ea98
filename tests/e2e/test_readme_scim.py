"""The README's "Provisioning with SCIM" walkthrough runs as written against the local
host (only the host's address, the platform key and temporary files differ), on a
`demo` tenant wired to the demo directory as `make dev` seeds it."""

from __future__ import annotations

from pathlib import Path

from shared.signin.provisioning import entra_user_id
from tests.support.admin import PLATFORM_KEY, PROFILE_A, AdminSystem, complete_config
from tests.support.readme import run_walkthrough

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_DIRECTORY = "39f125d9-e532-58d3-bc5f-5e419b23e9f9"  # devtools/fake_entra/demo_directory.json
ENGINEERING = "5f14a95a-1a39-5d33-9df2-76615f670829"
GRACE = "ec9eb56b-ca3a-5f26-b409-d7095e9e5d8e"


def test_the_readme_scim_walkthrough_works(admin_system: AdminSystem, tmp_path: Path) -> None:
    system = admin_system
    system.create_tenant("demo", "Demo")
    config = complete_config() | {
        "tenant_id": DEMO_DIRECTORY,
        "profile_mappings": [{"profile_id": PROFILE_A, "group_id": ENGINEERING}],
        "admin_group_ids": [],
    }
    assert system.configure("demo", **config).status_code == 200

    output = run_walkthrough(
        "Provisioning with SCIM",
        api=f"{system.host.url}/api",
        key=PLATFORM_KEY,
        scratch=tmp_path,
    )
    assert '"status"' not in output  # no SCIM Error on the way
    grace = system.services.users.get("demo", entra_user_id(DEMO_DIRECTORY, GRACE))
    assert grace is not None, "Grace is keyed by her Entra identity"
    assert grace.profiles == (PROFILE_A,) and grace.disabled
    assert system.audit_actions("demo")[:4] == [
        "scim_user_deactivated",
        "scim_group_updated",
        "scim_group_created",
        "scim_user_created",
    ]
