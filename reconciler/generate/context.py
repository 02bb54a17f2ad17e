"""What one expansion of a project's generators knows while it runs: its inputs, the
generators read, the records made so far (by generator, by type, by parent), caches of
checked definitions, and the problems found. Problems are recorded here, and ``Stop`` ends
the generator that has one (its problem already recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.generate.grammar import Generator
from reconciler.generate.inputs import FileSections, HandRecord, Options
from reconciler.generate.values import Definition
from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean

#: a generator's (or a patched record's) field definitions: (group, name, definition, path)
Definitions = list[tuple[str, str, Definition, tuple[PathPart, ...]]]


@dataclass
class Expansion:
    """Generated records (JSON-able, cacheable) and the problems found."""

    records: list[list[Any]] = field(default_factory=list)
    issues: list[PendingIssue] = field(default_factory=list)


class Stop(Exception):
    """A generator cannot go on (its problem is already recorded)."""


@dataclass
class Made:
    """A generated record while the project is expanded."""

    key: str
    n: int
    parent: str | None
    context: dict[str, Any]  # parent.<name> for children: key, n, fields and properties
    digests: dict[str, str]
    pinned: frozenset[str] = frozenset()  # its fields whose values are pinned
    #: its for_each parent, and what its associations name, as (type, key)
    parent_ref: tuple[str, str] | None = None
    links: tuple[tuple[str, str], ...] = ()


class Context:
    def __init__(
        self, sections: list[FileSections], existing: list[HandRecord], options: Options
    ) -> None:
        self.sections = sections
        self.options = options
        self.result = Expansion()
        self.hand: dict[str, list[HandRecord]] = {}
        for record in existing:
            self.hand.setdefault(record.object_type, []).append(record)
        self.hand_keys = {(r.object_type, r.key): r for r in existing}
        self.generators: dict[str, Generator] = {}
        self.made: dict[str, list[Made]] = {}
        self.keys_by_type: dict[str, dict[str, str]] = {}  # type → key → generator
        self.broken: set[str] = set()  # generators with a problem reported
        self.association_definitions: dict[tuple[str, str], Definition] = {}
        #: the bodies of the generator being expanded, for one schema check of them all
        self.bodies: list[tuple[str, dict[str, Any], list[Any]]] = []
        #: id → definitions whose reads were checked (``drafts``)
        self.checked: dict[int, list[Any]] = {}
        self.patch_definitions: dict[tuple[str, str], Any] = {}
        # generator → parent key → keys of its records (random_reference with scope: parent)
        self.children: dict[str, dict[str | None, list[str]]] = {}
        #: scheduled activity's address → the digest naming its placement (a story's step
        #: that follows it reads it: ``reconciler.generate.scheduling``)
        self.placements: dict[str, str] = {}
        #: subject generator → its story (``reconciler.generate.stories``)
        self.stories: dict[str, Any] = {}
        # -- picks (``picks``, ``relations``) --
        self.made_by_ref: dict[tuple[str, str], Made] = {}
        #: generator → records by what their associations name (built when first needed)
        self.linked: dict[str, dict[tuple[str, str], list[str]]] = {}
        self.pools: dict[tuple[str, tuple[str, str] | None, str], Any] = {}
        #: generator → field → a digest of how the field is made, the same for every
        #: record (what a value read through a random pick is pinned by)
        self.shapes: dict[str, dict[str, str]] = {}
        #: generator → field → its definition's kind (what a pick may read)
        self.kinds: dict[str, dict[str, str]] = {}
        #: generator → its named picks, checked
        self.pick_specs: dict[str, list[Any]] = {}
        #: id of a set of definitions → the digest of its picks and what reads them
        self.pick_groups: dict[int, str] = {}
        self.hand_views: dict[tuple[str, str], dict[str, Any]] = {}

    # -- problems -----------------------------------------------------------------------

    def issue(
        self, file: str, path: tuple[PathPart, ...], message: str, *, at_key: bool = False
    ) -> None:
        self.result.issues.append(PendingIssue(file, path, message, at_key=at_key))

    def gen_issue(
        self, gen: Generator, path: tuple[PathPart, ...], message: str, *, at_key: bool = False
    ) -> None:
        self.issue(gen.file, (*gen.path, *path), message, at_key=at_key)

    def field_problem(
        self, gen: Generator, key: str, path: tuple[PathPart, ...], message: str
    ) -> None:
        """A problem of one record's field (or of a patch of it): recorded, then ``Stop``."""
        file = gen.file
        if path and path[0] == "@patch":
            file = str(path[1])
            full: tuple[PathPart, ...] = ("patch", gen.name, *path[2:])
        else:
            full = (*gen.path, *path)
        self.issue(file, full, f"{gen.object_type}/{key}: {message}")
        raise Stop

    def check_vars(
        self, gen: Generator, path: tuple[PathPart, ...], names: Iterable[str]
    ) -> None:
        for name in sorted(names):
            if name not in self.options.variables:
                known = list(self.options.variables)
                hint = did_you_mean(name, known) or (
                    f"; declared: {', '.join(sorted(known))}" if known
                    else "; declare it under vars: in reconciler.yaml"
                )
                self.gen_issue(gen, path, f"unknown variable {name!r}{hint}")
                raise Stop

    # -- what was read ------------------------------------------------------------------

    def generators_for(self, source: str, *, but: str = "") -> list[str]:
        """The generators ``source`` names: itself, or every generator of that type."""
        if source in self.generators:
            return [source]
        return [n for n, g in self.generators.items() if g.object_type == source and n != but]
