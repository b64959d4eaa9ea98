"""What a user may do, from their Entra groups and the tenant's configuration as it is now.

Pure. A sign-in stores the user's group ids (from the token, or Graph on
overage); a refresh and `/me` recompute profiles and roles from those ids and
the current mappings and `admin_group_ids`, so a mapping removed or an admin
group dropped reaches live sessions without waiting for the next Entra sign-in.
Entra itself is asked again only at sign-in: a membership changed in Entra
shows at the person's next sign-in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from shared.tenants.model import OAuth2Config, is_admin, profiles_for_groups
from shared.users import ROLE_TENANT_ADMIN, Entitlements, User

# 16 bytes each in one binary property (64 KiB at most in Table Storage).
MAX_STORED_GROUPS = 4096
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def entitlements_for(config: OAuth2Config, group_ids: Iterable[str]) -> Entitlements:
    groups = tuple(group_ids)
    roles = (ROLE_TENANT_ADMIN,) if is_admin(config, groups) else ()
    return Entitlements(profiles=profiles_for_groups(config, groups), roles=roles)


def groups_to_store(config: OAuth2Config, group_ids: Iterable[str]) -> tuple[str, ...]:
    """The group ids kept on the user row: every object id (lower case, once each,
    sorted);
    past MAX_STORED_GROUPS only those the configuration maps or makes admins (a
    mapping added later then applies to such a user from their next sign-in)."""
    # Sorted: the same membership is the same row, whatever order Entra listed it in.
    kept = tuple(sorted({g.lower() for g in group_ids if _UUID.fullmatch(g.lower())}))
    if len(kept) <= MAX_STORED_GROUPS:
        return kept
    relevant = {m.group_id.lower() for m in config.profile_mappings}
    relevant |= {g.lower() for g in config.admin_group_ids}
    return tuple(g for g in kept if g in relevant)[:MAX_STORED_GROUPS]


def current_entitlements(config: OAuth2Config, user: User) -> Entitlements:
    """The user's profiles and roles under `config`. For a user whose groups were never
    stored (signed in before they were), the configuration can only take away: a
    profile no mapping gives any more, and the admin role once no admin group is left."""
    if user.group_ids is None:
        mapped = {m.profile_id.lower() for m in config.profile_mappings}
        profiles = tuple(p for p in user.profiles if p.lower() in mapped)
        roles = user.roles if config.admin_group_ids else ()
        return Entitlements(profiles=profiles, roles=roles)
    return entitlements_for(config, user.group_ids)


def granted_role_without_row(entitlements: Entitlements, user: User) -> bool:
    """The configuration would give a role the user's row does not hold: such a grant
    is made only on a configuration read past the instance's cache."""
    return any(role not in user.roles for role in entitlements.roles)


def pack_group_ids(group_ids: Iterable[str]) -> bytes:
    return b"".join(uuid.UUID(g).bytes for g in group_ids)


def unpack_group_ids(packed: bytes) -> tuple[str, ...]:
    if len(packed) % 16:
        raise ValueError("packed group ids are 16 bytes each")
    return tuple(str(uuid.UUID(bytes=packed[i : i + 16])) for i in range(0, len(packed), 16))
