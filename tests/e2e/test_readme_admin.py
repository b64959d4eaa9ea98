"""The README's Admin API walkthrough runs as written against the local host (only the
host's address, the platform key and a temporary file differ), so the docs stay true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.store.secrets import client_secret_name
from tests.support.admin import PLATFORM_KEY, AdminSystem

README = Path(__file__).resolve().parents[2] / "README.md"


def admin_walkthrough() -> str:
    section = README.read_text().split("## Admin API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the README's Admin API section has no sh block"
    return str(blocks[0])


def test_the_readme_admin_walkthrough_configures_a_working_tenant(
    admin_system: AdminSystem, tmp_path: Path
) -> None:
    script = admin_walkthrough()
    script = re.sub(
        r"^BASE=.*$", f"BASE={admin_system.host.url}/api/admin/tenants", script, flags=re.M
    )
    script = re.sub(r"^KEY=.*$", f'KEY="X-Platform-Admin-Key: {PLATFORM_KEY}"', script, flags=re.M)
    script = script.replace("/tmp/acme.headers", str(tmp_path / "headers"))
    # -f: an HTTP error fails the script, so every step must succeed as written.
    script = script.replace("curl -s ", "curl -sSf ")
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert '"error"' not in run.stdout

    document = admin_system.services.admin.get_config("acme").body
    assert document["enabled"] is True
    assert len(document["profile_mappings"]) == 2
    assert document["admin_group_ids"] == ["d81ddf25-c37d-5c3e-860d-d2227bd600ea"]
    assert document["client_secret"] == "dem*****"
    secret = admin_system.services.secrets.get_secret(client_secret_name("acme"))
    assert secret is not None
    assert secret.value.reveal() == "demo-client-secret-for-local-dev-only"
    assert admin_system.audit_actions("acme") == [
        "config_updated",
        "client_secret_rotated",
        "config_created",
        "tenant_created",
    ]
