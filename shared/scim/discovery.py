"""The discovery endpoints (RFC 7644 4): what this service supports, described by
scim2-models from the same models that read and write the resources."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, ListResponse, Meta, ResourceType, Schema

from shared.scim.protocol import ScimError, provider


def service_provider_config(base: str) -> dict[str, Any]:
    config = provider().config
    assert config is not None  # built with one (shared.scim.protocol)
    described = config.model_copy(
        update={
            "meta": Meta(
                resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"
            )
        }
    )
    body: dict[str, Any] = described.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return body


def _schema(base: str, schema: Schema) -> Schema:
    return schema.model_copy(
        update={"meta": Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")}
    )


def _resource_type(base: str, resource_type: ResourceType) -> ResourceType:
    location = f"{base}/ResourceTypes/{resource_type.id}"
    return resource_type.model_copy(
        update={"meta": Meta(resource_type="ResourceType", location=location)}
    )


def _listed(model: Any, found: list[Any]) -> dict[str, Any]:
    listed = ListResponse[model](
        total_results=len(found), start_index=1, items_per_page=len(found), resources=found
    )
    body: dict[str, Any] = listed.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return body


def schemas(base: str) -> dict[str, Any]:
    return _listed(Schema, [_schema(base, s) for s in provider().schemas])


def schema(base: str, schema_id: str) -> dict[str, Any]:
    for found in provider().schemas:
        if found.id == schema_id:
            body: dict[str, Any] = _schema(base, found).model_dump(
                scim_ctx=Context.RESOURCE_QUERY_RESPONSE
            )
            return body
    raise ScimError(404, "No such schema.")


def resource_types(base: str) -> dict[str, Any]:
    return _listed(ResourceType, [_resource_type(base, r) for r in provider().resource_types])


def resource_type(base: str, type_id: str) -> dict[str, Any]:
    for found in provider().resource_types:
        if found.id == type_id:
            body: dict[str, Any] = _resource_type(base, found).model_dump(
                scim_ctx=Context.RESOURCE_QUERY_RESPONSE
            )
            return body
    raise ScimError(404, "No such resource type.")
