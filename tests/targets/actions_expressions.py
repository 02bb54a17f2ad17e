"""GitHub Actions expressions (``${{ ... }}``), evaluated as the runner does, for the subset a
workflow uses: literals, contexts with ``.`` and ``[...]``, ``!``, ``==``/``!=``/``<``/``>``
(strings compared case-insensitively, other types coerced to numbers), ``&&``/``||`` (which
return an operand, as in JavaScript), and the functions ``fromJSON``, ``toJSON``,
``format``, ``contains``, ``startsWith``, ``endsWith``, ``join`` and the status functions.

Reference: https://docs.github.com/en/actions/reference/workflows-and-actions/expressions
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'(?:[^']|'')*')
    | (?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.X)
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read the expression {text!r} at {position}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") or isinstance(value, (dict, list))


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) and isinstance(left, (dict, list)):
        return left is right
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return False
    return _number(left) == _number(right)


def to_text(value: Any) -> str:
    """A value as it lands in a string (``name: plan (${{ matrix.target.name }})``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        lowered = str(key).lower()
        return next((v for k, v in value.items() if str(k).lower() == lowered), None)
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any],
                 status: Mapping[str, Callable[[], bool]]) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.contexts = contexts
        self.status = status

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r} at token {self.at} of {self.tokens}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()} in {self.tokens}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.both()
            value = value if truthy(value) else right
        return value

    def both(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.compare()
            value = right if truthy(value) else value
        return value

    def compare(self) -> Any:
        left = self.unary()
        token = self.peek()
        if token is not None and token[1] in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            right = self.unary()
            op = token[1]
            if op == "==":
                return _equal(left, right)
            if op == "!=":
                return not _equal(left, right)
            a, b = _number(left), _number(right)
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            token = self.peek()
            if token == ("op", "."):
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise ValueError(f"a property name after '.', not {name!r}")
                value = _member(value, name)
            elif token == ("op", "["):
                self.take()
                key = self.either()
                self.take("]")
                value = _member(value, key)
            else:
                return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.either()
            self.take(")")
            return value
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            args: list[Any] = []
            while self.peek() != ("op", ")"):
                args.append(self.either())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.call(text, args)
        return _member(self.contexts, text)

    def call(self, name: str, args: list[Any]) -> Any:
        lowered = name.lower()
        if lowered in STATUS_FUNCTIONS:
            return self.status[lowered]()
        if lowered == "fromjson":
            return json.loads(to_text(args[0]))
        if lowered == "tojson":
            return json.dumps(args[0], indent=2)
        if lowered == "format":
            return re.sub(r"\{(\d+)\}", lambda m: to_text(args[1 + int(m.group(1))]),
                          to_text(args[0]))
        if lowered == "contains":
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_equal(item, needle) for item in haystack)
            return to_text(needle).lower() in to_text(haystack).lower()
        if lowered == "startswith":
            return to_text(args[0]).lower().startswith(to_text(args[1]).lower())
        if lowered == "endswith":
            return to_text(args[0]).lower().endswith(to_text(args[1]).lower())
        if lowered == "join":
            separator = to_text(args[1]) if len(args) > 1 else ","
            items = args[0] if isinstance(args[0], list) else [args[0]]
            return separator.join(to_text(i) for i in items)
        raise ValueError(f"the function {name}() is not supported here")


def evaluate(text: str, contexts: Mapping[str, Any],
             status: Mapping[str, Callable[[], bool]] | None = None) -> Any:
    """One expression (the inside of ``${{ }}``, or an ``if:``)."""
    return _Parser(text, contexts, status or {}).parse()


def interpolate(value: Any, contexts: Mapping[str, Any],
                status: Mapping[str, Callable[[], bool]] | None = None) -> Any:
    """A workflow value with its ``${{ }}`` evaluated: a string that is one expression keeps
    the expression's type (a matrix from ``fromJSON``); any other string gets text."""
    if isinstance(value, dict):
        return {k: interpolate(v, contexts, status) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, contexts, status) for v in value]
    if not isinstance(value, str):
        return value
    whole = EMBEDDED.fullmatch(value.strip())
    if whole is not None:
        return evaluate(whole.group(1), contexts, status)
    return EMBEDDED.sub(lambda m: to_text(evaluate(m.group(1), contexts, status)), value)


def condition(text: Any, contexts: Mapping[str, Any],
              status: Mapping[str, Callable[[], bool]]) -> bool:
    """An ``if:``: with no status function in it, ``success() && (...)`` is meant."""
    if text is None:
        return status["success"]()
    if isinstance(text, bool):
        return text and status["success"]()
    inner = str(text).strip()
    whole = EMBEDDED.fullmatch(inner)
    if whole is not None:
        inner = whole.group(1)
    if not any(re.search(rf"\b{name}\s*\(", inner) for name in STATUS_FUNCTIONS):
        inner = f"success() && ({inner})"
    return truthy(evaluate(inner, contexts, status))
