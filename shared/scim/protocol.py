"""SCIM 2.0 as scim2-models speaks it: the service description, Entra's tolerated
deviations, and errors as SCIM Error resources.

scim2-models (and pydantic under it) cost ~0.3 s to import: only the SCIM routes
import this module, never at import time of the app.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    EnterpriseUser,
    Error,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

SCIM_CONTENT_TYPE = "application/scim+json"
ScimUser = User[EnterpriseUser]
MAX_RESULTS = 200  # a page of a list; also what a filter that scans may return

# What Microsoft Entra's provisioning service sends, accepted as it sends it
# (Microsoft documents these): attributes we do not model are ignored, a PATCH
# "remove" may carry the members to remove as its value, and a "replace" of
# emails[type eq "work"].value creates that entry when the user has none.
ENTRA_POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


class ScimError(Exception):
    """A SCIM Error resource to answer (RFC 7644 3.12)."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        error = Error(status=self.status, scim_type=self.scim_type, detail=self.detail)
        return error.model_dump()


def scim_error_of(exc: Exception) -> ScimError:
    """The SCIM error for what scim2-models raised while reading a request."""
    if isinstance(exc, ScimError):
        return exc
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        return ScimError(int(error.status or 400), str(error.detail or exc), error.scim_type)
    if isinstance(exc, ValidationError):
        errors = Error.from_validation_errors(exc.errors())
        first = errors[0] if errors else None
        if first is None:
            return ScimError(400, "The request is not a valid SCIM message.", "invalidSyntax")
        return ScimError(int(first.status or 400), str(first.detail), first.scim_type)
    raise exc


@functools.cache
def provider() -> ScimProvider:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description=(
                    "The tenant's SCIM token, made by POST /api/admin/tenants/{tenant}/scim-token"
                ),
                primary=True,
            )
        ],
    )
    return ScimProvider(
        models=[User, EnterpriseUser, Group],
        resource_types=[ResourceType.from_resource(ScimUser), ResourceType.from_resource(Group)],
        config=config,
        policy=ENTRA_POLICY,
    )


F = TypeVar("F", bound=Callable[..., Any])


def speaking_scim(method: F) -> F:
    """Run `method` with this service's provider and ENTRA_POLICY in force, for every
    read, PATCH and dump of scim2-models inside it (a context variable: per thread)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with provider():
            return method(*args, **kwargs)

    return cast(F, wrapper)
