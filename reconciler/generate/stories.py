"""Stories: for each record of a generator (a deal), a sequence of steps in time.

``story:`` under a generator names an outcome drawn per record (``won``/``lost``/``open``,
with weights), a window, and steps: a discovery call at the start, a meeting 2-5 business
days later, a note a few minutes after the meeting, a follow-up email the next business
day, a task... Each step becomes a generator of its own (``<generator>.story.<step>``,
``for_each`` the subject), so everything generators promise holds for steps too: values
seeded per (seed, step, key, field), keys from a pattern (``{parent}-<step>``, or
``{parent}-<step>{n}`` with a count), pins as for any generated value. Only its time is
different: it is a request on the owner's calendar (``reconciler.generate.scheduling``)
that follows the step it comes after, so a story's meeting never overlaps another deal's
call either. The subject's stage and close date come from its story: a won or lost deal
ends in the past, at its outcome's stage, closed on its last step's day; an open deal is
at the stage of the last step already past, closing a few business days after its last.

Templates of a step read ``parent`` (the subject), ``story.outcome``, ``story.stage`` and
``step.n``, ``step.count``, ``step.last`` (the last attempt of a step with a count).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.generate.context import Context
from reconciler.generate.grammar import Generator
from reconciler.generate.inputs import (
    E_KEY,
    E_LINE,
    E_PROPS,
    E_REL,
    E_STORY,
    E_TYPE,
    TIME_PIN,
)
from reconciler.generate.scheduling import SCHEDULED_FIELDS, owner_key, schedule_entry, u_of
from reconciler.generate.shapes import digest_of, friendly_fields, make_key, pin_for
from reconciler.generate.values import MOST_WEIGHT, ValueProblem, define, weighted
from reconciler.loading.business_days import MOST_BUSINESS_DAYS
from reconciler.loading.issues import PathPart, did_you_mean
from reconciler.model import ASSOCIATION_TARGET_NAMES, SECTION_OBJECT_TYPES

_SINGULAR = {plural: singular for singular, plural in ASSOCIATION_TARGET_NAMES.items()}
#: The longest offsets a step may take (more is a typo, and past what datetime holds).
_MOST = {"business_days": MOST_BUSINESS_DAYS, "minutes": 3660 * 24 * 60}
_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?(bd|m)?\s*", re.IGNORECASE)
_STEP_KEYS = {"type", "count", "when", "at", "after", "stage", "fields", "properties",
              "owner", "associations"}
#: A subject's fields its story sets, by type: friendly field → property.
_STORY_FIELDS = {"deals": {"stage": "dealstage", "close_date": "closedate"}}


@dataclass(frozen=True)
class Outcome:
    name: str
    weight: float
    stage: str | None
    past: bool  # its steps all lie before today


@dataclass
class Story:
    subject: Generator
    start_day: int
    end_day: int
    outcomes: list[Outcome]
    close_after: tuple[int, int]
    longest_days: int  # calendar days the longest chain of steps may take
    steps: list[Step] = field(default_factory=list)
    fingerprint: str = ""

    def outcome(self, seed: str, key: str) -> Outcome:
        """The record's outcome, drawn from its own stream (changing the weights moves only
        the records near a boundary)."""
        import random

        from reconciler.generate.values import seed_of

        weights = tuple(o.weight for o in self.outcomes)
        rng = random.Random(seed_of(seed, self.subject.name, key, "@story:outcome"))
        return self.outcomes[weighted(rng, weights)]


@dataclass
class Step:
    story: Story
    name: str
    generator: str
    when: frozenset[str] | None
    stage: str | None
    after: tuple[str, str, int, int] | None  # (step, "d" | "m", low, high); None: at start

    def depends_on(self) -> list[str]:
        """The generators this step's generator follows (expanded before it)."""
        if self.after is None:
            return []
        return [f"{self.story.subject.name}.story.{self.after[0]}"]

    def takes(self, ctx: Context, parent: str | None) -> bool:
        """Whether the subject ``parent`` has this step (its outcome is in ``when:``)."""
        if self.when is None or parent is None:
            return True
        return self.story.outcome(ctx.options.seed, parent).name in self.when

    def context(self, ctx: Context, parent: str | None, n: int) -> dict[str, Any]:
        outcome = self.story.outcome(ctx.options.seed, parent or "")
        count = _count(ctx, self.generator, parent)
        return {
            "story": {"outcome": outcome.name, "stage": outcome.stage or ""},
            "step": {"name": self.name, "n": n, "count": count, "last": n == count},
        }

    def follows(
        self, ctx: Context, parent: str, n: int
    ) -> tuple[list[Any] | None, str, int | None, str]:
        """What the step's record ``n`` of ``parent`` follows (as ``E_SCHEDULE`` has it),
        the digest of that one's placement, the last day it may fall on, and what its
        placement depends on besides (``past`` when its outcome ends in the past: not
        the last day itself, which the length of the whole story moves)."""
        story = self.story
        outcome = story.outcome(ctx.options.seed, parent)
        last = -1 if outcome.past else story.end_day
        bound = "past" if outcome.past else ""
        gen = ctx.generators[self.generator]
        draw = u_of(ctx.options.seed, self.generator, parent, n, "@after")
        if n > 1:  # another attempt: a business day or two after the one before
            before = f"{gen.object_type}/{make_key(gen.key_pattern, n - 1, parent)}"
            return [before, "d", 1, 2, draw], ctx.placements.get(before, ""), last, bound
        step: Step | None = self
        while step is not None and step.after is not None:
            name, kind, low, high = step.after
            before_step = next(s for s in story.steps if s.name == name)
            count = _count(ctx, before_step.generator, parent)
            if count:
                other = ctx.generators[before_step.generator]
                before = f"{other.object_type}/{make_key(other.key_pattern, count, parent)}"
                after = [before, kind, low, high, draw]
                return after, ctx.placements.get(before, ""), last, bound
            step = before_step  # that step is left out for this outcome: follow its own
        return None, "", max(last - story.longest_days, story.start_day), bound


