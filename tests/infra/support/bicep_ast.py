"""Bicep templates as a small typed syntax tree, read with pycep-parser's grammar.

pycep's own JSON output cannot tell an identifier from a string literal (both
come out as bare strings) and nests accessors right to left, so the schema check
walks pycep's Lark parse tree itself: identifiers, literals and `${}`
interpolations stay distinct, and `a.b[0].c` becomes a left-nested chain.

Known gap of the grammar (not of this module): operator precedence. pycep reads
`!a ? b : c` as `!(a ? b : c)` and `a && b ? c : d` as `a && (b ? c : d)`; the
templates parenthesise conditions, `(a) ? b : c`, which both read the same way.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from pycep.main import LARK_GRAMMAR
from pycep.validator import BicepValidator


class BicepSyntaxError(Exception):
    """A template the grammar does not accept (or a construct this reader does not know)."""


# --- expressions -------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    line: int


@dataclass(frozen=True)
class Lit(Node):
    value: str | int | bool | None


@dataclass(frozen=True)
class Ident(Node):
    name: str


@dataclass(frozen=True)
class Interp(Node):
    parts: tuple[str | Node, ...]


@dataclass(frozen=True)
class Arr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Obj(Node):
    pairs: tuple[tuple[str, Node], ...]
    computed: tuple[tuple[Node, Node], ...] = ()  # '${expr}': value pairs

    def get(self, key: str) -> Node | None:
        for name, value in self.pairs:
            if name == key:
                return value
        return None


@dataclass(frozen=True)
class Call(Node):
    name: str  # as written, e.g. "toLower" or "az.resourceGroup"
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Prop(Node):
    target: Node
    name: str
    safe: bool = False


@dataclass(frozen=True)
class Index(Node):
    target: Node
    index: Node


@dataclass(frozen=True)
class Cond(Node):
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Bin(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "!" or "-"
    operand: Node


@dataclass(frozen=True)
class Lambda(Node):
    params: tuple[str, ...]
    body: Node


@dataclass(frozen=True)
class For(Node):
    item: str | None
    index: str | None
    iterable: Node
    body: Node


@dataclass(frozen=True)
class If(Node):
    test: Node
    body: Node


@dataclass(frozen=True)
class MethodCall(Node):
    """`resource.listKeys()` style calls (list*/getSecret)."""

    target: Node
    name: str
    args: tuple[Node, ...]


# --- declarations ------------------------------------------------------------------


@dataclass(frozen=True)
class Decl:
    name: str
    line: int
    decorators: dict[str, Node | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Param(Decl):
    type: str = "any"
    default: Node | None = None


@dataclass(frozen=True)
class Var(Decl):
    value: Node = field(default_factory=lambda: Lit(0, None))


@dataclass(frozen=True)
class Output(Decl):
    type: str = "any"
    value: Node = field(default_factory=lambda: Lit(0, None))


@dataclass(frozen=True)
class Resource(Decl):
    type: str = ""
    api: str = ""
    existing: bool = False
    value: Node = field(default_factory=lambda: Lit(0, None))  # Obj, For or If


@dataclass(frozen=True)
class Module(Decl):
    path: str = ""
    value: Node = field(default_factory=lambda: Lit(0, None))


@dataclass
class Template:
    path: Path
    scope: str = "resourceGroup"
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, Var] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    duplicates: list[tuple[str, int]] = field(default_factory=list)


def body_of(value: Node) -> Obj:
    """The object of a resource or module declaration, under any loop or condition."""
    while isinstance(value, (For, If)):
        value = value.body
    if not isinstance(value, Obj):
        raise BicepSyntaxError(f"line {value.line}: a declaration's body is not an object")
    return value


# --- reading -----------------------------------------------------------------------


@functools.cache
def _parser() -> Lark:
    return Lark(grammar=LARK_GRAMMAR, parser="lalr", propagate_positions=True, regex=True)


def parse_file(path: Path) -> Template:
    return parse_text(path.read_text(), path)


def parse_text(text: str, path: Path) -> Template:
    if not BicepValidator.is_valid(text):
        raise BicepSyntaxError("pycep's validator refuses the file")
    try:
        tree = _parser().parse(text)
    except Exception as error:  # lark raises several unrelated exception types
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BicepSyntaxError(first) from error
    template = Template(path)
    for element in tree.children:
        if isinstance(element, Tree):
            _declaration(template, element)
    return template


def _line(node: Tree[Token] | Token) -> int:
    if isinstance(node, Token):
        return node.line or 0
    return getattr(node.meta, "line", 0) if not node.meta.empty else 0


def _declaration(template: Template, element: Tree[Token]) -> None:
    kind = element.data
    children = element.children
    line = _line(element)
    if kind == "scope":
        template.scope = _string_literal(children[0])
        return
    if kind not in ("param", "var", "output", "resource", "module"):
        raise BicepSyntaxError(f"line {line}: '{kind}' declarations are not supported here")
    decorators = _decorators(children[0])
    name = str(children[1])
    names = (template.params, template.variables, template.resources, template.modules)
    if any(name in group for group in names) and kind != "output":
        template.duplicates.append((name, line))
    if kind == "param":
        default = _expr(children[3]) if len(children) > 3 and children[3] is not None else None
        template.params[name] = Param(name, line, decorators, _data_type(children[2]), default)
    elif kind == "var":
        template.variables[name] = Var(name, line, decorators, _expr(children[-1]))
    elif kind == "output":
        template.outputs[name] = Output(
            name, line, decorators, _data_type(children[2]), _expr(children[3])
        )
    elif kind == "resource":
        type_api = _string_literal(children[2])
        type_, _, api = type_api.partition("@")
        template.resources[name] = Resource(
            name, line, decorators, type_, api, children[3] is not None, _expr(children[4])
        )
    else:
        template.modules[name] = Module(
            name, line, decorators, _string_literal(children[2]), _expr(children[3])
        )


def _decorators(node: Any) -> dict[str, Node | None]:
    found: dict[str, Node | None] = {}
    if isinstance(node, Tree):
        for decorator in node.children:
            assert isinstance(decorator, Tree)
            name = str(decorator.children[0])
            argument = decorator.children[1] if len(decorator.children) > 1 else None
            found[name] = _expr(argument) if argument is not None else None
    return found


def _data_type(node: Any) -> str:
    if not isinstance(node, Tree):
        return "any"
    base = node.children[0]
    assert isinstance(base, Tree)
    inner = base.children[0]
    name = str(inner) if isinstance(inner, Token) else "any"
    return "array" if len(node.children) > 1 else name


def _string_literal(node: Any) -> str:
    token = node.children[0] if isinstance(node, Tree) else node
    parts = _split_quoted(str(token), _line(token))
    if any(not isinstance(p, str) for p in parts):
        raise BicepSyntaxError(f"line {_line(token)}: expected a string without interpolation")
    return "".join(str(p) for p in parts)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", "$": "$"}


def _split_quoted(text: str, line: int) -> tuple[str | Node, ...]:
    """'a${b}c' -> ("a", <b>, "c")."""
    if text.startswith("'''"):
        return (text[3:-3],)
    body = text[1:-1]
    parts: list[str | Node] = []
    literal: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            literal.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif char == "$" and body[i + 1 : i + 2] == "{":
            end = _closing_brace(body, i + 2)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_inner(body[i + 2 : end], line))
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal or not parts:
        parts.append("".join(literal))
    return tuple(parts)


def _closing_brace(text: str, start: int) -> int:
    depth, i, quoted = 1, start, False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == "'":
                quoted = False
        elif char == "'":
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise BicepSyntaxError(f"line: unterminated interpolation in '{text}'")


def _parse_inner(source: str, line: int) -> Node:
    tree = _parser().parse(f"var interpolated = {source}\n")
    var = tree.children[0]
    assert isinstance(var, Tree)
    node = _expr(var.children[-1])
    return _relocate(node, line)


def _relocate(node: Node, line: int) -> Node:
    # An interpolation's nodes report the line of the string they sit in.
    return _Relocator(line).visit(node)


class _Relocator:
    def __init__(self, line: int) -> None:
        self.line = line

    def visit(self, node: Node) -> Node:
        values: dict[str, Any] = {}
        for name in node.__dataclass_fields__:
            value = getattr(node, name)
            values[name] = self._value(value)
        values["line"] = self.line
        return type(node)(**values)

    def _value(self, value: Any) -> Any:
        if isinstance(value, Node):
            return self.visit(value)
        if isinstance(value, tuple):
            return tuple(self._value(v) for v in value)
        return value


_INT = re.compile(r"-?\d+")


def _expr(node: Any) -> Node:
    if isinstance(node, Token):
        return Ident(_line(node), str(node))
    assert isinstance(node, Tree), node
    kind = node.data
    children = node.children
    line = _line(node)
    if kind == "null":
        return Lit(line, None)
    if kind == "true":
        return Lit(line, True)
    if kind == "false":
        return Lit(line, False)
    if kind == "int_type":
        return Lit(line, int(str(children[0])))
    if kind in ("string", "multi_line_string"):
        token = children[0]
        assert isinstance(token, Token)
        if token.type == "STRING":
            return Ident(line, str(token))
        parts = _split_quoted(str(token), line)
        if len(parts) == 1 and isinstance(parts[0], str):
            return Lit(line, parts[0])
        return Interp(line, parts)
    if kind == "array":
        return Arr(line, tuple(_expr(c) for c in children if c is not None))
    if kind == "object":
        pairs: list[tuple[str, Node]] = []
        computed: list[tuple[Node, Node]] = []
        for pair in children:
            if not isinstance(pair, Tree):
                continue
            if pair.data == "child_resource":
                raise BicepSyntaxError(f"line {line}: nested child resources are not supported")
            key_token = pair.children[0]
            assert isinstance(key_token, Tree)
            key = str(key_token.children[0])
            if key.startswith("'") and "${" in key:
                parts = _split_quoted(key, line)
                computed.append((Interp(line, parts), _expr(pair.children[1])))
                continue
            if key.startswith("'"):
                key = _string_literal(key_token.children[0])
            pairs.append((key, _expr(pair.children[1])))
        return Obj(line, tuple(pairs), tuple(computed))
    if kind == "function":
        name = str(children[0]).rstrip("(").strip()
        args = tuple(_expr(c) for c in children[1:] if c is not None)
        return Call(line, name, args)
    if kind == "operator":
        return _expr(children[0])
    if kind == "lambda_expression":
        *params, body = children
        names = tuple(_ident(p) for p in params)
        return Lambda(line, names, _expr(body))
    if kind == "property_accessor":
        base = _expr(children[0])
        return _chain(base, children[1], line)
    if kind == "index_accessor":
        return Index(line, _expr(children[0]), _expr(children[1]))
    if kind == "function_accessor":
        target = _expr(children[0])
        args = tuple(_expr(c) for c in children[2:] if c is not None)
        return MethodCall(line, target, str(children[1]), args)
    if kind == "nested_resource_accessor":
        raise BicepSyntaxError(f"line {line}: '::' accessors are not supported")
    if kind == "conditional":
        return Cond(line, _expr(children[0]), _expr(children[1]), _expr(children[2]))
    if kind == "not_op":
        return Unary(line, "!", _expr(children[0]))
    if kind == "minus":
        operand = _expr(children[0])
        if isinstance(operand, Lit) and isinstance(operand.value, int):
            return Lit(line, -operand.value)
        return Unary(line, "-", operand)
    if kind in _BINARY:
        return Bin(line, _BINARY[kind], _expr(children[0]), _expr(children[1]))
    if kind == "loop":
        spec, _condition, body = children[0], children[1], children[2]
        assert isinstance(spec, Tree)
        if spec.data == "loop_array":
            item, index, iterable = str(spec.children[0]), None, spec.children[1]
        elif spec.data == "loop_array_index":
            item, index, iterable = (
                str(spec.children[0]),
                str(spec.children[1]),
                spec.children[2],
            )
        else:
            raise BicepSyntaxError(f"line {line}: 'for ... in items()' loops are not supported")
        return For(line, item, index, _expr(iterable), _expr(body))
    if kind == "deploy_condition":
        return If(line, _expr(children[0]), _expr(children[1]))
    raise BicepSyntaxError(f"line {line}: '{kind}' is not supported here")


_BINARY = {
    "greater_than_or_equals": ">=",
    "greater_than": ">",
    "less_than_or_equals": "<=",
    "less_than": "<",
    "equals": "==",
    "not_equals": "!=",
    "equals_case_insens": "=~",
    "not_equals_case_insens": "!~",
    "and_op": "&&",
    "or_op": "||",
    "coalesce": "??",
    "add": "+",
    "divide": "/",
    "modulo": "%",
    "multiply": "*",
    "substract": "-",
}


def _ident(node: Any) -> str:
    expr = _expr(node)
    if not isinstance(expr, Ident):
        raise BicepSyntaxError(f"line {expr.line}: a lambda parameter must be a name")
    return expr.name


def _chain(base: Node, rest: Any, line: int) -> Node:
    """pycep nests `a.b.c` as a.(b.c); rebuild it as (a.b).c."""
    if isinstance(rest, Tree) and rest.data == "operator":
        rest = rest.children[0]
    if isinstance(rest, Tree) and rest.data == "property_accessor":
        return _chain(_chain(base, rest.children[0], line), rest.children[1], line)
    if isinstance(rest, Tree) and rest.data == "index_accessor":
        return Index(line, _chain(base, rest.children[0], line), _expr(rest.children[1]))
    if isinstance(rest, Tree) and rest.data == "function_accessor":
        target = _chain(base, rest.children[0], line)
        args = tuple(_expr(c) for c in rest.children[2:] if c is not None)
        return MethodCall(line, target, str(rest.children[1]), args)
    name = _expr(rest)
    if isinstance(name, Ident):
        return Prop(line, base, name.name)
    if isinstance(name, Call):
        raise BicepSyntaxError(f"line {line}: '.{name.name}()' is not a known accessor")
    raise BicepSyntaxError(f"line {line}: unsupported property access")
