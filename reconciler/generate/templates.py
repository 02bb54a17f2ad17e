"""Short Jinja2 templates in a sandbox, bounded in size and work.

Templates (``"{{ fields.first_name | lower }}@{{ parent.domain }}"``) run in Jinja2's
immutable sandbox: no attribute starting with ``_``, no file, import or network access,
no way to change the data they are given. On top of the sandbox, a template's work is
bounded: what it may contain is checked once, when compiled (no macros, includes or
nested loops), every loop runs over at most ``MAX_ITEMS`` items, repetition operators and
filters may not build a value over ``MAX_VALUE_CHARS`` characters, and a render makes at
most ``MAX_CALLS`` calls. Jinja objects stay in this module.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: Longest generated value, in characters (HubSpot text properties hold 65,536).
MAX_VALUE_CHARS = 10_000
#: Most items a loop or ``range`` goes over.
MAX_ITEMS = 1_000
#: Most function, method and filter calls in one render.
MAX_CALLS = 10_000

_REFUSED_NODES: Mapping[type[nodes.Node], str] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Include: "includes",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
}


class TemplateProblem(ValueError):
    """A template that does not compile, breaks a limit, or fails while rendering."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class _Budget:
    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def charge(self) -> None:
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise TemplateProblem(f"the template makes more than {MAX_CALLS} calls")


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_VALUE_CHARS:
        raise TemplateProblem(f"the template builds a value over {MAX_VALUE_CHARS} characters")
    return value


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False, keep_trailing_newline=False, undefined=StrictUndefined,
            finalize=_no_functions,
        )
        self.budget = _Budget()
        for name in ("random", "pprint", "xmlattr", "urlize", "filesizeformat", "tojson"):
            self.filters.pop(name, None)
        for name, function in list(self.filters.items()):
            self.filters[name] = _sized(function)
        self.globals = {"range": self._range, "dict": dict}

    def _range(self, *args: int) -> Iterator[int]:
        numbers = range(*args)
        if len(numbers) > MAX_ITEMS:
            raise TemplateProblem(f"range() of more than {MAX_ITEMS} items")
        return iter(numbers)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: parent.items is the parent's field "items", not dict.items.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.charge()
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise TemplateProblem("exponents over 64 are not allowed in templates")
        if operator_name == "*":
            for text, times in ((left, right), (right, left)):
                if isinstance(text, (str, list, tuple)) and isinstance(times, int):
                    if len(text) * times > MAX_VALUE_CHARS:
                        raise TemplateProblem(
                            f"the template builds a value over {MAX_VALUE_CHARS} characters"
                        )
        if operator_name == "%" and isinstance(left, str) and len(left) > MAX_VALUE_CHARS:
            raise TemplateProblem(f"the template builds a value over {MAX_VALUE_CHARS} characters")
        result = _BINOPS[operator_name](left, right)
        return _check_size(result)


def _no_functions(value: Any) -> Any:
    """What ``{{ ... }}`` prints must be a value: a function would print its address."""
    if callable(value) and not isinstance(value, Undefined):
        raise TemplateProblem(
            "the template prints a function, not a value; call it (fake('company')) or name "
            "a field"
        )
    return value


_BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}


