"""The README's "Provisioning with SCIM" walkthrough runs as written against the local
host (only the host's address, the platform key and temporary files differ), on a
`demo` tenant wired to the demo directory as `make dev` seeds it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.signin.provisioning import entra_user_id
from tests.support.admin import PLATFORM_KEY, PROFILE_A, AdminSystem, complete_config

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_DIRECTORY = "39f125d9-e532-58d3-bc5f-5e419b23e9f9"  # devtools/fake_entra/demo_directory.json
ENGINEERING = "5f14a95a-1a39-5d33-9df2-76615f670829"
GRACE = "ec9eb56b-ca3a-5f26-b409-d7095e9e5d8e"


def walkthrough() -> str:
    section = README.read_text().split("## Provisioning with SCIM", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    assert blocks, "the README's SCIM section has no sh block"
    return str(blocks[0])


def test_the_readme_scim_walkthrough_works(admin_system: AdminSystem, tmp_path: Path) -> None:
    system = admin_system
    system.create_tenant("demo", "Demo")
    config = complete_config() | {
        "tenant_id": DEMO_DIRECTORY,
        "profile_mappings": [{"profile_id": PROFILE_A, "group_id": ENGINEERING}],
        "admin_group_ids": [],
    }
    assert system.configure("demo", **config).status_code == 200

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
    assert '"status"' not in run.stdout  # no SCIM Error on the way
    grace = system.services.users.get("demo", entra_user_id(DEMO_DIRECTORY, GRACE))
    assert grace is not None, "Grace is keyed by her Entra identity"
    assert grace.profiles == (PROFILE_A,) and grace.disabled
    assert system.audit_actions("demo")[:4] == [
        "scim_user_deactivated",
        "scim_group_updated",
        "scim_group_created",
        "scim_user_created",
    ]
