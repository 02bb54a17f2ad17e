"""Picks: records a generated record names, reads and is associated with.

A generator's ``picks:`` are made in order, before its fields, for every record:

- ``{random_reference: contacts, scope: parent.parent, via: both, optional: 40%}``: one of
  the source's records (a generator, or a type: its generators and hand-written records),
  within the scope (``relations``), chosen by rendezvous hashing;
- ``{reference: parent.parent}``: *the* record at a path (no chance involved).

Templates read a pick's fields (``pick.contact.first_name``), ``copy:`` copies them, and an
association item names it (``contact: {pick: contact}``). An optional pick is present when
``u < P`` (``u`` from the record's own stream, so raising P only adds picks) and when its
scope holds a candidate; otherwise it is empty (``views.EmptyPick``) and the associations
naming it are left out. A required pick with nothing to pick from is a located error.

Pins (the subtle part): the planner keeps an applied random pick while its expression is
unchanged, even when a new candidate would win now. The values read through random picks
must stay with the applied pick, so their expressions never depend on *which* record was
picked: they carry the generator's pick group digest (``group_digest``: every pick's
definition, every field that reads one, with how the fields it reads are made, and the
association items naming picks) and whether the pick is present. Editing any of those
makes the whole group again, from the pick made now: the association and every value read
through it move together, and records whose pick did not drift get the values they had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.generate.context import Context, Definitions, Stop
from reconciler.generate.grammar import Generator
from reconciler.generate.relations import (
    VIA,
    Pool,
    Ref,
    exists,
    links_of,
    offers_hand_written,
    pool,
)
from reconciler.generate.shapes import digest_of
from reconciler.generate.templates import Budget, TemplateProblem, compile_template, is_template
from reconciler.generate.values import Definition, seed_of
from reconciler.generate.views import EmptyPick, hand_view
from reconciler.loading.issues import PathPart, did_you_mean
from reconciler.model import SECTION_OBJECT_TYPES

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^parent(\.parent)*$|^pick\.[A-Za-z_][A-Za-z0-9_]*$")
_SCOPE_HINT = (
    "scope: is parent, parent.parent, pick.<name> or {type: companies, key: \"...\"}"
)


@dataclass(frozen=True)
class PickSpec:
    """One pick, checked: a named one, or an association item's ``random_reference``."""

    name: str
    random: bool  # chosen by chance, or through a pick that was
    source: str  # random: the generator or type picked from
    target_type: str  # the type of what is picked ("" while unknown)
    scope: tuple[str, ...] | None  # a path: ("parent", "parent"), ("pick", "x")...
    scope_type: str  # {type: T, key: ...}: T
    key_template: str  # {type: T, key: ...}: the key
    via: str
    probability: float | None  # optional: 0..1; None: required
    digest: str  # of the definition, without optional:
    path: tuple[PathPart, ...]  # where it is written, under generate.<name>
    written: str  # the scope as written, for messages


@dataclass
class Picked:
    """One record's picks: what templates see, and what was picked."""

    views: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Ref | None] = field(default_factory=dict)
    specs: Mapping[str, PickSpec] = field(default_factory=dict)
    group: str = ""


NO_PICKS = Picked()


def generator_picks(ctx: Context, gen: Generator) -> list[PickSpec]:
    """The generator's named picks, checked once (a problem: reported, then ``Stop``)."""
    found = ctx.pick_specs.get(gen.name)
    if found is None:
        found = []
        names: dict[str, PickSpec] = {}
        for name, raw in gen.picks:
            where: tuple[PathPart, ...] = ("picks", name)
            if not _NAME.match(name):
                ctx.gen_issue(gen, where, f"{name!r} is not a pick name; use letters, digits "
                              "and _", at_key=True)
                raise Stop
            spec = check_pick(ctx, gen, name, raw, where, names)
            names[name] = spec
            found.append(spec)
        ctx.pick_specs[gen.name] = found
    return found


