"""Field definitions (``values``) evaluated for one record field, with that field's own
random stream: literals, templates (with ``fake``, ``random_choice``, ``random_number`` and
``phrase`` to call), Faker, choices, numbers, copies of what a record reads, phrases.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from reconciler.generate import fakes, phrases
from reconciler.generate.draws import below, seed_of, weighted
from reconciler.generate.templates import MAX_VALUE_CHARS, Budget, TemplateProblem
from reconciler.generate.values import OMITTED, Definition, ValueProblem, weight_of
from reconciler.generate.views import EmptyPick


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
                phrase=self._template_phrase,
            )
            return definition.template.render(context, self.budget)
        if kind == "copy":
            return self._copy(definition)
        if kind == "phrase":
            arguments = {k: self._value(d) for k, d in definition.phrase_args}
            return self._phrase(**arguments)
        raise ValueProblem(f"a {kind} value cannot be used here")

    def _copy(self, definition: Definition) -> Any:
        """The value at ``definition.path``; an empty pick gives the default, or nothing
        (``OMITTED``: the field is left out)."""
        value: Any = self.context
        for depth, name in enumerate(definition.path):
            if isinstance(value, EmptyPick):
                break
            if type(value) is not dict or name not in value:
                if name == "owner" and depth == len(definition.path) - 1:
                    return OMITTED  # no owner of its own: the project's default, here too
                if definition.default is not None:
                    return self._value(definition.default)
                where = ".".join(definition.path[:depth]) or "the record"
                raise ValueProblem(f"copy: {where} has no {name!r}")
            value = value[name]
        if isinstance(value, EmptyPick):
            return OMITTED if definition.default is None else self._value(definition.default)
        return value

    def _phrase(self, kind: Any = "call_note", stage: Any = None, outcome: Any = None,
                **slots: Any) -> str:
        try:
            return phrases.draw(
                self.random, str(kind), None if stage in (None, "") else str(stage),
                None if outcome in (None, "") else str(outcome), slots,
            )
        except phrases.PhraseProblem as exc:
            raise TemplateProblem(str(exc)) from None

    def _template_phrase(self, kind: Any, stage: Any = None, outcome: Any = None,
                         **slots: Any) -> str:
        return self._phrase(kind, stage, outcome, **slots)

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
        """``random_choice('a', 'b')``; one list is the options (``random_choice(['a',
        'b'])``), one mapping the options with weights (``random_choice({'a': 3, 'b': 1})``)."""
        if len(options) == 1 and isinstance(options[0], (list, tuple)):
            options = tuple(options[0])
            if not options:
                raise TemplateProblem("random_choice([]): the list has no options to pick from")
        elif len(options) == 1 and isinstance(options[0], dict):
            choices = options[0]
            try:
                weights = tuple(weight_of(w) for w in choices.values())
            except ValueProblem as exc:
                raise TemplateProblem(f"random_choice({{...}}): {exc}") from None
            if not choices or sum(weights) <= 0:
                raise TemplateProblem("random_choice({...}): the weights add up to zero")
            return list(choices)[weighted(self.random, weights)]
        if not options:
            raise TemplateProblem("random_choice() needs at least one option")
        return options[below(self.random, len(options))]

    def _template_number(self, low: int, high: int) -> int:
        if int(high) < int(low):
            raise ValueProblem(f"random_number({low}, {high}): the second is below the first")
        return int(low) + below(self.random, int(high) - int(low) + 1)
