"""Which generators run first, and how many records each may make: generators are
expanded in an order fixed by their names and dependencies (a ``for_each`` parent, the
generators a ``random_reference`` picks from), never by file order; circles are refused;
counts (numbers, templates of variables, random numbers or choices) are checked, and their
upper bounds together must stay under the project's ceiling (``max_generated``).
"""

from __future__ import annotations

from reconciler.generate.context import Context, Stop
from reconciler.generate.evaluation import Evaluator
from reconciler.generate.grammar import Generator
from reconciler.generate.templates import TemplateProblem, compile_template, is_template
from reconciler.generate.values import Definition, ValueProblem, define, seed_of
from reconciler.loading.issues import PathPart


def sources(ctx: Context, gen: Generator) -> list[str]:
    """Generators this one needs first: its parent, those it picks from, and those that
    make the records a pick's scope names."""
    names = []
    if gen.for_each is not None:
        names.extend(ctx.generators_for(gen.for_each, but=gen.name))
    if gen.step is not None:  # a story's step: after the step it follows (``stories``)
        names.extend(gen.step.depends_on())
    picks = [raw for _, raw in gen.picks]
    for item in gen.associations:
        if isinstance(item, dict):
            picks.extend(v for v in item.values() if isinstance(v, dict))
    for pick in picks:
        if not isinstance(pick, dict):
            continue
        if "random_reference" in pick:
            names.extend(ctx.generators_for(str(pick["random_reference"])))
        scope = pick.get("scope", pick.get("reference"))
        if isinstance(scope, dict) and "type" in scope:  # {type: companies, key: ...}
            names.extend(ctx.generators_for(str(scope["type"])))
    return sorted(set(names) - {gen.name})


def expansion_order(ctx: Context) -> list[str] | None:
    """The generators by name, each after those it needs; None (reported) on a circle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> bool:
        if state.get(name) == 2:
            return True
        if state.get(name) == 1:
            cycle = " → ".join([*chain[chain.index(name):], name])
            gen = ctx.generators[name]
            ctx.gen_issue(
                gen, (), f"generators depend on each other in a circle: {cycle}", at_key=True
            )
            return False
        state[name] = 1
        for source in sources(ctx, ctx.generators[name]):
            if not visit(source, [*chain, name]):
                return False
        state[name] = 2
        order.append(name)
        return True

    for name in sorted(ctx.generators):
        if not visit(name, []):
            return None
    return order


def within_limit(ctx: Context, order: list[str]) -> bool:
    """Whether the most records the generators can make stays under the ceiling."""
    most: dict[str, int] = {}
    for name in order:
        gen = ctx.generators[name]
        try:
            top = count_bounds(ctx, gen)[1]
        except Stop:
            ctx.broken.add(name)
            top = 0
        parents = 1
        if gen.for_each is not None:
            parents = sum(
                most.get(g, 0) for g in ctx.generators_for(gen.for_each, but=gen.name)
            )
            if gen.for_each not in ctx.generators:
                parents += len(ctx.hand.get(gen.for_each, []))
        most[name] = top * parents
    total = sum(most.values())
    if total > ctx.options.limit:
        biggest = max(most, key=lambda n: (most[n], n))
        ctx.gen_issue(
            ctx.generators[biggest], ("count",),
            f"the generators would make up to {total:,} records, over the limit of "
            f"{ctx.options.limit:,} (this one up to {most[biggest]:,}); lower the counts, "
            "or raise max_generated in reconciler.yaml",
        )
        return False
    return True


def count_bounds(ctx: Context, gen: Generator) -> tuple[int, int]:
    count = gen.count
    if isinstance(count, bool):
        count = None
    if isinstance(count, int):
        if count < 0:
            ctx.gen_issue(gen, ("count",), "count must be zero or more")
            raise Stop
        return count, count
    if isinstance(count, str) and is_template(count):
        value = _vars_template(ctx, gen, ("count",), count)
        try:
            number = int(value)
        except ValueError:
            ctx.gen_issue(gen, ("count",), f"the count template gave {value!r}, not a whole number")
            raise Stop from None
        if number < 0:
            ctx.gen_issue(
                gen, ("count",), f"the count template gave {number}; counts are zero or more"
            )
            raise Stop
        gen.count = number
        return number, number
    if isinstance(count, dict):
        try:
            definition = define(count, gen.locale)
        except ValueProblem as exc:
            ctx.gen_issue(gen, ("count",), str(exc))
            raise Stop from None
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
    ctx.gen_issue(
        gen, ("count",),
        "count is a whole number, a template of variables like \"{{ vars.accounts }}\", "
        "{random_number: {min: 2, max: 5}} or {random_choice: {1: 60%, 2: 40%}}",
    )
    raise Stop


def _vars_template(ctx: Context, gen: Generator, path: tuple[PathPart, ...], source: str) -> str:
    try:
        template = compile_template(source)
        ctx.check_vars(gen, path, template.variables)
        return template.render({"vars": dict(ctx.options.variables)})
    except TemplateProblem as exc:
        ctx.gen_issue(gen, path, str(exc))
        raise Stop from None


def record_count(ctx: Context, gen: Generator, parent: str | None) -> int:
    if gen.step is not None and not gen.step.takes(ctx, parent):
        return 0  # a story's step its outcome leaves out (when:)
    count = gen.count
    if isinstance(count, int):
        return count
    assert isinstance(count, Definition)
    seed = seed_of(ctx.options.seed, gen.name, parent or "", "\x00count")
    value = Evaluator(seed, {}).value(count)
    return int(value)