def check_pick(
    ctx: Context, gen: Generator, name: str, raw: Any, where: tuple[PathPart, ...],
    earlier: Mapping[str, PickSpec], *, target_type: str = "",
) -> PickSpec:
    """One pick as written, checked against what the project has."""

    def problem(message: str) -> Stop:
        ctx.gen_issue(gen, where, message)
        return Stop()

    kinds = [k for k in ("random_reference", "reference") if isinstance(raw, dict) and k in raw]
    if len(kinds) != 1:
        raise problem(
            "a pick is {random_reference: <generator or type>, scope: ..., optional: 40%} "
            "or {reference: parent.parent}"
        )
    kind = kinds[0]
    allowed = {"random_reference", "scope", "via", "optional"} if kind == "random_reference" \
        else {"reference", "optional"}
    extra = sorted(map(str, set(raw) - allowed))
    if extra:
        takes = ", ".join(sorted(allowed))
        raise problem(f"{kind}: unexpected {', '.join(extra)}; it takes {takes}")
    probability = _probability(raw.get("optional"))
    if probability == -1.0:
        raise problem("optional: is true, or how often the pick is made, like 40%")
    via = str(raw.get("via", "both"))
    if via not in VIA:
        raise problem(f"via: is {', '.join(VIA)}{did_you_mean(via, VIA)}")
    written = raw.get("scope") if kind == "random_reference" else raw.get("reference")
    scope, scope_type, key_template = _scope(written)
    if kind == "reference" and scope is None:
        raise problem(f"reference: names a record: {_SCOPE_HINT[7:]}")
    if written is not None and scope is None:
        raise problem(_SCOPE_HINT)
    derived = False
    if scope and scope[0] == "pick":
        before = earlier.get(scope[1])
        if before is None:
            hint = did_you_mean(scope[1], earlier) or "; picks are made in the order written"
            raise problem(f"{'.'.join(scope)}: no pick {scope[1]!r} above this one{hint}")
        derived = before.random
    elif scope and gen.for_each is None:
        raise problem(f"{'.'.join(scope)}: parent is only known with for_each:")
    elif scope and scope[0] == "parent" and len(scope) > _parent_levels(ctx, gen):
        # an optional pick would be empty on every record, without a word
        raise problem(f"{'.'.join(scope)}: {gen.name} records have only "
                      f"{'.'.join(scope[:_parent_levels(ctx, gen)])} (for_each:)")
    if scope_type:
        known = {*SECTION_OBJECT_TYPES.values(), *ctx.hand,
                 *(g.object_type for g in ctx.generators.values())}
        if scope_type not in known:
            raise problem(f"scope: {scope_type!r} is not an object type of this project"
                          + did_you_mean(scope_type, sorted(known)))
    source = ""
    if kind == "random_reference":
        source = str(raw["random_reference"])
        names = ctx.generators_for(source)
        if not names and source not in ctx.hand:
            hint = did_you_mean(source, [*ctx.generators, *SECTION_OBJECT_TYPES.values()])
            raise problem(f"random_reference: {source!r} names no generator and no records{hint}")
        made = {ctx.generators[n].object_type for n in names} or {source}
        if target_type and made != {target_type}:
            raise problem(
                f"random_reference: {source!r} makes {', '.join(sorted(made))}, not {target_type}"
            )
        target_type = made.pop() if len(made) == 1 else ""
    else:
        target_type = _reference_type(ctx, gen, scope, scope_type, earlier) if scope else ""
    definition = {k: v for k, v in raw.items() if k != "optional"}  # raising P only adds
    return PickSpec(
        name=name, random=kind == "random_reference" or derived, source=source,
        target_type=target_type, scope=scope, scope_type=scope_type, key_template=key_template,
        via=via, probability=probability, digest=digest_of(definition), path=where,
        written=_written(written),
    )


def _parent_levels(ctx: Context, gen: Generator) -> int:
    """How many ``parent.`` steps a record of ``gen`` has for certain (more when unknown:
    a ``for_each`` of a type several generators make)."""
    levels, name = 0, gen.name
    while levels < 100 and name in ctx.generators:
        parent = ctx.generators[name].for_each
        if parent is None:
            return levels
        levels += 1
        if parent not in ctx.generators and ctx.generators_for(parent):
            return 100
        name = parent
    return levels


def _probability(value: Any) -> float | None:
    """``optional:`` as a probability; None when required; -1 when not understood."""
    if value is None or value is False:
        return None
    if value is True:
        return 1.0
    text = str(value).strip()
    try:
        number = float(text[:-1]) if text.endswith("%") else float(text)
    except ValueError:
        return -1.0
    if not 0 <= number <= 100:
        return -1.0
    return number / 100


def _scope(written: Any) -> tuple[tuple[str, ...] | None, str, str]:
    if written is None:
        return None, "", ""
    if isinstance(written, str) and _PATH.match(written.strip()):
        return tuple(written.strip().split(".")), "", ""
    if isinstance(written, dict) and set(written) == {"type", "key"}:
        return ("@record",), str(written["type"]), str(written["key"])
    return None, "", ""


def _written(written: Any) -> str:
    if isinstance(written, dict):
        return f"{{type: {written.get('type')}, key: {written.get('key')}}}"
    return str(written)