def _count(ctx: Context, generator: str, parent: str | None) -> int:
    from reconciler.generate.ordering import record_count

    return record_count(ctx, ctx.generators[generator], parent)


def add_story_steps(ctx: Context) -> None:
    """Each story's steps as generators of their own (problems reported)."""
    for gen in list(ctx.generators.values()):
        if gen.story is None:
            continue
        story = _read_story(ctx, gen, gen.story)
        if story is None:
            ctx.broken.add(gen.name)
            continue
        ctx.stories[gen.name] = story


def _read_story(ctx: Context, gen: Generator, body: Mapping[str, Any]) -> Story | None:
    problems: list[tuple[tuple[PathPart, ...], str]] = []

    def problem(path: tuple[PathPart, ...], message: str) -> None:
        problems.append((("story", *path), message))

    if not ctx.options.calendar:
        problem((), "a story places its steps on the owners' calendars: add calendar: to "
                    "reconciler.yaml (calendar: {} takes the defaults)")
    window = body.get("window") or {}
    start_day = end_day = 0
    try:
        definition = define({"datetime_between": {**window, "business_hours": True}}, "en_US")
        assert definition.window is not None
        start_day, end_day = definition.window.start_day, definition.window.end_day
    except ValueProblem as exc:
        problem(("window",), str(exc).replace("datetime_between", "window"))
    outcomes: list[Outcome] = []
    for name, spec in (body.get("outcomes") or {"open": {"weight": 1}}).items():
        weight = _weight(spec.get("weight", 1))
        if weight is None:
            problem(("outcomes", name, "weight"), f"{spec.get('weight')!r} is not a weight; "
                    "write 30% or a number")
            continue
        outcomes.append(Outcome(str(name), weight, spec.get("stage"), spec.get("ends") == "past"))
    if outcomes and not sum(o.weight for o in outcomes):
        problem(("outcomes",), "the outcomes' weights add up to zero")
    close = _range(body.get("close_after", "3-10bd"), "bd")
    if close is not None and close[1] > _MOST["business_days"]:
        problem(("close_after",), f"{body.get('close_after')!r} is more than ten years; check "
                "the number")
        close = (3, 10)
    elif close is None:
        problem(("close_after",), f"{body.get('close_after')!r} is not a number of business "
                "days; write it like 5bd or 3-10bd")
        close = (3, 10)
    for name, prop in _STORY_FIELDS.get(gen.section, {}).items():
        if any(group != "owner" and (n == name or n == prop) for group, n, _ in gen.fields):
            problem((), f"the story sets the {name} of {gen.object_type}: remove {name} from "
                        "fields (it follows the steps' times and the outcome)")
    story = Story(gen, start_day, end_day, outcomes, close, 0)
    steps_body: Mapping[str, Any] = body.get("steps") or {}
    if not steps_body:
        problem(("steps",), "a story needs at least one step")
    names = [str(n) for n in steps_body]
    for name, raw in steps_body.items():
        step = _read_step(ctx, story, str(name), raw, names, problem)
        if step is not None:
            story.steps.append(step)
    if not problems:
        story.longest_days = _longest(story, problem)
    for path, message in problems:
        ctx.gen_issue(gen, path, message)
    if problems:
        return None
    # what the subject's stage and close date read besides the steps' placements (not the
    # steps' other fields: editing a title must not touch the deal)
    story.fingerprint = digest_of(
        start_day, end_day, [[o.name, o.weight, o.stage, o.past] for o in outcomes],
        close, [[s.name, s.when and sorted(s.when), s.stage, s.after,
                 steps_body[s.name].get("count", 1)] for s in story.steps],
    )
    for step in story.steps:
        ctx.generators[step.generator] = _step_generator(ctx, story, step, steps_body[step.name])
    return story


