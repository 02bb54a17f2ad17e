"""Reading one YAML file into plain data, fast, with every problem a located issue.

Speed matters (tens of thousands of records), so a file is composed into nodes by
ruamel's C parser and the nodes are turned into plain dicts/lists/scalars in one walk
(``yaml_walk``), rather than through ruamel's constructors (measured: about 0.7x the time
of ``YAML(typ="safe").load``). The walk refuses what YAML would silently accept:
duplicate keys (YAML keeps the last one), non-text keys, tags, recursive aliases.
Timestamps stay strings: ``reconciler.loading.times`` interprets them with the project's
timezone, which YAML's own timestamp type would lose. Where a JSON path was written is
found later, only when there is something to report (``yaml_positions``).

Hostile files are refused up front, each with a located error, never a crash: nesting
deeper than ``MAX_NESTING`` (ruamel's C composer recurses per level and segfaults near
30,000; a linear pre-scan here stops such files before they reach it), and aliases or
merge keys that expand the data past ``expansion_limit`` (a "billion laughs" file of 500
bytes expands to 10^9 nodes; the walk counts the expanded size as it goes, in linear
time, since every node is walked once and an alias only adds the size already known).

ruamel's types and exceptions stay in this module and its two siblings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import Node

from reconciler.loading.issues import PathPart, PendingIssue
from reconciler.loading.yaml_positions import Positions, node_position
from reconciler.loading.yaml_walk import (
    EXPANSION_FACTOR,
    MAX_NESTING,
    MIN_EXPANSION_LIMIT,
    Refused,
    Walker,
    expansion_limit,
    make_yaml,
)

#: ruamel's C composer recurses once per level: it segfaults near 30,000 levels and was
#: measured safe at 5,000. Below this cheap upper bound, files go straight to it.
_COMPOSER_SAFE_BOUND = 1000
#: A line starting with this many indentation/indicator characters may nest deeply.
#: Atomic and possessive: "&-&-&-..." must not be split every possible way (exponential).
_LONG_PREFIX = re.compile(r"^(?>[ \t?:-]|[&!][^ \t\n]*+){100,}", re.MULTILINE)
#: Line breaks libyaml knows besides \n: a pre-scan must see the lines it sees.
_OTHER_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")


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
        root = make_yaml().compose(text)
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
    walker = Walker(display, expansion_limit(len(text)))
    try:
        data = walker.value(root, (), 0)
    except Refused as exc:
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
        for event in make_yaml().parse(text):
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
