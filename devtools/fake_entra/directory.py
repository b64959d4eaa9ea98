"""The directories the stand-in hosts: users, groups, roles and app registrations.

A directory file is JSON::

    {"directories": [{
        "tenant_id": "<uuid>", "name": "Demo Corp",
        "groups": [{"id": "<uuid>", "name": "Engineering", "security_enabled": true,
                    "member_of": ["<parent group uuid>"], "types": []}],
        "roles":  [{"id": "<uuid>", "name": "Global Reader", "template_id": "<uuid>"}],
        "users":  [{"oid": "<uuid>", "upn": "ada@demo.example", "name": "Ada Lovelace",
                    "email": "ada@demo.example", "enabled": true,
                    "groups": ["<group uuid>"], "roles": ["<role uuid>"],
                    "sign_in_error": {"error": "access_denied",
                                      "error_description": "AADSTS50105: ..."}}],
        "apps":   [{"client_id": "<uuid>", "name": "entrabridge (dev)",
                    "redirect_uris": ["http://127.0.0.1:7071/api/auth/demo/callback"],
                    "secrets": [{"value": "...", "expires": "2099-01-01T00:00:00Z"}],
                    "group_membership_claims": "SecurityGroup",
                    "front_channel_logout_url": null}]
    }]}

`email`, `enabled` (default true), `groups`, `roles`, `sign_in_error`,
`member_of`, `types`, `template_id`, `expires`, `group_membership_claims`
("SecurityGroup" by default, or "All" or "None") and `front_channel_logout_url`
are optional. Groups nest through `member_of`; memberships are transitive, as
in Entra. Ids are UUIDs and are kept lower-case.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GROUP_CLAIM_MODES = ("SecurityGroup", "All", "None")


class DirectoryError(ValueError):
    """The directory file is not what the stand-in can host."""


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    security_enabled: bool = True
    member_of: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # ("Unified",) for a Microsoft 365 group


@dataclass(frozen=True)
class DirectoryRole:
    id: str
    name: str
    template_id: str


@dataclass(frozen=True)
class SignInError:
    """What the authorize endpoint redirects with instead of a code for this user."""

    error: str
    error_description: str


@dataclass(frozen=True)
class User:
    oid: str
    upn: str
    name: str
    email: str | None = None
    enabled: bool = True
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    sign_in_error: SignInError | None = None


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: dt.datetime | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at.timestamp() <= now


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    secrets: tuple[ClientSecret, ...]
    group_membership_claims: str = "SecurityGroup"
    front_channel_logout_url: str | None = None
    certificates: tuple[str, ...] = ()  # PEM: uploaded for certificate credentials


@dataclass
class Directory:
    """One tenant. Mutated only by the server, under its lock."""

    tenant_id: str
    name: str
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, DirectoryRole] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    apps: dict[str, AppRegistration] = field(default_factory=dict)

    def copy(self) -> Directory:
        """A snapshot a request can read while the server changes the original."""
        return Directory(
            tenant_id=self.tenant_id,
            name=self.name,
            groups=dict(self.groups),
            roles=dict(self.roles),
            users=dict(self.users),
            apps=dict(self.apps),
        )

    def user_by_hint(self, hint: str) -> User | None:
        """A `login_hint` names a user by UPN (or email), case-insensitively."""
        wanted = hint.strip().lower()
        for user in self.users.values():
            if user.upn.lower() == wanted or (user.email or "").lower() == wanted:
                return user
        return None

    def transitive_groups(self, user: User) -> list[Group]:
        """Every group the user is in, directly or through nesting, direct ones first."""
        seen: dict[str, Group] = {}
        pending = list(user.groups)
        while pending:
            group_id = pending.pop(0)
            group = self.groups.get(group_id)
            if group is None or group_id in seen:
                continue
            seen[group_id] = group
            pending.extend(group.member_of)
        return list(seen.values())

    def member_objects(self, user: User) -> list[Group | DirectoryRole]:
        """What Graph's transitiveMemberOf lists: groups of every kind, then roles."""
        roles = [self.roles[r] for r in user.roles if r in self.roles]
        return [*self.transitive_groups(user), *roles]

    def group_claim_ids(self, user: User, app: AppRegistration) -> list[str]:
        """The ids a `groups` claim carries for this app's groupMembershipClaims setting."""
        if app.group_membership_claims == "None":
            return []
        groups = self.transitive_groups(user)
        if app.group_membership_claims == "SecurityGroup":
            return [g.id for g in groups if g.security_enabled]
        return [g.id for g in groups] + [r for r in user.roles if r in self.roles]


def load_directories(source: Mapping[str, Any] | Path | str) -> dict[str, Directory]:
    """Parse a directory file (path) or its already-loaded JSON (mapping)."""
    if isinstance(source, (str, Path)):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DirectoryError(f"Cannot read directory file {source}: {exc}") from exc
    else:
        data = source
    entries = _list(data, "directories", "the file")
    if not entries:
        raise DirectoryError("The file lists no directories.")
    directories: dict[str, Directory] = {}
    for entry in entries:
        directory = _directory(_mapping(entry, "a directory"))
        if directory.tenant_id in directories:
            raise DirectoryError(f"Directory {directory.tenant_id} is listed twice.")
        directories[directory.tenant_id] = directory
    return directories


