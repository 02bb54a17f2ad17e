"""A generated record's associations, each made a hand-written one: a template of the
record's values names its target, and a ``random_reference`` picks among the records of a
generator or type (or of the same parent, ``scope: parent``) by rendezvous hashing over
sorted candidates, so a growing candidate set moves a pick only to a new candidate that
outranks it; the pick is pinned once applied (``reconciler.planning.pins``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.generate.context import Context
from reconciler.generate.evaluation import Evaluator
from reconciler.generate.grammar import Generator
from reconciler.generate.inputs import VALUE_PIN
from reconciler.generate.shapes import digest_of
from reconciler.generate.templates import Budget, is_template
from reconciler.generate.values import Definition, ValueProblem, define, seed_of
from reconciler.loading.issues import PathPart, did_you_mean
from reconciler.model import ASSOCIATION_TARGET_NAMES, SECTION_OBJECT_TYPES

#: Picks among at most this many candidates are ranked (stable as candidates are added).
_RENDEZVOUS_MOST = 64


def resolve_associations(
    ctx: Context, gen: Generator, key: str, parent_key: str | None, values: Mapping[str, Any],
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
            if name in ("label", "type_id", "category", "object") or not isinstance(
                value, (str, dict)
            ):
                resolved[name] = value
                continue
            if isinstance(value, dict) and "random_reference" in value:
                target_type = ASSOCIATION_TARGET_NAMES.get(name, str(item.get("object", "")))
                chosen, pick = _pick(ctx, gen, key, parent_key, path, value, target_type, index)
                resolved[name] = chosen
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
        out.append((resolved, pick))
    return out


def _association_definition(ctx: Context, gen: Generator, source: str) -> Definition:
    cache = ctx.association_definitions
    found = cache.get((gen.name, source))
    if found is None:
        found = cache[(gen.name, source)] = define(source, gen.locale)
    return found


def _pick(
    ctx: Context, gen: Generator, key: str, parent_key: str | None, path: tuple[PathPart, ...],
    spec: Mapping[str, Any], target_type: str, index: int,
) -> tuple[str, str]:
    source = str(spec["random_reference"])
    scope = spec.get("scope")
    extra = set(spec) - {"random_reference", "scope"}
    if extra or scope not in (None, "parent"):
        ctx.field_problem(
            gen, key, path,
            "random_reference: takes a generator or type, and optionally scope: parent",
        )
    candidates: list[str] = []
    names = ctx.generators_for(source)
    for name in names:
        if ctx.generators[name].object_type != target_type:
            ctx.field_problem(
                gen, key, path,
                f"random_reference: {source!r} makes {ctx.generators[name].object_type}, "
                f"not {target_type}",
            )
        by_parent = ctx.children.get(name, {})
        if scope == "parent":
            candidates.extend(by_parent.get(parent_key, ()))
        else:
            for keys in by_parent.values():
                candidates.extend(keys)
    if source not in ctx.generators and scope != "parent":
        candidates.extend(r.key for r in ctx.hand.get(source, []))
    if not names and source not in ctx.hand:
        hint = did_you_mean(source, [*ctx.generators, *SECTION_OBJECT_TYPES.values()])
        ctx.field_problem(
            gen, key, path,
            f"random_reference: {source!r} names no generator and no records{hint}",
        )
    if not candidates:
        what = (
            f"{source} records of the parent {parent_key!r}" if scope == "parent"
            else f"{source} records"
        )
        ctx.field_problem(gen, key, path, f"random_reference: there are no {what} to pick from")
    digest = digest_of(ctx.options.seed, gen.name, key, f"@assoc{index}", spec)
    if len(candidates) <= _RENDEZVOUS_MOST:
        # rendezvous hashing: more candidates move a pick only to a new one that outranks it
        chosen = max(sorted(candidates), key=lambda c: seed_of(digest, c))
    else:  # too many to rank for every record: one seeded draw (the pin keeps it)
        chosen = candidates[seed_of(digest) % len(candidates)]
    return chosen, VALUE_PIN + digest
