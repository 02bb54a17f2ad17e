"""Short Jinja2 templates in a sandbox, bounded in size and work.

Templates (``"{{ fields.first_name | lower }}@{{ parent.domain }}"``) run in Jinja2's
immutable sandbox: no attribute starting with ``_``, no file, import or network access,
no way to change the data they are given. On top of the sandbox, a template's work is
bounded, and each bound is checked before the value is made (a billion characters
refused once they exist have already taken the memory):

- when compiled: at most ``MAX_VALUE_CHARS`` characters of source; no macros, includes,
  blocks, ``{% set %}``/``{% filter %}`` blocks (they collect output unchecked) or loops
  inside loops; no number over ``MAX_INT_BITS`` bits;
- every value it makes, by an operator (``+ - * ** %``), ``~``, a call, a filter or a
  literal list, is at most ``MAX_VALUE_CHARS`` characters, sized from its operands first
  (``reconciler.generate.sizes``: ``'x' * n``, ``s.center(n)``, ``'%9d' % x``,
  ``sep.join(items)``...), and every whole number at most ``MAX_INT_BITS`` bits; so is
  whatever ``{% set %}`` keeps, which is made by those;
- per value: every loop goes over at most ``MAX_ITEMS`` items, at most ``MAX_CALLS``
  calls, at most ``MAX_MADE_CHARS`` characters made in all;
- per record (a ``Budget``, shared by its values): at most ``MAX_RECORD_SECONDS`` of CPU
  time, Faker included.

The checks live in the sandbox's own hooks (``call``, ``call_binop`` with
``intercepted_binops``); what it cannot intercept (``~``, loops, literal lists) is routed
through internal filters by rewriting the parsed template before it is compiled. Jinja
objects stay in this module.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_eval_context
from jinja2.visitor import NodeTransformer

from reconciler.generate.sizes import (
    CONTAINERS,
    FILTER_RESULT_SIZES,
    GROWING_METHODS,
    method_result_size,
    percent_size,
    size_of,
)
from reconciler.generate.template_reads import plain_parts, reads_of, render_plain

#: Longest generated value, in characters (HubSpot text properties hold 65,536).
MAX_VALUE_CHARS = 10_000
#: Largest whole number a template may make (about 1,233 digits).
MAX_INT_BITS = 4096
#: Most items a loop or ``range`` goes over.
MAX_ITEMS = 1_000
#: Most function and method calls in one render.
MAX_CALLS = 10_000
#: Most characters one render may make in all, intermediate values included.
MAX_MADE_CHARS = 1_000_000
#: CPU time one record's values may take, templates and Faker together.
MAX_RECORD_SECONDS = 0.25

_REFUSED_NODES: Mapping[type[nodes.Node], str] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Include: "includes",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.AssignBlock: "set blocks ({% set x %}...{% endset %}; write {% set x = ... %})",
    nodes.FilterBlock: "filter blocks ({% filter %}; write {{ value | filter }})",
}
_TOO_BIG = f"the template builds a value over {MAX_VALUE_CHARS} characters"
_TOO_LONG = f"the template's result is over {MAX_VALUE_CHARS} characters"
#: Internal filters the compiled template calls (names no template can write).
_MADE, _CONCAT, _LOOP = "<made>", "<concat>", "<loop>"


class TemplateProblem(ValueError):
    """A template that does not compile, breaks a limit, or fails while rendering."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class Budget:
    """What making one record may spend: CPU time for all its values (the clock is read
    every 32nd step, and started at the first reading: a record that takes few steps
    never reads it), and per value, calls and characters made."""

    __slots__ = ("ticks", "deadline", "calls", "made")

    def __init__(self) -> None:
        self.ticks = 0
        self.deadline = 0.0
        self.calls = 0
        self.made = 0

    def start_value(self) -> None:
        self.calls = 0
        self.made = 0

    def tick(self) -> None:
        self.ticks += 1
        if not self.ticks & 31:
            self.check_time()

    def check_time(self) -> None:
        now = time.thread_time()
        if not self.deadline:
            self.deadline = now + MAX_RECORD_SECONDS
        elif now > self.deadline:
            raise TemplateProblem(
                f"this record's values take more than {MAX_RECORD_SECONDS} s of CPU time to "
                "make; keep templates and Faker arguments small"
            )

    def charge(self) -> None:
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise TemplateProblem(f"the template makes more than {MAX_CALLS} calls")
        self.tick()


