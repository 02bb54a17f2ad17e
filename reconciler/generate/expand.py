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

Modules: ``context`` (what an expansion knows while it runs, its problems), ``ordering``
(which generators first, counts and the ceiling), ``drafts`` (one record: values, pins,
draft, entry), ``picks`` (associations and random picks); this one runs them.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.generate.context import Context, Definitions, Expansion, Made, Stop
from reconciler.generate.drafts import check_bodies, make_record
from reconciler.generate.grammar import Generator, read_generators
from reconciler.generate.inputs import (
    E_ASSOC,
    E_COLUMN,
    E_FILE,
    E_KEY,
    E_LINE,
    E_TYPE,
    FileSections,
    HandRecord,
    Options,
)
from reconciler.generate.ordering import expansion_order, record_count, sources, within_limit
from reconciler.generate.shapes import (
    digest_of,
    friendly_fields,
    hand_path,
    is_glob,
    key_problem,
    key_shape,
    make_key,
)
from reconciler.generate.stories import add_story_steps, attach_stories
from reconciler.generate.values import ValueProblem, define
from reconciler.generate.views import hand_view
from reconciler.loading.issues import PathPart, did_you_mean
from reconciler.model import SECTION_OBJECT_TYPES


def expand(
    sections: Iterable[FileSections], existing: Iterable[HandRecord], options: Options
) -> Expansion:
    return _run(Context(list(sections), list(existing), options))


def _run(ctx: Context) -> Expansion:
    ctx.generators = read_generators(ctx.sections, ctx.result.issues)
    add_story_steps(ctx)
    order = expansion_order(ctx)
    if order is None or not within_limit(ctx, order):
        return ctx.result
    for name in order:
        gen = ctx.generators[name]
        if name in ctx.broken or ctx.broken.intersection(sources(ctx, gen)):
            ctx.broken.add(name)  # its problem is reported where it starts
            continue
        try:
            _expand_generator(ctx, gen)
        except Stop:
            ctx.broken.add(name)
    _check_patches(ctx)
    if not ctx.result.issues:
        _check_references(ctx)
        attach_stories(ctx)
    return ctx.result


def _expand_generator(ctx: Context, gen: Generator) -> None:
    definitions = _definitions(ctx, gen, gen.fields)
    ctx.kinds[gen.name] = {name: d.kind for _, name, d, _ in definitions}
    ctx.shapes[gen.name] = _shapes(ctx, gen, definitions)
    parents: list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]]
    if gen.for_each is None:
        parents = [(None, {}, {}, frozenset())]
    else:
        parents = _parents(ctx, gen)
    made: list[Made] = []
    seen: dict[str, str] = {}
    by_type = ctx.keys_by_type.setdefault(gen.object_type, {})
    records: list[list[Any]] = []
    ctx.bodies = []
    for parent_key, parent_context, parent_digests, parent_pinned in parents:
        count = record_count(ctx, gen, parent_key)
        for n in range(1, count + 1):
            key = make_key(gen.key_pattern, n, parent_key)
            problem = key_problem(key)
            if problem:
                ctx.gen_issue(
                    gen, ("key",), f"{gen.key_pattern!r} gives {key!r} (n={n}): {problem}"
                )
                raise Stop
            clash = seen.get(key) or by_type.get(key)
            if clash is not None:
                other = "" if clash == gen.name else f" (generator {clash!r} makes it too)"
                ctx.gen_issue(
                    gen, ("key",),
                    f"{gen.key_pattern!r} gives the key {key!r} twice{other}; put {{n}} "
                    + ("and {parent} " if gen.for_each else "") + "in the key pattern",
                )
                raise Stop
            hand = ctx.hand_keys.get((gen.object_type, key))
            if hand is not None:
                ctx.issue(
                    hand.where.rsplit(":", 2)[0],
                    hand_path(gen.object_type, key),
                    f"{gen.object_type}/{key} is also made by the generator {gen.name!r} at "
                    f"{gen.file}:{gen.line}:{gen.column}; rename this record, or change the "
                    f"generated one with patch: {{{gen.name}: {{{key}: ...}}}}",
                    at_key=True,
                )
                raise Stop
            seen[key] = gen.name
            record_defs = _patched(ctx, gen, key, definitions)
            made_record, entry = make_record(
                ctx,
                gen, key, n, parent_key, parent_context, parent_digests, parent_pinned,
                record_defs,
            )
            made.append(made_record)
            ctx.made_by_ref[(gen.object_type, key)] = made_record
            records.append(entry)
    check_bodies(ctx, gen)
    for key in seen:
        by_type[key] = gen.name
    ctx.made[gen.name] = made
    children: dict[str | None, list[str]] = {}
    for record in made:
        children.setdefault(record.parent, []).append(record.key)
    ctx.children[gen.name] = children
    ctx.result.records.extend(records)


