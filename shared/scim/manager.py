"""The enterprise `manager` as Microsoft Entra sends it, made what RFC 7643 asks (pure).

RFC 7643 4.3 makes `manager` a complex attribute whose `$ref` is required, and
scim2-models holds requests to that. Entra sends the manager's id alone: as
`{"value": id}` in a POST or PUT, and as the bare string id in a PATCH (the
shape Microsoft documents for its provisioning service). The service provider
knows the URI of its own Users, so it fills `$ref` in rather than refusing a
request Entra will retry forever. An empty id means "no manager".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_MANAGER_PATH = f"{ENTERPRISE}:manager".lower()
_MANAGER_VALUE_PATH = f"{_MANAGER_PATH}.value"


def with_manager_reference(body: object, users_url: str) -> object:
    """A POST/PUT body whose enterprise manager carries `$ref` (or no manager)."""
    return _resource_with_reference(body, users_url) if isinstance(body, dict) else body


def _resource_with_reference(body: dict[str, Any], users_url: str) -> dict[str, Any]:
    key = _key_of(body, ENTERPRISE)
    extension = body.get(key) if key else None
    if key is None or not isinstance(extension, dict):
        return body
    manager_key = _key_of(extension, "manager")
    if manager_key is None:
        return body
    extension = dict(extension)
    manager = _manager(extension.pop(manager_key), users_url)
    if manager is not None:
        extension["manager"] = manager
    return {**body, key: extension}


def patch_with_manager_reference(body: object, users_url: str) -> object:
    """A PatchOp body whose operations on the manager carry `$ref`."""
    if not isinstance(body, dict):
        return body
    key = _key_of(body, "Operations")
    operations = body.get(key) if key else None
    if key is None or not isinstance(operations, list):
        return body
    return {**body, key: [_operation(op, users_url) for op in operations]}


def _operation(operation: object, users_url: str) -> object:
    if not isinstance(operation, dict):
        return operation
    op = str(operation.get("op", "")).lower()
    path = operation.get("path")
    if op == "remove":
        return operation
    if isinstance(path, str) and path.lower() in (_MANAGER_PATH, _MANAGER_VALUE_PATH):
        manager = _manager(operation.get("value"), users_url)
        if manager is None:  # "replace the manager with nothing" is a removal
            return {"op": "remove", "path": f"{ENTERPRISE}:manager"}
        return {**operation, "path": f"{ENTERPRISE}:manager", "value": manager}
    value = operation.get("value")
    if path is None and isinstance(value, dict):
        return {**operation, "value": _pathless_value(value, users_url)}
    if isinstance(path, str) and path.lower() == ENTERPRISE.lower():
        extension = _resource_with_reference({ENTERPRISE: value}, users_url)[ENTERPRISE]
        return {**operation, "value": extension}
    return operation


def _pathless_value(value: dict[str, Any], users_url: str) -> dict[str, Any]:
    """A path-less operation names attributes as keys: `urn:...:User:manager`, or the
    extension object itself."""
    changed = _resource_with_reference(value, users_url)
    for key in list(changed):
        if key.lower() in (_MANAGER_PATH, _MANAGER_VALUE_PATH):
            manager = _manager(changed.pop(key), users_url)
            if manager is not None:
                changed[f"{ENTERPRISE}:manager"] = manager
    return changed


def _manager(value: object, users_url: str) -> dict[str, Any] | None:
    """{"value", "$ref", ...} from a bare id or a manager object; None for no manager."""
    if isinstance(value, dict):
        manager = dict(value)
        manager_id = manager.get("value")
    else:
        manager = {}
        manager_id = value
    if manager_id is None or (isinstance(manager_id, str) and not manager_id.strip()):
        return None
    if not isinstance(manager_id, str):
        return {**manager, "value": manager_id}  # not an id: validation refuses it
    manager["value"] = manager_id.strip()
    if not manager.get("$ref"):
        manager["$ref"] = f"{users_url}/{quote(manager['value'], safe='')}"
    return manager


def _key_of(mapping: dict[str, Any], name: str) -> str | None:
    """The key naming `name`: SCIM attribute names are case-insensitive."""
    wanted = name.lower()
    return next((k for k in mapping if isinstance(k, str) and k.lower() == wanted), None)