def _reference_type(
    ctx: Context, gen: Generator, scope: tuple[str, ...], scope_type: str,
    earlier: Mapping[str, PickSpec],
) -> str:
    """The type of the record a path names, when it can be told before any is made."""
    from reconciler.generate.relations import parent_type

    if scope[0] == "@record":
        return scope_type
    if scope[0] == "pick":
        return earlier[scope[1]].target_type
    name: str | None = gen.name
    found = ""
    for _ in scope:
        if name is None or name not in ctx.generators:
            return found if len(scope) == 1 else ""
        found = parent_type(ctx, name) or ""
        parent = ctx.generators[name].for_each
        name = parent if parent in ctx.generators else None
    return found


def make_picks(
    ctx: Context, gen: Generator, key: str, parent_ref: Ref | None,
    context: Mapping[str, Any], budget: Budget, definitions: Definitions,
) -> Picked:
    """The record's named picks, in order."""
    specs = generator_picks(ctx, gen)
    if not specs:
        return NO_PICKS
    picked = Picked(specs={s.name: s for s in specs}, group=group_digest(ctx, gen, definitions))
    scoped = {**context, "pick": picked.views}
    for spec in specs:
        # two random picks of one record are two records, while the scope has them
        taken = frozenset(r[1] for r in picked.refs.values() if r and r[0] == spec.target_type)
        ref, reason = pick_one(ctx, gen, key, parent_ref, spec, picked.refs, scoped, budget,
                               digest_of(ctx.options.seed, gen.name, key, "@pick", spec.name,
                                         spec.digest), taken)
        picked.refs[spec.name] = ref
        picked.views[spec.name] = view_of(ctx, ref) if ref else EmptyPick(spec.name, reason)
    return picked


def pick_one(
    ctx: Context, gen: Generator, key: str, parent_ref: Ref | None, spec: PickSpec,
    refs: Mapping[str, Ref | None], context: Mapping[str, Any], budget: Budget, digest: str,
    taken: frozenset[str] = frozenset(),
) -> tuple[Ref | None, str]:
    """What ``spec`` picks for this record, or None and why (only when it is optional:
    a required pick with nothing to pick is a located problem). A random pick leaves out
    the keys ``taken`` by the record's earlier picks; a required one takes one of them
    again when the scope has no other."""
    if spec.probability is not None and spec.probability < 1.0:
        chance = seed_of(ctx.options.seed, gen.name, key, f"@pick:{spec.name}:present") / 2**64
        if chance >= spec.probability:
            return None, f"optional: {spec.probability * 100:g}%"
    scope_ref: Ref | None = None
    if spec.scope is not None:
        scope_ref, reason = _follow(ctx, gen, key, parent_ref, spec, refs, context, budget)
        if scope_ref is None:
            return _empty(ctx, gen, key, spec, reason)
    if not spec.source:  # a reference: the record at the path
        return scope_ref, ""
    candidates: Pool = pool(ctx, spec.source, scope_ref, spec.via)
    if not candidates.keys:
        target = spec.target_type or spec.source
        reason = (
            f"no {target} related to {scope_ref[0]}/{scope_ref[1]} (scope: {spec.written})"
            if scope_ref is not None else f"there are no {spec.source} records"
        )
        return _empty(ctx, gen, key, spec, reason)
    target_type = spec.target_type or _type_of(ctx, spec.source)
    chosen = candidates.choose(digest, taken) if taken else None
    if chosen is None and taken and spec.probability is not None:
        return None, f"no {target_type} left in the scope besides the ones picked above"
    return (target_type, chosen or str(candidates.choose(digest))), ""


def _empty(
    ctx: Context, gen: Generator, key: str, spec: PickSpec, reason: str
) -> tuple[None, str]:
    if spec.probability is None:
        what = "random_reference" if spec.source else "reference"
        ctx.field_problem(gen, key, spec.path, f"{what}: {reason} to pick from"
                          if spec.source else f"{what}: {reason}")
    return None, reason


def _type_of(ctx: Context, source: str) -> str:
    names = ctx.generators_for(source)
    return ctx.generators[names[0]].object_type if names else source


def _follow(
    ctx: Context, gen: Generator, key: str, parent_ref: Ref | None, spec: PickSpec,
    refs: Mapping[str, Ref | None], context: Mapping[str, Any], budget: Budget,
) -> tuple[Ref | None, str]:
    """The record a scope (or reference) path names for this record, or None and why."""
    assert spec.scope is not None
    head = spec.scope[0]
    if head == "pick":
        ref = refs.get(spec.scope[1])
        return (ref, "") if ref else (None, f"pick.{spec.scope[1]} is empty")
    if head == "@record":
        try:
            found = compile_template(spec.key_template).render(context, budget) \
                if is_template(spec.key_template) else spec.key_template
        except TemplateProblem as exc:
            ctx.field_problem(gen, key, spec.path, str(exc))
        ref = (spec.scope_type, found)
        if not exists(ctx, ref):
            return None, f"no {ref[0]} record has the key {found!r}"
        return ref, ""
    ref = parent_ref
    for depth in range(1, len(spec.scope)):
        made = ctx.made_by_ref.get(ref) if ref else None
        if made is None or made.parent_ref is None:
            where = f"{ref[0]}/{ref[1]}" if ref else "the parent"
            return None, f"{'.'.join(spec.scope[:depth + 1])}: {where} has no parent"
        ref = made.parent_ref
    return (ref, "") if ref else (None, "no parent")


