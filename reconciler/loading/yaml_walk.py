"""Composed YAML nodes → plain data, in one walk: ruamel set up once (its C parser, and a
resolver that looks its tag table up once per first character), and the walk that turns
nodes into dicts, lists and scalars while refusing what YAML would silently accept:
duplicate keys (YAML keeps the last one), non-text keys, tags, recursive aliases; and
stopping, with ``Refused``, at nesting deeper than ``MAX_NESTING`` or aliases and merge
keys that expand the data past ``expansion_limit``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from reconciler.loading.issues import PathPart, PendingIssue
from reconciler.loading.yaml_positions import is_merge, node_position

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_KEEP_AS_TEXT = {_TAG + "timestamp"}
_PLAIN_SCALARS = {_TAG + t for t in ("int", "float", "bool", "null")}

#: Lists and mappings nested in each other, at most (a spec needs fewer than ten).
MAX_NESTING = 64
#: Numbers written with a leading zero or a plus sign: a phone number, a zip code.
_LOSSY_NUMBER = re.compile(r"\+|-?0[0-9]")
#: Aliases and merge keys may expand a file to this many times its size (at least 4 MiB).
EXPANSION_FACTOR = 8
MIN_EXPANSION_LIMIT = 4 << 20
_STR_TAG = VersionedResolver.DEFAULT_SCALAR_TAG


class _FastResolver(VersionedResolver):
    """ruamel's resolver, with its per-document table looked up once, not per scalar.

    Profiling showed ``processing_version`` (called twice for every scalar) taking a
    quarter of the load time. With the C parser the version is fixed per loader (YAML
    1.2 unless configured), so caching the table does not change any result.
    """

    _by_first: dict[str, list[Any]] | None = None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            by_first = self._by_first
            if by_first is None:
                by_first = self._by_first = {}
            first = value[0] if value else ""
            resolvers = by_first.get(first)
            if resolvers is None:
                table = self.versioned_resolver
                resolvers = by_first[first] = table.get(first, []) + table.get(None, [])
            for tag, regexp in resolvers:
                if regexp.match(value):
                    return _tag(tag)
            return self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)


@cache
def _tag(suffix: str) -> Tag:
    return Tag(suffix=suffix)


def make_yaml() -> YAML:
    yaml = YAML(typ="safe", pure=False)  # the C parser (ruamel.yaml.clib)
    yaml.Resolver = _FastResolver
    return yaml


# Only used for the few non-text scalars (ints, floats, bools, nulls): YAML 1.2's rules
# for 0x1F, 1_000, .inf and friends. Called per node, so it keeps no per-document state.
_SCALAR_YAML = make_yaml()
_CONSTRUCTOR: SafeConstructor = _SCALAR_YAML.constructor


def expansion_limit(text_length: int) -> int:
    """How big a file of ``text_length`` characters may become once aliases are expanded."""
    return max(MIN_EXPANSION_LIMIT, EXPANSION_FACTOR * text_length)


class Refused(Exception):
    """The walk stops: nested too deeply, or aliases expanded the data past the limit.

    ``position`` is None when the node is an alias's: the composed node is the anchored
    one, so the mapping key above it, where the alias was used, fills it in on the way up.
    """

    def __init__(self, *, too_deep: bool, position: tuple[int, int] | None = None) -> None:
        super().__init__("too deep" if too_deep else "expands too much")
        self.too_deep = too_deep
        self.position = position


class Walker:
    """Nodes → plain data, collecting problems as it goes.

    An aliased node is walked once and shared (``_done``); for each list or mapping the
    walker remembers the size its data expands to and how many levels it nests, so every
    further use of it adds both without walking it again (``_shape``). ``size`` counts one
    per node plus the length of each text and key: the expanded size, which ``limit`` bounds.
    """

    def __init__(self, display: str, limit: int) -> None:
        self.display = display
        self.limit = limit
        self.issues: list[PendingIssue] = []
        self.lossy: dict[tuple[PathPart, ...], str] = {}
        self.size = 0
        self._done: dict[int, Any] = {}  # node id → value: aliases share, never re-expand
        self._shape: dict[int, tuple[int, int]] = {}  # collection id → (size, levels)
        self._active: set[int] = set()
        self._deepest = 0  # most collections nested on one path so far

    def _issue(self, node: Node, path: tuple[PathPart, ...], message: str) -> None:
        line, column = node_position(node)
        self.issues.append(PendingIssue(self.display, path, message, line=line, column=column))

    def value(self, node: Node, path: tuple[PathPart, ...], depth: int) -> Any:
        node_id = id(node)
        if node_id in self._done:
            shape = self._shape.get(node_id)
            if shape is None:  # a scalar
                self.size += 1 + len(node.value)
                return self._done[node_id]
            size, levels = shape
            self.size += size
            if self.size > self.limit:
                raise Refused(too_deep=False)
            if depth + levels > MAX_NESTING:
                raise Refused(too_deep=True)
            if depth + levels > self._deepest:
                self._deepest = depth + levels
            return self._done[node_id]
        if node_id in self._active:
            self._issue(node, path, "an alias refers to itself; YAML recursion is not supported")
            return None
        if isinstance(node, ScalarNode):
            self.size += 1 + len(node.value)
            result = self._scalar(node, path)
            self._done[node_id] = result
            return result
        if depth >= MAX_NESTING:
            raise Refused(too_deep=True, position=node_position(node))
        self.size += 1
        start_size, outer_deepest = self.size - 1, self._deepest
        self._deepest = depth + 1
        self._active.add(node_id)
        if isinstance(node, MappingNode):
            result = self._mapping(node, path, depth)
        else:
            result = []
            for index, item in enumerate(node.value):
                result.append(self.value(item, (*path, index), depth + 1))
        self._active.discard(node_id)
        if node.tag not in (_TAG + "map", _TAG + "seq"):
            self._issue(node, path, f"YAML tag {_short_tag(node.tag)} is not supported here")
        self._shape[node_id] = (self.size - start_size, self._deepest - depth)
        if outer_deepest > self._deepest:
            self._deepest = outer_deepest
        self._done[node_id] = result
        return result

    def _scalar(self, node: ScalarNode, path: tuple[PathPart, ...]) -> Any:
        if node.ctag is _STR_TAG:  # the common case, without building the tag's text
            return node.value
        tag = node.tag
        if tag == _STR or tag in _KEEP_AS_TEXT:
            return node.value
        if tag in _PLAIN_SCALARS:
            try:
                value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
            except Exception:  # noqa: BLE001 - ruamel raises assorted errors on odd numbers
                return node.value
            if _LOSSY_NUMBER.match(node.value):
                self.lossy[path] = node.value
            return value
        self._issue(node, path, f"YAML tag {_short_tag(tag)} is not supported here")
        return node.value

    def _mapping(self, node: MappingNode, path: tuple[PathPart, ...], depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            try:
                if is_merge(key_node):
                    merged.update(self._merge(value_node, path, depth))
                    continue
                key = self._key(key_node, path)
                if key is None:
                    continue
                if key in seen:
                    first_line, _ = node_position(seen[key])
                    self._issue(
                        key_node,
                        (*path, key),
                        f"duplicate key {key!r} (first defined on line {first_line}); "
                        "YAML would silently keep only the last one",
                    )
                seen[key] = key_node
                self.size += len(key)
                result[key] = self.value(value_node, (*path, key), depth + 1)
            except Refused as exc:
                if exc.position is None:
                    exc.position = node_position(key_node)
                raise
        if merged:
            for key, value in merged.items():
                result.setdefault(key, value)
        return result

    def _merge(self, node: Node, path: tuple[PathPart, ...], depth: int) -> dict[str, Any]:
        sources = node.value if type(node) is SequenceNode else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources win, as in YAML's merge key
            value = self.value(source, path, depth)  # merged in: no deeper
            if isinstance(value, dict):
                self.size -= 1  # its keys join this mapping: count them, not another mapping
                merged.update(value)
            elif value is not None or type(source) is not MappingNode:
                self._issue(source, path, "a merge key (<<) needs a mapping or a list of mappings")
        return merged

    def _key(self, node: Node, path: tuple[PathPart, ...]) -> str | None:
        if type(node) is not ScalarNode:
            self._issue(node, path, "a key must be plain text, not a list or mapping")
            return None
        # A key like 2024 or true is meant as text: use what was written.
        return str(node.value)


def _short_tag(tag: str | None) -> str:
    tag = tag or "?"
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag

