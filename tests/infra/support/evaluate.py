"""Concrete evaluation of Bicep expressions, for the schema check.

Every expression is evaluated to a Python value (str, int, bool, None, list,
dict) when it can be known before deployment, or to `Unknown(type)` when only
Azure knows it (a resource id, an endpoint, a principal id). Parameters take
worst-case witness values world by world (tests/infra/support/schemacheck.py),
so a name built from them is checked at its longest and with its oddest
characters. Bicep functions are implemented as Bicep documents them, on the
values this project's templates use; an unknown function name is an error.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.infra.support.bicep_ast import (
    Arr,
    Bin,
    Call,
    Cond,
    For,
    Ident,
    If,
    Index,
    Interp,
    Lambda,
    Lit,
    MethodCall,
    Node,
    Obj,
    Prop,
    Unary,
)


class EvalError(Exception):
    """A template error found while evaluating (undeclared name, unknown function, ...)."""

    def __init__(self, line: int, message: str, path: object = None) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.path = path  # the template it is in, once known


@dataclass(frozen=True)
class Unknown:
    """A value only known at deployment; `type` is what Bicep knows of it."""

    type: str = "any"  # string, int, bool, array, object, any


@dataclass(frozen=True)
class Lambda_:
    params: tuple[str, ...]
    body: Node
    scope: Scope


Value = Any  # str | int | bool | None | list | dict | Unknown | Ref | Lambda_


def type_of(value: Value) -> str:
    if isinstance(value, Unknown):
        return value.type
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    if isinstance(value, Ref):
        return value.kind
    return "object"


def known(value: Value) -> bool:
    """True when the whole value is concrete."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, list):
        return all(known(v) for v in value)
    if isinstance(value, dict):
        return all(known(v) for v in value.values())
    return not isinstance(value, Ref)


class Ref:
    """A resource or module symbol: property access is resolved by the checker."""

    kind = "object"

    def access(self, name: str, line: int) -> Value:
        raise NotImplementedError

    def index(self, value: Value, line: int) -> Value:
        raise EvalError(line, "indexing a resource that is not a loop")


class Scope:
    """Names visible to an expression: the template's, then loop and lambda locals."""

    def __init__(
        self,
        lookup: Callable[[str, int], Value],
        local: dict[str, Value] | None = None,
        parent: Scope | None = None,
    ) -> None:
        self._lookup = lookup
        self.local = local or {}
        self.parent = parent

    def child(self, local: dict[str, Value]) -> Scope:
        return Scope(self._lookup, local, self)

    def get(self, name: str, line: int) -> Value:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.local:
                return scope.local[name]
            scope = scope.parent
        return self._lookup(name, line)