def _sized(function: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(function, "jinja_pass_arg", None) is not None:
        # filters that take the environment/context keep their marker
        def wrapped_pass(first: Any, *args: Any, **kwargs: Any) -> Any:
            for value in args[1:]:
                if isinstance(value, int) and abs(value) > MAX_VALUE_CHARS:
                    raise TemplateProblem(f"a filter argument over {MAX_VALUE_CHARS}")
            return _check_size(function(first, *args, **kwargs))

        wrapped_pass.jinja_pass_arg = function.jinja_pass_arg  # type: ignore[attr-defined]
        return wrapped_pass

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        for value in (*args[1:], *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
                raise TemplateProblem(f"a filter argument over {MAX_VALUE_CHARS}")
        return _check_size(function(*args, **kwargs))

    return wrapped


_ENVIRONMENT: _Environment | None = None


def _environment() -> _Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = _Environment()
    return _ENVIRONMENT


@dataclass(frozen=True)
class Template:
    """A compiled template and what it reads: ``fields.<name>``, ``parent``, ``pick``..."""

    source: str
    fields: frozenset[str]
    parent_fields: frozenset[str]
    variables: frozenset[str]
    names: frozenset[str]
    _render: Callable[[Mapping[str, Any]], Iterator[str]]
    #: text and dotted names, for templates that only insert values (``{{ parent.key }}``)
    _plain: tuple[str | tuple[str, ...], ...] | None = None

    def render(self, context: Mapping[str, Any]) -> str:
        if self._plain is not None:
            fast = _render_plain(self._plain, context)
            if fast is not None:
                return fast
        environment = _environment()
        environment.budget = _Budget()
        size = 0
        parts: list[str] = []
        try:
            for chunk in self._render(context):
                size += len(chunk)
                if size > MAX_VALUE_CHARS:
                    raise TemplateProblem(
                        f"the template's result is over {MAX_VALUE_CHARS} characters"
                    )
                parts.append(chunk)
        except TemplateProblem:
            raise
        except SecurityError as exc:
            raise TemplateProblem(f"the template is not allowed to do that: {exc}") from None
        except TemplateError as exc:
            raise TemplateProblem(f"template error: {exc}") from None
        except RecursionError:
            raise TemplateProblem("the template nests too deeply") from None
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise TemplateProblem(f"template error: {type(exc).__name__}: {exc}") from None
        return "".join(parts).strip()


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Compile ``source``; TemplateProblem says what is wrong (syntax, refused constructs)."""
    environment = _environment()
    try:
        tree = environment.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (template line {line})" if line and source.count("\n") else ""
        raise TemplateProblem(f"template syntax error{where}: {exc}") from None
    _check_tree(tree)
    read: dict[str, set[str]] = {"fields": set(), "parent": set(), "vars": set()}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if isinstance(target, nodes.Name) and target.name in read:
            if isinstance(node, nodes.Getattr):
                read[target.name].add(node.attr)
            else:
                argument = getattr(node, "arg", None)
                if isinstance(argument, nodes.Const) and isinstance(argument.value, str):
                    read[target.name].add(argument.value)
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    compiled = environment.from_string(tree)
    return Template(
        source, frozenset(read["fields"]), frozenset(read["parent"]), frozenset(read["vars"]),
        frozenset(names), compiled.generate, _plain_parts(source),
    )


_INSERT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")


def _plain_parts(source: str) -> tuple[str | tuple[str, ...], ...] | None:
    """Text and names of a template that only inserts values, else None.

    Most templates are like ``Call with {{ parent.first_name }}``; rendering them through
    Jinja2 costs a context per call (~20 us). These are rendered by lookups instead, with
    Jinja's result (``_Environment.getattr`` also looks keys up first): a missing key or a
    value that is not text or a whole number goes the Jinja way (``_render_plain``: None).
    """
    parts: list[str | tuple[str, ...]] = []
    last = 0
    for match in _INSERT.finditer(source):
        parts.append(source[last:match.start()])
        parts.append(tuple(match.group(1).split(".")))
        last = match.end()
    parts.append(source[last:])
    texts = [p for p in parts if isinstance(p, str)]
    if any("{{" in t or "{%" in t or "{#" in t or "}}" in t for t in texts):
        return None
    return tuple(p for p in parts if p != "")


def _render_plain(
    parts: tuple[str | tuple[str, ...], ...], context: Mapping[str, Any]
) -> str | None:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value: Any = context
        for name in part:
            if type(value) is not dict or name not in value:
                return None
            value = value[name]
        if type(value) is str:
            out.append(value)
        elif type(value) is int:
            out.append(str(value))
        else:
            return None
    text = "".join(out)
    if len(text) > MAX_VALUE_CHARS:
        return None  # Jinja's way says how it is too long
    return text.strip()


def _check_tree(tree: nodes.Template) -> None:
    for node_type, what in _REFUSED_NODES.items():
        if next(tree.find_all(node_type), None) is not None:
            raise TemplateProblem(f"{what} are not allowed in templates; keep templates short")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise TemplateProblem("recursive loops are not allowed in templates")
        if next(loop.find_all(nodes.For), None) is not None:
            raise TemplateProblem("loops inside loops are not allowed in templates")