def _read_step(
    ctx: Context, story: Story, name: str, raw: Mapping[str, Any], names: list[str],
    problem: Any,
) -> Step | None:
    where: tuple[PathPart, ...] = ("steps", name)
    failed = False
    kind = str(raw.get("type", ""))
    if kind not in SCHEDULED_FIELDS:
        problem((*where, "type"), f"{kind!r} is not a type a step can make; use "
                + ", ".join(SCHEDULED_FIELDS) + did_you_mean(kind, SCHEDULED_FIELDS))
        failed = True
    unknown = sorted(set(map(str, raw)) - _STEP_KEYS)
    for extra in unknown:
        problem((*where, extra), f"unknown step setting {extra!r}"
                + did_you_mean(extra, sorted(_STEP_KEYS)))
        failed = True
    known = {o.name for o in story.outcomes}
    when = raw.get("when")
    if when is not None:
        when = [when] if isinstance(when, str) else list(when)
        for index, outcome in enumerate(when):
            if outcome not in known:
                problem((*where, "when", index), f"{outcome!r} is not an outcome of this story"
                        + did_you_mean(str(outcome), known))
                failed = True
    after: tuple[str, str, int, int] | None = None
    spec = raw.get("after")
    if spec is not None:
        other = str(spec.get("step", ""))
        if other not in names or other == name:
            problem((*where, "after", "step"), f"{other!r} is not another step of this story"
                    + did_you_mean(other, [n for n in names if n != name]))
            failed = True
        units = [u for u in ("business_days", "minutes") if u in spec]
        if len(units) != 1:
            problem((*where, "after"), "after: takes step: and one of business_days: (like "
                    "2-5) or minutes: (after the other's end, like 5-40)")
            failed = True
        else:
            bounds = _range(spec[units[0]], "bd" if units[0] == "business_days" else "m")
            if bounds is not None and bounds[1] > _MOST[units[0]]:
                problem((*where, "after", units[0]), f"{spec[units[0]]!r} is more than ten "
                        "years; check the number")
                failed = True
            elif bounds is None:
                problem((*where, "after", units[0]), f"{spec[units[0]]!r} is not a number or "
                        "a range like 2-5")
                failed = True
            else:
                after = (other, "d" if units[0] == "business_days" else "m", *bounds)
    elif raw.get("at") != "start":
        problem(where, "a step either follows another (after: {step: ..., business_days: "
                "2-5}) or starts the story (at: start)")
        failed = True
    if kind in SCHEDULED_FIELDS:
        time_field = SCHEDULED_FIELDS[kind][0]
        if time_field in (raw.get("fields") or {}):
            problem((*where, "fields", time_field), f"the story places each step: remove "
                    f"{time_field} (say when with at: or after:)")
            failed = True
    if failed:
        return None
    return Step(story, name, f"{story.subject.name}.story.{name}",
                frozenset(when) if when is not None else None, raw.get("stage"), after)