def _directory(data: Mapping[str, Any]) -> Directory:
    tenant_id = _uuid(data.get("tenant_id"), "tenant_id")
    where = f"directory {tenant_id}"
    directory = Directory(tenant_id=tenant_id, name=_text(data.get("name", tenant_id), "name"))
    for raw in _list(data, "groups", where):
        group = _group(_mapping(raw, f"a group of {where}"))
        _add(directory.groups, group.id, group, f"group {group.id}")
    for raw in _list(data, "roles", where):
        role = _role(_mapping(raw, f"a role of {where}"))
        _add(directory.roles, role.id, role, f"role {role.id}")
    for raw in _list(data, "users", where):
        user = _user(_mapping(raw, f"a user of {where}"))
        _add(directory.users, user.oid, user, f"user {user.oid}")
    for raw in _list(data, "apps", where):
        app = _app(_mapping(raw, f"an app of {where}"))
        _add(directory.apps, app.client_id, app, f"app {app.client_id}")
    _check_references(directory)
    return directory


def _group(data: Mapping[str, Any]) -> Group:
    group_id = _uuid(data.get("id"), "group id")
    return Group(
        id=group_id,
        name=_text(data.get("name"), f"name of group {group_id}"),
        security_enabled=bool(data.get("security_enabled", True)),
        member_of=tuple(_uuid(p, "member_of") for p in _list(data, "member_of", group_id)),
        types=tuple(_text(t, "types") for t in _list(data, "types", group_id)),
    )


def _role(data: Mapping[str, Any]) -> DirectoryRole:
    role_id = _uuid(data.get("id"), "role id")
    template = data.get("template_id")
    return DirectoryRole(
        id=role_id,
        name=_text(data.get("name"), f"name of role {role_id}"),
        template_id=_uuid(template, "template_id") if template else role_id,
    )


def _user(data: Mapping[str, Any]) -> User:
    oid = _uuid(data.get("oid"), "user oid")
    email = data.get("email")
    error = data.get("sign_in_error")
    sign_in_error = None
    if error is not None:
        error_map = _mapping(error, f"sign_in_error of user {oid}")
        sign_in_error = SignInError(
            error=_text(error_map.get("error"), "sign_in_error.error"),
            error_description=_text(
                error_map.get("error_description"), "sign_in_error.error_description"
            ),
        )
    return User(
        oid=oid,
        upn=_text(data.get("upn"), f"upn of user {oid}"),
        name=_text(data.get("name"), f"name of user {oid}"),
        email=_text(email, f"email of user {oid}") if email is not None else None,
        enabled=bool(data.get("enabled", True)),
        groups=tuple(_uuid(g, "user groups") for g in _list(data, "groups", oid)),
        roles=tuple(_uuid(r, "user roles") for r in _list(data, "roles", oid)),
        sign_in_error=sign_in_error,
    )


def _app(data: Mapping[str, Any]) -> AppRegistration:
    client_id = _uuid(data.get("client_id"), "client_id")
    mode = data.get("group_membership_claims", "SecurityGroup")
    if mode not in GROUP_CLAIM_MODES:
        raise DirectoryError(
            f"group_membership_claims of app {client_id} must be one of "
            f"{', '.join(GROUP_CLAIM_MODES)}."
        )
    logout = data.get("front_channel_logout_url")
    return AppRegistration(
        client_id=client_id,
        name=_text(data.get("name", client_id), f"name of app {client_id}"),
        redirect_uris=tuple(
            _text(u, "redirect_uris") for u in _list(data, "redirect_uris", client_id)
        ),
        secrets=tuple(
            _secret(_mapping(s, f"a secret of app {client_id}"))
            for s in _list(data, "secrets", client_id)
        ),
        group_membership_claims=mode,
        front_channel_logout_url=_text(logout, "front_channel_logout_url") if logout else None,
    )


def _secret(data: Mapping[str, Any]) -> ClientSecret:
    expires = data.get("expires")
    return ClientSecret(
        value=_text(data.get("value"), "secret value"),
        expires_at=parse_time(expires) if expires is not None else None,
    )


def parse_time(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise DirectoryError("A secret's expires must be an ISO 8601 string.")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DirectoryError(f"Not an ISO 8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _check_references(directory: Directory) -> None:
    for group in directory.groups.values():
        for parent in group.member_of:
            if parent not in directory.groups:
                raise DirectoryError(f"Group {group.id} is a member of unknown group {parent}.")
    for user in directory.users.values():
        for group_id in user.groups:
            if group_id not in directory.groups:
                raise DirectoryError(f"User {user.oid} is in unknown group {group_id}.")
        for role_id in user.roles:
            if role_id not in directory.roles:
                raise DirectoryError(f"User {user.oid} holds unknown role {role_id}.")


def _add(target: dict[str, Any], key: str, value: object, what: str) -> None:
    if key in target:
        raise DirectoryError(f"{what} is listed twice.")
    target[key] = value


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DirectoryError(f"{what} must be a JSON object.")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise DirectoryError(f"{key} of {where} must be a list.")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DirectoryError(f"{what} must be a non-empty string.")
    return value


def _uuid(value: object, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise DirectoryError(f"{what} must be a UUID, not {value!r}.") from exc
