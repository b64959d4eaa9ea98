"""The schema check of infra/: what a Bicep build and ARM's validation would refuse.

    .venv/bin/python -m tests.infra.support.schemacheck [INFRA_DIR]

Run by `make infra-check` (infra/check.sh) and by tests/infra/test_schema_check.py.
Without a Bicep compiler or an Azure subscription it checks, for every template
under INFRA_DIR:

- every resource type and API version against the vendored schemas
  (infra/schemas/azure-resource-types.json, from the Azure SDK's generated models;
  infra/schemas/refresh.py): unknown, misspelled, read-only and missing required
  properties, value types, enum values, lengths, ranges and patterns, and the
  resource name rules (infra/schemas/naming.json) on worst-case generated names;
- names: every identifier resolves (parameters, variables, resources, modules,
  loop and lambda locals), every function exists, every module parameter passed
  is declared with a matching type and allowed value, required ones are passed,
  every module output read exists, every output's value has its declared type;
- no dependency cycle between resources and modules;
- Flex Consumption (infra/schemas/flex-consumption.json): the site properties,
  siteConfig properties and app settings FC1 rejects or ignores, instance memory
  sizes, scale limits, runtimes and regions.

Values are computed, not guessed: parameters take worst-case witness values (the
longest allowed string of odd characters, each allowed value, both booleans,
range ends), world by world, and every expression is evaluated as Bicep would
(tests/infra/support/evaluate.py). What only Azure knows (ids, endpoints,
principal ids) stays unknown and is checked by type only.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.support.bicep_ast import (
    Arr,
    BicepSyntaxError,
    Cond,
    Decl,
    Ident,
    If,
    Index,
    Lit,
    Module,
    Node,
    Obj,
    Param,
    Prop,
    Resource,
    Template,
    body_of,
    parse_file,
)
from tests.infra.support.evaluate import (
    EvalError,
    Evaluator,
    Ref,
    Scope,
    Unknown,
    Value,
    known,
    type_of,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "infra" / "schemas"
BICEP_KEYS = {"name", "parent", "scope", "dependsOn"}
MODULE_KEYS = {"name", "params", "scope", "dependsOn"}
PARAM_TYPES = {"string", "int", "bool", "object", "array"}


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# --- schemas -----------------------------------------------------------------------


@functools.cache
def _json(path: Path) -> Any:
    return json.loads(path.read_text())


class Schemas:
    def __init__(self, folder: Path = SCHEMAS) -> None:
        self.types: dict[str, Any] = _json(folder / "azure-resource-types.json")
        self.naming: dict[str, Any] = _json(folder / "naming.json")
        self.flex: dict[str, Any] = _json(folder / "flex-consumption.json")

    def resource(self, type_: str, api: str) -> dict[str, Any] | None:
        found = self.types["resources"].get(f"{type_}@{api}")
        return found if isinstance(found, dict) else None

    def model(self, typeref: Any) -> dict[str, Any] | None:
        """The object model a type reference points to, or None for a non-object type."""
        if isinstance(typeref, dict) and "ref" in typeref:
            found = self.types["types"][typeref["ref"]]
            return found if isinstance(found, dict) else None
        if isinstance(typeref, dict) and "inline" in typeref:
            inline = typeref["inline"]
            return inline if isinstance(inline, dict) else None
        if isinstance(typeref, str) and "@" in typeref:
            found = self.types["types"][typeref]
            return found if isinstance(found, dict) else None
        return None

    def unknown_api_message(self, type_: str, api: str) -> str:
        vendored = sorted(
            key.split("@", 1)[1] for key in self.types["resources"] if key.split("@")[0] == type_
        )
        namespace = type_.split("/")[0]
        sdk_known = self.types["providers"].get(namespace, [])
        if vendored and api not in sdk_known:
            return (
                f"{type_}@{api}: no such API version ({namespace} has "
                f"{', '.join(sdk_known[-6:])}, ...; vendored: {', '.join(vendored)})"
            )
        if vendored:
            return (
                f"{type_}@{api}: API version not vendored (vendored: {', '.join(vendored)}; "
                "add it in infra/schemas/refresh.py and rerun it)"
            )
        return (
            f"{type_}@{api}: resource type not vendored (add it in infra/schemas/refresh.py "
            "and rerun it)"
        )


def kind_of(typeref: Any) -> str:
    if isinstance(typeref, str):
        return {"string": "string", "int": "int", "number": "int", "bool": "bool"}.get(
            typeref, "object" if "@" in typeref else "any"
        )
    if "array" in typeref:
        return "array"
    if "enum" in typeref:
        return "string"
    return "object"


class SchemaRef(Ref):
    """A value of a deployed resource read through its schema (`res.properties.x`)."""

    def __init__(self, schemas: Schemas, typeref: Any, path: str, owner: str) -> None:
        self.schemas = schemas
        self.typeref = typeref
        self.path = path
        self.owner = owner
        self.kind = kind_of(typeref)

    def access(self, name: str, line: int) -> Value:
        if isinstance(self.typeref, dict) and "dict" in self.typeref:
            return read_through(
                self.schemas, self.typeref["dict"], f"{self.path}.{name}", self.owner
            )
        model = self.schemas.model(self.typeref)
        if model is None:
            if self.typeref == "any":
                return Unknown("any")
            raise EvalError(
                line, f"{self.owner}: '{self.path}' is a {self.kind}; it has no property '{name}'"
            )
        props = model["props"]
        if name not in props:
            raise EvalError(
                line, f"{self.owner} has no property '{self.path}.{name}'{suggest(name, props)}"
            )
        return read_through(self.schemas, props[name]["type"], f"{self.path}.{name}", self.owner)

    def index(self, value: Value, line: int) -> Value:
        if isinstance(self.typeref, dict) and "array" in self.typeref:
            return read_through(self.schemas, self.typeref["array"], f"{self.path}[]", self.owner)
        raise EvalError(line, f"{self.owner}: '{self.path}' is not an array")


def read_through(schemas: Schemas, typeref: Any, path: str, owner: str) -> Value:
    kind = kind_of(typeref)
    if kind in ("object", "array") or (isinstance(typeref, dict) and "dict" in typeref):
        return SchemaRef(schemas, typeref, path, owner)
    return Unknown(kind)


def suggest(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- the project -------------------------------------------------------------------


@dataclass
class Project:
    infra: Path
    schemas: Schemas
    templates: dict[Path, Template] = field(default_factory=dict)
    findings: set[Finding] = field(default_factory=set)
    flex: bool = False

    def report(self, path: Path, line: int, message: str) -> None:
        try:
            shown = str(path.relative_to(self.infra.parent))
        except ValueError:
            shown = str(path)
        self.findings.add(Finding(shown, line, message))

    def template(self, path: Path) -> Template | None:
        path = path.resolve()
        if path not in self.templates:
            return None
        return self.templates[path]


def check(infra: Path, schemas: Schemas | None = None) -> list[Finding]:
    """Every finding for the templates under `infra`, sorted; empty when all is well."""
    project = Project(infra.resolve(), schemas or Schemas())
    for path in sorted(project.infra.rglob("*.bicep")):
        try:
            project.templates[path.resolve()] = parse_file(path)
        except BicepSyntaxError as error:
            project.report(path, 0, f"does not parse: {error}")
    project.flex = any(
        r.type == "Microsoft.Web/serverfarms" and _sku_name(r) == "FC1"
        for t in project.templates.values()
        for r in t.resources.values()
    )
    called: set[Path] = set()
    for template in project.templates.values():
        check_declarations(project, template)
        for module in template.modules.values():
            called.add((template.path.parent / module.path).resolve())
    roots = [t for p, t in project.templates.items() if p not in called]
    for template in roots:
        for world in range(world_count(project, template)):
            Instance(project, template, None, world).run()
    return sorted(project.findings)


def _sku_name(resource: Resource) -> str | None:
    try:
        sku = body_of(resource.value).get("sku")
    except BicepSyntaxError:
        return None
    if isinstance(sku, Obj):
        name = sku.get("name")
        if isinstance(name, Lit) and isinstance(name.value, str):
            return name.value
    return None


# --- static checks: declarations and dependency cycles -----------------------------


def check_declarations(project: Project, template: Template) -> None:
    for name, line in template.duplicates:
        project.report(template.path, line, f"'{name}' is declared twice")
    for param in template.params.values():
        if param.type not in PARAM_TYPES:
            project.report(
                template.path,
                param.line,
                f"parameter '{param.name}' has type '{param.type}', not one of "
                f"{', '.join(sorted(PARAM_TYPES))}",
            )
    for output in template.outputs.values():
        if output.type not in PARAM_TYPES:
            project.report(
                template.path, output.line, f"output '{output.name}' has type '{output.type}'"
            )
    for module in template.modules.values():
        target = (template.path.parent / module.path).resolve()
        if target not in project.templates:
            project.report(
                template.path, module.line, f"module '{module.name}': no template at {module.path}"
            )
    for cycle in dependency_cycles(template):
        project.report(
            template.path, _decl(template, cycle[0]).line, "dependency cycle: " + " -> ".join(cycle)
        )


def _decl(template: Template, name: str) -> Decl:
    found = template.resources.get(name) or template.modules.get(name)
    assert found is not None
    return found


def references(node: Any) -> Iterator[str]:
    """Every identifier an expression names (for the dependency graph)."""
    if isinstance(node, Ident):
        yield node.name
    elif isinstance(node, Node):
        for name in node.__dataclass_fields__:
            yield from references(getattr(node, name))
    elif isinstance(node, tuple):
        for item in node:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                yield from references(item[1])
            else:
                yield from references(item)


def dependency_cycles(template: Template) -> list[list[str]]:
    symbols: dict[str, Resource | Module] = {**template.resources, **template.modules}

    @functools.cache
    def via_variables(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        variable = template.variables.get(name)
        if variable is None or name in seen:
            return frozenset()
        found: set[str] = set()
        for ref in references(variable.value):
            if ref in symbols:
                found.add(ref)
            else:
                found |= via_variables(ref, seen | {name})
        return frozenset(found)

    edges: dict[str, set[str]] = {}
    for name, decl in symbols.items():
        targets: set[str] = set()
        for ref in references(decl.value):
            if ref in symbols and ref != name:
                targets.add(ref)
            elif ref in template.variables:
                targets |= via_variables(ref)
        edges[name] = targets - {name}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [])
    return cycles


# --- worlds: worst-case parameter values -------------------------------------------


EVALUATOR = Evaluator()
EMPTY = Scope(lambda name, line: (_ for _ in ()).throw(EvalError(line, f"'{name}' in a decorator")))


def decorator(param: Param, name: str) -> Value:
    node = param.decorators.get(name)
    if node is None:
        return None
    return EVALUATOR.evaluate(node, EMPTY)


ODD = "Zz9-_.!~"


def witnesses(param: Param) -> list[Value]:
    """Values a caller may pass: the default, each allowed value, and the extremes."""
    default: Value = Unknown(param.type)
    found: list[Value] = []
    if param.default is not None:
        try:
            default = EVALUATOR.evaluate(param.default, _default_scope())
        except EvalError:
            default = Unknown(param.type)
        found.append(default)
    allowed = decorator(param, "allowed")
    if isinstance(allowed, list):
        return found + [a for a in allowed if a not in found] if found else list(allowed)
    if param.type == "bool":
        return found + [v for v in (True, False) if v not in found]
    if param.type == "int":
        ends = [decorator(param, "minValue"), decorator(param, "maxValue")]
        extra = [v for v in ends if isinstance(v, int) and v not in found]
        return found + extra or [0]
    if param.type == "string":
        low = decorator(param, "minLength")
        high = decorator(param, "maxLength")
        low = low if isinstance(low, int) else 0
        high = high if isinstance(high, int) else max(low, 80)
        longest = (ODD * (high // len(ODD) + 1))[:high]
        shortest = ("-" * max(low, 1))[: max(low, 1)] if low > 0 else ""
        typical = ("ebprod" * 12)[: max(low, min(high, 6))]
        if param.default is None:
            found.append(typical)
        return found + [v for v in (longest, shortest) if v not in found]
    if not found:
        found.append(Unknown(param.type))
    return found


def _default_scope() -> Scope:
    return Scope(lambda name, line: Unknown("any"))


def world_count(project: Project, template: Template) -> int:
    return max([1, *(len(witnesses(p)) for p in template.params.values())])


def world_value(param: Param, world: int) -> Value:
    options = witnesses(param)
    return options[world % len(options)]


# --- instances: one template evaluated with one set of parameter values -------------


class ResourceRef(Ref):
    def __init__(self, instance: Instance, resource: Resource) -> None:
        self.instance = instance
        self.resource = resource
        self.looped = _is_loop(resource.value)
        self.kind = "array" if self.looped else "object"

    def access(self, name: str, line: int) -> Value:
        if self.looped:
            raise EvalError(line, f"'{self.resource.name}' is a loop: index it first")
        return self.instance.resource_property(self.resource, name, line)

    def index(self, value: Value, line: int) -> Value:
        if not self.looped:
            raise EvalError(line, f"'{self.resource.name}' is not a loop")
        return _Element(self.instance, self.resource)


class _Element(Ref):
    def __init__(self, instance: Instance, resource: Resource) -> None:
        self.instance = instance
        self.resource = resource

    def access(self, name: str, line: int) -> Value:
        if name == "name":
            return Unknown("string")
        return self.instance.resource_property(self.resource, name, line)


class ModuleRef(Ref):
    def __init__(self, instance: Instance, module: Module) -> None:
        self.instance = instance
        self.module = module

    def access(self, name: str, line: int) -> Value:
        if name == "outputs":
            return _Outputs(self.instance, self.module)
        if name == "name":
            return self.instance.module_deployment_name(self.module)
        raise EvalError(
            line,
            f"module '{self.module.name}' has no property '{name}' "
            "(its outputs are under '.outputs')",
        )


class _Outputs(Ref):
    def __init__(self, instance: Instance, module: Module) -> None:
        self.instance = instance
        self.module = module

    def access(self, name: str, line: int) -> Value:
        child = self.instance.child(self.module, line)
        if child is None:
            return Unknown("any")
        output = child.template.outputs.get(name)
        if output is None:
            raise EvalError(
                line,
                f"module '{self.module.name}' ({self.module.path}) has no "
                f"output '{name}'{suggest(name, child.template.outputs)}",
            )
        return child.output(name)


def _is_loop(value: Node) -> bool:
    from tests.infra.support.bicep_ast import For

    return isinstance(value, For)


class Instance:
    def __init__(
        self,
        project: Project,
        template: Template,
        arguments: dict[str, Value] | None,
        world: int,
        stack: tuple[Path, ...] = (),
    ) -> None:
        self.project = project
        self.template = template
        self.world = world
        self.stack = (*stack, template.path)
        self.values: dict[str, Value] = {}
        self.outputs: dict[str, Value] = {}
        self.busy: set[str] = set()
        self.children: dict[str, Instance | None] = {}
        self.params: dict[str, Value] = {}
        for param in template.params.values():
            if arguments is not None and param.name in arguments:
                self.params[param.name] = arguments[param.name]
            elif arguments is not None:
                self.params[param.name] = self.default(param)
            else:
                self.params[param.name] = world_value(param, world)
        self.scope = Scope(self.lookup)

    def report(self, line: int, message: str) -> None:
        self.project.report(self.template.path, line, message)

    def report_error(self, error: EvalError) -> None:
        path = error.path if isinstance(error.path, Path) else self.template.path
        self.project.report(path, error.line, error.message)

    def default(self, param: Param) -> Value:
        if param.default is None:
            return Unknown(param.type)
        try:
            return EVALUATOR.evaluate(param.default, self.scope_for_defaults())
        except EvalError as error:
            self.report_error(error)
            return Unknown(param.type)

    def scope_for_defaults(self) -> Scope:
        def lookup(name: str, line: int) -> Value:
            if name in self.template.params:
                return self.params.get(name, Unknown(self.template.params[name].type))
            raise EvalError(line, f"a parameter default may only use parameters, not '{name}'")

        return Scope(lookup)

    # --- names ---------------------------------------------------------------------

    def lookup(self, name: str, line: int) -> Value:
        template = self.template
        if name in template.params:
            return self.params[name]
        if name in template.variables:
            return self.variable(name, line)
        if name in template.resources:
            return ResourceRef(self, template.resources[name])
        if name in template.modules:
            return ModuleRef(self, template.modules[name])
        declared = [*template.params, *template.variables, *template.resources, *template.modules]
        raise EvalError(line, f"'{name}' is not declared{suggest(name, declared)}")

    def variable(self, name: str, line: int) -> Value:
        if name in self.values:
            return self.values[name]
        if name in self.busy:
            raise EvalError(line, f"variable '{name}' refers to itself")
        self.busy.add(name)
        try:
            value = EVALUATOR.evaluate(self.template.variables[name].value, self.scope)
        finally:
            self.busy.discard(name)
        self.values[name] = value
        return value

    def output(self, name: str) -> Value:
        if name not in self.outputs:
            output = self.template.outputs[name]
            try:
                self.outputs[name] = EVALUATOR.evaluate(output.value, self.scope)
            except EvalError as error:
                if error.path is None:
                    error.path = self.template.path
                raise
        return self.outputs[name]

    def resource_property(self, resource: Resource, name: str, line: int) -> Value:
        schema = self.project.schemas.resource(resource.type, resource.api)
        owner = f"{resource.type}@{resource.api}"
        if name in ("id",):
            return Unknown("string")
        if name == "name":
            body = body_of(resource.value)
            node = body.get("name")
            return self.evaluate(node) if node is not None else Unknown("string")
        if name in ("type", "apiVersion"):
            return resource.type if name == "type" else resource.api
        if schema is None:
            return Unknown("any")
        model = self.project.schemas.model(schema.get("read", schema["body"]))
        assert model is not None
        props = model["props"]
        if name not in props:
            raise EvalError(line, f"{owner} has no property '{name}'{suggest(name, props)}")
        return read_through(self.project.schemas, props[name]["type"], name, owner)

    def evaluate(self, node: Node, scope: Scope | None = None) -> Value:
        return EVALUATOR.evaluate(node, scope or self.scope)

    def module_deployment_name(self, module: Module) -> Value:
        node = body_of(module.value).get("name")
        return self.evaluate(node) if node is not None else Unknown("string")

    # --- modules -------------------------------------------------------------------

    def child(self, module: Module, line: int) -> Instance | None:
        if module.name in self.children:
            return self.children[module.name]
        path = (self.template.path.parent / module.path).resolve()
        template = self.project.template(path)
        if template is None or path in self.stack:
            self.children[module.name] = None
            return None
        self.children[module.name] = None  # a module reading its own outputs: no recursion
        arguments: dict[str, Value] = {}
        params = body_of(module.value).get("params")
        scope = self.scope
        if _is_loop(module.value):
            scope = self.scope.child({n: Unknown("any") for n in _loop_names(module.value)})
        if isinstance(params, Obj):
            for key, node in params.pairs:
                arguments[key] = EVALUATOR.evaluate(node, scope)
        instance = Instance(self.project, template, arguments, self.world, self.stack)
        self.children[module.name] = instance
        return instance

    # --- the checks ----------------------------------------------------------------

    def run(self) -> None:
        for param in self.template.params.values():
            self.check_param(param)
        for name, variable in self.template.variables.items():
            try:
                self.variable(name, variable.line)
            except EvalError as error:
                self.report_error(error)
        for resource in self.template.resources.values():
            try:
                self.check_resource(resource)
            except EvalError as error:
                self.report_error(error)
        for module in self.template.modules.values():
            try:
                self.check_module(module)
            except EvalError as error:
                self.report_error(error)
        for output in self.template.outputs.values():
            try:
                value = self.output(output.name)
            except EvalError as error:
                self.report_error(error)
                continue
            self.check_type(output.line, f"output '{output.name}'", output.type, value)

    def check_type(self, line: int, what: str, declared: str, value: Value) -> bool:
        actual = type_of(value)
        if declared == "any" or actual in ("any", declared):
            return True
        if actual == "null":
            return True
        self.report(
            line,
            f"{what} is declared {declared} but is given a {actual}"
            + (f" ({value!r})" if known(value) and not isinstance(value, Ref) else ""),
        )
        return False

    def check_param(self, param: Param) -> None:
        if param.default is not None:
            value = self.default(param)
            self.check_type(param.line, f"parameter '{param.name}''s default", param.type, value)
            self.check_param_value(param.line, f"parameter '{param.name}''s default", param, value)
        for name in ("minLength", "maxLength", "minValue", "maxValue"):
            bound = decorator(param, name)
            if bound is not None and not isinstance(bound, int):
                self.report(param.line, f"parameter '{param.name}': @{name} needs an int")

    def check_param_value(self, line: int, what: str, param: Param, value: Value) -> None:
        if not known(value):
            return
        allowed = decorator(param, "allowed")
        if isinstance(allowed, list) and value not in allowed:
            self.report(
                line,
                f"{what}: {value!r} is not an allowed value of '{param.name}' "
                f"({', '.join(map(repr, allowed))})",
            )
        low, high = decorator(param, "minValue"), decorator(param, "maxValue")
        if isinstance(value, int) and not isinstance(value, bool):
            if isinstance(low, int) and value < low:
                self.report(line, f"{what}: {value} is below '{param.name}''s @minValue({low})")
            if isinstance(high, int) and value > high:
                self.report(line, f"{what}: {value} is above '{param.name}''s @maxValue({high})")
        low, high = decorator(param, "minLength"), decorator(param, "maxLength")
        if isinstance(value, (str, list)):
            if isinstance(low, int) and len(value) < low:
                self.report(
                    line, f"{what}: {len(value)} long, below '{param.name}''s @minLength({low})"
                )
            if isinstance(high, int) and len(value) > high:
                self.report(
                    line, f"{what}: {len(value)} long, above '{param.name}''s @maxLength({high})"
                )

    def check_module(self, module: Module) -> None:
        body = body_of(module.value)
        where = f"module '{module.name}' ({module.path})"
        for key, node in body.pairs:
            if key not in MODULE_KEYS:
                self.report(
                    node.line, f"{where}: unknown property '{key}'{suggest(key, MODULE_KEYS)}"
                )
        self.check_depends_on(body)
        test = self.condition(module.value)
        name = body.get("name")
        if name is not None:
            value = self.evaluate(name)
            rules = self.project.schemas.naming["deploymentName"]
            if isinstance(value, str):
                self.check_constraints(name.line, f"{where}: deployment name", value, rules)
        child_path = (self.template.path.parent / module.path).resolve()
        template = self.project.template(child_path)
        if template is None:
            return
        params = body.get("params")
        passed: dict[str, Node] = dict(params.pairs) if isinstance(params, Obj) else {}
        if params is not None and not isinstance(params, Obj):
            self.report(params.line, f"{where}: 'params' is not an object")
        for key, node in passed.items():
            if key not in template.params:
                self.report(
                    node.line, f"{where}: no parameter '{key}'{suggest(key, template.params)}"
                )
        for param in template.params.values():
            if param.default is None and param.name not in passed:
                self.report(
                    module.line, f"{where}: required parameter '{param.name}' is not passed"
                )
        child = self.child(module, module.line)
        if child is None or test is False:
            return
        for key, node in passed.items():
            declared = template.params.get(key)
            if declared is None:
                continue
            param = declared
            value = child.params[key]
            what = f"{where}: parameter '{key}'"
            if self.check_type(node.line, what, param.type, value):
                self.check_param_value(node.line, what, param, value)
        child.run()

    def condition(self, value: Node) -> Value:
        if isinstance(value, If):
            test = self.evaluate(value.test)
            if not isinstance(test, (bool, Unknown)):
                self.report(value.line, f"a deployment condition is a {type_of(test)}, not a bool")
            return test
        return True

    def check_depends_on(self, body: Obj) -> None:
        depends = body.get("dependsOn")
        if depends is None:
            return
        if not isinstance(depends, Arr):
            self.report(depends.line, "dependsOn is not an array")
            return
        for item in depends.items:
            target = item.target if isinstance(item, Prop) else item
            if not isinstance(target, Ident) or (
                target.name not in self.template.resources
                and target.name not in self.template.modules
            ):
                self.report(
                    item.line,
                    "dependsOn lists something that is not a resource or module of this template",
                )

    # --- resources -----------------------------------------------------------------

    def check_resource(self, resource: Resource) -> None:
        schemas = self.project.schemas
        schema = schemas.resource(resource.type, resource.api)
        where = f"resource '{resource.name}' ({resource.type}@{resource.api})"
        if schema is None:
            self.report(resource.line, schemas.unknown_api_message(resource.type, resource.api))
        body = body_of(resource.value)
        test = self.condition(resource.value)
        scopes = list(self.loop_scopes(resource.value))
        for scope in scopes:
            if schema is None:
                for _, node in body.pairs:
                    self.evaluate(node, scope)
                continue
            self.check_resource_body(
                resource, schema, body, scope, where, deployed=test is not False
            )

    def loop_scopes(self, value: Node) -> Iterator[Scope]:
        from tests.infra.support.bicep_ast import For

        if isinstance(value, If):
            yield from self.loop_scopes(value.body)
            return
        if not isinstance(value, For):
            yield self.scope
            return
        items = self.evaluate(value.iterable)
        if not isinstance(items, list) or not items:
            yield self.scope.child({n: Unknown("any") for n in _loop_names(value)})
            return
        for i, item in enumerate(items):
            local: dict[str, Value] = {}
            if value.item:
                local[value.item] = item
            if value.index:
                local[value.index] = i
            inner = self.scope.child(local)
            if isinstance(value.body, If):
                test = EVALUATOR.evaluate(value.body.test, inner)
                if test is False:
                    continue
            yield inner

    def check_resource_body(
        self,
        resource: Resource,
        schema: dict[str, Any],
        body: Obj,
        scope: Scope,
        where: str,
        deployed: bool,
    ) -> None:
        schemas = self.project.schemas
        model = schemas.model(schema["body"])
        assert model is not None
        name_node = body.get("name")
        if name_node is None:
            self.report(body.line, f"{where}: missing required property 'name'")
        else:
            name = self.evaluate(name_node, scope)
            if isinstance(name, str) and deployed:
                self.check_name(resource, schema, name_node.line, name, where)
            elif not isinstance(name, (str, Unknown)):
                self.report(name_node.line, f"{where}: the name is a {type_of(name)}")
        parent = body.get("parent")
        if parent is not None:
            self.check_parent(resource, parent, where)
        elif (
            resource.type.count("/") > 1
            and not resource.existing
            and (isinstance(name_node, Lit) and "/" not in str(name_node.value))
        ):
            self.report(
                body.line, f"{where}: a child resource needs 'parent' (or a full 'a/b' name)"
            )
        self.check_depends_on(body)
        if resource.existing:
            for key, node in body.pairs:
                if key not in ("name", "parent", "scope"):
                    self.report(
                        node.line,
                        f"{where}: an existing resource takes only name, "
                        f"parent and scope, not '{key}'",
                    )
            return
        props = model["props"]
        names = schema.get("names")
        if isinstance(names, dict) and isinstance(name_node, Lit) and name_node.value in names:
            fixed = schemas.model(names[str(name_node.value)])
            assert fixed is not None
            props = fixed["props"]
        for key, node in body.pairs:
            if key in BICEP_KEYS:
                if key == "scope":
                    self.evaluate(node, scope)
                continue
            if key not in props:
                self.report(node.line, f"{where}: unknown property '{key}'{suggest(key, props)}")
                self.evaluate(node, scope)
                continue
            self.check_property(node, scope, props[key], key, where, deployed)
        present = {key for key, _ in body.pairs}
        for key, spec in props.items():
            if spec.get("required") and not spec.get("readonly") and key not in present:
                self.report(body.line, f"{where}: missing required property '{key}'")
        if deployed:
            self.check_flex(resource, body, scope, where)

    def check_name(
        self, resource: Resource, schema: dict[str, Any], line: int, name: str, where: str
    ) -> None:
        last = name.rsplit("/", 1)[-1]
        names = schema.get("names")
        if isinstance(names, dict) and last not in names:
            self.report(line, f"{where}: name '{last}' is not one of {', '.join(names)}")
        rules = dict(schema.get("name", {}))
        rules.update(self.project.schemas.naming["rules"].get(resource.type, {}))
        self.check_constraints(line, f"{where}: name", last, rules)

    def check_constraints(self, line: int, what: str, value: Value, rules: dict[str, Any]) -> None:
        if isinstance(value, str):
            low, high = rules.get("min_length"), rules.get("max_length")
            if isinstance(low, int) and len(value) < low:
                self.report(line, f"{what} '{value}' is {len(value)} characters, below {low}")
            if isinstance(high, int) and len(value) > high:
                self.report(line, f"{what} '{value}' is {len(value)} characters, above {high}")
            pattern = rules.get("pattern")
            if isinstance(pattern, str) and not re.search(pattern, value):
                self.report(line, f"{what} '{value}' does not match {pattern}")
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = rules.get("minimum"), rules.get("maximum")
            if isinstance(low, (int, float)) and value < low:
                self.report(line, f"{what} {value} is below the minimum {low}")
            if isinstance(high, (int, float)) and value > high:
                self.report(line, f"{what} {value} is above the maximum {high}")
        if isinstance(value, list):
            low, high = rules.get("min_items"), rules.get("max_items")
            if isinstance(low, int) and len(value) < low:
                self.report(line, f"{what} has {len(value)} items, below {low}")
            if isinstance(high, int) and len(value) > high:
                self.report(line, f"{what} has {len(value)} items, above {high}")

    def check_parent(self, resource: Resource, parent: Node, where: str) -> None:
        if isinstance(parent, Index):
            parent = parent.target
        if not isinstance(parent, Ident) or parent.name not in self.template.resources:
            self.report(parent.line, f"{where}: 'parent' must name a resource of this template")
            return
        expected = resource.type.rsplit("/", 1)[0]
        actual = self.template.resources[parent.name].type
        if actual.lower() != expected.lower():
            self.report(
                parent.line, f"{where}: parent '{parent.name}' is a {actual}, not a {expected}"
            )

    def check_property(
        self,
        node: Node,
        scope: Scope,
        spec: dict[str, Any],
        path: str,
        where: str,
        deployed: bool,
    ) -> None:
        if spec.get("readonly"):
            self.report(node.line, f"{where}: '{path}' is read-only")
        for branch in self.branches(node, scope):
            value = self.evaluate(branch, scope)
            self.check_value(branch, scope, value, spec["type"], path, where, deployed)
            if deployed:
                self.check_constraints(branch.line, f"{where}: '{path}'", value, spec)

    def branches(self, node: Node, scope: Scope) -> list[Node]:
        """Both sides of a condition that is unknown before deployment; else the node."""
        if isinstance(node, Cond):
            test = self.evaluate(node.test, scope)
            if isinstance(test, Unknown):
                return [*self.branches(node.then, scope), *self.branches(node.otherwise, scope)]
            if isinstance(test, bool):
                return self.branches(node.then if test else node.otherwise, scope)
        return [node]

    def check_value(
        self,
        node: Node,
        scope: Scope,
        value: Value,
        typeref: Any,
        path: str,
        where: str,
        deployed: bool,
    ) -> None:
        schemas = self.project.schemas
        expected = kind_of(typeref)
        actual = type_of(value)
        if value is None:
            return
        if expected == "any" or actual == "any":
            return
        if isinstance(typeref, str) and typeref == "number" and actual == "int":
            return
        if isinstance(typeref, dict) and "dict" in typeref:
            expected = "object"
        if actual != expected:
            shown = f" ({value!r})" if known(value) and not isinstance(value, Ref) else ""
            self.report(node.line, f"{where}: '{path}' must be a {expected}, not a {actual}{shown}")
            return
        if isinstance(typeref, dict) and "enum" in typeref:
            if isinstance(value, str) and deployed and value not in typeref["enum"]:
                self.report(
                    node.line,
                    f"{where}: '{path}' is '{value}', not one of {', '.join(typeref['enum'])}",
                )
            return
        if isinstance(typeref, dict) and "array" in typeref:
            if not isinstance(value, list):
                return
            items = node.items if isinstance(node, Arr) and len(node.items) == len(value) else None
            for i, item in enumerate(value):
                item_node = items[i] if items is not None else node
                self.check_value(
                    item_node, scope, item, typeref["array"], f"{path}[{i}]", where, deployed
                )
            return
        if isinstance(typeref, dict) and "dict" in typeref:
            if isinstance(value, dict):
                for key, item in value.items():
                    sub = node.get(key) if isinstance(node, Obj) else None
                    self.check_value(
                        sub or node, scope, item, typeref["dict"], f"{path}.{key}", where, deployed
                    )
            return
        model = schemas.model(typeref)
        if model is None or not isinstance(value, dict):
            return
        props = model["props"]
        if isinstance(node, Obj):
            for key, sub in node.pairs:
                if key not in props:
                    self.report(
                        sub.line, f"{where}: unknown property '{path}.{key}'{suggest(key, props)}"
                    )
                    continue
                self.check_property(sub, scope, props[key], f"{path}.{key}", where, deployed)
            present = {k for k, _ in node.pairs}
        else:
            for key, item in value.items():
                if key not in props:
                    self.report(
                        node.line, f"{where}: unknown property '{path}.{key}'{suggest(key, props)}"
                    )
                    continue
                self.check_value(
                    node, scope, item, props[key]["type"], f"{path}.{key}", where, deployed
                )
            present = set(value)
        for key, spec in props.items():
            if spec.get("required") and not spec.get("readonly") and key not in present:
                self.report(node.line, f"{where}: '{path}' lacks required property '{key}'")

    def deployed(self) -> Iterator[Deployed]:
        """What this instance creates: its resources, then its modules' (see `deployed`)."""
        relative = str(self.template.path.relative_to(self.project.infra))
        for resource in self.template.resources.values():
            if resource.existing or self.condition(resource.value) is False:
                continue
            body = body_of(resource.value)
            for scope in self.loop_scopes(resource.value):
                value = {
                    key: EVALUATOR.evaluate(node, scope)
                    for key, node in body.pairs
                    if key not in ("parent", "dependsOn")
                }
                yield Deployed(relative, resource.name, resource.type, value)
        for module in self.template.modules.values():
            if self.condition(module.value) is False:
                continue
            child = self.child(module, module.line)
            if child is not None:
                yield from child.deployed()

    # --- Flex Consumption ----------------------------------------------------------

    def check_flex(self, resource: Resource, body: Obj, scope: Scope, where: str) -> None:
        flex = self.project.schemas.flex
        value = {
            key: self.evaluate(node, scope) for key, node in body.pairs if key not in BICEP_KEYS
        }
        properties = value.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        node_properties = body.get("properties")
        line_of = _line_finder(node_properties, body.line)
        if resource.type == "Microsoft.Web/serverfarms":
            sku = value.get("sku")
            if isinstance(sku, dict) and sku.get("name") == "FC1":
                if sku.get("tier") not in ("FlexConsumption", None):
                    self.report(body.line, f"{where}: an FC1 plan's tier is FlexConsumption")
                if properties.get("reserved") is not True:
                    self.report(
                        body.line,
                        f"{where}: a Flex Consumption plan is Linux only: "
                        "'properties.reserved' must be true",
                    )
                self.check_region(body, value, where)
            return
        is_flex_site = resource.type == "Microsoft.Web/sites" and (
            "functionAppConfig" in properties or self.project.flex
        )
        if is_flex_site:
            self.check_region(body, value, where)
            for key in properties:
                if key in flex["sitePropertiesDenied"]:
                    self.report(
                        line_of(key),
                        f"{where}: 'properties.{key}' on a Flex "
                        f"Consumption app: {flex['sitePropertiesDenied'][key]}",
                    )
            self.check_site_config(properties.get("siteConfig"), line_of("siteConfig"), where)
            self.check_function_app_config(
                properties.get("functionAppConfig"), line_of("functionAppConfig"), where
            )
        if resource.type == "Microsoft.Web/sites/config" and self.project.flex:
            name = value.get("name") or self.evaluate(body.get("name") or Lit(0, None), scope)
            if name == "appsettings" and isinstance(properties, dict):
                self.check_app_settings(properties, line_of, where)
            if name == "web":
                self.check_site_config(properties, body.line, where)

    def check_region(self, body: Obj, value: dict[str, Value], where: str) -> None:
        location = value.get("location")
        regions = self.project.schemas.flex["regions"]
        if isinstance(location, str) and location not in regions:
            node = body.get("location")
            self.report(
                node.line if node else body.line,
                f"{where}: Flex Consumption is not offered in '{location}'",
            )

    def check_site_config(self, site_config: Value, line: int, where: str) -> None:
        denied = self.project.schemas.flex["siteConfigDenied"]
        if not isinstance(site_config, dict):
            return
        for key in site_config:
            if key in denied:
                self.report(
                    line, f"{where}: 'siteConfig.{key}' on a Flex Consumption app: {denied[key]}"
                )
        settings = site_config.get("appSettings")
        if isinstance(settings, list):
            named = {str(s.get("name")): s.get("value") for s in settings if isinstance(s, dict)}
            self.check_app_settings(named, lambda key: line, where)

    def check_app_settings(self, settings: dict[str, Value], line_of: Any, where: str) -> None:
        denied = {
            k.upper(): (k, v) for k, v in self.project.schemas.flex["appSettingsDenied"].items()
        }
        for key in settings:
            if isinstance(key, str) and key.upper() in denied:
                name, reason = denied[key.upper()]
                self.report(
                    line_of(key),
                    f"{where}: app setting '{name}' on a Flex Consumption app: {reason}",
                )

    def check_function_app_config(self, config: Value, line: int, where: str) -> None:
        flex = self.project.schemas.flex
        if not isinstance(config, dict):
            return
        scale = config.get("scaleAndConcurrency")
        if isinstance(scale, dict):
            memory = scale.get("instanceMemoryMB")
            if isinstance(memory, int) and memory not in flex["instanceMemoryMB"]:
                self.report(
                    line,
                    f"{where}: instanceMemoryMB {memory} is not a Flex Consumption "
                    f"instance size ({', '.join(map(str, flex['instanceMemoryMB']))})",
                )
            self.check_range(
                line,
                where,
                "maximumInstanceCount",
                scale.get("maximumInstanceCount"),
                flex["maximumInstanceCount"],
            )
            ready = scale.get("alwaysReady")
            if isinstance(ready, list):
                for item in ready:
                    if isinstance(item, dict):
                        self.check_range(
                            line,
                            where,
                            "alwaysReady instanceCount",
                            item.get("instanceCount"),
                            flex["alwaysReadyInstanceCount"],
                        )
            triggers = scale.get("triggers")
            if isinstance(triggers, dict) and isinstance(triggers.get("http"), dict):
                self.check_range(
                    line,
                    where,
                    "http perInstanceConcurrency",
                    triggers["http"].get("perInstanceConcurrency"),
                    flex["perInstanceConcurrency"],
                )
        runtime = config.get("runtime")
        if isinstance(runtime, dict) and isinstance(runtime.get("name"), str):
            versions = flex["runtimes"].get(runtime["name"])
            version = runtime.get("version")
            if versions is not None and isinstance(version, str) and version not in versions:
                self.report(
                    line,
                    f"{where}: {runtime['name']} {version} is not a Flex "
                    f"Consumption runtime ({', '.join(versions)})",
                )

    def check_range(
        self, line: int, where: str, what: str, value: Value, bounds: dict[str, int]
    ) -> None:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not (bounds["min"] <= value <= bounds["max"])
        ):
            self.report(
                line,
                f"{where}: {what} {value} is outside "
                f"{bounds['min']}-{bounds['max']} on Flex Consumption",
            )