def _longest(story: Story, problem: Any) -> int:
    """Calendar days the longest chain of steps may take (a cycle is reported)."""
    by_name = {s.name: s for s in story.steps}
    memo: dict[str, int] = {}

    def length(step: Step, seen: tuple[str, ...]) -> int:
        if step.name in seen:
            cycle = " → ".join([*seen[seen.index(step.name):], step.name])
            problem(("steps", step.name, "after"), f"steps follow each other in a circle: {cycle}")
            return 0
        if step.name not in memo:
            own = 0
            if step.after is not None:
                before = length(by_name[step.after[0]], (*seen, step.name))
                own = before + (step.after[3] if step.after[1] == "d" else 0)
            memo[step.name] = own
        return memo[step.name]

    business = max((length(s, ()) for s in story.steps), default=0)
    return math.ceil(business * 7 / 5) + 2 * len(story.steps)


def _step_generator(
    ctx: Context, story: Story, step: Step, raw: Mapping[str, Any]
) -> Generator:
    subject = story.subject
    object_type = str(raw["type"])
    section = object_type if object_type in SECTION_OBJECT_TYPES else "objects"
    time_field = SCHEDULED_FIELDS[object_type][0]
    window = {"start": f"{story.start_day}d", "end": f"{story.end_day}d",
              "business_hours": True}
    fields: list[tuple[str, str, Any]] = []
    if time_field in friendly_fields(section):
        fields.append(("fields", time_field, {"datetime_between": window}))
    else:  # (a type whose friendly fields are not known here: its raw property)
        fields.append(
            ("properties", SCHEDULED_FIELDS[object_type][1], {"datetime_between": window})
        )
    allowed = friendly_fields(section)
    where = (*subject.path, "story", "steps", step.name)
    for name, value in (raw.get("fields") or {}).items():
        if name not in allowed:
            ctx.issue(subject.file, (*where, "fields", name), f"unknown field {name!r}"
                      + did_you_mean(str(name), allowed), at_key=True)
            continue
        fields.append(("fields", str(name), value))
    for name, value in (raw.get("properties") or {}).items():
        fields.append(("properties", str(name), value))
    if "owner" in raw:
        fields.append(("owner", "owner", raw["owner"]))
    elif any(group == "owner" for group, _, _ in subject.fields):
        fields.append(("owner", "owner", "{{ parent.owner }}"))  # the subject's owner
    target = _SINGULAR.get(subject.object_type)
    associations: list[Any] = [
        {target: "{{ parent.key }}"} if target is not None
        else {"object": subject.object_type, "key": "{{ parent.key }}"}
    ]
    associations.extend(story_associations(story))
    associations.extend(raw.get("associations") or [])
    count = raw.get("count", 1)
    pattern = "{parent}-" + step.name + ("" if count == 1 else "{n}")
    return Generator(
        name=step.generator, file=subject.file, line=subject.line, column=subject.column,
        object_type=object_type, section=section, key_pattern=pattern, count=count,
        for_each=subject.name, locale=subject.locale, fields=fields,
        associations=associations, step=step, where=where,
    )


