"""One generated record: its values drawn (each field from its own seeded generator),
pinned (a digest of each definition, so the planner keeps the value applied at creation
until that definition changes), built exactly as hand-written records are, checked
against the schema (one call for all of a generator's records when all is well), and
turned into its cacheable entry (``inputs.E_TYPE``...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler.generate.association_items import resolve_associations
from reconciler.generate.context import Context, Definitions, Made
from reconciler.generate.evaluation import Evaluator
from reconciler.generate.grammar import Generator
from reconciler.generate.inputs import PICK_PREFIX, TIME_PIN, VALUE_PIN
from reconciler.generate.picks import NO_PICKS, generator_picks, links, make_picks, pick_reads
from reconciler.generate.relations import offers_hand_written, parent_type
from reconciler.generate.shapes import (
    PLACEHOLDER_BASE,
    PLACEHOLDER_STRIDE,
    digest_of,
    field_properties,
    pin_for,
    placeholder,
    time_prop,
)
from reconciler.generate.stories import scheduled
from reconciler.generate.templates import Budget
from reconciler.generate.values import OMITTED, Definition, ValueProblem, seed_of, time_pick
from reconciler.loading.issues import PathPart, did_you_mean

_TIME_KINDS = ("time", "by_time")


def make_record(
    ctx: Context, gen: Generator, key: str, n: int, parent_key: str | None,
    parent_context: dict[str, Any], parent_digests: dict[str, str],
    parent_pinned: frozenset[str],
    definitions: Definitions,
) -> tuple[Made, list[Any]]:
    """The record ``n`` of ``gen`` (under ``parent_key``): what its children see of it, and
    its cacheable entry."""
    seed = ctx.options.seed
    values: dict[str, Any] = {}  # name → value as templates see it
    digests: dict[str, str] = {}
    kinds: dict[str, str] = {}
    body: dict[str, Any] = {}
    future: dict[str, Any] = {}  # by_time fields: their future value
    when: dict[str, str] = {}  # by_time field → its time field
    times: dict[str, tuple[Definition, float, int]] = {}
    pins: dict[str, str] = {}  # field name → pin prefix + digest
    if id(definitions) not in ctx.checked:
        _check_definitions(ctx, gen, key, parent_key, definitions)
    context = {
        "n": n, "key": key, "parent": parent_context, "fields": values,
        "vars": ctx.options.variables, "locale": gen.locale,
    }
    story = gen.step.context(ctx, parent_key, n) if gen.step is not None else None
    if story is not None:  # a story's step: story.outcome, step.n... (``stories``)
        context.update(story)
    budget = Budget()  # one record's CPU time, for all its values
    parent_ref = None if parent_key is None else (parent_type(ctx, gen.name) or "", parent_key)
    picked = make_picks(ctx, gen, key, parent_ref, context, budget, definitions)
    if picked is not NO_PICKS:
        context["pick"] = picked.views
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
                f"v.{v}={json.dumps(ctx.options.variables.get(v))}"
                for v in sorted(definition.reads_vars)
            )
        if story is not None and definition.template is not None and (
            "story" in definition.template.names or "step" in definition.template.names
        ):
            reads.append(json.dumps(story, sort_keys=True))
        through_pick = False
        if definition.reads_picks:
            read, through_pick = pick_reads(ctx, definition, picked)
            reads.extend(read)
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
                if definition.pinned or through_pick or not pinned_reads.isdisjoint(pins) or (
                    not definition.reads_parent.isdisjoint(parent_pinned)
                ):
                    pins[name] = VALUE_PIN + digest
        except ValueProblem as exc:
            ctx.field_problem(gen, key, path, str(exc))
        if value is OMITTED:  # a copy through an optional pick that found no one
            pins.pop(name, None)
            continue
        values[name] = value
        if group == "fields":
            body[name] = value
        elif group == "properties":
            body.setdefault("properties", {})[name] = value
        else:
            body["owner"] = value
    associations = resolve_associations(ctx, gen, key, parent_ref, context, budget, picked)
    if associations:
        body["associations"] = [item for item, _ in associations]
    draft, problems = _build(ctx, gen, key, body)
    ctx.bodies.append((key, body, definitions))
    if problems:
        for path_tail, message in problems[:1]:
            ctx.field_problem(gen, key, _generator_path(definitions, path_tail), message)
    futures: dict[str, str] = {}
    if future:
        future_body = dict(body)
        future_body["properties"] = dict(body.get("properties", {}))
        for name, value in future.items():
            if name in future_body.get("properties", {}):
                future_body["properties"][name] = value
            else:
                future_body[name] = value
        future_draft, problems = _build(ctx, gen, key, future_body)
        ctx.bodies.append((key, future_body, definitions))
        if problems:
            path_tail, message = problems[0]
            ctx.field_problem(gen, key, _generator_path(definitions, path_tail), message)
        futures = {
            p: v for p, v in future_draft["props"].items() if draft["props"].get(p) != v
        }
    entry = _entry(
        ctx, gen, key, draft, definitions, pins, times, futures, when, associations, n,
        parent_key,
    )
    parent_view = dict(values)
    for name in list(parent_view):
        if kinds.get(name) in _TIME_KINDS:
            parent_view.pop(name)  # resolved at each run: not for templates
    parent_view.update(key=key, n=n, parent=parent_key)
    made = Made(key, n, parent_key, parent_view, digests, frozenset(pins), parent_ref,
                links(associations))
    return made, entry


def _check_definitions(
    ctx: Context, gen: Generator, key: str, parent_key: str | None,
    definitions: Definitions,
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
                ctx.field_problem(gen, key, path, message)
            if kinds[read] in _TIME_KINDS and definition.kind != "by_time":
                ctx.field_problem(
                    gen, key, path,
                    f"fields.{read} is a generated time, resolved at each run; choose a value "
                    "by it with by_time: {field: ..., past: ..., future: ...}",
                )
        if definition.kind == "by_time" and kinds.get(definition.time_field) != "time":
            ctx.field_problem(
                gen, key, path,
                f"by_time: field: {definition.time_field!r} must name a datetime_between "
                "field written above this one",
            )
        ctx.check_vars(gen, path, definition.reads_vars)
        if definition.reads_parent and parent_key is None:
            ctx.field_problem(gen, key, path, "parent is only known with for_each:")
        for pick, read in sorted(definition.reads_picks):
            problem = _pick_read_problem(ctx, gen, pick, read)
            if problem:
                ctx.field_problem(gen, key, path, problem)
        kinds[name] = definition.kind
    ctx.checked[id(definitions)] = definitions  # (kept, so the id stays its own)


def _pick_read_problem(ctx: Context, gen: Generator, pick: str, read: str) -> str | None:
    """What is wrong with reading ``pick.<pick>.<read>`` here, if anything."""
    specs = {s.name: s for s in generator_picks(ctx, gen)}
    if pick == "*":
        return None
    spec = specs.get(pick)
    if spec is None:
        hint = did_you_mean(pick, specs) or (
            f"; picks: {', '.join(specs)}" if specs else "; name picks under picks: first"
        )
        return f"pick.{pick} is not a pick of this generator{hint}"
    sources = ctx.generators_for(spec.source) if spec.source else []
    if not read or read == "*" or not sources or (
        offers_hand_written(ctx, spec.source) and ctx.hand.get(spec.source)
    ):
        return None  # (hand-written records: their fields are known only as they are read)
    names: set[str] = {"key", "n", "parent"}
    for source in sources:
        for field_name, kind in ctx.kinds.get(source, {}).items():
            if kind in _TIME_KINDS and field_name == read:
                return (f"pick.{pick}.{read} is a generated time, resolved at each run; it "
                        "cannot be read through a pick")
            names.add(field_name)
    if read not in names:
        return (f"pick.{pick}.{read}: {spec.source} records have no field {read!r}"
                + did_you_mean(read, sorted(names)))
    return None


def _build(
    ctx: Context, gen: Generator, key: str, body: dict[str, Any], *, check_schema: bool = False,
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
    builder = FileBuilder(gen.file, ctx.options.timezone)
    draft = builder.record(gen.object_type, gen.section, path, body)
    for issue in builder.issues:
        problems.append((issue.path[len(path):], issue.message))
    return draft, problems


def check_bodies(ctx: Context, gen: Generator) -> None:
    """The schema, over every record the generator made: one call when all is well,
    else the first record that breaks it, reported at the field that made the value."""
    from reconciler.loading import schema as schemas

    bodies = ctx.bodies
    ctx.bodies = []
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
        _, problems = _build(ctx, gen, key, body, check_schema=True)
        if problems:
            path_tail, message = problems[0]
            ctx.field_problem(gen, key, _generator_path(definitions, path_tail), message)


def _entry(
    ctx: Context, gen: Generator, key: str, draft: dict[str, Any],
    definitions: Definitions,
    pins: Mapping[str, str], times: Mapping[str, tuple[Definition, float, int]],
    futures: Mapping[str, str], when: Mapping[str, str],
    associations: list[tuple[dict[str, Any], str | None]], n: int, parent_key: str | None,
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
    for group, name, _definition, _ in definitions:
        if name not in pins or name in times:
            continue
        targets = [name] if group == "properties" else field_props.get(name, [])
        if group == "owner":
            targets = ["hubspot_owner_id"]
        for prop in targets:
            if prop in props and prop not in rel:
                rel[prop] = pin_for(pins[name], prop, None)
                if name in when:
                    by_props[prop] = [
                        time_prop(gen.section, when[name]), futures.get(prop, props[prop])
                    ]
    for prop, value in futures.items():
        if prop not in by_props:
            rel.setdefault(prop, pin_for(pins.get(next(iter(when)), TIME_PIN), prop, None))
            by_props[prop] = [time_prop(gen.section, next(iter(when.values()))), value]
    for index, (_, pick) in enumerate(associations):
        if pick is not None:  # pinned by the planner once applied (planning.pins.PICK_PREFIX)
            rel[f"{PICK_PREFIX}{index}"] = pick
    draft["rel"] = {**draft["rel"], **rel}
    schedule = scheduled(ctx, gen, key, draft, slots, by_props, n, parent_key)
    return [
        gen.object_type, key, gen.file, gen.line, gen.column, gen.section,
        draft["props"], draft["rel"], draft["assoc"], draft["cal"], draft["owner_email"],
        draft["owns"], draft["owned"], slots, by_props, schedule, None,
    ]


def _generator_path(
    definitions: Definitions,
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
