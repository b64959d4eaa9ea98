"""Seeds the `demo` tenant for `make dev`, wired to the Entra stand-in's demo directory.

Read from devtools/fake_entra/demo_directory.json: its directory, its app
registration and client secret, and group-to-profile mappings for
Engineering, Support and Project group 250 (so the user in 250 groups, whose
token has the overage form, gets a profile only through Graph). Members of
"entrabridge tenant admins" become tenant admins.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from devtools.localca import PROJECT_ROOT
from shared.container import Services
from shared.onboarding.service import CREDENTIAL_SECRET
from shared.store.secrets import client_secret_name
from shared.tenants.model import OAuth2Config, ProfileMapping

DEMO_TENANT = "demo"
DEMO_DIRECTORY = PROJECT_ROOT / "devtools" / "fake_entra" / "demo_directory.json"
DEMO_CUSTOMER_ID = "46478538-4689-45b5-994c-d12a49c354b0"
_PROFILES = uuid.UUID("6c0ad2e4-3b1f-4d5e-9a7c-2f4e8b1d0c93")
MAPPED_GROUPS = ("Engineering", "Support", "Project group 250")
ADMIN_GROUP = "entrabridge tenant admins"


def profile_id(group_name: str) -> str:
    return str(uuid.uuid5(_PROFILES, group_name))


def seed_demo_tenant(services: Services) -> dict[str, Any]:
    directory = json.loads(DEMO_DIRECTORY.read_text())["directories"][0]
    app = directory["apps"][0]
    groups = {g["name"]: g["id"] for g in directory["groups"]}
    services.secrets.set_secret(client_secret_name(DEMO_TENANT), app["secrets"][0]["value"])
    onboarding = json.loads(DEMO_DIRECTORY.read_text()).get("multitenant_apps") or []
    if onboarding:  # one-click "Connect Microsoft" works in make dev (ONBOARDING_CLIENT_ID)
        services.secrets.set_secret(CREDENTIAL_SECRET, onboarding[0]["secrets"][0]["value"])
    config = OAuth2Config(
        enabled=True,
        client_id=app["client_id"],
        tenant_id=directory["tenant_id"],
        customer_id=DEMO_CUSTOMER_ID,
        client_secret_set=True,
        profile_mappings=tuple(
            ProfileMapping(profile_id(name), groups[name])
            for name in MAPPED_GROUPS
            if name in groups
        ),
        admin_group_ids=(groups[ADMIN_GROUP],) if ADMIN_GROUP in groups else (),
    )
    services.configs.put_tenant(DEMO_TENANT, "Demo Corp", config)
    return {"tenant": DEMO_TENANT, "profiles": {n: profile_id(n) for n in MAPPED_GROUPS}}
