"""How big a template's value would be, worked out before it is made.

A string of a billion characters refused after it exists has already taken the memory, so
every operation a template can use to grow a value (``'x' * n``, ``s.center(n)``,
``'%9d' % x``, ``'{:9}'.format(x)``, ``sep.join(items)``, ``s.replace(a, b)``, the
``indent``/``wordwrap``/``join``/``replace``/``format`` filters...) is sized here from its
operands first, cheaply and never below the truth. The sandbox (``templates``) refuses
what would be too big; the operation itself then raises what Python would (a wrong
argument type, a bad format string), because these estimates never raise.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from typing import Any

#: Containers whose items count towards their size (what ``str()`` of them would print).
CONTAINERS = (list, tuple, dict, set, frozenset, KeysView, ValuesView, ItemsView)
#: Anything over every limit: what an absurd width or count is taken as.
HUGE = 10**9

_FORMATTER = string.Formatter()
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.?)", re.S)
_NUMBER = re.compile(r"\d+")


def size_of(value: Any, limit: int) -> int:
    """About how many characters ``value`` prints as (never fewer), or just over ``limit``.

    Text by its length, a whole number by its digits, a container by its items (an item
    shared a thousand times is counted a thousand times: ``str()`` prints it that often).
    The walk stops as soon as ``limit`` is passed, so it costs at most ``limit`` steps
    however the value is shaped.
    """
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value)
    if kind is int:
        bits: int = value.bit_length()
        return bits // 3 + 1  # log10(2) < 1/3
    if kind is list or kind is tuple or kind is dict:
        return _deep_size(value, limit)
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, CONTAINERS):
        return _deep_size(value, limit)
    return 24  # a float, None, True, a function...: as long as its repr, about


class _Over(Exception):
    pass


def _deep_size(root: Any, limit: int) -> int:
    if type(root) is list or type(root) is tuple:
        flat = 2  # the common case first: a few strings (``name.split(' ')``)
        for item in root:
            if type(item) is not str:
                break
            flat += len(item) + 2
            if flat > limit:
                return limit + 1
        else:
            return flat if flat <= limit else limit + 1
    sizes: dict[int, int] = {}
    total = 0

    def add(count: int) -> None:
        nonlocal total
        total += count
        if total > limit:
            raise _Over

    def visit(value: Any) -> None:
        if not isinstance(value, CONTAINERS):
            add(size_of(value, limit))
            return
        known = sizes.get(id(value))
        if known is not None:
            add(known)
            return
        sizes[id(value)] = 0  # a value inside itself prints as [...]
        start = total
        add(2)
        if isinstance(value, dict):
            for key, item in value.items():
                add(4)
                visit(key)
                visit(item)
        else:
            for item in value:
                add(2)
                visit(item)
        sizes[id(value)] = total - start

    try:
        visit(root)
    except _Over:
        return limit + 1
    return total


def sizes_of(values: Any, limit: int) -> int:
    """The sizes of ``values`` added up, or just over ``limit``."""
    total = 0
    for value in values:
        total += size_of(value, limit)
        if total > limit:
            return limit + 1
    return total


def whole(value: Any) -> int:
    """A width or count as the operation will take it (0 if it will refuse it anyway)."""
    return abs(value) if isinstance(value, int) else 0


def _digits(text: str) -> int:
    return int(text) if len(text) < 10 else HUGE


def percent_size(template: Any, values: Any, limit: int) -> int:
    """``template % values``: its text, and per conversion its width, precision and value."""
    if isinstance(template, bytes):
        template = template.decode("latin-1")
    positional = list(values) if isinstance(values, tuple) else [values]
    mapping = values if isinstance(values, Mapping) else None
    total = len(template)
    index = 0
    for key, width, precision, kind in _PERCENT.findall(template):
        for number in (width, precision):
            if number == "*":
                total += whole(positional[index] if index < len(positional) else 0)
                index += 1
            elif number:
                total += _digits(number)
        if kind == "%":
            continue
        if key and mapping is not None:
            value = mapping.get(key)
        else:
            value = positional[index] if index < len(positional) else None
            index += 1
        total += size_of(value, limit)
        if total > limit:
            return limit + 1
    return total


def format_size(template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> int:
    """``template.format(*args, **kwargs)``: its text, and per field its value and the
    numbers in its spec (width, precision), nested fields (``{:{width}}``) resolved."""
    auto = 0

    def value_of(field: str) -> Any:
        nonlocal auto
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if head == "":
            auto += 1
            return args[auto - 1] if auto - 1 < len(args) else None
        if head.isdigit():
            number = _digits(head)
            return args[number] if number < len(args) else None
        return kwargs.get(head) if isinstance(kwargs, Mapping) else None

    def numbers_in(spec: str) -> int:
        text = spec
        if "{" in spec:
            parts = []
            for literal, field, _, _ in _parse(spec):
                parts.append(literal)
                if field is not None:
                    value = value_of(field)
                    parts.append(str(value) if size_of(value, 32) <= 32 else str(HUGE))
            text = "".join(parts)
        return sum(_digits(number) for number in _NUMBER.findall(text))

    total = 0
    for literal, field, spec, _ in _parse(template):
        total += len(literal)
        if field is not None:
            total += size_of(value_of(field), limit) + numbers_in(spec or "")
        if total > limit:
            return limit + 1
    return total


def _parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(_FORMATTER.parse(template))
    except ValueError:
        return []  # format() will say what is wrong with it


# -- string methods: (limit, the string, the method's arguments) → the result's size -----

def _padded(limit: int, text: Any, width: Any = 0, *_: Any) -> int:
    return max(len(text), whole(width))


def _expanded(limit: int, text: Any, tabsize: Any = 8) -> int:
    tabs: int = text.count("\t" if isinstance(text, str) else b"\t")
    return len(text) + tabs * whole(tabsize)


def _replaced(limit: int, text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not (type(old) is type(new) is type(text)) or len(new) <= len(old):
        return len(text)  # no longer than it was (or str.replace refuses them)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(0, len(new) - len(old))


def _joined(limit: int, separator: Any, items: Any) -> int:
    count = len(items) if isinstance(items, (list, tuple, str, bytes)) else 0
    return sizes_of(items, limit) + size_of(separator, limit) * max(0, count - 1)


def _translated(limit: int, text: Any, table: Any) -> int:
    longest = 1
    if isinstance(table, Mapping):
        longest = max([1, *(len(v) for v in table.values() if isinstance(v, (str, bytes)))])
    return len(text) * longest


def _formatted(limit: int, text: Any, *args: Any, **kwargs: Any) -> int:
    return format_size(text, args, kwargs, limit) if isinstance(text, str) else len(text)


def _format_mapped(limit: int, text: Any, mapping: Any = None) -> int:
    return format_size(text, (), mapping if isinstance(mapping, Mapping) else {}, limit)


_TEXT_METHODS: Mapping[str, Callable[..., int]] = {
    "center": _padded, "ljust": _padded, "rjust": _padded, "zfill": _padded,
    "expandtabs": _expanded, "replace": _replaced, "join": _joined,
    "translate": _translated, "format": _formatted, "format_map": _format_mapped,
}


#: Names of the methods ``method_result_size`` knows (the sandbox asks only for these).
GROWING_METHODS = frozenset({*_TEXT_METHODS, "to_bytes"})


def method_result_size(
    method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int
) -> int | None:
    """The size of what calling ``method`` would make, for the methods that can make a
    value far bigger than their arguments (``str.center``, ``int.to_bytes``...); else None."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", None)
    try:
        if isinstance(owner, (str, bytes)) and isinstance(name, str) and name in _TEXT_METHODS:
            return _TEXT_METHODS[name](limit, owner, *args, **kwargs)
        if type(owner) is int and name == "to_bytes":
            return whole(args[0] if args else kwargs.get("length", 1))
    except TypeError:
        return None  # the call itself will say what is wrong with its arguments
    return None


