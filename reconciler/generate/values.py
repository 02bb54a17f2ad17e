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
  generated time is in the past, another while it is ahead;
- ``{copy: pick.contact.phone}``: a value of the parent or of a picked record, as it is
  (``default:`` when an optional pick found no one);
- ``{phrase: {kind: call_note, stage: qualifiedtobuy, outcome: connected}}``: words from
  our phrase bank (``phrases``).

Every random draw uses a ``random.Random`` seeded from a stable hash of the project seed,
the generator, the record's key and the field (``draws``): nothing else moves a value.
Definitions are evaluated for one record field by ``evaluation.Evaluator``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from reconciler.generate import fakes
from reconciler.generate.draws import below, seed_of, weighted
from reconciler.generate.templates import (
    MAX_VALUE_CHARS,
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


#: What a ``copy:`` of an empty optional pick makes: the field is left out.
OMITTED: Any = type("Omitted", (), {"__repr__": lambda self: "<omitted>"})()


@dataclass(frozen=True)
class Window:
    """A generated time: a day in ``[start_day, end_day]`` around the run's date."""

    start_day: int
    end_day: int
    business_hours: bool


@dataclass(frozen=True, eq=False)
class Definition:
    """One checked field definition. ``kind``: literal, template, fake, choice, number,
    time, by_time, copy, phrase. ``literal`` values are not pinned; what may change
    under an upgrade is (``pinned``)."""

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
    #: copy: the path read (``("pick", "contact", "phone")``) and what an empty pick gives
    path: tuple[str, ...] = ()
    default: Definition | None = None
    #: phrase: kind, stage, outcome and slots, each a definition of its own
    phrase_args: tuple[tuple[str, Definition], ...] = ()

    @cached_property
    def pinned(self) -> bool:
        """Whether values made by this definition are pinned in the state at creation.

        Only what Faker makes (directly, or through a template that calls ``fake``) and
        times can change under an upgrade: choices and numbers are drawn here from
        ``random.random()`` alone, whose sequence per seed Python guarantees. Templates that
        read pinned fields are pinned by the expansion.
        """
        if self.kind in ("fake", "time", "by_time", "phrase"):
            return True
        if self.kind == "template":
            assert self.template is not None
            return not self.template.names.isdisjoint(("fake", "phrase"))
        if self.kind == "choice":
            return any(isinstance(c, Definition) and c.pinned for c in self.choices)
        return False

    @cached_property
    def fingerprint(self) -> str:
        """A digest of what was written: part of every pin made from this definition."""
        text = json.dumps(self.raw, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _branches(self) -> list[Definition]:
        """The definitions inside this one (by_time's, choices, a default, arguments)."""
        found = [d for d in (self.past, self.future, self.default) if d is not None]
        found.extend(c for c in self.choices if isinstance(c, Definition))
        found.extend(d for _, d in self.phrase_args)
        return found

    def _reads(self, head: str) -> set[str]:
        """What a copy: path reads under ``head`` (``fields``, ``parent``)."""
        return {self.path[1]} if len(self.path) > 1 and self.path[0] == head else set()

    @cached_property
    def reads_fields(self) -> frozenset[str]:
        found = self._reads("fields")
        if self.template is not None:
            found |= self.template.fields
        if self.kind == "by_time":
            found.add(self.time_field)
        for branch in self._branches():
            found |= branch.reads_fields
        return frozenset(found)

    @cached_property
    def reads_parent(self) -> frozenset[str]:
        found = self._reads("parent")
        if self.template is not None:
            found |= self.template.parent_fields
        for branch in self._branches():
            found |= branch.reads_parent
        return frozenset(found)

    @cached_property
    def reads_vars(self) -> frozenset[str]:
        found: set[str] = set()
        if self.template is not None:
            found |= self.template.variables
        for branch in self._branches():
            found |= branch.reads_vars
        return frozenset(found)

    @cached_property
    def reads_picks(self) -> frozenset[tuple[str, str]]:
        """(pick, field) pairs read: ``("contact", "phone")``; ``""`` for the pick itself."""
        found: set[tuple[str, str]] = set()
        if len(self.path) > 1 and self.path[0] == "pick":
            found.add((self.path[1], self.path[2] if len(self.path) > 2 else ""))
        if self.template is not None:
            found |= self.template.picks
        for branch in self._branches():
            found |= branch.reads_picks
        return frozenset(found)


_KINDS = (
    "fake", "random_choice", "random_number", "datetime_between", "by_time", "copy", "phrase",
)
#: What may stand next to a kind's own key.
_BESIDE = {"fake": {"args", "locale"}, "copy": {"default"}}


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
    extra = set(raw) - {kind} - _BESIDE.get(kind, set())
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
    if kind == "copy":
        return _copy(body, raw, default_locale)
    if kind == "phrase":
        return _phrase(body, raw, default_locale)
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


#: The largest weight: a billion to one is certainty enough, and sums stay finite.
MOST_WEIGHT = 1e9


def weight_of(value: Any) -> float:
    """A choice's weight as written (``30%`` or a number)."""
    text = str(value).strip()
    try:
        weight = float(text[:-1]) if text.endswith("%") else float(text)
    except ValueError:
        raise ValueProblem(f"{value!r} is not a weight; write 30% or a number") from None
    if not 0 <= weight <= MOST_WEIGHT:  # NaN too; inf (or 1e308 twice) sums to inf
        raise ValueProblem(f"{value!r} is not a weight of zero or more"
                           + ("" if weight < 0 else f", up to {MOST_WEIGHT:,.0f}"))
    return weight


def _choice(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    if isinstance(body, list) and body:
        items = [define(item, default_locale) for item in body]
        return Definition("choice", raw, choices=tuple(items), weights=tuple(1.0 for _ in items))
    if isinstance(body, dict) and body:
        items = [define(option, default_locale) for option in body]
        weights = tuple(weight_of(w) for w in body.values())
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
    if not all(map(math.isfinite, (low, high, step))):  # .nan passes every comparison below
        raise ValueProblem("random_number: min, max and step are finite numbers")
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


_COPY_PATH = re.compile(r"^(parent|fields)\.[A-Za-z_][A-Za-z0-9_]*$|"
                        r"^pick\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _copy(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    if not isinstance(body, str) or not _COPY_PATH.match(body.strip()):
        raise ValueProblem(
            "copy: names a value to copy: parent.<field>, pick.<name>.<field> or fields.<name>"
        )
    default = define(raw["default"], default_locale) if "default" in raw else None
    if default is not None and default.kind in ("time", "by_time"):
        raise ValueProblem("copy: default: is a value, not a time")
    return Definition("copy", raw, path=tuple(body.strip().split(".")), default=default)


def _phrase(body: Any, raw: Mapping[str, Any], default_locale: str) -> Definition:
    from reconciler.generate import phrases

    arguments = {"kind": body} if isinstance(body, str) else body
    if not isinstance(arguments, dict) or "kind" not in arguments:
        raise ValueProblem(
            "phrase: takes a kind (phrase: call_note), or {kind: ..., stage: ..., outcome: ...}"
            " and slots (contact, company, product, owner_first)"
        )
    parts = tuple((str(k), define(v, default_locale)) for k, v in arguments.items())
    for name, part in parts:
        if part.kind not in ("literal", "template"):
            raise ValueProblem(f"phrase: {name}: is text or a template")
    literal = {k: str(d.raw) for k, d in parts if d.kind == "literal"}
    if "kind" not in literal:
        raise ValueProblem("phrase: kind: is one of the bank's kinds, not a template")
    try:
        phrases.check(
            literal["kind"], literal.get("stage"), literal.get("outcome"),
            {k: "" for k, _ in parts if k not in ("kind", "stage", "outcome")},
        )
    except phrases.PhraseProblem as exc:
        raise ValueProblem(str(exc)) from None
    return Definition("phrase", raw, phrase_args=parts)


def time_pick(seed: int, window: Window) -> tuple[float, int]:
    """The stable random part of a generated time: where in the window, which slot."""
    rng = random.Random(seed)
    return rng.random(), below(rng, BUSINESS_SLOTS if window.business_hours else _ALL_DAY_SLOTS)


__all__ = [
    "OMITTED", "Definition", "ValueProblem", "Window", "below", "define", "seed_of",
    "time_pick", "weight_of", "weighted",
]
