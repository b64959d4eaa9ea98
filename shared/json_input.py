"""JSON from outside (request bodies, cursors), parsed with limits.

`json.loads` alone turns some inputs into crashes rather than refusals: an
integer of 4,301+ digits raises a plain ValueError (Python's int conversion
limit), deep nesting a RecursionError, and `NaN`/`Infinity` are accepted. Here
each is a `JsonRefused` naming the problem, so callers answer 400.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 64  # far past any id, limit or epoch second we take


class JsonRefused(ValueError):
    """Not JSON we accept; the message says why (safe to show the client)."""


def parse_json(
    text: str | bytes, *, max_depth: int = MAX_DEPTH, max_number: int = MAX_NUMBER_CHARS
) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not UTF-8") from None
    if _depth(text) > max_depth:
        raise JsonRefused(f"nested deeper than {max_depth} levels")

    def number(kind: type[int] | type[float]) -> Any:
        def parse(literal: str) -> int | float:
            if len(literal) > max_number:
                raise JsonRefused(f"a number longer than {max_number} characters")
            value = kind(literal)
            if isinstance(value, float) and value in (float("inf"), float("-inf")):
                raise JsonRefused("a number out of range")
            return value

        return parse

    def constant(name: str) -> Any:
        raise JsonRefused(f"{name} is not a JSON number")

    try:
        return json.loads(
            text, parse_int=number(int), parse_float=number(float), parse_constant=constant
        )
    except JsonRefused:
        raise
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise JsonRefused("not valid JSON") from None


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings ignored."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