def _parents(
    ctx: Context, gen: Generator
) -> list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]]:
    assert gen.for_each is not None
    found: list[tuple[str | None, dict[str, Any], dict[str, str], frozenset[str]]] = []
    if gen.for_each in ctx.generators:
        for made in ctx.made.get(gen.for_each, []):
            found.append((made.key, made.context, made.digests, made.pinned))
    else:
        for name in ctx.generators_for(gen.for_each, but=gen.name):
            for made in ctx.made.get(name, []):
                found.append((made.key, made.context, made.digests, made.pinned))
        for index, hand in enumerate(sorted(ctx.hand.get(gen.for_each, []), key=lambda r: r.key)):
            context = {"key": hand.key, "n": index + 1, "properties": dict(hand.properties)}
            digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode()).hexdigest()[:12]
            # (the digest of what a parent showed before friendly fields and its owner did:
            # the same, so a project's values keep their pins)
            section = gen.for_each if gen.for_each in SECTION_OBJECT_TYPES else "objects"
            view = hand_view(hand, section, index + 1)
            found.append((hand.key, view, {"*": digest}, frozenset()))
        found.sort(key=lambda p: p[0] or "")
    exists = gen.for_each in ctx.generators or ctx.generators_for(gen.for_each, but=gen.name)
    if not found and not exists:
        known = sorted(ctx.generators)
        hint = did_you_mean(gen.for_each, [*known, *SECTION_OBJECT_TYPES.values()])
        ctx.gen_issue(
            gen, ("for_each",),
            f"for_each: {gen.for_each!r} names no generator and no records of that type"
            f"{hint}; name a generator, or an object type with records in the project",
        )
        raise Stop
    return found


def _shapes(ctx: Context, gen: Generator, definitions: Definitions) -> dict[str, str]:
    """How each field of the generator is made, the same digest for every record: its
    definition (and its patches'), and the shapes of what it reads. A value read through a
    random pick is pinned by these, never by which record was picked."""
    from reconciler.generate.picks import group_digest

    patched: dict[str, list[Any]] = {}
    for pattern, body in sorted(gen.patches, key=lambda p: p[0]):
        for group in ("fields", "properties"):
            for name, raw in (body.get(group) or {}).items():
                patched.setdefault(name, []).append([pattern, raw])
        if "owner" in body:
            patched.setdefault("owner", []).append([pattern, body["owner"]])
    parent = ctx.shapes.get(gen.for_each or "", {})
    shapes: dict[str, str] = {}
    for _, name, definition, _ in definitions:
        shapes[name] = digest_of(
            gen.name, name, definition.fingerprint, patched.get(name, []),
            [shapes.get(r, "") for r in sorted(definition.reads_fields)],
            [parent.get(r, "hand") for r in sorted(definition.reads_parent)],
            [ctx.options.variables.get(v) for v in sorted(definition.reads_vars)],
            group_digest(ctx, gen, definitions) if definition.reads_picks else "",
        )
    return shapes


def _definitions(
    ctx: Context, gen: Generator, raw_fields: list[tuple[str, str, Any]]
) -> Definitions:
    """The generator's field definitions, checked (every problem reported)."""
    out: Definitions = []
    failed = False
    for group, name, raw in raw_fields:
        path: tuple[PathPart, ...] = (group, name) if group != "owner" else ("owner",)
        try:
            definition = define(raw, gen.locale)
        except ValueProblem as exc:
            ctx.issue(gen.file, _full(gen, path), str(exc))
            failed = True
            continue
        out.append((group, name, definition, path))
    if failed:
        raise Stop
    return out


