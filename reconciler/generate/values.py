"""Value definitions of generated fields: what a field says, checked once, then evaluated.

A field's definition is one of (the names Snowfakery users know):

- a literal: ``Qualified``, ``42``, ``true``;
- a template: ``"{{ fields.first_name | lower }}@{{ parent.domain }}"``;
- ``{fake: company}`` (optionally ``args: {...}``, ``locale: de_DE``);
- ``{random_choice: [a, b]}`` or with weights ``{random_choice: {a: 70%, b: 30%}}``;
- ``{random_number: {min: 1000, max: 90000, step: 500}}``;
- ``{datetime_between: {start: -30d, end: +21d, business_hours: true}}``: a time in a
  window around the run's time, resolved at each run like a relative time;
- ``{by_time: {field: start, past: ..., future: ...}}``: one value while the record's
  generated time is in the past, another while it is ahead.

Every random draw uses a ``random.Random`` seeded from a stable hash of the project seed,
the generator, the record's key and the field: nothing else moves a value.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from reconciler.generate import fakes
from reconciler.generate.templates import (
    MAX_VALUE_CHARS,
    Budget,
    Template,
    TemplateProblem,
    compile_template,
    is_template,
)
from reconciler.generate.times import BUSINESS_SLOTS

_WINDOW = re.compile(r"^\s*([+-]?)\s*(\d+)\s*([dw])\s*$|^\s*(today|now)\s*$", re.IGNORECASE)
_ALL_DAY_SLOTS = 96


class ValueProblem(ValueError):
    """A field definition that cannot work, or a value that could not be made."""


def seed_of(*parts: object) -> int:
    """A 64-bit seed from a stable hash (never ``hash()``: it changes per process)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Window:
    """A generated time: a day in ``[start_day, end_day]`` around the run's date."""

    start_day: int
    end_day: int
    business_hours: bool