# -- filters: (limit, the filter's value, its arguments) → the result's size -------------

def _as_text(value: Any, limit: int) -> str | None:
    """What the filter will make of its value (``str()``), unless that is over ``limit``."""
    if isinstance(value, str):
        return value
    return str(value) if size_of(value, limit) <= limit else None


def _center_filter(limit: int, value: Any, width: Any = 80) -> int:
    return max(size_of(value, limit), whole(width))


def _indent_filter(limit: int, value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = _as_text(value, limit)
    if text is None:
        return limit + 1
    return len(text) + (text.count("\n") + 1) * (
        len(width) if isinstance(width, str) else whole(width)
    )


def _wordwrap_filter(limit: int, value: Any, width: Any = 79, break_long_words: Any = True,
                     wrapstring: Any = None, *_: Any, **__: Any) -> int:
    text = _as_text(value, limit)
    if text is None:
        return limit + 1
    # greedy wrapping: any two lines in a row hold more than ``width`` characters
    lines = 2 * len(text) // max(1, whole(width)) + text.count("\n") + 1
    return len(text) + lines * (len(wrapstring) if isinstance(wrapstring, str) else 1)


def _replace_filter(limit: int, value: Any, old: Any, new: Any, count: Any = None) -> int:
    if type(value) is str and type(old) is str and type(new) is str:
        return _replaced(limit, value, old, new, -1 if count is None else count)
    text, old_text, new_text = (_as_text(v, limit) for v in (value, old, new))
    if text is None or old_text is None or new_text is None:
        return limit + 1
    return _replaced(limit, text, old_text, new_text, -1 if count is None else count)


def _join_filter(limit: int, items: Any, separator: Any = "", attribute: Any = None) -> int:
    return _joined(limit, separator, items)


def _format_filter(limit: int, value: Any, *args: Any, **kwargs: Any) -> int:
    text = _as_text(value, limit)
    if text is None:
        return limit + 1
    return percent_size(text, kwargs or args, limit)


#: Filters that can make a value far bigger than their input, by name. ``join`` is given
#: its items as a list (``templates`` makes a list of a generator first, to count them).
FILTER_RESULT_SIZES: Mapping[str, Callable[..., int]] = {
    "center": _center_filter, "indent": _indent_filter, "wordwrap": _wordwrap_filter,
    "replace": _replace_filter, "join": _join_filter, "format": _format_filter,
}
