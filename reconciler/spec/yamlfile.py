"""Reading one YAML file into plain data, fast, and finding where a JSON path was written.

Speed matters (tens of thousands of records), so a file is composed into nodes by
ruamel's C parser and the nodes are turned into plain dicts/lists/scalars here, in one
walk, rather than through ruamel's constructors (measured: about 0.7x the time of
``YAML(typ="safe").load``). The same walk refuses what YAML would silently accept:
duplicate keys (YAML keeps the last one), non-text keys, tags, recursive aliases.
Timestamps stay strings: ``reconciler.spec.times`` interprets them with the project's
timezone, which YAML's own timestamp type would lose.

ruamel's types and exceptions stay in this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from reconciler.spec.issues import PathPart, PendingIssue

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MERGE = _TAG + "merge"
_PLAIN_SCALARS = {_TAG + t for t in ("int", "float", "bool", "null")}
_KEEP_AS_TEXT = {_TAG + "timestamp"}
_MAX_DEPTH = 40
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


@dataclass
class ParsedFile:
    """A file's plain data (``None`` when it could not be parsed) and its problems."""

    data: Any
    issues: list[PendingIssue] = field(default_factory=list)
    root: Node | None = None  # for positions; callers drop it once they have them


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


def parse(text: str, display: str) -> ParsedFile:
    """Parse one document; every problem becomes a PendingIssue, never an exception."""
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
    except RecursionError:
        message = "the document is nested too deeply"
        return ParsedFile(None, [PendingIssue(display, (), message, line=1, column=1)])
    if root is None:
        message = "the file is empty; add a section such as meetings: or delete the file"
        return ParsedFile(None, [PendingIssue(display, (), message, line=1, column=1)])
    walker = _Walker(display)
    data = walker.value(root, (), 0)
    return ParsedFile(data, walker.issues, root)


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


class _Walker:
    """Nodes → plain data, collecting problems as it goes."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.issues: list[PendingIssue] = []
        self._done: dict[int, Any] = {}  # node id → value: aliases share, never re-expand
        self._active: set[int] = set()

    def _issue(self, node: Node, path: tuple[PathPart, ...], message: str) -> None:
        line, column = node_position(node)
        self.issues.append(PendingIssue(self.display, path, message, line=line, column=column))

    def value(self, node: Node, path: tuple[PathPart, ...], depth: int) -> Any:
        node_id = id(node)
        if node_id in self._done:
            return self._done[node_id]
        if node_id in self._active:
            self._issue(node, path, "an alias refers to itself; YAML recursion is not supported")
            return None
        if depth > _MAX_DEPTH:
            self._issue(node, path, "nested too deeply")
            return None
        if isinstance(node, ScalarNode):
            result = self._scalar(node, path)
        else:
            self._active.add(node_id)
            if isinstance(node, MappingNode):
                result = self._mapping(node, path, depth)
            else:
                result = [
                    self.value(item, (*path, index), depth + 1)
                    for index, item in enumerate(node.value)
                ]
            self._active.discard(node_id)
            if node.tag not in (_TAG + "map", _TAG + "seq"):
                self._issue(node, path, f"YAML tag {_short_tag(node.tag)} is not supported here")
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
                return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
            except Exception:  # noqa: BLE001 - ruamel raises assorted errors on odd numbers
                return node.value
        self._issue(node, path, f"YAML tag {_short_tag(tag)} is not supported here")
        return node.value

    def _mapping(self, node: MappingNode, path: tuple[PathPart, ...], depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
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
            result[key] = self.value(value_node, (*path, key), depth + 1)
        if merged:
            for key, value in merged.items():
                result.setdefault(key, value)
        return result

    def _merge(self, node: Node, path: tuple[PathPart, ...], depth: int) -> dict[str, Any]:
        sources = node.value if type(node) is SequenceNode else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources win, as in YAML's merge key
            value = self.value(source, path, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
            else:
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


def locate(root: Node, path: tuple[PathPart, ...], *, at_key: bool) -> tuple[int, int] | None:
    """Line and column (1-based) of ``path`` in a composed file: the value's, or its key's.

    Follows the last of duplicate keys (the value the data holds). Returns the deepest
    position found if the path leaves the document (e.g. a missing field: its mapping).
    """
    node = root
    key_node: Node | None = None
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        key_node, node = child
    else:
        if at_key and key_node is not None:
            return node_position(key_node)
        return node_position(node)
    return node_position(key_node if key_node is not None else node)


def _child(node: Node, part: PathPart) -> tuple[Node | None, Node] | None:
    if type(node) is MappingNode and isinstance(part, str):
        found: tuple[Node | None, Node] | None = None
        for key_node, value_node in _mapping_items(node):
            if type(key_node) is ScalarNode and str(key_node.value) == part:
                found = (key_node, value_node)
        return found
    if type(node) is SequenceNode and isinstance(part, int) and 0 <= part < len(node.value):
        item: Node = node.value[part]
        return (item, item)
    return None


def _mapping_items(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            sources = value_node.value if type(value_node) is SequenceNode else [value_node]
            for source in sources:
                if type(source) is MappingNode:
                    yield from _mapping_items(source)
        else:
            yield key_node, value_node


def record_positions(root: Node) -> dict[tuple[str, ...], tuple[int, int]]:
    """Positions of each record's key: ``(section, key)``, or ``("objects", type, key)``."""
    found: dict[tuple[str, ...], tuple[int, int]] = {}

    def walk(node: Node, prefix: tuple[str, ...], depth: int) -> None:
        if type(node) is not MappingNode:
            return
        for key_node, value_node in _mapping_items(node):
            if type(key_node) is not ScalarNode:
                continue
            path = (*prefix, str(key_node.value))
            if len(path) == depth:
                found[path] = node_position(key_node)
            else:
                walk(value_node, path, depth)

    if type(root) is MappingNode:
        for key_node, value_node in _mapping_items(root):
            if type(key_node) is ScalarNode:
                section = str(key_node.value)
                walk(value_node, (section,), 3 if section == "objects" else 2)
    return found