@dataclass(frozen=True, eq=False)
class Definition:
    """One checked field definition. ``kind``: literal, template, fake, choice, number,
    time, by_time. ``literal`` values are not pinned; everything else is."""

    kind: str
    raw: Any
    template: Template | None = None
    provider: str = ""
    arguments: Mapping[str, Any] | None = None
    locale: str = ""
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] = ()
    low: float = 0
    high: float = 0
    step: float = 1
    window: Window | None = None
    time_field: str = ""
    past: Definition | None = None
    future: Definition | None = None

    @cached_property
    def pinned(self) -> bool:
        """Whether values made by this definition are pinned in the state at creation.

        Only what Faker makes (directly, or through a template that calls ``fake``) and
        times can change under an upgrade: choices and numbers are drawn here from
        ``random.random()`` alone, whose sequence per seed Python guarantees. Templates that
        read pinned fields are pinned by the expansion.
        """
        if self.kind in ("fake", "time", "by_time"):
            return True
        if self.kind == "template":
            assert self.template is not None
            return "fake" in self.template.names
        if self.kind == "choice":
            return any(isinstance(c, Definition) and c.pinned for c in self.choices)
        return False

    @cached_property
    def fingerprint(self) -> str:
        """A digest of what was written: part of every pin made from this definition."""
        text = json.dumps(self.raw, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @cached_property
    def reads_fields(self) -> frozenset[str]:
        found: set[str] = set()
        if self.template is not None:
            found |= self.template.fields
        if self.kind == "by_time":
            found.add(self.time_field)
        for branch in (self.past, self.future):
            if branch is not None:
                found |= branch.reads_fields
        for choice in self.choices:
            if isinstance(choice, Definition):
                found |= choice.reads_fields
        return frozenset(found)

    @cached_property
    def reads_parent(self) -> frozenset[str]:
        found: set[str] = set()
        if self.template is not None:
            found |= self.template.parent_fields
        for branch in (self.past, self.future,
                       *[c for c in self.choices if isinstance(c, Definition)]):
            if isinstance(branch, Definition):
                found |= branch.reads_parent
        return frozenset(found)

    @cached_property
    def reads_vars(self) -> frozenset[str]:
        found: set[str] = set()
        if self.template is not None:
            found |= self.template.variables
        for branch in (self.past, self.future,
                       *[c for c in self.choices if isinstance(c, Definition)]):
            if isinstance(branch, Definition):
                found |= branch.reads_vars
        return frozenset(found)


_KINDS = ("fake", "random_choice", "random_number", "datetime_between", "by_time")


def define(raw: Any, default_locale: str) -> Definition:
    """Check one field definition; ValueProblem says what is wrong with it."""
    if isinstance(raw, bool) or isinstance(raw, (int, float)):
        return Definition("literal", raw)
    if isinstance(raw, str):
        if is_template(raw):
            try:
                template = compile_template(raw)
            except TemplateProblem as exc:
                raise ValueProblem(str(exc)) from None
            if "fake" in template.names:
                fakes.prepare(default_locale)
            return Definition("template", raw, template=template)
        if len(raw) > MAX_VALUE_CHARS:
            raise ValueProblem(f"the value is over {MAX_VALUE_CHARS} characters")
        return Definition("literal", raw)
    if not isinstance(raw, dict):
        raise ValueProblem(
            "expected a value, a template, or one of "
            + ", ".join(f"{k}:" for k in _KINDS)
        )
    kinds = [k for k in _KINDS if k in raw]
    if len(kinds) != 1:
        if kinds:
            raise ValueProblem(f"use one of {' and '.join(kinds)}, not both")
        from reconciler.loading.issues import did_you_mean

        first = next(iter(raw), "")
        hint = did_you_mean(str(first), _KINDS)
        raise ValueProblem(
            f"unknown value kind {str(first)!r}{hint}; use one of {', '.join(_KINDS)}"
        )
    kind = kinds[0]
    extra = set(raw) - {kind, "args", "locale"} if kind == "fake" else set(raw) - {kind}
    if extra:
        raise ValueProblem(f"unexpected {', '.join(sorted(map(str, extra)))} next to {kind}:")
    body = raw[kind]
    if kind == "fake":
        return _fake(body, raw, default_locale)
    if kind == "random_choice":
        return _choice(body, raw, default_locale)
    if kind == "random_number":
        return _number(body, raw)
    if kind == "datetime_between":
        return _window(body, raw)
    return _by_time(body, raw, default_locale)


def _fake(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    if not isinstance(body, str):
        raise ValueProblem("fake: names a Faker provider, like fake: company")
    arguments = raw.get("args") or {}
    if not isinstance(arguments, dict):
        raise ValueProblem("args: is a mapping of the provider's arguments")
    locale = str(raw.get("locale") or default_locale)
    try:
        fakes.check_provider(body)
        fakes.check_arguments(arguments)
        fakes.check_locale(locale)
    except fakes.FakeError as exc:
        raise ValueProblem(str(exc)) from None
    fakes.prepare(locale)
    return Definition("fake", raw, provider=body, arguments=dict(arguments), locale=locale)


def _weight(value: Any) -> float:
    text = str(value).strip()
    try:
        weight = float(text[:-1]) if text.endswith("%") else float(text)
    except ValueError:
        raise ValueProblem(f"{value!r} is not a weight; write 30% or a number") from None
    if weight < 0 or weight != weight:
        raise ValueProblem(f"{value!r} is not a weight of zero or more")
    return weight


def _choice(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    if isinstance(body, list) and body:
        items = [define(item, default_locale) for item in body]
        return Definition("choice", raw, choices=tuple(items), weights=tuple(1.0 for _ in items))
    if isinstance(body, dict) and body:
        items = [define(option, default_locale) for option in body]
        weights = tuple(_weight(w) for w in body.values())
        if sum(weights) <= 0:
            raise ValueProblem("the weights add up to zero")
        return Definition("choice", raw, choices=tuple(items), weights=weights)
    raise ValueProblem("random_choice: takes a list of values, or values with weights")


def _number(body: Any, raw: Mapping[str, Any]) -> Definition:
    if not isinstance(body, dict) or "min" not in body or "max" not in body:
        raise ValueProblem("random_number: takes {min: ..., max: ...} and optionally step:")
    try:
        low, high = float(body["min"]), float(body["max"])
        step = float(body.get("step", 1))
    except (TypeError, ValueError):
        raise ValueProblem("random_number: min, max and step are numbers") from None
    if high < low:
        raise ValueProblem(f"random_number: max ({body['max']}) is below min ({body['min']})")
    if step <= 0:
        raise ValueProblem("random_number: step must be above zero")
    if (high - low) / step > 1e12:
        raise ValueProblem("random_number: too many steps between min and max")
    return Definition("number", raw, low=low, high=high, step=step)


def _days(text: Any) -> int:
    match = _WINDOW.match(str(text))
    if match is None:
        raise ValueProblem(f"{text!r} is not a day offset; write it like -30d, +21d, +3w or today")
    if match.group(4):
        return 0
    sign = -1 if match.group(1) == "-" else 1
    days = int(match.group(2)) * (7 if match.group(3).lower() == "w" else 1)
    if days > 3660:
        raise ValueProblem(f"{text!r} is more than ten years away")
    return sign * days


def _window(body: Any, raw: Mapping[str, Any]) -> Definition:
    if not isinstance(body, dict) or "start" not in body or "end" not in body:
        raise ValueProblem(
            "datetime_between: takes {start: -30d, end: +21d} and optionally business_hours: true"
        )
    extra = set(body) - {"start", "end", "business_hours"}
    if extra:
        raise ValueProblem(f"datetime_between: unexpected {', '.join(sorted(map(str, extra)))}")
    start, end = _days(body["start"]), _days(body["end"])
    if end < start:
        raise ValueProblem(
            f"datetime_between: end ({body['end']}) is before start ({body['start']})"
        )
    business = body.get("business_hours", False)
    if not isinstance(business, bool):
        raise ValueProblem("business_hours: is true or false")
    if business and end - start < 6:
        # a window of fewer than 7 days may hold no weekday at all
        pass
    return Definition("time", raw, window=Window(start, end, business))


def _by_time(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    if not isinstance(body, dict) or not {"field", "past", "future"} <= set(body):
        raise ValueProblem(
            "by_time: takes {field: <a generated time field>, past: ..., future: ...}"
        )
    extra = set(body) - {"field", "past", "future"}
    if extra:
        raise ValueProblem(f"by_time: unexpected {', '.join(sorted(map(str, extra)))}")
    past, future = define(body["past"], default_locale), define(body["future"], default_locale)
    for branch in (past, future):
        if branch.kind in ("time", "by_time"):
            raise ValueProblem("by_time: past and future are values, not times")
    return Definition("by_time", raw, time_field=str(body["field"]), past=past, future=future)


class Evaluator:
    """Evaluates definitions for one record field, with that field's own random stream.

    ``budget`` is the record's (one for all its fields: see ``templates.Budget``)."""

    def __init__(
        self, seed: int, context: Mapping[str, Any], budget: Budget | None = None
    ) -> None:
        self.seed = seed
        self.context = context
        self.budget = budget or Budget()
        self._fakes = 0
        self._random: random.Random | None = None

    @property
    def random(self) -> random.Random:
        # Made on first use: seeding costs microseconds, and most values draw nothing.
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random

    def value(self, definition: Definition) -> Any:
        try:
            return self._value(definition)
        except TemplateProblem as exc:
            raise ValueProblem(str(exc)) from None

    def _value(self, definition: Definition) -> Any:
        kind = definition.kind
        if kind == "literal":
            return definition.raw
        if kind == "fake":
            return self.fake(definition.provider, definition.arguments or {}, definition.locale)
        if kind == "choice":
            return self._value(definition.choices[weighted(self.random, definition.weights)])
        if kind == "number":
            steps = int((definition.high - definition.low) // definition.step)
            number = definition.low + below(self.random, steps + 1) * definition.step
            return int(number) if float(number).is_integer() else round(number, 6)
        if kind == "template":
            assert definition.template is not None
            context = dict(self.context)
            context.update(
                fake=self._template_fake,
                random_choice=self._template_choice,
                random_number=self._template_number,
            )
            return definition.template.render(context, self.budget)
        raise ValueProblem(f"a {kind} value cannot be used here")

    def fake(self, provider: str, arguments: Mapping[str, Any], locale: str) -> Any:
        """One Faker value; the time it takes counts towards the record's budget."""
        self._fakes += 1
        try:
            value = fakes.fake(provider, arguments, locale, seed_of(self.seed, self._fakes))
        except fakes.FakeError as exc:
            raise ValueProblem(str(exc)) from None
        if arguments:
            self.budget.check_time()  # arguments are what can make a call slow
        else:
            self.budget.tick()
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise ValueProblem(f"fake {provider} made a value over {MAX_VALUE_CHARS} characters")
        return value

    def _template_fake(self, provider: str, **arguments: Any) -> Any:
        try:
            return self.fake(str(provider), arguments, str(self.context.get("locale", "en_US")))
        except ValueProblem as exc:
            raise TemplateProblem(str(exc)) from None  # said as it is, not as a Python error

    def _template_choice(self, *options: Any) -> Any:
        if not options:
            raise ValueProblem("random_choice() needs at least one option")
        return options[below(self.random, len(options))]

    def _template_number(self, low: int, high: int) -> int:
        if int(high) < int(low):
            raise ValueProblem(f"random_number({low}, {high}): the second is below the first")
        return int(low) + below(self.random, int(high) - int(low) + 1)


def time_pick(seed: int, window: Window) -> tuple[float, int]:
    """The stable random part of a generated time: where in the window, which slot."""
    rng = random.Random(seed)
    return rng.random(), below(rng, BUSINESS_SLOTS if window.business_hours else _ALL_DAY_SLOTS)


def below(rng: random.Random, count: int) -> int:
    """A whole number in [0, count) from ``rng.random()`` alone (stable across Pythons;
    ``randrange`` and ``choices`` are not promised to be)."""
    return min(int(rng.random() * count), count - 1)


def weighted(rng: random.Random, weights: tuple[float, ...]) -> int:
    """An index drawn with ``weights``, from ``rng.random()`` alone."""
    point = rng.random() * sum(weights)
    total = 0.0
    for index, weight in enumerate(weights):
        total += weight
        if point < total:
            return index
    return len(weights) - 1