def view_of(ctx: Context, ref: Ref) -> dict[str, Any]:
    """What a template reads of the record ``ref``."""
    made = ctx.made_by_ref.get(ref)
    if made is not None:
        return made.context
    view = ctx.hand_views.get(ref)
    if view is None:
        record = ctx.hand_keys[ref]
        keys = sorted(r.key for r in ctx.hand.get(ref[0], []))
        section = ref[0] if ref[0] in SECTION_OBJECT_TYPES else "objects"
        view = ctx.hand_views[ref] = hand_view(record, section, keys.index(ref[1]) + 1)
    return view


def group_digest(ctx: Context, gen: Generator, definitions: Definitions) -> str:
    """The digest of the generator's picks and of everything that reads them (per set of
    definitions: a patched record's may differ)."""
    found = ctx.pick_groups.get(id(definitions))
    if found is None:
        specs = {s.name: s for s in generator_picks(ctx, gen)}
        members = []
        for group, name, definition, _ in definitions:
            reads = sorted(definition.reads_picks)
            if reads:
                shapes = [_shape(ctx, specs.get(pick), read) for pick, read in reads]
                members.append(f"{group}.{name}|{definition.fingerprint}|{reads}|{shapes}")
        named = sorted(
            f"{index}:{value['pick']}" for index, item in enumerate(gen.associations)
            if isinstance(item, dict)
            for value in item.values() if isinstance(value, dict) and "pick" in value
        )
        found = digest_of(*[s.digest for s in specs.values()], *members, *named)
        ctx.pick_groups[id(definitions)] = found
    return found


def _shape(ctx: Context, spec: PickSpec | None, read: str) -> str:
    """How the field ``read`` of a random pick's records is made, the same for each."""
    if spec is None or not spec.random or not spec.source or not read:
        return ""
    names = ctx.generators_for(spec.source)
    shapes = [ctx.shapes.get(n, {}).get(read, "") for n in names]
    if offers_hand_written(ctx, spec.source) and ctx.hand.get(spec.source):
        shapes.append("hand")  # hand-written values read at random are kept as applied
    return "|".join(shapes)


def pick_reads(
    ctx: Context, definition: Definition, picked: Picked
) -> tuple[list[str], bool]:
    """What a field's pin reads of the record's picks, and whether it must be pinned."""
    reads: list[str] = []
    pinned = False
    random_read = False
    for pick, read in sorted(definition.reads_picks):
        names = list(picked.specs) if pick == "*" else [pick]
        for name in names:
            spec = picked.specs.get(name)
            if spec is None:
                continue
            ref = picked.refs.get(name)
            if spec.random:
                random_read = True
                reads.append(f"k.{name}?={int(ref is not None)}")
                continue
            made = ctx.made_by_ref.get(ref) if ref else None
            if made is not None and read:
                wanted = list(made.digests) if read == "*" else [read]
                reads.extend(f"k.{name}.{r}={made.digests.get(r, '')}" for r in wanted)
                pinned = pinned or not made.pinned.isdisjoint(wanted)
            else:
                reads.append(f"k.{name}={ref[1] if ref else ''}|{_hand_digest(ctx, ref)}")
    if random_read:
        reads.append(f"g={picked.group}")
    return reads, pinned or random_read


def _hand_digest(ctx: Context, ref: Ref | None) -> str:
    if ref is None or ref not in ctx.hand_keys:
        return ""
    return digest_of(sorted(ctx.hand_keys[ref].properties.items()))


def links(associations: list[tuple[dict[str, Any], str | None]]) -> tuple[Ref, ...]:
    """What a generated record's resolved associations name, as (type, key)."""
    from reconciler.model import ASSOCIATION_TARGET_NAMES

    found: list[Ref] = []
    for item, _ in associations:
        for name, value in item.items():
            to_type = ASSOCIATION_TARGET_NAMES.get(name)
            if to_type is not None and isinstance(value, str):
                found.append((to_type, value))
        if isinstance(item.get("object"), str) and isinstance(item.get("key"), str):
            found.append((item["object"], item["key"]))
    return tuple(found)


__all__ = ["NO_PICKS", "PickSpec", "Picked", "generator_picks", "links", "make_picks",
           "pick_one", "pick_reads", "view_of", "links_of"]