#: Types of the numbers a filter argument may not be far over the caps (not bool).
_NUMBERS = (int, float)
#: Values that ``*`` repeats and ``+`` joins.
_SEQUENCES = (str, bytes, list, tuple)


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+", "-"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False, keep_trailing_newline=False, undefined=StrictUndefined,
            finalize=self._finalize,
        )
        self.budget = Budget()
        for name in ("random", "pprint", "xmlattr", "urlize", "filesizeformat", "tojson"):
            self.filters.pop(name, None)
        for name, function in list(self.filters.items()):
            self.filters[name] = self._guarded(name, function)
        self.filters.update({_MADE: self.made, _CONCAT: self._concat, _LOOP: self._loop})
        self.globals = {"range": self._range, "dict": dict}

    def made(self, value: Any) -> Any:
        """``value`` if it is within the caps (counted towards the render's characters)."""
        kind = type(value)
        if kind is str:
            size = len(value)
        elif kind is int:
            if value.bit_length() > MAX_INT_BITS:
                raise TemplateProblem(f"the template builds a number over {MAX_INT_BITS} bits")
            return value
        elif kind is list or isinstance(value, (str, bytes, tuple, dict, set, frozenset)):
            size = size_of(value, MAX_VALUE_CHARS)  # not views: they are the data's own
        else:
            return value
        if size > MAX_VALUE_CHARS:
            raise TemplateProblem(_TOO_BIG)
        budget = self.budget
        budget.made += size
        if budget.made > MAX_MADE_CHARS:
            raise TemplateProblem(f"the template makes more than {MAX_MADE_CHARS:,} characters")
        return value

    def _refuse_over(self, size: int | None) -> None:
        if size is not None and size > MAX_VALUE_CHARS:
            raise TemplateProblem(_TOO_BIG)

    @pass_eval_context
    def _concat(self, eval_ctx: EvalContext, operands: list[Any]) -> str:
        """``a ~ b ~ c``: sized before it is joined (Jinja joins without asking)."""
        self.budget.tick()
        total = 0
        for operand in operands:
            total += size_of(operand, MAX_VALUE_CHARS)
            if total > MAX_VALUE_CHARS:
                raise TemplateProblem(_TOO_BIG)
        joined = markup_join(operands) if eval_ctx.autoescape else "".join(map(str, operands))
        return self.made(joined)  # type: ignore[no-any-return]

    def _loop(self, items: Iterable[Any]) -> Iterator[Any]:
        """What a ``{% for %}`` goes over: at most MAX_ITEMS items, each a step of work."""
        if hasattr(items, "__len__") and len(items) > MAX_ITEMS:  # type: ignore[arg-type]
            raise TemplateProblem(f"a loop over more than {MAX_ITEMS} items")
        budget = self.budget
        for count, item in enumerate(items, 1):
            if count > MAX_ITEMS:
                raise TemplateProblem(f"a loop over more than {MAX_ITEMS} items")
            budget.tick()
            yield item

    def _range(self, *args: int) -> Iterator[int]:
        numbers = range(*args)
        if len(numbers) > MAX_ITEMS:
            raise TemplateProblem(f"range() of more than {MAX_ITEMS} items")
        return iter(numbers)

    def _finalize(self, value: Any) -> Any:
        """What ``{{ ... }}`` prints must be a value (a function would print its address),
        and a list is sized before ``str()`` prints it."""
        if callable(value) and not isinstance(value, Undefined):
            raise TemplateProblem(
                "the template prints a function, not a value; call it (fake('company')) or "
                "name a field"
            )
        if type(value) is not str and isinstance(value, CONTAINERS):
            if size_of(value, MAX_VALUE_CHARS) > MAX_VALUE_CHARS:
                raise TemplateProblem(_TOO_LONG)
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: parent.items is the parent's field "items", not dict.items.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call: counted, and sized first if it is one that can grow a value."""
        self.budget.charge()
        name = getattr(__obj, "__name__", None)
        if name in GROWING_METHODS:
            method = getattr(__obj, "__wrapped__", __obj)  # str.format, as the sandbox wraps it
            if name == "join" and args:
                args = (_listed(args[0]), *args[1:])
            self._refuse_over(method_result_size(method, args, kwargs, MAX_VALUE_CHARS))
        return self.made(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        _check_binop(operator_name, left, right)
        return self.made(_BINOPS[operator_name](left, right))

    def _guarded(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """A filter that refuses numbers over the caps, and what would make too big a
        value (``FILTER_RESULT_SIZES``) before it makes it."""
        pass_arg = getattr(function, "jinja_pass_arg", None)
        first = 0 if pass_arg is None else 1  # where the filter's value is
        estimate = FILTER_RESULT_SIZES.get(name)
        joins = name == "join"

        def guarded(*args: Any, **kwargs: Any) -> Any:
            for value in args[first + 1:]:
                if type(value) in _NUMBERS and not abs(value) <= MAX_VALUE_CHARS:  # NaN too
                    raise TemplateProblem(f"a filter argument over {MAX_VALUE_CHARS}")
            for value in kwargs.values():
                if type(value) in _NUMBERS and not abs(value) <= MAX_VALUE_CHARS:
                    raise TemplateProblem(f"a filter argument over {MAX_VALUE_CHARS}")
            self.budget.tick()
            if estimate is not None:
                if joins and len(args) > first:
                    args = (*args[:first], _listed(args[first]), *args[first + 1:])
                try:
                    size: int | None = estimate(MAX_VALUE_CHARS, *args[first:], **kwargs)
                except TypeError:
                    size = None  # the filter will say what is wrong with its arguments
                self._refuse_over(size)
            return self.made(function(*args, **kwargs))

        if pass_arg is not None:
            guarded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
        return guarded


def _check_binop(operator_name: str, left: Any, right: Any) -> None:
    """Refuse what an operator would make too big, before it makes it."""
    if operator_name == "**":
        if isinstance(right, (int, float)) and abs(right) > 64:
            raise TemplateProblem("exponents over 64 are not allowed in templates")
        if type(left) is int and type(right) is int and right > 0:
            if left.bit_length() * right > MAX_INT_BITS:
                raise TemplateProblem(f"the template builds a number over {MAX_INT_BITS} bits")
    elif operator_name == "*":
        if type(left) is int and type(right) is int:
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateProblem(f"the template builds a number over {MAX_INT_BITS} bits")
            return
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, _SEQUENCES) and isinstance(times, int):
                if times > 0 and size_of(sequence, MAX_VALUE_CHARS) * times > MAX_VALUE_CHARS:
                    raise TemplateProblem(_TOO_BIG)
    elif operator_name == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            if size_of(left, MAX_VALUE_CHARS) + size_of(right, MAX_VALUE_CHARS) > MAX_VALUE_CHARS:
                raise TemplateProblem(_TOO_BIG)
    elif operator_name == "%":
        if isinstance(left, (str, bytes)):
            if percent_size(left, right, MAX_VALUE_CHARS) > MAX_VALUE_CHARS:
                raise TemplateProblem(_TOO_BIG)


def _listed(items: Any) -> Any:
    """Items to be joined, as a list (a generator is counted before it is joined)."""
    return items if isinstance(items, _SEQUENCES) else list(items)


_BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
    "-": operator.sub,
}


