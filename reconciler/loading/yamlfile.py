"""Reading one YAML file into plain data, fast, and finding where a JSON path was written.

Speed matters (tens of thousands of records), so a file is composed into nodes by
ruamel's C parser and the nodes are turned into plain dicts/lists/scalars here, in one
walk, rather than through ruamel's constructors (measured: about 0.7x the time of
``YAML(typ="safe").load``). The same walk refuses what YAML would silently accept:
duplicate keys (YAML keeps the last one), non-text keys, tags, recursive aliases.
Timestamps stay strings: ``reconciler.loading.times`` interprets them with the project's
timezone, which YAML's own timestamp type would lose.

Hostile files are refused up front, each with a located error, never a crash: nesting
deeper than ``MAX_NESTING`` (ruamel's C composer recurses per level and segfaults near
30,000; a linear pre-scan stops such files before they reach it), and aliases or merge
keys that expand the data past ``expansion_limit`` (a "billion laughs" file of 500 bytes
expands to 10^9 nodes; the walk counts the expanded size as it goes, in linear time,
since every node is walked once and an alias only adds the size already known).

ruamel's types and exceptions stay in this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from reconciler.loading.issues import PathPart, PendingIssue

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MERGE = _TAG + "merge"
_PLAIN_SCALARS = {_TAG + t for t in ("int", "float", "bool", "null")}
_KEEP_AS_TEXT = {_TAG + "timestamp"}

#: Lists and mappings nested in each other, at most (a spec needs fewer than ten).
MAX_NESTING = 64
#: ruamel's C composer recurses once per level: it segfaults near 30,000 levels and was
#: measured safe at 5,000. Below this cheap upper bound, files go straight to it.
_COMPOSER_SAFE_BOUND = 1000
#: A line starting with this many indentation/indicator characters may nest deeply.
#: Atomic and possessive: "&-&-&-..." must not be split every possible way (exponential).
_LONG_PREFIX = re.compile(r"^(?>[ \t?:-]|[&!][^ \t\n]*+){100,}", re.MULTILINE)
#: Line breaks libyaml knows besides \n: a pre-scan must see the lines it sees.
_OTHER_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
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


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=False)  # the C parser (ruamel.yaml.clib)
    yaml.Resolver = _FastResolver
    return yaml


# Only used for the few non-text scalars (ints, floats, bools, nulls): YAML 1.2's rules
# for 0x1F, 1_000, .inf and friends. Called per node, so it keeps no per-document state.
_SCALAR_YAML = _yaml()
_CONSTRUCTOR: SafeConstructor = _SCALAR_YAML.constructor


def expansion_limit(text_length: int) -> int:
    """How big a file of ``text_length`` characters may become once aliases are expanded."""
    return max(MIN_EXPANSION_LIMIT, EXPANSION_FACTOR * text_length)


@dataclass
class ParsedFile:
    """A file's plain data (``None`` when it could not be parsed) and its problems."""

    data: Any
    issues: list[PendingIssue] = field(default_factory=list)
    root: Node | None = None  # for positions; callers drop it once they have them
    #: Numbers whose text says more than the number (0123456, +4930...): path → text.
    lossy: dict[tuple[PathPart, ...], str] = field(default_factory=dict)
    _positions: Positions | None = field(default=None, repr=False, compare=False)

    def positions(self) -> Positions | None:
        """The position index of this file's nodes (built once), or None if it has none."""
        if self._positions is None and self.root is not None:
            self._positions = Positions(self.root)
        return self._positions


