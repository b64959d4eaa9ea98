"""Reading infra/*.bicep as data (pycep-parser) for the infrastructure tests.

There is no Bicep CLI here, so nothing compiles the templates to ARM JSON: the
tests look at pycep's syntax tree instead. In it, identifiers (parameters,
variables, resource symbols) appear as bare strings, string literals as their
text, and expressions as {"operator": ...} or {"function": ...} nodes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str
    existing: bool
    body: dict[str, Any]  # the resource's properties, with any loop/condition unwrapped
    loop_array: str | None  # name of the array a `[for x in array: ...]` iterates
    loop_item: str | None
    condition: Any  # the expression of `= if (...)`, or None


@dataclass(frozen=True)
class Template:
    path: Path
    data: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.data.get("parameters", {}))

    @property
    def variables(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.data.get("variables", {}))

    @property
    def modules(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.data.get("modules", {}))

    @property
    def outputs(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.data.get("outputs", {}))

    @property
    def resources(self) -> list[Resource]:
        return [_resource(symbol, raw) for symbol, raw in self.data.get("resources", {}).items()]

    def resources_of(self, type_: str, *, existing: bool = False) -> list[Resource]:
        return [r for r in self.resources if r.type == type_ and r.existing == existing]

    def the(self, type_: str) -> Resource:
        """The one resource of this type the template deploys."""
        found = self.resources_of(type_)
        assert len(found) == 1, f"{self.path.name}: expected one {type_}, found {len(found)}"
        return found[0]

    def symbol(self, name: str) -> Resource:
        for resource in self.resources:
            if resource.symbol == name:
                return resource
        raise AssertionError(f"{self.path.name}: no resource named {name}")

    def decorator(self, parameter: str, kind: str) -> Any:
        for decorator in self.parameters[parameter]["decorators"]:
            if decorator["type"] == kind:
                return decorator.get("argument", True)
        return None

    def variable(self, name: str) -> Any:
        return self.variables[name]["value"]

    def resolve_list(self, name: str) -> list[Any]:
        """A variable holding an array, each element that names a variable replaced by its value."""
        items = self.variable(name)
        assert isinstance(items, list), f"{name} is not an array"
        return [
            self.variable(i) if isinstance(i, str) and i in self.variables else i for i in items
        ]


def _resource(symbol: str, raw: dict[str, Any]) -> Resource:
    config = raw["config"]
    loop = config.get("loop_type")
    if loop is not None or "condition" in config:
        body = config["config"]
        detail = loop["detail"] if loop else {}
        return Resource(
            symbol=symbol,
            type=raw["type"],
            existing=raw["existing"],
            body=body,
            loop_array=detail.get("array_name"),
            loop_item=detail.get("item_name"),
            condition=config.get("condition"),
        )
    return Resource(symbol, raw["type"], raw["existing"], config, None, None, None)


@functools.cache
def template(relative: str) -> Template:
    path = INFRA / relative
    data = BicepParser().parse(file_path=path)
    return Template(path, cast(dict[str, Any], data))


def all_template_paths() -> list[str]:
    return sorted(str(p.relative_to(INFRA)) for p in INFRA.rglob("*.bicep"))


def accessor_path(expression: Any) -> list[str]:
    """`a.b.c` as ["a", "b", "c"]; a bare identifier as [name]; anything else as []."""
    if isinstance(expression, str):
        return [expression]
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        if operator["type"] == "property_accessor":
            operands = operator["operands"]
            return accessor_path(operands["operand_1"]) + accessor_path(operands["operand_2"])
    return []


def function_call(expression: Any) -> tuple[str, dict[str, Any]] | None:
    """(function type, its parameters) when the expression is a function call."""
    if isinstance(expression, dict) and "function" in expression:
        function = expression["function"]
        return function["type"], function.get("parameters") or {}
    return None


def walk(node: Any) -> Iterator[Any]:
    """Every value in a syntax tree, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)
