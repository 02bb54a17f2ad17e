"""Generators → records: the ``generate:`` and ``patch:`` sections of a project expanded.

Input: each file's sections (plain data, with the position of each generator), the
project's hand-written records, the seed, timezone, variables and record ceiling. Output:
record drafts in exactly the form ``reconciler.loading.records`` builds for hand-written
records (so the planner never knows a record was generated), plus the stable parts of
generated times, resolved at each run by ``finalize``.

Stability rules, and how they hold:

- a value depends only on (seed, generator, key, field): each field draws from its own
  ``random.Random`` seeded by a SHA-256 of those (``values.seed_of``);
- generators are expanded in an order fixed by their names and dependencies, never by
  file order; keys come from ``n`` (1..count), so raising a count adds keys at the end
  and lowering it drops the highest;
- every generated property is pinned like a relative time: its "expression" is a digest
  of its definition (``gen:<hex>``), so the planner keeps the value applied at creation
  until that one definition changes, whatever Faker or Python do meanwhile. Times and the
  values chosen by them are ``gen@t:<hex>`` (``refresh-times`` re-pins those only);
- a ``random_reference`` picks by rendezvous hashing among sorted candidates: a growing
  candidate set moves a pick only to a new candidate that outranks it, and the pick is
  pinned once applied (see ``reconciler.planning.pins``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.generate.grammar import Generator, read_generators
from reconciler.generate.inputs import (
    E_ASSOC,
    E_COLUMN,
    E_FILE,
    E_KEY,
    E_LINE,
    E_TYPE,
    PICK_PREFIX,
    TIME_PIN,
    VALUE_PIN,
    FileSections,
    HandRecord,
    Options,
)
from reconciler.generate.shapes import (
    PLACEHOLDER_BASE,
    PLACEHOLDER_STRIDE,
    digest_of,
    field_properties,
    friendly_fields,
    hand_path,
    is_glob,
    make_key,
    key_problem,
    key_shape,
    pin_for,
    placeholder,
    time_prop,
)
from reconciler.generate.templates import Budget, TemplateProblem, compile_template, is_template
from reconciler.generate.values import (
    Definition,
    Evaluator,
    ValueProblem,
    define,
    seed_of,
    time_pick,
)
from reconciler.model import ASSOCIATION_TARGET_NAMES, SECTION_OBJECT_TYPES
from reconciler.loading.issues import PathPart, PendingIssue, did_you_mean

_TIME_KINDS = ("time", "by_time")
#: Picks among at most this many candidates are ranked (stable as candidates are added).
_RENDEZVOUS_MOST = 64


@dataclass
class Expansion:
    """Generated records (JSON-able, cacheable) and the problems found."""

    records: list[list[Any]] = field(default_factory=list)
    issues: list[PendingIssue] = field(default_factory=list)


class _Stop(Exception):
    """A generator cannot go on (its problem is already recorded)."""


@dataclass
class _Made:
    """A generated record while the project is expanded."""

    key: str
    n: int
    parent: str | None
    context: dict[str, Any]  # parent.<name> for children: key, n, fields and properties
    digests: dict[str, str]
    pinned: frozenset[str] = frozenset()  # its fields whose values are pinned


def expand(
    sections: Iterable[FileSections], existing: Iterable[HandRecord], options: Options
) -> Expansion:
    return _Expander(list(sections), list(existing), options).run()


class _Expander:
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
        self.made: dict[str, list[_Made]] = {}
        self.keys_by_type: dict[str, dict[str, str]] = {}  # type → key → generator
        self.broken: set[str] = set()  # generators with a problem reported
        self._association_definitions: dict[tuple[str, str], Definition] = {}
        self._bodies: list[tuple[str, dict[str, Any], list[Any]]] = []
        self._checked: dict[int, list[Any]] = {}
        self.patch_definitions: dict[tuple[str, str], Any] = {}
        # generator → parent key → keys of its records (random_reference with scope: parent)
        self.children: dict[str, dict[str | None, list[str]]] = {}

    # -- problems -----------------------------------------------------------------------

    def issue(self, file: str, path: tuple[PathPart, ...], message: str, *, at_key: bool = False) -> None:
        self.result.issues.append(PendingIssue(file, path, message, at_key=at_key))

    def gen_issue(self, gen: Generator, path: tuple[PathPart, ...], message: str, *, at_key: bool = False) -> None:
        self.issue(gen.file, ("generate", gen.name, *path), message, at_key=at_key)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> Expansion:
        self.generators = read_generators(self.sections, self.result.issues)
        order = self._order()
        if order is None or not self._within_limit(order):
            return self.result
        for name in order:
            gen = self.generators[name]
            if name in self.broken or self.broken.intersection(self._sources(gen)):
                self.broken.add(name)  # its problem is reported where it starts
                continue
            try:
                self._expand(gen)
            except _Stop:
                self.broken.add(name)
        self._check_patches()
        if not self.result.issues:
            self._check_references()
        return self.result

    # -- order and ceiling ----------------------------------------------------------------

    def _sources(self, gen: Generator) -> list[str]:
        """Generators this one needs first: its parent, and those it picks from."""
        names = []
        if gen.for_each is not None:
            names.extend(self._generators_for(gen.for_each, but=gen.name))
        for item in gen.associations:
            if isinstance(item, dict):
                for value in item.values():
                    if isinstance(value, dict) and "random_reference" in value:
                        names.extend(self._generators_for(str(value["random_reference"])))
                    elif isinstance(value, str) and is_template(value):
                        pass
        return sorted(set(names) - {gen.name})

    def _generators_for(self, source: str, *, but: str = "") -> list[str]:
        if source in self.generators:
            return [source]
        return [n for n, g in self.generators.items() if g.object_type == source and n != but]

    def _order(self) -> list[str] | None:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, chain: list[str]) -> bool:
            if state.get(name) == 2:
                return True
            if state.get(name) == 1:
                cycle = " → ".join([*chain[chain.index(name):], name])
                gen = self.generators[name]
                self.gen_issue(gen, (), f"generators depend on each other in a circle: {cycle}", at_key=True)
                return False
            state[name] = 1
            for source in self._sources(self.generators[name]):
                if not visit(source, [*chain, name]):
                    return False
            state[name] = 2
            order.append(name)
            return True

        for name in sorted(self.generators):
            if not visit(name, []):
                return None
        return order

    def _within_limit(self, order: list[str]) -> bool:
        most: dict[str, int] = {}
        for name in order:
            gen = self.generators[name]
            try:
                top = self._count_bounds(gen)[1]
            except _Stop:
                self.broken.add(name)
                top = 0
            parents = 1
            if gen.for_each is not None:
                parents = sum(
                    most.get(g, 0) for g in self._generators_for(gen.for_each, but=gen.name)
                )
                if gen.for_each not in self.generators:
                    parents += len(self.hand.get(gen.for_each, []))
            most[name] = top * parents
        total = sum(most.values())
        if total > self.options.limit:
            biggest = max(most, key=lambda n: (most[n], n))
            self.gen_issue(
                self.generators[biggest], ("count",),
                f"the generators would make up to {total:,} records, over the limit of "
                f"{self.options.limit:,} (this one up to {most[biggest]:,}); lower the counts, "
                "or raise max_generated in reconciler.yaml",
            )
            return False
        return True

    def _count_bounds(self, gen: Generator) -> tuple[int, int]:
        count = gen.count
        if isinstance(count, bool):
            count = None
        if isinstance(count, int):
            if count < 0:
                self.gen_issue(gen, ("count",), "count must be zero or more")
                raise _Stop
            return count, count
        if isinstance(count, str) and is_template(count):
            value = self._vars_template(gen, ("count",), count)
            try:
                number = int(value)
            except ValueError:
                self.gen_issue(gen, ("count",), f"the count template gave {value!r}, not a whole number")
                raise _Stop from None
            if number < 0:
                self.gen_issue(gen, ("count",), f"the count template gave {number}; counts are zero or more")
                raise _Stop
            gen.count = number
            return number, number
        if isinstance(count, dict):
            try:
                definition = define(count, gen.locale)
            except ValueProblem as exc:
                self.gen_issue(gen, ("count",), str(exc))
                raise _Stop from None
            if definition.kind == "number" and definition.low >= 0 and definition.step == 1:
                gen.count = definition
                return int(definition.low), int(definition.high)
            if definition.kind == "choice" and all(
                c.kind == "literal" and not isinstance(c.raw, bool) and str(c.raw).isdigit()
                for c in definition.choices
            ):
                gen.count = definition
                numbers = [int(c.raw) for c in definition.choices]
                return min(numbers), max(numbers)
        self.gen_issue(
            gen, ("count",),
            "count is a whole number, a template of variables like \"{{ vars.accounts }}\", "
            "{random_number: {min: 2, max: 5}} or {random_choice: {1: 60%, 2: 40%}}",
        )
        raise _Stop

    def _vars_template(self, gen: Generator, path: tuple[PathPart, ...], source: str) -> str:
        try:
            template = compile_template(source)
            self._check_vars(gen, path, template.variables)
            return template.render({"vars": dict(self.options.variables)})
        except TemplateProblem as exc:
            self.gen_issue(gen, path, str(exc))
            raise _Stop from None

    def _check_vars(self, gen: Generator, path: tuple[PathPart, ...], names: Iterable[str]) -> None:
        for name in sorted(names):
            if name not in self.options.variables:
                known = list(self.options.variables)
                hint = did_you_mean(name, known) or (
                    f"; declared: {', '.join(sorted(known))}" if known
                    else "; declare it under vars: in reconciler.yaml"
                )
                self.gen_issue(gen, path, f"unknown variable {name!r}{hint}")
                raise _Stop

    def _count(self, gen: Generator, parent: str | None) -> int:
        count = gen.count
        if isinstance(count, int):
            return count
        assert isinstance(count, Definition)
        value = Evaluator(seed_of(self.options.seed, gen.name, parent or "", "\x00count"), {}).value(count)
        return int(value)

    # -- one generator ------------------------------------------------------------------

    def _expand(self, gen: Generator) -> None:
        definitions = self._definitions(gen, gen.fields)
        parents: list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]]
        if gen.for_each is None:
            parents = [(None, {}, {}, frozenset())]
        else:
            parents = self._parents(gen)
        made: list[_Made] = []
        seen: dict[str, str] = {}
        by_type = self.keys_by_type.setdefault(gen.object_type, {})
        records: list[list[Any]] = []
        self._bodies = []
        for parent_key, parent_context, parent_digests, parent_pinned in parents:
            count = self._count(gen, parent_key)
            for n in range(1, count + 1):
                key = make_key(gen.key_pattern, n, parent_key)
                problem = key_problem(key)
                if problem:
                    self.gen_issue(gen, ("key",), f"{gen.key_pattern!r} gives {key!r} (n={n}): {problem}")
                    raise _Stop
                clash = seen.get(key) or by_type.get(key)
                if clash is not None:
                    other = "" if clash == gen.name else f" (generator {clash!r} makes it too)"
                    self.gen_issue(
                        gen, ("key",),
                        f"{gen.key_pattern!r} gives the key {key!r} twice{other}; put {{n}} "
                        + ("and {parent} " if gen.for_each else "") + "in the key pattern",
                    )
                    raise _Stop
                hand = self.hand_keys.get((gen.object_type, key))
                if hand is not None:
                    self.issue(
                        hand.where.rsplit(":", 2)[0],
                        hand_path(gen.object_type, key),
                        f"{gen.object_type}/{key} is also made by the generator {gen.name!r} at "
                        f"{gen.file}:{gen.line}:{gen.column}; rename this record, or change the "
                        f"generated one with patch: {{{gen.name}: {{{key}: ...}}}}",
                        at_key=True,
                    )
                    raise _Stop
                seen[key] = gen.name
                record_defs = self._patched(gen, key, definitions)
                made_record, entry = self._record(
                    gen, key, n, parent_key, parent_context, parent_digests, parent_pinned,
                    record_defs,
                )
                made.append(made_record)
                records.append(entry)
        self._check_bodies(gen)
        for key in seen:
            by_type[key] = gen.name
        self.made[gen.name] = made
        children: dict[str | None, list[str]] = {}
        for record in made:
            children.setdefault(record.parent, []).append(record.key)
        self.children[gen.name] = children
        self.result.records.extend(records)

    def _parents(
        self, gen: Generator
    ) -> list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]]:
        assert gen.for_each is not None
        found: list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]] = []
        if gen.for_each in self.generators:
            for made in self.made.get(gen.for_each, []):
                found.append((made.key, made.context, made.digests, made.pinned))
        else:
            for name in self._generators_for(gen.for_each, but=gen.name):
                for made in self.made.get(name, []):
                    found.append((made.key, made.context, made.digests, made.pinned))
            for index, hand in enumerate(sorted(self.hand.get(gen.for_each, []), key=lambda r: r.key)):
                context = {"key": hand.key, "n": index + 1, "properties": dict(hand.properties)}
                digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:12]
                found.append((hand.key, context, {"*": digest}, frozenset()))
            found.sort(key=lambda p: p[0] or "")
        exists = gen.for_each in self.generators or self._generators_for(gen.for_each, but=gen.name)
        if not found and not exists:
            known = sorted(self.generators)
            hint = did_you_mean(gen.for_each, [*known, *SECTION_OBJECT_TYPES.values()])
            self.gen_issue(
                gen, ("for_each",),
                f"for_each: {gen.for_each!r} names no generator and no records of that type"
                f"{hint}; name a generator, or an object type with records in the project",
            )
            raise _Stop
        return found

    def _definitions(
        self, gen: Generator, raw_fields: list[tuple[str, str, Any]]
    ) -> list[tuple[str, str, Definition, tuple[PathPart, ...]]]:
        """The generator's field definitions, checked (every problem reported)."""
        out: list[tuple[str, str, Definition, tuple[PathPart, ...]]] = []
        failed = False
        for group, name, raw in raw_fields:
            path: tuple[PathPart, ...] = (group, name) if group != "owner" else ("owner",)
            try:
                definition = define(raw, gen.locale)
            except ValueProblem as exc:
                self.issue(gen.file, _full(gen, path), str(exc))
                failed = True
                continue
            out.append((group, name, definition, path))
        if failed:
            raise _Stop
        return out

    def _patched(
        self, gen: Generator, key: str,
        definitions: list[tuple[str, str, Definition, tuple[PathPart, ...]]],
    ) -> list[tuple[str, str, Definition, tuple[PathPart, ...]]]:
        if not gen.patches:
            return definitions
        result = list(definitions)
        for pattern, body in sorted(gen.patches, key=lambda p: (is_glob(p[0]) is False, p[0])):
            if not fnmatch.fnmatchcase(key, pattern):
                continue
            gen.used_patches.add(pattern)
            compiled = _patch_cache(self, gen, pattern, body)
            for group, name, definition, path in compiled:
                for index, (g, n, _, _) in enumerate(result):
                    if (g, n) == (group, name):
                        result[index] = (group, name, definition, path)
                        break
                else:
                    result.append((group, name, definition, path))
        return result

    def _record(
        self, gen: Generator, key: str, n: int, parent_key: str | None,
        parent_context: dict[str, Any], parent_digests: dict[str, str],
        parent_pinned: frozenset[str],
        definitions: list[tuple[str, str, Definition, tuple[PathPart, ...]]],
    ) -> tuple[_Made, list[Any]]:
        seed = self.options.seed
        values: dict[str, Any] = {}  # name → value as templates see it
        digests: dict[str, str] = {}
        kinds: dict[str, str] = {}
        body: dict[str, Any] = {}
        future: dict[str, Any] = {}  # by_time fields: their future value
        when: dict[str, str] = {}  # by_time field → its time field
        times: dict[str, tuple[Definition, float, int]] = {}
        pins: dict[str, str] = {}  # field name → pin prefix + digest
        if id(definitions) not in self._checked:
            self._check_definitions(gen, key, parent_key, definitions)
        context = {
            "n": n, "key": key, "parent": parent_context, "fields": values,
            "vars": self.options.variables, "locale": gen.locale,
        }
        budget = Budget()  # one record's CPU time, for all its values
        for group, name, definition, path in definitions:
            if definition.kind == "by_time":
                when[name] = definition.time_field
            reads = [definition.fingerprint]
            if definition.reads_fields:
                reads.extend(f"f.{r}={digests.get(r, '')}" for r in sorted(definition.reads_fields))
            if definition.reads_parent:
                reads.extend(
                    f"p.{r}={parent_digests.get(r, parent_digests.get('*', ''))}"
                    for r in sorted(definition.reads_parent)
                )
            if definition.reads_vars:
                reads.extend(
                    f"v.{v}={json.dumps(self.options.variables.get(v))}"
                    for v in sorted(definition.reads_vars)
                )
            digest = digest_of(seed, gen.name, key, name, *reads)
            digests[name] = digest
            kinds[name] = definition.kind
            field_seed = seed_of(seed, gen.name, key, name) if definition.kind != "literal" else 0
            pinned_reads = definition.reads_fields
            try:
                if definition.kind == "time":
                    assert definition.window is not None
                    u, slot = time_pick(field_seed, definition.window)
                    times[name] = (definition, u, slot)
                    value: Any = placeholder(len(times) - 1)
                    pins[name] = TIME_PIN + digest
                elif definition.kind == "by_time":
                    assert definition.past is not None and definition.future is not None
                    value = Evaluator(field_seed, context, budget).value(definition.past)
                    future[name] = Evaluator(field_seed, context, budget).value(definition.future)
                    pins[name] = TIME_PIN + digest_of(digest, digests.get(definition.time_field, ""))
                else:
                    value = Evaluator(field_seed, context, budget).value(definition)
                    if definition.pinned or not pinned_reads.isdisjoint(pins) or (
                        not definition.reads_parent.isdisjoint(parent_pinned)
                    ):
                        pins[name] = VALUE_PIN + digest
            except ValueProblem as exc:
                self._field_problem(gen, key, path, str(exc))
            values[name] = value
            if group == "fields":
                body[name] = value
            elif group == "properties":
                body.setdefault("properties", {})[name] = value
            else:
                body["owner"] = value
        associations = self._associations(gen, key, parent_key, values, context, budget)
        if associations:
            body["associations"] = [item for item, _ in associations]
        draft, problems = self._build(gen, key, body)
        self._bodies.append((key, body, definitions))
        if problems:
            for path_tail, message in problems[:1]:
                self._field_problem(gen, key, _generator_path(definitions, path_tail), message)
        futures: dict[str, str] = {}
        if future:
            future_body = dict(body)
            future_body["properties"] = dict(body.get("properties", {}))
            for name, value in future.items():
                if name in future_body.get("properties", {}):
                    future_body["properties"][name] = value
                else:
                    future_body[name] = value
            future_draft, problems = self._build(gen, key, future_body)
            self._bodies.append((key, future_body, definitions))
            if problems:
                path_tail, message = problems[0]
                self._field_problem(gen, key, _generator_path(definitions, path_tail), message)
            futures = {
                p: v for p, v in future_draft["props"].items() if draft["props"].get(p) != v
            }
        entry = self._entry(gen, key, draft, definitions, pins, times, futures, when, associations)
        parent_view = dict(values)
        for name in list(parent_view):
            if kinds.get(name) in _TIME_KINDS:
                parent_view.pop(name)  # resolved at each run: not for templates
        parent_view.update(key=key, n=n, parent=parent_key)
        return _Made(key, n, parent_key, parent_view, digests, frozenset(pins)), entry

    def _check_definitions(
        self, gen: Generator, key: str, parent_key: str | None,
        definitions: list[tuple[str, str, Definition, tuple[PathPart, ...]]],
    ) -> None:
        """What a record's field definitions read exists, above them: checked once per
        set of definitions (a generator's, or a patched record's), not per record."""
        kinds: dict[str, str] = {}
        names = [d[1] for d in definitions]
        for _, name, definition, path in definitions:
            for read in sorted(definition.reads_fields):
                if read not in kinds:
                    message = (
                        f"fields.{read} is not set before this field; fields are made in the "
                        "order written, so move it above" if read in names
                        else f"fields.{read} is not a field of this generator"
                        + did_you_mean(read, names)
                    )
                    self._field_problem(gen, key, path, message)
                if kinds[read] in _TIME_KINDS and definition.kind != "by_time":
                    self._field_problem(
                        gen, key, path,
                        f"fields.{read} is a generated time, resolved at each run; choose a value "
                        "by it with by_time: {field: ..., past: ..., future: ...}",
                    )
            if definition.kind == "by_time" and kinds.get(definition.time_field) != "time":
                self._field_problem(
                    gen, key, path,
                    f"by_time: field: {definition.time_field!r} must name a datetime_between "
                    "field written above this one",
                )
            self._check_vars(gen, path, definition.reads_vars)
            if definition.reads_parent and parent_key is None:
                self._field_problem(gen, key, path, "parent is only known with for_each:")
            kinds[name] = definition.kind
        self._checked[id(definitions)] = definitions  # (kept, so the id stays its own)

    def _field_problem(self, gen: Generator, key: str, path: tuple[PathPart, ...], message: str) -> None:
        file = gen.file
        if path and path[0] == "@patch":
            file = str(path[1])
            full: tuple[PathPart, ...] = ("patch", gen.name, *path[2:])
        else:
            full = ("generate", gen.name, *path)
        self.issue(file, full, f"{gen.object_type}/{key}: {message}")
        raise _Stop

    def _build(
        self, gen: Generator, key: str, body: dict[str, Any], *, check_schema: bool = False,
    ) -> tuple[dict[str, Any], list[tuple[tuple[PathPart, ...], str]]]:
        """A record's draft, as ``FileBuilder`` makes hand-written ones, and its problems.

        The schema is checked for all records of a generator at once (``_check_bodies``).
        """
        from reconciler.loading import schema as schemas
        from reconciler.loading.records import FileBuilder

        path = (gen.section, key) if gen.section != "objects" else ("objects", gen.object_type, key)
        document: dict[str, Any] = (
            {gen.section: {key: body}} if gen.section != "objects"
            else {"objects": {gen.object_type: {key: body}}}
        )
        problems: list[tuple[tuple[PathPart, ...], str]] = []
        if check_schema and not schemas.is_valid("spec", document):
            for issue in schemas.validation_issues("spec", document, gen.file):
                problems.append((issue.path[len(path):], issue.message))
        builder = FileBuilder(gen.file, self.options.timezone)
        draft = builder.record(gen.object_type, gen.section, path, body)
        for issue in builder.issues:
            problems.append((issue.path[len(path):], issue.message))
        return draft, problems

    def _check_bodies(self, gen: Generator) -> None:
        """The schema, over every record the generator made: one call when all is well,
        else the first record that breaks it, reported at the field that made the value."""
        from reconciler.loading import schema as schemas

        bodies = self._bodies
        self._bodies = []
        batches: list[dict[str, Any]] = [{}, {}]  # by_time: a record's past and future bodies
        for key, body, _ in bodies:
            batches[1 if key in batches[0] else 0][key] = body
        if all(
            schemas.is_valid("spec", {"objects": {gen.object_type: batch}}
                             if gen.section == "objects" else {gen.section: batch})
            for batch in batches
        ):
            return
        for key, body, definitions in bodies:
            _, problems = self._build(gen, key, body, check_schema=True)
            if problems:
                path_tail, message = problems[0]
                self._field_problem(gen, key, _generator_path(definitions, path_tail), message)

    def _associations(
        self, gen: Generator, key: str, parent_key: str | None, values: Mapping[str, Any],
        context: Mapping[str, Any], budget: Budget,
    ) -> list[tuple[dict[str, Any], str | None]]:
        """Each association item as a hand-written one, and the pin expression of a pick."""
        out: list[tuple[dict[str, Any], str | None]] = []
        for index, item in enumerate(gen.associations):
            if not isinstance(item, dict):
                continue
            resolved: dict[str, Any] = {}
            pick: str | None = None
            for name, value in item.items():
                path: tuple[PathPart, ...] = ("associations", index, name)
                if name in ("label", "type_id", "category", "object") or not isinstance(value, (str, dict)):
                    resolved[name] = value
                    continue
                if isinstance(value, dict) and "random_reference" in value:
                    target_type = ASSOCIATION_TARGET_NAMES.get(name, str(item.get("object", "")))
                    chosen, pick = self._pick(gen, key, parent_key, path, value, target_type, index)
                    resolved[name] = chosen
                elif isinstance(value, str) and is_template(value):
                    try:
                        definition = self._association_definition(gen, value)
                        self._check_vars(gen, path, definition.reads_vars)
                        seed = seed_of(self.options.seed, gen.name, key, f"@{index}")
                        resolved[name] = str(Evaluator(seed, context, budget).value(definition))
                    except ValueProblem as exc:
                        self._field_problem(gen, key, path, str(exc))
                else:
                    resolved[name] = value
            out.append((resolved, pick))
        return out

    def _association_definition(self, gen: Generator, source: str) -> Definition:
        cache = self._association_definitions
        found = cache.get((gen.name, source))
        if found is None:
            found = cache[(gen.name, source)] = define(source, gen.locale)
        return found

    def _pick(
        self, gen: Generator, key: str, parent_key: str | None, path: tuple[PathPart, ...],
        spec: Mapping[str, Any], target_type: str, index: int,
    ) -> tuple[str, str]:
        source = str(spec["random_reference"])
        scope = spec.get("scope")
        extra = set(spec) - {"random_reference", "scope"}
        if extra or scope not in (None, "parent"):
            self._field_problem(gen, key, path, "random_reference: takes a generator or type, and optionally scope: parent")
        candidates: list[str] = []
        names = self._generators_for(source)
        for name in names:
            if self.generators[name].object_type != target_type:
                self._field_problem(
                    gen, key, path,
                    f"random_reference: {source!r} makes {self.generators[name].object_type}, "
                    f"not {target_type}",
                )
            by_parent = self.children.get(name, {})
            if scope == "parent":
                candidates.extend(by_parent.get(parent_key, ()))
            else:
                for keys in by_parent.values():
                    candidates.extend(keys)
        if source not in self.generators and scope != "parent":
            candidates.extend(r.key for r in self.hand.get(source, []))
        if not names and source not in self.hand:
            hint = did_you_mean(source, [*self.generators, *SECTION_OBJECT_TYPES.values()])
            self._field_problem(gen, key, path, f"random_reference: {source!r} names no generator and no records{hint}")
        if not candidates:
            what = f"{source} records of the parent {parent_key!r}" if scope == "parent" else f"{source} records"
            self._field_problem(gen, key, path, f"random_reference: there are no {what} to pick from")
        digest = digest_of(self.options.seed, gen.name, key, f"@assoc{index}", spec)
        if len(candidates) <= _RENDEZVOUS_MOST:
            # rendezvous hashing: more candidates move a pick only to a new one that outranks it
            chosen = max(sorted(candidates), key=lambda c: seed_of(digest, c))
        else:  # too many to rank for every record: one seeded draw (the pin keeps it)
            chosen = candidates[seed_of(digest) % len(candidates)]
        return chosen, VALUE_PIN + digest

    def _entry(
        self, gen: Generator, key: str, draft: dict[str, Any],
        definitions: list[tuple[str, str, Definition, tuple[PathPart, ...]]],
        pins: Mapping[str, str], times: Mapping[str, tuple[Definition, float, int]],
        futures: Mapping[str, str], when: Mapping[str, str],
        associations: list[tuple[dict[str, Any], str | None]],
    ) -> list[Any]:
        """The cacheable form of one generated record (``inputs.E_TYPE``...)."""
        props: dict[str, str] = draft["props"]
        rel: dict[str, str] = {}
        slots: dict[str, list[Any]] = {}
        by_props: dict[str, list[Any]] = {}
        field_props = field_properties(gen.section)
        time_names = list(times)
        for prop, value in props.items():
            if value.startswith("1901-"):
                instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
                index = int((instant - PLACEHOLDER_BASE) // PLACEHOLDER_STRIDE)
                offset = instant - (PLACEHOLDER_BASE + index * PLACEHOLDER_STRIDE)
                name = time_names[index]
                definition, u, slot = times[name]
                assert definition.window is not None
                window = definition.window
                slots[prop] = [window.start_day, window.end_day, window.business_hours, u, slot,
                               int(offset.total_seconds() * 1000)]
                if not (gen.section == "meetings" and prop == "hs_timestamp"):
                    rel[prop] = pin_for(pins[name], prop, offset)  # (the planner mirrors it)
        for group, name, definition, _ in definitions:
            if name not in pins or name in times:
                continue
            targets = [name] if group == "properties" else field_props.get(name, [])
            if group == "owner":
                targets = ["hubspot_owner_id"]
            for prop in targets:
                if prop in props and prop not in rel:
                    rel[prop] = pin_for(pins[name], prop, None)
                    if name in when:
                        by_props[prop] = [time_prop(gen.section, when[name]), futures.get(prop, props[prop])]
        for prop, value in futures.items():
            if prop not in by_props:
                rel.setdefault(prop, pin_for(pins.get(next(iter(when)), TIME_PIN), prop, None))
                by_props[prop] = [time_prop(gen.section, next(iter(when.values()))), value]
        for index, (_, pick) in enumerate(associations):
            if pick is not None:  # pinned by the planner once applied (planning.pins.PICK_PREFIX)
                rel[f"{PICK_PREFIX}{index}"] = pick
        draft["rel"] = {**draft["rel"], **rel}
        return [
            gen.object_type, key, gen.file, gen.line, gen.column, gen.section,
            draft["props"], draft["rel"], draft["assoc"], draft["cal"], draft["owner_email"],
            draft["owns"], draft["owned"], slots, by_props,
        ]

    # -- checks after everything is made --------------------------------------------------

    def _check_patches(self) -> None:
        for gen in self.generators.values():
            if gen.name not in self.made:
                continue
            shape = key_shape(gen.key_pattern)
            for pattern, body in gen.patches:
                # A key of the right shape may just not be made with these variables
                # (fewer accounts): only a key the pattern can never make is an error.
                if pattern not in gen.used_patches and (
                    is_glob(pattern) or not shape.fullmatch(pattern)
                ):
                    keys = [m.key for m in self.made.get(gen.name, [])]
                    hint = did_you_mean(pattern, keys) if not is_glob(pattern) else ""
                    self.issue(
                        str(body["file"]), ("patch", gen.name, pattern),
                        f"{pattern!r} matches no record of the generator {gen.name!r}{hint}",
                        at_key=True,
                    )

    def _check_references(self) -> None:
        known: dict[str, set[str]] = {t: set(keys) for t, keys in self.keys_by_type.items()}
        for (object_type, key) in self.hand_keys:
            known.setdefault(object_type, set()).add(key)
        for entry in self.result.records:
            for index, assoc in enumerate(entry[E_ASSOC]):
                to_type, to_key = assoc[0], assoc[1]
                if to_key is not None and to_key not in known.get(to_type, set()):
                    gen = next(
                        g for g in self.generators.values()
                        if (g.file, g.line, g.column) == (entry[E_FILE], entry[E_LINE], entry[E_COLUMN])
                    )
                    hint = did_you_mean(to_key, sorted(known.get(to_type, set())))
                    self.gen_issue(
                        gen, ("associations", assoc[6][-1] if isinstance(assoc[6], list) else index),
                        f"{entry[E_TYPE]}/{entry[E_KEY]}: no {to_type} record has the key {to_key!r}{hint}",
                    )
                    return


def _full(gen: Generator, path: tuple[PathPart, ...]) -> tuple[PathPart, ...]:
    if path and path[0] == "@patch":
        return ("patch", gen.name, *path[2:])
    return ("generate", gen.name, *path)


def _patch_cache(
    expander: _Expander, gen: Generator, pattern: str, body: Mapping[str, Any]
) -> list[tuple[str, str, Definition, tuple[PathPart, ...]]]:
    cache = expander.patch_definitions
    found = cache.get((gen.name, pattern))
    if found is None:
        raw: list[tuple[str, str, Any]] = []
        allowed = friendly_fields(gen.section)
        file = str(body["file"])
        for name, value in (body.get("fields") or {}).items():
            if name not in allowed:
                expander.issue(file, ("patch", gen.name, pattern, "fields", name),
                               f"unknown field {name!r}{did_you_mean(name, allowed)}", at_key=True)
                raise _Stop
            raw.append(("fields", name, value))
        for name, value in (body.get("properties") or {}).items():
            raw.append(("properties", name, value))
        if "owner" in body:
            raw.append(("owner", "owner", body["owner"]))
        found = []
        for group, name, value in raw:
            path: tuple[PathPart, ...] = ("@patch", file, pattern, group, name) if group != "owner" else ("@patch", file, pattern, "owner")
            try:
                definition = define(value, gen.locale)
            except ValueProblem as exc:
                expander.issue(file, ("patch", gen.name, *path[2:]), str(exc))
                raise _Stop from None
            found.append((group, name, definition, path))
        cache[(gen.name, pattern)] = found
    return list(found)


def _generator_path(
    definitions: list[tuple[str, str, Definition, tuple[PathPart, ...]]],
    tail: tuple[PathPart, ...],
) -> tuple[PathPart, ...]:
    """A builder/schema problem at ``tail`` (inside the record body) → the generator's path."""
    if not tail:
        return ()
    head = tail[0]
    if head == "properties" and len(tail) > 1:
        lookup = ("properties", tail[1])
    elif head == "associations":
        return tail[:2]
    elif head == "owner":
        lookup = ("owner", "owner")
    else:
        lookup = ("fields", head)
    for group, name, _, path in definitions:
        if (group, name) == lookup:
            return path
    return ("fields", str(head)) if head not in ("properties",) else tuple(tail[:2])