def _patched(
    ctx: Context, gen: Generator, key: str,
    definitions: Definitions,
) -> Definitions:
    if not gen.patches:
        return definitions
    result = list(definitions)
    for pattern, body in sorted(gen.patches, key=lambda p: (is_glob(p[0]) is False, p[0])):
        if not fnmatch.fnmatchcase(key, pattern):
            continue
        gen.used_patches.add(pattern)
        compiled = _patch_cache(ctx, gen, pattern, body)
        for group, name, definition, path in compiled:
            for index, (g, n, _, _) in enumerate(result):
                if (g, n) == (group, name):
                    result[index] = (group, name, definition, path)
                    break
            else:
                result.append((group, name, definition, path))
    return result


def _check_patches(ctx: Context) -> None:
    for gen in ctx.generators.values():
        if gen.name not in ctx.made:
            continue
        shape = key_shape(gen.key_pattern)
        for pattern, body in gen.patches:
            # A key of the right shape may just not be made with these variables
            # (fewer accounts): only a key the pattern can never make is an error.
            if pattern not in gen.used_patches and (
                is_glob(pattern) or not shape.fullmatch(pattern)
            ):
                keys = [m.key for m in ctx.made.get(gen.name, [])]
                hint = did_you_mean(pattern, keys) if not is_glob(pattern) else ""
                ctx.issue(
                    str(body["file"]), ("patch", gen.name, pattern),
                    f"{pattern!r} matches no record of the generator {gen.name!r}{hint}",
                    at_key=True,
                )


def _check_references(ctx: Context) -> None:
    known: dict[str, set[str]] = {t: set(keys) for t, keys in ctx.keys_by_type.items()}
    for (object_type, key) in ctx.hand_keys:
        known.setdefault(object_type, set()).add(key)
    for entry in ctx.result.records:
        for index, assoc in enumerate(entry[E_ASSOC]):
            to_type, to_key = assoc[0], assoc[1]
            if to_key is not None and to_key not in known.get(to_type, set()):
                gen = next(
                    g for g in ctx.generators.values()
                    if (g.file, g.line, g.column) == (entry[E_FILE], entry[E_LINE], entry[E_COLUMN])
                )
                hint = did_you_mean(to_key, sorted(known.get(to_type, set())))
                ctx.gen_issue(
                    gen, ("associations", assoc[6][-1] if isinstance(assoc[6], list) else index),
                    f"{entry[E_TYPE]}/{entry[E_KEY]}: no {to_type} record has the key "
                    f"{to_key!r}{hint}",
                )
                return


def _full(gen: Generator, path: tuple[PathPart, ...]) -> tuple[PathPart, ...]:
    if path and path[0] == "@patch":
        return ("patch", gen.name, *path[2:])
    return (*gen.path, *path)


def _patch_cache(
    ctx: Context, gen: Generator, pattern: str, body: Mapping[str, Any]
) -> Definitions:
    cache = ctx.patch_definitions
    found = cache.get((gen.name, pattern))
    if found is None:
        raw: list[tuple[str, str, Any]] = []
        allowed = friendly_fields(gen.section)
        file = str(body["file"])
        for name, value in (body.get("fields") or {}).items():
            if name not in allowed:
                ctx.issue(file, ("patch", gen.name, pattern, "fields", name),
                               f"unknown field {name!r}{did_you_mean(name, allowed)}", at_key=True)
                raise Stop
            raw.append(("fields", name, value))
        for name, value in (body.get("properties") or {}).items():
            raw.append(("properties", name, value))
        if "owner" in body:
            raw.append(("owner", "owner", body["owner"]))
        found = []
        for group, name, value in raw:
            path: tuple[PathPart, ...] = (
                ("@patch", file, pattern, group, name) if group != "owner"
                else ("@patch", file, pattern, "owner")
            )
            try:
                definition = define(value, gen.locale)
            except ValueProblem as exc:
                ctx.issue(file, ("patch", gen.name, *path[2:]), str(exc))
                raise Stop from None
            found.append((group, name, definition, path))
        cache[(gen.name, pattern)] = found
    return list(found)