class _Guard(NodeTransformer):
    """Routes through the internal filters what the sandbox has no hook for."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _internal(_CONCAT, nodes.List(node.nodes, lineno=node.lineno))

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _internal(_LOOP, node.iter)
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _internal(_MADE, node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _internal(_MADE, node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return _internal(_MADE, node) if node.ctx == "load" else node


def _internal(name: str, node: nodes.Node) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


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
    #: (pick name, field read through it: "" for the pick itself), ``template_reads``
    picks: frozenset[tuple[str, str]] = frozenset()

    def render(self, context: Mapping[str, Any], budget: Budget | None = None) -> str:
        """The template's text for ``context``; ``budget`` is the record's (else its own)."""
        if self._plain is not None:
            fast = render_plain(self._plain, context, MAX_VALUE_CHARS)
            if fast is not None:
                return fast
        environment = _environment()
        environment.budget = budget = budget or Budget()
        budget.start_value()
        size = 0
        parts: list[str] = []
        try:
            for chunk in self._render(context):
                size += len(chunk)
                if size > MAX_VALUE_CHARS:
                    raise TemplateProblem(_TOO_LONG)
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
    if len(source) > MAX_VALUE_CHARS:
        raise TemplateProblem(f"the template is over {MAX_VALUE_CHARS} characters")
    try:
        return _compile(source, _environment())
    except (RecursionError, SyntaxError):  # Jinja's walks, or Python's compiler, on deep nesting
        raise TemplateProblem("the template nests too deeply") from None


def _compile(source: str, environment: _Environment) -> Template:
    try:
        tree = environment.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (template line {line})" if line and source.count("\n") else ""
        raise TemplateProblem(f"template syntax error{where}: {exc}") from None
    except ValueError:  # a number literal longer than int() takes
        raise TemplateProblem(f"template syntax error: a number over {MAX_INT_BITS} bits") from None
    _check_tree(tree)
    read = reads_of(tree)
    tree = _Guard().visit(tree)
    tree.set_environment(environment)
    environment.budget = Budget()  # constant parts are worked out now, through the guards
    return Template(
        source, read.fields, read.parent, read.variables, read.names,
        environment.from_string(tree).generate, plain_parts(source), read.picks,
    )


def _check_tree(tree: nodes.Template) -> None:
    for node_type, what in _REFUSED_NODES.items():
        if next(tree.find_all(node_type), None) is not None:
            raise TemplateProblem(f"{what} are not allowed in templates; keep templates short")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise TemplateProblem("recursive loops are not allowed in templates")
        if next(loop.find_all(nodes.For), None) is not None:
            raise TemplateProblem("loops inside loops are not allowed in templates")
    for constant in tree.find_all(nodes.Const):
        if type(constant.value) is int and constant.value.bit_length() > MAX_INT_BITS:
            raise TemplateProblem(f"numbers over {MAX_INT_BITS} bits are not allowed in templates")
        # 1e400 parses as inf, which Jinja writes into its Python code as the name ``inf``
        if type(constant.value) is float and not math.isfinite(constant.value):
            raise TemplateProblem(f"{constant.value} is not a number a template can hold; "
                                  "write a finite one")
