"""What a compiled template reads, and the fast path for templates that only insert values.

A field's pin (``drafts``) is a digest of its definition and of what it reads, so the reads
must be known exactly: ``fields.<name>``, ``parent.<name>``, ``vars.<name>``, and picked
records, ``pick.<name>.<field>`` (``pick.<name>`` alone when a template only tests whether
an optional pick found someone). A template that uses ``pick`` any other way (``pick``
printed whole, or indexed by a variable) reads every field of every pick (``"*"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

#: The field of a pick a template reads when it reads all of them, or cannot be told.
EVERY_FIELD = "*"


@dataclass(frozen=True)
class Reads:
    fields: frozenset[str]
    parent: frozenset[str]
    variables: frozenset[str]
    names: frozenset[str]
    #: (pick name, field read through it, or "" for the pick itself)
    picks: frozenset[tuple[str, str]]


def _name_of(node: nodes.Node) -> str | None:
    """The attribute or constant key a ``Getattr``/``Getitem`` node reads, else None."""
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    argument = getattr(node, "arg", None)
    if isinstance(argument, nodes.Const) and isinstance(argument.value, str):
        return argument.value
    return None


def reads_of(tree: nodes.Template) -> Reads:
    read: dict[str, set[str]] = {"fields": set(), "parent": set(), "vars": set()}
    picks: set[tuple[str, str]] = set()
    named_picks: set[int] = set()  # ids of the nodes that are ``pick.<name>``
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if isinstance(target, nodes.Name) and target.name in read:
            name = _name_of(node)
            if name is not None:
                read[target.name].add(name)
        elif isinstance(target, nodes.Name) and target.name == "pick":
            name = _name_of(node)
            if name is not None:
                picks.add((name, ""))
                named_picks.add(id(node))
        elif isinstance(target, (nodes.Getattr, nodes.Getitem)):
            inner = getattr(target, "node", None)
            if isinstance(inner, nodes.Name) and inner.name == "pick":
                pick, field = _name_of(target), _name_of(node)
                if pick is not None:
                    picks.add((pick, field if field is not None else EVERY_FIELD))
    uses = sum(1 for n in tree.find_all(nodes.Name) if n.name == "pick")
    if uses > len(named_picks):  # ``pick`` used whole, or indexed by a variable
        picks.add((EVERY_FIELD, EVERY_FIELD))
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    return Reads(
        frozenset(read["fields"]), frozenset(read["parent"]), frozenset(read["vars"]),
        frozenset(names), frozenset(picks),
    )


_INSERT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")

def plain_parts(source: str) -> tuple[str | tuple[str, ...], ...] | None:
    """Text and names of a template that only inserts values, else None.

    Most templates are like ``Call with {{ parent.first_name }}``; rendering them through
    Jinja2 costs a context per call (~20 us). These are rendered by lookups instead, with
    Jinja's result (``_Environment.getattr`` also looks keys up first): a missing key or a
    value that is not text or a whole number goes the Jinja way (``render_plain``: None).
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


def render_plain(
    parts: tuple[str | tuple[str, ...], ...], context: Mapping[str, Any], limit: int
) -> str | None:
    """The text of a plain template for ``context``, or None to go the Jinja way (a name
    that is missing, a value that is not text or a whole number, a text over ``limit``)."""
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
    if len(text) > limit:
        return None  # Jinja's way says how it is too long
    return text.strip()