def _loop_names(value: Node) -> list[str]:
    from tests.infra.support.bicep_ast import For

    if isinstance(value, For):
        return [n for n in (value.item, value.index) if n]
    return []


def _line_finder(node: Node | None, fallback: int) -> Any:
    def line_of(key: str) -> int:
        if isinstance(node, Obj):
            found = node.get(key)
            if found is not None:
                return found.line
        return node.line if node is not None else fallback

    return line_of


@dataclass(frozen=True)
class Deployed:
    """A resource a deployment creates, with its body evaluated (see `deployed`)."""

    template: str  # path relative to the infra folder
    symbol: str
    type: str
    body: dict[str, Value]


def deployed(infra: Path, arguments: dict[str, Value], root: str = "main.bicep") -> list[Deployed]:
    """The resources a deployment of `root` with these parameters creates (conditions
    and loops applied; what only Azure knows stays Unknown). For intent tests."""
    project = Project(infra.resolve(), Schemas())
    for path in sorted(project.infra.rglob("*.bicep")):
        project.templates[path.resolve()] = parse_file(path)
    project.flex = True
    template = project.templates[(project.infra / root).resolve()]
    instance = Instance(project, template, dict(arguments), 0)
    return list(instance.deployed())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    infra = Path(args[0]) if args else ROOT / "infra"
    findings = check(infra)
    for finding in findings:
        print(f"schema-check: {finding}")
    count = len(list(infra.rglob("*.bicep")))
    if findings:
        print(f"schema-check: {len(findings)} problem(s) in {count} templates")
        return 1
    print(f"schema-check: {count} templates match the vendored schemas")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
