"""A generated record's associations, each made a hand-written one.

An item's target is a key, a template of the record's values (``"{{ parent.key }}"``), a
named pick (``{pick: contact}``), or a ``random_reference`` of its own (with ``scope:``,
``via:`` and ``optional:`` as a named pick takes them: ``picks``). A random choice is
pinned by the planner once applied (``reconciler.planning.pins``), under the item's place
in the record's associations: so items that may be left out (an optional pick that found
no one) come after all the others, and the others keep their places whatever happens to
them. An item naming a target an earlier item already names is left out (HubSpot holds
one association per pair and type).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.generate.context import Context, Stop
from reconciler.generate.evaluation import Evaluator
from reconciler.generate.grammar import Generator
from reconciler.generate.inputs import VALUE_PIN
from reconciler.generate.picks import Picked, PickSpec, check_pick, pick_one
from reconciler.generate.shapes import digest_of
from reconciler.generate.templates import Budget, is_template
from reconciler.generate.values import Definition, ValueProblem, define, seed_of
from reconciler.loading.issues import PathPart, did_you_mean
from reconciler.model import ASSOCIATION_TARGET_NAMES

_PLAIN = ("label", "type_id", "category", "object")


def resolve_associations(
    ctx: Context, gen: Generator, key: str, parent_ref: tuple[str, str] | None,
    context: Mapping[str, Any], budget: Budget, picked: Picked,
) -> list[tuple[dict[str, Any], str | None]]:
    """Each association item as a hand-written one, and the pin expression of a pick."""
    out: list[tuple[dict[str, Any], str | None]] = []
    later: list[tuple[dict[str, Any], str | None]] = []  # items that may be left out
    for index, item in enumerate(gen.associations):
        if not isinstance(item, dict):
            continue
        resolved: dict[str, Any] = {}
        pick: str | None = None
        droppable = empty = False
        for name, value in item.items():
            path: tuple[PathPart, ...] = ("associations", index, name)
            if name in _PLAIN or not isinstance(value, (str, dict)):
                resolved[name] = value
                continue
            if isinstance(value, dict) and "random_reference" in value:
                spec = _inline(ctx, gen, index, name, item, value, path)
                droppable = spec.probability is not None
                digest = digest_of(ctx.options.seed, gen.name, key, f"@assoc{index}",
                                   {k: v for k, v in value.items() if k != "optional"})
                ref, _ = pick_one(ctx, gen, key, parent_ref, spec, picked.refs, context, budget,
                                  digest)
                resolved[name] = ref[1] if ref else None
                empty = empty or ref is None
                pick = VALUE_PIN + digest
            elif isinstance(value, dict) and "pick" in value:
                spec = _named(ctx, gen, picked, index, name, item, value, path)
                droppable = spec.probability is not None or _through_optional(spec, picked)
                ref = picked.refs.get(spec.name)
                resolved[name] = ref[1] if ref else None
                empty = empty or ref is None
                if spec.random:
                    pick = VALUE_PIN + digest_of(
                        ctx.options.seed, gen.name, key, "@pick", spec.name, picked.group
                    )
            elif isinstance(value, str) and is_template(value):
                try:
                    definition = _association_definition(ctx, gen, value)
                    ctx.check_vars(gen, path, definition.reads_vars)
                    seed = seed_of(ctx.options.seed, gen.name, key, f"@{index}")
                    resolved[name] = str(Evaluator(seed, context, budget).value(definition))
                except ValueProblem as exc:
                    ctx.field_problem(gen, key, path, str(exc))
            else:
                resolved[name] = value
        if empty:
            continue  # an optional pick that found no one
        (later if droppable else out).append((resolved, pick))
    return _once(out + later)


def _once(
    items: list[tuple[dict[str, Any], str | None]],
) -> list[tuple[dict[str, Any], str | None]]:
    """The items without those naming what an earlier one names (two picks of one contact)."""
    seen: set[str] = set()
    kept = []
    for item, pick in items:
        identity = repr(sorted((k, str(v)) for k, v in item.items()))
        if identity not in seen:
            seen.add(identity)
            kept.append((item, pick))
    return kept


def _inline(
    ctx: Context, gen: Generator, index: int, name: str, item: Mapping[str, Any],
    value: Mapping[str, Any], path: tuple[PathPart, ...],
) -> PickSpec:
    cache_key = f"{gen.name}\x00@{index}"
    found = ctx.pick_specs.get(cache_key)
    if found is None:
        target = ASSOCIATION_TARGET_NAMES.get(name, str(item.get("object", "")))
        earlier = {s.name: s for s in ctx.pick_specs.get(gen.name, [])}
        found = ctx.pick_specs[cache_key] = [
            check_pick(ctx, gen, f"@{index}", value, path, earlier, target_type=target)
        ]
    spec: PickSpec = found[0]
    return spec


def _named(
    ctx: Context, gen: Generator, picked: Picked, index: int, name: str,
    item: Mapping[str, Any], value: Mapping[str, Any], path: tuple[PathPart, ...],
) -> PickSpec:
    wanted = str(value["pick"])
    spec = picked.specs.get(wanted)
    if spec is None or len(value) != 1:
        hint = did_you_mean(wanted, picked.specs) or (
            f"; picks: {', '.join(picked.specs)}" if picked.specs
            else "; name picks under picks: first"
        )
        ctx.gen_issue(gen, path, f"pick: {wanted!r} is not a pick of this generator{hint}")
        raise Stop
    target = ASSOCIATION_TARGET_NAMES.get(name, str(item.get("object", "")))
    if spec.target_type and target and spec.target_type != target:
        ctx.gen_issue(gen, path, f"pick: {wanted!r} picks {spec.target_type}, not {target}")
        raise Stop
    return spec


def _through_optional(spec: PickSpec, picked: Picked) -> bool:
    """Whether a pick may be empty because the pick its scope follows may be."""
    while spec.scope and spec.scope[0] == "pick":
        before = picked.specs.get(spec.scope[1])
        if before is None:
            return False
        if before.probability is not None:
            return True
        spec = before
    return False


def _association_definition(ctx: Context, gen: Generator, source: str) -> Definition:
    cache = ctx.association_definitions
    found = cache.get((gen.name, source))
    if found is None:
        found = cache[(gen.name, source)] = define(source, gen.locale)
    return found