def decode(raw: bytes, display: str) -> tuple[str | None, list[PendingIssue]]:
    """Bytes → text, refusing non-UTF-8 with the position of the first bad byte."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        message = (
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded); "
            "save it as UTF-8"
        )
        return None, [PendingIssue(display, (), message, line=line, column=column)]
    return text, []


def nesting_message() -> str:
    return (
        f"more than {MAX_NESTING} levels of lists and mappings nested in each other; "
        "a spec needs only a few: flatten this part"
    )


def parse(text: str, display: str) -> ParsedFile:
    """Parse one document; every problem becomes a PendingIssue, never an exception."""
    too_deep = _too_deep_at(text)
    if too_deep is not None:
        line, column = too_deep
        return ParsedFile(None, [PendingIssue(display, (), nesting_message(), line, column)])
    try:
        root = _yaml().compose(text)
    except MarkedYAMLError as exc:
        return ParsedFile(None, [_yaml_error_issue(exc, display)])
    except YAMLError as exc:  # reader errors (control characters) carry no mark object
        line, column = _reader_position(exc, text)
        character = getattr(exc, "character", None)
        if isinstance(character, str) and len(character) == 1:
            character = ord(character)
        if isinstance(character, int):
            message = (
                f"the file contains a character YAML does not allow (#x{character:04x}); remove it"
            )
        else:
            message = f"YAML syntax error: {_one_line(str(exc))}"
        return ParsedFile(None, [PendingIssue(display, (), message, line=line, column=column)])
    except RecursionError:  # not expected after the pre-scan; kept as a backstop
        return ParsedFile(None, [PendingIssue(display, (), nesting_message(), line=1, column=1)])
    if root is None:
        message = "the file is empty; add a section such as meetings: or delete the file"
        return ParsedFile(None, [PendingIssue(display, (), message, line=1, column=1)])
    walker = _Walker(display, expansion_limit(len(text)))
    try:
        data = walker.value(root, (), 0)
    except _Refused as exc:
        line, column = exc.position or node_position(root)
        if exc.too_deep:  # the same one line as when the pre-scan finds it
            message = nesting_message()
        else:
            limit = _mebibytes(walker.limit)
            message = (
                f"aliases (*name) and merge keys (<<) expand this file to more than {limit} "
                f"of data, {EXPANSION_FACTOR} times its size (at least "
                f"{_mebibytes(MIN_EXPANSION_LIMIT)}); "
                "repeat less through aliases"
            )
        return ParsedFile(None, [PendingIssue(display, (), message, line=line, column=column)])
    return ParsedFile(data, walker.issues, root, walker.lossy)


def _mebibytes(size: int) -> str:
    mebibytes = size / (1 << 20)
    return f"{mebibytes:.0f} MiB" if size % (1 << 20) == 0 else f"{mebibytes:.1f} MiB"


def _too_deep_at(text: str) -> tuple[int, int] | None:
    """Where ``text`` first nests deeper than ``MAX_NESTING``, checked without recursion.

    First a cheap upper bound: flow nesting is at most the number of ``[`` and ``{``, and
    block nesting grows at most two levels per column, so it is bounded by the longest run
    of indentation, indicators (``- ? :``) and anchors/tags that starts a line. Only a
    file over that bound is parsed to events (libyaml keeps its own stack: no recursion,
    no crash), counting nesting exactly and stopping at the first level too deep.
    """
    opens = text.count("[") + text.count("{")
    if opens < _COMPOSER_SAFE_BOUND // 2:
        lines = _OTHER_BREAKS.sub("\n", text) if _OTHER_BREAKS.search(text) else text
        if _LONG_PREFIX.search(lines) is None:  # block nesting below 2 * (100 + 1) + 2
            return None
    depth = 0
    try:
        for event in _yaml().parse(text):
            kind = type(event)
            if kind is SequenceStartEvent or kind is MappingStartEvent:
                depth += 1
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    return mark.line + 1, mark.column + 1
            elif kind is SequenceEndEvent or kind is MappingEndEvent:
                depth -= 1
    except YAMLError:
        return None  # the composer stops at the same error and reports it, before going deeper
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml_error_issue(exc: MarkedYAMLError, display: str) -> PendingIssue:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    line = (mark.line + 1) if mark is not None else 1
    column = (mark.column + 1) if mark is not None else 1
    message = f"YAML syntax error: {_one_line(problem + context)}"
    return PendingIssue(display, (), message, line=line, column=column)


def _reader_position(exc: YAMLError, text: str) -> tuple[int, int]:
    position = getattr(exc, "position", None)
    if isinstance(position, int) and 0 <= position <= len(text):
        before = text[:position]
        return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
    return 1, 1


def node_position(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def _is_merge(key_node: Node) -> bool:
    # The value test first: building a node's tag text is slow, and most keys are not "<<".
    return key_node.value == "<<" and type(key_node) is ScalarNode and key_node.tag == _MERGE


class _Refused(Exception):
    """The walk stops: nested too deeply, or aliases expanded the data past the limit.

    ``position`` is None when the node is an alias's: the composed node is the anchored
    one, so the mapping key above it, where the alias was used, fills it in on the way up.
    """

    def __init__(self, *, too_deep: bool, position: tuple[int, int] | None = None) -> None:
        super().__init__("too deep" if too_deep else "expands too much")
        self.too_deep = too_deep
        self.position = position


class _Walker:
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
                raise _Refused(too_deep=False)
            if depth + levels > MAX_NESTING:
                raise _Refused(too_deep=True)
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
            raise _Refused(too_deep=True, position=node_position(node))
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
                if _is_merge(key_node):
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
            except _Refused as exc:
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


class Positions:
    """Where JSON paths were written in one composed file.

    Each mapping's keys are indexed the first time a path goes through it, so locating any
    number of paths costs time linear in the document (a linear search per path made one
    typo per record over 16k records take 54 s). A key's entry is the one the data holds:
    the last of duplicate keys, an explicit key over a merged one, the first merge source.
    """

    def __init__(self, root: Node) -> None:
        self.root = root
        self._indexes: dict[int, dict[str, tuple[Node, Node]]] = {}

    def locate(self, path: tuple[PathPart, ...], *, at_key: bool) -> tuple[int, int] | None:
        """Line and column (1-based) of ``path``: the value's, or its key's (``at_key``).

        Returns the deepest position found if the path leaves the document (e.g. a missing
        field: its mapping).
        """
        node = self.root
        key_node: Node | None = None
        for part in path:
            child = self._child(node, part)
            if child is None:
                break
            key_node, node = child
        else:
            if at_key and key_node is not None:
                return node_position(key_node)
            return node_position(node)
        return node_position(key_node if key_node is not None else node)

    def records(self) -> dict[tuple[str, ...], tuple[int, int]]:
        """Positions of each record's key: ``(section, key)``, or ``("objects", type, key)``."""
        found: dict[tuple[str, ...], tuple[int, int]] = {}
        if type(self.root) is not MappingNode:
            return found
        for section, (_, section_node) in self._index(self.root).items():
            groups: list[tuple[tuple[str, ...], Node]] = [((section,), section_node)]
            if section == "objects" and type(section_node) is MappingNode:
                groups = [
                    ((section, name), node) for name, (_, node) in self._index(section_node).items()
                ]
            for prefix, group in groups:
                if type(group) is MappingNode:
                    for key, (key_node, _) in self._index(group).items():
                        found[(*prefix, key)] = node_position(key_node)
        return found

    def _child(self, node: Node, part: PathPart) -> tuple[Node, Node] | None:
        if type(node) is MappingNode and isinstance(part, str):
            return self._index(node).get(part)
        if type(node) is SequenceNode and isinstance(part, int) and 0 <= part < len(node.value):
            item: Node = node.value[part]
            return (item, item)
        return None

    def _index(self, node: MappingNode) -> dict[str, tuple[Node, Node]]:
        """The keys of ``node`` and of the mappings merged into it, each mapping once.

        Built after the indexes of its merge sources (an explicit stack: a chain of
        thousands of merges must not recurse), so each index is built only once.
        """
        indexes = self._indexes
        index = indexes.get(id(node))
        if index is not None:
            return index
        started: set[int] = set()
        stack: list[tuple[MappingNode, bool]] = [(node, False)]
        while stack:
            current, sources_done = stack.pop()
            if id(current) in indexes:
                continue
            sources = _merge_sources(current)
            if not sources_done:
                started.add(id(current))
                stack.append((current, True))
                stack.extend(
                    (source, False) for source in sources
                    if id(source) not in indexes and id(source) not in started
                )  # fmt: skip
                continue
            built: dict[str, tuple[Node, Node]] = {
                str(key_node.value): (key_node, value_node)
                for key_node, value_node in current.value
                if type(key_node) is ScalarNode and not _is_merge(key_node)
            }
            for source in sources:  # explicit keys win, then earlier sources
                for key, entry in indexes.get(id(source), {}).items():
                    built.setdefault(key, entry)
            indexes[id(current)] = built
        return indexes[id(node)]


def _merge_sources(node: MappingNode) -> list[MappingNode]:
    """The mappings merged into ``node`` (``<<: *a`` or ``<<: [*a, *b]``), in order."""
    sources: list[MappingNode] = []
    for key_node, value_node in node.value:
        if _is_merge(key_node):
            items = value_node.value if type(value_node) is SequenceNode else [value_node]
            sources.extend(item for item in items if type(item) is MappingNode)
    return sources


#: A few files' position indexes, so that repeated ``locate`` calls on one root stay linear.
_RECENT_POSITIONS: dict[int, Positions] = {}


def locate(root: Node, path: tuple[PathPart, ...], *, at_key: bool) -> tuple[int, int] | None:
    """``Positions(root).locate(path, at_key=...)``, reusing the index of a recent root."""
    positions = _RECENT_POSITIONS.get(id(root))
    if positions is None or positions.root is not root:
        if len(_RECENT_POSITIONS) >= 8:
            _RECENT_POSITIONS.pop(next(iter(_RECENT_POSITIONS)))
        positions = _RECENT_POSITIONS[id(root)] = Positions(root)
    return positions.locate(path, at_key=at_key)


def record_positions(root: Node) -> dict[tuple[str, ...], tuple[int, int]]:
    """Positions of each record's key: ``(section, key)``, or ``("objects", type, key)``."""
    return Positions(root).records()
