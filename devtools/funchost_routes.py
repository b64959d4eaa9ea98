"""Route templates as the Functions host matches them (ASP.NET Core routing); pure logic.

Supported, as HTTP triggers use them: literal segments (case-insensitive),
`{name}`, optional `{name?}`, defaults `{name=value}`, catch-all `{*rest}` or
`{**rest}`, inline constraints (`{id:int}`, `{id:guid}`, `{n:min(1)}`,
`{s:regex(^a)}`, ...), several parameters in one segment (`{name}.{ext}`) and
`{{`/`}}` for literal braces. Among the templates that match a path the most
specific one wins (literal, then constrained, then plain parameter, then
catch-all, segment by segment) whatever the registration order, as in the host.
"""

from __future__ import annotations

import functools
import itertools
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

_NAME = re.compile(r"[^{}/?*=:]+")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


@dataclass(frozen=True)
class Constraint:
    text: str
    accepts: Callable[[str], bool]


@dataclass(frozen=True)
class Parameter:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    constraints: tuple[Constraint, ...] = ()

    def accepts(self, value: str) -> bool:
        return all(constraint.accepts(value) for constraint in self.constraints)


Part = str | Parameter  # literal text or a parameter


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]

    # Computed once per template (frozen), not per request: a request is matched
    # against many templates.
    @functools.cached_property
    def parameter(self) -> Parameter | None:
        """The parameter when the segment is exactly one parameter."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Parameter):
            return self.parts[0]
        return None

    @functools.cached_property
    def literal(self) -> str | None:
        """The segment's text, casefolded, when it has no parameter."""
        if all(isinstance(part, str) for part in self.parts):
            return "".join(part for part in self.parts if isinstance(part, str)).casefold()
        return None

    @property
    def precedence(self) -> int:
        # ASP.NET's inbound precedence digits: lower is more specific.
        if all(isinstance(part, str) for part in self.parts):
            return 1
        parameter = self.parameter
        if parameter is None:
            return 2
        if parameter.catch_all:
            return 5
        return 3 if parameter.constraints else 4

    def match(self, text: str) -> dict[str, str] | None:
        if text == "":
            return None
        parameter = self.parameter
        if parameter is not None:
            return {parameter.name: text} if parameter.accepts(text) else None
        literal = self.literal
        if literal is not None:
            return {} if text.casefold() == literal else None
        return self._match_complex(text)

    def _match_complex(self, text: str) -> dict[str, str] | None:
        pattern = "".join(
            re.escape(part) if isinstance(part, str) else f"(?P<p{index}>.+)"
            for index, part in enumerate(self.parts)
        )
        found = re.fullmatch(pattern, text, re.IGNORECASE | re.DOTALL)
        if found is None:
            return None
        values: dict[str, str] = {}
        for index, part in enumerate(self.parts):
            if isinstance(part, Parameter):
                value = found.group(f"p{index}")
                if not part.accepts(value):
                    return None
                values[part.name] = value
        return values


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(segment.precedence for segment in self.segments)

    @property
    def literal_prefix(self) -> tuple[str, ...]:
        """The leading literal segments (casefolded): only paths that start with them
        can match."""
        prefix: list[str] = []
        for segment in self.segments:
            if segment.literal is None:
                break
            prefix.append(segment.literal)
        return tuple(prefix)

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for `path` (decoded segments, see split_path), or None."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(path[index:])
                if rest == "":
                    return _with_default(values, parameter)
                return {**values, parameter.name: rest} if parameter.accepts(rest) else None
            if index >= len(path):
                return _fill_missing(values, self.segments[index:])
            found = segment.match(path[index])
            if found is None:
                return None
            values.update(found)
        return values if len(path) <= len(self.segments) else None


def _with_default(values: dict[str, str], parameter: Parameter) -> dict[str, str]:
    if parameter.default is not None:
        return {**values, parameter.name: parameter.default}
    return values


def _fill_missing(values: dict[str, str], missing: Sequence[Segment]) -> dict[str, str] | None:
    # A path may stop early only where every remaining segment may be left out.
    for segment in missing:
        parameter = segment.parameter
        if parameter is None or not (
            parameter.optional or parameter.catch_all or parameter.default is not None
        ):
            return None
        values = _with_default(values, parameter)
    return values


def split_path(raw_path: str) -> list[str]:
    """A raw request path as routing sees it: decoded segments, dot segments resolved.

    Kestrel decodes the path except `%2F` (so an encoded slash stays inside its
    segment) and resolves `.`/`..`; routing ignores one trailing slash.
    """
    segments: list[str] = []
    raw_segments = raw_path.split("?", 1)[0].split("/")[1:]
    if raw_segments and raw_segments[-1] == "":
        raw_segments.pop()
    for raw in raw_segments:
        segment = unquote(re.sub("%2[fF]", "%252F", raw), errors="replace")
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return segments


def parse_template(text: str) -> RouteTemplate:
    """Parse a full route template (prefix included); ValueError says what is wrong."""
    stripped = text.strip("/")
    segments = tuple(_parse_segment(raw, text) for raw in stripped.split("/")) if stripped else ()
    names: set[str] = set()
    for index, segment in enumerate(segments):
        for part in segment.parts:
            if not isinstance(part, Parameter):
                continue
            if part.name.casefold() in names:
                raise ValueError(f"route {text!r}: parameter {part.name!r} appears twice")
            names.add(part.name.casefold())
            if segment.parameter is None and (part.optional or part.catch_all):
                raise ValueError(
                    f"route {text!r}: optional and catch-all parameters must be alone in"
                    " their segment here"
                )
            if part.catch_all and index != len(segments) - 1:
                raise ValueError(f"route {text!r}: a catch-all parameter must come last")
    return RouteTemplate(text=stripped, segments=segments)


def _parse_segment(raw: str, template: str) -> Segment:
    if raw == "":
        raise ValueError(f"route {template!r} has an empty segment")
    parts: list[Part] = []
    literal = ""
    position = 0
    while position < len(raw):
        char = raw[position]
        if raw.startswith("{{", position) or raw.startswith("}}", position):
            literal += char
            position += 2
        elif char == "{":
            end = _closing_brace(raw, position, template)
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(_parse_parameter(raw[position + 1 : end], template))
            position = end + 1
        elif char == "}":
            raise ValueError(f"route {template!r}: unmatched '}}' (write '}}}}' for a brace)")
        else:
            literal += char
            position += 1
    if literal:
        parts.append(literal)
    for before, after in itertools.pairwise(parts):
        if isinstance(before, Parameter) and isinstance(after, Parameter):
            raise ValueError(f"route {template!r}: two parameters need a literal between them")
    return Segment(tuple(parts))


def _closing_brace(raw: str, start: int, template: str) -> int:
    depth = 0
    for position in range(start + 1, len(raw)):
        char = raw[position]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "}" and depth == 0:
            return position
    raise ValueError(f"route {template!r}: unclosed '{{'")


def _parse_parameter(body: str, template: str) -> Parameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    if optional:
        body = body[:-1]
    pieces = _split_outside_parentheses(body, ":=")
    name = pieces[0][1]
    constraints: list[Constraint] = []
    default: str | None = None
    for separator, piece in pieces[1:]:
        if separator == "=":
            default = piece
        elif default is not None:
            raise ValueError(f"route {template!r}: a default value must come last")
        else:
            constraints.append(make_constraint(piece, template))
    if not _NAME.fullmatch(name):
        raise ValueError(f"route {template!r}: bad parameter name {name!r}")
    if optional and default is not None:
        raise ValueError(f"route {template!r}: {name!r} cannot be optional and have a default")
    return Parameter(name, optional, catch_all, default, tuple(constraints))


def _split_outside_parentheses(body: str, separators: str) -> list[tuple[str, str]]:
    """`id:int:min(1)` -> [("", "id"), (":", "int"), (":", "min(1)")]; a default takes the rest."""
    pieces: list[tuple[str, str]] = []
    current = ""
    current_separator = ""
    depth = 0
    for position, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if depth == 0 and char in separators:
            pieces.append((current_separator, current))
            if char == "=":
                pieces.append(("=", body[position + 1 :]))
                return pieces
            current, current_separator = "", char
            continue
        current += char
    pieces.append((current_separator, current))
    return pieces


def make_constraint(spec: str, template: str = "") -> Constraint:
    """An inline route constraint; unknown or unsupported ones are refused, not ignored."""
    name, has_arguments, rest = spec.partition("(")
    if has_arguments and not rest.endswith(")"):
        raise ValueError(f"route {template!r}: constraint {spec!r} lacks its ')'")
    arguments = rest[:-1] if has_arguments else ""
    key = name.strip().lower()
    numbers = _numbers(arguments, spec, template) if key in _NUMERIC_ARGUMENTS else ()
    factory = _CONSTRAINTS.get(key)
    if factory is None:
        raise ValueError(
            f"route {template!r}: constraint {name!r} is not supported by the local host"
        )
    return Constraint(spec, factory(arguments, numbers))


def _numbers(arguments: str, spec: str, template: str) -> tuple[int, ...]:
    try:
        return tuple(int(piece) for piece in arguments.split(","))
    except ValueError:
        raise ValueError(f"route {template!r}: constraint {spec!r} needs numbers") from None


def _integer_in(low: int, high: int) -> Callable[[str], bool]:
    def accepts(value: str) -> bool:
        return bool(_INTEGER.fullmatch(value)) and low <= int(value) <= high

    return accepts


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _length_between(numbers: tuple[int, ...]) -> Callable[[str], bool]:
    low, high = (numbers[0], numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
    return lambda value: low <= len(value) <= high


def _regex(arguments: str) -> Callable[[str], bool]:
    # .NET's RegexRouteConstraint: case-insensitive, unanchored unless the pattern anchors.
    pattern = re.compile(arguments, re.IGNORECASE)
    return lambda value: pattern.search(value) is not None


_NUMERIC_ARGUMENTS = {"min", "max", "range", "minlength", "maxlength", "length"}
_Factory = Callable[[str, tuple[int, ...]], Callable[[str], bool]]
_CONSTRAINTS: dict[str, _Factory] = {
    "int": lambda _a, _n: _integer_in(*_INT32),
    "long": lambda _a, _n: _integer_in(*_INT64),
    "bool": lambda _a, _n: lambda value: value.strip().lower() in ("true", "false"),
    "guid": lambda _a, _n: _is_guid,
    "alpha": lambda _a, _n: lambda value: re.fullmatch("[A-Za-z]*", value) is not None,
    "decimal": lambda _a, _n: _is_number,
    "double": lambda _a, _n: _is_number,
    "float": lambda _a, _n: _is_number,
    "required": lambda _a, _n: lambda value: value != "",
    "min": lambda _a, n: _integer_in(n[0], _INT64[1]),
    "max": lambda _a, n: _integer_in(_INT64[0], n[0]),
    "range": lambda _a, n: _integer_in(n[0], n[-1]),
    "minlength": lambda _a, n: lambda value: len(value) >= n[0],
    "maxlength": lambda _a, n: lambda value: len(value) <= n[0],
    "length": lambda _a, n: _length_between(n),
    "regex": lambda a, _n: _regex(a),
}