def unique_string(*parts: str) -> str:
    """13 characters of [a-z0-9], like Bicep's; deterministic, and starting with a digit
    (the worst case for names that must start with a letter)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    text = "".join(alphabet[b % 36] for b in digest[:12])
    return str(digest[12] % 10) + text


ENVIRONMENT = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/",
    "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net",
    "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/"
    "arm-compute/quickstart-templates/aliases.json",
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}
SUBSCRIPTION = {
    "id": "/subscriptions/00000000-0000-0000-0000-000000000000",
    "subscriptionId": "00000000-0000-0000-0000-000000000000",
    "tenantId": "11111111-1111-1111-1111-111111111111",
    "displayName": "subscription",
}
RESOURCE_GROUP = {
    "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-entrabridge",
    "name": "rg-entrabridge",
    "type": "Microsoft.Resources/resourceGroups",
    "location": Unknown("string"),
    "tags": Unknown("object"),
    "properties": {"provisioningState": "Succeeded"},
}


class Evaluator:
    def evaluate(self, node: Node, scope: Scope) -> Value:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Ident):
            return scope.get(node.name, node.line)
        if isinstance(node, Interp):
            pieces: list[str] = []
            for part in node.parts:
                if isinstance(part, str):
                    pieces.append(part)
                    continue
                value = self.evaluate(part, scope)
                if isinstance(value, (Unknown, Ref)) or not known(value):
                    return Unknown("string")
                pieces.append(to_text(value))
            return "".join(pieces)
        if isinstance(node, Arr):
            return [self.evaluate(item, scope) for item in node.items]
        if isinstance(node, Obj):
            found = {key: self.evaluate(value, scope) for key, value in node.pairs}
            for key_node, value_node in node.computed:
                key = self.evaluate(key_node, scope)
                value = self.evaluate(value_node, scope)
                if isinstance(key, str):
                    found[key] = value
            return found
        if isinstance(node, Prop):
            target = self.evaluate(node.target, scope)
            return self.access(target, node.name, node.line, node.safe)
        if isinstance(node, Index):
            target = self.evaluate(node.target, scope)
            index = self.evaluate(node.index, scope)
            return self.index(target, index, node.line)
        if isinstance(node, Cond):
            test = self.evaluate(node.test, scope)
            if isinstance(test, Unknown):
                then = self.evaluate(node.then, scope)
                otherwise = self.evaluate(node.otherwise, scope)
                kinds = {type_of(then), type_of(otherwise)} - {"null"}
                return Unknown(kinds.pop() if len(kinds) == 1 else "any")
            if not isinstance(test, bool):
                raise EvalError(node.line, f"a condition is a {type_of(test)}, not a bool")
            return self.evaluate(node.then if test else node.otherwise, scope)
        if isinstance(node, Unary):
            value = self.evaluate(node.operand, scope)
            if isinstance(value, Unknown):
                return Unknown("bool" if node.op == "!" else "int")
            if node.op == "!":
                if not isinstance(value, bool):
                    raise EvalError(node.line, f"'!' needs a bool, not a {type_of(value)}")
                return not value
            if not isinstance(value, int) or isinstance(value, bool):
                raise EvalError(node.line, f"'-' needs an int, not a {type_of(value)}")
            return -value
        if isinstance(node, Bin):
            return self.binary(node, scope)
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, MethodCall):
            self.evaluate(node.target, scope)
            return Unknown("object")
        if isinstance(node, Lambda):
            return Lambda_(node.params, node.body, scope)
        if isinstance(node, For):
            items = self.evaluate(node.iterable, scope)
            if not isinstance(items, list):
                if type_of(items) not in ("array", "any"):
                    raise EvalError(node.line, f"a loop over a {type_of(items)}")
                unknowns: dict[str, Value] = {
                    n: Unknown("any") for n in (node.item, node.index) if n
                }
                self.evaluate(node.body, scope.child(unknowns))
                return Unknown("array")
            out: list[Value] = []
            for i, item in enumerate(items):
                local: dict[str, Value] = {}
                if node.item:
                    local[node.item] = item
                if node.index:
                    local[node.index] = i
                out.append(self.evaluate(node.body, scope.child(local)))
            return out
        if isinstance(node, If):
            raise EvalError(node.line, "a condition where a value is expected")
        raise EvalError(node.line, f"cannot evaluate {type(node).__name__}")

    # --- accessors ---------------------------------------------------------------

    def access(self, target: Value, name: str, line: int, safe: bool = False) -> Value:
        if isinstance(target, Ref):
            return target.access(name, line)
        if isinstance(target, Unknown):
            if target.type not in ("object", "any"):
                raise EvalError(line, f"'.{name}' on a {target.type}")
            return Unknown("any")
        if isinstance(target, dict):
            if name in target:
                return target[name]
            if safe:
                return None
            raise EvalError(
                line,
                f"the object has no property '{name}' (it has: "
                f"{', '.join(sorted(target)) or 'none'})",
            )
        raise EvalError(line, f"'.{name}' on a {type_of(target)}")

    def index(self, target: Value, index: Value, line: int) -> Value:
        if isinstance(target, Ref):
            return target.index(index, line)
        if isinstance(target, Unknown) or isinstance(index, Unknown):
            return Unknown("any")
        if isinstance(target, list) and isinstance(index, int):
            if not -len(target) <= index < len(target):
                raise EvalError(line, f"index {index} is out of range ({len(target)} items)")
            return target[index]
        if isinstance(target, dict) and isinstance(index, str):
            if index not in target:
                raise EvalError(line, f"the object has no property '{index}'")
            return target[index]
        raise EvalError(line, f"cannot index a {type_of(target)} with a {type_of(index)}")

    # --- operators ---------------------------------------------------------------

    def binary(self, node: Bin, scope: Scope) -> Value:
        left = self.evaluate(node.left, scope)
        if node.op == "&&" and left is False:
            return False
        if node.op == "||" and left is True:
            return True
        if node.op == "??" and left is not None and not isinstance(left, Unknown):
            return left
        right = self.evaluate(node.right, scope)
        op = node.op
        if op == "??":
            return right if left is None else Unknown(type_of(right))
        if op in ("&&", "||"):
            for side in (left, right):
                if not isinstance(side, (bool, Unknown)):
                    raise EvalError(node.line, f"'{op}' needs bools, not a {type_of(side)}")
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                return Unknown("bool")
            return (left and right) if op == "&&" else (left or right)
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return Unknown("bool" if op in _COMPARISONS else "int")
        if op in ("==", "!="):
            same = left == right and type_of(left) == type_of(right)
            return same if op == "==" else not same
        if op in ("=~", "!~"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise EvalError(node.line, f"'{op}' compares strings")
            same = left.lower() == right.lower()
            return same if op == "=~" else not same
        if not (_is_int(left) and _is_int(right)):
            raise EvalError(
                node.line, f"'{op}' needs ints, not {type_of(left)} and {type_of(right)}"
            )
        a, b = int(left), int(right)
        result: dict[str, Callable[[], Value]] = {
            ">": lambda: a > b,
            ">=": lambda: a >= b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: int(a / b),
            "%": lambda: a % b,
        }
        return result[op]()

    # --- functions ---------------------------------------------------------------

    def call(self, node: Call, scope: Scope) -> Value:
        name = node.name.removeprefix("sys.").removeprefix("az.")
        lambdas = {"filter", "map", "reduce", "sort", "toObject", "groupBy", "mapValues"}
        if name in lambdas:
            return self.lambda_call(name, node, scope)
        function = FUNCTIONS.get(name)
        if function is None:
            raise EvalError(node.line, f"unknown function '{node.name}'")
        arity, returns, implementation = function
        args = [self.evaluate(arg, scope) for arg in node.args]
        low, high = arity
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise EvalError(node.line, f"{name}() takes {expected} arguments, not {len(args)}")
        if not all(known(a) for a in args) and name not in _PARTIAL:
            return Unknown(returns)
        try:
            return implementation(*args)
        except EvalError:
            raise
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as error:
            raise EvalError(node.line, f"{name}(): {error}") from error

    def lambda_call(self, name: str, node: Call, scope: Scope) -> Value:
        args = [self.evaluate(arg, scope) for arg in node.args]
        functions = [a for a in args if isinstance(a, Lambda_)]
        if not functions:
            raise EvalError(node.line, f"{name}() needs a lambda")
        items = args[0]
        if not isinstance(items, list) or not known(items):
            return Unknown("array" if name in ("filter", "map", "sort") else "any")

        def apply(function: Lambda_, *values: Value) -> Value:
            local = dict(zip(function.params, values, strict=False))
            return self.evaluate(function.body, function.scope.child(local))

        function = functions[0]
        if name == "map":
            return [apply(function, item, i) for i, item in enumerate(items)]
        if name == "filter":
            kept = []
            for i, item in enumerate(items):
                verdict = apply(function, item, i)
                if isinstance(verdict, Unknown):
                    return Unknown("array")
                if not isinstance(verdict, bool):
                    raise EvalError(node.line, "filter()'s lambda must return a bool")
                if verdict:
                    kept.append(item)
            return kept
        if name == "reduce":
            accumulator = args[1]
            for i, item in enumerate(items):
                accumulator = apply(function, accumulator, item, i)
            return accumulator
        return Unknown("any")


_COMPARISONS = {">", ">=", "<", "<=", "==", "!=", "=~", "!~"}
_PARTIAL = {
    "empty",
    "length",
    "union",
    "concat",
    "coalesce",
    "contains",
    "resourceId",
    "subscriptionResourceId",
    "extensionResourceId",
    "tenantResourceId",
    "string",
}


def _is_int(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def to_text(value: Value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, str)):
        return str(value)
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def _string(value: Value) -> Value:
    if isinstance(value, Unknown):
        return Unknown("string")
    if isinstance(value, (list, dict)) and not known(value):
        return Unknown("string")
    return to_text(value)


def _empty(value: Value) -> Value:
    if isinstance(value, Unknown):
        return Unknown("bool")
    if value is None:
        return True
    if isinstance(value, (str, list, dict)):
        return len(value) == 0
    raise TypeError(f"empty() of a {type_of(value)}")


def _length(value: Value) -> Value:
    if isinstance(value, (str, list, dict)):
        return len(value)
    if isinstance(value, Unknown):
        return Unknown("int")
    raise TypeError(f"length() of a {type_of(value)}")


def _need(value: Value, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{what} must be a {kind.__name__}, not a {type_of(value)}")
    return value


def _take(value: Value, count: Value) -> Value:
    count = _need(count, int, "the count")
    if isinstance(value, (str, list)):
        return value[: max(count, 0)]
    raise TypeError(f"take() of a {type_of(value)}")


def _skip(value: Value, count: Value) -> Value:
    count = _need(count, int, "the count")
    if isinstance(value, (str, list)):
        return value[max(count, 0) :]
    raise TypeError(f"skip() of a {type_of(value)}")


def _substring(text: Value, start: Value, length: Value = None) -> Value:
    text = _need(text, str, "the string")
    start = _need(start, int, "the start index")
    if length is None:
        return text[start:]
    length = _need(length, int, "the length")
    if start + length > len(text) or start < 0:
        raise ValueError(
            f"substring({start}, {length}) is past the end of a {len(text)}-character string"
        )
    return text[start : start + length]


def _union(*values: Value) -> Value:
    if all(isinstance(v, dict) for v in values):
        merged: dict[str, Value] = {}
        for value in values:
            merged.update(value)
        return merged
    if all(isinstance(v, list) for v in values):
        out: list[Value] = []
        for value in values:
            out.extend(v for v in value if v not in out)
        return out
    kinds = {type_of(v) for v in values}
    if kinds <= {"object"} or kinds <= {"array"}:
        return Unknown(kinds.pop())
    raise TypeError(f"union() of {', '.join(sorted(kinds))}")


def _concat(*values: Value) -> Value:
    if all(isinstance(v, list) for v in values):
        out: list[Value] = []
        for value in values:
            out.extend(value)
        return out
    if any(isinstance(v, list) for v in values):
        if all(type_of(v) == "array" for v in values):
            return Unknown("array")
        raise TypeError("concat() mixes arrays and other values")
    if not all(known(v) for v in values):
        return Unknown("string")
    return "".join(to_text(v) for v in values)


def _contains(container: Value, item: Value) -> Value:
    if isinstance(container, Unknown) or isinstance(item, Unknown):
        return Unknown("bool")
    if isinstance(container, str):
        return _need(item, str, "the item") in container
    if isinstance(container, list):
        return item in container
    if isinstance(container, dict):
        return item in container
    raise TypeError(f"contains() on a {type_of(container)}")


def _coalesce(*values: Value) -> Value:
    for value in values:
        if isinstance(value, Unknown):
            return Unknown(value.type)
        if value is not None:
            return value
    return None


def _guid(*parts: Value) -> Value:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(str(p) for p in parts)))


def _resource_id(*parts: Value) -> Value:
    if not all(isinstance(p, str) for p in parts):
        return Unknown("string")
    strings = [str(p) for p in parts]
    type_index = next((i for i, p in enumerate(strings) if "/" in p and "." in p), None)
    if type_index is None:
        raise ValueError("no resource type argument")
    resource_type = strings[type_index]
    names = strings[type_index + 1 :]
    segments = resource_type.split("/")
    if len(names) != len(segments) - 1:
        raise ValueError(f"{resource_type} takes {len(segments) - 1} name(s), not {len(names)}")
    path = segments[0]
    for segment, name in zip(segments[1:], names, strict=True):
        path += f"/{segment}/{name}"
    return path


def _subscription_resource_id(*parts: Value) -> Value:
    rest = _resource_id(*parts)
    if isinstance(rest, Unknown):
        return rest
    return f"{SUBSCRIPTION['id']}/providers/{rest}"


def _resource_group_resource_id(*parts: Value) -> Value:
    rest = _resource_id(*parts)
    if isinstance(rest, Unknown):
        return rest
    return f"{RESOURCE_GROUP['id']}/providers/{rest}"


def _extension_resource_id(scope: Value, *parts: Value) -> Value:
    rest = _resource_id(*parts)
    if isinstance(rest, Unknown) or not isinstance(scope, str):
        return Unknown("string")
    return f"{scope}/providers/{rest}"


def _split(text: Value, separator: Value) -> Value:
    text = _need(text, str, "the string")
    if isinstance(separator, list):
        parts = [text]
        for sep in separator:
            parts = [piece for part in parts for piece in part.split(sep)]
        return parts
    return text.split(_need(separator, str, "the separator"))


def _join(items: Value, separator: Value) -> Value:
    return _need(separator, str, "the separator").join(
        to_text(i) for i in _need(items, list, "the array")
    )


def _format(template: Value, *args: Value) -> Value:
    text = _need(template, str, "the format")
    for i, arg in enumerate(args):
        text = text.replace("{" + str(i) + "}", to_text(arg))
    return text


def _range(start: Value, count: Value) -> Value:
    return list(range(_need(start, int, "the start"), start + _need(count, int, "the count")))


def _first(value: Value) -> Value:
    if isinstance(value, (str, list)):
        return value[0] if value else (None if isinstance(value, list) else "")
    raise TypeError(f"first() of a {type_of(value)}")


def _last(value: Value) -> Value:
    if isinstance(value, (str, list)):
        return value[-1] if value else (None if isinstance(value, list) else "")
    raise TypeError(f"last() of a {type_of(value)}")


def _int(value: Value) -> Value:
    if isinstance(value, bool):
        raise TypeError("int() of a bool")
    return int(value)


def _bool(value: Value) -> Value:
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError(f"bool('{value}')")
        return value.lower() == "true"
    return bool(value)


def _unique(*parts: Value) -> Value:
    return unique_string(*(_need(p, str, "an argument") for p in parts))


def _items(value: Value) -> Value:
    return [{"key": k, "value": v} for k, v in sorted(_need(value, dict, "the object").items())]


def _index_of(text: Value, find: Value) -> Value:
    return _need(text, str, "the string").lower().find(_need(find, str, "the substring").lower())


def _flatten(value: Value) -> Value:
    out: list[Value] = []
    for item in _need(value, list, "the array"):
        out.extend(_need(item, list, "each item"))
    return out


def _min_max(pick: Callable[[Sequence[int]], int]) -> Callable[..., Value]:
    def run(*values: Value) -> Value:
        flat = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
        return pick([_need(v, int, "each value") for v in flat])

    return run


def _object_of(value: Value) -> Value:
    return _need(value, dict, "the object")


Fn = tuple[tuple[int, int], str, Callable[..., Value]]
MANY = 99
FUNCTIONS: dict[str, Fn] = {
    "toLower": ((1, 1), "string", lambda s: _need(s, str, "the string").lower()),
    "toUpper": ((1, 1), "string", lambda s: _need(s, str, "the string").upper()),
    "trim": ((1, 1), "string", lambda s: _need(s, str, "the string").strip()),
    "replace": (
        (3, 3),
        "string",
        lambda s, a, b: _need(s, str, "the string").replace(
            _need(a, str, "the old string"), _need(b, str, "the new string")
        ),
    ),
    "take": ((2, 2), "any", _take),
    "skip": ((2, 2), "any", _skip),
    "substring": ((2, 3), "string", _substring),
    "length": ((1, 1), "int", _length),
    "empty": ((1, 1), "bool", _empty),
    "contains": ((2, 2), "bool", _contains),
    "startsWith": (
        (2, 2),
        "bool",
        lambda s, p: (
            _need(s, str, "the string").lower().startswith(_need(p, str, "the prefix").lower())
        ),
    ),
    "endsWith": (
        (2, 2),
        "bool",
        lambda s, p: (
            _need(s, str, "the string").lower().endswith(_need(p, str, "the suffix").lower())
        ),
    ),
    "indexOf": ((2, 2), "int", _index_of),
    "string": ((1, 1), "string", _string),
    "int": ((1, 1), "int", _int),
    "bool": ((1, 1), "bool", _bool),
    "json": ((1, 1), "any", lambda s: json.loads(_need(s, str, "the text"))),
    "format": ((1, MANY), "string", _format),
    "concat": ((1, MANY), "any", _concat),
    "union": ((1, MANY), "any", _union),
    "coalesce": ((1, MANY), "any", _coalesce),
    "split": ((2, 2), "array", _split),
    "join": ((2, 2), "string", _join),
    "first": ((1, 1), "any", _first),
    "last": ((1, 1), "any", _last),
    "range": ((2, 2), "array", _range),
    "flatten": ((1, 1), "array", _flatten),
    "items": ((1, 1), "array", _items),
    "min": ((1, MANY), "int", _min_max(min)),
    "max": ((1, MANY), "int", _min_max(max)),
    "array": ((1, 1), "array", lambda v: v if isinstance(v, list) else [v]),
    "uniqueString": ((1, MANY), "string", _unique),
    "guid": ((1, MANY), "string", _guid),
    "newGuid": ((0, 0), "string", lambda: Unknown("string")),
    "utcNow": ((0, 1), "string", lambda *a: Unknown("string")),
    "uri": ((2, 2), "string", lambda a, b: str(a).rstrip("/") + "/" + str(b).lstrip("/")),
    "uriComponent": ((1, 1), "string", lambda s: _need(s, str, "the string")),
    "base64": ((1, 1), "string", lambda s: _need(s, str, "the string")),
    "resourceGroup": ((0, 2), "object", lambda *a: dict(RESOURCE_GROUP)),
    "subscription": ((0, 1), "object", lambda *a: dict(SUBSCRIPTION)),
    "tenant": ((0, 0), "object", lambda: {"tenantId": SUBSCRIPTION["tenantId"]}),
    "environment": ((0, 0), "object", lambda: json.loads(json.dumps(ENVIRONMENT, default=str))),
    "deployment": ((0, 0), "object", lambda: {"name": "entrabridge", "properties": {}}),
    "resourceId": ((2, MANY), "string", _resource_group_resource_id),
    "subscriptionResourceId": ((2, MANY), "string", _subscription_resource_id),
    "tenantResourceId": ((2, MANY), "string", _resource_id),
    "extensionResourceId": ((3, MANY), "string", _extension_resource_id),
    "reference": ((1, 3), "object", lambda *a: Unknown("object")),
    "objectKeys": ((1, 1), "array", lambda o: sorted(_object_of(o))),
}
# environment() keeps Unknown out of its JSON copy: it holds none.