def story_associations(story: Story) -> list[Any]:
    raw = story.subject.story or {}
    return list(raw.get("associations") or [])


def _weight(value: Any) -> float | None:
    text = str(value).strip()
    try:
        weight = float(text[:-1]) if text.endswith("%") else float(text)
    except ValueError:
        return None
    return weight if 0 <= weight <= MOST_WEIGHT else None  # not NaN, inf, 1e308 twice


def _range(value: Any, unit: str) -> tuple[int, int] | None:
    match = _RANGE.fullmatch(str(value))
    if match is None or (match.group(3) and match.group(3).lower() != unit):
        return None
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    return (low, high) if high >= low else None


# -- what the expansion records -----------------------------------------------------------


def scheduled(
    ctx: Context, gen: Generator, key: str, draft: Mapping[str, Any],
    slots: Mapping[str, list[Any]], by_props: Mapping[str, list[Any]], n: int,
    parent: str | None,
) -> list[Any] | None:
    """The calendar request of a generated activity (None: not scheduled)."""
    if not ctx.options.calendar or gen.object_type not in SCHEDULED_FIELDS:
        return None
    after: list[Any] | None = None
    after_pin, last_day, bound = "", None, ""
    step: Step | None = gen.step
    if step is not None and parent is not None:
        after, after_pin, last_day, bound = step.follows(ctx, parent, n)
    owner = owner_key(draft["props"], draft["owner_email"], draft["owns"], None)
    made = schedule_entry(
        seed=ctx.options.seed, generator=gen.name, section=gen.object_type, key=key,
        field_name=SCHEDULED_FIELDS[gen.object_type][0], props=draft["props"], rel=draft["rel"],
        times=slots, by_time=by_props, owner=owner, fingerprint=ctx.options.calendar,
        after=after, after_pin=f"{after_pin}|{bound}", last_day=last_day,
    )
    if made is None:
        return None
    request, placement = made
    ctx.placements[f"{gen.object_type}/{key}"] = placement
    return request


def attach_stories(ctx: Context) -> None:
    """Each subject record's story (``E_STORY``): its outcome and steps, and its stage and
    close date pinned by what they depend on (the steps' placements)."""
    if not ctx.stories:
        return
    by_address = {f"{e[E_TYPE]}/{e[E_KEY]}": e for e in ctx.result.records}
    for name, story in ctx.stories.items():
        subject = story.subject
        fields = _STORY_FIELDS.get(subject.section, {})
        for made in ctx.made.get(name, []):
            entry = by_address.get(f"{subject.object_type}/{made.key}")
            if entry is None or entry[E_LINE] != subject.line:
                continue
            outcome = story.outcome(ctx.options.seed, made.key)
            steps: list[list[Any]] = []
            placements: list[str] = []
            for step in story.steps:
                gen = ctx.generators[step.generator]
                count = _count(ctx, step.generator, made.key)
                for n in range(1, count + 1):
                    address = f"{gen.object_type}/{make_key(gen.key_pattern, n, made.key)}"
                    steps.append([address, step.stage if n == count else None])
                    placements.append(ctx.placements.get(address, ""))
            close_draw = u_of(ctx.options.seed, name, made.key, "@story:close")
            entry[E_STORY] = [
                outcome.name, outcome.stage if outcome.past else None,
                None if outcome.past else outcome.stage, steps,
                [story.close_after[0], story.close_after[1], close_draw],
            ]
            pin = digest_of(story.fingerprint, outcome.name, placements)
            for prop in fields.values():
                entry[E_REL][prop] = pin_for(TIME_PIN + pin, prop, None)
            if "dealstage" in fields.values() and outcome.stage:
                entry[E_PROPS]["dealstage"] = outcome.stage


__all__ = [
    "Step", "Story", "add_story_steps", "attach_stories", "scheduled",
]
