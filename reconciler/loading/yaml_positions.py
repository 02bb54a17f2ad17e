"""Where a JSON path was written in one composed YAML file: line and column of a value or
its key, through merge keys, in time linear in the document however many paths are asked.

ruamel's node types stay in the loading package (``yamlfile``, ``yaml_walk`` and here).
"""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.loading.issues import PathPart

MERGE_TAG = "tag:yaml.org,2002:merge"


def node_position(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def is_merge(key_node: Node) -> bool:
    # The value test first: building a node's tag text is slow, and most keys are not "<<".
    return key_node.value == "<<" and type(key_node) is ScalarNode and key_node.tag == MERGE_TAG


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
                if type(key_node) is ScalarNode and not is_merge(key_node)
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
        if is_merge(key_node):
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
