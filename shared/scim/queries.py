"""SCIM list requests (pure): filters as scim2-models parses and evaluates them,
the `eq` filters an index answers, and startIndex/count paging (RFC 7644 3.4.2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from scim2_models import (
    Context,
    InvalidFilterException,
    ListResponse,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
)
from scim2_models.path.expressions import CompareOperator, Comparison

from shared.scim.protocol import MAX_RESULTS, ScimError, scim_error_of

T = TypeVar("T")
MAX_FILTER_CHARS = 2048


def check_filter(model: Any, text: str) -> Any:
    """The parsed filter; 400 invalidFilter for one that is not valid for `model`."""
    if len(text) > MAX_FILTER_CHARS:
        raise ScimError(400, "The filter is too long.", "invalidFilter")
    try:
        return ScimFilter[model](text)
    except InvalidFilterException as exc:
        raise ScimError(
            400, f"The filter is not valid: {exc.detail}"[:300], "invalidFilter"
        ) from exc


def equality_of(model: Any, text: str | None) -> tuple[str, str] | None:
    """(attribute name in lower case, value) of a filter `attribute eq "value"` on a
    top-level string attribute; None for any other filter."""
    if not text:
        return None
    node = check_filter(model, text).ast
    if not isinstance(node, Comparison) or node.op is not CompareOperator.eq:
        return None
    path = node.attr_path
    if path.sub_attr is not None or not isinstance(node.value, str):
        return None
    return path.attr.lower(), node.value


def matching(model: Any, text: str | None, resource: Any) -> bool:
    return True if not text else bool(check_filter(model, text).match(resource))


def page_of(items: Sequence[T], start_index: int | None, count: int | None) -> tuple[int, list[T]]:
    """(totalResults, the page): startIndex is 1-based (under 1 reads as 1), count
    is at most MAX_RESULTS (negative reads as 0)."""
    start = max(start_index or 1, 1)
    size = MAX_RESULTS if count is None else min(max(count, 0), MAX_RESULTS)
    return len(items), list(items[start - 1 : start - 1 + size])


SEARCH_FIELDS = ("filter", "startIndex", "count", "attributes", "excludedAttributes", "schemas")


def response_parameters(model: Any, params: Mapping[str, str]) -> ResponseParameters[Any] | None:
    """`attributes` / `excludedAttributes` of a GET, checked against `model`."""
    wanted = {k: v for k, v in params.items() if k in ("attributes", "excludedAttributes")}
    if not wanted:
        return None
    try:
        return ResponseParameters[model].model_validate(wanted)
    except Exception as exc:  # mapped to a SCIM error, or raised again
        raise scim_error_of(exc) from exc


def search_request(model: Any, params: Mapping[str, Any]) -> SearchRequest[Any]:
    """A list request (query parameters or a .search body), its filter checked."""
    wanted = {k: v for k, v in params.items() if k in SEARCH_FIELDS}
    try:
        search = SearchRequest[model].model_validate(wanted)
    except Exception as exc:  # mapped to a SCIM error, or raised again
        raise scim_error_of(exc) from exc
    if search.filter is not None:
        check_filter(model, str(search.filter))
    return search


def list_response(model: Any, search: SearchRequest[Any], matched: Sequence[Any]) -> dict[str, Any]:
    """The ListResponse of one page of `matched`, as `search` asked for it."""
    total, page = page_of(matched, search.start_index, search.count)
    listed = ListResponse[model](
        total_results=total,
        start_index=search.start_index or 1,
        items_per_page=len(page),
        resources=page,
    )
    body: dict[str, Any] = listed.model_dump(
        scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search
    )
    return body


def plausible_id(identifier: str) -> bool:
    """An id this service could have made (a UUID's characters): anything else is
    looked up nowhere and answered as absent."""
    return 0 < len(identifier) <= 64 and all(c.isalnum() or c == "-" for c in identifier)
